// Placement: where one request fits on a cluster snapshot, and the bookkeeping of applying or
// releasing it. Used by Schedule for each workload in order, and directly by hangar-sim's
// packing experiment (pods arrive one at a time and never leave). docs/placement.md describes
// the rules for users.
//
// Filters: a node takes a member of a request only if it is schedulable, has every required
// label, the CUDA version, the CPU and memory free, runs work of every group in `affinity` and
// of none in `anti_affinity`, and has the GPUs: qualifying GPUs are healthy, of an allowed type,
// with the memory asked for, and in MIG mode exactly when the request is a MIG instance.
//
// Choice among the nodes that pass, compared in this order (each step breaks the ties of the one
// before):
//   1. preferred labels matched, more first;
//   2. preferred affinity groups the node runs minus preferred anti-affinity groups it runs,
//      higher first;
//   3. with a WorkloadMix: the increase of the node's fragmentation (fragmentation.h), least
//      first; without one this step ties everywhere, which is plain best fit;
//   4. best fit:
//      - a share (gpu_milli < 1000) goes to the GPU with the least free share that still fits,
//        then to the node left with the fewest idle GPUs;
//      - whole GPUs go to the node left with the fewest idle GPUs, a node already in use before
//        an untouched one, so whole nodes stay free for large requests;
//      - a MIG instance goes to the MIG GPU with the fewest free slices that has a valid
//        position for the profile, then to the position leaving the largest profile placeable;
//      - CPU-only work goes to nodes with the fewest GPUs (none first: on a GPU node it strands
//        the GPUs whose CPU it takes), then to the least free CPU that fits;
//   5. node order (deterministic).
// Within a node: a share takes the fitting GPU with the least free share (with a mix, the one
// that raises fragmentation least); whole GPUs are idle qualifying GPUs, all in one non-zero
// NVLink domain when one can hold them (the domain with the fewest idle GPUs first), else the
// lowest-numbered; a MIG instance takes the valid start that leaves the largest profile
// placeable (MigStarts below), then the lowest start.
//
// Gangs take `nodes` distinct nodes, the best ones by the order above. With a topology_key, the
// members go to nodes sharing one value of that label: the value with the fewest nodes that fit
// a member and still enough of them for the whole gang (tightest first, then the lowest value
// index); when no value can hold the gang alone, values are taken largest first, so the gang
// spans the fewest values; nodes without the key come last.
//
// Placer keeps a snapshot's free capacity for one pass, with an index of nodes by idle-GPU count,
// by the free shares of their GPUs and by free CPU, so the common requests (no preferences, no
// mix, no topology key) look only at the nodes that can win. Its results are the free functions'
// results on the same snapshot (a randomised test checks it).
//
// Thread-safety: Placer is a value type, not safe for concurrent use (its const methods fill a
// cache); the free functions are pure functions over their arguments.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "scheduling/fragmentation.h"
#include "scheduling/model.h"

namespace hangar::scheduling {

using Slices = std::vector<Allocation::Slice>;

namespace internal {
// A Placer's memo of one node's fragmentation increase for one request shape (placement.cc).
struct CachedIncrease {
  uint32_t version = 0;  // the node's version it was computed at; 0: empty
  int32_t gpu = -1;      // a share's GPU; -1: none fits
  int64_t increase = 0;  // micro-GPUs
};
}  // namespace internal

class Placer {
 public:
  explicit Placer(ClusterSnapshot cluster);
  // With fragmentation-aware scoring against `mix` (step 3 above).
  Placer(ClusterSnapshot cluster, const WorkloadMix& mix);

  const ClusterSnapshot& cluster() const { return cluster_; }

  // As the free function Place, on the current free capacity.
  std::expected<Slices, Reason> Place(const Request& request) const;
  // As Place, but only on nodes n with allowed[n] (allowed.size() == node count). Looks only at
  // allowed nodes (no copy); the reason, when it fails, is the one Place would give on the whole
  // cluster with the other nodes busy.
  std::expected<Slices, Reason> PlaceWithin(const Request& request,
                                            const std::vector<bool>& allowed) const;

  // Takes the capacity of `slices` (GPU shares or MIG slices, CPU, memory, the request's
  // affinity group) off the free capacity, or gives it back. Release(Apply(x)) restores exactly.
  void Apply(const Slices& slices, const Request& request);
  void Release(const Slices& slices, const Request& request);

