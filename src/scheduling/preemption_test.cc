// Preemption: by priority and by quota reclaim, following each workload's policy, choosing the
// cheapest victims.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "scheduling/scheduler.h"
#include "scheduling/scheduler_test_support.h"
#include "scheduling/test_cluster.h"

namespace hangar::scheduling {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::Job;
using testing::kNow;
using testing::RunOn;
using testing::Uniform;
using testing::Victims;
using testing::WhyWaiting;

Workload Low(std::string id, int priority, PreemptionPolicy policy) {
  Workload w = Job(std::move(id), 1);
  w.priority = priority;
  w.preemption = policy;
  return w;
}

Workload High(int gpus) {
  Workload w = Job("urgent", gpus);
  w.priority = 100;
  return w;
}

TEST(PreemptionTest, HigherPriorityPreemptsTheCheapestVictims) {
  Input in{.cluster = Uniform(1, 4), .now = kNow};
  // Equal priority: the checkpointing one loses no work and goes first; then the one that ran
  // least. The oldest, and the one that may not be preempted, keep running.
  in.running = {
      RunOn(in.cluster, Low("old", 0, PreemptionPolicy::kRequeue), 0, {0}, kNow - hours(5)),
      RunOn(in.cluster, Low("young", 0, PreemptionPolicy::kRequeue), 0, {1}, kNow - minutes(5)),
      RunOn(in.cluster, Low("saves", 0, PreemptionPolicy::kCheckpoint), 0, {2}, kNow - hours(9)),
      RunOn(in.cluster, Low("never", 0, PreemptionPolicy::kNever), 0, {3}, kNow - hours(1)),
  };
  in.running[2].workload.checkpoint_grace = minutes(5);
  in.pending = {High(2)};
  Decisions d = Schedule(in);
  EXPECT_TRUE(d.placements.empty());
  EXPECT_EQ(Victims(d), (std::vector<uint32_t>{2, 1}));  // cheapest first
  for (const Preemption& p : d.preemptions) {
    EXPECT_EQ(p.for_workload, 0u);
    EXPECT_EQ(p.policy,
              p.running == 2 ? PreemptionPolicy::kCheckpoint : PreemptionPolicy::kRequeue);
    EXPECT_EQ(p.grace, p.running == 2 ? minutes(5) : Micros{0});
    EXPECT_NE(p.reason.message.find("preempted by urgent of higher priority (100 > 0)"),
              std::string::npos);
  }
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kPreempting);

  // Next pass, the victims are stopping: it waits for them and picks no one else.
  in.running[1].terminating = true;
  in.running[2].terminating = true;
  d = Schedule(in);
  EXPECT_TRUE(d.preemptions.empty());
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kPreempting);
}

TEST(PreemptionTest, LowerPriorityFirstAndOnTheCheapestNode) {
  Input in{.cluster = Uniform(2, 2), .now = kNow};
  in.running = {
      RunOn(in.cluster, Low("mid-a", 50, PreemptionPolicy::kRequeue), 0, {0}, kNow),
      RunOn(in.cluster, Low("mid-b", 50, PreemptionPolicy::kRequeue), 0, {1}, kNow),
      RunOn(in.cluster, Low("low-a", 10, PreemptionPolicy::kRequeue), 1, {0}, kNow - hours(8)),
      RunOn(in.cluster, Low("low-b", 10, PreemptionPolicy::kRequeue), 1, {1}, kNow - hours(8)),
  };
  in.pending = {High(2)};
  EXPECT_EQ(Victims(Schedule(in)), (std::vector<uint32_t>{2, 3}));
}

TEST(PreemptionTest, NothingPreemptibleMeansItWaitsForCapacity) {
  Input in{.cluster = Uniform(1, 2), .now = kNow};
  in.running = {RunOn(in.cluster, Low("a", 0, PreemptionPolicy::kNever), 0, {0, 1}, kNow)};
  in.pending = {High(1)};
  Decisions d = Schedule(in);
  EXPECT_TRUE(d.preemptions.empty());
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kInsufficientGpus);
  in.running[0].workload.preemption = PreemptionPolicy::kRequeue;
  in.options.preemption = false;
  EXPECT_TRUE(Schedule(in).preemptions.empty());
}

