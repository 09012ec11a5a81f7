// What keeps work out before capacity matters: holds, start times, dependencies, budgets,
// deadlines, and the baseline orderings.
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
using testing::PlacedIds;
using testing::Uniform;
using testing::WhyWaiting;

Input OneNode(int gpus, std::vector<Workload> pending) {
  return Input{.cluster = Uniform(1, gpus), .pending = std::move(pending), .now = kNow};
}

TEST(GatesTest, HeldWorkWaitsUntilReleased) {
  Input in = OneNode(2, {Job("held", 1)});
  in.pending[0].held = true;
  Decisions d = Schedule(in);
  EXPECT_TRUE(d.placements.empty());
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kHeld);
  in.pending[0].held = false;
  EXPECT_EQ(Schedule(in).placements.size(), 1u);
}

TEST(GatesTest, FutureStartTimesWaitAndSetTheWakeUp) {
  Input in = OneNode(2, {Job("later", 1), Job("much-later", 1)});
  in.pending[0].not_before = kNow + minutes(5);
  in.pending[1].not_before = kNow + hours(5);
  Decisions d = Schedule(in);
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kStartTimeInFuture);
  ASSERT_TRUE(d.wake_at.has_value());
  EXPECT_EQ(*d.wake_at, kNow + minutes(5));
  in.now = kNow + minutes(5);
  EXPECT_EQ(PlacedIds(Schedule(in), in.pending), std::vector<std::string>{"later"});
}

TEST(GatesTest, DependenciesFollowTheOutcomeAsked) {
  struct Case {
    const char* name;
    Dependency::Condition condition;
    std::optional<Finished::Outcome> outcome;  // nullopt: the other workload is still pending
    ReasonCode want;                           // kNone: it starts
  };
  using C = Dependency::Condition;
  using O = Finished::Outcome;
  const Case cases[] = {
      {"after-ok, succeeded", C::kAfterOk, O::kSucceeded, ReasonCode::kNone},
      {"after-ok, failed", C::kAfterOk, O::kFailed, ReasonCode::kDependencyNeverSatisfied},
      {"after-ok, pending", C::kAfterOk, std::nullopt, ReasonCode::kDependencyPending},
      {"after-any, cancelled", C::kAfterAny, O::kCancelled, ReasonCode::kNone},
      {"after-failure, failed", C::kAfterFailure, O::kFailed, ReasonCode::kNone},
      {"after-failure, succeeded", C::kAfterFailure, O::kSucceeded,
       ReasonCode::kDependencyNeverSatisfied},
  };
  for (const Case& c : cases) {
    Input in = OneNode(4, {Job("next", 1)});
    in.pending[0].dependencies = {Dependency{"first", c.condition}};
    if (c.outcome) {
      in.finished = {Finished{"first", *c.outcome}};
    } else {
      in.pending.push_back(Job("first", 4));
      in.pending.back().held = true;
    }
    Decisions d = Schedule(in);
    EXPECT_EQ(WhyWaiting(d, 0).code, c.want) << c.name;
  }
  Input unknown = OneNode(4, {Job("orphan", 1)});
  unknown.pending[0].dependencies = {Dependency{"nobody"}};
  EXPECT_EQ(WhyWaiting(Schedule(unknown), 0).code, ReasonCode::kDependencyNeverSatisfied);
}

TEST(GatesTest, BudgetsBlockNewWorkOnlyAfterTheGracePeriod) {
  Input in = OneNode(4, {Job("a", 1)});
  in.queues = {Queue{.id = "org"}, Queue{.id = "team", .parent = 0},
               Queue{.id = "proj", .parent = 1}};
  in.pending[0].queue = 2;
  in.queues[1].budget_gpu_hours = 100;
  in.queues[1].used_gpu_hours = 100;
  in.options.budget_grace = hours(24);

  Decisions d = Schedule(in);  // just used up: the grace period starts, work still starts
  EXPECT_EQ(d.placements.size(), 1u);
  EXPECT_EQ(d.budgets_exhausted, std::vector<uint32_t>{1});
  EXPECT_EQ(d.wake_at, kNow + hours(24));

  in.queues[1].over_budget_since = kNow - hours(23);  // within grace
  EXPECT_EQ(Schedule(in).placements.size(), 1u);

  in.queues[1].over_budget_since = kNow - hours(25);  // past it: the project's work waits
  d = Schedule(in);
  EXPECT_TRUE(d.placements.empty());
  Reason why = WhyWaiting(d, 0);
  EXPECT_EQ(why.code, ReasonCode::kBudgetExhausted);
  EXPECT_NE(why.message.find("team used its GPU-hour budget (100 of 100)"), std::string::npos)
      << why.message;
}

