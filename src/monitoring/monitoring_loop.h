// MonitoringLoop: hangard's monitoring thread. Every `tick` it flushes closed metric buckets to
// the store (MetricHub::Flush) and runs the other periodic monitoring steps it is given (alert
// evaluation); at Stop it flushes everything still open, so a clean shutdown loses no samples.
//
// Thread-safety: Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "monitoring/metric_hub.h"

namespace hangar::monitoring {

class MonitoringLoop {
 public:
  using Step = std::function<Status()>;

  MonitoringLoop(MetricHub& hub, Micros tick, std::vector<Step> steps = {})
      : hub_(hub), tick_(tick), steps_(std::move(steps)) {}
  ~MonitoringLoop() { Stop(); }

  void Start();
  void Stop();

 private:
  void Loop();

  MetricHub& hub_;
  const Micros tick_;
  std::vector<Step> steps_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace hangar::monitoring
