// The FGD packing experiment. See packing.h.
#include "packing.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace hangar::sim {
namespace {

using scheduling::ClusterSnapshot;
using scheduling::Gpu;
using scheduling::kWholeGpu;
using scheduling::Node;
using scheduling::Request;
using scheduling::Slices;

// Keeps the random policy's engine off the sampling engine's sequence for the same seed.
constexpr uint64_t kPolicyStream = 0x9e3779b97f4a7c15;

bool GpuQualifies(const Gpu& gpu, const Request& r) {
  return gpu.healthy && gpu.memory_mib >= r.min_gpu_memory_mib &&
         (r.gpu_types.empty() ||
          std::find(r.gpu_types.begin(), r.gpu_types.end(), gpu.type) != r.gpu_types.end());
}

// Whether `node` has the GPUs for one member of `r` free now, CPU and memory aside.
bool GpusFreeNow(const Node& node, const Request& r) {
  if (r.gpus_per_node == 0) return true;
  if (r.gpu_milli < kWholeGpu) {
    return std::any_of(node.gpus.begin(), node.gpus.end(), [&](const Gpu& g) {
      return GpuQualifies(g, r) && g.free_milli >= r.gpu_milli;
    });
  }
  auto idle = std::count_if(node.gpus.begin(), node.gpus.end(), [&](const Gpu& g) {
    return GpuQualifies(g, r) && g.free_milli == kWholeGpu;
  });
  return idle >= r.gpus_per_node;
}

bool FitsNow(const ClusterSnapshot& cluster, const Node& node, const Request& r) {
  return node.schedulable && node.cpu_milli_free >= r.cpu_milli &&
         node.memory_mib_free >= r.memory_mib && scheduling::NodeCouldEverFit(cluster, node, r) &&
         GpusFreeNow(node, r);
}

// The GPUs the random baseline takes on a node where the request fits. A share goes on a GPU
// drawn uniformly among those it fits on: the FGD simulator runs its Random policy with GPU
// selection "random" too. Whole GPUs are the lowest-numbered idle ones; in the clusters
// hangar-sim builds, a node's GPUs are all one model, so which idle ones are taken does not
// change what fits there later.
std::vector<uint16_t> PickGpus(const Node& node, const Request& r, std::mt19937_64& rng) {
  std::vector<uint16_t> gpus;
  if (r.gpus_per_node == 0) return gpus;
  if (r.gpu_milli < kWholeGpu) {
    auto fits = [&](const Gpu& g) { return GpuQualifies(g, r) && g.free_milli >= r.gpu_milli; };
    auto count = static_cast<uint64_t>(std::count_if(node.gpus.begin(), node.gpus.end(), fits));
    HANGAR_CHECK(count > 0, "the node was chosen because a GPU fits");
    uint64_t pick = UniformBelow(rng, count);
    for (size_t i = 0; i < node.gpus.size(); ++i) {
      if (fits(node.gpus[i]) && pick-- == 0) {
        gpus.push_back(static_cast<uint16_t>(i));
        break;
      }
    }
    return gpus;
  }
  for (size_t i = 0; i < node.gpus.size(); ++i) {
    if (static_cast<int32_t>(gpus.size()) == r.gpus_per_node) break;
    if (GpuQualifies(node.gpus[i], r) && node.gpus[i].free_milli == kWholeGpu) {
      gpus.push_back(static_cast<uint16_t>(i));
    }
  }
  return gpus;
}

Result<uint64_t> ParseSeed(std::string_view text, std::string_view whole) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return std::unexpected(Error::Invalid(
        fmt::format("seeds \"{}\": \"{}\" is not a non-negative integer", whole, text)));
  }
  return value;
}

}  // namespace

std::string_view PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kBestFit:
      return "best-fit";
    case Policy::kFgd:
      return "fgd";
    case Policy::kRandom:
      return "random";
  }
  return "unknown";
}

Result<Policy> ParsePolicy(std::string_view name) {
  for (Policy p : {Policy::kBestFit, Policy::kFgd, Policy::kRandom}) {
    if (name == PolicyName(p)) return p;
  }
  return std::unexpected(
      Error::Invalid(fmt::format("policy \"{}\": expected best-fit, fgd or random", name)));
}

std::string_view SamplingName(Sampling sampling) {
  return sampling == Sampling::kFgd ? "fgd" : "iid";
}

