// Quota repositories (see quota_repos.h).
#include "store/quota_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kQuotaSelect =
    "SELECT org_id, scope_id, gpus, gpu_limit, weight, updated_by, version, updated_at,"
    " gpu_limit_per_user, overage_grace_seconds, over_limit_since FROM quotas";

Result<QuotaRecord> QuotaFromRow(const Row& r) {
  QuotaRecord q{.org_id = OrgId::FromTrusted(r.Text(0)),
                .scope_id = r.Text(1),
                .gpus = r.Int(2),
                .weight = r.Int(4),
                .updated_by = r.Text(5),
                .version = r.Int(6),
                .updated_at = r.Time(7)};
  if (!r.IsNull(3)) q.gpu_limit = r.Int(3);
  if (!r.IsNull(8)) q.gpu_limit_per_user = r.Int(8);
  if (!r.IsNull(9)) q.overage_grace_seconds = r.Int(9);
  if (!r.IsNull(10)) q.over_limit_since = r.Time(10);
  return q;
}

SqlValue OrNull(const std::optional<int64_t>& v) { return v ? SqlValue(*v) : Null(); }

}  // namespace

Status PutQuota(Tx& tx, const QuotaRecord& q, std::optional<int64_t> expected_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, GetQuota(tx, q.org_id, q.scope_id));
  if (expected_version && *expected_version != (current ? current->version : 0)) {
    return std::unexpected(Error(ErrorCode::kPreconditionFailed,
                                 "the quota of " + q.scope_id + " changed since it was read")
                               .Hint("read it again and retry with the new etag"));
  }
  if (!current) {
    return StatusOf(tx.Exec(
        "INSERT INTO quotas (org_id, scope_id, gpus, gpu_limit, weight, updated_by, version,"
        " updated_at, gpu_limit_per_user, overage_grace_seconds)"
        " VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
        {q.org_id.str(), q.scope_id, q.gpus, OrNull(q.gpu_limit), q.weight, q.updated_by,
         ToUnixMicros(q.updated_at), OrNull(q.gpu_limit_per_user),
         OrNull(q.overage_grace_seconds)}));
  }
  return StatusOf(tx.Exec(
      "UPDATE quotas SET gpus = $3, gpu_limit = $4, weight = $5, updated_by = $6,"
      " version = version + 1, updated_at = $7, gpu_limit_per_user = $8,"
      " overage_grace_seconds = $9 WHERE org_id = $1 AND scope_id = $2",
      {q.org_id.str(), q.scope_id, q.gpus, OrNull(q.gpu_limit), q.weight, q.updated_by,
       ToUnixMicros(q.updated_at), OrNull(q.gpu_limit_per_user), OrNull(q.overage_grace_seconds)}));
}

Result<std::optional<QuotaRecord>> GetQuota(Tx& tx, const OrgId& org, std::string_view scope_id) {
  static const std::string sql = Concat({kQuotaSelect, " WHERE org_id = $1 AND scope_id = $2"});
  SqlValue params[] = {org.str(), std::string(scope_id)};
  return QueryOne<QuotaRecord>(tx, sql, params, QuotaFromRow);
}

Result<std::vector<QuotaRecord>> ListLimitingQuotas(Tx& tx, const OrgId& org,
                                                    const std::string& scope_a,
                                                    const std::string& scope_b) {
  static const std::string sql =
      Concat({kQuotaSelect,
              " WHERE org_id = $1 AND scope_id IN ($2, $3) AND gpu_limit IS NOT NULL"
              " ORDER BY scope_id"});
  SqlValue params[] = {org.str(), scope_a, scope_b};
  return QueryAll<QuotaRecord>(tx, sql, params, QuotaFromRow);
}

Result<std::vector<QuotaRecord>> ListRequestBoundingQuotas(Tx& tx, const OrgId& org,
                                                           const std::string& scope_a,
                                                           const std::string& scope_b) {
  static const std::string sql =
      Concat({kQuotaSelect,
              " WHERE org_id = $1 AND scope_id IN ($2, $3)"
              " AND (gpu_limit IS NOT NULL OR gpu_limit_per_user IS NOT NULL) ORDER BY scope_id"});
  SqlValue params[] = {org.str(), scope_a, scope_b};
  return QueryAll<QuotaRecord>(tx, sql, params, QuotaFromRow);
}

Result<std::vector<QuotaRecord>> ListQuotas(Tx& tx, const OrgId& org) {
  static const std::string sql = Concat({kQuotaSelect, " WHERE org_id = $1 ORDER BY scope_id"});
  SqlValue params[] = {org.str()};
  return QueryAll<QuotaRecord>(tx, sql, params, QuotaFromRow);
}

Status SetQuotaOverLimitSince(Tx& tx, const OrgId& org, std::string_view scope_id,
                              std::optional<Timestamp> since) {
  return StatusOf(
      tx.Exec("UPDATE quotas SET over_limit_since = $3 WHERE org_id = $1 AND scope_id = $2",
              {org.str(), std::string(scope_id), Nullable(since)}));
}

Result<std::vector<OrgId>> ListOrgsOverQuotaLimit(Tx& tx) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT DISTINCT org_id FROM quotas WHERE over_limit_since IS NOT NULL"
                          " ORDER BY org_id"));
  std::vector<OrgId> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(OrgId::FromTrusted(r.Text(0)));
  return out;
}

}  // namespace hangar::store