TEST(PreemptionTest, QuotaReclaimTakesBackBorrowedCapacity) {
  Input in{.cluster = Uniform(1, 8), .now = kNow};
  in.queues = {Queue{.id = "org"},
               Queue{.id = "team-a", .parent = 0, .guaranteed_milli = 4000, .limit_milli = 8000},
               Queue{.id = "team-b", .parent = 0, .guaranteed_milli = 4000, .limit_milli = 8000}};
  auto b_job = [&](std::string id, std::vector<uint16_t> gpus, bool borrowed) {
    Workload w = Job(std::move(id), 1);
    w.queue = 2;
    Allocation a = RunOn(in.cluster, w, 0, std::move(gpus), kNow - hours(1));
    a.borrowed = borrowed;
    return a;
  };
  in.running = {b_job("b-own", {0, 1, 2, 3}, false), b_job("b-borrow-1", {4, 5}, true),
                b_job("b-borrow-2", {6, 7}, true)};
  Workload a = Job("a", 2);
  a.queue = 1;  // team a uses nothing of its guarantee of 4
  in.pending = {a};
  Decisions d = Schedule(in);
  ASSERT_EQ(d.preemptions.size(), 1u);
  EXPECT_NE(d.preemptions[0].running, 0u);  // never the work within team b's guarantee
  EXPECT_NE(d.preemptions[0].reason.message.find("borrowed capacity reclaimed for a"),
            std::string::npos);

  // Work that would itself borrow reclaims nothing.
  in.queues[1].guaranteed_milli = 1000;
  EXPECT_TRUE(Schedule(in).preemptions.empty());
}

TEST(PreemptionTest, GangsPreemptAcrossNodes) {
  Input in{.cluster = Uniform(2, 2), .now = kNow};
  for (uint32_t n = 0; n < 2; ++n) {
    in.running.push_back(RunOn(in.cluster,
                               Low("low-" + std::to_string(n), 0, PreemptionPolicy::kRequeue), n,
                               {0, 1}, kNow));
  }
  Workload gang = High(2);
  gang.request.nodes = 2;
  in.pending = {gang};
  EXPECT_EQ(Victims(Schedule(in)), (std::vector<uint32_t>{0, 1}));
}

// Property: victims may be preempted and are lower-priority or borrowed, none is chosen twice,
// and each preemptor fits once its victims are gone.
TEST(PreemptionPropertyTest, VictimsAreEligibleAndSufficient) {
  int preemptions_seen = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Input in{.cluster = Uniform(pick(1, 5), 4), .now = kNow};
    for (uint32_t n = 0; n < in.cluster.nodes.size(); ++n) {
      for (uint16_t g = 0; g < 4; ++g) {
        if (pick(0, 4) == 0) continue;
        Workload w = Low("r" + std::to_string(n) + "-" + std::to_string(g), pick(0, 3),
                         static_cast<PreemptionPolicy>(pick(0, 2)));
        in.running.push_back(RunOn(in.cluster, w, n, {g}, kNow - minutes(pick(0, 300))));
        in.running.back().borrowed = pick(0, 3) == 0;
      }
    }
    for (int j = 0; j < pick(1, 6); ++j) {
      Workload w = Job("p" + std::to_string(j), std::vector<int>{1, 2, 4}[pick(0, 2)]);
      w.priority = pick(0, 4);
      if (pick(0, 5) == 0) w.request.nodes = 2;
      in.pending.push_back(std::move(w));
    }
    Decisions d = Schedule(in);
    ClusterSnapshot after = in.cluster;
    for (const Placement& p : d.placements) Apply(after, p.slices, in.pending[p.workload].request);
    std::map<uint32_t, std::vector<uint32_t>> victims_of;
    std::vector<int> chosen(in.running.size(), 0);
    for (const Preemption& p : d.preemptions) {
      ++preemptions_seen;
      const Allocation& v = in.running[p.running];
      const Workload& by = in.pending[p.for_workload];
      EXPECT_NE(v.workload.preemption, PreemptionPolicy::kNever) << "seed " << seed;
      EXPECT_TRUE(v.workload.priority < by.priority || v.borrowed) << "seed " << seed;
      EXPECT_EQ(++chosen[p.running], 1) << "seed " << seed;
      victims_of[p.for_workload].push_back(p.running);
    }
    for (const auto& [preemptor, victims] : victims_of) {
      ClusterSnapshot freed = after;
      for (uint32_t v : victims)
        Release(freed, in.running[v].slices, in.running[v].workload.request);
      EXPECT_TRUE(Place(freed, in.pending[preemptor].request).has_value()) << "seed " << seed;
    }
  }
  EXPECT_GT(preemptions_seen, 20);
}

}  // namespace
}  // namespace hangar::scheduling
