// Backfill: EASY reservations, strict order, and greedy; and the property that backfilled work
// never delays a reservation.
#include <gtest/gtest.h>

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
using testing::PlacedIds;
using testing::RunOn;
using testing::Uniform;
using testing::WhyWaiting;

Workload Limited(std::string id, int gpus, Micros limit, Timestamp submitted) {
  Workload w = Job(std::move(id), gpus);
  w.run_time_limit = limit;
  w.submitted_at = submitted;
  return w;
}

// One 8-GPU node; 4 GPUs run until now + 30 min. A big job waits for the whole node; behind it,
// a short job (ends before the big one can start), a long one, and one without a limit.
Input BlockedBigJob() {
  Input in{.cluster = Uniform(1, 8), .now = kNow};
  in.running.push_back(RunOn(in.cluster, Limited("running", 4, hours(1), kNow - minutes(30)), 0,
                             {0, 1, 2, 3}, kNow - minutes(30)));
  in.pending = {Limited("big", 8, hours(1), kNow - hours(3)),
                Limited("short", 2, minutes(20), kNow - hours(2)),
                Limited("long", 2, hours(2), kNow - minutes(110)), Job("unlimited", 2)};
  in.pending[3].submitted_at = kNow - hours(1);
  return in;
}

TEST(BackfillTest, EasyReservesForTheFirstBlockedAndBackfillsWhatEndsBefore) {
  Input in = BlockedBigJob();
  Decisions d = Schedule(in);
  EXPECT_EQ(PlacedIds(d, in.pending), std::vector<std::string>{"short"});
  EXPECT_TRUE(d.placements[0].backfilled);
  ASSERT_EQ(d.reservations.size(), 1u);
  EXPECT_EQ(d.reservations[0].workload, 0u);
  EXPECT_EQ(d.reservations[0].start, kNow + minutes(30));
  EXPECT_EQ(WhyWaiting(d, 0).code, ReasonCode::kInsufficientGpus);
  Reason why = WhyWaiting(d, 2);
  EXPECT_EQ(why.code, ReasonCode::kReservedForOther);
  EXPECT_NE(why.message.find("would delay big"), std::string::npos) << why.message;
  EXPECT_EQ(WhyWaiting(d, 3).code, ReasonCode::kReservedForOther);
}

TEST(BackfillTest, LongWorkMayRunWhereTheReservationDoesNotNeedIt) {
  Input in = BlockedBigJob();
  Node spare = in.cluster.nodes[0];
  spare.id = "spare";
  for (auto& g : spare.gpus) g.free_milli = kWholeGpu;
  spare.gpus.resize(4);  // too small for the big job, fine for the long one
  in.cluster.nodes.push_back(spare);
  Decisions d = Schedule(in);
  // The long job and the one without a limit go to the spare node; the reserved node keeps
  // only the short one.
  EXPECT_EQ(PlacedIds(d, in.pending), (std::vector<std::string>{"short", "long", "unlimited"}));
  EXPECT_EQ(d.placements[1].slices[0].node, 1u);
  EXPECT_EQ(d.placements[2].slices[0].node, 1u);
}

TEST(BackfillTest, StrictOrderBlocksEverythingBehindAndGreedyStartsAll) {
  Input in = BlockedBigJob();
  in.options.backfill = Backfill::kNone;
  Decisions d = Schedule(in);
  EXPECT_TRUE(d.placements.empty());
  Reason why = WhyWaiting(d, 1);
  EXPECT_EQ(why.code, ReasonCode::kBlockedBehind);
  EXPECT_NE(why.message.find("behind big"), std::string::npos) << why.message;

  in.options.backfill = Backfill::kGreedy;
  d = Schedule(in);
  EXPECT_EQ(PlacedIds(d, in.pending), (std::vector<std::string>{"short", "long"}));
  EXPECT_TRUE(d.reservations.empty());
}

