#include "monitoring/monitoring_loop.h"

#include <spdlog/spdlog.h>

namespace hangar::monitoring {

void MonitoringLoop::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void MonitoringLoop::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    if (Status s = hub_.Flush(/*everything=*/true); !s) {
      spdlog::warn("monitoring: final metric flush: {}", s.error().ToString());
    }
  }
}

void MonitoringLoop::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (Status s = hub_.Flush(); !s)
      spdlog::warn("monitoring: metric flush: {}", s.error().ToString());
    for (const Step& step : steps_) {
      if (Status s = step(); !s) spdlog::warn("monitoring: {}", s.error().ToString());
    }
    lock.lock();
    wake_.wait_for(lock, tick_, [this] { return stopping_; });
  }
}

}  // namespace hangar::monitoring
