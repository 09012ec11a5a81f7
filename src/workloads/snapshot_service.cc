#include "workloads/snapshot_service.h"

#include "common/json_codec.h"
#include "workloads/instance_service.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;

ResourceScope ScopeOf(const store::SnapshotRecord& s) {
  return ResourceScope::Project(s.org_id, s.team_id, s.project_id);
}

Error NotFound(const SnapshotId& id) {
  return Error::NotFound("snapshot " + id.str() + " not found");
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

SnapshotService::SnapshotService(store::Store& store, const Clock& clock,
                                 identity::Authorizer& authorizer, NodeSignals& signals,
                                 SnapshotFiles& files, std::function<void()> wake_scheduler)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      signals_(signals),
      files_(files),
      wake_scheduler_(std::move(wake_scheduler)) {}

Result<store::SnapshotRecord> SnapshotService::Get(const Principal& who, const SnapshotId& id) {
  std::optional<store::SnapshotRecord> snap;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(snap, store::GetSnapshot(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!snap) return std::unexpected(NotFound(id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "instances:read", "instances:read", ScopeOf(*snap),
                                         NotFound(id)));
  return std::move(*snap);
}

Result<store::Page<store::SnapshotRecord>> SnapshotService::List(const Principal& who,
                                                                 const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "instances:read"));
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission instances:read is required")
            .Hint("ask an administrator for a role that includes instances:read"));
  }
  store::Page<store::SnapshotRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListSnapshots(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<store::SnapshotRecord> out{.next_page_token = page.next_page_token};
  for (auto& s : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "instances:read", ScopeOf(s)));
    if (d.allowed) out.items.push_back(std::move(s));
  }
  return out;
}

Status SnapshotService::Delete(const Principal& who, const SnapshotId& id,
                               std::optional<int64_t> if_match_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "instances:delete", "instances:read",
                                         ScopeOf(current), NotFound(id)));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto snap, store::GetSnapshot(tx, who.org_id, id.str()));
    if (!snap) return std::unexpected(NotFound(id));
    if (if_match_version && *if_match_version != snap->version) {
      return std::unexpected(Error(ErrorCode::kPreconditionFailed,
                                   "snapshot " + id.str() + " changed since it was read")
                                 .Hint("read it again and retry with the new etag"));
    }
    if (snap->state == api::SnapshotState::pending) {
      return std::unexpected(Error::Conflict("snapshot " + id.str() + " is still being taken")
                                 .Hint("delete it once it is ready or failed"));
    }
    HANGAR_ASSIGN_OR_RETURN(auto active, store::ListOrgActiveWorkloads(tx, who.org_id));
    for (const auto& w : active) {
      if (w.kind != "instance") continue;
      auto settings = SettingsOf(w);
      if (settings.restore_snapshot == snap->id || settings.migration_snapshot == snap->id) {
        return std::unexpected(
            Error::Conflict("instance " + w.id + " is to start from snapshot " + id.str())
                .Hint("delete it once that instance runs"));
      }
    }
    HANGAR_TRY(store::DeleteSnapshot(tx, who.org_id, snap->id));
    return AppendSnapshotEvent(tx, *snap, "hangar.snapshot.deleted", clock_.Now(), who.ActorId());
  }));
  // The record is gone first: a crash here leaves an orphan file, never a record without one.
  files_.Remove(id.str());
  return Ok();
}

