// JobService: batch jobs — submit, read, cancel, hold, release, requeue — and the agent's side
// of running them (assignments, run reports, output). The scheduler loop (scheduler_loop.h)
// places pending jobs; everything else that moves a job is here.
//
// Job state machine (api::JobState; the only place it is drawn):
//
//            submit                 scheduler places it         agent: started
//   (none) ---------> pending -----------------------------> scheduled ---------> running
//     |   hold=true    ^  |  ^                                   |                   |
//     v                |  |  +----- stopped (preempted, requeue) |                   | exited
//    held <-- hold ----+  |         lost node (on_node_loss=requeue), failed with retries left
//     |  --- release -----+                                      |                   v
//     |                             cancel / preempt / requeue / time limit    succeeded | failed
//     |                                   scheduled|running ---------> stopping
//     +-- cancel --> cancelled <-- cancel (pending) -- agent: exited --+--> cancelled | failed
//
//   | from                 | event               | to                 | effect                  |
//   |----------------------|---------------------|--------------------|-------------------------|
//   | (none)               | Submit              | pending / held     | `hangar.job.submitted`  |
//   | pending              | Hold                | held               |                         |
//   | held                 | Release             | pending            |                         |
//   | pending              | scheduler placement | scheduled          | attempt + 1, GPUs held  |
//   | scheduled            | agent: running      | running            | started_at              |
//   | running              | agent: exited 0     | succeeded          | GPUs freed              |
//   | running              | agent: exited != 0  | failed / pending   | pending while failures  |
//   |                      |                     |                    | <= retries              |
//   | scheduled, running   | Cancel, preemption, | stopping           | agent sends SIGTERM,    |
//   |                      | Requeue, time limit |                    | SIGKILL after the grace |
//   | stopping             | agent: exited       | cancelled / pending| by the stop's reason    |
//   |                      |                     | / failed           | (time_limit -> failed)  |
//   | pending, held        | Cancel              | cancelled          |                         |
//   | succeeded, failed,   | Requeue             | pending            | a new attempt later     |
//   | cancelled            |                     |                    |                         |
//   | scheduled, running,  | node unreachable    | pending / failed   | by on_node_loss         |
//   | stopping             |                     | (cancelled if a    |                         |
//   |                      |                     | cancel was asked)  |                         |
//
// Any other request is a 409 naming the state and the actions it allows. Every transition
// commits with its `hangar.job.<state>` event. A run is one attempt on one node, named
// "<job id>-a<attempt>" to the agent, so a retried job never restarts an old process and a
// late report about an old attempt changes nothing.
//
// Authorisation: jobs:create/read/update at the job's project (RBAC scopes); another tenant's
// job, or one the caller may not read, is a 404. The agent calls need the node's credential.
//
// Thread-safety: all methods are thread-safe (state lives in the store); they block on the
// store, so call them from worker threads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/workload_types.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/workload_repos.h"
#include "workloads/node_signals.h"
#include "workloads/output_bell.h"
#include "workloads/queue_board.h"

namespace hangar::workloads {

struct JobOptions {
  // The longest an agent's assignment poll may wait for a change.
  Micros max_assignment_wait = std::chrono::seconds(20);
};

// A job request checked against the store and the caller's rights, ready to insert: its spec
// with every default filled in, and the project it resolved to.
struct PreparedJob {
  api::SubmitJobRequest spec;
  store::ProjectRecord project;
};

// A job and the stored spec it was submitted with.
struct JobView {
  store::WorkloadRecord record;
  api::SubmitJobRequest spec;
  std::optional<api::JobQueueInfo> queue;
  Timestamp as_of;  // when it was read: its cost so far is counted to here
};

class JobService {
 public:
  // `wake_scheduler` is called after changes that may let work start (submit, release, a run
  // ending); it must not block. `output_bell`, when given, is rung for every workload an
  // agent's report touched, once the report is stored (log followers; must outlive this).
  JobService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
             NodeSignals& signals, const QueueBoard& board, std::function<void()> wake_scheduler,
             JobOptions options = {}, OutputBell* output_bell = nullptr);

  // ---- Users ----
  // Creates the job (or array_size jobs). kInvalidArgument naming the field for bad input, an
  // unknown project, GPU type or dependency.
  Result<std::vector<JobView>> Submit(const identity::Principal& who,
                                      const api::SubmitJobRequest& request);
  // Submit in two steps, for callers that insert jobs in a transaction of their own (a
  // schedule's run commits its job with the schedule's update): Prepare checks the request
  // (as Submit does) and Insert writes the job(s) and their `hangar.job.submitted` events in
  // `tx`, with `source` as the events' source. The caller wakes the scheduler after commit.
  Result<PreparedJob> Prepare(const identity::Principal& who, const api::SubmitJobRequest& request);
  Result<std::vector<store::WorkloadRecord>> Insert(store::Tx& tx, const identity::Principal& who,
                                                    const PreparedJob& job, Timestamp now,
                                                    std::string_view source);
  Result<JobView> Get(const identity::Principal& who, const JobId& id);
  Result<store::Page<JobView>> List(const identity::Principal& who, const store::ListQuery& query);
  // Actions. `if_match_version`, when set, must equal the stored version (kPreconditionFailed).
  // kConflict naming the allowed actions when the state does not allow it.
  Result<JobView> Cancel(const identity::Principal& who, const JobId& id,
                         std::optional<int64_t> if_match_version);
  Result<JobView> Hold(const identity::Principal& who, const JobId& id,
                       std::optional<int64_t> if_match_version);
  Result<JobView> Release(const identity::Principal& who, const JobId& id,
                          std::optional<int64_t> if_match_version);
  Result<JobView> Requeue(const identity::Principal& who, const JobId& id,
                          std::optional<int64_t> if_match_version);
  // The job's output with seq > after (all attempts), oldest first.
  Result<std::vector<store::OutputRecord>> Output(const identity::Principal& who, const JobId& id,
                                                  int64_t after, int64_t limit);

  // ---- Agents (the node's own credential) ----
  // The node's assignments. When `known` equals the current revision, waits up to `wait` for
  // a change first (a long poll).
  Result<api::AssignmentList> Assignments(const identity::Principal& who, const NodeId& node,
                                          const std::string& known, Micros wait);
  // Records run state changes and output; answers which finished runs the agent may forget.
  Result<api::NodeReportAnswer> Report(const identity::Principal& who, const NodeId& node,
                                       const api::NodeReport& report);

  // ---- Reconciler steps (hangard's control loop) ----
  // Work on unreachable nodes: requeued or failed by each job's on_node_loss. Returns how many.
  Result<int> HandleLostNodes();
  // Running jobs past their time limit are stopped (then failed). Returns how many.
  Result<int> EnforceTimeLimits();

 private:
  Result<JobView> Act(const identity::Principal& who, const JobId& id,
                      std::optional<int64_t> if_match_version, std::string_view action);
  Status Authorize(const identity::Principal& who, std::string_view permission,
                   const store::WorkloadRecord& record);
  JobView ViewOf(store::WorkloadRecord record) const;

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  NodeSignals& signals_;
  const QueueBoard& board_;
  std::function<void()> wake_scheduler_;
  const JobOptions options_;
  OutputBell* output_bell_;  // rung by Report for log followers; may be null
};

}  // namespace hangar::workloads
