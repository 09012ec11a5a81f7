#include "telemetry/process_metrics.h"

#include <gtest/gtest.h>

namespace hangar::telemetry {
namespace {

TEST(ProcessMetricsTest, ParsesProcStatWhoseCommandHoldsSpacesAndParentheses) {
  // Fields 14/15 (utime, stime) = 250/150 ticks, 22 (starttime) = 1000, 23 (vsize), 24 (rss).
  std::string line =
      "4242 (hangard (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 1000 "
      "123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
  auto stat = ParseProcStat(line, 100, 4096);
  ASSERT_TRUE(stat);
  EXPECT_DOUBLE_EQ(stat->cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(stat->start_seconds_after_boot, 10.0);
  EXPECT_DOUBLE_EQ(stat->virtual_memory_bytes, 123456789);
  EXPECT_DOUBLE_EQ(stat->resident_memory_bytes, 2048.0 * 4096);
}

TEST(ProcessMetricsTest, RejectsTruncatedStat) {
  EXPECT_FALSE(ParseProcStat("42 (x) S 1 2 3", 100, 4096));
  EXPECT_FALSE(ParseProcStat("garbage", 100, 4096));
}

TEST(ProcessMetricsTest, FindsBootTime) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000.0);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n"));
}

TEST(ProcessMetricsTest, CollectorReportsThisProcess) {
  Registry registry;
  AddProcessCollector(registry);
  std::string text = registry.Text();
  for (const char* family : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                             "process_virtual_memory_bytes ", "process_start_time_seconds ",
                             "process_open_fds ", "process_max_fds "}) {
    EXPECT_NE(text.find(std::string("\n") + family), std::string::npos) << family << "\n" << text;
  }
}

}  // namespace
}  // namespace hangar::telemetry
