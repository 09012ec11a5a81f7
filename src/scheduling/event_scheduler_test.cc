// EventScheduler: small scenarios for each event, and a seeded property test that replays random
// event streams against the full pass (Schedule) where the two must agree (greedy backfill, no
// preemption), plus the invariants with EASY backfill.
#include "scheduling/event_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "scheduling/scheduler.h"
#include "scheduling/scheduler_test_support.h"
#include "scheduling/test_cluster.h"

namespace hangar::scheduling {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::Job;
using testing::kNow;
using testing::RunOn;
using testing::Uniform;

std::vector<std::string> Ids(const EventDecisions& d) {
  std::vector<std::string> ids;
  for (const StartedWork& s : d.started) ids.push_back(s.id);
  return ids;
}

Workload Limited(std::string id, int gpus, Micros limit, Timestamp submitted) {
  Workload w = Job(std::move(id), gpus);
  w.run_time_limit = limit;
  w.submitted_at = submitted;
  return w;
}

Options Greedy() {
  Options o;
  o.backfill = Backfill::kGreedy;
  o.preemption = false;
  return o;
}

TEST(EventSchedulerTest, SubmitThatFitsStartsAtOnce) {
  EventScheduler s(Input{.cluster = Uniform(1, 8), .now = kNow, .options = Greedy()});
  EXPECT_TRUE(Ids(s.Start(kNow)).empty());
  auto d = s.Submit(Job("a", 4), kNow);
  ASSERT_TRUE(d);
  EXPECT_EQ(Ids(*d), std::vector<std::string>{"a"});
  EXPECT_EQ(d->reason.code, ReasonCode::kNone);
  EXPECT_EQ(d->started[0].slices[0].gpus.size(), 4u);
  EXPECT_EQ(s.running_count(), 1u);
  EXPECT_EQ(s.usage(0), 4000);
}

TEST(EventSchedulerTest, SubmitThatDoesNotFitIsQueuedWithTheRest) {
  EventScheduler s(Input{.cluster = Uniform(1, 8), .now = kNow, .options = Greedy()});
  s.Start(kNow);
  ASSERT_TRUE(s.Submit(Job("a", 6), kNow));
  auto d = s.Submit(Job("b", 4), kNow);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->started.empty());
  EXPECT_EQ(d->reason.code, ReasonCode::kInsufficientGpus);
  EXPECT_EQ(s.pending_count(), 1u);
  auto gang = s.Submit(Job("gang", 2, kWholeGpu, 2), kNow);
  ASSERT_TRUE(gang);
  EXPECT_EQ(gang->reason.code, ReasonCode::kNoFeasibleNode);  // one node only, ever
}

TEST(EventSchedulerTest, CompletionStartsTheNextJobsInPriorityOrder) {
  Input in{.cluster = Uniform(1, 8), .now = kNow, .options = Greedy()};
  in.running.push_back(RunOn(in.cluster, Job("running", 8), 0, {0, 1, 2, 3, 4, 5, 6, 7}, kNow));
  in.pending = {Job("low-old", 4), Job("high-new", 4), Job("mid", 4), Job("high-old", 4)};
  in.pending[0].submitted_at = kNow - hours(5);
  in.pending[1].priority = 100;
  in.pending[1].submitted_at = kNow - hours(1);
  in.pending[2].priority = 50;
  in.pending[3].priority = 100;
  in.pending[3].submitted_at = kNow - hours(2);
  EventScheduler s(in);
  EXPECT_TRUE(s.Start(kNow).started.empty());
  EXPECT_EQ(s.PendingInOrder(),
            (std::vector<std::string>{"high-old", "high-new", "mid", "low-old"}));
  auto d = s.Complete("running", kNow + minutes(1));
  ASSERT_TRUE(d);
  EXPECT_EQ(Ids(*d), (std::vector<std::string>{"high-old", "high-new"}));
  EXPECT_EQ(s.Complete("high-new", kNow + minutes(2)).value().started[0].id, "mid");
  EXPECT_EQ(s.Complete("nope", kNow).error().code(), ErrorCode::kNotFound);
}