TEST(GatesTest, InfeasibleDeadlinesAreReportedAndUrgentOnesGoFirst) {
  Input in = OneNode(1, {Job("relaxed", 1), Job("urgent", 1), Job("hopeless", 1)});
  in.pending[0].submitted_at = kNow - hours(3);  // oldest
  in.pending[1].submitted_at = kNow;
  in.pending[1].run_time_limit = minutes(30);
  in.pending[1].deadline = kNow + minutes(50);  // latest start in 20 min: inside the boost
  in.pending[2].run_time_limit = hours(2);
  in.pending[2].deadline = kNow + hours(1);
  Decisions d = Schedule(in);
  EXPECT_EQ(PlacedIds(d, in.pending), std::vector<std::string>{"urgent"});
  EXPECT_EQ(d.deadline_infeasible, std::vector<uint32_t>{2});
}

TEST(GatesTest, BaselineOrderingsIgnorePriorityOrUseRunTimes) {
  Input in = OneNode(1, {Job("old-long", 1), Job("new-short", 1), Job("mid-high", 1)});
  in.pending[0].submitted_at = kNow - hours(2);
  in.pending[0].run_time_limit = hours(5);
  in.pending[1].submitted_at = kNow;
  in.pending[1].run_time_limit = minutes(5);
  in.pending[2].submitted_at = kNow - hours(1);
  in.pending[2].priority = 100;
  EXPECT_EQ(PlacedIds(Schedule(in), in.pending), std::vector<std::string>{"mid-high"});
  in.options.ordering = Ordering::kFifo;
  EXPECT_EQ(PlacedIds(Schedule(in), in.pending), std::vector<std::string>{"old-long"});
  in.options.ordering = Ordering::kShortestFirst;
  EXPECT_EQ(PlacedIds(Schedule(in), in.pending), std::vector<std::string>{"new-short"});
}

TEST(GatesTest, InvalidRequestsAreRejectedWithAReason) {
  Input in = OneNode(2, {Job("nonsense", 2, 500)});  // a share of two GPUs
  EXPECT_EQ(WhyWaiting(Schedule(in), 0).code, ReasonCode::kInvalidRequest);
}

TEST(GatesTest, ReasonsHintWhatWouldFitWithoutAConstraint) {
  Input in{.cluster = Uniform(2, 4), .now = kNow};
  for (auto& g : in.cluster.nodes[0].gpus) g.free_milli = 0;  // zone a (node 0) is full
  in.pending = {Job("zonal", 4)};
  in.pending[0].request.required_labels = {Label{0, 1}};  // zone=a
  Reason why = WhyWaiting(Schedule(in), 0);
  EXPECT_EQ(why.code, ReasonCode::kInsufficientGpus);
  EXPECT_NE(why.message.find("4 GPU(s) idle in zone=b would fit without the label constraint"),
            std::string::npos)
      << why.message;
  EXPECT_EQ(ReasonName(why.code), "insufficient_gpus");
}

TEST(GatesTest, UsageDecaysWithItsHalfLife) {
  EXPECT_DOUBLE_EQ(DecayUsage(100, hours(24), hours(24)), 50);
  EXPECT_DOUBLE_EQ(DecayUsage(100, hours(48), hours(24)), 25);
  EXPECT_DOUBLE_EQ(DecayUsage(100, hours(0), hours(24)), 100);
}

}  // namespace
}  // namespace hangar::scheduling
