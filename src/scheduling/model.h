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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace hangar::scheduling {

inline constexpr int32_t kWholeGpu = 1000;  // milli-GPUs in one GPU
inline constexpr int kMigSlices = 7;        // compute slices of an A100/H100 in MIG mode
inline constexpr uint8_t kAllMigSlices = 0x7f;

// The share of a GPU that `slices` MIG compute slices are worth, in milli-GPUs (rounded up).
constexpr int32_t MigMilli(int slices) {
  return (slices * kWholeGpu + kMigSlices - 1) / kMigSlices;
}

// ---- The cluster -----------------------------------------------------------------------------

// One GPU of a node. `free_milli` is what is not yet allocated (1000: idle; 0: fully used).
//
// A GPU in MIG mode serves only MIG instances (see Request::mig_slices): its seven compute slices
// are a bitmap, and `free_milli` follows the free slices (each slice is 1000/7 milli-GPUs, so
// utilisation and quotas count MIG like any other share).
struct Gpu {
  uint16_t type = 0;  // index into ClusterSnapshot::gpu_types
  int32_t memory_mib = 0;
  int32_t free_milli = kWholeGpu;
  bool healthy = true;
  bool mig = false;                  // in MIG mode
  uint8_t mig_free = kAllMigSlices;  // bit i set: compute slice i is free
  uint8_t nvlink_domain = 0;         // GPUs of one node with the same non-zero domain
                                     // are linked by NVLink; 0: unknown
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
  // The affinity groups (Request::group) of the work on this node, one entry per workload;
  // Apply adds, Release removes. The caller fills it for running work.
  std::vector<uint32_t> groups;
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
//
// Affinity is by group: a workload may name its group (a string index, like a label value), and
// ask to run only on nodes that already run work of some groups (affinity) or none of others
// (anti-affinity), as required constraints or as preferences. A gang whose own group is in its
// anti-affinity spreads one member per node (it always does) and avoids nodes its group runs on.
struct Request {
  int32_t gpus_per_node = 1;
  int32_t gpu_milli = kWholeGpu;  // per GPU; below 1000 only for one shared GPU
  int32_t nodes = 1;
  // > 0: one MIG instance of this many compute slices (1, 2, 3, 4 or 7, as NVIDIA's 1g..7g
  // profiles) on a GPU in MIG mode; gpus_per_node must be 1 and gpu_milli is ignored.
  int32_t mig_slices = 0;
  std::vector<uint16_t> gpu_types;  // allowed types; empty: any
  int32_t min_gpu_memory_mib = 0;
  int32_t min_cuda_version = 0;
  int64_t cpu_milli = 0;                     // per node
  int64_t memory_mib = 0;                    // per node
  std::vector<Label> required_labels;        // every one must match
  std::vector<Label> preferred_labels;       // each match is a bonus
  uint32_t group = 0;                        // this workload's affinity group; 0: none
  std::vector<uint32_t> affinity;            // required: the node runs work of each of these groups
  std::vector<uint32_t> anti_affinity;       // required: the node runs no work of these groups
  std::vector<uint32_t> preferred_affinity;  // each match is a bonus
  std::vector<uint32_t> preferred_anti_affinity;  // each match is a penalty
  // A label key (string index): gang members prefer nodes sharing one value of it (a rack, a
  // zone), fewest distinct values first.
  std::optional<uint32_t> topology_key;

  // Milli-GPUs per GPU slice of this request (a MIG instance counts by its compute slices).
  int32_t SliceMilli() const { return mig_slices > 0 ? MigMilli(mig_slices) : gpu_milli; }
  int64_t TotalGpuMilli() const {
    return static_cast<int64_t>(gpus_per_node) * SliceMilli() * nodes;
  }
};

// What happens to a running workload that is preempted.
enum class PreemptionPolicy : uint8_t {
  kNever,       // not preemptible
  kRequeue,     // stopped and put back in the queue
  kCheckpoint,  // told to checkpoint, stopped after its grace period, requeued
};

// Start only after another workload finished: successfully (kAfterOk, Slurm's afterok), in any
// way (kAfterAny), or unsuccessfully (kAfterFailure, Slurm's afternotok).
struct Dependency {
  enum class Condition : uint8_t { kAfterOk, kAfterAny, kAfterFailure };
  std::string on;  // the other workload's id
  Condition condition = Condition::kAfterOk;
};

struct Workload {
  std::string id;        // the caller's id
  uint32_t queue = 0;    // the leaf of the quota tree it is charged to (a project, or a user)
  int32_t priority = 0;  // the priority class's value; higher first
  Timestamp submitted_at;
  std::optional<Micros> run_time_limit;  // known limits make backfill possible
  Request request;
  PreemptionPolicy preemption = PreemptionPolicy::kRequeue;
  Micros checkpoint_grace{0};  // kCheckpoint: how long it has to checkpoint before it stops
  bool held = false;           // held by a user or an admin: not started until released
  std::optional<Timestamp> not_before;  // a future start time
  std::optional<Timestamp> deadline;    // should finish by then (earliest deadline first)
  std::vector<Dependency> dependencies;
};

// How a workload that is no longer pending or running ended (for dependencies).
struct Finished {
  enum class Outcome : uint8_t { kSucceeded, kFailed, kCancelled };
  std::string id;
  Outcome outcome = Outcome::kSucceeded;
};

// A running workload and where it runs.
struct Allocation {
  Workload workload;
  struct Slice {
    uint32_t node = 0;
    std::vector<uint16_t> gpus;  // indices into the node's gpus
    int32_t gpu_milli = kWholeGpu;
    uint8_t mig_start = 0;  // a MIG instance: its first compute slice (it spans mig_slices)
  };
  std::vector<Slice> slices;
  Timestamp started_at;
  bool borrowed = false;     // started beyond its queue's guaranteed quota: reclaimed first
  bool terminating = false;  // being preempted: its capacity frees when it stops

  // When it will have stopped at the latest: started_at + run-time limit; nullopt: unknown.
  std::optional<Timestamp> ExpectedEnd() const {
    if (!workload.run_time_limit) return std::nullopt;
    return started_at + *workload.run_time_limit;
  }
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
  // A GPU-hour budget for the current period (a month, say), and what was used of it. Once used
  // reaches the budget the caller records when (over_budget_since); after Options::budget_grace
  // new work of the queue and its descendants waits until the next period or a bigger budget.
  std::optional<double> budget_gpu_hours;
  double used_gpu_hours = 0;
  std::optional<Timestamp> over_budget_since;
  // Grace for overage: running work of the queue and its descendants may hold more than
  // limit_milli (the limit was lowered, or shrank) for this long. From when it went over, which
  // the caller records (over_limit_since, from Decisions::overage_started), until the grace
  // ends; then the pass preempts the queue's cheapest preemptible work until it is within its
  // limit. nullopt: running work is never stopped for being over the limit. Work already
  // terminating does not count.
  std::optional<Micros> overage_grace;
  std::optional<Timestamp> over_limit_since;
};

struct WorkloadMix;  // fragmentation.h

// Decayed usage `elapsed` later with a half-life: usage * 2^(-elapsed / half_life).
double DecayUsage(double usage, Micros elapsed, Micros half_life);

// The order in which pending work is considered.
enum class Ordering : uint8_t {
  kFairShare,      // priority, deadline urgency, fair-tree share, age: Hangar's policy
  kFifo,           // submit time only (a baseline)
  kShortestFirst,  // shortest run-time limit first, unknown last (a baseline with known times)
};

// What happens after the first workload in order that has to wait for capacity.
enum class Backfill : uint8_t {
  kNone,    // strict order: nothing behind it starts (head-of-line blocking, a FIFO baseline)
  kEasy,    // it gets a reservation; work behind starts only if it does not delay that
  kGreedy,  // anything that fits starts (no reservations: large work may starve)
};

struct Options {
  // Whether work may use idle capacity beyond its queue's guarantee (up to its limit).
  bool allow_borrowing = true;
  Ordering ordering = Ordering::kFairShare;
  Backfill backfill = Backfill::kEasy;
  // How many blocked workloads get reservations (EASY backfill is 1; more is closer to
  // conservative backfill and costs a little more per pass).
  int reservations = 1;
  // Preempt lower-priority work, and reclaim borrowed capacity, for blocked work.
  bool preemption = true;
  // At most this many blocked workloads look for victims in one pass (each search is a scan of
  // the cluster).
  int max_preemptors_per_pass = 8;
  // How long a queue may run over its GPU-hour budget before new work waits.
  Micros budget_grace = std::chrono::hours(24);
  // Work whose deadline is this close (deadline - run-time limit - now) goes before fair share
  // and age within its priority, earliest deadline first.
  Micros deadline_boost = std::chrono::hours(1);
  // The work the cluster expects (request shapes and how often each comes): with it, placement
  // minimises fragmentation against it (placement.md); without it, plain best fit.
  std::shared_ptr<const WorkloadMix> packing_mix;
};

// ---- Decisions -------------------------------------------------------------------------------

// Why a workload waits or cannot run: a code for programs and a sentence for people.
enum class ReasonCode : uint8_t {
  kNone,
  kNoFeasibleNode,     // no node could ever satisfy the request (types, memory, labels, size)
  kInsufficientGpus,   // feasible nodes exist but are busy
  kQuotaExceeded,      // the queue (or an ancestor) is at its limit
  kGangIncomplete,     // not enough nodes free at once for the whole gang
  kInvalidRequest,     // the request contradicts itself (a share of several GPUs, 0 nodes, ...)
  kHeld,               // held until released
  kDependencyPending,  // a workload it depends on has not finished
  kDependencyNeverSatisfied,  // it depends on an outcome that did not (or cannot) happen
  kStartTimeInFuture,         // not_before is later than now
  kBudgetExhausted,           // the queue (or an ancestor) is over its GPU-hour budget
  kReservedForOther,          // it fits, but would delay the reservation of earlier work
  kBlockedBehind,             // strict order (Backfill::kNone): earlier work is waiting
  kPreempting,                // victims were chosen; it starts when they have stopped
};

// The code's stable name in the API ("insufficient_gpus").
std::string_view ReasonName(ReasonCode code);

struct Reason {
  ReasonCode code = ReasonCode::kNone;
  std::string message;
};

struct Placement {
  uint32_t workload = 0;  // index into the pending list
  std::vector<Allocation::Slice> slices;
  bool borrowed = false;
  bool backfilled = false;  // started ahead of reserved, earlier work without delaying it
};

// A running workload to stop so that blocked work can start, or so that a queue over its limit
// for longer than its overage grace gets back within it.
struct Preemption {
  uint32_t running = 0;       // index into the running list
  uint32_t for_workload = 0;  // index into the pending list: the work it makes room for
  PreemptionPolicy policy = PreemptionPolicy::kRequeue;  // kRequeue or kCheckpoint
  Micros grace{0};  // kCheckpoint: time to checkpoint before it is stopped
  Reason reason;    // why it was chosen ("priority", "quota reclaim", "over its GPU limit")
  // Set: stopped because this queue stayed over its limit past its overage grace, for no
  // pending work (for_workload means nothing then).
  std::optional<uint32_t> over_limit;
};

// Capacity held for blocked work from the time running work is expected to free it.
struct Reservation {
  uint32_t workload = 0;  // index into the pending list
  Timestamp start;        // when it is expected to start at the latest
  std::vector<Allocation::Slice> slices;
};

struct Decisions {
  std::vector<Placement> placements;
  // For every pending workload not placed: why (index into the pending list), sorted by index.
  std::vector<std::pair<uint32_t, Reason>> waiting;
  std::vector<Preemption> preemptions;
  std::vector<Reservation> reservations;
  // Pending work that cannot meet its deadline any more even if it started now.
  std::vector<uint32_t> deadline_infeasible;
  // Queues whose GPU-hour budget is used up and that have no over_budget_since yet: the caller
  // records `now` for them, which starts the grace period.
  std::vector<uint32_t> budgets_exhausted;
  // Queues with an overage grace whose running work holds more than their limit and that have
  // no over_limit_since yet: the caller records `now` for them, which starts the grace.
  std::vector<uint32_t> overage_started;
  // Queues with an over_limit_since that are within their limit again (or no longer have a
  // limit or a grace): the caller clears it.
  std::vector<uint32_t> overage_ended;
  // The earliest future time at which a decision could change without any event (a not_before
  // start time, a grace period ending): when to run the next pass at the latest.
  std::optional<Timestamp> wake_at;
};

// Everything one pass looks at.
struct Input {
  ClusterSnapshot cluster;  // free capacity: running work is already taken off
  std::vector<Workload> pending;
  std::vector<Allocation> running;
  std::vector<Queue> queues;       // index 0 is the root; empty: one root without limits
  std::vector<Finished> finished;  // outcomes that pending work's dependencies may name
  Timestamp now;
  Options options;
};

}  // namespace hangar::scheduling
