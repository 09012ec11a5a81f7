// NodeSignals: wakes the agents' long polls when a node's assignments may have changed.
//
// The assignments themselves live in the store; this is only the doorbell. A change made by
// this process rings the node's bell; an agent waiting in GET …/assignments wakes, re-reads its
// assignments and answers at once. A change made by another replica is seen when the poll's
// wait runs out (the agent then polls again).
//
// Long polls hold a worker thread while they wait, so at most `max_waiters` wait at once; the
// rest answer immediately and their agents poll again after a pause.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace hangar::workloads {

class NodeSignals {
 public:
  explicit NodeSignals(int max_waiters = 64) : max_waiters_(max_waiters) {}

  // The node's bell count; pass it to WaitForChange.
  uint64_t Count(const std::string& node_id);
  void Ring(const std::string& node_id);
  // Waits (real time) until the node's count differs from `seen`, `timeout` passes, or
  // Shutdown(). False when it could not wait because too many others already do.
  bool WaitForChange(const std::string& node_id, uint64_t seen, Micros timeout);
  // Wakes every waiter and makes later waits return at once (hangard stopping).
  void Shutdown();

 private:
  const int max_waiters_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<std::string, uint64_t> counts_;  // guarded by mutex_
  int waiters_ = 0;                                   // guarded by mutex_
  bool shutdown_ = false;                             // guarded by mutex_
};

}  // namespace hangar::workloads
