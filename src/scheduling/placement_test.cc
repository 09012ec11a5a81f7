#include "scheduling/placement.h"

#include <gtest/gtest.h>

#include <random>

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

// ---- Placer: the index gives the free functions' answers -------------------------------------

bool SameSlices(const Slices& a, const Slices& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].node != b[i].node || a[i].gpus != b[i].gpus || a[i].gpu_milli != b[i].gpu_milli ||
        a[i].mig_start != b[i].mig_start) {
      return false;
    }
  }
  return true;
}

std::string Describe(const std::expected<Slices, Reason>& p) {
  if (!p) return "error " + std::string(ReasonName(p.error().code)) + ": " + p.error().message;
  std::string s;
  for (const auto& slice : *p) {
    s += "node " + std::to_string(slice.node) + " gpus";
    for (uint16_t g : slice.gpus) s += " " + std::to_string(g);
    s += " milli " + std::to_string(slice.gpu_milli) + " mig " + std::to_string(slice.mig_start) +
         "; ";
  }
  return s;
}

bool SameResult(const std::expected<Slices, Reason>& a, const std::expected<Slices, Reason>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return a.error().code == b.error().code && a.error().message == b.error().message;
  return SameSlices(*a, *b);
}

// A small cluster with everything placement looks at varied: GPU counts, types, free shares,
// unhealthy and MIG GPUs, NVLink domains, CPU, memory, labels, groups, cordoned nodes.
ClusterSnapshot RandomCluster(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ClusterSnapshot c;
  c.gpu_types = {"H100-80GB", "T4"};
  c.strings = {"zone", "a", "b", "c", "rack"};
  const int nodes = pick(1, 24);
  for (int n = 0; n < nodes; ++n) {
    Node node{.id = "node-" + std::to_string(n),
              .cpu_milli_free = pick(0, 16) * 4000,
              .memory_mib_free = pick(0, 8) * 65536,
              .cuda_version = pick(0, 1) ? 12040 : 11080,
              .schedulable = pick(0, 9) != 0};
    const int gpus = std::vector<int>{0, 1, 2, 4, 8, 8}[pick(0, 5)];
    const uint16_t node_type = static_cast<uint16_t>(pick(0, 3) == 0 ? 1 : 0);
    const bool mixed_types = pick(0, 3) == 0;  // so a node's GPUs qualify differently
    for (int g = 0; g < gpus; ++g) {
      const auto type = mixed_types ? static_cast<uint16_t>(pick(0, 1)) : node_type;
      Gpu gpu{.type = type, .memory_mib = type == 0 ? 81920 : 16384};
      gpu.healthy = pick(0, 19) != 0;
      gpu.nvlink_domain = static_cast<uint8_t>(pick(0, 2) == 0 ? 0 : 1 + g / pick(2, 4));
      if (pick(0, 7) == 0) {
        gpu.mig = true;
        gpu.mig_free = static_cast<uint8_t>(pick(0, 127));
        gpu.free_milli = MigMilli(std::popcount(static_cast<unsigned>(gpu.mig_free)));
      } else {
        gpu.free_milli = std::vector<int>{0, 1000, 1000, 1000, 500, 190, 530, 810}[pick(0, 7)];
      }
      node.gpus.push_back(gpu);
    }
    node.labels = {Label{0, static_cast<uint32_t>(pick(1, 3))}};
    if (pick(0, 1)) node.labels.push_back(Label{4, static_cast<uint32_t>(pick(1, 2))});
    for (int g = pick(0, 2); g > 0; --g) node.groups.push_back(static_cast<uint32_t>(pick(1, 3)));
    c.nodes.push_back(std::move(node));
  }
  return c;
}

