// SnapshotService: snapshots of instance workspaces — what people read and delete, and the
// agents' side of taking and restoring them. Instances are snapshotted, cloned and migrated
// through InstanceService, which records the pending snapshot; from there:
//
//   pending --(the node's agent: archive uploaded, size and SHA-256 checked)--> ready
//      |
//      +-----(the agent: cannot archive or upload)--------------------------> failed
//
// The agent learns of the snapshots to take from its assignments list (JobService adds this
// node's pending ones), archives the workspace (tar + gzip), uploads it in pieces (Upload, each
// at its offset, so a retry resumes), then calls Complete with the archive's size and SHA-256.
// A run that is to start from a snapshot gets it in its assignment (`restore`) and Download
// serves the archive in ranges. Every change of state is an event (`hangar.snapshot.<state>`).
//
// Authorisation: reading a snapshot needs instances:read on its project, deleting it
// instances:delete; another tenant's snapshot is a 404. Agent calls need the node's own
// credential, and a node may only upload snapshots assigned to it.
//
// Thread-safety: all methods are thread-safe; they block on the store and the disk.
#pragma once

#include <functional>
#include <string>

#include "api/workload_types.h"
#include "common/clock.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/snapshot_repos.h"
#include "workloads/node_signals.h"
#include "workloads/snapshot_files.h"

namespace hangar::workloads {

class SnapshotService {
 public:
  // `wake_scheduler` is called when a snapshot is ready (clones waiting for it may start).
  SnapshotService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                  NodeSignals& signals, SnapshotFiles& files, std::function<void()> wake_scheduler);

  Result<store::SnapshotRecord> Get(const identity::Principal& who, const SnapshotId& id);
  Result<store::Page<store::SnapshotRecord>> List(const identity::Principal& who,
                                                  const store::ListQuery& query);
  // Deletes the record and the archive. kConflict while it is pending or while an instance is
  // still to start from it.
  Status Delete(const identity::Principal& who, const SnapshotId& id,
                std::optional<int64_t> if_match_version);

  // ---- Agents (the node's own credential) ----
  // Stores `data` at `offset` of the archive; returns the bytes now held.
  Result<api::SnapshotUploadAnswer> Upload(const identity::Principal& who, const NodeId& node,
                                           const SnapshotId& id, int64_t offset,
                                           std::string_view data);
  // Checks the uploaded archive against `request` and makes the snapshot ready; then a migration
  // waiting for it goes on. Repeating it on a ready snapshot answers the snapshot.
  Result<store::SnapshotRecord> Complete(const identity::Principal& who, const NodeId& node,
                                         const SnapshotId& id,
                                         const api::CompleteSnapshotRequest& request);
  // The agent could not take it: failed, with the agent's message.
  Result<store::SnapshotRecord> Fail(const identity::Principal& who, const NodeId& node,
                                     const SnapshotId& id, const api::FailSnapshotRequest& request);
  // Up to `length` bytes of a ready snapshot's archive from `offset`, for a node restoring it.
  Result<std::string> Download(const identity::Principal& who, const NodeId& node,
                               const SnapshotId& id, int64_t offset, int64_t length);

 private:
  Result<store::SnapshotRecord> ReadForNode(const identity::Principal& who, const NodeId& node,
                                            const SnapshotId& id, bool must_be_its_own);

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  NodeSignals& signals_;
  SnapshotFiles& files_;
  std::function<void()> wake_scheduler_;
};

}  // namespace hangar::workloads
