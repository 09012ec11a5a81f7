// OutputBell: tells the followers of a workload's logs (GET …/logs?follow=true) that its output
// or its state may have changed, so they read the store again at once instead of at their next
// poll.
//
// Like NodeSignals it is only a doorbell: the output lives in the store. JobService::Report
// rings it for every workload an agent's report touched (new output, a run starting or ending).
// Changes made elsewhere (a pending job cancelled, an instance terminated, another replica) are
// not rung; followers also re-read on a timer, so they see those a little later.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/workload_types.h"

namespace hangar::workloads {

class OutputBell {
 public:
  // Keeps a callback registered until destroyed (or moved from).
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept { *this = std::move(other); }
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription() { Cancel(); }
    // Unregisters; once it returns the callback is not running and will not be called again.
    void Cancel();

   private:
    friend class OutputBell;
    Subscription(OutputBell* bell, std::string workload_id, uint64_t id)
        : bell_(bell), workload_id_(std::move(workload_id)), id_(id) {}
    OutputBell* bell_ = nullptr;
    std::string workload_id_;
    uint64_t id_ = 0;
  };

  // Calls `on_ring` on every Ring(workload_id) until the subscription ends. `on_ring` runs on
  // the ringing thread with the bell's lock held: it must be quick, must not block and must not
  // call back into the bell. The bell must outlive the subscription.
  [[nodiscard]] Subscription Subscribe(std::string workload_id, std::function<void()> on_ring);

  void Ring(const std::string& workload_id);
  // Rings every workload named by a stored agent report: its output and its runs' states.
  void RingReported(const api::NodeReport& report);

 private:
  void Unsubscribe(const std::string& workload_id, uint64_t id);

  std::mutex mutex_;
  uint64_t next_id_ = 1;  // guarded by mutex_
  // workload id -> (subscription id -> callback); guarded by mutex_
  std::unordered_map<std::string, std::unordered_map<uint64_t, std::function<void()>>> bells_;
};

}  // namespace hangar::workloads
