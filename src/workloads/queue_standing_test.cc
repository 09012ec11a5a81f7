#include "workloads/queue_standing.h"

#include <gtest/gtest.h>

namespace hangar::workloads {
namespace {

namespace sch = scheduling;

// root > team_a > proj_a1, proj_a2; root > team_b > proj_b1 (and a reservations queue).
sch::Input Tree() {
  sch::Input in;
  in.queues = {
      sch::Queue{.id = "root"},
      sch::Queue{.id = "team_a", .parent = 0, .guaranteed_milli = 4000, .limit_milli = 8000},
      sch::Queue{.id = "proj_a1", .parent = 1, .guaranteed_milli = 2000, .weight = 2},
      sch::Queue{.id = "proj_a2", .parent = 1},
      sch::Queue{.id = "team_b", .parent = 0, .guaranteed_milli = 4000},
      sch::Queue{.id = "proj_b1", .parent = 4, .guaranteed_milli = 4000},
      sch::Queue{.id = "reservations", .parent = 0},
  };
  return in;
}

void AddRunning(sch::Input& in, uint32_t queue, int32_t gpus, bool borrowed) {
  sch::Allocation a{.borrowed = borrowed};
  a.workload.queue = queue;
  a.workload.request.gpus_per_node = gpus;
  in.running.push_back(a);
}

TEST(QueueStandingTest, StandingCountsRunningWorkUpTheTree) {
  sch::Input in = Tree();
  AddRunning(in, 2, 1, false);
  AddRunning(in, 3, 2, true);
  QueueStandings standings(in);
  auto s = standings.StandingOf(2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].scope_id, "proj_a1");
  EXPECT_DOUBLE_EQ(s[0].gpus_in_use, 1.0);
  EXPECT_DOUBLE_EQ(s[0].gpus_guaranteed, 2.0);
  EXPECT_FALSE(s[0].gpu_limit.has_value());
  EXPECT_DOUBLE_EQ(s[0].weight, 2.0);
  EXPECT_EQ(s[1].scope_id, "team_a");
  EXPECT_DOUBLE_EQ(s[1].gpus_in_use, 3.0);
  EXPECT_EQ(s[1].gpu_limit, 8.0);
  EXPECT_TRUE(standings.StandingOf(6).empty());  // not a team or project
}

TEST(QueueStandingTest, BorrowersAreNamedOnlyToScopesBelowTheirGuarantee) {
  sch::Input in = Tree();
  AddRunning(in, 3, 2, true);   // proj_a2 borrows 2
  AddRunning(in, 5, 1, false);  // proj_b1 within its guarantee
  AddRunning(in, 2, 2, false);  // proj_a1 at its guarantee of 2
  QueueStandings standings(in);
  // proj_b1 holds 1 of its 4: entitled, and proj_a2's 2 borrowed GPUs are what it could reclaim.
  auto borrowers = standings.BorrowersAgainst(5);
  ASSERT_EQ(borrowers.size(), 1u);
  EXPECT_EQ(borrowers[0].scope_id, "proj_a2");
  EXPECT_DOUBLE_EQ(borrowers[0].gpus, 2.0);
  // proj_a1 holds its guarantee and team_a (4 in use) its own: nothing is owed to them.
  EXPECT_TRUE(standings.BorrowersAgainst(2).empty());
  // Its own scope's borrowing is not listed against itself.
  EXPECT_TRUE(standings.BorrowersAgainst(3).empty());
}

TEST(QueueStandingTest, RunningWorkBeyondAGuaranteeIsMarkedBorrowedInStartOrder) {
  sch::Input in = Tree();
  auto at = [](int seconds) { return Timestamp{} + std::chrono::seconds(seconds); };
  // proj_a1 is guaranteed 2: its first two GPUs are its own, the third borrows.
  AddRunning(in, 2, 1, true);
  in.running.back().started_at = at(1);
  AddRunning(in, 2, 2, true);
  in.running.back().started_at = at(3);
  AddRunning(in, 2, 1, true);
  in.running.back().started_at = at(2);
  AddRunning(in, 3, 1, false);  // proj_a2 (no guarantee), but team_a's 4 are taken: borrowed
  in.running.back().started_at = at(4);
  AddRunning(in, 6, 1, true);  // the reservations queue has no guarantee: never borrowed
  MarkBorrowed(in);
  EXPECT_FALSE(in.running[0].borrowed);
  EXPECT_TRUE(in.running[1].borrowed);  // started last of proj_a1's: past its 2
  EXPECT_FALSE(in.running[2].borrowed);
  EXPECT_TRUE(in.running[3].borrowed);
  EXPECT_FALSE(in.running[4].borrowed);
}

}  // namespace
}  // namespace hangar::workloads