Request RandomRequest(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Request r;
  switch (pick(0, 9)) {
    case 0:
      r.gpus_per_node = 0;
      break;
    case 1:
      r.mig_slices = std::vector<int>{1, 2, 3, 4, 7}[pick(0, 4)];
      break;
    case 2:
    case 3:
    case 4:
      r.gpu_milli = std::vector<int>{100, 190, 250, 470, 500, 810}[pick(0, 5)];
      break;
    default:
      r.gpus_per_node = std::vector<int>{1, 1, 2, 4, 8}[pick(0, 4)];
  }
  r.nodes = pick(0, 5) == 0 ? pick(2, 3) : 1;
  r.cpu_milli = pick(0, 3) * 4000;
  r.memory_mib = pick(0, 2) * 32768;
  if (pick(0, 3) == 0) r.gpu_types = {static_cast<uint16_t>(pick(0, 1))};
  if (pick(0, 7) == 0) r.min_gpu_memory_mib = 20000;
  if (pick(0, 7) == 0) r.min_cuda_version = 12000;
  if (pick(0, 7) == 0) r.required_labels = {Label{0, static_cast<uint32_t>(pick(1, 3))}};
  if (pick(0, 7) == 0) r.preferred_labels = {Label{0, static_cast<uint32_t>(pick(1, 3))}};
  if (pick(0, 3) == 0) r.group = static_cast<uint32_t>(pick(1, 3));
  if (pick(0, 9) == 0) r.affinity = {static_cast<uint32_t>(pick(1, 3))};
  if (pick(0, 9) == 0) r.anti_affinity = {static_cast<uint32_t>(pick(1, 3))};
  if (pick(0, 9) == 0) r.preferred_affinity = {static_cast<uint32_t>(pick(1, 3))};
  if (pick(0, 9) == 0) r.preferred_anti_affinity = {static_cast<uint32_t>(pick(1, 3))};
  if (r.nodes > 1 && pick(0, 1)) r.topology_key = 4;
  return r;
}

// Places a stream of random requests with a Placer and with the free Place on the same snapshot;
// applies and releases as it goes, so the index is exercised after updates.
void ExpectPlacerMatchesPlace(uint64_t seed, std::optional<WorkloadMix> mix) {
  std::mt19937_64 rng(seed);
  ClusterSnapshot start = RandomCluster(rng);
  Placer placer = mix ? Placer(start, *mix) : Placer(start);
  std::vector<std::pair<Slices, Request>> placed;
  for (int step = 0; step < 150; ++step) {
    if (!placed.empty() && std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
      size_t victim = std::uniform_int_distribution<size_t>(0, placed.size() - 1)(rng);
      placer.Release(placed[victim].first, placed[victim].second);
      placed.erase(placed.begin() + static_cast<ptrdiff_t>(victim));
      continue;
    }
    Request r = RandomRequest(rng);
    auto want = mix ? Place(placer.cluster(), r, *mix) : Place(placer.cluster(), r);
    auto got = placer.Place(r);
    ASSERT_TRUE(SameResult(got, want)) << "seed " << seed << " step " << step << ": Placer "
                                       << Describe(got) << " vs Place " << Describe(want);
    // PlaceWithin: as Place on a copy where the other nodes are cordoned.
    std::vector<bool> allowed(placer.cluster().nodes.size());
    ClusterSnapshot within = placer.cluster();
    for (size_t n = 0; n < allowed.size(); ++n) {
      allowed[n] = std::uniform_int_distribution<int>(0, 2)(rng) != 0;
      within.nodes[n].schedulable = within.nodes[n].schedulable && allowed[n];
    }
    auto want_within = mix ? Place(within, r, *mix) : Place(within, r);
    auto got_within = placer.PlaceWithin(r, allowed);
    ASSERT_TRUE(SameResult(got_within, want_within))
        << "seed " << seed << " step " << step << ": PlaceWithin " << Describe(got_within)
        << " vs Place " << Describe(want_within);
    if (got) {
      placer.Apply(*got, r);
      placed.emplace_back(*got, r);
    }
  }
  // Releasing everything restores the snapshot exactly.
  while (!placed.empty()) {
    placer.Release(placed.back().first, placed.back().second);
    placed.pop_back();
  }
  for (size_t n = 0; n < start.nodes.size(); ++n) {
    const Node& a = start.nodes[n];
    const Node& b = placer.cluster().nodes[n];
    ASSERT_EQ(a.cpu_milli_free, b.cpu_milli_free);
    ASSERT_EQ(a.memory_mib_free, b.memory_mib_free);
    ASSERT_EQ(a.groups, b.groups);
    for (size_t g = 0; g < a.gpus.size(); ++g) {
      ASSERT_EQ(a.gpus[g].free_milli, b.gpus[g].free_milli);
      ASSERT_EQ(a.gpus[g].mig_free, b.gpus[g].mig_free);
    }
  }
}

