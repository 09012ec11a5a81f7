// RateLimiter: token buckets keyed by who is calling (an API key, a client address), for the
// gateway's rate limiting and the RateLimit / RateLimit-Policy response headers
// (draft-ietf-httpapi-ratelimit-headers).
//
// A bucket holds up to `burst` tokens and refills at `per_second`; each request takes one. Time
// comes from the injected Clock, so tests drive refills exactly. Buckets live in 64 shards, each
// with its own mutex, so concurrent requests for different callers rarely share a lock; a shard
// drops buckets that have been full (idle) for a while, bounding memory by the active callers.
//
// Thread-safety: Take() may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace hangar::gateway {

struct RateLimitPolicy {
  std::string name;       // in RateLimit-Policy: "per-key", "per-address"
  double per_second = 0;  // refill rate; 0 disables the limit
  int64_t burst = 0;      // bucket size: requests allowed at once
  bool enabled() const { return per_second > 0 && burst > 0; }
};

struct RateDecision {
  bool allowed = true;
  int64_t remaining = 0;            // whole tokens left after this request
  int64_t reset_seconds = 0;        // until the bucket is full again
  int64_t retry_after_seconds = 0;  // when refused: until one token is back
};

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}

  // Takes one token from `key`'s bucket under `policy` (which must be enabled).
  RateDecision Take(std::string_view key, const RateLimitPolicy& policy);

  // The RateLimit-Policy and RateLimit header values for a decision.
  static std::string PolicyHeader(const RateLimitPolicy& policy);
  static std::string StateHeader(const RateLimitPolicy& policy, const RateDecision& decision);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_us = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // guarded by mu
  };
  static constexpr size_t kShards = 64;
  static constexpr size_t kSweepAbove = 4096;  // buckets per shard before idle ones are dropped

  const Clock& clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace hangar::gateway