Result<store::SnapshotRecord> SnapshotService::ReadForNode(const Principal& who, const NodeId& node,
                                                           const SnapshotId& id,
                                                           bool must_be_its_own) {
  if (!who.IsNode(node)) {
    return std::unexpected(
        Error::PermissionDenied("only the node's own credential may transfer its snapshots"));
  }
  std::optional<store::SnapshotRecord> snap;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(snap, store::GetSnapshot(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!snap || (must_be_its_own && snap->node_id != node)) return std::unexpected(NotFound(id));
  return std::move(*snap);
}

Result<api::SnapshotUploadAnswer> SnapshotService::Upload(const Principal& who, const NodeId& node,
                                                          const SnapshotId& id, int64_t offset,
                                                          std::string_view data) {
  HANGAR_ASSIGN_OR_RETURN(auto snap, ReadForNode(who, node, id, true));
  if (snap.state != api::SnapshotState::pending) {
    return std::unexpected(Error::Conflict("snapshot " + id.str() + " is " +
                                           std::string(json::EnumName(snap.state)) +
                                           ": nothing more to upload"));
  }
  HANGAR_ASSIGN_OR_RETURN(int64_t received, files_.Append(id.str(), offset, data));
  return api::SnapshotUploadAnswer{.received = received};
}

Result<store::SnapshotRecord> SnapshotService::Complete(
    const Principal& who, const NodeId& node, const SnapshotId& id,
    const api::CompleteSnapshotRequest& request) {
  HANGAR_ASSIGN_OR_RETURN(auto snap, ReadForNode(who, node, id, true));
  if (snap.state == api::SnapshotState::ready) return snap;
  if (snap.state != api::SnapshotState::pending) {
    return std::unexpected(Error::Conflict("snapshot " + id.str() + " failed already"));
  }
  if (request.size_bytes < 0 || !IsSha256Hex(request.sha256)) {
    Error e = Error::Invalid("the completion is not valid");
    if (request.size_bytes < 0) e.AddField("/size_bytes", "must be >= 0");
    if (!IsSha256Hex(request.sha256)) e.AddField("/sha256", "must be 64 lowercase hex digits");
    return std::unexpected(std::move(e));
  }
  // On disk first: once the record says ready, the archive is there.
  HANGAR_TRY(files_.Seal(id.str(), request.size_bytes, request.sha256));
  std::vector<NodeId> ring;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    ring.clear();
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetSnapshot(tx, who.org_id, id.str()));
    if (!current) return std::unexpected(NotFound(id));
    snap = std::move(*current);
    if (snap.state == api::SnapshotState::ready) return Ok();
    Timestamp now = clock_.Now();
    snap.state = api::SnapshotState::ready;
    snap.size_bytes = request.size_bytes;
    snap.sha256 = request.sha256;
    snap.ready_at = now;
    snap.updated_at = now;
    snap.state_message = "saved (" + std::to_string(request.size_bytes) + " bytes)";
    HANGAR_TRY(store::UpdateSnapshot(tx, snap));
    ++snap.version;
    HANGAR_TRY(AppendSnapshotEvent(tx, snap, "hangar.snapshot.ready", now, who.ActorId()));
    return AfterSnapshotReady(tx, snap, now, who.ActorId(), ring);
  }));
  signals_.Ring(node.str());
  for (const auto& n : ring) signals_.Ring(n.str());
  wake_scheduler_();
  return snap;
}

Result<store::SnapshotRecord> SnapshotService::Fail(const Principal& who, const NodeId& node,
                                                    const SnapshotId& id,
                                                    const api::FailSnapshotRequest& request) {
  HANGAR_ASSIGN_OR_RETURN(auto snap, ReadForNode(who, node, id, true));
  if (snap.state != api::SnapshotState::pending) return snap;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetSnapshot(tx, who.org_id, id.str()));
    if (!current) return std::unexpected(NotFound(id));
    snap = std::move(*current);
    if (snap.state != api::SnapshotState::pending) return Ok();
    Timestamp now = clock_.Now();
    snap.state = api::SnapshotState::failed;
    snap.state_message =
        request.message.empty() ? "the agent could not take it" : request.message.substr(0, 1000);
    snap.updated_at = now;
    HANGAR_TRY(store::UpdateSnapshot(tx, snap));
    ++snap.version;
    HANGAR_TRY(AppendSnapshotEvent(tx, snap, "hangar.snapshot.failed", now, who.ActorId()));
    return AfterSnapshotFailed(tx, snap, now, who.ActorId());
  }));
  files_.Remove(id.str());
  signals_.Ring(node.str());
  wake_scheduler_();
  return snap;
}

Result<std::string> SnapshotService::Download(const Principal& who, const NodeId& node,
                                              const SnapshotId& id, int64_t offset,
                                              int64_t length) {
  HANGAR_ASSIGN_OR_RETURN(auto snap, ReadForNode(who, node, id, false));
  if (snap.state != api::SnapshotState::ready) {
    return std::unexpected(Error::Conflict("snapshot " + id.str() + " is not ready"));
  }
  return files_.Read(id.str(), offset, length);
}

}  // namespace hangar::workloads