TEST(EventSchedulerTest, QuotaLimitsHoldAndCompletionReturnsUsage) {
  Input in{.cluster = Uniform(2, 8), .now = kNow, .options = Greedy()};
  in.queues = {Queue{.id = "org"},
               Queue{.id = "team", .parent = 0, .guaranteed_milli = 2000, .limit_milli = 4000},
               Queue{.id = "other", .parent = 0}};
  EventScheduler s(in);
  s.Start(kNow);
  Workload a = Job("a", 2), b = Job("b", 2), c = Job("c", 2);
  a.queue = b.queue = c.queue = 1;
  auto da = s.Submit(a, kNow);
  EXPECT_FALSE(da.value().started[0].borrowed);
  auto db = s.Submit(b, kNow);
  EXPECT_TRUE(db.value().started[0].borrowed);  // beyond the guarantee, within the limit
  auto dc = s.Submit(c, kNow);
  EXPECT_TRUE(dc.value().started.empty());
  EXPECT_EQ(dc->reason.code, ReasonCode::kQuotaExceeded);
  EXPECT_NE(dc->reason.message.find("team is at its limit: 4 of 4"), std::string::npos);
  EXPECT_EQ(s.usage(1), 4000);
  // Capacity is free, but only a completion in the team's queue lets c start.
  EXPECT_TRUE(s.Submit(Job("x", 1), kNow).value().started.size() == 1);
  EXPECT_TRUE(s.Complete("x", kNow).value().started.empty());
  EXPECT_EQ(Ids(s.Complete("a", kNow).value()), std::vector<std::string>{"c"});
  EXPECT_EQ(s.usage(1), 4000);
}

// One 8-GPU node; 4 GPUs run until now + 30 min. A big job waits for the whole node: it gets the
// reservation; a short job (ends before) backfills; a long one waits behind the reservation.
TEST(EventSchedulerTest, ShortJobBackfillsWhileTheReservedJobWaits) {
  Input in{.cluster = Uniform(1, 8), .now = kNow};
  in.running.push_back(RunOn(in.cluster, Limited("running", 4, hours(1), kNow - minutes(30)), 0,
                             {0, 1, 2, 3}, kNow - minutes(30)));
  in.pending = {Limited("big", 8, hours(1), kNow - hours(3))};
  EventScheduler s(in);
  EXPECT_TRUE(s.Start(kNow).started.empty());
  ASSERT_TRUE(s.reservation());
  EXPECT_EQ(s.reservation()->id, "big");
  EXPECT_EQ(s.reservation()->start, kNow + minutes(30));

  auto short_job = s.Submit(Limited("short", 2, minutes(20), kNow), kNow);
  EXPECT_EQ(Ids(short_job.value()), std::vector<std::string>{"short"});
  EXPECT_TRUE(short_job->started[0].backfilled);
  auto long_job = s.Submit(Limited("long", 2, hours(2), kNow), kNow);
  EXPECT_TRUE(long_job.value().started.empty());
  EXPECT_EQ(long_job->reason.code, ReasonCode::kReservedForOther);
  Workload unlimited_job = Job("unlimited", 2);
  unlimited_job.submitted_at = kNow;
  auto unlimited = s.Submit(unlimited_job, kNow);
  EXPECT_EQ(unlimited.value().reason.code, ReasonCode::kReservedForOther);

  // The running work ends: the short job still holds 2 GPUs, so the big one keeps waiting (its
  // reservation moves to the short job's end) and nothing else starts in front of it.
  auto done = s.Complete("running", kNow + minutes(30));
  EXPECT_TRUE(done.value().started.empty());
  ASSERT_TRUE(s.reservation());
  EXPECT_EQ(s.reservation()->start, kNow + minutes(30));  // the short job is overdue: now
  auto all = s.Complete("short", kNow + minutes(31));
  EXPECT_EQ(Ids(all.value()), std::vector<std::string>{"big"});
}

TEST(EventSchedulerTest, WorkAheadOfTheReservationTakesIt) {
  Input in{.cluster = Uniform(1, 8), .now = kNow};
  in.running.push_back(
      RunOn(in.cluster, Limited("running", 6, hours(1), kNow), 0, {0, 1, 2, 3, 4, 5}, kNow));
  in.pending = {Limited("big", 8, hours(1), kNow - hours(3))};
  EventScheduler s(in);
  s.Start(kNow);
  ASSERT_EQ(s.reservation()->id, "big");
  Workload urgent = Limited("urgent", 4, hours(1), kNow);
  urgent.priority = 100;
  auto d = s.Submit(urgent, kNow);
  EXPECT_EQ(d.value().reason.code, ReasonCode::kInsufficientGpus);
  ASSERT_TRUE(s.reservation());
  EXPECT_EQ(s.reservation()->id, "urgent");
  // Work ahead of the reservation that fits starts without regard to it.
  Workload small = Limited("small", 2, hours(5), kNow);
  small.priority = 200;
  EXPECT_EQ(Ids(s.Submit(small, kNow).value()), std::vector<std::string>{"small"});
}

