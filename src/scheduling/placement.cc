// Placement: filters, scores, the node index. See placement.h for the rules.
#include "scheduling/placement.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <map>

#include "common/error.h"

namespace hangar::scheduling {
namespace {

template <typename T>
bool Contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool TypeAllowed(const Request& r, uint16_t type) {
  return r.gpu_types.empty() || Contains(r.gpu_types, type);
}

// Whether this GPU could ever serve the request (ignoring what is in use on it). MIG GPUs serve
// MIG instances only, and MIG instances need MIG GPUs.
bool GpuQualifies(const Gpu& gpu, const Request& r) {
  return gpu.healthy && gpu.mig == (r.mig_slices > 0) && TypeAllowed(r, gpu.type) &&
         gpu.memory_mib >= r.min_gpu_memory_mib;
}

// GPUs that count for best fit and the index: healthy and not in MIG mode.
bool Counted(const Gpu& g) { return g.healthy && !g.mig; }
bool IsIdle(const Gpu& g) { return Counted(g) && g.free_milli >= kWholeGpu; }

int32_t IdleGpus(const Node& node) {
  return static_cast<int32_t>(std::count_if(node.gpus.begin(), node.gpus.end(), IsIdle));
}

// No counted GPU is in use, so breaking into this node takes a whole node away.
bool Untouched(const Node& node) {
  return std::all_of(node.gpus.begin(), node.gpus.end(),
                     [](const Gpu& g) { return !Counted(g) || g.free_milli >= kWholeGpu; });
}

bool LabelsMatch(const Node& node, const std::vector<Label>& required) {
  return std::all_of(required.begin(), required.end(),
                     [&](const Label& want) { return Contains(node.labels, want); });
}

int32_t PreferredMatches(const Node& node, const Request& r) {
  return static_cast<int32_t>(
      std::count_if(r.preferred_labels.begin(), r.preferred_labels.end(),
                    [&](const Label& l) { return Contains(node.labels, l); }));
}

bool AffinityAllows(const Node& node, const Request& r) {
  for (uint32_t g : r.affinity) {
    if (!Contains(node.groups, g)) return false;
  }
  for (uint32_t g : r.anti_affinity) {
    if (Contains(node.groups, g)) return false;
  }
  return true;
}

// Preferred affinity groups the node runs minus preferred anti-affinity groups it runs.
int32_t AffinityPreference(const Node& node, const Request& r) {
  int32_t net = 0;
  for (uint32_t g : r.preferred_affinity) net += Contains(node.groups, g);
  for (uint32_t g : r.preferred_anti_affinity) net -= Contains(node.groups, g);
  return net;
}

uint8_t MigMask(int slices, int start) {
  return static_cast<uint8_t>(((1u << slices) - 1u) << start);
}

// How many (profile, start) positions are free in the bitmap: a tie-break that keeps more ways
// open for later instances.
int MigPositions(uint8_t mig_free) {
  int n = 0;
  for (int p : {1, 2, 3, 4, 7}) {
    for (uint8_t s : MigStarts(p)) n += (MigMask(p, s) & mig_free) == MigMask(p, s);
  }
  return n;
}

// The score of one member on one node: lower is better, compared field by field (placement.h,
// "Choice among the nodes").
struct Score {
  int32_t preferred = 0;      // minus the preferred labels matched
  int32_t affinity = 0;       // minus the net preferred affinity
  int64_t fragmentation = 0;  // fragmentation increase in micro-GPUs (0 without a mix)
  int64_t fit = 0;            // best fit: the leftover that matters most for the request kind
  int64_t fit_tie = 0;        // best fit: the next one
  auto operator<=>(const Score&) const = default;
};

struct Fit {
  std::vector<uint16_t> gpus;
  uint8_t mig_start = 0;
  Score score;
};

// A Placer's memo of fragmentation increases for one request shape: entry n is node n's, valid
// when its version is versions[n].
struct IncreaseMemo {
  using Entry = internal::CachedIncrease;
  Entry* entries = nullptr;
  const uint32_t* versions = nullptr;
};

// What the score looks at beyond the node and the request.
struct Scoring {
  const FragmentationModel* fragmentation = nullptr;        // null: plain best fit
  const std::vector<double>* node_fragmentation = nullptr;  // cached F(node) per node, or null
  IncreaseMemo memo;                                        // entries null: none
};

// Rounded to micro-GPUs, so equal increases computed along different paths tie exactly.
int64_t Quantise(double milli) { return std::llround(milli * 1000.0); }

class NodeFitter {
 public:
  NodeFitter(const Node& node, uint32_t index, const Request& r, const Scoring& scoring)
      : node_(node), index_(index), r_(r), scoring_(scoring) {}

