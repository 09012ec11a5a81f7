#include "scheduling/placement.h"

#include <gtest/gtest.h>

#include "scheduling/test_cluster.h"

namespace hangar::scheduling {
namespace {

using testing::Job;
using testing::Uniform;

TEST(PlacementTest, SharedGpuRequestsFillPartlyUsedGpusFirst) {
  ClusterSnapshot c = Uniform(2, 2);
  c.nodes[1].gpus[1].free_milli = 500;  // half used
  auto p = Place(c, Job("j", 1, 400).request);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->at(0).node, 1u);
  EXPECT_EQ(p->at(0).gpus, std::vector<uint16_t>{1});
  Apply(c, *p, Job("j", 1, 400).request);
  EXPECT_EQ(c.nodes[1].gpus[1].free_milli, 100);
  // 200 no longer fits there; the next best is a whole idle GPU on the partly used node.
  auto q = Place(c, Job("k", 1, 200).request);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->at(0).node, 1u);
  EXPECT_EQ(q->at(0).gpus, std::vector<uint16_t>{0});
}

TEST(PlacementTest, WholeGpuRequestsKeepWholeNodesFree) {
  ClusterSnapshot c = Uniform(3, 8);
  c.nodes[2].gpus[0].free_milli = 0;  // node 2 has 7 idle GPUs
  auto p = Place(c, Job("j", 4).request);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->at(0).node, 2u);  // leaves 3 idle there, not 4 on an untouched node
  EXPECT_EQ(p->at(0).gpus, (std::vector<uint16_t>{1, 2, 3, 4}));
  Apply(c, *p, Job("j", 4).request);
  auto eight = Place(c, Job("big", 8).request);
  ASSERT_TRUE(eight.has_value());  // a whole node is still free for it
}

TEST(PlacementTest, GangsAreWholeOrNotAtAll) {
  ClusterSnapshot c = Uniform(3, 8);
  c.nodes[0].gpus[0].free_milli = 0;
  auto gang = Place(c, Job("g", 8, kWholeGpu, 3).request);
  ASSERT_FALSE(gang.has_value());
  EXPECT_EQ(gang.error().code, ReasonCode::kGangIncomplete);
  auto two = Place(c, Job("g2", 8, kWholeGpu, 2).request);
  ASSERT_TRUE(two.has_value());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_NE(two->at(0).node, two->at(1).node);
}

TEST(PlacementTest, ConstraintsFilterNodesAndSayWhy) {
  ClusterSnapshot c = Uniform(2, 2);
  Request t4 = Job("t4", 1).request;
  t4.gpu_types = {1};
  auto p = Place(c, t4);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, ReasonCode::kNoFeasibleNode);

  Request zone_b = Job("b", 1).request;
  zone_b.required_labels = {Label{0, 2}};
  auto b = Place(c, zone_b);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->at(0).node, 1u);

  Request big_memory = Job("m", 1).request;
  big_memory.min_gpu_memory_mib = 100'000;
  EXPECT_EQ(Place(c, big_memory).error().code, ReasonCode::kNoFeasibleNode);

  Request cuda13 = Job("c", 1).request;
  cuda13.min_cuda_version = 13000;
  EXPECT_EQ(Place(c, cuda13).error().code, ReasonCode::kNoFeasibleNode);

  Request busy = Job("x", 2).request;
  for (auto& g : c.nodes[0].gpus) g.free_milli = 0;
  for (auto& g : c.nodes[1].gpus) g.free_milli = 0;
  EXPECT_EQ(Place(c, busy).error().code, ReasonCode::kInsufficientGpus);
}

TEST(PlacementTest, PreferredLabelsWinTiesAndCpuAndMemoryCount) {
  ClusterSnapshot c = Uniform(2, 1);
  Request r = Job("p", 1).request;
  r.preferred_labels = {Label{0, 2}};
  EXPECT_EQ(Place(c, r)->at(0).node, 1u);
  r.cpu_milli = 100'000;  // more than any node has
  EXPECT_EQ(Place(c, r).error().code, ReasonCode::kInsufficientGpus);
}

TEST(PlacementTest, CpuOnlyWorkAvoidsGpuNodesAndBadRequestsAreRefused) {
  ClusterSnapshot c = Uniform(2, 8);
  Node cpu_only{.id = "cpu", .cpu_milli_free = 128000, .memory_mib_free = 1 << 20};
  c.nodes.push_back(cpu_only);
  Request cpu = Job("cpu", 0).request;
  cpu.cpu_milli = 4000;
  EXPECT_EQ(Place(c, cpu)->at(0).node, 2u);
  for (auto [gpus, milli, nodes] : {std::tuple{2, 500, 1}, std::tuple{1, 0, 1},
                                    std::tuple{1, 1001, 1}, std::tuple{1, 1000, 0}}) {
    auto p = Place(c, Job("bad", gpus, milli, nodes).request);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, ReasonCode::kInvalidRequest) << gpus << " " << milli << " " << nodes;
  }
}

TEST(PlacementTest, ApplyAndReleaseAreInverses) {
  ClusterSnapshot c = Uniform(2, 4);
  Request r = Job("j", 2).request;
  r.cpu_milli = 8000;
  r.memory_mib = 1024;
  auto p = Place(c, r);
  ASSERT_TRUE(p.has_value());
  Apply(c, *p, r);
  EXPECT_EQ(MeasureCapacity(c).allocated_milli, 2000);
  Release(c, *p, r);
  EXPECT_EQ(MeasureCapacity(c).allocated_milli, 0);
  EXPECT_EQ(c.nodes[p->at(0).node].cpu_milli_free, 64000);
}

}  // namespace
}  // namespace hangar::scheduling