TEST(EventSchedulerTest, ErrorsAndGates) {
  EventScheduler s(Input{.cluster = Uniform(1, 8), .now = kNow, .options = Greedy()});
  s.Start(kNow);
  ASSERT_TRUE(s.Submit(Job("a", 1), kNow));
  EXPECT_EQ(s.Submit(Job("a", 1), kNow).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(s.Submit(Job("bad", 2, 500), kNow).error().code(), ErrorCode::kInvalidArgument);

  Workload held = Job("held", 1);
  held.held = true;
  EXPECT_EQ(s.Submit(held, kNow).value().reason.code, ReasonCode::kHeld);
  Workload later = Job("later", 1);
  later.not_before = kNow + minutes(5);
  EXPECT_EQ(s.Submit(later, kNow).value().reason.code, ReasonCode::kStartTimeInFuture);
  Workload after = Job("after", 1);
  after.dependencies = {Dependency{.on = "a"}};
  EXPECT_EQ(s.Submit(after, kNow).value().reason.code, ReasonCode::kDependencyPending);
  EXPECT_EQ(s.parked_count(), 3u);

  // The next event after its start time lets `later` in; a's completion releases `after`.
  EXPECT_EQ(Ids(s.Submit(Job("b", 1), kNow + minutes(6)).value()),
            (std::vector<std::string>{"later", "b"}));
  EXPECT_EQ(Ids(s.Complete("a", kNow + minutes(7)).value()), std::vector<std::string>{"after"});
  EXPECT_EQ(s.parked_count(), 1u);
  EXPECT_TRUE(s.Cancel("held", kNow));
  EXPECT_EQ(s.parked_count(), 0u);
  EXPECT_EQ(s.Cancel("held", kNow).error().code(), ErrorCode::kNotFound);
}

TEST(EventSchedulerTest, ResyncReordersByFreshFairShare) {
  Input in{.cluster = Uniform(1, 8), .now = kNow, .options = Greedy()};
  in.queues = {Queue{.id = "org"}, Queue{.id = "a", .parent = 0, .decayed_usage = 10},
               Queue{.id = "b", .parent = 0, .decayed_usage = 20}};
  in.running.push_back(RunOn(in.cluster, Job("running", 8), 0, {0, 1, 2, 3, 4, 5, 6, 7}, kNow));
  in.pending = {Job("from-a", 8), Job("from-b", 8)};
  in.pending[0].queue = 1;
  in.pending[1].queue = 2;
  EventScheduler s(in);
  s.Start(kNow);
  EXPECT_EQ(s.PendingInOrder(), (std::vector<std::string>{"from-a", "from-b"}));
  std::vector<Queue> fresh = in.queues;
  fresh[1].decayed_usage = 30;  // a used more since: b goes first
  EXPECT_TRUE(s.Resync(fresh, kNow).started.empty());
  EXPECT_EQ(s.PendingInOrder(), (std::vector<std::string>{"from-b", "from-a"}));
  EXPECT_EQ(s.usage(0), 8000);
  EXPECT_EQ(Ids(s.Complete("running", kNow).value()), std::vector<std::string>{"from-b"});
}

// ---- Property test ---------------------------------------------------------------------------

struct World {
  ClusterSnapshot cluster;
  std::vector<Workload> pending;
  std::vector<Allocation> running;
  std::vector<Queue> queues;
};

Workload RandomJob(std::mt19937_64& rng, int n, Timestamp now) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Workload w;
  w.id = "job-" + std::to_string(n);
  w.queue = static_cast<uint32_t>(3 + pick(0, 3));
  w.priority = pick(0, 2) * 100;
  w.submitted_at = now - seconds(pick(0, 100));
  int kind = pick(0, 9);
  if (kind < 4) {
    w.request.gpu_milli = std::vector<int>{250, 500, 750}[pick(0, 2)];
  } else if (kind < 9) {
    w.request.gpus_per_node = std::vector<int>{1, 2, 4}[pick(0, 2)];
  } else {
    w.request.gpus_per_node = 4;
    w.request.nodes = 2;
  }
  if (pick(0, 9) < 2) w.request.required_labels = {Label{0, static_cast<uint32_t>(pick(1, 2))}};
  if (pick(0, 9) < 6) w.run_time_limit = minutes(pick(5, 120));
  return w;
}

