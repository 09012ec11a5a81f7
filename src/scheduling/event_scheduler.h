// EventScheduler: the scheduling core driven by events instead of full passes. Schedule
// (scheduler.h) looks at everything each time, about 120 ms for 100,000 pending jobs on 10,000
// GPUs; EventScheduler keeps its state between events and does only the work an event can
// change, so a submit costs about one placement search and a completion one short walk.
//
// State kept between events:
//   - pending work in Schedule's kFairShare order (priority desc, deadline urgency, fair-tree
//     position of its queue, submit time, id), filed by class: one class per (request shape,
//     leaf queue). Jobs of a class pass or fail the quota check alike, and fail placement alike
//     (Schedule's shape memo), so a walk drops a whole class with one check;
//   - a Placer (placement.h) with the free capacity, plus histograms of idle GPUs per node and
//     of free GPU shares, a cheap necessary test that skips most hopeless placement searches;
//   - per-queue GPU usage up the quota tree (QuotaGate's semantics: burst limits on every
//     ancestor, borrowing beyond a guarantee when Options::allow_borrowing);
//   - running work by expected end, and the EASY reservation of one capacity-blocked job: its
//     start, its slices, and the reserved nodes as expected at that start (only those nodes
//     matter when checking that backfilled work does not delay it).
//
// Events and what they cost:
//   Submit    gates, quota and one placement: the work starts at once if it fits and does not
//             delay the reservation (it ends before the reservation starts, or its placement
//             still fits the reserved nodes as expected then, or it fits elsewhere); otherwise
//             it is queued. A capacity-blocked submit ahead of the reserved job (or with no
//             reservation) takes the reservation when one can be computed for it.
//   Complete  releases the capacity and returns the quota usage, then walks (below).
//   Cancel    pending work leaves the queue (a walk only when it held the reservation);
//             running work is released like Complete.
//   Resync    new quota tree (fair-share usage, budgets): recomputes fair-share order, usage and
//             budget gates, re-admits parked work, then walks. About the cost of a full pass.
//   Walk      (Start, Complete, Cancel of running work, Resync) drops the reservation and goes
//             through pending work in order, merging the classes' heads: work within its
//             guarantees first, then work that borrows (Schedule's two phases); a class whose
//             queue is at its limit, or whose shape failed, is dropped whole; the first
//             capacity-blocked job gets the new reservation; the walk stops as soon as every
//             distinct pending shape has failed.
//
// Equivalence: with Backfill::kGreedy (no reservations) and preemption off, after Start and
// after every event, the work started is exactly what Schedule would start on the same state
// (cluster, pending, running, queues), and in the same order and places. With Backfill::kEasy
// the reservation is kept between events and recomputed only as above, so it may differ from
// the one a full pass would compute (it never over-allocates or breaks a limit; backfilled
// work never delays the reservation that is current when it starts).
//
// What it does not do that Schedule does (call Schedule periodically, or Resync, for those):
//   - no preemption (priority or quota reclaim); Options::preemption is ignored;
//   - one reservation at most (Options::reservations > 1 is treated as 1; 0 turns them off);
//     none for MIG requests, as in Schedule;
//   - fair-share positions and deadline urgency are computed when work is admitted, and
//     refreshed only by Resync (a full pass recomputes them every time);
//   - gated work (held, a future not_before, unfinished dependencies, a queue over its budget)
//     is parked outside the order: not_before is re-checked on every event's `now`,
//     dependencies when the work they name completes or is cancelled, the rest on Resync;
//   - no reasons for every waiting job, no hints, no deadline-infeasible or budget reports.
//
// Thread-safety: not safe for concurrent use; deterministic (no clock, no I/O, no threads: time
// comes with each event).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "scheduling/model.h"
#include "scheduling/placement.h"

namespace hangar::scheduling {

// Work an event started.
struct StartedWork {
  std::string id;
  Slices slices;
  bool borrowed = false;    // beyond its queue's guarantee (reclaimed first)
  bool backfilled = false;  // started while a reservation for earlier work was held
};

struct EventDecisions {
  std::vector<StartedWork> started;  // in the order they were decided
  // Submit: why the submitted work did not start (kNone when it started or is rejected with an
  // error). Other events: kNone.
  Reason reason;
};

// The current EASY reservation.
struct HeldReservation {
  std::string id;
  Timestamp start;
  Slices slices;
};

class EventScheduler {
 public:
  // Takes the state of `input`: the cluster with running work already taken off, pending and
  // running work, the quota tree (empty: one root without limits), finished outcomes (for
  // dependencies), options and now. Nothing starts until Start. Pending ids must be unique.
  explicit EventScheduler(const Input& input);
  ~EventScheduler();
  EventScheduler(EventScheduler&&) noexcept;
  EventScheduler& operator=(EventScheduler&&) noexcept;

  // The first walk over everything pending: starts what fits now (Schedule's decisions, see
  // Equivalence above). Call once after construction.
  EventDecisions Start(Timestamp now);

  // New work. invalid_argument when its request contradicts itself; already_exists when its id
  // is pending, parked or running.
  Result<EventDecisions> Submit(Workload workload, Timestamp now);

  // Running work `id` stopped (succeeded unless `outcome` says otherwise); its capacity and
  // quota usage are released and waiting work may start. not_found when it is not running.
  Result<EventDecisions> Complete(std::string_view id, Timestamp now,
                                  Finished::Outcome outcome = Finished::Outcome::kSucceeded);

  // Pending, parked or running work `id` is withdrawn (running work stops as in Complete, with
  // outcome kCancelled). not_found when it is unknown.
  Result<EventDecisions> Cancel(std::string_view id, Timestamp now);

  // A new quota tree (same queue indices; fresh decayed usage and budgets): recomputes fair
  // share, usage and gates, re-admits parked work, and walks.
  EventDecisions Resync(std::vector<Queue> queues, Timestamp now);

  // For tests and the bench.
  const ClusterSnapshot& cluster() const;
  size_t pending_count() const;  // in the order (not parked)
  size_t parked_count() const;
  size_t running_count() const;
  // GPU milli in use by running work of queue `q` and its descendants.
  int64_t usage(uint32_t q) const;
  std::optional<HeldReservation> reservation() const;
  // Pending ids in order (tests; O(pending)).
  std::vector<std::string> PendingInOrder() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hangar::scheduling
