// One scheduling pass. See scheduler.h.
#include "scheduling/scheduler.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>

#include "scheduling/placement.h"

namespace hangar::scheduling {
namespace {

std::string Gpus(int64_t milli) {
  if (milli % kWholeGpu == 0) return std::to_string(milli / kWholeGpu);
  std::string s =
      std::to_string(milli / kWholeGpu) + "." + std::to_string(1000 + milli % kWholeGpu).substr(1);
  while (s.back() == '0') s.pop_back();
  return s;
}

// The ancestors of `q`, itself first, the root last.
std::vector<uint32_t> PathToRoot(const std::vector<Queue>& queues, uint32_t q) {
  std::vector<uint32_t> path;
  for (uint32_t at = q;; at = queues[at].parent) {
    path.push_back(at);
    if (at == 0 || queues[at].parent == at || path.size() > queues.size()) break;
  }
  return path;
}

// Fair-tree order of the leaves: at each level, siblings rank by decayed usage (their subtree's)
// per unit of weight, least first; a queue's key is the ranks along its path from the root, and
// keys compare lexicographically. Returns each queue's position in that order.
std::vector<uint32_t> FairOrder(const std::vector<Queue>& queues) {
  size_t n = queues.size();
  std::vector<double> subtree(n, 0);
  for (uint32_t q = 0; q < n; ++q) {
    for (uint32_t a : PathToRoot(queues, q)) subtree[a] += queues[q].decayed_usage;
  }
  std::vector<std::vector<uint32_t>> children(n);
  for (uint32_t q = 1; q < n; ++q) {
    if (queues[q].parent != q) children[queues[q].parent].push_back(q);
  }
  std::vector<uint32_t> rank(n, 0);
  for (auto& kids : children) {
    std::sort(kids.begin(), kids.end(), [&](uint32_t a, uint32_t b) {
      double sa = subtree[a] / std::max(queues[a].weight, 1e-9);
      double sb = subtree[b] / std::max(queues[b].weight, 1e-9);
      return sa != sb ? sa < sb : a < b;
    });
    for (uint32_t i = 0; i < kids.size(); ++i) rank[kids[i]] = i;
  }
  std::vector<std::vector<uint32_t>> keys(n);
  for (uint32_t q = 0; q < n; ++q) {
    auto path = PathToRoot(queues, q);
    for (auto it = path.rbegin(); it != path.rend(); ++it) keys[q].push_back(rank[*it]);
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  std::vector<uint32_t> position(n);
  for (uint32_t i = 0; i < n; ++i) position[order[i]] = i;
  return position;
}

// Requests with the same shape fit or fail alike; within a pass capacity only shrinks, so a
// shape that failed once fails again and is not searched for twice.
std::string ShapeKey(const Request& r) {
  std::string k = std::to_string(r.gpus_per_node) + "/" + std::to_string(r.gpu_milli) + "/" +
                  std::to_string(r.nodes) + "/" + std::to_string(r.min_gpu_memory_mib) + "/" +
                  std::to_string(r.min_cuda_version) + "/" + std::to_string(r.cpu_milli) + "/" +
                  std::to_string(r.memory_mib) + "/";
  for (uint16_t t : r.gpu_types) k += std::to_string(t) + ",";
  k += "/";
  for (const Label& l : r.required_labels)
    k += std::to_string(l.key) + "=" + std::to_string(l.value) + ",";
  return k;
}

}  // namespace

Decisions Schedule(const ClusterSnapshot& cluster, const std::vector<Workload>& pending,
                   const std::vector<Allocation>& running, const std::vector<Queue>& queues,
                   Timestamp now, const Options& options) {
  return Schedule(Input{.cluster = cluster,
                        .pending = pending,
                        .running = running,
                        .queues = queues,
                        .now = now,
                        .options = options});
}

Decisions Schedule(const Input& input) {
  const auto& pending = input.pending;
  const auto& running = input.running;
  const auto& queues = input.queues;
  const Options& options = input.options;
  Decisions out;
  ClusterSnapshot cluster = input.cluster;
  std::vector<Queue> tree = queues.empty() ? std::vector<Queue>{Queue{.id = "root"}} : queues;

  // Each queue's path to the root, computed once: every workload walks its path twice.
  std::vector<std::vector<uint32_t>> paths(tree.size());
  for (uint32_t q = 0; q < tree.size(); ++q) paths[q] = PathToRoot(tree, q);

  // 1. What running work holds, per queue and up the tree.
  std::vector<int64_t> usage(tree.size(), 0);
  auto charge = [&](uint32_t queue, int64_t milli) {
    for (uint32_t a : paths[queue < tree.size() ? queue : 0]) usage[a] += milli;
  };
  for (const Allocation& a : running) charge(a.workload.queue, a.workload.request.TotalGpuMilli());

  // 2. The order: priority, fair share, age, id.
  std::vector<uint32_t> fair = FairOrder(tree);
  std::vector<uint32_t> order(pending.size());
  std::iota(order.begin(), order.end(), 0);
  auto queue_of = [&](const Workload& w) { return w.queue < tree.size() ? w.queue : 0u; };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Workload& x = pending[a];
    const Workload& y = pending[b];
    if (x.priority != y.priority) return x.priority > y.priority;
    uint32_t fx = fair[queue_of(x)], fy = fair[queue_of(y)];
    if (fx != fy) return fx < fy;
    if (x.submitted_at != y.submitted_at) return x.submitted_at < y.submitted_at;
    return x.id < y.id;
  });

