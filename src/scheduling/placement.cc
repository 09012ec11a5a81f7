// Best-fit placement. See placement.h.
#include "scheduling/placement.h"

#include <algorithm>
#include <limits>

namespace hangar::scheduling {
namespace {

bool TypeAllowed(const Request& r, uint16_t type) {
  return r.gpu_types.empty() ||
         std::find(r.gpu_types.begin(), r.gpu_types.end(), type) != r.gpu_types.end();
}

// Whether this GPU could ever serve the request (ignoring what is in use on it).
bool GpuQualifies(const Gpu& gpu, const Request& r) {
  return gpu.healthy && TypeAllowed(r, gpu.type) && gpu.memory_mib >= r.min_gpu_memory_mib;
}

bool LabelsMatch(const Node& node, const std::vector<Label>& required) {
  for (const Label& want : required) {
    if (std::find(node.labels.begin(), node.labels.end(), want) == node.labels.end()) {
      return false;
    }
  }
  return true;
}

int PreferredMatches(const Node& node, const Request& r) {
  int n = 0;
  for (const Label& want : r.preferred_labels) {
    n += std::find(node.labels.begin(), node.labels.end(), want) != node.labels.end();
  }
  return n;
}

// One member of `r` on `node` as it is now: the GPUs chosen, and a score (lower is better).
struct Fit {
  std::vector<uint16_t> gpus;
  // Best fit: what the placement leaves free on the node in whole GPUs, then the share left on
  // a shared GPU; both small is good, since it keeps other nodes and GPUs whole.
  int64_t leftover = 0;
  int preferred = 0;
};

std::optional<Fit> FitOnNode(const Node& node, const Request& r) {
  if (!node.schedulable || !LabelsMatch(node, r.required_labels) ||
      node.cuda_version < r.min_cuda_version || node.cpu_milli_free < r.cpu_milli ||
      node.memory_mib_free < r.memory_mib) {
    return std::nullopt;
  }
  Fit fit;
  fit.preferred = PreferredMatches(node, r);
  if (r.gpus_per_node == 0) {
    // CPU-only work: nodes without GPUs first (on a GPU node it strands the GPUs whose CPU it
    // takes), then the least free CPU that fits.
    fit.leftover = static_cast<int64_t>(node.gpus.size()) * (int64_t{1} << 40) +
                   (node.cpu_milli_free - r.cpu_milli);
    return fit;
  }
  int32_t idle_after = 0;
  if (r.gpu_milli < kWholeGpu) {
    // A share of one GPU: the qualifying GPU with the least free share that still fits.
    int best = -1;
    for (size_t i = 0; i < node.gpus.size(); ++i) {
      const Gpu& g = node.gpus[i];
      if (!GpuQualifies(g, r) || g.free_milli < r.gpu_milli) continue;
      if (best < 0 || g.free_milli < node.gpus[best].free_milli) best = static_cast<int>(i);
    }
    if (best < 0) return std::nullopt;
    fit.gpus.push_back(static_cast<uint16_t>(best));
    for (size_t i = 0; i < node.gpus.size(); ++i) {
      idle_after += node.gpus[i].free_milli == kWholeGpu && static_cast<int>(i) != best;
    }
    // Prefer the fullest GPU (least share left), then nodes with fewest idle GPUs left.
    fit.leftover =
        static_cast<int64_t>(node.gpus[best].free_milli - r.gpu_milli) * 100 + idle_after;
    return fit;
  }
  // Whole GPUs: idle qualifying GPUs, lowest index first (a stable, NVLink-friendly choice).
  for (size_t i = 0;
       i < node.gpus.size() && static_cast<int32_t>(fit.gpus.size()) < r.gpus_per_node; ++i) {
    const Gpu& g = node.gpus[i];
    if (GpuQualifies(g, r) && g.free_milli == kWholeGpu)
      fit.gpus.push_back(static_cast<uint16_t>(i));
  }
  if (static_cast<int32_t>(fit.gpus.size()) < r.gpus_per_node) return std::nullopt;
  int32_t idle = 0;
  bool partly_used = false;
  for (const Gpu& g : node.gpus) {
    idle += g.free_milli == kWholeGpu;
    partly_used |= g.free_milli < kWholeGpu;
  }
  idle_after = idle - r.gpus_per_node;
  // Fewest idle GPUs left; between equals, a node already in use before an untouched one.
  fit.leftover = static_cast<int64_t>(idle_after) * 2 + (partly_used ? 0 : 1);
  return fit;
}

bool Better(const Fit& a, size_t a_node, const Fit& b, size_t b_node) {
  if (a.preferred != b.preferred) return a.preferred > b.preferred;
  if (a.leftover != b.leftover) return a.leftover < b.leftover;
  return a_node < b_node;
}

}  // namespace

bool NodeCouldEverFit(const ClusterSnapshot& /*cluster*/, const Node& node, const Request& r) {
  if (!LabelsMatch(node, r.required_labels) || node.cuda_version < r.min_cuda_version) {
    return false;
  }
  if (r.gpus_per_node == 0) return true;
  int32_t qualifying = 0;
  for (const Gpu& g : node.gpus) qualifying += GpuQualifies(g, r);
  return qualifying >= r.gpus_per_node;
}

std::optional<Reason> CheckRequest(const Request& r) {
  auto invalid = [](std::string why) {
    return Reason{ReasonCode::kInvalidRequest, std::move(why)};
  };
  if (r.nodes < 1) return invalid("a request needs at least one node");
  if (r.gpus_per_node < 0) return invalid("GPUs per node cannot be negative");
  if (r.gpus_per_node > 0 && (r.gpu_milli < 1 || r.gpu_milli > kWholeGpu)) {
    return invalid("a GPU share must be 1..1000 milli-GPUs");
  }
  if (r.gpu_milli < kWholeGpu && r.gpus_per_node > 1) {
    return invalid("a share of a GPU is for one GPU; ask for whole GPUs when you need several");
  }
  if (r.cpu_milli < 0 || r.memory_mib < 0) return invalid("CPU and memory cannot be negative");
  return std::nullopt;
}

std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& r) {
  if (auto invalid = CheckRequest(r)) return std::unexpected(std::move(*invalid));
  Slices slices;
  std::vector<bool> used(cluster.nodes.size(), false);
  for (int32_t member = 0; member < std::max(1, r.nodes); ++member) {
    std::optional<Fit> best;
    size_t best_node = 0;
    for (size_t n = 0; n < cluster.nodes.size(); ++n) {
      if (used[n]) continue;
      auto fit = FitOnNode(cluster.nodes[n], r);
      if (fit && (!best || Better(*fit, n, *best, best_node))) {
        best = std::move(fit);
        best_node = n;
      }
    }
    if (!best) {
      size_t could = 0;
      for (const Node& node : cluster.nodes) could += NodeCouldEverFit(cluster, node, r);
      if (could < static_cast<size_t>(std::max(1, r.nodes))) {
        return std::unexpected(
            Reason{ReasonCode::kNoFeasibleNode,
                   could == 0 ? "no node has the GPUs, memory, CUDA version and labels asked for"
                              : "only " + std::to_string(could) +
                                    " node(s) could ever hold a "
                                    "member of this gang of " +
                                    std::to_string(r.nodes)});
      }
      if (r.nodes > 1) {
        return std::unexpected(Reason{ReasonCode::kGangIncomplete,
                                      "only " + std::to_string(member) + " of " +
                                          std::to_string(r.nodes) +
                                          " gang members fit now; the gang starts whole"});
      }
      return std::unexpected(Reason{ReasonCode::kInsufficientGpus,
                                    std::to_string(could) +
                                        " node(s) fit this request but none has the capacity "
                                        "free now"});
    }
    used[best_node] = true;
    slices.push_back(Allocation::Slice{static_cast<uint32_t>(best_node), std::move(best->gpus),
                                       r.gpus_per_node == 0 ? 0 : r.gpu_milli});
  }
  return slices;
}

