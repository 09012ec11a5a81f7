#include "gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace hangar::gateway {
namespace {

const RateLimitPolicy kPolicy{"per-key", 10.0, 5};  // 10/s, bursts of 5

TEST(RateLimiterTest, AllowsTheBurstThenRefusesWithRetryAfter) {
  FakeClock clock(FromUnixMicros(1'000'000'000'000));
  RateLimiter limiter(clock);
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.Take("key_a", kPolicy);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
  }
  auto refused = limiter.Take("key_a", kPolicy);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_seconds, 1);
  EXPECT_EQ(refused.reset_seconds, 1);  // 5 tokens at 10/s
}

TEST(RateLimiterTest, RefillsWithTheClockUpToTheBurst) {
  FakeClock clock(FromUnixMicros(1'000'000'000'000));
  RateLimiter limiter(clock);
  for (int i = 0; i < 5; ++i) limiter.Take("key_a", kPolicy);
  EXPECT_FALSE(limiter.Take("key_a", kPolicy).allowed);
  clock.Advance(std::chrono::milliseconds(100));  // one token
  EXPECT_TRUE(limiter.Take("key_a", kPolicy).allowed);
  EXPECT_FALSE(limiter.Take("key_a", kPolicy).allowed);
  clock.Advance(std::chrono::seconds(60));  // refill caps at the burst
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Take("key_a", kPolicy).allowed);
  EXPECT_FALSE(limiter.Take("key_a", kPolicy).allowed);
}

TEST(RateLimiterTest, CallersHaveTheirOwnBuckets) {
  FakeClock clock(FromUnixMicros(1'000'000'000'000));
  RateLimiter limiter(clock);
  for (int i = 0; i < 5; ++i) limiter.Take("key_a", kPolicy);
  EXPECT_FALSE(limiter.Take("key_a", kPolicy).allowed);
  EXPECT_TRUE(limiter.Take("key_b", kPolicy).allowed);
}

TEST(RateLimiterTest, ConcurrentTakersNeverGetMoreThanTheBurst) {
  FakeClock clock(FromUnixMicros(1'000'000'000'000));
  RateLimiter limiter(clock);
  RateLimitPolicy policy{"per-key", 1.0, 1000};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) allowed += limiter.Take("shared", policy).allowed ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(RateLimiterTest, HeadersFollowTheIetfDraft) {
  RateDecision d{.allowed = true, .remaining = 3, .reset_seconds = 1};
  EXPECT_EQ(RateLimiter::PolicyHeader(kPolicy), "\"per-key\";q=5;w=1");
  EXPECT_EQ(RateLimiter::StateHeader(kPolicy, d), "\"per-key\";r=3;t=1");
  EXPECT_EQ(RateLimiter::PolicyHeader({"per-address", 0.5, 30}), "\"per-address\";q=30;w=60");
}

}  // namespace
}  // namespace hangar::gateway
