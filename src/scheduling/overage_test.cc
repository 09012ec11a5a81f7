// Overage: running work over its queue's limit is tolerated for the queue's grace period, then
// the cheapest preemptible work is preempted until the queue is within its limit again.
#include <gtest/gtest.h>

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

constexpr uint32_t kTeam = 1;
constexpr uint32_t kProject = 2;
constexpr uint32_t kOtherProject = 3;

// One running workload of a case: its queue, GPUs, priority, policy and age.
struct Running {
  const char* id;
  uint32_t queue = kProject;
  int gpus = 1;
  int priority = 0;
  PreemptionPolicy policy = PreemptionPolicy::kRequeue;
  Micros age = hours(1);
  bool terminating = false;
};

// org > team > {project, other project} on one node of 8 GPUs, with `runs` running.
Input Scenario(const std::vector<Running>& runs) {
  Input in{.cluster = Uniform(1, 8), .now = kNow};
  in.queues = {Queue{.id = "org"}, Queue{.id = "team", .parent = 0},
               Queue{.id = "proj", .parent = kTeam}, Queue{.id = "other", .parent = kTeam}};
  uint16_t next_gpu = 0;
  for (const Running& r : runs) {
    Workload w = Job(r.id, r.gpus);
    w.queue = r.queue;
    w.priority = r.priority;
    w.preemption = r.policy;
    std::vector<uint16_t> gpus;
    for (int g = 0; g < r.gpus; ++g) gpus.push_back(next_gpu++);
    in.running.push_back(RunOn(in.cluster, w, 0, std::move(gpus), kNow - r.age));
    in.running.back().terminating = r.terminating;
  }
  return in;
}

std::vector<std::string> VictimIds(const Input& in, const Decisions& d) {
  std::vector<std::string> out;
  for (uint32_t r : Victims(d)) out.push_back(in.running[r].workload.id);
  return out;
}

TEST(OverageTest, ToleratedWithinTheGraceThenTheCheapestWorkJustEnough) {
  struct Case {
    const char* name;
    std::vector<Running> running;
    int64_t limit = 0;                     // the project's, in GPUs
    std::optional<Micros> grace;           // the project's overage grace
    std::optional<Micros> over_for;        // how long it has been over (nullopt: not recorded)
    std::vector<std::string> victims;      // in the order chosen
    std::vector<uint32_t> started, ended;  // overage_started / overage_ended
    std::optional<Timestamp> wake_at;
  };
  const std::vector<Running> four = {
      {.id = "old", .age = hours(5)},
      {.id = "young", .age = minutes(5)},
      {.id = "pair", .gpus = 2, .age = hours(1)},
      {.id = "important", .priority = 10, .age = minutes(1)},
  };  // 5 GPUs
  const Case cases[] = {
      {.name = "just over: the grace starts, nothing stops",
       .running = four,
       .limit = 2,
       .grace = minutes(10),
       .started = {kProject},
       .wake_at = kNow + minutes(10)},
      {.name = "within the grace: nothing stops, wakes when it ends",
       .running = four,
       .limit = 2,
       .grace = minutes(10),
       .over_for = minutes(4),
       .wake_at = kNow + minutes(6)},
      {.name = "after the grace: lowest priority, youngest first, until within",
       .running = four,
       .limit = 2,
       .grace = minutes(10),
       .over_for = minutes(10),
       .victims = {"young", "pair"}},
      {.name = "a victim it can do without is reprieved",
       .running = four,
       .limit = 3,
       .grace = minutes(10),
       .over_for = minutes(11),
       .victims = {"pair"}},
      {.name = "grace 0: reclaimed in the pass that sees it",
       .running = four,
       .limit = 4,
       .grace = Micros{0},
       .victims = {"young"},
       .started = {kProject}},
      {.name = "no grace: running work is never stopped for overage", .running = four, .limit = 1},
      {.name = "never-policy work is untouched, even when it is the youngest",
       .running = {{.id = "fixed", .policy = PreemptionPolicy::kNever, .age = minutes(1)},
                   {.id = "movable", .age = hours(3)}},
       .limit = 1,
       .grace = minutes(10),
       .over_for = hours(1),
       .victims = {"movable"}},
      {.name = "only never-policy work: it stays over, nothing stops",
       .running = {{.id = "a", .policy = PreemptionPolicy::kNever},
                   {.id = "b", .policy = PreemptionPolicy::kNever}},
       .limit = 1,
       .grace = minutes(10),
       .over_for = hours(1)},
      {.name = "back within its limit: the overage ends",
       .running = four,
       .limit = 5,
       .grace = minutes(10),
       .over_for = hours(1),
       .ended = {kProject}},
      {.name = "work already terminating does not count",
       .running = {{.id = "stopping", .terminating = true}, {.id = "left"}},
       .limit = 1,
       .grace = minutes(10),
       .over_for = hours(1),
       .ended = {kProject}},
      {.name = "the grace was removed: the overage ends",
       .running = four,
       .limit = 2,
       .over_for = hours(1),
       .ended = {kProject}},
  };
  for (const Case& c : cases) {
    Input in = Scenario(c.running);
    Queue& project = in.queues[kProject];
    project.limit_milli = c.limit * kWholeGpu;
    project.overage_grace = c.grace;
    if (c.over_for) project.over_limit_since = kNow - *c.over_for;
    Decisions d = Schedule(in);
    EXPECT_EQ(VictimIds(in, d), c.victims) << c.name;
    EXPECT_EQ(d.overage_started, c.started) << c.name;
    EXPECT_EQ(d.overage_ended, c.ended) << c.name;
    EXPECT_EQ(d.wake_at, c.wake_at) << c.name;
    for (const Preemption& p : d.preemptions) {
      EXPECT_EQ(p.over_limit, std::optional<uint32_t>(kProject)) << c.name;
      EXPECT_EQ(p.reason.code, ReasonCode::kPreempting) << c.name;
      EXPECT_NE(p.reason.message.find(
                    "queue proj has been over its GPU limit for longer than the grace period"),
                std::string::npos)
          << c.name << ": " << p.reason.message;
    }
  }
}

