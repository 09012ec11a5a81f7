// QuotaService: GPU quotas per team and project — what administrators set, what each scope uses
// now, and the refusal of a request no quota could ever admit.
//
// A quota has three parts, all enforced by the scheduling core (docs/scheduling.md) through the
// scheduler loop's fair-share tree (organisation -> team -> project):
//   - `gpus`: a guarantee. The scope may always use this many; while it does not, others borrow
//     them (and are preempted to give them back when the owner needs them).
//   - `gpu_limit`: a ceiling, borrowed or not. Work that would go past it waits with the reason
//     `quota_exceeded`; a single request larger than the ceiling is refused at once (429,
//     problem type resource-exhausted) because it could never start.
//   - `weight`: the scope's share among its siblings when capacity is contended.
//
// Authorisation: quotas:read to list (scopes the caller may read), quotas:update at the scope to
// set one. Another organisation's team or project is a 404.
//
// Thread-safety: all methods are thread-safe (state lives in the store).
#pragma once

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

 private:
  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  std::function<void()> wake_scheduler_;
};

// Refuses (kResourceExhausted, naming the limit, the use and how to ask for more) a request for
// `gpu_milli` milli-GPUs in the project when it exceeds the project's or its team's gpu_limit
// on its own. Runs in the caller's transaction (job submission, instance creation).
Status CheckRequestFitsQuota(store::Tx& tx, const OrgId& org, const TeamId& team,
                             const ProjectId& project, std::string_view project_name,
                             int64_t gpu_milli);

// The milli-GPUs a workload holds (placed) or asks for (pending).
int64_t WorkloadMilliGpus(const store::WorkloadRecord& record);

}  // namespace hangar::workloads