  std::optional<scheduling::Fit> Evaluate() {
    const Node& node = node_;
    if (!node.schedulable || node.cuda_version < r_.min_cuda_version ||
        node.cpu_milli_free < r_.cpu_milli || node.memory_mib_free < r_.memory_mib ||
        !LabelsMatch(node, r_.required_labels) || !AffinityAllows(node, r_)) {
      return std::nullopt;
    }
    scheduling::Fit fit;
    bool ok = true;
    if (r_.gpus_per_node == 0) {
      // Nodes without GPUs first (on a GPU node CPU-only work strands the GPUs whose CPU it
      // takes), then the least free CPU that fits.
      fit.score.fit = static_cast<int64_t>(node.gpus.size());
      fit.score.fit_tie = node.cpu_milli_free - r_.cpu_milli;
      if (Fragmenting()) fit.score.fragmentation = MemoisedIncrease(fit.gpus);
    } else if (r_.mig_slices > 0) {
      ok = ChooseMig(fit);
      if (ok && Fragmenting()) fit.score.fragmentation = MemoisedIncrease(fit.gpus);
    } else if (r_.gpu_milli < kWholeGpu) {
      ok = ChooseShare(fit);
    } else {
      ok = ChooseWhole(fit);
      if (ok && Fragmenting()) fit.score.fragmentation = MemoisedIncrease(fit.gpus);
    }
    if (!ok) return std::nullopt;
    fit.score.preferred = -PreferredMatches(node, r_);
    fit.score.affinity = -AffinityPreference(node, r_);
    return fit;
  }

 private:
  bool Fragmenting() const {
    return scoring_.fragmentation != nullptr && scoring_.fragmentation->has_gpu_shapes();
  }

  double Before() {
    if (!before_) {
      before_ = scoring_.node_fragmentation != nullptr
                    ? (*scoring_.node_fragmentation)[index_]
                    : scoring_.fragmentation->Fragmentation(node_);
    }
    return *before_;
  }

  // The memo entry for this node, or null without a memo.
  IncreaseMemo::Entry* Memo() const {
    return scoring_.memo.entries == nullptr ? nullptr : &scoring_.memo.entries[index_];
  }

  // The increase of taking `gpus` (which do not change it for whole GPUs, MIG and CPU-only work:
  // only the memo's version matters then).
  int64_t Increase(std::span<const uint16_t> gpus) {
    return Quantise(scoring_.fragmentation->FragmentationAfter(node_, r_, gpus) - Before());
  }

  int64_t MemoisedIncrease(std::span<const uint16_t> gpus) {
    IncreaseMemo::Entry* memo = Memo();
    const uint32_t version = memo == nullptr ? 0 : scoring_.memo.versions[index_];
    if (memo != nullptr && memo->version == version) return memo->increase;
    const int64_t increase = Increase(gpus);
    if (memo != nullptr) *memo = {version, -1, increase};
    return increase;
  }

  // A share: the fitting GPU with the least free share (without a mix), or the one whose use
  // raises fragmentation least, then the least free share; lowest index on ties.
  bool ChooseShare(scheduling::Fit& fit) {
    int best = -1;
    int64_t best_increase = 0;
    IncreaseMemo::Entry* memo = Memo();
    if (memo != nullptr && memo->version == scoring_.memo.versions[index_]) {
      best = memo->gpu;
      best_increase = memo->increase;
    } else {
      ChooseShareGpu(best, best_increase);
      if (memo != nullptr) *memo = {scoring_.memo.versions[index_], best, best_increase};
    }
    if (best < 0) return false;
    const Gpu& chosen = node_.gpus[best];
    fit.gpus.push_back(static_cast<uint16_t>(best));
    fit.score.fragmentation = best_increase;
    fit.score.fit = chosen.free_milli - r_.gpu_milli;
    fit.score.fit_tie = IdleGpus(node_) - (IsIdle(chosen) ? 1 : 0);
    return true;
  }

