// QueueStanding: the fair-share side of "why does my work wait" — for a waiting workload, where
// its project and team stand (GPUs held against guarantee, limit and weight) and, when they are
// below their guarantee, which other scopes hold capacity beyond their own guarantee
// (borrowed), which is what quota reclaim takes back first. Computed once per scheduler pass
// from the pass's input; the scheduler loop puts it on the queue board.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/workload_types.h"
#include "scheduling/model.h"

namespace hangar::workloads {

// Marks the running work of `input` that holds capacity beyond a guarantee (Allocation::
// borrowed), as the core marks a placement: in order of start, an allocation is borrowed when
// it took a queue with a guarantee past it. The store does not keep the flag, so each pass
// derives it; quota reclaim preempts borrowed work first.
void MarkBorrowed(scheduling::Input& input);

class QueueStandings {
 public:
  // What every queue of `input` holds (running work, its descendants' included) and what each
  // leaf holds borrowed.
  explicit QueueStandings(const scheduling::Input& input);

  // The standing of `queue` and its ancestors below the root, leaf first. Queues that are not
  // a team or project (the reservations queue) are left out.
  std::vector<api::FairShareStanding> StandingOf(uint32_t queue) const;
  // Borrowed capacity of other scopes, largest first, when `queue` or an ancestor holds less
  // than its guarantee; empty otherwise.
  std::vector<api::BorrowedCapacity> BorrowersAgainst(uint32_t queue) const;

 private:
  const std::vector<scheduling::Queue>& queues_;
  std::vector<int64_t> in_use_milli_;    // per queue, with its descendants
  std::vector<int64_t> borrowed_milli_;  // per queue, its own running work that borrowed
};

}  // namespace hangar::workloads
