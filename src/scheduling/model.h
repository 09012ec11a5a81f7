// The scheduling core's input and output: a snapshot of the cluster, the work to place, the quota
// tree, and the decisions. Plain data with dense integer indices, so one pass over 100,000 jobs
// and 10,000 GPUs touches arrays, not maps of strings; the caller (the workloads service, or
// hangar-sim) builds a snapshot from its own records and maps decisions back by index.
//
// Units: GPU shares in milli-GPUs (1000 = one whole GPU), CPU in milli-cores, memory in MiB,
// times in microseconds of the caller's clock (virtual time in the simulator).
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace hangar::scheduling {

inline constexpr int32_t kWholeGpu = 1000;  // milli-GPUs in one GPU

// ---- The cluster -----------------------------------------------------------------------------

// One GPU of a node. `free_milli` is what is not yet allocated (1000: idle; 0: fully used).
struct Gpu {
  uint16_t type = 0;  // index into ClusterSnapshot::gpu_types
  int32_t memory_mib = 0;
  int32_t free_milli = kWholeGpu;
  bool healthy = true;
};

// A label as interned integers (key index, value index into ClusterSnapshot::strings), so label
// matching compares integers.
struct Label {
  uint32_t key = 0;
  uint32_t value = 0;
  bool operator==(const Label&) const = default;
};

struct Node {
  std::string id;  // the caller's id, for decisions and reasons
  std::vector<Gpu> gpus;
  int64_t cpu_milli_free = 0;
  int64_t memory_mib_free = 0;
  std::vector<Label> labels;
  int32_t cuda_version = 0;  // major * 1000 + minor * 10 ("12.4" -> 12040); 0: unknown
  bool schedulable = true;   // ready and not cordoned
};

struct ClusterSnapshot {
  std::vector<Node> nodes;
  std::vector<std::string> gpu_types;  // type index -> name ("H100-80GB")
  std::vector<std::string> strings;    // label key/value index -> text
};

// ---- Work ------------------------------------------------------------------------------------

// What one workload asks for. A gang (`nodes` > 1) needs `gpus_per_node` on each of `nodes`
// distinct nodes, all at once or not at all. A shared GPU is `gpus_per_node == 1` with
// `gpu_milli < 1000`.
struct Request {
  int32_t gpus_per_node = 1;
  int32_t gpu_milli = kWholeGpu;  // per GPU; below 1000 only for one shared GPU
  int32_t nodes = 1;
  std::vector<uint16_t> gpu_types;  // allowed types; empty: any
  int32_t min_gpu_memory_mib = 0;
  int32_t min_cuda_version = 0;
  int64_t cpu_milli = 0;                // per node
  int64_t memory_mib = 0;               // per node
  std::vector<Label> required_labels;   // every one must match
  std::vector<Label> preferred_labels;  // each match is a bonus

  int64_t TotalGpuMilli() const { return static_cast<int64_t>(gpus_per_node) * gpu_milli * nodes; }
};

// What happens to a running workload that is preempted.
enum class PreemptionPolicy : uint8_t {
  kNever,       // not preemptible
  kRequeue,     // stopped and put back in the queue
  kCheckpoint,  // told to checkpoint, stopped after its grace period, requeued
};

struct Workload {
  std::string id;        // the caller's id
  uint32_t queue = 0;    // the leaf of the quota tree it is charged to (a project, or a user)
  int32_t priority = 0;  // the priority class's value; higher first
  Timestamp submitted_at;
  std::optional<Micros> run_time_limit;  // known limits make backfill possible
  Request request;
  PreemptionPolicy preemption = PreemptionPolicy::kRequeue;
};

// A running workload and where it runs.
struct Allocation {
  Workload workload;
  struct Slice {
    uint32_t node = 0;
    std::vector<uint16_t> gpus;  // indices into the node's gpus
    int32_t gpu_milli = kWholeGpu;
  };
  std::vector<Slice> slices;
  Timestamp started_at;
  bool borrowed = false;  // started beyond its queue's guaranteed quota: reclaimed first
};

// ---- Quotas and fair share ------------------------------------------------------------------

// One node of the hierarchical quota tree (organisation > team > project > user), like Slurm's
// fair-tree and Kueue's cohorts. Index 0 is the root; `parent` of the root is itself.
struct Queue {
  std::string id;
  uint32_t parent = 0;
  int64_t guaranteed_milli = 0;  // nominal quota: GPUs it may always use (borrowable when idle)
  std::optional<int64_t> limit_milli;  // burst limit: at most this much, borrowed or not
  double weight = 1.0;                 // fair-share weight among its siblings
  double decayed_usage = 0;            // GPU-hours, decayed with the configured half-life
};

struct Options {
  // Whether work may use idle capacity beyond its queue's guarantee (up to its limit).
  bool allow_borrowing = true;
};

// ---- Decisions -------------------------------------------------------------------------------

// Why a workload waits or cannot run: a code for programs and a sentence for people.
enum class ReasonCode : uint8_t {
  kNone,
  kNoFeasibleNode,    // no node could ever satisfy the request (types, memory, labels, size)
  kInsufficientGpus,  // feasible nodes exist but are busy
  kQuotaExceeded,     // the queue (or an ancestor) is at its limit
  kGangIncomplete,    // not enough nodes free at once for the whole gang
  kInvalidRequest,    // the request contradicts itself (a share of several GPUs, 0 nodes, ...)
};

struct Reason {
  ReasonCode code = ReasonCode::kNone;
  std::string message;
};

struct Placement {
  uint32_t workload = 0;  // index into the pending list
  std::vector<Allocation::Slice> slices;
  bool borrowed = false;
};

struct Decisions {
  std::vector<Placement> placements;
  // For every pending workload not placed: why (index into the pending list).
  std::vector<std::pair<uint32_t, Reason>> waiting;
};

}  // namespace hangar::scheduling
