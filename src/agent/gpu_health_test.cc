#include "agent/gpu_health.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent/nvml_probe.h"
#include "agent/simulated_probe.h"

namespace hangar::agent {
namespace {

// A probe whose next samples the test writes.
class ScriptedProbe final : public GpuProbe {
 public:
  Result<std::vector<api::AgentGpu>> Inventory() override {
    return std::vector<api::AgentGpu>{{.index = 0, .uuid = "GPU-a"}, {.index = 1, .uuid = "GPU-b"}};
  }
  Result<std::vector<GpuSample>> Sample() override {
    std::vector<GpuSample> out = next;
    for (auto& s : next) s.xids.clear();  // events are reported once
    return out;
  }
  std::string_view name() const override { return "scripted"; }
  std::vector<GpuSample> next{{.index = 0, .uuid = "GPU-a", .temperature_c = 40},
                              {.index = 1, .uuid = "GPU-b", .temperature_c = 40}};
};

class GpuHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_.OnHealthChange([this] { ++changes_; });
  }
  std::vector<std::string> Reasons(size_t i) {
    auto gpus = monitor_.Inventory();
    EXPECT_TRUE(gpus.has_value());
    return (*gpus)[i].health_reasons.value_or(std::vector<std::string>{});
  }
  bool Healthy(size_t i) { return (*monitor_.Inventory())[i].healthy; }

  ScriptedProbe probe_;
  GpuHealthMonitor monitor_{probe_};
  int changes_ = 0;
};

TEST_F(GpuHealthTest, HealthyGpusHaveNoReasons) {
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_TRUE(Healthy(0));
  EXPECT_FALSE((*monitor_.Inventory())[0].health_reasons.has_value());
  EXPECT_EQ(changes_, 0);
}

TEST_F(GpuHealthTest, UncorrectableEccLatches) {
  probe_.next[1].ecc_dbe_total = 2;
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_FALSE(Healthy(1));
  EXPECT_EQ(Reasons(1), std::vector<std::string>{"ecc_uncorrectable"});
  EXPECT_TRUE(Healthy(0));
  EXPECT_EQ(changes_, 1);
  // Even a counter that reads 0 again (a driver reload the agent did not see) does not clear it.
  probe_.next[1].ecc_dbe_total = 0;
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_EQ(Reasons(1), std::vector<std::string>{"ecc_uncorrectable"});
  EXPECT_EQ(changes_, 1);
}

TEST_F(GpuHealthTest, CriticalXidsLatchAndOthersAreIgnored) {
  probe_.next[0].xids = {{.xid = 13}, {.xid = 31}};  // application faults
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_TRUE(Healthy(0));
  probe_.next[0].xids = {{.xid = 79}, {.xid = 48}};
  ASSERT_TRUE(monitor_.Sample().has_value());
  ASSERT_TRUE(monitor_.Sample().has_value());  // the events are gone; the reasons stay
  EXPECT_EQ(Reasons(0), (std::vector<std::string>{"xid_48", "xid_79"}));
  EXPECT_EQ(changes_, 1);
  for (int xid : {48, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120}) EXPECT_TRUE(IsCriticalXid(xid));
  for (int xid : {13, 31, 43, 45}) EXPECT_FALSE(IsCriticalXid(xid));
}

TEST_F(GpuHealthTest, OverheatingClearsFiveDegreesBelowTheThreshold) {
  probe_.next[0].temperature_c = 90;
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_EQ(Reasons(0), std::vector<std::string>{"overheating"});
  probe_.next[0].temperature_c = 86;  // cooler, but not enough
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_EQ(Reasons(0), std::vector<std::string>{"overheating"});
  probe_.next[0].temperature_c = 85;
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_TRUE(Healthy(0));
  EXPECT_EQ(changes_, 2);  // unhealthy, then healthy again
}

TEST_F(GpuHealthTest, LostGpuIsUnhealthyWhileLost) {
  probe_.next[1] = {.index = 1, .lost = true};
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_EQ(Reasons(1), std::vector<std::string>{"fell_off_bus"});
  probe_.next[1] = {.index = 1, .uuid = "GPU-b", .temperature_c = 40};
  ASSERT_TRUE(monitor_.Sample().has_value());
  EXPECT_TRUE(Healthy(1));
  EXPECT_EQ(changes_, 2);
}

TEST(GpuHealthMonitorTest, ProbeReasonsAreKeptAndMerged) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("2xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  ASSERT_TRUE((*probe)->InjectFault(0, SimulatedFault::kFellOffBus).has_value());
  ASSERT_TRUE((*probe)->InjectFault(1, SimulatedFault::kOverheating).has_value());
  GpuHealthMonitor monitor(**probe);
  ASSERT_TRUE(monitor.Sample().has_value());
  auto gpus = monitor.Inventory();
  ASSERT_TRUE(gpus.has_value());
  EXPECT_EQ((*gpus)[0].health_reasons, (std::vector<std::string>{"fell_off_bus", "xid_79"}));
  EXPECT_EQ((*gpus)[1].health_reasons, std::vector<std::string>{"overheating"});
  // Cleared faults: overheating and the bus recover; the Xid stays latched.
  (*probe)->ClearFaults();
  ASSERT_TRUE(monitor.Sample().has_value());
  gpus = monitor.Inventory();
  EXPECT_EQ((*gpus)[0].health_reasons, std::vector<std::string>{"xid_79"});
  EXPECT_TRUE((*gpus)[1].healthy);
}

TEST(GpuHealthMonitorTest, NvmlEccAndXidsMakeGpusUnhealthy) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = NvmlProbe::Create(HANGAR_FAKE_NVML, clock);
  ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
  GpuHealthMonitor monitor(**probe);
  ASSERT_TRUE(monitor.Sample().has_value());
  auto gpus = monitor.Inventory();
  ASSERT_TRUE(gpus.has_value());
  EXPECT_EQ((*gpus)[0].health_reasons, (std::vector<std::string>{"ecc_uncorrectable", "xid_48"}));
  EXPECT_TRUE((*gpus)[1].healthy);
  EXPECT_EQ((*gpus)[2].health_reasons, (std::vector<std::string>{"fell_off_bus", "xid_79"}));
}

TEST(GpuHealthMonitorTest, SerialisesConcurrentCallers) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("8xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  GpuHealthMonitor monitor(**probe);
  std::thread sampler([&] {
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(monitor.Sample().has_value());
  });
  for (int i = 0; i < 500; ++i) ASSERT_EQ(monitor.Inventory()->size(), 8u);
  sampler.join();
}

}  // namespace
}  // namespace hangar::agent
