// QueueBoard: why each waiting workload waits, as the scheduler's last pass saw it (reason,
// queue position, estimated start). Written by the scheduler loop after every pass, read by the
// job views. It is derived state: a restart empties it until the next pass (a second or less).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/workload_types.h"

namespace hangar::workloads {

class QueueBoard {
 public:
  using Entries = std::unordered_map<std::string, api::JobQueueInfo>;

  // Replaces the entries of one organisation with those of a new pass.
  void Publish(const std::string& org_id, Entries entries) {
    auto shared = std::make_shared<const Entries>(std::move(entries));
    std::lock_guard lock(mutex_);
    by_org_[org_id] = std::move(shared);
  }
  std::optional<api::JobQueueInfo> Find(const std::string& org_id, const std::string& id) const {
    std::shared_ptr<const Entries> entries;
    {
      std::lock_guard lock(mutex_);
      auto it = by_org_.find(org_id);
      if (it == by_org_.end()) return std::nullopt;
      entries = it->second;
    }
    auto it = entries->find(id);
    if (it == entries->end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Entries>> by_org_;  // guarded by mutex_
};

}  // namespace hangar::workloads