TEST(PlacerTest, IndexGivesTheSameAnswersAsTheFreePlaceOnRandomClusters) {
  for (uint64_t seed = 0; seed < 300; ++seed) ExpectPlacerMatchesPlace(seed, std::nullopt);
}

TEST(PlacerTest, WithAMixGivesTheSameAnswersAsTheFreePlace) {
  WorkloadMix mix{.shapes = {{.gpus = 1, .gpu_milli = 500, .cpu_milli = 4000, .weight = 3},
                             {.gpus = 1, .gpu_milli = 810, .cpu_milli = 8000, .weight = 2},
                             {.gpus = 1, .cpu_milli = 16000, .memory_mib = 65536, .weight = 4},
                             {.gpus = 4, .cpu_milli = 32000, .weight = 1},
                             {.gpus = 0, .gpu_milli = 0, .cpu_milli = 8000, .weight = 2}}};
  for (uint64_t seed = 1000; seed < 1100; ++seed) ExpectPlacerMatchesPlace(seed, mix);
}

TEST(PlacerTest, PlaceWithinLooksOnlyAtAllowedNodes) {
  Placer placer(Uniform(4, 8));
  // Best fit alone would take node 0 (node order); only nodes 2 and 3 are allowed.
  auto p = placer.PlaceWithin(Job("j", 2).request, {false, false, true, true});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->at(0).node, 2u);
  auto none = placer.PlaceWithin(Job("j", 2).request, {false, false, false, false});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ReasonCode::kInsufficientGpus);
}

TEST(PlacerTest, IndexFollowsApplyAndRelease) {
  // Table: after each step, where the next request of each kind goes.
  Placer placer(Uniform(3, 4));
  Request four = Job("four", 4).request;
  Request three = Job("three", 3).request;
  Request share = Job("share", 1, 300).request;
  auto first = placer.Place(three);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->at(0).node, 0u);
  placer.Apply(*first, three);
  // The share goes to node 0's last idle GPU (fewest idle GPUs left there).
  auto s = placer.Place(share);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->at(0).node, 0u);
  EXPECT_EQ(s->at(0).gpus, std::vector<uint16_t>{3});
  placer.Apply(*s, share);
  // A second share fills the same GPU rather than breaking an idle one.
  auto s2 = placer.Place(share);
  ASSERT_TRUE(s2.has_value());
  EXPECT_EQ(s2->at(0).node, 0u);
  EXPECT_EQ(s2->at(0).gpus, std::vector<uint16_t>{3});
  // Four whole GPUs: node 1, the first untouched node.
  EXPECT_EQ(placer.Place(four)->at(0).node, 1u);
  placer.Release(*first, three);
  // Node 0 now has 3 idle GPUs and a partly used one: the next 3-GPU request goes back there.
  EXPECT_EQ(placer.Place(three)->at(0).node, 0u);
}

// ---- MIG ---------------------------------------------------------------------------------------

TEST(MigTest, ValidStartsAreThoseOfA100AndH100) {
  struct Case {
    int slices;
    std::vector<uint8_t> starts;
  };
  for (const Case& c : std::vector<Case>{{1, {0, 1, 2, 3, 4, 5, 6}},
                                         {2, {0, 2, 4}},
                                         {3, {0, 4}},
                                         {4, {0}},
                                         {7, {0}},
                                         {5, {}},
                                         {6, {}},
                                         {0, {}}}) {
    auto starts = MigStarts(c.slices);
    EXPECT_EQ(std::vector<uint8_t>(starts.begin(), starts.end()), c.starts) << c.slices;
  }
  EXPECT_EQ(LargestMigProfile(kAllMigSlices), 7);
  EXPECT_EQ(LargestMigProfile(0x0f), 4);  // slices 0-3
  EXPECT_EQ(LargestMigProfile(0x70), 3);  // slices 4-6
  EXPECT_EQ(LargestMigProfile(0x1e), 2);  // slices 1-4: 2 at 2 fits, 3 at 0 or 4 does not
  EXPECT_EQ(LargestMigProfile(0x2a), 1);  // slices 1, 3, 5
  EXPECT_EQ(LargestMigProfile(0), 0);
}

ClusterSnapshot MigCluster() {
  ClusterSnapshot c = Uniform(2, 2);
  for (Node& node : c.nodes) node.gpus[1].mig = true;  // GPU 1 of each node is in MIG mode
  return c;
}