  // The GPU for a share, and the fragmentation increase of taking it there (0 without a mix).
  void ChooseShareGpu(int& best, int64_t& best_increase) {
    for (size_t i = 0; i < node_.gpus.size(); ++i) {
      const Gpu& g = node_.gpus[i];
      if (!GpuQualifies(g, r_) || g.free_milli < r_.gpu_milli) continue;
      if (!Fragmenting()) {
        if (best < 0 || g.free_milli < node_.gpus[best].free_milli) best = static_cast<int>(i);
        continue;
      }
      // GPUs with the same free share change fragmentation alike: the first one stands for all.
      bool seen = false;
      for (size_t j = 0; j < i && !seen; ++j) {
        seen = GpuQualifies(node_.gpus[j], r_) && node_.gpus[j].free_milli == g.free_milli;
      }
      if (seen) continue;
      const auto gpu = static_cast<uint16_t>(i);
      const int64_t increase = Increase(std::span<const uint16_t>(&gpu, 1));
      if (best < 0 || std::pair(increase, g.free_milli) <
                          std::pair(best_increase, node_.gpus[best].free_milli)) {
        best = static_cast<int>(i);
        best_increase = increase;
      }
    }
  }

  // Whole GPUs: idle qualifying ones, within one non-zero NVLink domain when one holds them all
  // (the domain with the fewest idle GPUs, then the one whose first GPU comes first), else the
  // lowest-numbered.
  bool ChooseWhole(scheduling::Fit& fit) {
    std::vector<uint16_t> idle;
    for (size_t i = 0; i < node_.gpus.size(); ++i) {
      const Gpu& g = node_.gpus[i];
      if (GpuQualifies(g, r_) && g.free_milli >= kWholeGpu)
        idle.push_back(static_cast<uint16_t>(i));
    }
    const auto k = static_cast<size_t>(r_.gpus_per_node);
    if (idle.size() < k) return false;
    int domain = 0;
    if (k > 1) {
      std::array<uint16_t, 256> in_domain{};
      for (uint16_t i : idle) ++in_domain[node_.gpus[i].nvlink_domain];
      size_t tightest = std::numeric_limits<size_t>::max();
      for (uint16_t i : idle) {  // ascending index: the first domain seen wins ties
        const uint8_t d = node_.gpus[i].nvlink_domain;
        if (d != 0 && in_domain[d] >= k && in_domain[d] < tightest) {
          tightest = in_domain[d];
          domain = d;
        }
      }
    }
    for (uint16_t i : idle) {
      if (fit.gpus.size() == k) break;
      if (domain == 0 || node_.gpus[i].nvlink_domain == domain) fit.gpus.push_back(i);
    }
    // Fewest idle GPUs left; between equals, a node already in use before an untouched one.
    fit.score.fit = IdleGpus(node_) - r_.gpus_per_node;
    fit.score.fit_tie = Untouched(node_) ? 1 : 0;
    return true;
  }

  // A MIG instance: the qualifying MIG GPU with the fewest free slices that has a valid position;
  // on it the start leaving the largest profile placeable, then the most positions, then the
  // lowest start.
  bool ChooseMig(scheduling::Fit& fit) {
    int best_gpu = -1;
    int best_free = 0;
    uint8_t best_start = 0;
    std::tuple<int, int, int> best_key;
    for (size_t i = 0; i < node_.gpus.size(); ++i) {
      const Gpu& g = node_.gpus[i];
      if (!GpuQualifies(g, r_)) continue;
      const int free = std::popcount(static_cast<unsigned>(g.mig_free & kAllMigSlices));
      if (best_gpu >= 0 && free >= best_free) continue;
      std::optional<std::tuple<int, int, int>> key;
      uint8_t start = 0;
      for (uint8_t s : MigStarts(r_.mig_slices)) {
        const uint8_t mask = MigMask(r_.mig_slices, s);
        if ((g.mig_free & mask) != mask) continue;
        const auto after = static_cast<uint8_t>(g.mig_free & ~mask);
        std::tuple<int, int, int> k{-LargestMigProfile(after), -MigPositions(after), s};
        if (!key || k < *key) {
          key = k;
          start = s;
        }
      }
      if (!key) continue;
      best_gpu = static_cast<int>(i);
      best_free = free;
      best_start = start;
      best_key = *key;
    }
    if (best_gpu < 0) return false;
    fit.gpus.push_back(static_cast<uint16_t>(best_gpu));
    fit.mig_start = best_start;
    fit.score.fit = best_free;
    fit.score.fit_tie = std::get<0>(best_key);
    return true;
  }

