#include "agent/simulated_probe.h"

#include <gtest/gtest.h>

#include <regex>

namespace hangar::agent {
namespace {

TEST(SimulatedProbeTest, ParsesSingleAndListSpecs) {
  auto one = ParseSimulationSpec("8xH100-80GB");
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].count, 8);
  EXPECT_EQ((*one)[0].model->product_name, "NVIDIA H100 80GB HBM3");

  auto list = ParseSimulationSpec(" 2xA100-80GB, 4xl4 ,T4");
  ASSERT_TRUE(list.has_value()) << list.error().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].model->name, "A100-80GB");
  EXPECT_EQ((*list)[1].count, 4);
  EXPECT_EQ((*list)[1].model->name, "L4");
  EXPECT_EQ((*list)[2].count, 1);
  EXPECT_EQ((*list)[2].model->product_name, "Tesla T4");
}

TEST(SimulatedProbeTest, RejectsBadSpecsNamingThePartAndKnownModels) {
  for (std::string_view bad : {"", "8xB200", "0xH100-80GB", "65xL4", "2xL4,,T4", "x"}) {
    auto res = ParseSimulationSpec(bad);
    ASSERT_FALSE(res.has_value()) << bad;
    EXPECT_EQ(res.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(res.error().hint().find("H100-80GB"), std::string::npos) << res.error().hint();
  }
  auto res = ParseSimulationSpec("2xL4,8xB200");
  EXPECT_NE(res.error().message().find("'8xB200'"), std::string::npos) << res.error().message();
}

TEST(SimulatedProbeTest, InventoryIsDeterministicPerNode) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto a = SimulatedProbe::Create("2xA100-80GB,1xL4", "node-a", clock);
  auto a2 = SimulatedProbe::Create("2xA100-80GB,1xL4", "node-a", clock);
  auto b = SimulatedProbe::Create("2xA100-80GB,1xL4", "node-b", clock);
  ASSERT_TRUE(a && a2 && b);
  auto ia = (*a)->Inventory(), ia2 = (*a2)->Inventory(), ib = (*b)->Inventory();
  ASSERT_EQ(ia->size(), 3u);
  std::regex uuid_re("GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  for (size_t i = 0; i < ia->size(); ++i) {
    EXPECT_EQ((*ia)[i].index, static_cast<int64_t>(i));
    EXPECT_TRUE(std::regex_match((*ia)[i].uuid, uuid_re)) << (*ia)[i].uuid;
    EXPECT_EQ((*ia)[i].uuid, (*ia2)[i].uuid);
    EXPECT_NE((*ia)[i].uuid, (*ib)[i].uuid);
    EXPECT_EQ((*ia)[i].vendor, "nvidia");
    EXPECT_EQ((*ia)[i].driver_version, kSimulatedDriverVersion);
  }
  EXPECT_NE((*ia)[0].uuid, (*ia)[1].uuid);
  EXPECT_EQ((*ia)[2].product_name, "NVIDIA L4");
  EXPECT_EQ((*ia)[2].memory_mib, 23034);
  EXPECT_EQ((*ia)[2].architecture, "ada");
  EXPECT_EQ((*ia)[2].compute_capability, "8.9");
}

TEST(SimulatedProbeTest, SamplesArePlausibleAndSimulated) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("4xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  for (int round = 0; round < 20; ++round) {
    clock.Advance(std::chrono::minutes(1));
    auto samples = (*probe)->Sample();
    ASSERT_TRUE(samples.has_value());
    ASSERT_EQ(samples->size(), 4u);
    for (const auto& s : *samples) {
      EXPECT_TRUE(s.simulated);
      EXPECT_EQ(s.at, clock.Now());
      EXPECT_GE(s.utilization_percent, 0);
      EXPECT_LE(s.utilization_percent, 100);
      EXPECT_LE(s.memory_used_mib, 81559);
      EXPECT_GE(s.temperature_c, 30);
      EXPECT_LE(s.temperature_c, 80);
      EXPECT_GE(s.power_milliwatts, 70'000);
      EXPECT_LE(s.power_milliwatts, 700'000);
    }
  }
}

TEST(SimulatedProbeTest, FactoryPicksSimulatorWhenSpecGiven) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NewGpuProbe({.simulate = "1xT4", .node_name = "n"}, clock);
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ((*probe)->name(), "simulated");
}

}  // namespace
}  // namespace hangar::agent