Result<Sampling> ParseSampling(std::string_view name) {
  if (name == "fgd") return Sampling::kFgd;
  if (name == "iid") return Sampling::kIid;
  return std::unexpected(Error::Invalid(fmt::format("sampling \"{}\": expected fgd or iid", name)));
}

uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  HANGAR_CHECK(n > 0, "UniformBelow needs a non-empty range");
  static_assert(std::mt19937_64::min() == 0 &&
                std::mt19937_64::max() == std::numeric_limits<uint64_t>::max());
  // Accept only draws below the largest multiple of n, so every residue is equally likely.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t limit = kMax - kMax % n;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % n;
}

Result<std::vector<uint32_t>> SampleWorkload(std::span<const TracePod> pods, int64_t target_milli,
                                             uint64_t seed, Sampling sampling) {
  HANGAR_CHECK(pods.size() <= std::numeric_limits<uint32_t>::max(), "indices fit in 32 bits");
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> order;
  int64_t total = 0;
  if (sampling == Sampling::kFgd) {
    order.resize(pods.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    // Fisher-Yates, spelled out: std::shuffle's algorithm differs between standard libraries.
    for (size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[UniformBelow(rng, i)]);
    }
    for (uint32_t i : order) total += pods[i].TotalGpuMilli();
    while (total > target_milli && !order.empty()) {
      size_t victim = UniformBelow(rng, order.size());
      total -= pods[order[victim]].TotalGpuMilli();
      order.erase(order.begin() + static_cast<ptrdiff_t>(victim));
    }
  }
  if (total >= target_milli) return order;
  bool any_gpu = std::any_of(pods.begin(), pods.end(),
                             [](const TracePod& p) { return p.TotalGpuMilli() > 0; });
  if (!any_gpu) {
    return std::unexpected(
        Error::Invalid("no pod in the trace requests a GPU, so no sample reaches the GPU load"));
  }
  while (true) {
    auto pick = static_cast<uint32_t>(UniformBelow(rng, pods.size()));
    if (total + pods[pick].TotalGpuMilli() > target_milli) break;
    total += pods[pick].TotalGpuMilli();
    order.push_back(pick);
  }
  return order;
}

Result<Request> RequestFor(const TracePod& pod, const ClusterSnapshot& cluster) {
  Request r;
  r.nodes = 1;
  r.cpu_milli = pod.cpu_milli;
  r.memory_mib = pod.memory_mib;
  r.gpus_per_node = pod.num_gpu;
  // A share below one GPU exists only for single-GPU pods; the core reads gpu_milli < 1000 as
  // "one shared GPU" whatever gpus_per_node says.
  r.gpu_milli = pod.num_gpu == 0 ? 0 : (pod.num_gpu > 1 ? kWholeGpu : pod.gpu_milli);
  for (const std::string& model : pod.gpu_spec) {
    auto it = std::find(cluster.gpu_types.begin(), cluster.gpu_types.end(), model);
    if (it == cluster.gpu_types.end()) {
      return std::unexpected(Error::Invalid(fmt::format(
          "pod {} asks for GPU model \"{}\", which the cluster does not have", pod.name, model)));
    }
    r.gpu_types.push_back(static_cast<uint16_t>(it - cluster.gpu_types.begin()));
  }
  return r;
}

std::optional<Slices> PlaceRandomly(const ClusterSnapshot& cluster, const Request& request,
                                    std::mt19937_64& rng) {
  HANGAR_CHECK(request.nodes == 1, "the random baseline places single-node requests only");
  // Two passes (count, then find the k-th) instead of a list of candidates: no allocation in a
  // loop that runs once per pod over every node.
  size_t feasible = 0;
  for (const Node& node : cluster.nodes) feasible += FitsNow(cluster, node, request);
  if (feasible == 0) return std::nullopt;
  uint64_t pick = UniformBelow(rng, feasible);
  for (size_t n = 0; n < cluster.nodes.size(); ++n) {
    if (!FitsNow(cluster, cluster.nodes[n], request) || pick-- > 0) continue;
    return Slices{scheduling::Allocation::Slice{
        static_cast<uint32_t>(n), PickGpus(cluster.nodes[n], request, rng),
        request.gpus_per_node == 0 ? 0 : request.gpu_milli}};
  }
  HANGAR_CHECK(false, "the k-th feasible node exists");
  return std::nullopt;
}

