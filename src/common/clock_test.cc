#include "common/clock.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(ClockTest, FormatsRfc3339InUtcWithMicrosOnlyWhenPresent) {
  Timestamp t = FromUnixMicros(1'795'000'000'000'000);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-18T11:06:40Z");
  EXPECT_EQ(FormatRfc3339(t + Micros(1500)), "2026-11-18T11:06:40.001500Z");
}

TEST(ClockTest, ParsesWhatItFormatsAndOffsets) {
  Timestamp t = FromUnixMicros(1'795'000'000'123'456);
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  EXPECT_EQ(ParseRfc3339("2026-11-18T13:06:40+02:00"), FromUnixMicros(1'795'000'000'000'000));
}

TEST(ClockTest, RejectsMalformedTimes) {
  for (const char* bad :
       {"", "2026-11-18", "2026-13-01T00:00:00Z", "2026-11-18T08:26:40", "2026-11-18T11:06:40Zjunk",
        "2026-02-30T00:00:00Z", "x026-11-18T08:26:40Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(FromUnixMicros(1000));
  EXPECT_EQ(clock.Now(), FromUnixMicros(1000));
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(clock.Now(), FromUnixMicros(2'001'000));
}

}  // namespace
}  // namespace hangar
