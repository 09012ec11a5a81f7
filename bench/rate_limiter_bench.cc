// The gateway's rate limiter on the request path: one Take() per request. Goal (issue 3): well
// under a microsecond, without serialising all callers on one lock.
#include <benchmark/benchmark.h>

#include <string>

#include "gateway/rate_limiter.h"

namespace hangar::gateway {
namespace {

SystemClock clock_for_bench;
RateLimiter limiter(clock_for_bench);
const RateLimitPolicy kPolicy{"per-key", 1e9, 1'000'000'000};  // never refuses: measure the cost

// Each thread is its own caller (the common case: many API keys at once).
void BM_TakeOwnKey(benchmark::State& state) {
  std::string key = "key:bench_" + std::to_string(state.thread_index());
  for (auto _ : state) benchmark::DoNotOptimize(limiter.Take(key, kPolicy));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TakeOwnKey)->Threads(1)->Threads(8)->UseRealTime();

// Every thread on one key: the worst case, one shard's lock.
void BM_TakeSharedKey(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(limiter.Take("key:shared", kPolicy));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TakeSharedKey)->Threads(1)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace hangar::gateway

BENCHMARK_MAIN();
