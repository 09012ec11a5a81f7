// GpuHolders: which workload holds each GPU, as the scheduler loop's last pass saw it. Written by
// the loop after every pass (one organisation at a time), read by fleet monitoring to charge a
// GPU's samples to the project and team whose work runs on it, and by the "allocated but idle"
// alert. Derived state, like QueueBoard: a restart empties it until the next pass.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace hangar::workloads {

struct GpuHolder {
  std::string workload_id;  // job_… or inst_…
  std::string project_id;
  std::string team_id;
};

class GpuHolders {
 public:
  // Keyed by GpuKey(node, index).
  using Entries = std::unordered_map<std::string, GpuHolder>;

  static std::string GpuKey(const std::string& node_id, int64_t index) {
    return node_id + "/" + std::to_string(index);
  }

  // Replaces one organisation's entries with those of a new pass.
  void Publish(const std::string& org_id, Entries entries) {
    auto shared = std::make_shared<const Entries>(std::move(entries));
    std::lock_guard lock(mutex_);
    by_org_[org_id] = std::move(shared);
  }

  // The organisation's entries as of the last pass (never null).
  std::shared_ptr<const Entries> Of(const std::string& org_id) const {
    std::lock_guard lock(mutex_);
    auto it = by_org_.find(org_id);
    if (it == by_org_.end()) return std::make_shared<const Entries>();
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Entries>> by_org_;  // guarded by mutex_
};

}  // namespace hangar::workloads
