// Scheduling core: one full pass at the scale issue 4 names. 1,250 nodes x 8 GPUs (10,000 GPUs,
// 9,000 busy), 100 projects in 10 teams with guarantees and limits, 3 priority classes, and
// 100,000 pending jobs sized like the shared Alibaba trace (about 44 % shared-GPU requests,
// mostly single GPUs, a few 2/4/8-GPU jobs) plus 2 % multi-node gangs.
#include <benchmark/benchmark.h>

#include <random>

#include "scheduling/scheduler.h"

namespace hangar::scheduling {
namespace {

struct Scenario {
  ClusterSnapshot cluster;
  std::vector<Workload> pending;
  std::vector<Queue> queues;
};

Scenario Build(int nodes, int busy_gpus, int jobs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Scenario s;
  s.cluster.gpu_types = {"H100-80GB"};
  for (int n = 0; n < nodes; ++n) {
    Node node{.id = "node-" + std::to_string(n),
              .cpu_milli_free = 96000,
              .memory_mib_free = 384 * 1024,
              .cuda_version = 12040};
    node.gpus.assign(8, Gpu{.type = 0, .memory_mib = 81920});
    s.cluster.nodes.push_back(std::move(node));
  }
  for (int b = 0; b < busy_gpus;) {
    Gpu& g = s.cluster.nodes[pick(0, nodes - 1)].gpus[pick(0, 7)];
    if (g.free_milli == kWholeGpu) {
      g.free_milli = 0;
      ++b;
    }
  }
  s.queues.push_back(Queue{.id = "org"});
  for (int t = 0; t < 10; ++t) {
    s.queues.push_back(Queue{.id = "team-" + std::to_string(t),
                             .parent = 0,
                             .guaranteed_milli = 800'000,
                             .limit_milli = 1'500'000,
                             .weight = 1.0 + t % 3});
  }
  for (int p = 0; p < 100; ++p) {
    s.queues.push_back(Queue{.id = "proj-" + std::to_string(p),
                             .parent = static_cast<uint32_t>(1 + p % 10),
                             .decayed_usage = static_cast<double>(pick(0, 1000))});
  }
  const Timestamp t0 = FromUnixMicros(1'795'000'000'000'000);
  for (int j = 0; j < jobs; ++j) {
    Workload w;
    w.id = "job-" + std::to_string(j);
    w.queue = static_cast<uint32_t>(11 + pick(0, 99));
    w.priority = pick(0, 2) * 100;
    w.submitted_at = t0 + std::chrono::seconds(pick(0, 86400));
    int kind = pick(0, 99);
    if (kind < 44) {
      w.request.gpu_milli = std::vector<int>{810, 470, 320, 650, 250, 500}[pick(0, 5)];
    } else if (kind < 96) {
      w.request.gpus_per_node = std::vector<int>{1, 1, 1, 1, 2, 4, 8}[pick(0, 6)];
    } else if (kind < 98) {
      w.request.gpus_per_node = 8;
    } else {
      w.request.gpus_per_node = 8;
      w.request.nodes = pick(2, 4);
    }
    if (pick(0, 9) < 6) w.run_time_limit = std::chrono::minutes(pick(10, 600));
    s.pending.push_back(std::move(w));
  }
  return s;
}

void BM_FullPass(benchmark::State& state) {
  Scenario s = Build(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                     static_cast<int>(state.range(2)), 42);
  size_t placed = 0;
  for (auto _ : state) {
    Decisions d = Schedule(s.cluster, s.pending, {}, s.queues, FromUnixMicros(0));
    placed = d.placements.size();
    benchmark::DoNotOptimize(d);
  }
  state.counters["placed"] = static_cast<double>(placed);
  state.counters["pending"] = static_cast<double>(s.pending.size());
}
// nodes, busy GPUs, pending jobs
BENCHMARK(BM_FullPass)
    ->Args({1250, 9000, 100'000})
    ->Args({1250, 9000, 10'000})
    ->Args({1250, 0, 10'000})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hangar::scheduling

BENCHMARK_MAIN();