Request Mig(int slices) {
  Request r;
  r.mig_slices = slices;
  r.gpu_milli = 1;  // ignored for MIG
  return r;
}

TEST(MigTest, MigAndOtherWorkKeepToTheirOwnGpus) {
  ClusterSnapshot c = MigCluster();
  // A whole GPU never lands on a MIG GPU: two nodes x one plain GPU.
  auto two = Place(c, Job("w", 2).request);
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().code, ReasonCode::kNoFeasibleNode);
  auto share = Place(c, Job("s", 1, 300).request);
  ASSERT_TRUE(share.has_value());
  EXPECT_EQ(share->at(0).gpus, std::vector<uint16_t>{0});
  // A MIG instance only on a MIG GPU.
  auto mig = Place(c, Mig(3));
  ASSERT_TRUE(mig.has_value());
  EXPECT_EQ(mig->at(0).gpus, std::vector<uint16_t>{1});
  EXPECT_EQ(mig->at(0).gpu_milli, MigMilli(3));
  ClusterSnapshot plain = Uniform(2, 2);
  EXPECT_EQ(Place(plain, Mig(1)).error().code, ReasonCode::kNoFeasibleNode);
}

TEST(MigTest, PositionsAndBestFit) {
  // Each case: the free slices of node 0's and node 1's MIG GPU, the profile, and where it goes.
  struct Case {
    uint8_t free0, free1;
    int slices;
    uint32_t node;
    uint8_t start;
  };
  for (const Case& c : std::vector<Case>{
           // Empty GPUs: a 1g instance at slice 6, keeping 0-3 for a 4g and 4-5 for a 2g.
           {kAllMigSlices, kAllMigSlices, 1, 0, 6},
           // The GPU with fewer free slices, if a position is valid there.
           {kAllMigSlices, 0x70, 1, 1, 6},
           {kAllMigSlices, 0x70, 3, 1, 4},
           // 0x0e (slices 1-3) has no valid 3g position (starts 0 and 4 only): node 0.
           {kAllMigSlices, 0x0e, 3, 0, 4},
           // A 2g on slices 0-3 free: start 2 leaves 0-1 (a 2g), start 0 leaves 2-3 (a 2g); equal
           // blocks, equal positions: the lowest start.
           {0x0f, 0, 2, 0, 0},
           // A 2g with 0-1 and 4-6 free: at 0 it leaves the 3g at 4; at 4 it leaves only 2g.
           {0x73, 0, 2, 0, 0},
           // 4g and 7g only at 0.
           {kAllMigSlices, 0x7e, 4, 0, 0},
           {kAllMigSlices, 0x0f, 4, 1, 0},
       }) {
    ClusterSnapshot cl = MigCluster();
    cl.nodes[0].gpus[1].mig_free = c.free0;
    cl.nodes[1].gpus[1].mig_free = c.free1;
    for (int n = 0; n < 2; ++n) {
      Gpu& g = cl.nodes[n].gpus[1];
      g.free_milli = MigMilli(std::popcount(static_cast<unsigned>(g.mig_free)));
    }
    auto p = Place(cl, Mig(c.slices));
    ASSERT_TRUE(p.has_value()) << int{c.free0} << " " << int{c.free1} << " " << c.slices;
    EXPECT_EQ(p->at(0).node, c.node) << int{c.free0} << " " << int{c.free1} << " " << c.slices;
    EXPECT_EQ(p->at(0).mig_start, c.start)
        << int{c.free0} << " " << int{c.free1} << " " << c.slices;
    EXPECT_TRUE(SameSlices(*p, *Placer(cl).Place(Mig(c.slices))));
  }
}

TEST(MigTest, ApplyTakesSlicesAndReleaseGivesThemBack) {
  ClusterSnapshot c = MigCluster();
  Request r = Mig(2);
  Slices at = {Allocation::Slice{.node = 0, .gpus = {1}, .gpu_milli = MigMilli(2), .mig_start = 4}};
  Apply(c, at, r);
  EXPECT_EQ(c.nodes[0].gpus[1].mig_free, 0x4f);  // slices 4 and 5 taken
  EXPECT_EQ(c.nodes[0].gpus[1].free_milli, MigMilli(5));
  EXPECT_EQ(MeasureCapacity(c).allocated_milli, kWholeGpu - MigMilli(5));
  // Full: no 2g position left once 0-3 are taken too.
  Apply(c, {Allocation::Slice{.node = 0, .gpus = {1}, .gpu_milli = MigMilli(4), .mig_start = 0}},
        Mig(4));
  EXPECT_EQ(c.nodes[0].gpus[1].mig_free, 0x40);
  Release(c, at, r);
  EXPECT_EQ(c.nodes[0].gpus[1].mig_free, 0x70);
  EXPECT_EQ(c.nodes[0].gpus[1].free_milli, MigMilli(3));
}

