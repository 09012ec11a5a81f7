// Quota repositories: the GPU quota of a team or project (a guarantee the scheduler keeps for
// it, a burst limit it may never exceed, a per-user limit inside a project, its fair-share
// weight, and how long its running work may stay over the limit), plus the scheduler loop's
// record of since when the scope has been over its limit. Same rules as store/repos.h:
// functions run in the caller's transaction and take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/repos.h"

namespace hangar::store {

struct QuotaRecord {
  OrgId org_id;
  std::string scope_id;              // "team_…" or "proj_…"
  int64_t gpus = 0;                  // guaranteed GPUs (borrowable by others while idle)
  std::optional<int64_t> gpu_limit;  // at most this many GPUs at once, borrowed or not
  // A project's only: at most this many GPUs at once for one principal's work (created_by).
  std::optional<int64_t> gpu_limit_per_user;
  int64_t weight = 1;  // fair-share weight among its siblings
  // How long running work may hold more than gpu_limit before it is preempted; absent: never.
  std::optional<int64_t> overage_grace_seconds;
  // Set by the scheduler loop (SetQuotaOverLimitSince), never by PutQuota: when the scope's
  // running work went over gpu_limit while it has an overage grace.
  std::optional<Timestamp> over_limit_since;
  std::string updated_by;
  int64_t version = 1;
  Timestamp updated_at;
};

// Inserts or replaces the scope's quota (all but over_limit_since, which it keeps). With
// `expected_version`, the stored row must be at that version (kPreconditionFailed otherwise; 0
// means "must not exist yet").
Status PutQuota(Tx& tx, const QuotaRecord& quota, std::optional<int64_t> expected_version);
Result<std::optional<QuotaRecord>> GetQuota(Tx& tx, const OrgId& org, std::string_view scope_id);
// The quotas among `scope_ids` that set a gpu_limit (one query: the submission path uses it).
Result<std::vector<QuotaRecord>> ListLimitingQuotas(Tx& tx, const OrgId& org,
                                                    const std::string& scope_a,
                                                    const std::string& scope_b);
// The quotas among `scope_ids` that bound a single request: those that set a gpu_limit or a
// gpu_limit_per_user (one query; job submission and instance creation use it).
Result<std::vector<QuotaRecord>> ListRequestBoundingQuotas(Tx& tx, const OrgId& org,
                                                           const std::string& scope_a,
                                                           const std::string& scope_b);
// Every quota of the organisation, by scope id.
Result<std::vector<QuotaRecord>> ListQuotas(Tx& tx, const OrgId& org);

// Records (a time) or clears (nullopt) since when the scope has been over its gpu_limit. The
// scheduler loop's bookkeeping, not a change of the quota: version and updated_* stay as they
// are, so an administrator's conditional PUT (If-Match) is not refused because of it. A scope
// without a quota row is left alone.
Status SetQuotaOverLimitSince(Tx& tx, const OrgId& org, std::string_view scope_id,
                              std::optional<Timestamp> since);
// The organisations with a quota whose over_limit_since is set (every organisation: the
// scheduler loop looks at them even when they have no unfinished work, to clear it).
Result<std::vector<OrgId>> ListOrgsOverQuotaLimit(Tx& tx);

}  // namespace hangar::store
