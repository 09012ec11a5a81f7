// The scheduling core: a pure function from (cluster, pending work, running work, quota tree,
// now) to decisions. No I/O, no wall clock, no threads: the same input gives the same output,
// which is what makes it testable, benchmarkable and replayable in virtual time (hangar-sim).
//
// One pass:
//   1. Usage: the GPU shares running work holds, summed up the quota tree.
//   2. Order: priority (higher first), then fair share (the queue path with the lowest
//      decayed usage per unit of weight, compared level by level from the root, like Slurm's
//      fair-tree), then age (older first), then id (a total order).
//   3. For each workload in that order: quota check (guarantee, then borrowing up to the burst
//      limit on every ancestor), then placement (see placement.h), then the decision, updating
//      the snapshot's free capacity and the usage as it goes.
// Before 2, overage: a queue with an overage grace (Queue::overage_grace) whose running work
// holds more than its limit for longer than the grace gives back its cheapest preemptible work
// (lowest priority, then youngest) until it is within the limit again.
//
// Thread-safety: Schedule is a pure function of its arguments.
#pragma once

#include "scheduling/model.h"

namespace hangar::scheduling {

Decisions Schedule(const Input& input);

// The same, from parts (copies them into an Input; for tests and small callers).
Decisions Schedule(const ClusterSnapshot& cluster, const std::vector<Workload>& pending,
                   const std::vector<Allocation>& running, const std::vector<Queue>& queues,
                   Timestamp now, const Options& options = {});

}  // namespace hangar::scheduling
