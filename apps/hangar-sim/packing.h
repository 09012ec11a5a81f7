// The packing experiment of the FGD paper (Weng et al., USENIX ATC'23), the first experiment
// hangar-sim runs: pods from the trace arrive one at a time, are placed or skipped, and never
// leave; what counts is how much of the cluster's GPU capacity ends up allocated once the
// arrived requests add up to 100 % and to `load` (130 %) of it. A placement policy that strands
// fewer GPU shares allocates more.
//
// The experiment in steps (docs/simulator.md describes it for users):
//   1. SampleWorkload: per seed, the submission order of trace pods, up to load x capacity.
//   2. Pack: each pod becomes a scheduling::Request (RequestFor), is placed by the policy
//      (a scheduling::Placer for best-fit, the same with the trace's workload mix for fgd,
//      PlaceRandomly for the random baseline) and applied; a pod that does not fit is skipped.
//
// Randomness: std::mt19937_64 seeded with the seed, drawn through UniformBelow (rejection
// sampling), so a seed gives the same sample on every platform and standard library. It does not
// reproduce the Go simulator's math/rand streams: the same seed picks different pods there.
//
// Thread-safety: pure functions of their arguments (engines passed by reference are the
// caller's).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "scheduling/model.h"
#include "scheduling/placement.h"
#include "trace.h"

namespace hangar::sim {

enum class Policy : uint8_t {
  kBestFit,  // scheduling::Placer: the core's best-fit placement
  kRandom,   // a uniformly random node among those where the pod fits now
  // scheduling::Placer with a WorkloadMix: the core's fragmentation-aware placement (in the
  // spirit of FGD; scheduling/fragmentation.h), the mix being the trace's pods, each once.
  kFgd,
};
std::string_view PolicyName(Policy policy);  // "best-fit", "random", "fgd"
Result<Policy> ParsePolicy(std::string_view name);

enum class Sampling : uint8_t {
  // As the FGD simulator does it (TunePodsByNodeTotalResource): every trace pod once, in a
  // shuffled order, then pods drawn with replacement appended until the target is reached (or,
  // when the trace alone exceeds it, pods removed at random until it does not).
  kFgd,
  // Only pods drawn with replacement, from an empty list, until the target is reached.
  kIid,
};
std::string_view SamplingName(Sampling sampling);  // "fgd", "iid"
Result<Sampling> ParseSampling(std::string_view name);

// A uniform integer in [0, n), n > 0. Rejection sampling on whole 64-bit outputs: unlike
// std::uniform_int_distribution, whose algorithm each standard library chooses, the result is
// fixed by the engine's output sequence, which the C++ standard fixes.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n);

// The submission order for one seed: indices into `pods`. "Reaching" the target means: draws
// stop at the first pod whose GPU request (TracePod::TotalGpuMilli) would take the sum above
// `target_milli`; that pod is not added. (The Go simulator compares the per-GPU share there, not
// the total; the difference is at most one pod.) Errors: kInvalidArgument when the target is
// positive and no pod requests a GPU, so no number of draws could reach it.
Result<std::vector<uint32_t>> SampleWorkload(std::span<const TracePod> pods, int64_t target_milli,
                                             uint64_t seed, Sampling sampling);

// The request a pod makes: one node; num_gpu GPUs of gpu_milli each (1000 whenever num_gpu > 1);
// for a CPU-only pod (num_gpu 0) no GPU, only its CPU and memory; gpu_spec models as allowed GPU
// types. Errors: kInvalidArgument when gpu_spec names a model the cluster does not have.
Result<scheduling::Request> RequestFor(const TracePod& pod,
                                       const scheduling::ClusterSnapshot& cluster);

// The random baseline's placement of a single-node request, as the FGD simulator's Random policy
// (random node score, GPU selection "random"): a node drawn uniformly among the schedulable nodes
// that could ever hold it (scheduling::NodeCouldEverFit) and have the CPU, memory and GPUs free
// now; on that node a share goes on a GPU drawn uniformly among those it fits on, and whole GPUs
// are the lowest-numbered idle ones. nullopt when no node fits now.
std::optional<scheduling::Slices> PlaceRandomly(const scheduling::ClusterSnapshot& cluster,
                                                const scheduling::Request& request,
                                                std::mt19937_64& rng);

struct PackResult {
  int64_t capacity_milli = 0;   // GPU capacity of the cluster (MeasureCapacity, at the start)
  int64_t arrived_milli = 0;    // GPU requested by all submitted pods, placed or not
  int64_t allocated_milli = 0;  // GPU allocated at the end
  // Allocated / capacity when the arrived requests first reached 100 % of capacity; nullopt when
  // they never did (a load below 1).
  std::optional<double> allocation_at_full;
  double allocation_at_end = 0;  // allocated / capacity after the last pod
  int64_t pods_submitted = 0;
  int64_t pods_placed = 0;
  int64_t gpu_pods_skipped = 0;  // pods asking for a GPU that did not fit when they arrived
  int64_t cpu_pods_skipped = 0;  // CPU-only pods that did not fit
  // Where capacity goes. Of the skipped GPU pods, those for which some node had the GPUs free
  // but not the CPU or memory: GPUs stranded by the other resources.
  int64_t gpu_pods_skipped_for_cpu_or_memory = 0;
  int64_t cpu_pods_on_gpu_nodes = 0;  // CPU-only pods placed on a node that has GPUs
};

// Submits `pods[order[0]]`, `pods[order[1]]`, ... one at a time to `cluster` (a copy: the
// caller's snapshot is not changed) with `policy`, and measures the allocation. `seed` seeds the
// random policy's own engine (the seed XOR a fixed constant, so it does not replay the sampling
// draws). Errors: those of RequestFor, before any pod is placed.
Result<PackResult> Pack(scheduling::ClusterSnapshot cluster, std::span<const TracePod> pods,
                        std::span<const uint32_t> order, Policy policy, uint64_t seed);

// Seeds from "42-51" (inclusive range), "7", or a comma-separated list of both ("1-3,9").
// Errors: kInvalidArgument for anything else, a reversed range, or more than 10,000 seeds.
Result<std::vector<uint64_t>> ParseSeeds(std::string_view text);

}  // namespace hangar::sim
