// InstanceService: GPU instances — interactive allocations a person provisions, uses, stops,
// starts again, resizes, extends and terminates. An instance is a workload of kind "instance":
// the scheduler loop places it like a job, the node's agent runs its session process in a
// workspace directory kept across runs, and metering (run_lifecycle.h) accrues its cost while it
// holds GPUs.
//
// Instance state machine (api::InstanceState; the only place it is drawn):
//
//   create       scheduler places it       agent: started
//   ------> pending ------------------> scheduled ----------> running
//             ^  |                          |                   |  stop, lease end, terminate,
//             |  | stop (not placed yet)    +--------+----------+  resize, preemption
//             |  v                                   v
//   start  stopped | failed <---- agent: exited -- stopping
//             |     ^                     (by the stop's reason: stopped, terminated, or
//             |     +-- session exited     pending again after a resize or preemption)
//             v         by itself
//   terminate (from any state) -> terminated
//
//   | from                   | event                 | to               | effect                 |
//   |------------------------|-----------------------|------------------|------------------------|
//   | (none)                 | Create                | pending          | `hangar.instance.      |
//   |                        |                       |                  | created`               |
//   | pending                | scheduler placement   | scheduled        | GPUs held, metered     |
//   | scheduled              | agent: running        | running          | lease: expires_at =    |
//   |                        |                       |                  | now + max lifetime     |
//   | running                | Extend                | running          | expires_at moves       |
//   | running                | lease within warning  | running          | `hangar.instance.      |
//   |                        |                       |                  | expiring`, once        |
//   | scheduled, running     | Stop / lease end      | stopping         | SIGTERM, then SIGKILL  |
//   | scheduled, running     | Resize                | stopping         | new GPU count stored   |
//   | scheduled, running,    | Terminate             | stopping         |                        |
//   | stopping               |                       |                  |                        |
//   | stopping               | agent: exited         | stopped /        | by the stop's reason;  |
//   |                        |                       | terminated /     | GPUs released, the     |
//   |                        |                       | pending          | segment's cost accrued |
//   | running                | agent: session exited | stopped (0) /    |                        |
//   |                        |                       | failed (other)   |                        |
//   | pending                | Stop                  | stopped          |                        |
//   | stopped, failed        | Start                 | pending          | a new lease when it    |
//   |                        |                       |                  | runs                   |
//   | pending, stopped,      | Resize                | same             | new GPU count stored   |
//   | failed                 |                       |                  |                        |
//   | pending, stopped,      | Terminate             | terminated       |                        |
//   | failed                 |                       |                  |                        |
//   | scheduled, running     | node unreachable      | pending          | placed again elsewhere |
//
//   | running                | Migrate               | running          | a snapshot is taken    |
//   |                        |                       | (migrating)      | on its node            |
//   | running (migrating)    | snapshot ready        | stopping         | restore it, pinned to  |
//   |                        |                       |                  | the target node        |
//   | stopping (migrate)     | agent: exited         | pending          | placed on the target,  |
//   |                        |                       |                  | restored, then runs    |
//   | running (migrating)    | snapshot failed       | running          | migration abandoned    |
//   | any but terminated,    | Snapshot, Clone       | same             | a snapshot (and, for   |
//   | once it has run        |                       |                  | clone, a new instance) |
//
// Any other request is a 409 naming the state and the actions it allows. Repeating an action
// that is already in effect (stop a stopped instance) changes nothing and succeeds.
//
// The workspace: the agent runs the session in <state dir>/workspaces/<instance id> on the
// node, kept when the instance stops, so a start on the same node finds it. `workspace_node`
// (in the instance's settings) names that node. A snapshot is the workspace archived by that
// node's agent and uploaded to the server (SnapshotService); an instance with `restore_snapshot`
// set gets it unpacked into its workspace before its next run starts, wherever that is. Clone
// and migrate are built from these two: clone = snapshot + a new instance restoring it;
// migrate = snapshot + (once ready) stop here + place on the target node + restore + run.
// Migrate checks up front that the target has room, so the old GPUs are given up only for a
// placement that can happen; the session is down from the stop until the restore ends.
//
// Authorisation: instances:create/read/update/delete at the instance's project; another
// tenant's instance, or one the caller may not read, is a 404.
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
#include "store/snapshot_repos.h"
#include "store/workload_repos.h"
#include "workloads/node_signals.h"
#include "workloads/queue_board.h"
#include "workloads/run_lifecycle.h"

namespace hangar::workloads {

struct InstanceOptions {
  Micros default_lifetime = std::chrono::hours(8);
  Micros min_lifetime = std::chrono::seconds(60);
  // The longest lease: the lifetime asked for, and a lease after extensions, from its start.
  Micros max_lease = std::chrono::hours(24 * 30);
  // `hangar.instance.expiring` goes out this long before the lease ends (or at a quarter of a
  // shorter lifetime).
  Micros expiry_warning = std::chrono::minutes(15);
};

struct InstanceView {
  store::WorkloadRecord record;
  std::optional<api::JobQueueInfo> queue;
};

class InstanceService {
 public:
  // `wake_scheduler` is called after changes that may let work start; it must not block.
  InstanceService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                  NodeSignals& signals, const QueueBoard& board,
                  std::function<void()> wake_scheduler, InstanceOptions options = {});