TEST(MigTest, BadProfilesAreRefused) {
  ClusterSnapshot c = MigCluster();
  for (auto [slices, gpus] : {std::pair{5, 1}, std::pair{6, 1}, std::pair{8, 1}, std::pair{-1, 1},
                              std::pair{1, 2}, std::pair{7, 0}}) {
    Request r = Mig(slices);
    r.gpus_per_node = gpus;
    auto p = Place(c, r);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, ReasonCode::kInvalidRequest) << slices << " " << gpus;
  }
}

// ---- Affinity, topology, NVLink ----------------------------------------------------------------

TEST(AffinityTest, RequiredAffinityFiltersAndPreferencesScore) {
  // Nodes: 0 runs group 1, 1 runs group 2, 2 runs both, 3 runs none. Each case: what the request
  // asks and where it goes (or that it waits).
  struct Case {
    std::string name;
    std::vector<uint32_t> affinity, anti, preferred, preferred_anti;
    std::vector<Label> preferred_labels;
    std::optional<uint32_t> node;
  };
  for (const Case& c : std::vector<Case>{
           {"none: node order", {}, {}, {}, {}, {}, 0},
           {"affinity 2", {2}, {}, {}, {}, {}, 1},
           {"affinity 1 and 2", {1, 2}, {}, {}, {}, {}, 2},
           {"anti 1", {}, {1}, {}, {}, {}, 1},
           {"anti 1 and 2", {}, {1, 2}, {}, {}, {}, 3},
           {"affinity 1, anti 2", {1}, {2}, {}, {}, {}, 0},
           {"affinity 3: nobody runs it", {3}, {}, {}, {}, {}, std::nullopt},
           {"preferred 2", {}, {}, {2}, {}, {}, 1},
           {"preferred 1 and 2", {}, {}, {1, 2}, {}, {}, 2},
           {"preferred anti 1", {}, {}, {}, {1}, {}, 1},
           // Labels come before affinity preferences: node 3 is in zone b.
           {"label b beats preferred 1", {}, {}, {1}, {}, {Label{0, 2}}, 3},
       }) {
    ClusterSnapshot cl = Uniform(4, 2);
    cl.nodes[0].groups = {1};
    cl.nodes[1].groups = {2};
    cl.nodes[2].groups = {1, 2};
    cl.nodes[0].labels = cl.nodes[1].labels = cl.nodes[2].labels = {Label{0, 1}};
    cl.nodes[3].labels = {Label{0, 2}};
    Request r = Job("j", 1).request;
    r.affinity = c.affinity;
    r.anti_affinity = c.anti;
    r.preferred_affinity = c.preferred;
    r.preferred_anti_affinity = c.preferred_anti;
    r.preferred_labels = c.preferred_labels;
    auto p = Place(cl, r);
    if (!c.node) {
      ASSERT_FALSE(p.has_value()) << c.name;
      EXPECT_EQ(p.error().code, ReasonCode::kInsufficientGpus) << c.name;
      continue;
    }
    ASSERT_TRUE(p.has_value()) << c.name;
    EXPECT_EQ(p->at(0).node, *c.node) << c.name;
    EXPECT_TRUE(SameSlices(*p, *Placer(cl).Place(r))) << c.name;
  }
}

TEST(AffinityTest, PreferredAffinityComesBeforeBestFit) {
  ClusterSnapshot c = Uniform(2, 8);
  c.nodes[0].gpus[0].free_milli = 0;  // best fit alone: node 0
  c.nodes[1].groups = {7};
  Request r = Job("j", 1).request;
  r.preferred_affinity = {7};
  EXPECT_EQ(Place(c, r)->at(0).node, 1u);
}

