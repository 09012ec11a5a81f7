// WorkloadRunner: the agent's side of running work. It keeps the node's processes (the
// Executor) in line with what the server assigns, and tells the server what happened.
//
// Two threads, each with its own connection:
//   watcher   long-polls GET /agent/nodes/{id}/assignments (wakes as soon as the server places
//             or stops work here) and hands each new list to the worker;
//   worker    on every new list, and every `tick`, reconciles and reports:
//               - an assignment to run that the executor does not know: Start it (run ids are
//                 "<workload>-a<attempt>", so a retry is a new process, never a restart);
//               - an assignment to stop: Stop it with its grace (SIGTERM, then SIGKILL);
//               - a run the executor knows that no list assigns any more (the server requeued
//                 it elsewhere after losing touch): Stop it, so work never runs twice here;
//               - an instance's run that starts from a snapshot waits until WorkspaceTransfers
//                 has restored it into the workspace (a failed restore fails the run);
//               - the list's snapshots go to WorkspaceTransfers, which takes them;
//               - POST /agent/nodes/{id}/reports with runs that started, runs that ended (once
//                 all their output is uploaded) and new output; finished runs the server
//                 acknowledges are forgotten (their directory is removed).
// Output is uploaded from the last acknowledged byte offset, so a lost answer only repeats a
// chunk, which the server stores once. Runs that ended while no agent was running are found by
// Executor::Recover and reported like any other.
//
// Thread-safety: SetIdentity from any thread; Start/Stop from one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "agent/executor.h"
#include "agent/state.h"
#include "agent/workspace_transfers.h"
#include "api/workload_types.h"
#include "client/api_client.h"
#include "common/clock.h"

namespace hangar::agent {

struct RunnerOptions {
  std::string server_url;
  // Where instances' workspaces live (<state dir>/workspaces): one directory per instance,
  // kept across its runs. Empty: instances run in a per-run directory like jobs.
  std::filesystem::path workspaces_root;
  std::chrono::seconds poll_wait{20};           // long-poll wait per assignments call
  std::chrono::milliseconds tick{100};          // worker: how often it polls the executor
  std::chrono::milliseconds retry_delay{1000};  // after a failed call
  size_t max_output_per_report = 1 << 20;       // bytes of output per report
};

struct RunnerStats {
  std::atomic<int> started{0};
  std::atomic<int> reports{0};
  std::atomic<int> failures{0};
};

class WorkloadRunner {
 public:
  WorkloadRunner(RunnerOptions options, Executor& executor, const Clock& clock);
  ~WorkloadRunner();

  // The node to act as (nullopt: none yet, or revoked: wait).
  void SetIdentity(const std::optional<AgentState>& identity);
  // Recovers earlier runs, then starts both threads.
  Status Start();
  // Stops both threads; running workloads keep running (a new agent recovers them).
  void Stop();

  const RunnerStats& stats() const { return stats_; }

 private:
  void WatchLoop();
  void WorkLoop();
  using RunStatuses = std::vector<std::pair<std::string, ProcessStatus>>;
  // Posts what changed in `statuses` (from Executor::Poll) and the new output; true when a
  // report was sent and answered.
  bool Report(const AgentState& who, const RunStatuses& statuses);
  // The instance workspace `name` under options_.workspaces_root, created (0700) if absent.
  Result<std::filesystem::path> PrepareWorkspace(const std::string& name) const;
  // Sleeps up to `d` or until woken; false when stopping.
  bool Pause(std::chrono::milliseconds d);

  const RunnerOptions options_;
  Executor& executor_;
  const Clock& clock_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                      // guarded by mutex_
  bool dirty_ = false;                         // guarded by mutex_: a new list arrived
  std::optional<AgentState> identity_;         // guarded by mutex_
  std::optional<api::AssignmentList> latest_;  // guarded by mutex_

  // Worker-only state.
  std::set<std::string> stop_sent_;
  std::set<std::string> reported_running_;
  std::map<std::pair<std::string, std::string>, int64_t> uploaded_;  // (run, stream) -> offset
  std::map<std::string, api::RunReport> failed_starts_;  // runs that could not be started
  std::set<std::string> forgotten_;  // finished and acknowledged: never started again
  bool have_list_ = false;

  // Made by Start before the threads; Stop aborts their calls so it never waits out a long poll.
  std::unique_ptr<client::ApiClient> watch_client_;   // the watcher's
  std::unique_ptr<client::ApiClient> report_client_;  // the worker's
  // Snapshots and restores (when instances have a workspaces root).
  std::unique_ptr<WorkspaceTransfers> transfers_;

  std::thread watcher_;
  std::thread worker_;
  RunnerStats stats_;
};

// Makes raw process output valid UTF-8 without NUL: invalid bytes and NUL become U+FFFD.
// When `complete` is false, an incomplete multi-byte sequence at the end is left out; the
// returned `consumed` says how many input bytes the text covers.
struct Utf8Chunk {
  std::string text;
  size_t consumed = 0;
};
Utf8Chunk ToValidUtf8(std::string_view raw, bool complete);

}  // namespace hangar::agent
