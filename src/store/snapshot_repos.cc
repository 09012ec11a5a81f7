// Snapshot repositories (see snapshot_repos.h).
#include "store/snapshot_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kSnapshotSelect =
    "SELECT s.id, s.org_id, s.project_id, s.team_id, s.name, s.instance_id, s.node_id,"
    " s.workspace, s.purpose, s.state, s.state_message, s.size_bytes, s.sha256, s.created_by,"
    " s.ready_at, s.version, s.created_at, s.updated_at";
constexpr std::string_view kSnapshotFrom = " FROM snapshots s";

Result<SnapshotRecord> SnapshotFromRow(const Row& r) {
  SnapshotRecord s{.id = r.Text(0),
                   .org_id = OrgId::FromTrusted(r.Text(1)),
                   .project_id = ProjectId::FromTrusted(r.Text(2)),
                   .team_id = TeamId::FromTrusted(r.Text(3)),
                   .name = r.Text(4),
                   .instance_id = r.Text(5),
                   .node_id = NodeId::FromTrusted(r.Text(6)),
                   .workspace = r.Text(7),
                   .purpose = r.Text(8)};
  HANGAR_ASSIGN_OR_RETURN(s.state, ParseEnum<api::SnapshotState>(r.Text(9), "snapshot state"));
  s.state_message = r.Text(10);
  s.size_bytes = r.Int(11);
  s.sha256 = r.Text(12);
  s.created_by = r.Text(13);
  s.ready_at = r.OptTime(14);
  s.version = r.Int(15);
  s.created_at = r.Time(16);
  s.updated_at = r.Time(17);
  return s;
}

SqlValue OptTimeParam(const std::optional<Timestamp>& t) {
  return t ? SqlValue(ToUnixMicros(*t)) : Null();
}

const ListTable& SnapshotTable() {
  static const ListTable t{&SnapshotListSpec(),
                           kSnapshotSelect,
                           kSnapshotFrom,
                           "s.org_id",
                           "s.id",
                           "s.created_at",
                           {{"state", "s.state"},
                            {"project_id", "s.project_id"},
                            {"instance_id", "s.instance_id"},
                            {"name", "s.name"},
                            {"created_at", "s.created_at"}}};
  return t;
}

}  // namespace

const ListSpec& SnapshotListSpec() {
  static const ListSpec spec{
      "snapshots",
      {
          EnumField<api::SnapshotState>("state", true, "The snapshot's state."),
          Field("project_id", FieldType::kText, true, false, "The project it belongs to."),
          Field("instance_id", FieldType::kText, true, false,
                "The instance whose workspace it holds."),
          Field("name", FieldType::kText, true, true, "The snapshot's name."),
          Field("created_at", FieldType::kTime, false, true, "When it was asked for."),
      },
  };
  return spec;
}

Status InsertSnapshot(Tx& tx, const SnapshotRecord& s) {
  return StatusOf(tx.Exec(
      "INSERT INTO snapshots (id, org_id, project_id, team_id, name, instance_id, node_id,"
      " workspace, purpose, state, state_message, size_bytes, sha256, created_by, ready_at,"
      " version, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17)",
      {s.id, s.org_id.str(), s.project_id.str(), s.team_id.str(), s.name, s.instance_id,
       s.node_id.str(), s.workspace, s.purpose, std::string(json::EnumName(s.state)),
       s.state_message, s.size_bytes, s.sha256, s.created_by, OptTimeParam(s.ready_at),
       ToUnixMicros(s.created_at), ToUnixMicros(s.updated_at)}));
}

Result<std::optional<SnapshotRecord>> GetSnapshot(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kSnapshotSelect, kSnapshotFrom, " WHERE s.org_id = $1 AND s.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<SnapshotRecord>(tx, sql, params, SnapshotFromRow);
}

Result<std::optional<SnapshotRecord>> FindSnapshotByName(Tx& tx, const OrgId& org,
                                                         const ProjectId& project,
                                                         std::string_view name) {
  static const std::string sql =
      Concat({kSnapshotSelect, kSnapshotFrom,
              " WHERE s.org_id = $1 AND s.project_id = $2 AND s.name = $3"});
  SqlValue params[] = {org.str(), project.str(), std::string(name)};
  return QueryOne<SnapshotRecord>(tx, sql, params, SnapshotFromRow);
}

Result<Page<SnapshotRecord>> ListSnapshots(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<SnapshotRecord>(tx, SnapshotTable(), org, query, SnapshotFromRow);
}

Result<std::vector<SnapshotRecord>> ListNodeSnapshotTasks(Tx& tx, const OrgId& org,
                                                          const NodeId& node) {
  static const std::string sql =
      Concat({kSnapshotSelect, kSnapshotFrom,
              " WHERE s.node_id = $1 AND s.state = 'pending' AND s.org_id = $2"
              " ORDER BY s.created_at, s.id"});
  SqlValue params[] = {node.str(), org.str()};
  return QueryAll<SnapshotRecord>(tx, sql, params, SnapshotFromRow);
}

Status UpdateSnapshot(Tx& tx, const SnapshotRecord& s) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE snapshots SET state = $3, state_message = $4, size_bytes = $5,"
              " sha256 = $6, ready_at = $7, version = version + 1, updated_at = $8"
              " WHERE org_id = $1 AND id = $2 AND version = $9",
              {s.org_id.str(), s.id, std::string(json::EnumName(s.state)), s.state_message,
               s.size_bytes, s.sha256, OptTimeParam(s.ready_at), ToUnixMicros(s.updated_at),
               s.version}));
  if (changed == 0) {
    return std::unexpected(
        Error(ErrorCode::kPreconditionFailed, "snapshot " + s.id + " changed since it was read")
            .Hint("read it again and retry with the new etag"));
  }
  return Ok();
}

Status DeleteSnapshot(Tx& tx, const OrgId& org, std::string_view id) {
  return StatusOf(
      tx.Exec("DELETE FROM snapshots WHERE org_id = $1 AND id = $2", {org.str(), std::string(id)}));
}

}  // namespace hangar::store
