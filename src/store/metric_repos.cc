// Metric repositories (see metric_repos.h).
#include "store/metric_repos.h"

#include <fmt/format.h>

namespace hangar::store {
namespace {

// Rows per INSERT: one round trip for many buckets, and few distinct statements to prepare.
constexpr size_t kRowsPerStatement = 64;
constexpr size_t kColumnsPerRow = 6 + 3 * kRolledUpMetricCount;

std::string ColumnList() {
  std::string out = "scope_id, resolution, bucket, org_id, samples, sample_seconds";
  for (auto m : kRolledUpMetrics) out += fmt::format(", {0}_min, {0}_max, {0}_sum", m);
  return out;
}

// INSERT … ON CONFLICT DO UPDATE merging into the stored row, for `rows` rows.
std::string UpsertSql(Dialect dialect, size_t rows) {
  std::string sql = "INSERT INTO metric_rollups (" + ColumnList() + ") VALUES ";
  size_t param = 1;
  for (size_t r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (size_t c = 0; c < kColumnsPerRow; ++c) sql += fmt::format("{}${}", c ? ", " : "", param++);
    sql += ")";
  }
  bool pg = dialect == Dialect::kPostgres;
  // PostgreSQL has LEAST/GREATEST and needs the table named; SQLite's two-argument MIN/MAX are
  // scalar functions and an unqualified column is the stored row's.
  std::string least = pg ? "LEAST" : "MIN", greatest = pg ? "GREATEST" : "MAX";
  std::string stored = pg ? "metric_rollups." : "";
  sql += " ON CONFLICT (scope_id, resolution, bucket) DO UPDATE SET ";
  sql += fmt::format(
      "samples = {0}samples + excluded.samples, sample_seconds = "
      "{0}sample_seconds + excluded.sample_seconds",
      stored);
  for (auto m : kRolledUpMetrics) {
    sql += fmt::format(
        ", {0}_min = {1}({3}{0}_min, excluded.{0}_min), {0}_max = {2}({3}{0}_max, "
        "excluded.{0}_max), {0}_sum = {3}{0}_sum + excluded.{0}_sum",
        m, least, greatest, stored);
  }
  return sql;
}

}  // namespace

Status UpsertRollups(Tx& tx, std::span<const RollupRecord> records) {
  std::vector<SqlValue> params;
  for (size_t start = 0; start < records.size(); start += kRowsPerStatement) {
    size_t rows = std::min(kRowsPerStatement, records.size() - start);
    params.clear();
    params.reserve(rows * kColumnsPerRow);
    for (const RollupRecord& r : records.subspan(start, rows)) {
      params.emplace_back(r.scope_id);
      params.emplace_back(r.resolution_seconds);
      params.emplace_back(r.bucket);
      params.emplace_back(r.org_id.str());
      params.emplace_back(r.samples);
      params.emplace_back(r.sample_seconds);
      for (const MetricStats& m : r.metrics) {
        params.emplace_back(m.min);
        params.emplace_back(m.max);
        params.emplace_back(m.sum);
      }
    }
    HANGAR_TRY(tx.Exec(UpsertSql(tx.dialect(), rows), params));
  }
  return Ok();
}

Result<std::vector<RollupRecord>> ListRollups(Tx& tx, std::string_view scope_id,
                                              int64_t resolution_seconds, int64_t from,
                                              int64_t to) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT " + ColumnList() +
                              " FROM metric_rollups WHERE scope_id = $1 AND resolution = $2"
                              " AND bucket >= $3 AND bucket < $4 ORDER BY bucket",
                          {std::string(scope_id), resolution_seconds, from, to}));
  std::vector<RollupRecord> out;
  out.reserve(rows.size());
  for (const Row& row : rows) {
    RollupRecord r{.scope_id = row.Text(0),
                   .resolution_seconds = row.Int(1),
                   .bucket = row.Int(2),
                   .org_id = OrgId::FromTrusted(row.Text(3)),
                   .samples = row.Int(4),
                   .sample_seconds = row.Real(5)};
    for (size_t m = 0; m < kRolledUpMetricCount; ++m) {
      r.metrics[m] = {
          .min = row.Real(6 + 3 * m), .max = row.Real(7 + 3 * m), .sum = row.Real(8 + 3 * m)};
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> DeleteRollupsBefore(Tx& tx, int64_t resolution_seconds, int64_t before) {
  return tx.Exec("DELETE FROM metric_rollups WHERE resolution = $1 AND bucket < $2",
                 {resolution_seconds, before});
}

}  // namespace hangar::store