TEST(AffinityTest, ApplyAddsTheGroupAndReleaseRemovesOne) {
  ClusterSnapshot c = Uniform(1, 2);
  Request r = Job("j", 1).request;
  r.group = 5;
  Slices s = {Allocation::Slice{.node = 0, .gpus = {0}}};
  Apply(c, s, r);
  Apply(c, {Allocation::Slice{.node = 0, .gpus = {1}}}, r);
  EXPECT_EQ(c.nodes[0].groups, (std::vector<uint32_t>{5, 5}));
  Release(c, s, r);
  EXPECT_EQ(c.nodes[0].groups, (std::vector<uint32_t>{5}));
  // A gang whose own group is in its anti-affinity avoids nodes it runs on.
  Request gang = Job("g", 1, kWholeGpu, 1).request;
  gang.group = 5;
  gang.anti_affinity = {5};
  EXPECT_EQ(Place(c, gang).error().code, ReasonCode::kInsufficientGpus);
}

TEST(TopologyTest, GangsKeepToOneValueOfTheTopologyKey) {
  // Label key 4 ("rack"), values 1..3. Each case: the racks of nodes 0-5, the gang size, and the
  // nodes chosen, in member order.
  struct Case {
    std::string name;
    std::vector<int> racks;  // 0: no rack label
    int nodes;
    std::vector<uint32_t> chosen;
  };
  for (const Case& c : std::vector<Case>{
           {"without the key the gang is the best nodes", {}, 2, {0, 1}},
           {"the tightest rack that holds it", {1, 1, 1, 2, 2, 3}, 2, {3, 4}},
           {"ties on size: the lowest value", {2, 2, 1, 1, 3, 3}, 2, {2, 3}},
           {"only the big rack holds 3", {1, 2, 2, 2, 1, 3}, 3, {1, 2, 3}},
           {"spanning: largest racks first", {1, 1, 2, 2, 2, 3}, 5, {2, 3, 4, 0, 1}},
           {"nodes without the key last", {0, 1, 0, 2, 2, 0}, 4, {3, 4, 1, 0}},
       }) {
    ClusterSnapshot cl = Uniform(6, 8);
    for (size_t n = 0; n < c.racks.size(); ++n) {
      if (c.racks[n] != 0)
        cl.nodes[n].labels.push_back(Label{4, static_cast<uint32_t>(c.racks[n])});
    }
    Request r = Job("g", 8, kWholeGpu, c.nodes).request;
    if (!c.racks.empty()) r.topology_key = 4;
    auto p = Place(cl, r);
    ASSERT_TRUE(p.has_value()) << c.name;
    std::vector<uint32_t> chosen;
    for (const auto& s : *p) chosen.push_back(s.node);
    EXPECT_EQ(chosen, c.chosen) << c.name;
    EXPECT_TRUE(SameSlices(*p, *Placer(cl).Place(r))) << c.name;
  }
}

TEST(TopologyTest, MultiGpuRequestsStayInOneNvlinkDomain) {
  // GPUs 0-3 in domain 1, 4-7 in domain 2. Each case: GPUs already busy, GPUs asked, GPUs chosen.
  struct Case {
    std::vector<uint16_t> busy;
    int gpus;
    std::vector<uint16_t> chosen;
  };
  for (const Case& c : std::vector<Case>{
           {{}, 4, {0, 1, 2, 3}},
           {{0}, 4, {4, 5, 6, 7}},     // domain 1 has only 3 idle: domain 2
           {{0}, 2, {1, 2}},           // domain 1 (3 idle) is tighter than domain 2 (4 idle)
           {{0, 5}, 3, {1, 2, 3}},     // both have 3: the first
           {{0, 4}, 4, {1, 2, 3, 5}},  // no domain holds 4: lowest-numbered
           {{1, 2, 3}, 1, {0}},        // one GPU: lowest index
       }) {
    ClusterSnapshot cl = Uniform(1, 8);
    for (uint16_t g = 0; g < 8; ++g) cl.nodes[0].gpus[g].nvlink_domain = g < 4 ? 1 : 2;
    for (uint16_t g : c.busy) cl.nodes[0].gpus[g].free_milli = 0;
    auto p = Place(cl, Job("j", c.gpus).request);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->at(0).gpus, c.chosen) << c.gpus << " GPUs";
  }
}

}  // namespace
}  // namespace hangar::scheduling
