// MetricHub: GPU metrics on the server — what agents ship, kept at three resolutions.
//
//   agent batch ──Ingest──> raw ring per GPU (every sample, the last `raw_retention`)
//                   │
//                   └─────> open 1-minute buckets per GPU, node, project and team
//                                 │ Flush (bucket closed + grace)
//                                 v
//                           metric_rollups: 1-minute rows, and the same merged into 1-hour rows
//
// A GPU's samples count toward its node, and toward the project and team whose work holds the
// GPU at ingest (workloads::GpuHolders, from the scheduler loop's last pass). Query answers from
// the finest resolution that still covers the range: raw samples (GPUs and nodes only), else
// 1-minute, else 1-hour roll-ups; buckets not yet flushed are merged in, so a query sees the
// current minute. Retention deletes old roll-up rows on Flush.
//
// Invariants: a sample is counted in exactly one open or flushed bucket per scope and
// resolution; flushing merges into stored rows (store/metric_repos.h), so a bucket flushed in
// parts, e.g. when an agent sends buffered samples late, equals one flushed whole.
// Samples older than the 1-minute retention, or more than 5 minutes in the future, are ignored,
// and so are repeats of samples still in the raw ring (an agent resending a batch whose answer
// it lost).
//
// Thread-safety: every method may be called from any thread. Ingest and Query take the hub's
// mutex for memory work only; store calls happen outside it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/metric_types.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "store/metric_repos.h"
#include "store/store.h"
#include "workloads/gpu_holders.h"

namespace hangar::monitoring {

struct MetricHubOptions {
  Micros raw_retention = std::chrono::minutes(10);
  Micros minute_retention = std::chrono::hours(48);
  Micros hour_retention = std::chrono::hours(24 * 90);
  // How long after its end a 1-minute bucket waits for stragglers before it is flushed.
  Micros flush_grace = std::chrono::seconds(10);
};

// The metrics a query may ask for: store::kRolledUpMetrics, in that order.
struct MetricInfo {
  std::string_view name;
  std::string_view unit;
};
std::optional<size_t> MetricIndex(std::string_view name);
MetricInfo MetricAt(size_t index);

// What the hub knows of a GPU: its identity (for labels) and its latest sample.
struct GpuSnapshot {
  GpuId id;
  OrgId org_id;
  NodeId node_id;
  std::string node_name;
  int64_t index = 0;
  std::string uuid;
  std::string product_name;
  std::string gpu_type;
  std::string driver_version;
  int64_t memory_mib = 0;
  api::GpuState state = api::GpuState::ready;
  std::optional<api::GpuMetricPoint> latest;  // none yet
  int64_t last_xid = 0;
  Timestamp received_at;
};

enum class Scope { kGpu, kNode, kProject, kTeam };
std::string_view ScopeName(Scope scope);

struct MetricQuery {
  Scope scope = Scope::kGpu;
  std::string scope_id;
  size_t metric = 0;  // MetricIndex
  Timestamp from;
  Timestamp to;
  int64_t step_seconds = 0;  // 0: chosen from the range
};

class MetricHub {
 public:
  MetricHub(store::Store& store, const Clock& clock, const workloads::GpuHolders& holders,
            MetricHubOptions options = {});

  const MetricHubOptions& options() const { return options_; }

  // Takes an agent's batch for `node` (the caller checked the node's credential). Unknown GPUs'
  // points are ignored and counted. kInvalidArgument naming the field for a malformed batch.
  Result<api::MetricBatchResponse> Ingest(const OrgId& org, const NodeId& node,
                                          const api::MetricBatchRequest& batch);

  // Persists the 1-minute buckets that closed more than flush_grace ago (all of them when
  // `everything`, at shutdown), merged into the 1-minute and 1-hour rows, and applies retention.
  Status Flush(bool everything = false);

  // The metric's buckets over [from, to). kInvalidArgument naming /from, /to or /step for a bad
  // range. The caller checked the scope's existence and the caller's access.
  Result<api::MetricSeries> Query(const MetricQuery& query);

  // Every GPU of `org` the hub has seen (org empty: all organisations), with its latest sample.
  std::vector<GpuSnapshot> Gpus(const std::string& org_id = {}) const;

  // Appends per-GPU series with DCGM-exporter names (DCGM_FI_DEV_GPU_UTIL, …) in Prometheus
  // text format, for /metrics.
  void WritePrometheus(std::string& out) const;

  // Makes the next batch of a node reload its GPUs from the store (their identity changed:
  // re-registered, inventory synced); their samples are kept.
  void ForgetNode(const NodeId& node);

  // Ingest counters, for /metrics and tests.
  struct Counters {
    int64_t points_accepted = 0;
    int64_t points_ignored = 0;
    int64_t batches = 0;
    int64_t agent_dropped = 0;  // the agents' own reported drops, summed over nodes
    int64_t rows_flushed = 0;
    int64_t pending_buckets = 0;
  };
  Counters counters() const;

 private:
  // One sample as kept in the ring: compact, since 10,000 GPUs × 10 minutes of 1 s samples are
  // kept in memory.
  struct RawPoint {
    int64_t t_ms = 0;
    std::array<float, store::kRolledUpMetricCount> v{};
  };
  struct GpuSeries {
    GpuSnapshot snapshot;
    std::deque<RawPoint> raw;  // oldest first, within raw_retention
  };
  struct NodeEntry {
    std::string org_id;
    std::vector<std::string> gpu_ids;                      // into gpus_
    std::unordered_map<std::string, std::string> by_uuid;  // uuid -> gpu id
    int64_t agent_dropped = 0;
    bool stale = false;  // a batch named a GPU it does not know: reload before the next one
  };

  Result<NodeEntry*> LoadNodeLocked(std::unique_lock<std::mutex>& lock, const OrgId& org,
                                    const NodeId& node);
  void AddToBucket(const std::string& scope_id, const std::string& org_id, int64_t bucket,
                   const RawPoint& p, double sample_seconds);
  std::vector<store::RollupRecord> PendingOf(const std::string& scope_id, int64_t from,
                                             int64_t to) const;

  store::Store& store_;
  const Clock& clock_;
  const workloads::GpuHolders& holders_;
  const MetricHubOptions options_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, GpuSeries> gpus_;   // by gpu id; guarded by mutex_
  std::unordered_map<std::string, NodeEntry> nodes_;  // by node id; guarded by mutex_
  // Open 1-minute buckets by "scope_id@bucket"; guarded by mutex_.
  std::unordered_map<std::string, store::RollupRecord> open_;
  Counters counters_;  // guarded by mutex_
  Timestamp last_retention_;
};

}  // namespace hangar::monitoring