  // Creates the instance (pending: the scheduler places it). kInvalidArgument naming the field
  // for bad input, an unknown project or GPU type.
  Result<InstanceView> Create(const identity::Principal& who,
                              const api::CreateInstanceRequest& request);
  // What Create would do, creating nothing: the same validation, then feasibility, price, the
  // expected start and what stands in the way.
  Result<api::InstanceEstimate> Estimate(const identity::Principal& who,
                                         const api::CreateInstanceRequest& request);
  Result<InstanceView> Get(const identity::Principal& who, const InstanceId& id);
  Result<store::Page<InstanceView>> List(const identity::Principal& who,
                                         const store::ListQuery& query);

  // Actions. `if_match_version`, when set, must equal the stored version (kPreconditionFailed);
  // kConflict naming the allowed actions when the state does not allow it.
  Result<InstanceView> Start(const identity::Principal& who, const InstanceId& id,
                             std::optional<int64_t> if_match_version);
  Result<InstanceView> Stop(const identity::Principal& who, const InstanceId& id,
                            std::optional<int64_t> if_match_version);
  Result<InstanceView> Terminate(const identity::Principal& who, const InstanceId& id,
                                 std::optional<int64_t> if_match_version);
  Result<InstanceView> Extend(const identity::Principal& who, const InstanceId& id,
                              const api::ExtendInstanceRequest& request,
                              std::optional<int64_t> if_match_version);
  Result<InstanceView> Resize(const identity::Principal& who, const InstanceId& id,
                              const api::ResizeInstanceRequest& request,
                              std::optional<int64_t> if_match_version);
  // Saves the instance's workspace as a snapshot (pending until its node's agent uploaded it).
  // kConflict when the instance never ran (it has no workspace) or is terminated.
  Result<store::SnapshotRecord> Snapshot(const identity::Principal& who, const InstanceId& id,
                                         const api::CreateSnapshotRequest& request);
  // A new instance like `id` that starts from its workspace: from `request.snapshot`, or from a
  // snapshot taken now (none when `id` never ran). The clone waits until the snapshot is ready.
  Result<InstanceView> Clone(const identity::Principal& who, const InstanceId& id,
                             const api::CloneInstanceRequest& request);
  // Moves a running instance to another node (see the table above). kConflict when it is not
  // running or no other node has room for it now (naming why).
  Result<InstanceView> Migrate(const identity::Principal& who, const InstanceId& id,
                               const api::MigrateInstanceRequest& request,
                               std::optional<int64_t> if_match_version);
  // The session's output (all runs), oldest first.
  Result<std::vector<store::OutputRecord>> Output(const identity::Principal& who,
                                                  const InstanceId& id, int64_t after,
                                                  int64_t limit);

  // ---- Reconciler step (the scheduler loop's housekeeping) ----
  // Warns once before each running instance's lease ends and stops those whose lease ended.
  // Returns how many were stopped.
  Result<int> EnforceLeases();

  const Clock& clock() const { return clock_; }

 private:
  using Change = std::function<Status(store::Tx&, store::WorkloadRecord&, Timestamp,
                                      const std::string& actor, bool& ring_node)>;
  Result<InstanceView> Act(const identity::Principal& who, const InstanceId& id,
                           std::optional<int64_t> if_match_version, std::string_view permission,
                           const Change& change);
  Status Authorize(const identity::Principal& who, std::string_view permission,
                   const store::WorkloadRecord& record);
  InstanceView ViewOf(store::WorkloadRecord record) const;

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  NodeSignals& signals_;
  const QueueBoard& board_;
  std::function<void()> wake_scheduler_;
  const InstanceOptions options_;
};

// The instance's lease starts (or starts again) with its run: expires_at = now + its lifetime.
// The workspace now lives on `node`, restored from any snapshot it was to start from.
void StartLease(store::WorkloadRecord& record, const NodeId& node, Timestamp now);

// Appends the snapshot's event (`hangar.snapshot.<what>`), its data the snapshot as GET shows it.
Status AppendSnapshotEvent(store::Tx& tx, const store::SnapshotRecord& snapshot, std::string type,
                           Timestamp now, const std::string& actor);

// What follows a snapshot becoming ready or failing, in `tx`: a migration waiting for it goes
// on (its instance's node is added to `ring`) or is abandoned; clones waiting for a failed
// snapshot fail.
Status AfterSnapshotReady(store::Tx& tx, const store::SnapshotRecord& snapshot, Timestamp now,
                          const std::string& actor, std::vector<NodeId>& ring);
Status AfterSnapshotFailed(store::Tx& tx, const store::SnapshotRecord& snapshot, Timestamp now,
                           const std::string& actor);

// The instance's next state after its run ended (see the table above), in `tx`.
Status EndInstanceRun(store::Tx& tx, store::WorkloadRecord& record, const RunEnd& end,
                      Timestamp now, const std::string& actor);

}  // namespace hangar::workloads
