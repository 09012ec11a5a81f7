// WorkspaceTransfers: the agent's side of instance snapshots. It archives a workspace and
// uploads it when the server asks for a snapshot (the assignments list's `snapshots`), and
// downloads a snapshot and unpacks it into a workspace before a run that starts from it (an
// assignment's `restore`).
//
// Transfers run one at a time on their own thread with their own connection, so a large
// workspace never holds up starting, stopping and reporting other work. Archives are tar +
// gzip made by the system's `tar` (GNU tar: a file changing while it is read is not an error,
// so a running session can be snapshotted). Uploads go in pieces at explicit offsets; after a
// failed call the upload resumes where the server says it stands. A restore checks the
// archive's size and SHA-256 before it replaces the workspace's content, then writes a marker
// (<workspaces>/.restored/<workspace>) so an agent restart never unpacks the same snapshot over
// the session's newer files.
//
// Thread-safety: SetTasks and Restore from any thread; Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/state.h"
#include "api/workload_types.h"
#include "client/api_client.h"

namespace hangar::agent {

struct TransferOptions {
  std::string server_url;
  std::filesystem::path workspaces_root;
  int64_t piece_bytes = 512 * 1024;  // per upload call: below the server's body limit
  std::chrono::milliseconds retry_delay{1000};
};

class WorkspaceTransfers {
 public:
  // `on_done` is called (on the transfer thread) after each restore ends, so the caller can
  // start the run that waited for it. It must not block.
  WorkspaceTransfers(TransferOptions options, std::function<void()> on_done);
  ~WorkspaceTransfers();

  Status Start();
  void Stop();

  // The snapshots the server wants from this node now (replaces the previous list).
  void SetTasks(const AgentState& who, std::vector<api::SnapshotTask> tasks);

  enum class RestoreState { kDone, kInProgress, kFailed };
  struct RestoreStatus {
    RestoreState state = RestoreState::kInProgress;
    std::string message;  // kFailed: why
  };
  // Whether `workspace` holds `restore`'s content; starts restoring it when not.
  RestoreStatus Restore(const AgentState& who, const std::string& workspace,
                        const api::WorkspaceRestore& restore);

 private:
  struct RestoreJob {
    std::string workspace;
    api::WorkspaceRestore restore;
  };
  void Loop();
  // Archives and uploads one snapshot. nullopt when it is done (ready, or reported failed);
  // else the error to retry after.
  std::optional<std::string> TakeSnapshot(const AgentState& who, const api::SnapshotTask& task);
  // Downloads and unpacks; an error with permanent = true is reported as the run's failure.
  struct Outcome {
    bool ok = false;
    bool permanent = false;
    std::string message;
  };
  Outcome RunRestore(const AgentState& who, const RestoreJob& job);
  std::filesystem::path MarkerPath(const std::string& workspace) const;
  std::filesystem::path TransferDir() const;

  const TransferOptions options_;
  std::function<void()> on_done_;
  std::unique_ptr<client::ApiClient> client_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<AgentState> who_;                        // guarded by mutex_
  std::vector<api::SnapshotTask> tasks_;                 // guarded by mutex_
  std::set<std::string> finished_snapshots_;             // guarded by mutex_
  std::map<std::string, RestoreJob> restores_;           // workspace -> wanted; guarded
  std::map<std::string, std::string> restore_failures_;  // "workspace/snap" -> why; guarded
  std::thread thread_;
};

// Runs `argv` (found on PATH) with stdin from /dev/null and stderr captured; returns its exit
// code, or kUnavailable when it could not run or was killed. `error_output` gets the end of
// its stderr.
Result<int> RunTool(const std::vector<std::string>& argv, std::string* error_output);

}  // namespace hangar::agent
