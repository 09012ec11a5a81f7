// QuotaService: GPU quotas per team and project — what administrators set, what each scope uses
// now, and the refusal of a request no quota could ever admit.
//
// A quota has these parts, all enforced by the scheduling core (docs/scheduling.md) through the
// scheduler loop's fair-share tree (organisation -> team -> project [-> user]):
//   - `gpus`: a guarantee. The scope may always use this many; while it does not, others borrow
//     them (and are preempted to give them back when the owner needs them).
//   - `gpu_limit`: a ceiling, borrowed or not. Work that would go past it waits with the reason
//     `quota_exceeded`; a single request larger than the ceiling is refused at once (429,
//     problem type resource-exhausted) because it could never start.
//   - `gpu_limit_per_user` (projects only): the same ceiling for the work of each principal
//     (the workload's created_by), as a leaf of the tree under the project.
//   - `weight`: the scope's share among its siblings when capacity is contended.
//   - `overage_grace_seconds`: how long running work may stay over gpu_limit (the limit was
//     lowered, or a reservation took part of it) before the scheduler preempts the cheapest of
//     it; absent, running work is never stopped for overage. The loop records since when
//     (`over_limit_since`, read-only here).
//
// Anyone who may read a scope's quota may ask for it to change (RequestChange): that records a
// pending approval (subject_kind "quota", workloads/approval_service.h) holding the parts asked
// for and the quota in force; approving it applies the parts over the quota then in force
// (ApplyQuotaChange), in the approval's transaction.
//
// Authorisation: quotas:read to list (scopes the caller may read) and to ask for a change,
// quotas:update at the scope to set one, quotas:approve to approve a requested change. Another
// organisation's team or project is a 404.
//
// Thread-safety: all methods are thread-safe (state lives in the store).
#pragma once

#include "api/approval_types.h"
#include "api/workload_types.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/quota_repos.h"
#include "store/store.h"
#include "store/workload_repos.h"

namespace hangar::workloads {

class QuotaService {
 public:
  // `wake_scheduler` is called after a change (a raised limit may let work start).
  QuotaService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
               std::function<void()> wake_scheduler);

  // Every team and project the caller may read quotas of, with its quota and current use.
  Result<api::QuotaList> List(const identity::Principal& who);
  // Replaces the quota of `scope_id` (a team or project id). kInvalidArgument naming the field.
  Result<api::Quota> Set(const identity::Principal& who, std::string_view scope_id,
                         const api::SetQuotaRequest& request,
                         std::optional<int64_t> if_match_version);
  // Asks for the quota of `request.scope_id` to change: records a pending approval with its
  // hangar.approval.requested event and returns it. Needs quotas:read at the scope.
  // kInvalidArgument naming each bad field (`/scope_id`; `/reason` empty or over 2000
  // characters; no part given; the parts, applied over the quota in force, breaking Set's
  // rules); kNotFound for a scope the caller cannot see. Creates nothing on error.
  Result<api::Approval> RequestChange(const identity::Principal& who,
                                      const api::QuotaChangeRequest& request);

 private:
  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  std::function<void()> wake_scheduler_;
};

// Refuses (kResourceExhausted, naming the limit, the use and how to ask for more) a request for
// `gpu_milli` milli-GPUs in the project when it exceeds the project's or its team's gpu_limit,
// or the project's gpu_limit_per_user, on its own. Runs in the caller's transaction (job
// submission, instance creation).
Status CheckRequestFitsQuota(store::Tx& tx, const OrgId& org, const TeamId& team,
                             const ProjectId& project, std::string_view project_name,
                             int64_t gpu_milli);

// Applies the parts `change` gives over the quota in force of `scope_id` (a team or project of
// `org`; a scope without a quota has gpus 0, no limit and weight 1), in `tx`, with its
// hangar.quota.updated event at `now` by `actor`; returns the quota now in force. Used when a
// requested change is approved. kConflict when the scope no longer exists or the result is not
// a valid quota (the quota in force changed since the change was asked for; the violations
// name the fields).
Result<api::Quota> ApplyQuotaChange(store::Tx& tx, const OrgId& org, std::string_view scope_id,
                                    const api::QuotaValues& change, const Clock& clock,
                                    Timestamp now, const std::string& actor);

// The milli-GPUs a workload holds (placed) or asks for (pending).
int64_t WorkloadMilliGpus(const store::WorkloadRecord& record);

}  // namespace hangar::workloads
