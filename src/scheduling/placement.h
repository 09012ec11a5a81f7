// Placement: where one request fits on a cluster snapshot, and the bookkeeping of applying or
// releasing it. Used by Schedule for each workload in order, and directly by hangar-sim's
// packing experiment (pods arrive one at a time and never leave).
//
// Policy (best fit, fragmentation-aware):
//  - a shared-GPU request (gpu_milli < 1000) goes to the GPU with the least free share that
//    still fits, so partly used GPUs fill up before idle ones are broken into;
//  - a whole-GPU request goes to the node whose idle GPUs it leaves fewest of, preferring nodes
//    that are already partly used, so whole nodes stay free for large requests;
//  - a gang takes, node by node, the best node for one member among those not yet used;
//  - CPU-only work goes to nodes without GPUs first, so it does not strand GPUs;
//  - ties break on preferred labels, then on node order (deterministic).
//
// Placer keeps a snapshot's free capacity (and whatever index makes Place fast) for one pass:
// the scheduler places, applies and releases through it. The free functions below are the same
// operations on a bare snapshot, for callers that place once.
//
// Thread-safety: Placer is a value type (not safe for concurrent mutation); the free functions
// are pure functions over their arguments.
#pragma once

#include <expected>
#include <vector>

#include "scheduling/model.h"

namespace hangar::scheduling {

using Slices = std::vector<Allocation::Slice>;

class Placer {
 public:
  explicit Placer(ClusterSnapshot cluster);

  const ClusterSnapshot& cluster() const { return cluster_; }

  // As the free function Place, on the current free capacity.
  std::expected<Slices, Reason> Place(const Request& request) const;
  // As Place, but only on nodes n with allowed[n] (allowed.size() == node count).
  std::expected<Slices, Reason> PlaceWithin(const Request& request,
                                            const std::vector<bool>& allowed) const;

  // Takes the capacity of `slices` (GPU shares or MIG slices, CPU, memory, the request's
  // affinity group) off the free capacity, or gives it back. Release(Apply(x)) restores exactly.
  void Apply(const Slices& slices, const Request& request);
  void Release(const Slices& slices, const Request& request);

 private:
  ClusterSnapshot cluster_;
};

// kInvalidRequest when the request contradicts itself (checked first by Place).
std::optional<Reason> CheckRequest(const Request& request);

// The best placement of `request`, or why there is none right now. kNoFeasibleNode when no node
// could ever hold it (even empty); kInsufficientGpus or kGangIncomplete when it could, later.
std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& request);

// Whether `node` could hold one member of `request` if it were empty (types, memory, CUDA,
// labels, size), ignoring what is in use.
bool NodeCouldEverFit(const ClusterSnapshot& cluster, const Node& node, const Request& request);

// Takes the capacity of `slices` off the snapshot (GPU shares, CPU, memory), or gives it back.
void Apply(ClusterSnapshot& cluster, const Slices& slices, const Request& request);
void Release(ClusterSnapshot& cluster, const Slices& slices, const Request& request);

// GPU capacity in use and free, in milli-GPUs, over healthy GPUs of schedulable nodes.
struct Capacity {
  int64_t total_milli = 0;
  int64_t allocated_milli = 0;
};
Capacity MeasureCapacity(const ClusterSnapshot& cluster);

}  // namespace hangar::scheduling