  const Node& node_;
  uint32_t index_;
  const Request& r_;
  const Scoring& scoring_;
  std::optional<double> before_;
};

std::optional<Fit> FitOnNode(const ClusterSnapshot& cluster, uint32_t n, const Request& r,
                             const Scoring& scoring) {
  return NodeFitter(cluster.nodes[n], n, r, scoring).Evaluate();
}

Allocation::Slice SliceOf(uint32_t node, Fit fit, const Request& r) {
  return Allocation::Slice{.node = node,
                           .gpus = std::move(fit.gpus),
                           .gpu_milli = r.gpus_per_node == 0 ? 0 : r.SliceMilli(),
                           .mig_start = fit.mig_start};
}

// Why `r` cannot be placed now, `placed` members having found a node: kNoFeasibleNode when too
// few nodes could ever hold a member, else kGangIncomplete (a gang) or kInsufficientGpus.
size_t CountCouldEverFit(const ClusterSnapshot& cluster, const Request& r) {
  size_t could = 0;
  for (const Node& node : cluster.nodes) could += NodeCouldEverFit(cluster, node, r);
  return could;
}

Reason UnplacedReason(const Request& r, size_t could, size_t placed) {
  const auto members = static_cast<size_t>(r.nodes);
  if (could < members) {
    return Reason{ReasonCode::kNoFeasibleNode,
                  could == 0 ? "no node has the GPUs, memory, CUDA version and labels asked for"
                             : "only " + std::to_string(could) +
                                   " node(s) could ever hold a member of this gang of " +
                                   std::to_string(r.nodes)};
  }
  if (r.nodes > 1) {
    return Reason{ReasonCode::kGangIncomplete, "only " + std::to_string(std::min(placed, members)) +
                                                   " of " + std::to_string(r.nodes) +
                                                   " gang members fit now; the gang starts whole"};
  }
  return Reason{
      ReasonCode::kInsufficientGpus,
      std::to_string(could) + " node(s) fit this request but none has the capacity free now"};
}

// The reason, for callers that place once: the count is a scan of the cluster.
auto UnplacedIn(const ClusterSnapshot& cluster, const Request& r) {
  return [&cluster, &r](size_t placed) {
    return UnplacedReason(r, CountCouldEverFit(cluster, r), placed);
  };
}

struct Candidate {
  uint32_t node = 0;
  Fit fit;
};

std::optional<uint32_t> LabelValue(const Node& node, uint32_t key) {
  for (const Label& l : node.labels) {
    if (l.key == key) return l.value;
  }
  return std::nullopt;
}

// The gang's members among `candidates` (sorted best first, at least r.nodes of them), in
// member order (placement.h: gangs and topology).
std::vector<size_t> ChooseGang(const ClusterSnapshot& cluster, const Request& r,
                               const std::vector<Candidate>& candidates) {
  const auto members = static_cast<size_t>(r.nodes);
  std::vector<size_t> chosen;
  if (!r.topology_key) {
    for (size_t i = 0; i < members; ++i) chosen.push_back(i);
    return chosen;
  }
  std::vector<std::optional<uint32_t>> value(candidates.size());
  std::map<uint32_t, size_t> fitting;  // value -> candidates with it
  for (size_t i = 0; i < candidates.size(); ++i) {
    value[i] = LabelValue(cluster.nodes[candidates[i].node], *r.topology_key);
    if (value[i]) ++fitting[*value[i]];
  }
  // One value for the whole gang: the tightest that holds it.
  std::optional<uint32_t> tightest;
  for (const auto& [v, count] : fitting) {
    if (count >= members && (!tightest || count < fitting[*tightest])) tightest = v;
  }
  std::vector<uint32_t> values;
  if (tightest) {
    values = {*tightest};
  } else {
    // Spanning: the largest values first, so the gang spans as few as possible.
    for (const auto& [v, count] : fitting) values.push_back(v);
    std::stable_sort(values.begin(), values.end(),
                     [&](uint32_t a, uint32_t b) { return fitting[a] > fitting[b]; });
  }
  for (uint32_t v : values) {
    for (size_t i = 0; i < candidates.size() && chosen.size() < members; ++i) {
      if (value[i] == v) chosen.push_back(i);
    }
  }
  // Nodes without the key, each a value of its own, last.
  for (size_t i = 0; i < candidates.size() && chosen.size() < members && !tightest; ++i) {
    if (!value[i]) chosen.push_back(i);
  }
  return chosen;
}

// Place by scanning the nodes n with consider(n): the reference algorithm, and the path for
// requests the index cannot answer.
// `unplaced(members_placed)` says why when it fails.
template <typename Consider, typename Unplaced>
std::expected<Slices, Reason> PlaceByScan(const ClusterSnapshot& cluster, const Request& r,
                                          const Scoring& scoring, Consider consider,
                                          Unplaced unplaced) {
  if (auto invalid = CheckRequest(r)) return std::unexpected(std::move(*invalid));
  const auto node_count = static_cast<uint32_t>(cluster.nodes.size());
  if (r.nodes == 1) {
    std::optional<Candidate> best;
    for (uint32_t n = 0; n < node_count; ++n) {
      if (!consider(n)) continue;
      auto fit = FitOnNode(cluster, n, r, scoring);
      if (fit && (!best || fit->score < best->fit.score)) best = Candidate{n, std::move(*fit)};
    }
    if (!best) return std::unexpected(unplaced(size_t{0}));
    return Slices{SliceOf(best->node, std::move(best->fit), r)};
  }
  std::vector<Candidate> candidates;
  for (uint32_t n = 0; n < node_count; ++n) {
    if (!consider(n)) continue;
    if (auto fit = FitOnNode(cluster, n, r, scoring)) {
      candidates.push_back(Candidate{n, std::move(*fit)});
    }
  }
  if (candidates.size() < static_cast<size_t>(r.nodes)) {
    return std::unexpected(unplaced(candidates.size()));
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.fit.score < b.fit.score; });
  Slices slices;
  for (size_t i : ChooseGang(cluster, r, candidates)) {
    slices.push_back(SliceOf(candidates[i].node, std::move(candidates[i].fit), r));
  }
  return slices;
}

}  // namespace

