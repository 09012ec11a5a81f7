#include "workloads/queue_standing.h"

#include <algorithm>

namespace hangar::workloads {

namespace {

bool IsScope(const std::string& id) { return id.starts_with("proj_") || id.starts_with("team_"); }

double Gpus(int64_t milli) { return static_cast<double>(milli) / 1000.0; }

}  // namespace

void MarkBorrowed(scheduling::Input& input) {
  const auto& queues = input.queues;
  std::vector<size_t> order(input.running.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = input.running[a];
    const auto& y = input.running[b];
    if (x.started_at != y.started_at) return x.started_at < y.started_at;
    return x.workload.id < y.workload.id;
  });
  std::vector<int64_t> used(queues.size(), 0);
  for (size_t i : order) {
    auto& a = input.running[i];
    uint32_t q = a.workload.queue;
    if (q >= queues.size()) continue;
    int64_t milli = a.workload.request.TotalGpuMilli();
    bool borrowed = false;
    for (uint32_t at = q; at != 0; at = queues[at].parent) {
      const auto& queue = queues[at];
      if (queue.guaranteed_milli > 0 && used[at] + milli > queue.guaranteed_milli) borrowed = true;
      used[at] += milli;
      if (queue.parent == at) break;
    }
    a.borrowed = borrowed;
  }
}

QueueStandings::QueueStandings(const scheduling::Input& input)
    : queues_(input.queues),
      in_use_milli_(input.queues.size(), 0),
      borrowed_milli_(input.queues.size(), 0) {
  for (const auto& a : input.running) {
    uint32_t q = a.workload.queue;
    if (q >= queues_.size()) continue;
    int64_t milli = a.workload.request.TotalGpuMilli();
    if (a.borrowed) {
      // Charged to its project (a per-user leaf is not a scope of its own).
      uint32_t scope = q;
      while (scope != 0 && !IsScope(queues_[scope].id) && queues_[scope].parent != scope) {
        scope = queues_[scope].parent;
      }
      borrowed_milli_[scope] += milli;
    }
    // Up the tree to the root (whose parent is itself).
    for (uint32_t at = q;; at = queues_[at].parent) {
      in_use_milli_[at] += milli;
      if (at == 0 || queues_[at].parent == at) break;
    }
  }
}

std::vector<api::FairShareStanding> QueueStandings::StandingOf(uint32_t queue) const {
  std::vector<api::FairShareStanding> out;
  for (uint32_t at = queue; at < queues_.size() && at != 0; at = queues_[at].parent) {
    const scheduling::Queue& q = queues_[at];
    if (IsScope(q.id)) {
      api::FairShareStanding s{.scope_id = q.id,
                               .gpus_in_use = Gpus(in_use_milli_[at]),
                               .gpus_guaranteed = Gpus(q.guaranteed_milli),
                               .weight = q.weight};
      if (q.limit_milli) s.gpu_limit = Gpus(*q.limit_milli);
      out.push_back(std::move(s));
    }
    if (q.parent == at) break;
  }
  return out;
}

std::vector<api::BorrowedCapacity> QueueStandings::BorrowersAgainst(uint32_t queue) const {
  std::vector<uint32_t> chain;
  bool entitled = false;
  for (uint32_t at = queue; at < queues_.size() && at != 0; at = queues_[at].parent) {
    chain.push_back(at);
    if (in_use_milli_[at] < queues_[at].guaranteed_milli) entitled = true;
    if (queues_[at].parent == at) break;
  }
  std::vector<api::BorrowedCapacity> out;
  if (!entitled) return out;
  for (uint32_t q = 0; q < queues_.size(); ++q) {
    if (borrowed_milli_[q] == 0 || std::find(chain.begin(), chain.end(), q) != chain.end()) {
      continue;
    }
    out.push_back({.scope_id = queues_[q].id, .gpus = Gpus(borrowed_milli_[q])});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.gpus > b.gpus; });
  return out;
}

}  // namespace hangar::workloads
