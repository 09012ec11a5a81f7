#include "agent/simulated_probe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace hangar::agent {
namespace {

using namespace std::chrono_literals;

// Runs placed on GPUs, as the test says.
class FakePlacements final : public WorkloadPlacements {
 public:
  std::vector<GpuPlacement> Placements() override { return placements; }
  std::vector<GpuPlacement> placements;
};

// Process-group usage, as the test sets it; shared with the probe that owns the source.
struct FakeUsage {
  std::map<int, ProcessGroupUsage> groups;
};

class FakeUsageSource final : public ProcessUsageSource {
 public:
  explicit FakeUsageSource(const FakeUsage& usage) : usage_(usage) {}
  Result<std::map<int, ProcessGroupUsage>> Read(std::span<const int> pgids) override {
    std::map<int, ProcessGroupUsage> out;
    for (int pgid : pgids) {
      if (auto it = usage_.groups.find(pgid); it != usage_.groups.end()) out[pgid] = it->second;
    }
    return out;
  }

 private:
  const FakeUsage& usage_;
};

constexpr int64_t kGiB = int64_t{1} << 30;

class SimulatedLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto probe = SimulatedProbe::Create("4xH100-80GB", "n", clock_, &placements_,
                                        std::make_unique<FakeUsageSource>(usage_));
    ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
    probe_ = std::move(*probe);
  }

  std::vector<GpuSample> Sample() {
    auto samples = probe_->Sample();
    EXPECT_TRUE(samples.has_value());
    return samples.value_or(std::vector<GpuSample>{});
  }

  std::vector<int64_t> Utilisation() {
    std::vector<int64_t> out;
    for (const auto& s : Sample()) out.push_back(s.utilization_percent);
    return out;
  }

  FakeClock clock_{FromUnixMicros(1'700'000'000'000'000)};
  FakePlacements placements_;
  FakeUsage usage_;
  std::unique_ptr<SimulatedProbe> probe_;
};

TEST_F(SimulatedLoadTest, GpusWithoutWorkAreIdle) {
  for (int round = 0; round < 3; ++round) {
    clock_.Advance(1min);
    for (const auto& s : Sample()) {
      EXPECT_EQ(s.utilization_percent, 0);
      EXPECT_EQ(s.memory_used_mib, 0);
      EXPECT_EQ(s.temperature_c, 32);
      EXPECT_EQ(s.power_milliwatts, 70'000);  // a tenth of the H100's 700 W
      EXPECT_TRUE(s.simulated);
    }
  }
}

TEST_F(SimulatedLoadTest, UtilisationIsTheCpuTimeOfTheRunOnTheGpu) {
  placements_.placements = {{.run_id = "job_a-a1", .pgid = 10, .gpu_indexes = {1}}};
  usage_.groups[10] = {.cpu_seconds = 5, .rss_bytes = 3 * kGiB, .processes = 1};
  // The first sample of a run is its baseline.
  EXPECT_EQ(Utilisation(), (std::vector<int64_t>{0, 0, 0, 0}));

  clock_.Advance(10s);
  usage_.groups[10].cpu_seconds = 15;  // one core busy all along
  auto samples = Sample();
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[1].utilization_percent, 100);
  EXPECT_EQ(samples[1].memory_used_mib, 3 * 1024);
  EXPECT_EQ(samples[1].temperature_c, 77);
  EXPECT_EQ(samples[1].power_milliwatts, 700'000);
  for (size_t i : {0u, 2u, 3u}) {
    EXPECT_EQ(samples[i].utilization_percent, 0) << i;
    EXPECT_EQ(samples[i].memory_used_mib, 0) << i;
  }

  clock_.Advance(10s);
  usage_.groups[10].cpu_seconds = 17.5;  // a quarter of a core
  EXPECT_EQ(Utilisation()[1], 25);

  clock_.Advance(10s);  // sleeping: no CPU, memory still held
  samples = Sample();
  EXPECT_EQ(samples[1].utilization_percent, 0);
  EXPECT_EQ(samples[1].memory_used_mib, 3 * 1024);
}

TEST_F(SimulatedLoadTest, ARunIsSpreadOverItsGpusAndCappedAtAHundred) {
  placements_.placements = {{.run_id = "job_b-a1", .pgid = 20, .gpu_indexes = {0, 2}}};
  usage_.groups[20] = {.cpu_seconds = 0, .rss_bytes = 10 * kGiB, .processes = 3};
  Sample();
  clock_.Advance(10s);
  usage_.groups[20].cpu_seconds = 10;  // one core over two GPUs
  auto samples = Sample();
  EXPECT_EQ(samples[0].utilization_percent, 50);
  EXPECT_EQ(samples[2].utilization_percent, 50);
  EXPECT_EQ(samples[0].memory_used_mib, 5 * 1024);
  EXPECT_EQ(samples[2].memory_used_mib, 5 * 1024);
  EXPECT_EQ(samples[1].utilization_percent, 0);

  clock_.Advance(10s);
  usage_.groups[20].cpu_seconds = 50;  // four cores over two GPUs: 200% each, capped
  usage_.groups[20].rss_bytes = 1024 * kGiB;
  samples = Sample();
  EXPECT_EQ(samples[0].utilization_percent, 100);
  EXPECT_EQ(samples[2].utilization_percent, 100);
  EXPECT_EQ(samples[0].memory_used_mib, 81559);  // capped at the H100's memory
}

TEST_F(SimulatedLoadTest, RunsSharingAGpuAddUp) {
  placements_.placements = {{.run_id = "job_c-a1", .pgid = 30, .gpu_indexes = {3}},
                            {.run_id = "job_d-a1", .pgid = 31, .gpu_indexes = {3}}};
  usage_.groups[30] = {.cpu_seconds = 0, .rss_bytes = kGiB, .processes = 1};
  usage_.groups[31] = {.cpu_seconds = 0, .rss_bytes = kGiB, .processes = 1};
  Sample();
  clock_.Advance(10s);
  usage_.groups[30].cpu_seconds = 3;
  usage_.groups[31].cpu_seconds = 3;
  auto samples = Sample();
  EXPECT_EQ(samples[3].utilization_percent, 60);
  EXPECT_EQ(samples[3].memory_used_mib, 2048);
}

TEST_F(SimulatedLoadTest, LostCpuTimeIsNoUseAndAReplacedRunStartsAFreshBaseline) {
  placements_.placements = {{.run_id = "job_e-a1", .pgid = 40, .gpu_indexes = {0}}};
  usage_.groups[40] = {.cpu_seconds = 100, .rss_bytes = 0, .processes = 2};
  Sample();
  clock_.Advance(10s);
  usage_.groups[40].cpu_seconds = 20;  // a busy member exited, taking its time with it
  EXPECT_EQ(Utilisation()[0], 0);

  // The run ended; a retry runs in another process group on the same GPU.
  placements_.placements = {{.run_id = "job_e-a2", .pgid = 41, .gpu_indexes = {0}}};
  usage_.groups[41] = {.cpu_seconds = 500, .rss_bytes = 0, .processes = 1};
  clock_.Advance(10s);
  EXPECT_EQ(Utilisation()[0], 0);  // its baseline, not 500 s in 10 s
  clock_.Advance(10s);
  usage_.groups[41].cpu_seconds = 505;
  EXPECT_EQ(Utilisation()[0], 50);

  // A group with no process left reports nothing; the GPU goes idle.
  usage_.groups.erase(41);
  clock_.Advance(10s);
  auto samples = Sample();
  EXPECT_EQ(samples[0].utilization_percent, 0);
  EXPECT_EQ(samples[0].memory_used_mib, 0);
}

TEST_F(SimulatedLoadTest, ASampleAtTheSameInstantRepeatsTheLastRate) {
  placements_.placements = {{.run_id = "job_f-a1", .pgid = 50, .gpu_indexes = {2}}};
  usage_.groups[50] = {.cpu_seconds = 0, .rss_bytes = 0, .processes = 1};
  Sample();
  clock_.Advance(4s);
  usage_.groups[50].cpu_seconds = 3;
  EXPECT_EQ(Utilisation()[2], 75);
  EXPECT_EQ(Utilisation()[2], 75);  // the clock did not move
  clock_.Advance(4s);
  usage_.groups[50].cpu_seconds = 4;  // measured from the baseline of the first 75% sample
  EXPECT_EQ(Utilisation()[2], 25);
}

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

TEST(SimulatedProbeTest, TopologyFollowsTheModel) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = SimulatedProbe::Create("3xH100-80GB,2xL4", "n", clock);
  ASSERT_TRUE(probe.has_value());
  auto gpus = (*probe)->Inventory();
  ASSERT_TRUE(gpus.has_value());
  ASSERT_EQ(gpus->size(), 5u);
  EXPECT_EQ((*gpus)[0].pci_bus_id, "00000000:01:00.0");
  EXPECT_EQ((*gpus)[4].pci_bus_id, "00000000:05:00.0");
  for (const auto& g : *gpus) EXPECT_EQ(g.mig_enabled, false);
  // H100 SXM: NVLink to the other H100s; L4 (PCIe): none.
  EXPECT_EQ((*gpus)[1].nvlink_peers,
            (std::vector<std::string>{"00000000:01:00.0", "00000000:03:00.0"}));
  EXPECT_EQ((*gpus)[3].nvlink_peers, std::vector<std::string>{});
}

TEST(SimulatedProbeTest, SmClockFollowsLoad) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("1xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  auto idle = (*probe)->Sample();
  ASSERT_TRUE(idle.has_value());
  EXPECT_EQ((*idle)[0].sm_clock_mhz, 345);
  EXPECT_EQ((*idle)[0].throttle_reasons, kThrottleGpuIdle);
  EXPECT_EQ((*idle)[0].ecc_dbe_total, 0);
  EXPECT_TRUE((*idle)[0].xids.empty());
}

TEST(SimulatedProbeTest, SyntheticLoadIsDeterministicAndBelievable) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto a = SimulatedProbe::CreateWithSyntheticLoad("8xH100-80GB", "sim-00001", clock);
  auto b = SimulatedProbe::CreateWithSyntheticLoad("8xH100-80GB", "sim-00001", clock);
  ASSERT_TRUE(a.has_value() && b.has_value());
  int busy = 0;
  for (int minute = 0; minute < 24 * 60; minute += 7) {
    clock.Set(FromUnixMicros(1'700'000'000'000'000) + std::chrono::minutes(minute));
    auto sa = (*a)->Sample();
    auto sb = (*b)->Sample();
    ASSERT_TRUE(sa.has_value() && sb.has_value());
    for (size_t i = 0; i < sa->size(); ++i) {
      const GpuSample& s = (*sa)[i];
      EXPECT_EQ(s.utilization_percent, (*sb)[i].utilization_percent);  // same node, same load
      if (s.utilization_percent == 0) {
        EXPECT_EQ(s.sm_clock_mhz, 345);
        continue;
      }
      ++busy;
      EXPECT_GE(s.utilization_percent, 70);
      EXPECT_LE(s.utilization_percent, 100);
      EXPECT_EQ(s.sm_clock_mhz, 1980);
      EXPECT_GE(s.memory_used_mib, 81559 / 2);
      EXPECT_LE(s.temperature_c, 80);
    }
  }
  EXPECT_GT(busy, 0);  // a day of samples shows some work
}

TEST(SimulatedProbeTest, EccFaultRaisesCountersAndXid48Once) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("2xA100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  ASSERT_TRUE((*probe)->InjectFault(1, SimulatedFault::kEcc).has_value());
  auto first = (*probe)->Sample();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)[1].ecc_dbe_total, 1);
  EXPECT_EQ((*first)[1].ecc_sbe_total, 1);
  ASSERT_EQ((*first)[1].xids.size(), 1u);
  EXPECT_EQ((*first)[1].xids[0].xid, 48);
  EXPECT_EQ((*first)[0].ecc_dbe_total, 0);
  auto second = (*probe)->Sample();
  EXPECT_EQ((*second)[1].ecc_dbe_total, 1);  // once per activation
  EXPECT_EQ((*second)[1].ecc_sbe_total, 2);  // per sample while active
  EXPECT_TRUE((*second)[1].xids.empty());
  (*probe)->ClearFaults();
  auto cleared = (*probe)->Sample();
  EXPECT_EQ((*cleared)[1].ecc_dbe_total, 1);  // volatile counters keep their count
  EXPECT_EQ((*cleared)[1].ecc_sbe_total, 2);
  EXPECT_FALSE((*probe)->InjectFault(2, SimulatedFault::kEcc).has_value());
}

