// Shared pieces of the scheduler's tests: running work placed by hand, and lookups in decisions.
#pragma once

#include <string>
#include <vector>

#include "scheduling/model.h"
#include "scheduling/placement.h"

namespace hangar::scheduling::testing {

inline const Timestamp kNow = FromUnixMicros(1'795'000'000'000'000);

// `w` running on `gpus` of `node` since `started`, with its capacity taken off `cluster`.
inline Allocation RunOn(ClusterSnapshot& cluster, Workload w, uint32_t node,
                        std::vector<uint16_t> gpus, Timestamp started) {
  w.request.gpus_per_node = static_cast<int32_t>(gpus.size());
  Allocation a{.workload = std::move(w), .started_at = started};
  a.slices.push_back(Allocation::Slice{node, std::move(gpus), a.workload.request.gpu_milli});
  Apply(cluster, a.slices, a.workload.request);
  return a;
}

inline Reason WhyWaiting(const Decisions& d, uint32_t index) {
  for (const auto& [i, r] : d.waiting) {
    if (i == index) return r;
  }
  return {};
}

inline std::vector<std::string> PlacedIds(const Decisions& d,
                                          const std::vector<Workload>& pending) {
  std::vector<std::string> out;
  for (const auto& p : d.placements) out.push_back(pending[p.workload].id);
  return out;
}

inline std::vector<uint32_t> Victims(const Decisions& d) {
  std::vector<uint32_t> out;
  for (const auto& p : d.preemptions) out.push_back(p.running);
  return out;
}

}  // namespace hangar::scheduling::testing
