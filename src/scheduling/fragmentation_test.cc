// Tests for fragmentation relative to a workload mix, and for placement with a mix: figures worked
// out by hand, and the placements where the fragmentation score and plain best fit disagree.
#include "scheduling/fragmentation.h"

#include <gtest/gtest.h>

#include "scheduling/placement.h"
#include "scheduling/test_cluster.h"

namespace hangar::scheduling {
namespace {

using testing::Job;
using testing::Uniform;

Node GpuNode(std::vector<int32_t> free, int64_t cpu_milli, int64_t memory_mib = 1 << 20) {
  Node node{.id = "n", .cpu_milli_free = cpu_milli, .memory_mib_free = memory_mib};
  for (int32_t f : free) node.gpus.push_back(Gpu{.memory_mib = 81920, .free_milli = f});
  return node;
}

// A: a half GPU with 4 cores; B: a whole GPU with 8 cores; C: two GPUs. Weights 1, 1, 2.
WorkloadMix ThreeShapes() {
  return WorkloadMix{.shapes = {{.gpus = 1, .gpu_milli = 500, .cpu_milli = 4000, .weight = 1},
                                {.gpus = 1, .cpu_milli = 8000, .weight = 1},
                                {.gpus = 2, .weight = 2}}};
}

TEST(FragmentationTest, HandWorkedFigures) {
  // GPUs free 1000, 1000, 300, 600: 2,900 free. With CPU to spare the GPUs decide, as in FGD:
  // usable by A 2,600 (the GPUs with >= 500), by B 2,000 (the idle ones), by C 2,000 (two idle
  // GPUs); expected over weights 1/4, 1/4, 1/2: 2,150.
  struct Case {
    std::string name;
    std::vector<int32_t> free;
    int64_t cpu;
    double fragmentation;
  };
  for (const Case& c : std::vector<Case>{
           {"CPU to spare", {1000, 1000, 300, 600}, 64000, 2900 - 2150},
           // 8 cores: two A (1,000 of GPU) and one B (1,000); C needs no CPU.
           {"CPU for two A or one B",
            {1000, 1000, 300, 600},
            8000,
            2900 - (0.25 * 1000 + 0.25 * 1000 + 0.5 * 2000)},
           // Instances are fractional: 6 cores are 1.5 A (750 of GPU) or 0.75 B (750).
           {"CPU for 1.5 A or 0.75 B",
            {1000, 1000, 300, 600},
            6000,
            2900 - (0.25 * 750 + 0.25 * 750 + 0.5 * 2000)},
           {"no CPU: neither A nor B", {1000, 1000, 300, 600}, 0, 2900 - 0.5 * 2000},
           {"one idle GPU: C cannot use it",
            {1000, 0, 300, 600},
            64000,
            1900 - (0.25 * 1600 + 0.25 * 1000)},
           {"nothing free", {0, 0}, 8000, 0},
           {"a node without GPUs", {}, 8000, 0},
       }) {
    FragmentationModel model(ThreeShapes());
    EXPECT_DOUBLE_EQ(model.Fragmentation(GpuNode(c.free, c.cpu)), c.fragmentation) << c.name;
  }
  // Memory caps like CPU: 100 GiB are 1.5625 B of 64 GiB, 1,562.5 of the 2,000 free.
  WorkloadMix b_only{.shapes = {{.gpus = 1, .memory_mib = 65536}}};
  EXPECT_DOUBLE_EQ(FragmentationModel(b_only).Fragmentation(GpuNode({1000, 1000}, 0, 102400)),
                   437.5);
}

TEST(FragmentationTest, AfterCountsTheRequestsGpusCpuAndMemory) {
  FragmentationModel model(ThreeShapes());
  Node node = GpuNode({1000, 1000, 300, 600}, 64000);
  Request share = Job("s", 1, 300).request;
  // On GPU 3 (600 -> 300): 2,600 free, all usable by A, B and C: 600 fragmented.
  EXPECT_DOUBLE_EQ(model.FragmentationAfter(node, share, std::vector<uint16_t>{3}), 600);
  // On GPU 2 (300 -> 0): usable A 2,600, B 2,000, C 2,000: 450.
  EXPECT_DOUBLE_EQ(model.FragmentationAfter(node, share, std::vector<uint16_t>{2}), 450);
  // Taking 58 cores leaves 6: 1.5 A or 0.75 B, 750 of GPU either way.
  share.cpu_milli = 58000;
  EXPECT_DOUBLE_EQ(model.FragmentationAfter(node, share, std::vector<uint16_t>{2}),
                   2600 - (0.25 * 750 + 0.25 * 750 + 0.5 * 2000));
  // MIG GPUs and unhealthy GPUs are not counted.
  node.gpus[0].mig = true;
  node.gpus[1].healthy = false;
  EXPECT_DOUBLE_EQ(model.Fragmentation(node), 900 - 0.25 * 600);
}

TEST(FragmentationTest, MixFromRequestsCountsShapes) {
  std::vector<Request> requests = {Job("a", 1, 500).request, Job("b", 1, 500).request,
                                   Job("c", 8, kWholeGpu, 3).request, Job("d", 0).request};
  requests[3].cpu_milli = 2000;
  Request mig;
  mig.mig_slices = 2;
  requests.push_back(mig);
  WorkloadMix mix = WorkloadMix::FromRequests(requests);
  ASSERT_EQ(mix.shapes.size(), 3u);
  EXPECT_EQ(mix.shapes[0], (WorkloadMix::Shape{.gpus = 1, .gpu_milli = 500, .weight = 2}));
  EXPECT_EQ(mix.shapes[1], (WorkloadMix::Shape{.gpus = 8, .weight = 1}));
  EXPECT_EQ(mix.shapes[2],
            (WorkloadMix::Shape{.gpus = 0, .gpu_milli = 0, .cpu_milli = 2000, .weight = 1}));
  EXPECT_FALSE(FragmentationModel(WorkloadMix{}).has_gpu_shapes());
  EXPECT_DOUBLE_EQ(FragmentationModel(WorkloadMix{}).Fragmentation(GpuNode({300}, 0)), 0);
}

TEST(FragmentationTest, PlacementWithAMixKeepsCapacityUsableWhereBestFitDoesNot) {
  // Each case: a cluster, a request, a mix, where best fit and the mix put it.
  struct Case {
    std::string name;
    ClusterSnapshot cluster;
    Request request;
    WorkloadMix mix;
    uint32_t best_fit_node;
    uint16_t best_fit_gpu;
    uint32_t mix_node;
    uint16_t mix_gpu;
  };
  std::vector<Case> cases;
  {
    // GPUs free 1000, 800, 500; halves expected. Best fit puts 300 on the 500 GPU, leaving 200
    // no half can use; the mix puts it on the 800 GPU, leaving 500.
    ClusterSnapshot c = Uniform(1, 3);
    c.nodes[0].gpus[1].free_milli = 800;
    c.nodes[0].gpus[2].free_milli = 500;
    cases.push_back({"share", c, Job("s", 1, 300).request,
                     WorkloadMix{.shapes = {{.gpus = 1, .gpu_milli = 500}}}, 0, 2, 0, 1});
  }
  {
    // CPU-only work on GPU nodes: best fit takes the node with the least CPU left, which then
    // cannot host the 10-core GPU work expected; the mix takes the roomier node.
    ClusterSnapshot c = Uniform(2, 1);
    c.nodes[0].cpu_milli_free = 12000;
    c.nodes[1].cpu_milli_free = 20000;
    Request cpu = Job("c", 0).request;
    cpu.cpu_milli = 4000;
    cases.push_back(
        {"cpu-only", c, cpu, WorkloadMix{.shapes = {{.gpus = 1, .cpu_milli = 10000}}}, 0, 0, 1, 0});
  }
  {
    // A whole GPU: best fit prefers the node with fewer idle GPUs left (node 0, 20 cores); with
    // 10-core whole GPUs expected, taking 12 cores there strands its other idle GPU.
    ClusterSnapshot c = Uniform(2, 3);
    c.nodes[0].gpus[0].free_milli = 0;
    c.nodes[0].cpu_milli_free = 20000;
    Request one = Job("w", 1).request;
    one.cpu_milli = 12000;
    cases.push_back(
        {"whole", c, one, WorkloadMix{.shapes = {{.gpus = 1, .cpu_milli = 10000}}}, 0, 1, 1, 0});
  }
  for (const Case& c : cases) {
    auto best_fit = Place(c.cluster, c.request);
    ASSERT_TRUE(best_fit.has_value()) << c.name;
    EXPECT_EQ(best_fit->at(0).node, c.best_fit_node) << c.name;
    auto with_mix = Place(c.cluster, c.request, c.mix);
    ASSERT_TRUE(with_mix.has_value()) << c.name;
    EXPECT_EQ(with_mix->at(0).node, c.mix_node) << c.name;
    if (c.request.gpus_per_node > 0) {
      EXPECT_EQ(best_fit->at(0).gpus.at(0), c.best_fit_gpu) << c.name;
      EXPECT_EQ(with_mix->at(0).gpus.at(0), c.mix_gpu) << c.name;
    }
    auto placer = Placer(c.cluster, c.mix).Place(c.request);
    ASSERT_TRUE(placer.has_value());
    EXPECT_EQ(placer->at(0).node, c.mix_node) << c.name;
  }
}

TEST(FragmentationTest, PreferencesStillComeFirst) {
  ClusterSnapshot c = Uniform(2, 1);
  c.nodes[0].cpu_milli_free = 12000;
  c.nodes[1].cpu_milli_free = 20000;
  Request cpu = Job("c", 0).request;
  cpu.cpu_milli = 4000;
  cpu.preferred_labels = {Label{0, 1}};  // zone a: node 0
  auto p = Place(c, cpu, WorkloadMix{.shapes = {{.gpus = 1, .cpu_milli = 10000}}});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->at(0).node, 0u);
}

}  // namespace
}  // namespace hangar::scheduling
