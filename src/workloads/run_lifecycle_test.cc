// Metering arithmetic: what a workload accrues while it holds GPUs.
#include "workloads/run_lifecycle.h"

#include <gtest/gtest.h>

#include "common/json_codec.h"

namespace hangar::workloads {
namespace {

store::WorkloadRecord Placed(int64_t price_per_hour, std::vector<int64_t> gpus, int64_t milli) {
  api::SubmitJobRequest spec{.command = {"true"},
                             .resources = api::JobResources{.gpus = 1, .gpu_milli = milli}};
  return store::WorkloadRecord{.state = store::WorkloadState::running,
                               .spec_json = json::Serialize(spec),
                               .gpu_indexes = std::move(gpus),
                               .scheduled_at = Timestamp(std::chrono::seconds(1000)),
                               .hourly_price_micros = price_per_hour};
}

TEST(MeteringTest, AccruesPricePerHourAndGpuTimeWhileHoldingGpus) {
  auto r = Placed(3'600'000, {0, 1}, 1000);  // 3.60 an hour: 1,000 micro-units a second
  Timestamp t0(std::chrono::seconds(1000));
  auto at10 = MeteredAt(r, t0 + std::chrono::seconds(10));
  EXPECT_EQ(at10.cost_micros, 10'000);
  EXPECT_EQ(at10.gpu_milli_seconds, 20'000);  // two whole GPUs for 10 s
  EXPECT_EQ(r.cost_micros, 0);                // reading does not change the record

  Accrue(r, t0 + std::chrono::seconds(10));
  EXPECT_EQ(r.cost_micros, 10'000);
  EXPECT_EQ(*r.billed_until, t0 + std::chrono::seconds(10));
  // The next segment starts where the last ended: nothing is counted twice.
  Accrue(r, t0 + std::chrono::seconds(15));
  EXPECT_EQ(r.cost_micros, 15'000);
  EXPECT_EQ(r.gpu_milli_seconds, 30'000);
}

TEST(MeteringTest, ASharePaysItsShareAndNothingAccruesWhenNotPlaced) {
  auto shared = Placed(1'800'000, {3}, 250);  // the scheduler priced the quarter: 0.45 an hour
  auto m = MeteredAt(shared, Timestamp(std::chrono::seconds(1000 + 3600)));
  EXPECT_EQ(m.cost_micros, 1'800'000);
  EXPECT_EQ(m.gpu_milli_seconds, 250 * 3600);

  auto stopped = Placed(3'600'000, {0}, 1000);
  stopped.state = store::WorkloadState::stopped;
  stopped.cost_micros = 42;
  Accrue(stopped, Timestamp(std::chrono::seconds(5000)));
  EXPECT_EQ(stopped.cost_micros, 42);
  EXPECT_EQ(MeteredAt(stopped, Timestamp(std::chrono::seconds(9000))).cost_micros, 42);
}

}  // namespace
}  // namespace hangar::workloads
