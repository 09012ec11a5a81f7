// ApprovalService: approvals of large requests and of quota changes.
//
// Instances (subject_kind "instance"): a project's policy (a GPU count, an hourly price) says
// which instance requests need a person's approval; InstanceService::Create puts such a request
// in `awaiting_approval` with a pending approval (RequestApprovalIfNeeded). Quota changes
// (subject_kind "quota", subject_id the team or project): QuotaService::RequestChange records a
// pending approval (RecordQuotaApproval) holding the parts asked for. Someone allowed to decide —
// never the requester — approves or rejects it:
//
//   pending --approve--> approved   instance: awaiting_approval -> pending (queued)
//      |                            quota: the parts asked for applied over the quota in force,
//      |                                   in the same transaction (ApplyQuotaChange)
//      |----reject-----> rejected   instance: awaiting_approval -> terminated; quota: unchanged
//      +----(instance terminated first)-> cancelled
//
// Approvals carry a `level` (the step of a chain; one step today) so multi-level chains add
// steps without changing the shape. Every change is an event (`hangar.approval.<state>`,
// `hangar.approval.requested`; an approved quota change also `hangar.quota.updated`).
//
// Authorisation: policies are read with projects:read and set with approval-policies:update.
// Instance approvals are read with approvals:read and decided with approvals:decide at the
// project. Quota approvals are read with approvals:read or quotas:read and decided with
// quotas:approve, at their scope (the team or project). Another tenant's approval is a 404.
//
// Thread-safety: all methods are thread-safe; they block on the store.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/approval_types.h"
#include "common/clock.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/approval_repos.h"
#include "store/workload_repos.h"

namespace hangar::workloads {

class ApprovalService {
 public:
  // `wake_scheduler` is called after an approval (the instance may be placed). Must not block.
  ApprovalService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                  std::function<void()> wake_scheduler);

  Result<api::ApprovalPolicy> GetPolicy(const identity::Principal& who, const std::string& project);
  // kInvalidArgument naming the field for a negative threshold; If-Match "0" before any policy.
  Result<api::ApprovalPolicy> SetPolicy(const identity::Principal& who, const std::string& project,
                                        const api::SetApprovalPolicyRequest& request,
                                        std::optional<int64_t> if_match_version);

  // kNotFound when the caller may not read it.
  Result<store::ApprovalRecord> Get(const identity::Principal& who, const ApprovalId& id);
  // The approvals of the page the caller may read.
  Result<store::Page<store::ApprovalRecord>> List(const identity::Principal& who,
                                                  const store::ListQuery& query);
  // Approves or rejects a pending approval (kConflict when decided, or when the caller asked for
  // it: nobody approves their own request; kPermissionDenied without the permission to decide
  // it). Approving a quota change applies it (kConflict when it no longer makes a valid quota).
  Result<store::ApprovalRecord> Decide(const identity::Principal& who, const ApprovalId& id,
                                       bool approve, const api::DecideApprovalRequest& request,
                                       std::optional<int64_t> if_match_version);

 private:
  // Instance approvals: approvals:read at the project; quota approvals: approvals:read or
  // quotas:read at their scope.
  Result<bool> MayRead(const identity::Principal& who, const store::ApprovalRecord& a);
  // approvals:decide (instances) or quotas:approve (quotas) at the approval's scope.
  Status RequireMayDecide(const identity::Principal& who, const store::ApprovalRecord& a);

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  std::function<void()> wake_scheduler_;
};

api::Approval ToApiApproval(const store::ApprovalRecord& record);

// If the project's policy requires approval for `record` (an instance of `gpus` GPUs priced at
// most `hourly_price_micros`), moves it to awaiting_approval and records the pending approval,
// in `tx`. Returns whether it did.
Result<bool> RequestApprovalIfNeeded(store::Tx& tx, store::WorkloadRecord& record, int64_t gpus,
                                     int64_t hourly_price_micros, const Clock& clock,
                                     const std::string& actor);

// Records a pending approval of `change` to the quota of `scope_id` (a team, or a project of
// `team`) with its hangar.approval.requested event, in `tx`.
Result<store::ApprovalRecord> RecordQuotaApproval(store::Tx& tx, const OrgId& org,
                                                  const TeamId& team, const std::string& scope_id,
                                                  const api::QuotaChange& change,
                                                  const Clock& clock, const std::string& actor);

// Cancels the pending approvals of `subject_id` (its instance was terminated), in `tx`.
Status CancelApprovalsOf(store::Tx& tx, const OrgId& org, const std::string& subject_id,
                         Timestamp now, const std::string& actor);

}  // namespace hangar::workloads
