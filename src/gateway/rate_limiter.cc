#include "gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace hangar::gateway {

namespace {
int64_t CeilSeconds(double seconds) {
  return std::max<int64_t>(0, static_cast<int64_t>(std::ceil(seconds - 1e-9)));
}
}  // namespace

RateDecision RateLimiter::Take(std::string_view key, const RateLimitPolicy& policy) {
  const int64_t now_us = ToUnixMicros(clock_.Now());
  const double capacity = static_cast<double>(policy.burst);
  Shard& shard = shards_[std::hash<std::string_view>()(key) % kShards];
  std::lock_guard lock(shard.mu);
  if (shard.buckets.size() > kSweepAbove) {
    // A bucket that has had time to refill completely is the same as no bucket: drop it.
    const double full_after_us = capacity / policy.per_second * 1e6;
    std::erase_if(shard.buckets, [&](const auto& kv) {
      return static_cast<double>(now_us - kv.second.updated_us) >= full_after_us;
    });
  }
  auto [it, inserted] = shard.buckets.try_emplace(std::string(key), Bucket{capacity, now_us});
  Bucket& bucket = it->second;
  if (!inserted) {
    double elapsed = static_cast<double>(std::max<int64_t>(0, now_us - bucket.updated_us)) / 1e6;
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed * policy.per_second);
    bucket.updated_us = now_us;
  }
  RateDecision decision;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
  } else {
    decision.allowed = false;
    decision.retry_after_seconds =
        std::max<int64_t>(1, CeilSeconds((1.0 - bucket.tokens) / policy.per_second));
  }
  decision.remaining = static_cast<int64_t>(std::floor(bucket.tokens));
  decision.reset_seconds = CeilSeconds((capacity - bucket.tokens) / policy.per_second);
  return decision;
}

std::string RateLimiter::PolicyHeader(const RateLimitPolicy& policy) {
  // q requests per window w (seconds): the burst, refilled over burst / rate seconds.
  int64_t window =
      std::max<int64_t>(1, CeilSeconds(static_cast<double>(policy.burst) / policy.per_second));
  return "\"" + policy.name + "\";q=" + std::to_string(policy.burst) +
         ";w=" + std::to_string(window);
}

std::string RateLimiter::StateHeader(const RateLimitPolicy& policy, const RateDecision& d) {
  return "\"" + policy.name + "\";r=" + std::to_string(d.remaining) +
         ";t=" + std::to_string(d.reset_seconds);
}

}  // namespace hangar::gateway