Result<PackResult> Pack(ClusterSnapshot cluster, std::span<const TracePod> pods,
                        std::span<const uint32_t> order, Policy policy, uint64_t seed) {
  // Requests are built once per trace pod, so a bad gpu_spec fails before anything is placed.
  std::vector<Request> requests;
  requests.reserve(pods.size());
  for (const TracePod& pod : pods) {
    HANGAR_ASSIGN_OR_RETURN(Request r, RequestFor(pod, cluster));
    requests.push_back(std::move(r));
  }
  std::mt19937_64 policy_rng(seed ^ kPolicyStream);
  // The core's policies place through a Placer, which keeps its own copy of the cluster with its
  // index; `cluster` stays the experiment's books (the same Apply on both keeps them equal).
  std::optional<scheduling::Placer> placer;
  if (policy == Policy::kBestFit) placer.emplace(cluster);
  if (policy == Policy::kFgd) {
    placer.emplace(cluster, scheduling::WorkloadMix::FromRequests(requests));
  }
  PackResult result;
  result.capacity_milli = scheduling::MeasureCapacity(cluster).total_milli;
  auto fraction = [&](int64_t milli) {
    return result.capacity_milli == 0 ? 0.0 : static_cast<double>(milli) / result.capacity_milli;
  };
  for (uint32_t index : order) {
    HANGAR_CHECK(index < pods.size(), "the order indexes the trace");
    const Request& request = requests[index];
    ++result.pods_submitted;
    result.arrived_milli += pods[index].TotalGpuMilli();
    std::optional<Slices> slices;
    if (placer) {
      auto placed = placer->Place(request);
      if (placed) {
        placer->Apply(*placed, request);
        slices = std::move(*placed);
      }
    } else {
      slices = PlaceRandomly(cluster, request, policy_rng);
    }
    if (slices) {
      scheduling::Apply(cluster, *slices, request);
      ++result.pods_placed;
      if (request.gpus_per_node == 0 && !cluster.nodes[(*slices)[0].node].gpus.empty()) {
        ++result.cpu_pods_on_gpu_nodes;
      }
    } else if (request.gpus_per_node > 0) {
      ++result.gpu_pods_skipped;
      bool gpus_were_free =
          std::any_of(cluster.nodes.begin(), cluster.nodes.end(), [&](const Node& n) {
            return n.schedulable && scheduling::NodeCouldEverFit(cluster, n, request) &&
                   GpusFreeNow(n, request);
          });
      result.gpu_pods_skipped_for_cpu_or_memory += gpus_were_free;
    } else {
      ++result.cpu_pods_skipped;
    }
    // Measured after the pod that takes the arrivals to 100 %, as the Go simulator reports after
    // each pod.
    if (!result.allocation_at_full && result.capacity_milli > 0 &&
        result.arrived_milli >= result.capacity_milli) {
      result.allocation_at_full = fraction(scheduling::MeasureCapacity(cluster).allocated_milli);
    }
  }
  result.allocated_milli = scheduling::MeasureCapacity(cluster).allocated_milli;
  result.allocation_at_end = fraction(result.allocated_milli);
  return result;
}

Result<std::vector<uint64_t>> ParseSeeds(std::string_view text) {
  constexpr size_t kMaxSeeds = 10'000;
  std::vector<uint64_t> seeds;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      HANGAR_ASSIGN_OR_RETURN(uint64_t seed, ParseSeed(item, text));
      seeds.push_back(seed);
    } else {
      HANGAR_ASSIGN_OR_RETURN(uint64_t first, ParseSeed(item.substr(0, dash), text));
      HANGAR_ASSIGN_OR_RETURN(uint64_t last, ParseSeed(item.substr(dash + 1), text));
      if (last < first) {
        return std::unexpected(
            Error::Invalid(fmt::format("seeds \"{}\": range {} is reversed", text, item)));
      }
      if (last - first >= kMaxSeeds) {
        return std::unexpected(
            Error::Invalid(fmt::format("seeds \"{}\": more than {} seeds", text, kMaxSeeds)));
      }
      for (uint64_t k = 0; k <= last - first; ++k) seeds.push_back(first + k);
    }
    if (seeds.size() > kMaxSeeds) {
      return std::unexpected(
          Error::Invalid(fmt::format("seeds \"{}\": more than {} seeds", text, kMaxSeeds)));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return seeds;
}

}  // namespace hangar::sim
