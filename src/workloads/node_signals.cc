#include "workloads/node_signals.h"

namespace hangar::workloads {

uint64_t NodeSignals::Count(const std::string& node_id) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(node_id);
  return it == counts_.end() ? 0 : it->second;
}

void NodeSignals::Ring(const std::string& node_id) {
  {
    std::lock_guard lock(mutex_);
    ++counts_[node_id];
  }
  changed_.notify_all();
}

bool NodeSignals::WaitForChange(const std::string& node_id, uint64_t seen, Micros timeout) {
  std::unique_lock lock(mutex_);
  if (shutdown_ || waiters_ >= max_waiters_) return false;
  ++waiters_;
  changed_.wait_for(lock, timeout, [&] { return shutdown_ || counts_[node_id] != seen; });
  --waiters_;
  return true;
}

void NodeSignals::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
  }
  changed_.notify_all();
}

}  // namespace hangar::workloads
