// Fragmentation of a node's free GPUs relative to a workload mix, in the spirit of FGD
// (Weng et al., "Beware of Fragmentation", USENIX ATC'23). Placement uses it to choose, among the
// places a request fits, the one that makes the cluster's free capacity least useful to the work
// expected next (placement.h).
//
// The measure. A workload mix is a distribution of request shapes (GPUs, share, CPU, memory). For
// one shape t, the GPU capacity of a node that a stream of t could use is the smaller of:
//   - what its GPUs offer t: for a share d < 1000 (or one whole GPU, d = 1000), the free share
//     of each GPU with at least d free (as FGD counts it); for k > 1 whole GPUs, every idle GPU
//     when at least k are idle, else nothing;
//   - what its CPU and memory let t use: free CPU / t's CPU instances of t (a fraction, not
//     rounded down, so the measure moves with every core taken), likewise for memory, times
//     the GPU share each instance takes.
// A node's fragmentation is its free GPU capacity minus the expected usable part over the mix:
//   F(node) = free(node) - sum_t weight_t * usable_t(node),  with weights summing to 1,
// in milli-GPUs. So GPUs that CPU or memory will strand count as fragmented before they are
// stranded, not only once the CPU is gone. CPU-only shapes use no GPU and add nothing.
// Placement minimises the increase F(after) - F(before) on the node it changes (FGD's
// fragmentation gradient).
//
// Cost: one evaluation sorts the node's free shares and visits each shape once (O(G log G + T),
// T at most kMaxShapes).
// Placer caches the increase per node and request shape until the node changes.
//
// GPU types and MIG: shapes carry no GPU type; a node's healthy GPUs not in MIG mode count,
// whatever their type. MIG GPUs serve only MIG instances and are left out.
//
// Thread-safety: WorkloadMix and FragmentationModel are immutable value types once built.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "scheduling/model.h"

namespace hangar::scheduling {

// The work a cluster expects: request shapes and how often each comes (relative weights).
struct WorkloadMix {
  struct Shape {
    int32_t gpus = 1;               // GPUs per node; 0: CPU-only
    int32_t gpu_milli = kWholeGpu;  // per GPU; below 1000 only with gpus == 1
    int64_t cpu_milli = 0;
    int64_t memory_mib = 0;
    double weight = 1;  // relative frequency; shapes with weight <= 0 are ignored
    bool operator==(const Shape&) const = default;
  };
  std::vector<Shape> shapes;

  // One shape per distinct (GPUs per node, share, CPU, memory) among `requests`, weighted by how
  // many requests have it (a gang counts once). MIG requests are left out. Shapes come out in
  // first-seen order, so equal inputs give equal mixes.
  static WorkloadMix FromRequests(std::span<const Request> requests);
};

class FragmentationModel {
 public:
  // A mix with more GPU shapes keeps only this many, the heaviest, so one evaluation stays cheap
  // (evaluating a node visits every shape).
  static constexpr size_t kMaxShapes = 256;

  explicit FragmentationModel(const WorkloadMix& mix);

  // False when the mix has no GPU shape: every node's fragmentation is then 0.
  bool has_gpu_shapes() const { return !shapes_.empty(); }

  // F(node) in milli-GPUs, from the node's free GPUs, CPU and memory (see above).
  double Fragmentation(const Node& node) const;

  // F of `node` as it would be once it held one member of `request` on `gpus` (its share on each
  // of them, or the MIG instance, and its CPU and memory). `gpus` index node.gpus.
  double FragmentationAfter(const Node& node, const Request& request,
                            std::span<const uint16_t> gpus) const;

 private:
  // F for the node's GPUs with `free_of(i)` free (<= 0: nothing free or not counted) and the
  // given CPU and memory free.
  template <typename FreeOf>
  double Evaluate(const Node& node, int64_t cpu_free, int64_t memory_free, FreeOf free_of) const;

  struct Shape {
    int64_t cpu_milli;
    int64_t memory_mib;
    double per_instance;  // milli-GPUs one instance takes
    double weight;        // normalised over the GPU shapes
  };
  // Shapes with the same GPU demand, sharing what the GPUs offer them.
  struct Demand {
    int32_t gpus;        // 1: a share or one GPU; more: whole GPUs
    int32_t milli;       // per GPU
    size_t first, last;  // their shapes: shapes_[first, last)
  };
  std::vector<Demand> demands_;  // 1-GPU demands by share ascending, then multi-GPU ones
  std::vector<Shape> shapes_;
};

}  // namespace hangar::scheduling
