// The agent's pieces together: workloads started by the Executor make the simulated GPUs they
// run on busy, measured from /proc, while the other GPUs stay idle.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "agent/executor.h"
#include "agent/simulated_probe.h"

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using State = ProcessStatus::State;

class SimulatedLoadAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-load-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    executor_ = std::make_unique<Executor>(root_ / "workloads", clock_);
    // The probe measures rates, so it takes the real clock.
    auto probe = SimulatedProbe::Create("3xL4", "load-node", clock_, executor_.get());
    ASSERT_TRUE(probe.has_value()) << probe.error().ToString();
    probe_ = std::move(*probe);
  }
  void TearDown() override {
    for (int pgid : pgids_) ::kill(-pgid, SIGKILL);
    probe_.reset();
    executor_.reset();
    fs::remove_all(root_);
  }

  void Start(std::string id, std::string script, std::vector<int> gpus) {
    auto pid = executor_->Start(LaunchSpec{.workload_id = std::move(id),
                                           .argv = {"sh", "-c", std::move(script)},
                                           .gpu_indexes = std::move(gpus)});
    ASSERT_TRUE(pid.has_value()) << pid.error().ToString();
    pgids_.push_back(*pid);
  }

  std::vector<GpuSample> Sample() {
    auto samples = probe_->Sample();
    EXPECT_TRUE(samples.has_value()) << samples.error().ToString();
    return samples.value_or(std::vector<GpuSample>(3));
  }

  SystemClock clock_;
  fs::path root_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<SimulatedProbe> probe_;
  std::vector<int> pgids_;
};

TEST_F(SimulatedLoadAgentTest, ABusyWorkloadMakesItsGpuBusyAndLeavesTheOthersIdle) {
  Start("job_busy", "while :; do :; done", {1});
  Start("job_sleepy", "exec sleep 100", {2});
  Sample();  // the runs' baselines

  // A busy loop uses one core, 100% of its GPU, when the machine has a core to give it; on a
  // loaded machine it gets less, so wait for a sample that shows a clear share of it. GPU 0 runs
  // nothing and must be idle in every sample.
  std::vector<GpuSample> samples;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    std::this_thread::sleep_for(300ms);
    samples = Sample();
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[0].utilization_percent, 0);
    EXPECT_EQ(samples[0].memory_used_mib, 0);
  } while (samples[1].utilization_percent < 40 && std::chrono::steady_clock::now() < deadline);
  EXPECT_GE(samples[1].utilization_percent, 40);
  EXPECT_GT(samples[1].temperature_c, samples[0].temperature_c);
  EXPECT_GT(samples[1].power_milliwatts, samples[0].power_milliwatts);
  EXPECT_LT(samples[2].utilization_percent, 20);  // sleeping
  EXPECT_GT(samples[1].memory_used_mib + samples[2].memory_used_mib, 0);

  // Once stopped, every GPU is idle again.
  ASSERT_TRUE(executor_->Stop("job_busy", 0ms).has_value());
  ASSERT_TRUE(executor_->Stop("job_sleepy", 0ms).has_value());
  deadline = std::chrono::steady_clock::now() + 10s;
  bool ended = false;
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    ended = true;
    for (const auto& [id, status] : executor_->Poll()) {
      ended &= status.state == State::kExited || status.state == State::kLost;
    }
    if (!ended) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(ended);
  for (const auto& s : Sample()) {
    EXPECT_EQ(s.utilization_percent, 0) << s.index;
    EXPECT_EQ(s.memory_used_mib, 0) << s.index;
  }
}

}  // namespace
}  // namespace hangar::agent
