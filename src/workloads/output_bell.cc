#include "workloads/output_bell.h"

#include <set>
#include <utility>

#include "workloads/run_lifecycle.h"

namespace hangar::workloads {

OutputBell::Subscription& OutputBell::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Cancel();
    bell_ = std::exchange(other.bell_, nullptr);
    workload_id_ = std::move(other.workload_id_);
    id_ = other.id_;
  }
  return *this;
}

void OutputBell::Subscription::Cancel() {
  if (bell_ != nullptr) std::exchange(bell_, nullptr)->Unsubscribe(workload_id_, id_);
}

OutputBell::Subscription OutputBell::Subscribe(std::string workload_id,
                                               std::function<void()> on_ring) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id_++;
  bells_[workload_id].emplace(id, std::move(on_ring));
  return Subscription(this, std::move(workload_id), id);
}

void OutputBell::Ring(const std::string& workload_id) {
  std::lock_guard lock(mutex_);
  auto it = bells_.find(workload_id);
  if (it == bells_.end()) return;
  for (auto& [id, on_ring] : it->second) on_ring();
}

void OutputBell::RingReported(const api::NodeReport& report) {
  std::set<std::string> touched;
  for (const auto& out : report.output) {
    if (auto run = ParseRunId(out.run_id)) touched.insert(run->first);
  }
  for (const auto& run : report.runs) {
    if (auto parsed = ParseRunId(run.run_id)) touched.insert(parsed->first);
  }
  for (const auto& id : touched) Ring(id);
}

void OutputBell::Unsubscribe(const std::string& workload_id, uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = bells_.find(workload_id);
  if (it == bells_.end()) return;
  it->second.erase(id);
  if (it->second.empty()) bells_.erase(it);
}

}  // namespace hangar::workloads
