// Placement alone: 2,000 requests placed and applied in a row, as one scheduling pass does, on
// 1,250 nodes x 8 GPUs with some GPUs busy. Compares the Placer (node index) with the free Place
// (a scan of every node per request), and the Placer with a workload mix (fragmentation score,
// a scan with cached node scores). Requests are sized like scheduler_bench's: about 44 % shared
// GPUs, mostly single GPUs, a few 2/4/8-GPU jobs, 2 % multi-node gangs.
#include <benchmark/benchmark.h>

#include <random>

#include "scheduling/placement.h"

namespace hangar::scheduling {
namespace {

struct Scenario {
  ClusterSnapshot cluster;
  std::vector<Request> requests;
};

Scenario Build(int nodes, int busy_gpus, int requests, uint64_t seed) {
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
  for (int j = 0; j < requests; ++j) {
    Request r;
    int kind = pick(0, 99);
    if (kind < 44) {
      r.gpu_milli = std::vector<int>{810, 470, 320, 650, 250, 500}[pick(0, 5)];
    } else if (kind < 98) {
      r.gpus_per_node = std::vector<int>{1, 1, 1, 1, 2, 4, 8}[pick(0, 6)];
    } else {
      r.gpus_per_node = 8;
      r.nodes = pick(2, 4);
    }
    r.cpu_milli = pick(1, 12) * 1000;
    r.memory_mib = pick(1, 32) * 1024;
    s.requests.push_back(r);
  }
  return s;
}

enum Mode { kFreePlace, kPlacer, kPlacerWithMix };

void BM_PlaceInARow(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(0));
  const Scenario s = Build(1250, static_cast<int>(state.range(1)), 2000, 42);
  const WorkloadMix mix = WorkloadMix::FromRequests(s.requests);
  int64_t placed = 0;
  for (auto _ : state) {
    placed = 0;
    if (mode == kFreePlace) {
      ClusterSnapshot cluster = s.cluster;
      for (const Request& r : s.requests) {
        auto slices = Place(cluster, r);
        if (!slices) continue;
        Apply(cluster, *slices, r);
        ++placed;
      }
      benchmark::DoNotOptimize(cluster);
    } else {
      Placer placer = mode == kPlacer ? Placer(s.cluster) : Placer(s.cluster, mix);
      for (const Request& r : s.requests) {
        auto slices = placer.Place(r);
        if (!slices) continue;
        placer.Apply(*slices, r);
        ++placed;
      }
      benchmark::DoNotOptimize(placer);
    }
  }
  state.counters["placed"] = static_cast<double>(placed);
}
// mode (0 free Place, 1 Placer, 2 Placer with a mix), busy GPUs of 10,000
BENCHMARK(BM_PlaceInARow)
    ->ArgNames({"mode", "busy"})
    ->Args({kFreePlace, 9000})
    ->Args({kPlacer, 9000})
    ->Args({kPlacerWithMix, 9000})
    ->Args({kFreePlace, 0})
    ->Args({kPlacer, 0})
    ->Args({kPlacerWithMix, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hangar::scheduling

BENCHMARK_MAIN();
