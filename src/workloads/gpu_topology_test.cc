#include "workloads/gpu_topology.h"

#include <gtest/gtest.h>

namespace hangar::workloads {
namespace {

store::GpuRecord Gpu(std::string bus, std::vector<std::string> peers) {
  return store::GpuRecord{.pci_bus_id = std::move(bus), .nvlink_peers = std::move(peers)};
}

std::vector<uint8_t> Domains(const std::vector<store::GpuRecord>& gpus) {
  std::vector<const store::GpuRecord*> ptrs;
  for (const auto& g : gpus) ptrs.push_back(&g);
  return NvlinkDomains(ptrs);
}

TEST(NvlinkDomainsTest, PairsChainsLoneGpusAndForeignPeers) {
  // 0-1 linked, 2-3-4 chained through 3 (reported one way only), 5 alone, 6 links only to a
  // switch's bus id.
  std::vector<store::GpuRecord> gpus = {
      Gpu("b0", {"b1"}), Gpu("b1", {"b0"}), Gpu("b2", {"b3"}),      Gpu("b3", {"b4"}),
      Gpu("b4", {}),     Gpu("b5", {}),     Gpu("b6", {"switch-0"})};
  EXPECT_EQ(Domains(gpus), (std::vector<uint8_t>{1, 1, 2, 2, 2, 0, 0}));
}

TEST(NvlinkDomainsTest, AllToAllIsOneDomainAndNoTopologyIsUnknown) {
  std::vector<store::GpuRecord> sxm;
  for (int i = 0; i < 8; ++i) {
    std::vector<std::string> peers;
    for (int j = 0; j < 8; ++j) {
      if (j != i) peers.push_back("b" + std::to_string(j));
    }
    sxm.push_back(Gpu("b" + std::to_string(i), peers));
  }
  EXPECT_EQ(Domains(sxm), std::vector<uint8_t>(8, 1));
  EXPECT_EQ(Domains({Gpu("", {}), Gpu("", {})}), (std::vector<uint8_t>{0, 0}));
}

}  // namespace
}  // namespace hangar::workloads
