#include "workloads/gpu_topology.h"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace hangar::workloads {

std::vector<uint8_t> NvlinkDomains(const std::vector<const store::GpuRecord*>& gpus) {
  // Union-find over the peer links.
  std::vector<size_t> parent(gpus.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::unordered_map<std::string, size_t> by_bus;
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (!gpus[i]->pci_bus_id.empty()) by_bus[gpus[i]->pci_bus_id] = i;
  }
  std::vector<bool> linked(gpus.size(), false);
  for (size_t i = 0; i < gpus.size(); ++i) {
    for (const auto& peer : gpus[i]->nvlink_peers) {
      auto j = by_bus.find(peer);
      if (j == by_bus.end() || j->second == i) continue;
      parent[root(i)] = root(j->second);
      linked[i] = linked[j->second] = true;
    }
  }
  std::vector<uint8_t> out(gpus.size(), 0);
  std::unordered_map<size_t, uint8_t> domain_of_root;
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (!linked[i]) continue;
    auto [it, added] = domain_of_root.try_emplace(root(i), 0);
    if (added) it->second = static_cast<uint8_t>(std::min<size_t>(255, domain_of_root.size()));
    out[i] = it->second;
  }
  return out;
}

}  // namespace hangar::workloads
