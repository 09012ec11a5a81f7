// Tests of the OutputBell: who hears a ring, and that a cancelled subscription hears nothing.
#include "workloads/output_bell.h"

#include <gtest/gtest.h>

namespace hangar::workloads {
namespace {

TEST(OutputBellTest, RingsOnlyTheWorkloadsSubscribersUntilTheyCancel) {
  OutputBell bell;
  int a_rings = 0;
  int b_rings = 0;
  auto a = bell.Subscribe("job_a", [&] { ++a_rings; });
  {
    auto b = bell.Subscribe("job_b", [&] { ++b_rings; });
    bell.Ring("job_a");
    bell.Ring("job_b");
    bell.Ring("job_c");
  }
  bell.Ring("job_b");  // b's subscription ended with its scope
  EXPECT_EQ(a_rings, 1);
  EXPECT_EQ(b_rings, 1);
  OutputBell::Subscription moved = std::move(a);
  bell.Ring("job_a");
  EXPECT_EQ(a_rings, 2);
  moved.Cancel();
  bell.Ring("job_a");
  EXPECT_EQ(a_rings, 2);
}

TEST(OutputBellTest, AReportRingsEachWorkloadItTouchesOnce) {
  OutputBell bell;
  int rings = 0;
  auto s = bell.Subscribe("job_01hx", [&] { ++rings; });
  api::NodeReport report;
  report.output.push_back({.run_id = "job_01hx-a1", .stream = "stdout"});
  report.output.push_back({.run_id = "job_01hx-a1", .stream = "stderr"});
  report.runs.push_back({.run_id = "job_01hx-a1", .state = "exited"});
  report.runs.push_back({.run_id = "not a run id", .state = "exited"});
  bell.RingReported(report);
  EXPECT_EQ(rings, 1);
}

}  // namespace
}  // namespace hangar::workloads
