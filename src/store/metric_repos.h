// Metric repositories: the persisted roll-ups of GPU metrics (1-minute and 1-hour buckets of
// min/max/sum per metric, for a GPU, node, project or team). The in-memory side (recent samples,
// open buckets) is monitoring/metric_hub.h; this is only what survives a restart.
//
// Rows are merged, never replaced: UpsertRollups adds a bucket's samples to what is stored, so a
// bucket flushed in parts (samples that arrive late, from an agent that was cut off) ends up as
// if it had been written at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/repos.h"

namespace hangar::store {

// The metrics rolled up, in the order of RollupRecord::metrics; names are the API's.
inline constexpr size_t kRolledUpMetricCount = 5;
inline constexpr std::array<std::string_view, kRolledUpMetricCount> kRolledUpMetrics{
    "utilization", "memory_used_mib", "temperature_c", "power_watts", "sm_clock_mhz"};

struct MetricStats {
  double min = 0;
  double max = 0;
  double sum = 0;
};

struct RollupRecord {
  std::string scope_id;  // gpu_…, node_…, proj_… or team_…
  int64_t resolution_seconds = 60;
  int64_t bucket = 0;  // the bucket's start, Unix seconds (a multiple of the resolution)
  OrgId org_id;
  int64_t samples = 0;
  double sample_seconds = 0;  // the time the samples cover: / resolution = GPUs reporting
  std::array<MetricStats, kRolledUpMetricCount> metrics{};
};

// Merges each record into its stored bucket (min of mins, max of maxes, sums added).
Status UpsertRollups(Tx& tx, std::span<const RollupRecord> records);

// The buckets of one scope at one resolution with from <= bucket < to (Unix seconds), oldest
// first.
Result<std::vector<RollupRecord>> ListRollups(Tx& tx, std::string_view scope_id,
                                              int64_t resolution_seconds, int64_t from, int64_t to);

// Retention: deletes the buckets of a resolution that start before `before` (Unix seconds).
Result<int64_t> DeleteRollupsBefore(Tx& tx, int64_t resolution_seconds, int64_t before);

}  // namespace hangar::store