TEST(BackfillTest, NoReservationWhenTheBlockerHasNoRunTimeLimit) {
  Input in = BlockedBigJob();
  in.running[0].workload.run_time_limit.reset();
  Decisions d = Schedule(in);
  // The big job cannot be promised a time; the next blocked work can (behind what started).
  for (const Reservation& r : d.reservations) EXPECT_NE(r.workload, 0u);
  EXPECT_EQ(PlacedIds(d, in.pending), (std::vector<std::string>{"short", "long"}));
}

TEST(BackfillTest, MoreReservationsProtectTheNextBlockedWorkToo) {
  Input in = BlockedBigJob();
  in.pending.push_back(Limited("second-big", 8, hours(1), kNow - hours(2) - minutes(30)));
  in.options.reservations = 2;
  Decisions d = Schedule(in);
  ASSERT_EQ(d.reservations.size(), 2u);
  EXPECT_EQ(d.reservations[1].workload, 4u);
  EXPECT_EQ(d.reservations[1].start, kNow + minutes(90));  // after the first big job's hour
}

// Property: on random clusters with running work, whatever EASY starts, the reservation still
// fits where it was promised at its start time.
TEST(BackfillPropertyTest, BackfillNeverDelaysTheReservation) {
  int reservations_seen = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Input in{.cluster = Uniform(pick(1, 6), 8), .now = kNow};
    for (uint32_t n = 0; n < in.cluster.nodes.size(); ++n) {
      for (uint16_t g = 0; g < 8; ++g) {
        if (pick(0, 2) == 0) continue;
        Workload w = Job("r" + std::to_string(n) + "-" + std::to_string(g), 1);
        if (pick(0, 3) != 0) w.run_time_limit = minutes(pick(1, 240));
        in.running.push_back(RunOn(in.cluster, w, n, {g}, kNow - minutes(pick(0, 30))));
      }
    }
    for (int j = 0; j < pick(2, 30); ++j) {
      Workload w = Job("p" + std::to_string(j), std::vector<int>{1, 1, 2, 4, 8}[pick(0, 4)]);
      if (pick(0, 9) == 0) w.request.nodes = 2;
      if (pick(0, 3) != 0) w.run_time_limit = minutes(pick(1, 240));
      w.submitted_at = kNow - minutes(pick(0, 600));
      in.pending.push_back(std::move(w));
    }
    in.options.reservations = pick(1, 3);
    Decisions d = Schedule(in);
    for (const Reservation& r : d.reservations) {
      ++reservations_seen;
      // The cluster at the reservation's start: everything started now that is still running
      // then, minus running work that has ended by then.
      ClusterSnapshot at = in.cluster;
      for (const Placement& p : d.placements) {
        const Workload& w = in.pending[p.workload];
        if (!w.run_time_limit || kNow + *w.run_time_limit > r.start) {
          Apply(at, p.slices, w.request);
        }
      }
      for (const Allocation& a : in.running) {
        if (a.ExpectedEnd() && *a.ExpectedEnd() <= r.start) {
          Release(at, a.slices, a.workload.request);
        }
      }
      for (const Reservation& earlier : d.reservations) {
        if (&earlier == &r) break;
        const Workload& w = in.pending[earlier.workload];
        bool running_then = earlier.start <= r.start &&
                            (!w.run_time_limit || earlier.start + *w.run_time_limit > r.start);
        if (running_then) {
          Apply(at, earlier.slices, w.request);
        }
      }
      Apply(at, r.slices, in.pending[r.workload].request);
      for (const auto& node : at.nodes) {
        for (const auto& g : node.gpus) {
          ASSERT_GE(g.free_milli, 0)
              << "seed " << seed << ": reservation of " << in.pending[r.workload].id << " delayed";
        }
      }
    }
  }
  EXPECT_GT(reservations_seen, 20);  // the property was exercised
}

}  // namespace
}  // namespace hangar::scheduling