TEST(OverageTest, CheckpointingVictimsGetTheirGrace) {
  Input in = Scenario({{.id = "saves", .policy = PreemptionPolicy::kCheckpoint}, {.id = "stays"}});
  in.running[0].workload.checkpoint_grace = minutes(3);
  in.running[0].started_at = kNow - minutes(1);  // the youngest
  in.queues[kProject].limit_milli = 1000;
  in.queues[kProject].overage_grace = minutes(10);
  in.queues[kProject].over_limit_since = kNow - minutes(20);
  Decisions d = Schedule(in);
  ASSERT_EQ(d.preemptions.size(), 1u);
  EXPECT_EQ(d.preemptions[0].running, 0u);
  EXPECT_EQ(d.preemptions[0].policy, PreemptionPolicy::kCheckpoint);
  EXPECT_EQ(d.preemptions[0].grace, minutes(3));
  EXPECT_NE(d.preemptions[0].reason.message.find("2 GPUs in use, its limit is 1"),
            std::string::npos)
      << d.preemptions[0].reason.message;
}

TEST(OverageTest, ATeamOverItsLimitReclaimsAcrossItsProjects) {
  Input in = Scenario({{.id = "p-old", .queue = kProject, .age = hours(4)},
                       {.id = "p-young", .queue = kProject, .age = minutes(2)},
                       {.id = "o-old", .queue = kOtherProject, .age = hours(3)},
                       {.id = "o-young", .queue = kOtherProject, .age = minutes(1)}});
  in.queues[kTeam].limit_milli = 2000;
  in.queues[kTeam].overage_grace = minutes(5);
  in.queues[kTeam].over_limit_since = kNow - minutes(5);
  Decisions d = Schedule(in);
  EXPECT_EQ(VictimIds(in, d), (std::vector<std::string>{"o-young", "p-young"}));
  for (const Preemption& p : d.preemptions) EXPECT_EQ(p.over_limit, kTeam);

  // A project's own reclaim counts for its team: the project gives back one, which is enough
  // for the team too.
  in.queues[kTeam].limit_milli = 3000;
  in.queues[kProject].limit_milli = 1000;
  in.queues[kProject].overage_grace = Micros{0};
  d = Schedule(in);
  EXPECT_EQ(VictimIds(in, d), std::vector<std::string>{"p-young"});
  ASSERT_EQ(d.preemptions.size(), 1u);
  EXPECT_EQ(d.preemptions[0].over_limit, kProject);
  EXPECT_EQ(d.overage_started, std::vector<uint32_t>{kProject});
}

TEST(OverageTest, BlockedWorkTakesWhatOverageFreesBeforePreemptingMore) {
  Input in = Scenario({{.id = "over", .age = minutes(1)}, {.id = "kept", .age = hours(1)}});
  in.cluster = Uniform(1, 2);  // both GPUs used
  for (auto& a : in.running) Apply(in.cluster, a.slices, a.workload.request);
  in.queues[kProject].limit_milli = 1000;
  in.queues[kProject].overage_grace = Micros{0};
  in.queues[kProject].over_limit_since = kNow - minutes(1);
  Workload urgent = Job("urgent", 1);
  urgent.queue = kOtherProject;
  urgent.priority = 100;
  in.pending = {urgent};
  Decisions d = Schedule(in);
  // The overage victim's GPU is promised to the blocked work: nothing else is preempted.
  ASSERT_EQ(d.preemptions.size(), 1u);
  EXPECT_EQ(d.preemptions[0].running, 0u);
  EXPECT_TRUE(d.preemptions[0].over_limit.has_value());
  EXPECT_EQ(testing::WhyWaiting(d, 0).code, ReasonCode::kPreempting);
}

}  // namespace
}  // namespace hangar::scheduling