TEST(SimulatedProbeTest, FellOffBusIsLostAndUnhealthy) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("2xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  (*probe)->SetFaults({{0, {SimulatedFault::kFellOffBus}}});
  auto samples = (*probe)->Sample();
  ASSERT_TRUE(samples.has_value());
  EXPECT_TRUE((*samples)[0].lost);
  EXPECT_EQ((*samples)[0].temperature_c, 0);
  EXPECT_EQ((*samples)[0].power_milliwatts, 0);
  ASSERT_EQ((*samples)[0].xids.size(), 1u);
  EXPECT_EQ((*samples)[0].xids[0].xid, 79);
  EXPECT_FALSE((*samples)[1].lost);
  auto gpus = (*probe)->Inventory();
  EXPECT_FALSE((*gpus)[0].healthy);
  EXPECT_EQ((*gpus)[0].health_reasons, std::vector<std::string>{"fell_off_bus"});
  EXPECT_TRUE((*gpus)[1].healthy);
  (*probe)->ClearFaults();
  EXPECT_TRUE((*(*probe)->Inventory())[0].healthy);
  EXPECT_FALSE((*(*probe)->Sample())[0].lost);
}

TEST(SimulatedProbeTest, OverheatingIsHotAndThrottled) {
  FakeClock clock(FromUnixMicros(1'700'000'000'000'000));
  auto probe = SimulatedProbe::Create("1xH100-80GB", "n", clock);
  ASSERT_TRUE(probe.has_value());
  ASSERT_TRUE((*probe)->InjectFault(0, SimulatedFault::kOverheating).has_value());
  auto s = (*(*probe)->Sample())[0];
  EXPECT_GE(s.temperature_c, 92);
  EXPECT_EQ(s.throttle_reasons & (kThrottleSwThermalSlowdown | kThrottleHwThermalSlowdown),
            kThrottleSwThermalSlowdown | kThrottleHwThermalSlowdown);
  EXPECT_TRUE(s.xids.empty());
}

TEST(SimulatedProbeTest, FaultFileIsFollowed) {
  char tmpl[] = "/tmp/hangar-simfaults-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::filesystem::path file = std::filesystem::path(tmpl) / "faults.json";
  std::ofstream(file) << R"({"1": ["overheating"]})";
  FakeClock clock(FromUnixMicros(0));
  auto probe = NewGpuProbe(
      {.simulate = "2xL4", .node_name = "n", .simulated_faults_file = file.string()}, clock);
  ASSERT_TRUE(probe.has_value());
  auto samples = (*probe)->Sample();
  ASSERT_TRUE(samples.has_value());
  EXPECT_LT((*samples)[0].temperature_c, 90);
  EXPECT_GE((*samples)[1].temperature_c, 92);
  std::ofstream(file) << "{}";
  std::filesystem::last_write_time(
      file, std::filesystem::file_time_type::clock::now() + std::chrono::hours(1));
  EXPECT_LT((*(*probe)->Sample())[1].temperature_c, 90);
  std::filesystem::remove_all(tmpl);

  auto nvml = NewGpuProbe({.simulated_faults_file = "/tmp/x.json"}, clock);
  ASSERT_FALSE(nvml.has_value());
  EXPECT_EQ(nvml.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hangar::agent
