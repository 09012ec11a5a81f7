// MetricsShipper: samples the node's GPUs on a fixed period and ships the samples to hangard in
// metric batches (POST /api/v1/nodes/{id}/metrics, api/metric_types.h), surviving outages of the
// server without losing the order of what it measured.
//
// Two activities, each a plain function that can be driven by a thread of the shipper's own
// (Start/Stop, the normal agent) or by someone else's scheduler (the load mode):
//   SampleOnce()  every `sample_period`: one GpuProbe::Sample(); each GPU's sample becomes a
//                 point appended to the buffer, each Xid a pending event;
//   Flush()       every `flush_period`: sends the buffer, oldest first, in batches of at most
//                 `max_points_per_batch` points, until it is empty or a batch fails.
//
// The buffer holds at most `buffer_points` points. Invariants:
//   - points leave the buffer only from the front: acknowledged by the server (200), refused
//     (a 4xx other than 401, 413 and 429: the batch is dropped with a warning, never retried;
//     413 halves the batch size and sends again, down to single points), or
//     dropped because the buffer is full (the oldest go first, and `dropped_samples`, sent with
//     every batch, counts them since the shipper started);
//   - a batch that fails to arrive (no answer, 5xx, 429, 401 while the agent re-keys the node)
//     stays at the front and is sent again at the next flush, after a backoff that doubles per
//     consecutive failure up to `max_flush_backoff`; so the server receives each GPU's points in
//     the order they were taken, and a lost answer at worst repeats a batch;
//   - nothing is sent without an identity (SetIdentity: node id + credential); sampling goes on.
// Xid events ride along with the next batch; at most `max_buffered_xids` wait (oldest dropped).
// A GPU that fell off the bus gives no point (its values are absent), only its Xids.
// Points still buffered when the shipper stops are lost.
//
// Thread-safety: SetIdentity, buffered() and stats() from any thread. SampleOnce from one thread
// at a time, Flush from one thread at a time; the two may run concurrently (the buffer is
// guarded by a mutex, and the probe must be thread-safe: give it a GpuHealthMonitor). Start and
// Stop from the owning thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/gpu_probe.h"
#include "agent/state.h"
#include "api/metric_types.h"
#include "client/api_client.h"
#include "common/clock.h"

namespace hangar::agent {

struct ShipperOptions {
  std::chrono::microseconds sample_period = std::chrono::seconds(1);
  std::chrono::microseconds flush_period = std::chrono::seconds(5);
  // 36,000 points: 8 GPUs for 75 minutes at one sample a second (about 3 MiB).
  size_t buffer_points = 36'000;
  // About 190 bytes of JSON a point: 4,000 keep a batch near 750 KB, under hangard's default
  // 1 MiB body limit (http.max_body_bytes). A 413 halves it for the rest of the run.
  size_t max_points_per_batch = 4'000;
  size_t max_buffered_xids = 1'000;
  std::chrono::microseconds max_flush_backoff = std::chrono::seconds(60);
};

// What the shipper has done, for tests and logs. Atomic so other threads may watch.
struct ShipperStats {
  std::atomic<int64_t> samples{0};          // successful probe samples
  std::atomic<int64_t> points_buffered{0};  // points taken into the buffer
  std::atomic<int64_t> points_sent{0};      // points in batches the server answered 200
  std::atomic<int64_t> batches_sent{0};     // batches the server answered 200
  std::atomic<int64_t> points_dropped{0};   // oldest points dropped from a full buffer
  std::atomic<int64_t> points_rejected{0};  // points in batches refused with a 4xx
  std::atomic<int64_t> failures{0};         // batches that did not arrive: retried
};

class MetricsShipper {
 public:
  // `probe` and `clock` (timestamps of the points) must outlive the shipper.
  MetricsShipper(ShipperOptions options, GpuProbe& probe, const Clock& clock);
  ~MetricsShipper();
  MetricsShipper(const MetricsShipper&) = delete;
  MetricsShipper& operator=(const MetricsShipper&) = delete;

  // The node to send as (nullopt: none yet, or revoked: keep buffering).
  void SetIdentity(const std::optional<AgentState>& identity);

  // Samples the probe once into the buffer. A probe error is logged and skipped.
  void SampleOnce();

  // Sends what is buffered over `client` (see above) and returns how long to wait before the
  // next Flush: `flush_period`, or a backoff after a failure.
  std::chrono::microseconds Flush(client::ApiClient& client);

  // Starts the sampling and sending threads; the sender talks through its own client made from
  // `client_options`. kInvalidArgument for a bad server URL.
  Status Start(const client::ClientOptions& client_options);
  // Stops both threads (aborting a batch in flight). Idempotent.
  void Stop();

  // Points waiting to be sent.
  size_t buffered() const;
  const ShipperStats& stats() const { return stats_; }

 private:
  struct BufferedPoint {
    uint64_t seq;  // increases by one per point taken; the buffer's front has the lowest
    uint32_t gpu;  // index into uuids_
    api::GpuMetricPoint point;
  };
  struct BufferedXid {
    uint64_t seq;
    uint32_t gpu;
    api::GpuXidEvent event;
  };
  // One batch cut from the front of the buffer.
  struct Batch {
    api::MetricBatchRequest request;
    AgentState identity;
    size_t points = 0;
    uint64_t last_point_seq = 0;  // acknowledge points up to this one
    uint64_t last_xid_seq = 0;    // and Xids up to this one
    bool has_xids = false;
  };
  enum class SendResult { kSent, kRetry, kTooLarge, kRejected };

  // The GPU's slot in uuids_. Requires mu_.
  uint32_t GpuSlot(const std::string& uuid);
  // The next batch, or nullopt when there is nothing to send or no identity. Requires mu_.
  std::optional<Batch> NextBatch();
  SendResult Send(client::ApiClient& client, const Batch& batch);
  // Removes a sent or rejected batch from the buffer. Requires mu_.
  void Remove(const Batch& batch);
  void SampleLoop();
  void SendLoop();
  // Waits up to `d` or until Stop(); false when stopping.
  bool Pause(std::chrono::microseconds d);

  const ShipperOptions options_;
  GpuProbe& probe_;
  const Clock& clock_;

  mutable std::mutex mu_;
  std::optional<AgentState> identity_;            // guarded by mu_
  std::deque<BufferedPoint> points_;              // guarded by mu_, oldest first
  std::deque<BufferedXid> xids_;                  // guarded by mu_, oldest first
  std::vector<std::string> uuids_;                // guarded by mu_: GPU slots
  std::map<std::string, uint32_t> slots_;         // guarded by mu_: uuid -> slot
  std::map<int64_t, std::string> uuid_by_index_;  // guarded by mu_, for GPUs gone silent
  uint64_t next_seq_ = 1;                         // guarded by mu_
  int64_t dropped_total_ = 0;                     // guarded by mu_: sent as dropped_samples
  bool warned_full_ = false;                      // guarded by mu_: drops since the last batch sent
  int consecutive_failures_ = 0;                  // Flush's thread only
  size_t batch_points_;  // guarded by mu_: the batch size now (a 413 halves it)

  // Start/Stop.
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::unique_ptr<client::ApiClient> client_;
  std::thread sampler_;
  std::thread sender_;
  ShipperStats stats_;
};

}  // namespace hangar::agent