std::span<const uint8_t> MigStarts(int slices) {
  static constexpr uint8_t kOne[] = {0, 1, 2, 3, 4, 5, 6};
  static constexpr uint8_t kTwo[] = {0, 2, 4};
  static constexpr uint8_t kThree[] = {0, 4};
  static constexpr uint8_t kFirst[] = {0};
  switch (slices) {
    case 1:
      return kOne;
    case 2:
      return kTwo;
    case 3:
      return kThree;
    case 4:
    case 7:
      return kFirst;
    default:
      return {};
  }
}

int LargestMigProfile(uint8_t mig_free) {
  for (int p : {7, 4, 3, 2, 1}) {
    for (uint8_t s : MigStarts(p)) {
      if ((MigMask(p, s) & mig_free) == MigMask(p, s)) return p;
    }
  }
  return 0;
}

bool SliceFitsInPlace(const Node& node, const Allocation::Slice& slice, const Request& r) {
  if (node.cpu_milli_free < r.cpu_milli || node.memory_mib_free < r.memory_mib) return false;
  for (uint16_t g : slice.gpus) {
    const Gpu& gpu = node.gpus[g];
    if (r.mig_slices > 0) {
      const uint8_t mask = MigMask(r.mig_slices, slice.mig_start);
      if ((gpu.mig_free & mask) != mask) return false;
    } else if (gpu.free_milli < slice.gpu_milli) {
      return false;
    }
  }
  return true;
}

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
  if (r.cpu_milli < 0 || r.memory_mib < 0) return invalid("CPU and memory cannot be negative");
  if (r.mig_slices < 0) return invalid("MIG slices cannot be negative");
  if (r.mig_slices > 0) {
    if (MigStarts(r.mig_slices).empty()) {
      return invalid("a MIG instance has 1, 2, 3, 4 or 7 compute slices");
    }
    if (r.gpus_per_node != 1) return invalid("a MIG instance is on one GPU: gpus_per_node is 1");
    return std::nullopt;  // gpu_milli is ignored
  }
  if (r.gpus_per_node > 0 && (r.gpu_milli < 1 || r.gpu_milli > kWholeGpu)) {
    return invalid("a GPU share must be 1..1000 milli-GPUs");
  }
  if (r.gpu_milli < kWholeGpu && r.gpus_per_node > 1) {
    return invalid("a share of a GPU is for one GPU; ask for whole GPUs when you need several");
  }
  return std::nullopt;
}

