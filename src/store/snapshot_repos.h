// Snapshot repositories: the index of instance workspaces saved by the server (the archives
// themselves are files, see workloads/snapshot_files.h). Same rules as store/repos.h: functions
// run in the caller's transaction and take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/workload_types.h"
#include "store/repos.h"

namespace hangar::store {

struct SnapshotRecord {
  std::string id;  // "snap_…"
  OrgId org_id;
  ProjectId project_id;
  TeamId team_id;
  std::string name;  // unique in the project
  std::string instance_id;
  NodeId node_id;         // the node that takes it (holds the workspace)
  std::string workspace;  // the workspace's directory name on that node
  std::string purpose;    // user | clone | migrate
  api::SnapshotState state = api::SnapshotState::pending;
  std::string state_message;
  int64_t size_bytes = 0;
  std::string sha256;
  std::string created_by;
  std::optional<Timestamp> ready_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// Snapshots: filter by state, project_id, instance_id, name; sort by created_at or name.
const ListSpec& SnapshotListSpec();

// kAlreadyExists when the project already has a snapshot of that name.
Status InsertSnapshot(Tx& tx, const SnapshotRecord& s);
Result<std::optional<SnapshotRecord>> GetSnapshot(Tx& tx, const OrgId& org, std::string_view id);
Result<std::optional<SnapshotRecord>> FindSnapshotByName(Tx& tx, const OrgId& org,
                                                         const ProjectId& project,
                                                         std::string_view name);
Result<Page<SnapshotRecord>> ListSnapshots(Tx& tx, const OrgId& org, const ListQuery& query);
// The snapshots `node` has still to take (pending), oldest first.
Result<std::vector<SnapshotRecord>> ListNodeSnapshotTasks(Tx& tx, const OrgId& org,
                                                          const NodeId& node);
// Writes state, message, size, sha256 and ready_at if the stored version is s.version, and
// stores version + 1 (kPreconditionFailed when it changed since read).
Status UpdateSnapshot(Tx& tx, const SnapshotRecord& s);
Status DeleteSnapshot(Tx& tx, const OrgId& org, std::string_view id);

}  // namespace hangar::store