  // 3. Quota, then placement. Work within its queues' guarantees goes first (phase 0); work that
  // would borrow idle capacity gets what is left (phase 1), so borrowing never takes capacity a
  // guaranteed workload of the same pass could have had.
  std::vector<bool> decided(pending.size(), false);
  std::unordered_map<std::string, Reason> failed_shapes;
  for (int phase = 0; phase < 2; ++phase) {
    for (uint32_t i : order) {
      if (decided[i]) continue;
      const Workload& w = pending[i];
      int64_t milli = w.request.TotalGpuMilli();
      std::optional<Reason> quota;
      bool borrows = false;
      uint32_t lender = 0;  // the first queue whose guarantee this would exceed
      for (uint32_t a : paths[queue_of(w)]) {
        const Queue& q = tree[a];
        if (q.limit_milli && usage[a] + milli > *q.limit_milli) {
          quota = Reason{ReasonCode::kQuotaExceeded,
                         "queue " + q.id + " is at its limit: " + Gpus(usage[a]) + " of " +
                             Gpus(*q.limit_milli) + " GPUs in use, this needs " + Gpus(milli)};
          break;
        }
        // Queues with a guarantee lend and borrow; the root's capacity is the cluster's.
        if (a != 0 && q.guaranteed_milli > 0 && usage[a] + milli > q.guaranteed_milli && !borrows) {
          borrows = true;
          lender = a;
        }
      }
      if (!quota && borrows && !options.allow_borrowing) {
        const Queue& q = tree[lender];
        quota = Reason{ReasonCode::kQuotaExceeded,
                       "queue " + q.id + " would exceed its guaranteed " +
                           Gpus(q.guaranteed_milli) + " GPUs and borrowing is off"};
      }
      if (quota) {
        out.waiting.emplace_back(i, std::move(*quota));
        decided[i] = true;
        continue;
      }
      if (borrows && phase == 0) continue;  // its turn comes in phase 1
      std::string shape = ShapeKey(w.request);
      if (auto it = failed_shapes.find(shape); it != failed_shapes.end()) {
        out.waiting.emplace_back(i, it->second);
        decided[i] = true;
        continue;
      }
      auto placed = Place(cluster, w.request);
      decided[i] = true;
      if (!placed) {
        failed_shapes.emplace(std::move(shape), placed.error());
        out.waiting.emplace_back(i, std::move(placed.error()));
        continue;
      }
      Apply(cluster, *placed, w.request);
      charge(queue_of(w), milli);
      out.placements.push_back(Placement{i, std::move(*placed), borrows});
    }
  }
  std::sort(out.waiting.begin(), out.waiting.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace hangar::scheduling