World RandomWorld(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  World world;
  world.cluster = Uniform(pick(2, 6), 4);
  world.queues = {Queue{.id = "org"}};
  for (int t = 0; t < 2; ++t) {
    world.queues.push_back(Queue{.id = "team-" + std::to_string(t),
                                 .parent = 0,
                                 .guaranteed_milli = pick(2, 6) * 1000,
                                 .limit_milli = pick(6, 14) * 1000,
                                 .weight = 1.0 + t});
  }
  for (int p = 0; p < 4; ++p) {
    Queue q{.id = "proj-" + std::to_string(p),
            .parent = static_cast<uint32_t>(1 + p % 2),
            .decayed_usage = static_cast<double>(pick(0, 100))};
    if (p == 0) q.limit_milli = 3000;
    world.queues.push_back(q);
  }
  // Some running work, placed as the placer would, within limits.
  std::map<uint32_t, int64_t> used;
  for (int r = 0; r < pick(0, 8); ++r) {
    Workload w = RandomJob(rng, 1000 + r, kNow);
    w.id = "run-" + std::to_string(r);
    bool within = true;
    for (uint32_t q = w.queue;; q = world.queues[q].parent) {
      const auto& lim = world.queues[q].limit_milli;
      within = within && (!lim || used[q] + w.request.TotalGpuMilli() <= *lim);
      if (q == 0) break;
    }
    auto slices = Place(world.cluster, w.request);
    if (!within || !slices) continue;
    for (uint32_t q = w.queue;; q = world.queues[q].parent) {
      used[q] += w.request.TotalGpuMilli();
      if (q == 0) break;
    }
    Apply(world.cluster, *slices, w.request);
    world.running.push_back(
        Allocation{.workload = w, .slices = *slices, .started_at = kNow - minutes(pick(0, 60))});
  }
  for (int j = 0; j < pick(0, 30); ++j) world.pending.push_back(RandomJob(rng, j, kNow));
  return world;
}

// Applies the full pass's placements to the mirror world.
void ApplyDecisions(World& world, const Decisions& d, Timestamp now) {
  std::vector<bool> started(world.pending.size(), false);
  for (const Placement& p : d.placements) {
    const Workload& w = world.pending[p.workload];
    Apply(world.cluster, p.slices, w.request);
    world.running.push_back(
        Allocation{.workload = w, .slices = p.slices, .started_at = now, .borrowed = p.borrowed});
    started[p.workload] = true;
  }
  std::vector<Workload> left;
  for (size_t i = 0; i < world.pending.size(); ++i) {
    if (!started[i]) left.push_back(std::move(world.pending[i]));
  }
  world.pending = std::move(left);
}

void ExpectSame(const Decisions& full, const std::vector<Workload>& pending,
                const EventDecisions& events, const std::string& context) {
  ASSERT_EQ(full.placements.size(), events.started.size()) << context;
  for (size_t i = 0; i < events.started.size(); ++i) {
    const Placement& p = full.placements[i];
    const StartedWork& s = events.started[i];
    EXPECT_EQ(pending[p.workload].id, s.id) << context << " #" << i;
    EXPECT_EQ(p.borrowed, s.borrowed) << context << " " << s.id;
    ASSERT_EQ(p.slices.size(), s.slices.size()) << context << " " << s.id;
    for (size_t k = 0; k < s.slices.size(); ++k) {
      EXPECT_EQ(p.slices[k].node, s.slices[k].node) << context << " " << s.id;
      EXPECT_EQ(p.slices[k].gpus, s.slices[k].gpus) << context << " " << s.id;
    }
  }
}

// No GPU, CPU or memory over-allocated; no limit exceeded; gangs whole on distinct nodes.
void ExpectInvariants(const EventScheduler& s, const std::vector<Queue>& queues,
                      const EventDecisions& d, const std::map<std::string, int>& gang_nodes,
                      const std::string& context) {
  for (const Node& node : s.cluster().nodes) {
    EXPECT_GE(node.cpu_milli_free, 0) << context;
    EXPECT_GE(node.memory_mib_free, 0) << context;
    for (const Gpu& g : node.gpus) {
      EXPECT_GE(g.free_milli, 0) << context << " " << node.id;
      EXPECT_LE(g.free_milli, kWholeGpu) << context << " " << node.id;
    }
  }
  for (uint32_t q = 0; q < queues.size(); ++q) {
    if (queues[q].limit_milli) {
      EXPECT_LE(s.usage(q), *queues[q].limit_milli) << context;
    }
  }
  for (const StartedWork& w : d.started) {
    std::vector<uint32_t> nodes;
    for (const auto& slice : w.slices) nodes.push_back(slice.node);
    std::sort(nodes.begin(), nodes.end());
    EXPECT_EQ(std::unique(nodes.begin(), nodes.end()), nodes.end()) << context << " " << w.id;
    EXPECT_EQ(static_cast<int>(nodes.size()), gang_nodes.at(w.id)) << context << " " << w.id;
  }
}

