// Tests that the built-in openb cluster matches the upstream node list's totals (1,523 nodes,
// 6,212 GPUs, GPUs per model), and that the builder rejects inconsistent shapes.
#include "cluster.h"

#include <gtest/gtest.h>

#include <map>

#include "scheduling/placement.h"

namespace hangar::sim {
namespace {

TEST(ClusterTest, OpenbClusterMatchesTheUpstreamNodeList) {
  scheduling::ClusterSnapshot cluster = OpenbCluster();
  EXPECT_EQ(cluster.nodes.size(), 1523u);
  std::map<std::string, int> gpus_by_model;
  size_t gpus = 0;
  size_t cpu_only_nodes = 0;
  for (const auto& node : cluster.nodes) {
    gpus += node.gpus.size();
    cpu_only_nodes += node.gpus.empty();
    for (const auto& gpu : node.gpus) ++gpus_by_model[cluster.gpu_types.at(gpu.type)];
  }
  EXPECT_EQ(gpus, 6212u);
  EXPECT_EQ(cpu_only_nodes, 310u);
  EXPECT_EQ(gpus_by_model, (std::map<std::string, int>{{"G2", 4392},
                                                       {"T4", 842},
                                                       {"G3", 312},
                                                       {"P100", 265},
                                                       {"V100M32", 204},
                                                       {"V100M16", 195},
                                                       {"A10", 2}}));
  EXPECT_EQ(scheduling::MeasureCapacity(cluster).total_milli, 6'212'000);
  EXPECT_EQ(scheduling::MeasureCapacity(cluster).allocated_milli, 0);
}

TEST(ClusterTest, NodesAreNamedInTableOrderWithTheirShape) {
  scheduling::ClusterSnapshot cluster = OpenbCluster();
  // The first rows: 2 A10 nodes, then 549 G2 nodes.
  EXPECT_EQ(cluster.nodes[0].id, "node-0001");
  EXPECT_EQ(cluster.nodes[1].id, "node-0002");
  EXPECT_EQ(cluster.nodes[1522].id, "node-1523");
  EXPECT_EQ(cluster.gpu_types.at(cluster.nodes[0].gpus.at(0).type), "A10");
  EXPECT_EQ(cluster.nodes[0].cpu_milli_free, 128000);
  EXPECT_EQ(cluster.nodes[0].memory_mib_free, 1048576);
  const auto& g2 = cluster.nodes[2];
  EXPECT_EQ(g2.gpus.size(), 8u);
  EXPECT_EQ(cluster.gpu_types.at(g2.gpus[0].type), "G2");
  EXPECT_EQ(g2.cpu_milli_free, 96000);
  EXPECT_EQ(g2.memory_mib_free, 393216);
  EXPECT_TRUE(g2.schedulable);
  EXPECT_TRUE(cluster.nodes.back().gpus.empty());
}

TEST(ClusterTest, BuildClusterRejectsInconsistentShapes) {
  const GpuModel models[] = {{"X", 1024}};
  const NodeShape unknown[] = {{"Y", 1, 1000, 1000, 1}};
  EXPECT_FALSE(BuildCluster(unknown, models));
  const NodeShape gpus_without_model[] = {{"", 2, 1000, 1000, 1}};
  EXPECT_FALSE(BuildCluster(gpus_without_model, models));
  const NodeShape negative[] = {{"X", 1, -1, 1000, 1}};
  EXPECT_FALSE(BuildCluster(negative, models));
  const NodeShape ok[] = {{"X", 2, 1000, 1000, 3}, {"", 0, 500, 500, 1}};
  auto cluster = BuildCluster(ok, models);
  ASSERT_TRUE(cluster) << cluster.error().message();
  EXPECT_EQ(cluster->nodes.size(), 4u);
  EXPECT_EQ(cluster->nodes[0].gpus.at(1).memory_mib, 1024);
  EXPECT_EQ(cluster->nodes[3].id, "node-0004");
}

}  // namespace
}  // namespace hangar::sim
