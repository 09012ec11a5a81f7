#include "scheduling/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "scheduling/placement.h"
#include "scheduling/test_cluster.h"

namespace hangar::scheduling {
namespace {

using testing::Job;
using testing::Uniform;

const Timestamp kNow = FromUnixMicros(1'795'000'000'000'000);

std::vector<std::string> PlacedIds(const Decisions& d, const std::vector<Workload>& pending) {
  std::vector<std::string> out;
  for (const auto& p : d.placements) out.push_back(pending[p.workload].id);
  return out;
}

Reason WhyWaiting(const Decisions& d, uint32_t index) {
  for (const auto& [i, r] : d.waiting) {
    if (i == index) return r;
  }
  return {};
}

// Root > two teams > one project each. Queue 0 is the root.
std::vector<Queue> TwoTeams() {
  return {Queue{.id = "org"},
          Queue{.id = "team-a", .parent = 0, .guaranteed_milli = 4000, .limit_milli = 8000},
          Queue{.id = "team-b", .parent = 0, .guaranteed_milli = 4000, .limit_milli = 8000},
          Queue{.id = "proj-a", .parent = 1}, Queue{.id = "proj-b", .parent = 2}};
}

TEST(SchedulerTest, HigherPriorityGoesFirstThenOlderWork) {
  ClusterSnapshot c = Uniform(1, 2);
  std::vector<Workload> pending = {Job("old-low", 2), Job("new-high", 2), Job("newer-low", 2)};
  pending[0].submitted_at = kNow - std::chrono::hours(2);
  pending[1].submitted_at = kNow;
  pending[1].priority = 10;
  pending[2].submitted_at = kNow - std::chrono::hours(1);
  Decisions d = Schedule(c, pending, {}, {}, kNow);
  EXPECT_EQ(PlacedIds(d, pending), std::vector<std::string>{"new-high"});
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kInsufficientGpus);

  pending[1].priority = 0;  // same priority: the oldest first
  d = Schedule(c, pending, {}, {}, kNow);
  EXPECT_EQ(PlacedIds(d, pending), std::vector<std::string>{"old-low"});
}

TEST(SchedulerTest, FairShareFavoursTheTeamThatUsedLess) {
  ClusterSnapshot c = Uniform(1, 1);
  auto queues = TwoTeams();
  queues[3].decayed_usage = 100;  // team a's project used 100 GPU-hours
  queues[4].decayed_usage = 10;
  std::vector<Workload> pending = {Job("a", 1), Job("b", 1)};
  pending[0].queue = 3;
  pending[1].queue = 4;
  pending[0].submitted_at = kNow - std::chrono::hours(1);  // older, but its team used more
  pending[1].submitted_at = kNow;
  EXPECT_EQ(PlacedIds(Schedule(c, pending, {}, queues, kNow), pending),
            std::vector<std::string>{"b"});
  // Weights: team a's share is worth 20 times b's, so its usage per weight is lower.
  queues[1].weight = 20;
  EXPECT_EQ(PlacedIds(Schedule(c, pending, {}, queues, kNow), pending),
            std::vector<std::string>{"a"});
}

TEST(SchedulerTest, QuotasCapTeamsAndBorrowingIsMarkedAndComesLast) {
  ClusterSnapshot c = Uniform(2, 8);
  auto queues = TwoTeams();
  std::vector<Workload> pending;
  for (int i = 0; i < 5; ++i) {
    pending.push_back(Job("a" + std::to_string(i), 2));
    pending.back().queue = 3;
    pending.back().submitted_at = kNow - std::chrono::minutes(10 - i);
  }
  pending.push_back(Job("b0", 2));
  pending.back().queue = 4;
  pending.back().submitted_at = kNow;
  Decisions d = Schedule(c, pending, {}, queues, kNow);
  // Team a: 2 jobs (4 GPUs) within its guarantee, 2 more borrowed up to its limit of 8, the
  // fifth refused by the limit. Team b's job, the newest, is placed before a's borrowing.
  std::map<std::string, bool> borrowed;
  for (const auto& p : d.placements) borrowed[pending[p.workload].id] = p.borrowed;
  EXPECT_EQ(borrowed.size(), 5u);
  EXPECT_FALSE(borrowed["a0"]);
  EXPECT_FALSE(borrowed["a1"]);
  EXPECT_TRUE(borrowed["a2"]);
  EXPECT_TRUE(borrowed["a3"]);
  EXPECT_FALSE(borrowed["b0"]);
  Reason why = WhyWaiting(d, 4);
  EXPECT_EQ(why.code, ReasonCode::kQuotaExceeded);
  EXPECT_NE(why.message.find("team-a is at its limit: 8 of 8 GPUs"), std::string::npos)
      << why.message;
  // Without borrowing, a2 and a3 wait on the guarantee.
  d = Schedule(c, pending, {}, queues, kNow, Options{.allow_borrowing = false});
  EXPECT_EQ(d.placements.size(), 3u);
  EXPECT_NE(WhyWaiting(d, 2).message.find("guaranteed 4 GPUs"), std::string::npos);
}

TEST(SchedulerTest, RunningWorkCountsAgainstQuotas) {
  ClusterSnapshot c = Uniform(2, 8);
  auto queues = TwoTeams();
  Allocation running{.workload = Job("r", 8)};
  running.workload.queue = 3;
  std::vector<Workload> pending = {Job("more", 1)};
  pending[0].queue = 3;
  Decisions d = Schedule(c, pending, {running}, queues, kNow);
  EXPECT_TRUE(d.placements.empty());
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kQuotaExceeded);
}

TEST(SchedulerTest, SharedGpusPackOntoOneGpu) {
  ClusterSnapshot c = Uniform(2, 2);
  std::vector<Workload> pending = {Job("s1", 1, 500), Job("s2", 1, 250), Job("s3", 1, 250)};
  for (size_t i = 0; i < pending.size(); ++i) {
    pending[i].submitted_at = kNow + std::chrono::seconds(i);
  }
  Decisions d = Schedule(c, pending, {}, {}, kNow);
  ASSERT_EQ(d.placements.size(), 3u);
  std::set<std::pair<uint32_t, uint16_t>> gpus;
  for (const auto& p : d.placements) gpus.insert({p.slices[0].node, p.slices[0].gpus[0]});
  EXPECT_EQ(gpus.size(), 1u);  // all three share one GPU; three stay whole
}

// Property: on random clusters and workloads, no GPU is over-allocated, gangs are whole, quota
// limits hold, and the same input gives the same decisions.
TEST(SchedulerPropertyTest, InvariantsHoldOnRandomScenarios) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    ClusterSnapshot c = Uniform(pick(1, 12), pick(1, 8));
    for (auto& node : c.nodes) {
      for (auto& g : node.gpus) g.free_milli = pick(0, 3) == 0 ? pick(0, 1000) : 1000;
    }
    auto queues = TwoTeams();
    queues[1].limit_milli = pick(1, 20) * 1000;
    std::vector<Workload> pending;
    int jobs = pick(1, 60);
    for (int j = 0; j < jobs; ++j) {
      int kind = pick(0, 9);
      Workload w = kind < 4   ? Job("j" + std::to_string(j), 1, pick(1, 999))
                   : kind < 9 ? Job("j" + std::to_string(j), pick(1, 8))
                              : Job("j" + std::to_string(j), pick(1, 8), kWholeGpu, pick(2, 3));
      w.queue = pick(3, 4);
      w.priority = pick(0, 2);
      w.submitted_at = kNow + std::chrono::seconds(pick(0, 1000));
      pending.push_back(std::move(w));
    }
    Decisions d = Schedule(c, pending, {}, queues, kNow);
    Decisions again = Schedule(c, pending, {}, queues, kNow);
    ASSERT_EQ(d.placements.size(), again.placements.size()) << "seed " << seed;
    for (size_t i = 0; i < d.placements.size(); ++i) {
      EXPECT_EQ(d.placements[i].workload, again.placements[i].workload) << "seed " << seed;
    }
    ClusterSnapshot after = c;
    int64_t team_a = 0;
    for (const auto& p : d.placements) {
      const Request& r = pending[p.workload].request;
      EXPECT_EQ(static_cast<int>(p.slices.size()), r.nodes) << "seed " << seed;
      std::set<uint32_t> nodes;
      for (const auto& s : p.slices) nodes.insert(s.node);
      EXPECT_EQ(nodes.size(), p.slices.size()) << "gang members on one node, seed " << seed;
      Apply(after, p.slices, r);
      if (pending[p.workload].queue == 3) team_a += r.TotalGpuMilli();
      EXPECT_EQ(d.waiting.end(), std::find_if(d.waiting.begin(), d.waiting.end(),
                                              [&](auto& w) { return w.first == p.workload; }));
    }
    for (const auto& node : after.nodes) {
      for (const auto& g : node.gpus) EXPECT_GE(g.free_milli, 0) << "seed " << seed;
    }
    EXPECT_LE(team_a, *queues[1].limit_milli) << "seed " << seed;
    EXPECT_EQ(d.placements.size() + d.waiting.size(), pending.size()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace hangar::scheduling