// Greedy, no preemption: after Start and after every Submit, Complete and Cancel, the engine
// starts exactly what a full pass on the same state starts, in the same order and places.
TEST(EventSchedulerPropertyTest, AgreesWithTheFullPassUnderGreedyBackfill) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    World world = RandomWorld(rng);
    Options opt = Greedy();
    Timestamp now = kNow;
    Input in{.cluster = world.cluster,
             .pending = world.pending,
             .running = world.running,
             .queues = world.queues,
             .now = now,
             .options = opt};
    EventScheduler s(in);
    std::string context = "seed " + std::to_string(seed);
    Decisions full = Schedule(in);
    EventDecisions first = s.Start(now);
    ExpectSame(full, world.pending, first, context + " start");
    ApplyDecisions(world, full, now);
    int next = 100;
    for (int step = 0; step < 40 && !::testing::Test::HasFailure(); ++step) {
      now += seconds(pick(1, 30));
      std::string at = context + " step " + std::to_string(step);
      int kind = pick(0, 9);
      EventDecisions got;
      if (kind < 5 || (world.running.empty() && world.pending.empty())) {
        Workload w = RandomJob(rng, next++, now);
        w.submitted_at = now;
        world.pending.push_back(w);
        got = s.Submit(w, now).value();
        at += " submit " + w.id;
      } else if (kind < 9 && !world.running.empty()) {
        size_t r = static_cast<size_t>(pick(0, static_cast<int>(world.running.size()) - 1));
        Allocation a = world.running[r];
        world.running.erase(world.running.begin() + static_cast<long>(r));
        Release(world.cluster, a.slices, a.workload.request);
        got = s.Complete(a.workload.id, now).value();
        at += " complete " + a.workload.id;
      } else if (!world.pending.empty()) {
        size_t p = static_cast<size_t>(pick(0, static_cast<int>(world.pending.size()) - 1));
        std::string id = world.pending[p].id;
        world.pending.erase(world.pending.begin() + static_cast<long>(p));
        got = s.Cancel(id, now).value();
        at += " cancel " + id;
      } else {
        continue;
      }
      Decisions want =
          Schedule(world.cluster, world.pending, world.running, world.queues, now, opt);
      ExpectSame(want, world.pending, got, at);
      ApplyDecisions(world, want, now);
      EXPECT_EQ(s.pending_count(), world.pending.size()) << at;
      EXPECT_EQ(s.running_count(), world.running.size()) << at;
    }
    if (::testing::Test::HasFailure()) return;
  }
}

// EASY backfill on random event streams: the invariants hold, and the reserved job, when there
// is one, is pending and blocked.
TEST(EventSchedulerPropertyTest, EasyBackfillKeepsTheInvariants) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    World world = RandomWorld(rng);
    Timestamp now = kNow;
    Input in{.cluster = world.cluster,
             .pending = world.pending,
             .running = world.running,
             .queues = world.queues,
             .now = now};
    std::map<std::string, int> gang_nodes;
    for (const Workload& w : world.pending) gang_nodes[w.id] = w.request.nodes;
    std::vector<std::string> running_ids;
    for (const Allocation& a : world.running) running_ids.push_back(a.workload.id);
    EventScheduler s(in);
    std::string context = "seed " + std::to_string(seed);
    auto record = [&](const EventDecisions& d) {
      for (const StartedWork& w : d.started) running_ids.push_back(w.id);
    };
    EventDecisions d = s.Start(now);
    ExpectInvariants(s, world.queues, d, gang_nodes, context);
    record(d);
    int next = 100;
    for (int step = 0; step < 60 && !::testing::Test::HasFailure(); ++step) {
      now += seconds(pick(1, 600));
      if (pick(0, 1) == 0 || running_ids.empty()) {
        Workload w = RandomJob(rng, next++, now);
        gang_nodes[w.id] = w.request.nodes;
        d = s.Submit(w, now).value();
      } else {
        size_t r = static_cast<size_t>(pick(0, static_cast<int>(running_ids.size()) - 1));
        std::string id = running_ids[r];
        running_ids.erase(running_ids.begin() + static_cast<long>(r));
        d = s.Complete(id, now).value();
      }
      std::string at = context + " step " + std::to_string(step);
      ExpectInvariants(s, world.queues, d, gang_nodes, at);
      record(d);
      if (auto held = s.reservation()) {
        std::vector<std::string> order = s.PendingInOrder();
        EXPECT_NE(std::find(order.begin(), order.end(), held->id), order.end()) << at;
      }
    }
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace hangar::scheduling
