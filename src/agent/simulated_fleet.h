// SimulatedFleet: the agent's load mode. One process plays many nodes with simulated GPUs
// (`hangar-agent --simulate 8xH100-80GB --nodes 1250`), each registering with the same join
// token, heartbeating and shipping metrics every sample period, so hangard can be tried at the
// size of a real fleet from one machine.
//
// Each node is the normal agent's pieces without threads of their own: a SimulatedProbe with
// synthetic load (no workload runs: work the server assigns to these nodes is never started),
// a GpuHealthMonitor, an Agent driven by Agent::Step and a MetricsShipper driven by SampleOnce
// and Flush. Nodes are named `<name>-00001`, `<name>-00002`, ...; each keeps its identity in
// `<state dir>/<node name>/`, so a restarted fleet resumes as the same nodes.
//
// Threads, whatever the number of nodes:
//   sampler   one thread samples every node once per sample period, the nodes' phases spread
//             evenly over the period; sampling is never held up by a slow server;
//   workers   a fixed pool of `workers` threads, each with its own keep-alive connection, does
//             the HTTP: every node is in one min-heap keyed by when its next agent step or flush
//             is due; a worker pops the earliest, runs what is due and pushes it back. A node is
//             in the heap at most once (entries carry the node's generation; stale ones are
//             skipped) and is never held by two workers at once. When a sample changes a GPU's
//             health, the sampler makes the node due now, so the heartbeat is prompt.
// Sampling and sending meet only in the MetricsShipper (its buffer is locked) and the
// GpuHealthMonitor (it serialises the probe). Start times are spread: registrations over up to
// 10 s, flushes evenly over the flush period, so the server sees a steady stream, not bursts.
//
// Thread-safety: Run from one thread; progress() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/gpu_health.h"
#include "agent/metrics_shipper.h"
#include "agent/simulated_probe.h"
#include "api/types.h"
#include "common/clock.h"

namespace hangar::agent {

struct FleetOptions {
  std::string server_url;
  std::string join_token;
  std::string name_prefix;  // nodes are <prefix>-00001 ...
  int nodes = 1;
  std::string simulate;  // every node's GPUs, e.g. "8xH100-80GB"
  std::filesystem::path state_dir;
  api::Labels labels;
  std::optional<std::filesystem::path> fault_file;  // simulated_faults.h
  ShipperOptions shipper;
  HealthOptions health;
  int workers = 8;
  std::chrono::milliseconds timeout{10'000};                             // per network operation
  std::optional<std::chrono::microseconds> heartbeat_interval_override;  // tests
  uint64_t seed = 0;
};

// Totals over the fleet's nodes.
struct FleetProgress {
  int registered = 0;  // nodes with an identity
  int64_t heartbeats = 0;
  int64_t agent_failures = 0;
  int64_t points_sent = 0;
  int64_t points_dropped = 0;
  int64_t batches_sent = 0;
};

class SimulatedFleet {
 public:
  // kInvalidArgument for a bad spec or node count (1..100000). `clock` (metric timestamps) must
  // outlive the fleet.
  static Result<std::unique_ptr<SimulatedFleet>> Create(FleetOptions options, const Clock& clock);
  ~SimulatedFleet();

  // Runs every node until `stop` fires (Ok) or a node meets a fatal error (e.g. a bad join
  // token), which is returned. Logs progress every `progress_every`.
  Status Run(StopSignal& stop, std::chrono::seconds progress_every = std::chrono::seconds(10));

  FleetProgress progress() const;

  // Node `i` (0-based) of the fleet, for tests: inject faults into its probe.
  SimulatedProbe& probe(int i) { return *nodes_[static_cast<size_t>(i)]->probe; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Node {
    std::string name;
    std::unique_ptr<SimulatedProbe> probe;
    std::unique_ptr<GpuHealthMonitor> monitor;
    std::unique_ptr<MetricsShipper> shipper;
    std::unique_ptr<Agent> agent;
    std::atomic<bool> registered{false};
    SteadyTime next_step, next_flush;  // only the worker holding the node uses them
    uint64_t generation = 0;           // guarded by mu_: of the node's current heap entry
    bool held = false;                 // guarded by mu_: a worker is running it
    bool wake = false;                 // guarded by mu_: due again as soon as it is put back
  };
  struct Due {
    SteadyTime at;
    size_t node;
    uint64_t generation;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  SimulatedFleet(FleetOptions options, const Clock& clock);
  void WorkLoop(client::ApiClient& client, StopSignal& stop);
  void SampleLoop();
  // Puts node `i` (back) into the heap, due at `at`. Requires mu_.
  void Schedule(size_t i, SteadyTime at);
  // Makes node `i` due now (its GPUs' health changed).
  void Wake(size_t i);
  // Runs the agent step and flush that are due for `node`; when its next one is due, or an
  // error (fatal).
  Result<SteadyTime> RunDue(Node& node, client::ApiClient& client);

  const FleetOptions options_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Node>> nodes_;

  std::mutex mu_;
  std::condition_variable due_changed_;   // the heap's top changed, or stopping
  std::condition_variable sampler_wake_;  // stopping
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue_;  // guarded by mu_
  bool stopping_ = false;                                             // guarded by mu_
  std::optional<Error> fatal_;                                        // guarded by mu_
  std::atomic<bool> failed_{false};  // fatal_ is set; read without mu_ while waiting on `stop`
};

}  // namespace hangar::agent
