// Tests for the packing experiment: seed parsing, the deterministic bounded draw, the workload
// sample (same seed, same sample; the FGD shape; the stop rule), pod-to-request mapping, and
// small packing runs on hand-made clusters whose outcome can be worked out by hand.
#include "packing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cluster.h"

namespace hangar::sim {
namespace {

TracePod Pod(std::string name, int32_t num_gpu, int32_t gpu_milli, int64_t cpu_milli = 1000,
             int64_t memory_mib = 1024) {
  TracePod pod;
  pod.name = std::move(name);
  pod.num_gpu = num_gpu;
  pod.gpu_milli = gpu_milli;
  pod.cpu_milli = cpu_milli;
  pod.memory_mib = memory_mib;
  return pod;
}

// 100 pods: shares, whole GPUs, multi-GPU and CPU-only, like the trace's mix.
std::vector<TracePod> MixedPods() {
  std::vector<TracePod> pods;
  for (int i = 0; i < 100; ++i) {
    std::string name = "p" + std::to_string(i);
    switch (i % 5) {
      case 0:
        pods.push_back(Pod(name, 0, 0));
        break;
      case 1:
        pods.push_back(Pod(name, 1, 810));
        break;
      case 2:
        pods.push_back(Pod(name, 1, 470));
        break;
      case 3:
        pods.push_back(Pod(name, 1, 1000));
        break;
      default:
        pods.push_back(Pod(name, i % 2 ? 2 : 4, 1000));
    }
  }
  return pods;
}

int64_t SumGpu(const std::vector<TracePod>& pods, const std::vector<uint32_t>& order) {
  int64_t total = 0;
  for (uint32_t i : order) total += pods[i].TotalGpuMilli();
  return total;
}

TEST(PackingTest, ParsesSeeds) {
  EXPECT_EQ(*ParseSeeds("42-51"), (std::vector<uint64_t>{42, 43, 44, 45, 46, 47, 48, 49, 50, 51}));
  EXPECT_EQ(*ParseSeeds("7"), (std::vector<uint64_t>{7}));
  EXPECT_EQ(*ParseSeeds("1-3,9"), (std::vector<uint64_t>{1, 2, 3, 9}));
  EXPECT_FALSE(ParseSeeds(""));
  EXPECT_FALSE(ParseSeeds("5-3"));
  EXPECT_FALSE(ParseSeeds("a"));
  EXPECT_FALSE(ParseSeeds("1,,2"));
  EXPECT_FALSE(ParseSeeds("0-100000"));
  EXPECT_FALSE(ParseSeeds("-3"));
}

TEST(PackingTest, ParsesPolicies) {
  for (Policy policy : {Policy::kBestFit, Policy::kFgd, Policy::kRandom}) {
    EXPECT_EQ(*ParsePolicy(PolicyName(policy)), policy);
  }
  EXPECT_EQ(PolicyName(Policy::kFgd), "fgd");
  EXPECT_FALSE(ParsePolicy("first-fit"));
}

TEST(PackingTest, FgdKeepsSharesUsableWhereBestFitStrandsThem) {
  // One node, GPUs 0 and 1. The trace is mostly 600-milli pods, so the mix expects them. A 400
  // arrives when GPU 0 has 700 free and GPU 1 is idle: best fit puts it on GPU 0 (300 left, of
  // no use to a 600), fgd on GPU 1 (600 left). Then two 600s arrive: fgd fits both.
  const GpuModel models[] = {{"X", 16384}};
  const NodeShape shapes[] = {{"X", 2, 64000, 65536, 1}};
  std::vector<TracePod> pods = {Pod("first", 1, 300), Pod("small", 1, 400), Pod("a", 1, 600),
                                Pod("b", 1, 600)};
  for (int i = 0; i < 8; ++i) pods.push_back(Pod("mix" + std::to_string(i), 1, 600));
  const std::vector<uint32_t> order = {0, 1, 2, 3};
  auto best_fit = Pack(*BuildCluster(shapes, models), pods, order, Policy::kBestFit, 1);
  auto fgd = Pack(*BuildCluster(shapes, models), pods, order, Policy::kFgd, 1);
  ASSERT_TRUE(best_fit && fgd);
  EXPECT_EQ(best_fit->pods_placed, 3);  // 300 + 400 on GPU 0, a on GPU 1; b does not fit
  EXPECT_EQ(best_fit->allocated_milli, 1300);
  EXPECT_EQ(fgd->pods_placed, 4);  // 300 + b on GPU 0, 400 + a on GPU 1
  EXPECT_EQ(fgd->allocated_milli, 1900);
}

TEST(PackingTest, UniformBelowIsBoundedAndCoversTheRange) {
  std::mt19937_64 rng(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = UniformBelow(rng, 7);
    ASSERT_LT(x, 7u);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(UniformBelow(rng, 1), 0u);
}

TEST(PackingTest, UniformBelowIsFixedByTheEngine) {
  // The standard fixes the engine's sequence ([rand.predef]: the 10,000th output of a
  // default-constructed mt19937_64), and for a small n UniformBelow rejects a draw about once in
  // 10^16, so its draws are the engine's outputs modulo n with every standard library.
  std::mt19937_64 standard;
  standard.discard(9999);
  EXPECT_EQ(standard(), 9981545732273789042ull);
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(UniformBelow(a, 1000), b() % 1000);
}

TEST(PackingTest, SameSeedGivesTheSameSample) {
  std::vector<TracePod> pods = MixedPods();
  for (Sampling sampling : {Sampling::kFgd, Sampling::kIid}) {
    auto a = SampleWorkload(pods, 200'000, 42, sampling);
    auto b = SampleWorkload(pods, 200'000, 42, sampling);
    auto c = SampleWorkload(pods, 200'000, 43, sampling);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(*a, *b) << SamplingName(sampling);
    EXPECT_NE(*a, *c) << SamplingName(sampling);
  }
}

TEST(PackingTest, SamplesArePinned) {
  // Pins the documented algorithm (docs/simulator.md): a change here changes every published
  // hangar-sim figure, so it must be deliberate. Pod i asks for (i + 1) x 100 milli-GPU.
  std::vector<TracePod> pods;
  for (int i = 0; i < 10; ++i) pods.push_back(Pod(std::to_string(i), 1, 100 * (i + 1)));
  // All ten shuffled (5,500), then draws until the next would pass 8,000.
  EXPECT_EQ(*SampleWorkload(pods, 8000, 42, Sampling::kFgd),
            (std::vector<uint32_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6, 7, 5, 2, 2}));
  EXPECT_EQ(*SampleWorkload(pods, 3000, 42, Sampling::kIid),
            (std::vector<uint32_t>{6, 4, 0, 2, 1, 8}));
}

TEST(PackingTest, FgdSamplingShufflesEveryPodThenTopsUp) {
  std::vector<TracePod> pods = MixedPods();
  int64_t trace_total = SumGpu(pods, [&] {
    std::vector<uint32_t> all(pods.size());
    for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }());
  const int64_t target = trace_total * 13 / 10;
  auto order = SampleWorkload(pods, target, 42, Sampling::kFgd);
  ASSERT_TRUE(order);
  // The first pods.size() entries are a permutation of the trace.
  ASSERT_GT(order->size(), pods.size());
  std::vector<uint32_t> head(order->begin(), order->begin() + pods.size());
  std::sort(head.begin(), head.end());
  for (uint32_t i = 0; i < head.size(); ++i) ASSERT_EQ(head[i], i);
  EXPECT_FALSE(std::is_sorted(order->begin(), order->begin() + pods.size()));
  // Stops below the target, and within the largest pod (4 GPUs) of it.
  int64_t total = SumGpu(pods, *order);
  EXPECT_LE(total, target);
  EXPECT_GT(total, target - 4000);
}

TEST(PackingTest, FgdSamplingTrimsATraceAboveTheTarget) {
  std::vector<TracePod> pods = MixedPods();
  auto order = SampleWorkload(pods, 20'000, 42, Sampling::kFgd);
  ASSERT_TRUE(order);
  EXPECT_LT(order->size(), pods.size());
  EXPECT_LE(SumGpu(pods, *order), 20'000);
  std::set<uint32_t> unique(order->begin(), order->end());
  EXPECT_EQ(unique.size(), order->size());
}

TEST(PackingTest, IidSamplingDrawsWithReplacement) {
  std::vector<TracePod> pods = MixedPods();
  auto order = SampleWorkload(pods, 500'000, 7, Sampling::kIid);
  ASSERT_TRUE(order);
  std::set<uint32_t> unique(order->begin(), order->end());
  EXPECT_LT(unique.size(), order->size());  // repeats
  EXPECT_LE(SumGpu(pods, *order), 500'000);
  EXPECT_GT(SumGpu(pods, *order), 500'000 - 4000);
}

TEST(PackingTest, SamplingNeedsAGpuPodToReachAGpuTarget) {
  std::vector<TracePod> cpu_only = {Pod("c", 0, 0)};
  EXPECT_FALSE(SampleWorkload(cpu_only, 1000, 1, Sampling::kIid));
  auto none = SampleWorkload(cpu_only, 0, 1, Sampling::kIid);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(PackingTest, RequestForMapsPodsToSingleNodeRequests) {
  scheduling::ClusterSnapshot cluster = OpenbCluster();
  auto shared = RequestFor(Pod("s", 1, 470, 6000, 12288), cluster);
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->nodes, 1);
  EXPECT_EQ(shared->gpus_per_node, 1);
  EXPECT_EQ(shared->gpu_milli, 470);
  EXPECT_EQ(shared->cpu_milli, 6000);
  EXPECT_EQ(shared->memory_mib, 12288);
  EXPECT_TRUE(shared->gpu_types.empty());

  auto eight = RequestFor(Pod("w", 8, 1000), cluster);
  ASSERT_TRUE(eight);
  EXPECT_EQ(eight->TotalGpuMilli(), 8000);

  auto cpu = RequestFor(Pod("c", 0, 0, 4000, 2048), cluster);
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->gpus_per_node, 0);
  EXPECT_EQ(cpu->TotalGpuMilli(), 0);
  EXPECT_EQ(cpu->cpu_milli, 4000);

  TracePod typed = Pod("t", 1, 1000);
  typed.gpu_spec = {"T4", "V100M32"};
  auto t = RequestFor(typed, cluster);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->gpu_types.size(), 2u);
  EXPECT_EQ(cluster.gpu_types[t->gpu_types[0]], "T4");
  EXPECT_EQ(cluster.gpu_types[t->gpu_types[1]], "V100M32");
  typed.gpu_spec = {"H100"};
  EXPECT_FALSE(RequestFor(typed, cluster));
}

// Two nodes of two GPUs each: 4,000 milli-GPU.
scheduling::ClusterSnapshot TwoByTwo(int64_t cpu_milli = 8000) {
  const GpuModel models[] = {{"X", 16384}};
  const NodeShape shapes[] = {{"X", 2, cpu_milli, 65536, 2}};
  return *BuildCluster(shapes, models);
}

std::vector<uint32_t> InOrder(size_t n) {
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  return order;
}

TEST(PackingTest, BestFitPacksSharesTogetherAndKeepsANodeWholeForTheGang) {
  // Best fit puts both halves on one GPU, so the 2-GPU pod still finds a whole node and the
  // cluster fills completely; the 600-milli pod that arrives last finds no room.
  std::vector<TracePod> pods = {Pod("half-a", 1, 500), Pod("half-b", 1, 500), Pod("pair", 2, 1000),
                                Pod("one", 1, 1000),   Pod("late", 1, 600),   Pod("cpu", 0, 0)};
  scheduling::ClusterSnapshot cluster = TwoByTwo();
  auto result = Pack(cluster, pods, InOrder(pods.size()), Policy::kBestFit, 42);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->capacity_milli, 4000);
  EXPECT_EQ(result->arrived_milli, 4600);
  EXPECT_EQ(result->pods_submitted, 6);
  EXPECT_EQ(result->pods_placed, 5);
  EXPECT_EQ(result->gpu_pods_skipped, 1);
  EXPECT_EQ(result->cpu_pods_skipped, 0);
  EXPECT_EQ(result->gpu_pods_skipped_for_cpu_or_memory, 0);  // "late" lacked a GPU share
  EXPECT_EQ(result->cpu_pods_on_gpu_nodes, 1);
  ASSERT_TRUE(result->allocation_at_full.has_value());
  EXPECT_DOUBLE_EQ(*result->allocation_at_full, 1.0);  // after "one": 4,000 arrived
  EXPECT_DOUBLE_EQ(result->allocation_at_end, 1.0);
  EXPECT_EQ(result->allocated_milli, 4000);
  // Pack works on its own copy.
  EXPECT_EQ(scheduling::MeasureCapacity(cluster).allocated_milli, 0);
}

TEST(PackingTest, CpuOnlyPodsTakeCpuThatGpuPodsThenLack) {
  // One node, 2 GPUs, 2 cores: the CPU-only pod takes 1.5 cores, so the GPU pod asking for one
  // core does not fit although its GPU is idle.
  const GpuModel models[] = {{"X", 16384}};
  const NodeShape shapes[] = {{"X", 2, 2000, 65536, 1}};
  std::vector<TracePod> pods = {Pod("cpu", 0, 0, 1500), Pod("gpu", 1, 1000, 1000)};
  for (Policy policy : {Policy::kBestFit, Policy::kFgd, Policy::kRandom}) {
    auto result = Pack(*BuildCluster(shapes, models), pods, InOrder(2), policy, 1);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->pods_placed, 1) << PolicyName(policy);
    EXPECT_EQ(result->gpu_pods_skipped, 1) << PolicyName(policy);
    EXPECT_EQ(result->gpu_pods_skipped_for_cpu_or_memory, 1);
    EXPECT_EQ(result->cpu_pods_on_gpu_nodes, 1);
    EXPECT_DOUBLE_EQ(result->allocation_at_end, 0.0);
    EXPECT_FALSE(result->allocation_at_full.has_value());  // 1,000 of 2,000 arrived
  }
}

TEST(PackingTest, RandomPlacesOnlyWhereThePodFits) {
  scheduling::ClusterSnapshot cluster = TwoByTwo();
  // Fill node 0 completely: every later 1-GPU pod must land on node 1.
  scheduling::Request whole_pair;
  whole_pair.gpus_per_node = 2;
  scheduling::Apply(cluster, {scheduling::Allocation::Slice{0, {0, 1}, 1000}}, whole_pair);
  scheduling::Request one;
  one.gpus_per_node = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    auto slices = PlaceRandomly(cluster, one, rng);
    ASSERT_TRUE(slices);
    ASSERT_EQ(slices->size(), 1u);
    EXPECT_EQ((*slices)[0].node, 1u);
    EXPECT_EQ((*slices)[0].gpus, (std::vector<uint16_t>{0}));
  }
  // A share goes on a GPU drawn among those it fits on: both for 500, only the idle one for 700.
  cluster.nodes[1].gpus[1].free_milli = 600;
  scheduling::Request share;
  share.gpus_per_node = 1;
  share.gpu_milli = 500;
  std::set<uint16_t> chosen;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50; ++i) {
    auto slices = PlaceRandomly(cluster, share, rng);
    ASSERT_TRUE(slices);
    ASSERT_EQ((*slices)[0].gpus.size(), 1u);
    EXPECT_EQ((*slices)[0].gpu_milli, 500);
    chosen.insert((*slices)[0].gpus[0]);
  }
  EXPECT_EQ(chosen, (std::set<uint16_t>{0, 1}));
  share.gpu_milli = 700;
  for (int i = 0; i < 20; ++i) {
    auto slices = PlaceRandomly(cluster, share, rng);
    ASSERT_TRUE(slices);
    EXPECT_EQ((*slices)[0].gpus, (std::vector<uint16_t>{0}));
  }
  // Nothing fits a 3-GPU pod.
  scheduling::Request three;
  three.gpus_per_node = 3;
  EXPECT_FALSE(PlaceRandomly(cluster, three, rng));
}

TEST(PackingTest, PackIsDeterministicPerSeedAndKeepsItsBooks) {
  std::vector<TracePod> pods = MixedPods();
  scheduling::ClusterSnapshot cluster = TwoByTwo();
  for (int i = 0; i < 3; ++i) cluster.nodes.push_back(cluster.nodes[i % 2]);
  auto order = SampleWorkload(pods, 10'000, 5, Sampling::kIid);
  ASSERT_TRUE(order);
  for (Policy policy : {Policy::kBestFit, Policy::kFgd, Policy::kRandom}) {
    auto a = Pack(cluster, pods, *order, policy, 5);
    auto b = Pack(cluster, pods, *order, policy, 5);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->allocated_milli, b->allocated_milli) << PolicyName(policy);
    EXPECT_EQ(a->pods_placed, b->pods_placed);
    EXPECT_EQ(a->pods_submitted, static_cast<int64_t>(order->size()));
    EXPECT_EQ(a->pods_placed + a->gpu_pods_skipped + a->cpu_pods_skipped, a->pods_submitted);
    EXPECT_LE(a->allocated_milli, a->capacity_milli);
    EXPECT_GT(a->allocated_milli, 0);
  }
}

}  // namespace
}  // namespace hangar::sim
