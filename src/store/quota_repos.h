// Quota repositories: the GPU quota of a team or project (a guarantee the scheduler keeps for
// it, a burst limit it may never exceed, and its fair-share weight). Same rules as
// store/repos.h: functions run in the caller's transaction and take the OrgId.
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
  int64_t weight = 1;                // fair-share weight among its siblings
  std::string updated_by;
  int64_t version = 1;
  Timestamp updated_at;
};

// Inserts or replaces the scope's quota. With `expected_version`, the stored row must be at that
// version (kPreconditionFailed otherwise; 0 means "must not exist yet").
Status PutQuota(Tx& tx, const QuotaRecord& quota, std::optional<int64_t> expected_version);
Result<std::optional<QuotaRecord>> GetQuota(Tx& tx, const OrgId& org, std::string_view scope_id);
// The quotas among `scope_ids` that set a gpu_limit (one query: the submission path uses it).
Result<std::vector<QuotaRecord>> ListLimitingQuotas(Tx& tx, const OrgId& org,
                                                    const std::string& scope_a,
                                                    const std::string& scope_b);
// Every quota of the organisation, by scope id.
Result<std::vector<QuotaRecord>> ListQuotas(Tx& tx, const OrgId& org);

}  // namespace hangar::store