std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& r) {
  return PlaceByScan(
      cluster, r, Scoring{}, [](uint32_t) { return true; }, UnplacedIn(cluster, r));
}

std::expected<Slices, Reason> Place(const ClusterSnapshot& cluster, const Request& r,
                                    const WorkloadMix& mix) {
  const FragmentationModel model(mix);
  return PlaceByScan(
      cluster, r, Scoring{.fragmentation = &model}, [](uint32_t) { return true; },
      UnplacedIn(cluster, r));
}

void Apply(ClusterSnapshot& cluster, const Slices& slices, const Request& r) {
  for (const auto& s : slices) {
    Node& node = cluster.nodes[s.node];
    for (uint16_t i : s.gpus) {
      Gpu& g = node.gpus[i];
      if (r.mig_slices > 0) {
        g.mig_free &= static_cast<uint8_t>(~MigMask(r.mig_slices, s.mig_start));
        g.free_milli = MigMilli(std::popcount(static_cast<unsigned>(g.mig_free & kAllMigSlices)));
      } else {
        g.free_milli -= s.gpu_milli;
      }
    }
    node.cpu_milli_free -= r.cpu_milli;
    node.memory_mib_free -= r.memory_mib;
    if (r.group != 0) node.groups.push_back(r.group);
  }
}

