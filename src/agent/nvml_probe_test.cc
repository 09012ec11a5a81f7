#include "agent/nvml_probe.h"

#include <gtest/gtest.h>

namespace hangar::agent {
namespace {

TEST(NvmlProbeTest, MissingLibraryIsUnavailable) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create("/nonexistent/libnvidia-ml.so.1", clock);
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("NVML not found"), std::string::npos);
  EXPECT_NE(probe.error().message().find("--simulate"), std::string::npos);

  auto via_factory = NewGpuProbe({.nvml_library = "/nonexistent/libnvidia-ml.so.1"}, clock);
  ASSERT_FALSE(via_factory.has_value());
  EXPECT_EQ(via_factory.error().code(), ErrorCode::kUnavailable);
}

TEST(NvmlProbeTest, LibraryWithoutNvmlSymbolsIsUnavailable) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create("libc.so.6", clock);
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("nvmlInit_v2"), std::string::npos);
}

// The fake library (testdata/fake_nvml.cc) describes its three devices.
TEST(NvmlProbeTest, FakeLibraryGivesInventoryTopologyAndHealth) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = NvmlProbe::Create(HANGAR_FAKE_NVML, clock);
  ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
  auto gpus = (*probe)->Inventory();
  ASSERT_TRUE(gpus.has_value()) << gpus.error().ToString();
  ASSERT_EQ(gpus->size(), 3u);
  const api::AgentGpu& g0 = (*gpus)[0];
  EXPECT_EQ(g0.product_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g0.uuid, "GPU-00000000-fake-0000-0000-000000000000");
  EXPECT_EQ(g0.memory_mib, 81559);
  EXPECT_EQ(g0.compute_capability, "9.0");
  EXPECT_EQ(g0.architecture, "hopper");
  EXPECT_EQ(g0.driver_version, "999.1.2");
  EXPECT_EQ(g0.cuda_version, "12.8");
  EXPECT_TRUE(g0.healthy);
  EXPECT_EQ(g0.pci_bus_id, "00000000:18:00.0");
  EXPECT_EQ(g0.mig_enabled, false);
  // Three active links, two to the same GPU: distinct far ends only.
  EXPECT_EQ(g0.nvlink_peers, (std::vector<std::string>{"00000000:2A:00.0", "00000000:C1:00.0"}));
  const api::AgentGpu& g1 = (*gpus)[1];
  EXPECT_EQ(g1.mig_enabled, true);
  EXPECT_EQ(g1.nvlink_peers, (std::vector<std::string>{"00000000:18:00.0"}));
  const api::AgentGpu& g2 = (*gpus)[2];
  EXPECT_FALSE(g2.healthy);
  EXPECT_EQ(g2.health_reasons, (std::vector<std::string>{"fell_off_bus"}));
  EXPECT_FALSE(g2.pci_bus_id.has_value());
}

TEST(NvmlProbeTest, FakeLibrarySamplesMetricsCountersAndXidsOnce) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = NvmlProbe::Create(HANGAR_FAKE_NVML, clock);
  ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
  auto samples = (*probe)->Sample();
  ASSERT_TRUE(samples.has_value()) << samples.error().ToString();
  ASSERT_EQ(samples->size(), 3u);
  const GpuSample& s0 = (*samples)[0];
  EXPECT_EQ(s0.uuid, "GPU-00000000-fake-0000-0000-000000000000");
  EXPECT_EQ(s0.at, clock.Now());
  EXPECT_EQ(s0.utilization_percent, 87);
  EXPECT_EQ(s0.memory_used_mib, 40000);
  EXPECT_EQ(s0.temperature_c, 65);
  EXPECT_EQ(s0.power_milliwatts, 350000);
  EXPECT_EQ(s0.sm_clock_mhz, 1980);
  EXPECT_EQ(s0.ecc_sbe_total, 5);
  EXPECT_EQ(s0.ecc_dbe_total, 1);
  EXPECT_EQ(s0.throttle_reasons, kThrottleSwPowerCap);
  EXPECT_FALSE(s0.lost);
  EXPECT_FALSE(s0.simulated);
  ASSERT_EQ(s0.xids.size(), 1u);
  EXPECT_EQ(s0.xids[0].xid, 48);
  EXPECT_EQ((*samples)[1].throttle_reasons, kThrottleGpuIdle);
  EXPECT_TRUE((*samples)[1].xids.empty());
  const GpuSample& s2 = (*samples)[2];
  EXPECT_TRUE(s2.lost);
  EXPECT_EQ(s2.utilization_percent, 0);
  ASSERT_EQ(s2.xids.size(), 1u);
  EXPECT_EQ(s2.xids[0].xid, 79);

  auto again = (*probe)->Sample();
  ASSERT_TRUE(again.has_value());
  for (const auto& s : *again) EXPECT_TRUE(s.xids.empty()) << s.index;  // drained
}

TEST(NvmlProbeTest, MissingRequiredSymbolIsUnavailableNamingIt) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create(HANGAR_FAKE_NVML_NO_UUID, clock);
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("nvmlDeviceGetUUID"), std::string::npos);
}

TEST(NvmlProbeTest, MissingOptionalSymbolsReadZeroAndLeaveTopologyOut) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create(HANGAR_FAKE_NVML_REQUIRED_ONLY, clock);
  ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
  auto gpus = (*probe)->Inventory();
  ASSERT_TRUE(gpus.has_value());
  ASSERT_EQ(gpus->size(), 3u);
  EXPECT_EQ((*gpus)[0].memory_mib, 81559);
  EXPECT_TRUE((*gpus)[0].healthy);
  EXPECT_FALSE((*gpus)[0].pci_bus_id.has_value());
  EXPECT_FALSE((*gpus)[0].mig_enabled.has_value());
  EXPECT_FALSE((*gpus)[0].nvlink_peers.has_value());
  auto samples = (*probe)->Sample();
  ASSERT_TRUE(samples.has_value());
  const GpuSample& s0 = (*samples)[0];
  EXPECT_EQ(s0.memory_used_mib, 40000);  // a required query
  EXPECT_EQ(s0.utilization_percent, 0);
  EXPECT_EQ(s0.temperature_c, 0);
  EXPECT_EQ(s0.sm_clock_mhz, 0);
  EXPECT_EQ(s0.ecc_dbe_total, 0);
  EXPECT_EQ(s0.throttle_reasons, 0u);
  EXPECT_TRUE(s0.xids.empty());
  EXPECT_TRUE((*samples)[2].lost);  // still found lost through the required queries
}

TEST(NvmlProbeTest, ArchitectureAndCudaVersionNames) {
  EXPECT_EQ(NvmlArchitectureName(7), "ampere");
  EXPECT_EQ(NvmlArchitectureName(8), "ada");
  EXPECT_EQ(NvmlArchitectureName(9), "hopper");
  EXPECT_EQ(NvmlArchitectureName(10), "blackwell");
  EXPECT_EQ(NvmlArchitectureName(0xffffffff), "unknown");
  EXPECT_EQ(NvmlCudaVersionString(12040), "12.4");
  EXPECT_EQ(NvmlCudaVersionString(11080), "11.8");
}

}  // namespace
}  // namespace hangar::agent