void Apply(ClusterSnapshot& cluster, const Slices& slices, const Request& r) {
  for (const auto& s : slices) {
    Node& node = cluster.nodes[s.node];
    for (uint16_t g : s.gpus) node.gpus[g].free_milli -= s.gpu_milli;
    node.cpu_milli_free -= r.cpu_milli;
    node.memory_mib_free -= r.memory_mib;
  }
}

void Release(ClusterSnapshot& cluster, const Slices& slices, const Request& r) {
  for (const auto& s : slices) {
    Node& node = cluster.nodes[s.node];
    for (uint16_t g : s.gpus) node.gpus[g].free_milli += s.gpu_milli;
    node.cpu_milli_free += r.cpu_milli;
    node.memory_mib_free += r.memory_mib;
  }
}

Placer::Placer(ClusterSnapshot cluster) : cluster_(std::move(cluster)) {}

std::expected<Slices, Reason> Placer::Place(const Request& request) const {
  return scheduling::Place(cluster_, request);
}

std::expected<Slices, Reason> Placer::PlaceWithin(const Request& request,
                                                  const std::vector<bool>& allowed) const {
  // Until the index lands: a copy with the other nodes unschedulable.
  ClusterSnapshot within = cluster_;
  for (size_t n = 0; n < within.nodes.size(); ++n) within.nodes[n].schedulable &= allowed[n];
  return scheduling::Place(within, request);
}

void Placer::Apply(const Slices& slices, const Request& request) {
  scheduling::Apply(cluster_, slices, request);
}

void Placer::Release(const Slices& slices, const Request& request) {
  scheduling::Release(cluster_, slices, request);
}

Capacity MeasureCapacity(const ClusterSnapshot& cluster) {
  Capacity c;
  for (const Node& node : cluster.nodes) {
    if (!node.schedulable) continue;
    for (const Gpu& g : node.gpus) {
      if (!g.healthy) continue;
      c.total_milli += kWholeGpu;
      c.allocated_milli += kWholeGpu - g.free_milli;
    }
  }
  return c;
}

}  // namespace hangar::scheduling