void Release(ClusterSnapshot& cluster, const Slices& slices, const Request& r) {
  for (const auto& s : slices) {
    Node& node = cluster.nodes[s.node];
    for (uint16_t i : s.gpus) {
      Gpu& g = node.gpus[i];
      if (r.mig_slices > 0) {
        g.mig_free |= MigMask(r.mig_slices, s.mig_start);
        g.free_milli = MigMilli(std::popcount(static_cast<unsigned>(g.mig_free & kAllMigSlices)));
      } else {
        g.free_milli += s.gpu_milli;
      }
    }
    node.cpu_milli_free += r.cpu_milli;
    node.memory_mib_free += r.memory_mib;
    if (r.group != 0) {
      // The last occurrence: the one Apply added, so Release right after Apply is exact.
      auto it = std::find(node.groups.rbegin(), node.groups.rend(), r.group);
      if (it != node.groups.rend()) node.groups.erase(std::next(it).base());
    }
  }
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

// ---- Placer ----------------------------------------------------------------------------------

Placer::Placer(ClusterSnapshot cluster) : cluster_(std::move(cluster)) {
  const size_t n = cluster_.nodes.size();
  HANGAR_CHECK(n <= std::numeric_limits<uint32_t>::max(), "node indices fit in 32 bits");
  size_t most_gpus = 0;
  for (const Node& node : cluster_.nodes) most_gpus = std::max(most_gpus, node.gpus.size());
  by_idle_.resize(most_gpus + 1);
  by_free_share_.resize(kWholeGpu + 1);
  filings_.resize(n);
  versions_.assign(n, 1);  // memo entries start at version 0: never valid
}

// The index is built on first need, not in the constructor: a pass that places a handful of
// requests (most passes of an event-driven replay) is cheaper scanning the nodes than filing
// every node in ordered sets. Scans and the index give the same answers.
void Placer::EnsureIndex() const {
  if (indexed_) return;
  auto* self = const_cast<Placer*>(this);  // a cache, as could_ever_fit_: see the header
  for (uint32_t i = 0; i < cluster_.nodes.size(); ++i) self->File(i);
  indexed_ = true;
}

Placer::Placer(ClusterSnapshot cluster, const WorkloadMix& mix) : Placer(std::move(cluster)) {
  fragmentation_.emplace(mix);
  node_fragmentation_.resize(cluster_.nodes.size());
  for (size_t i = 0; i < cluster_.nodes.size(); ++i) {
    node_fragmentation_[i] = fragmentation_->Fragmentation(cluster_.nodes[i]);
  }
}

void Placer::File(uint32_t n) {
  const Node& node = cluster_.nodes[n];
  Filing& f = filings_[n];
  f = Filing{};
  ++versions_[n];
  if (fragmentation_) node_fragmentation_[n] = fragmentation_->Fragmentation(node);
  if (!node.schedulable) return;
  f.filed = true;
  f.idle = IdleGpus(node);
  f.untouched = Untouched(node);
  for (const Gpu& g : node.gpus) {
    const int32_t share = std::min(g.free_milli, kWholeGpu);
    if (Counted(g) && share > 0 && !Contains(f.free_shares, share)) f.free_shares.push_back(share);
  }
  f.gpu_count = static_cast<uint32_t>(node.gpus.size());
  f.cpu_free = node.cpu_milli_free;
  by_idle_[f.idle].insert(uint64_t{f.untouched} << 32 | n);
  for (int32_t share : f.free_shares) {
    by_free_share_[share].insert(static_cast<uint64_t>(f.idle) << 32 | n);
  }
  by_cpu_.emplace(f.gpu_count, f.cpu_free, n);
}

void Placer::Unfile(uint32_t n) {
  const Filing& f = filings_[n];
  if (!f.filed) return;
  by_idle_[f.idle].erase(uint64_t{f.untouched} << 32 | n);
  for (int32_t share : f.free_shares) {
    by_free_share_[share].erase(static_cast<uint64_t>(f.idle) << 32 | n);
  }
  by_cpu_.erase({f.gpu_count, f.cpu_free, n});
}

void Placer::Refresh(const Slices& slices) {
  for (const auto& s : slices) {
    if (indexed_) {
      Unfile(s.node);
      File(s.node);
    } else {
      ++versions_[s.node];
      if (fragmentation_) {
        node_fragmentation_[s.node] = fragmentation_->Fragmentation(cluster_.nodes[s.node]);
      }
    }
  }
}

bool Placer::Indexable(const Request& r) const {
  return !fragmentation_ && r.preferred_labels.empty() && r.preferred_affinity.empty() &&
         r.preferred_anti_affinity.empty() && r.mig_slices == 0 &&
         (r.nodes == 1 || !r.topology_key);
}

std::optional<uint32_t> Placer::BestIndexed(const Request& r, const std::vector<bool>* allowed,
                                            std::span<const uint32_t> taken) const {
  const Scoring plain;
  auto open = [&](uint32_t n) {
    return (allowed == nullptr || (*allowed)[n]) &&
           std::find(taken.begin(), taken.end(), n) == taken.end();
  };
  auto fits = [&](uint32_t n) { return open(n) && FitOnNode(cluster_, n, r, plain).has_value(); };
  constexpr uint64_t kNodeBits = 0xffffffffu;
  if (r.gpus_per_node == 0) {
    // By GPU count, then free CPU: within a GPU count, the first fitting node from the request's
    // CPU up is the best fit.
    auto group = by_cpu_.begin();
    while (group != by_cpu_.end()) {
      const uint32_t gpus = std::get<0>(*group);
      for (auto it = by_cpu_.lower_bound({gpus, r.cpu_milli, 0});
           it != by_cpu_.end() && std::get<0>(*it) == gpus; ++it) {
        if (fits(std::get<2>(*it))) return std::get<2>(*it);
      }
      group = by_cpu_.lower_bound({gpus + 1, std::numeric_limits<int64_t>::min(), 0});
    }
    return std::nullopt;
  }
  if (r.gpu_milli < kWholeGpu) {
    // By the free share of the GPU it would take, least first; within one share, by idle GPUs
    // and node. A node filed under f whose best qualifying GPU has another share is skipped
    // here: it is filed under that share too.
    for (int32_t f = r.gpu_milli; f <= kWholeGpu; ++f) {
      for (uint64_t key : by_free_share_[f]) {
        const auto n = static_cast<uint32_t>(key & kNodeBits);
        if (!open(n)) continue;
        auto fit = FitOnNode(cluster_, n, r, plain);
        if (fit && fit->score.fit == f - r.gpu_milli) return n;
      }
    }
    return std::nullopt;
  }
  // Whole GPUs: by idle GPUs, fewest first from the request's count; then used nodes before
  // untouched ones, then node order.
  for (size_t idle = static_cast<size_t>(r.gpus_per_node); idle < by_idle_.size(); ++idle) {
    for (uint64_t key : by_idle_[idle]) {
      const auto n = static_cast<uint32_t>(key & kNodeBits);
      if (fits(n)) return n;
    }
  }
  return std::nullopt;
}

// The memo entries of a request shape: the fields the increase and a share's GPU depend on.
internal::CachedIncrease* Placer::MemoFor(const Request& r) const {
  constexpr size_t kMaxEntries = size_t{1} << 21;  // 32 MiB of entries at most
  std::vector<int64_t> key = {r.gpus_per_node,
                              r.gpu_milli,
                              r.mig_slices,
                              r.cpu_milli,
                              r.memory_mib,
                              r.min_gpu_memory_mib,
                              static_cast<int64_t>(r.gpu_types.size())};
  key.insert(key.end(), r.gpu_types.begin(), r.gpu_types.end());
  const size_t nodes = cluster_.nodes.size();
  auto it = increase_rows_.find(key);
  if (it == increase_rows_.end()) {
    if (increases_.size() + nodes > kMaxEntries) return nullptr;
    it = increase_rows_.emplace(std::move(key), increases_.size()).first;
    increases_.resize(increases_.size() + nodes);
  }
  return &increases_[it->second];
}

Reason Placer::Unplaced(const Request& r, size_t placed) const {
  std::vector<int64_t> key = {r.gpus_per_node, r.mig_slices > 0, r.min_gpu_memory_mib,
                              r.min_cuda_version, static_cast<int64_t>(r.gpu_types.size())};
  key.insert(key.end(), r.gpu_types.begin(), r.gpu_types.end());
  for (const Label& l : r.required_labels) {
    key.push_back(static_cast<int64_t>(uint64_t{l.key} << 32 | l.value));
  }
  auto [it, inserted] = could_ever_fit_.try_emplace(std::move(key), 0);
  if (inserted) it->second = CountCouldEverFit(cluster_, r);
  return UnplacedReason(r, it->second, placed);
}

std::expected<Slices, Reason> Placer::Place(const Request& request) const {
  return PlaceAmong(request, nullptr);
}

std::expected<Slices, Reason> Placer::PlaceWithin(const Request& r,
                                                  const std::vector<bool>& allowed) const {
  HANGAR_CHECK(allowed.size() == cluster_.nodes.size(), "one allowed flag per node");
  return PlaceAmong(r, &allowed);
}

std::expected<Slices, Reason> Placer::PlaceAmong(const Request& r,
                                                 const std::vector<bool>* allowed) const {
  if (auto invalid = CheckRequest(r)) return std::unexpected(std::move(*invalid));
  Scoring scoring{.fragmentation = fragmentation_ ? &*fragmentation_ : nullptr,
                  .node_fragmentation = fragmentation_ ? &node_fragmentation_ : nullptr};
  if (fragmentation_) scoring.memo = IncreaseMemo{MemoFor(r), versions_.data()};
  if (!Indexable(r) || (!indexed_ && ++scans_ <= kScansBeforeIndex)) {
    return PlaceByScan(
        cluster_, r, scoring, [&](uint32_t n) { return allowed == nullptr || (*allowed)[n]; },
        [&](size_t placed) { return Unplaced(r, placed); });
  }
  EnsureIndex();
  std::vector<uint32_t> taken;  // gang members' nodes so far
  Slices slices;
  for (int32_t member = 0; member < r.nodes; ++member) {
    auto n = BestIndexed(r, allowed, taken);
    if (!n) return std::unexpected(Unplaced(r, static_cast<size_t>(member)));
    taken.push_back(*n);
    auto fit = FitOnNode(cluster_, *n, r, scoring);
    HANGAR_CHECK(fit.has_value(), "the index found a node that fits");
    slices.push_back(SliceOf(*n, std::move(*fit), r));
  }
  return slices;
}

void Placer::Apply(const Slices& slices, const Request& request) {
  scheduling::Apply(cluster_, slices, request);
  Refresh(slices);
}

void Placer::Release(const Slices& slices, const Request& request) {
  scheduling::Release(cluster_, slices, request);
  Refresh(slices);
}

}  // namespace hangar::scheduling
