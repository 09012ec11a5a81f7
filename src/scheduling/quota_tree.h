// The quota tree's shared arithmetic, for the full pass (scheduler.cc) and the per-event engine
// (event_scheduler.cc), which must order and explain work identically.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduling/model.h"

namespace hangar::scheduling {

// The ancestors of queue `q`, itself first, the root last. Stops at a queue that is its own
// parent, and after queues.size() steps, so a malformed tree cannot loop.
std::vector<uint32_t> PathToRoot(const std::vector<Queue>& queues, uint32_t q);

// Fair-tree order of the queues, like Slurm's fair-tree: at each level siblings rank by their
// subtree's decayed usage per unit of weight, least first; a queue's key is its ranks along its
// path from the root, compared lexicographically. Returns each queue's position in that order.
// `paths[q]` is PathToRoot(queues, q).
std::vector<uint32_t> FairTreePositions(const std::vector<Queue>& queues,
                                        const std::vector<std::vector<uint32_t>>& paths);

// Milli-GPUs as GPUs for people: 8000 -> "8", 2500 -> "2.5".
std::string FormatGpus(int64_t milli);

}  // namespace hangar::scheduling
