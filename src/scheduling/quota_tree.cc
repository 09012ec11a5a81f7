// The quota tree's shared arithmetic. See quota_tree.h.
#include "scheduling/quota_tree.h"

#include <algorithm>
#include <numeric>

namespace hangar::scheduling {

std::vector<uint32_t> PathToRoot(const std::vector<Queue>& queues, uint32_t q) {
  std::vector<uint32_t> path;
  for (uint32_t at = q;; at = queues[at].parent) {
    path.push_back(at);
    if (at == 0 || queues[at].parent == at || path.size() > queues.size()) break;
  }
  return path;
}

std::vector<uint32_t> FairTreePositions(const std::vector<Queue>& queues,
                                        const std::vector<std::vector<uint32_t>>& paths) {
  size_t n = queues.size();
  std::vector<double> subtree(n, 0);
  for (uint32_t q = 0; q < n; ++q) {
    for (uint32_t a : paths[q]) subtree[a] += queues[q].decayed_usage;
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
    for (auto it = paths[q].rbegin(); it != paths[q].rend(); ++it) keys[q].push_back(rank[*it]);
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  std::vector<uint32_t> position(n);
  for (uint32_t i = 0; i < n; ++i) position[order[i]] = i;
  return position;
}

std::string FormatGpus(int64_t milli) {
  if (milli % kWholeGpu == 0) return std::to_string(milli / kWholeGpu);
  std::string s =
      std::to_string(milli / kWholeGpu) + "." + std::to_string(1000 + milli % kWholeGpu).substr(1);
  while (s.back() == '0') s.pop_back();
  return s;
}

}  // namespace hangar::scheduling