 private:
  // Where a node is filed in the index, so it can be unfiled when it changes.
  struct Filing {
    bool filed = false;
    int32_t idle = 0;
    bool untouched = false;
    std::vector<int32_t> free_shares;  // distinct free shares (1..1000) of its counted GPUs
    uint32_t gpu_count = 0;
    int64_t cpu_free = 0;
  };
  // A request the index can answer exactly: no preferences, no mix, no topology, no MIG.
  bool Indexable(const Request& request) const;
  // PlaceWithin with allowed == nullptr meaning every node.
  std::expected<Slices, Reason> PlaceAmong(const Request& request,
                                           const std::vector<bool>* allowed) const;
  // The best node for one member of an indexable request among the allowed nodes (all when
  // null) not in `taken`.
  std::optional<uint32_t> BestIndexed(const Request& request, const std::vector<bool>* allowed,
                                      std::span<const uint32_t> taken) const;
  // The memo entries (one per node) for the request's shape; null when the memo is full.
  internal::CachedIncrease* MemoFor(const Request& request) const;
  // Why `request` cannot be placed: as the free functions say it, with the count of nodes that
  // could ever hold a member memoised per request shape (it does not change with Apply).
  Reason Unplaced(const Request& request, size_t placed) const;
  // Files every node; the first indexable placements after construction scan instead.
  void EnsureIndex() const;
  static constexpr int kScansBeforeIndex = 16;
  void File(uint32_t node);
  void Unfile(uint32_t node);
  void Refresh(const Slices& slices);

  ClusterSnapshot cluster_;
  std::optional<FragmentationModel> fragmentation_;
  std::vector<double> node_fragmentation_;  // per node, with a mix: F(node) now
  // by_idle_[c]: schedulable nodes with c idle GPUs, as (untouched ? 1 : 0) << 32 | node.
  std::vector<std::set<uint64_t>> by_idle_;
  // by_free_share_[f]: schedulable nodes with a GPU at f free (1..1000), as idle << 32 | node.
  std::vector<std::set<uint64_t>> by_free_share_;
  // Schedulable nodes as (GPU count, free CPU, node), for CPU-only work.
  std::set<std::tuple<uint32_t, int64_t, uint32_t>> by_cpu_;
  std::vector<Filing> filings_;
  mutable bool indexed_ = false;
  mutable int scans_ = 0;
  // NodeCouldEverFit counts by the request fields it reads; a cache, hence mutable: a Placer is
  // not safe for concurrent use, const methods included.
  mutable std::map<std::vector<int64_t>, size_t> could_ever_fit_;
  // With a mix: each node's fragmentation increase (and, for a share, the GPU it would take) per
  // request shape, valid while the node's version is unchanged; File bumps the version. Another
  // cache (see above).
  std::vector<uint32_t> versions_;
  mutable std::map<std::vector<int64_t>, size_t> increase_rows_;  // shape -> first entry
  mutable std::vector<internal::CachedIncrease> increases_;
};

// kInvalidRequest when the request contradicts itself (checked first by Place): no nodes, a
// negative count, a share outside 1..1000 or of several GPUs, negative CPU or memory, a MIG
// profile other than 1, 2, 3, 4 or 7 slices, or a MIG instance with gpus_per_node other than 1.
std::optional<Reason> CheckRequest(const Request& request);

// The best placement of `request`, or why there is none right now. kNoFeasibleNode when no node
// could ever hold it (even empty); kInsufficientGpus or kGangIncomplete when it could, later.
std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& request);
// The same with fragmentation-aware scoring against `mix` (builds a FragmentationModel per call:
// for callers that place once; Placer builds it once).
std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& request,
                                    const WorkloadMix& mix);

// Whether `node` could hold one member of `request` if it were empty (types, memory, CUDA,
// labels, size, MIG mode), ignoring what is in use, its CPU and memory, and affinity (which
// depends on the work running).
bool NodeCouldEverFit(const ClusterSnapshot& cluster, const Node& node, const Request& request);

// Whether one `slice` of `request` fits exactly where it is on `node` as the node is now: the
// slice's GPUs have its share (or its MIG slices) free, and the node the request's CPU and
// memory. For checking a placement against a cluster as expected later (a reservation's start).
bool SliceFitsInPlace(const Node& node, const Allocation::Slice& slice, const Request& request);

// Takes the capacity of `slices` off the snapshot (GPU shares or MIG slices, CPU, memory, and
// the request's group onto each node's groups), or gives it back: Release removes the last
// occurrence of the group, so Release right after Apply restores the snapshot exactly.
void Apply(ClusterSnapshot& cluster, const Slices& slices, const Request& request);
void Release(ClusterSnapshot& cluster, const Slices& slices, const Request& request);

// GPU capacity in use and free, in milli-GPUs, over healthy GPUs of schedulable nodes.
struct Capacity {
  int64_t total_milli = 0;
  int64_t allocated_milli = 0;
};
Capacity MeasureCapacity(const ClusterSnapshot& cluster);

// The valid first slices of a MIG instance of `slices` compute slices, as on A100 and H100
// (1: 0..6; 2: 0, 2, 4; 3: 0, 4; 4 and 7: 0); empty for any other profile. The instance occupies
// slices [start, start + slices).
std::span<const uint8_t> MigStarts(int slices);
// The largest MIG profile (7, 4, 3, 2 or 1 slices) placeable in the free-slice bitmap; 0: none.
int LargestMigProfile(uint8_t mig_free);

}  // namespace hangar::scheduling
