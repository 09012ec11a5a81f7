// ApprovalService: approvals of large requests. A project's policy (a GPU count, an hourly price)
// says which instance requests need a person's approval; InstanceService::Create puts such a
// request in `awaiting_approval` with a pending approval (RequestApprovalIfNeeded). Someone
// holding approvals:decide on the project — never the requester — approves it (the instance is
// queued for placement) or rejects it (terminated, with the comment).
//
//   pending --approve--> approved        the instance: awaiting_approval -> pending
//      |----reject-----> rejected        the instance: awaiting_approval -> terminated
//      +----(instance terminated first)-> cancelled
//
// Approvals carry a `level` (the step of a chain; one step today) so multi-level chains add
// steps without changing the shape. Every change is an event (`hangar.approval.<state>`,
// `hangar.approval.requested`).
//
// Authorisation: policies are read with projects:read and set with approval-policies:update;
// approvals are read with approvals:read and decided with approvals:decide, all at the
// project; another tenant's approval is a 404.
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

  Result<store::ApprovalRecord> Get(const identity::Principal& who, const ApprovalId& id);
  Result<store::Page<store::ApprovalRecord>> List(const identity::Principal& who,
                                                  const store::ListQuery& query);
  // Approves or rejects a pending approval (kConflict when decided, or when the caller asked for
  // it: nobody approves their own request).
  Result<store::ApprovalRecord> Decide(const identity::Principal& who, const ApprovalId& id,
                                       bool approve, const api::DecideApprovalRequest& request,
                                       std::optional<int64_t> if_match_version);

 private:
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

// Cancels the pending approvals of `subject_id` (its instance was terminated), in `tx`.
Status CancelApprovalsOf(store::Tx& tx, const OrgId& org, const std::string& subject_id,
                         Timestamp now, const std::string& actor);

}  // namespace hangar::workloads
