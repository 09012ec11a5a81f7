// Workload and output repositories (see workload_repos.h).
#include "store/workload_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kWorkloadSelect =
    "SELECT w.id, w.org_id, w.kind, w.project_id, w.team_id, w.name, w.state, w.priority_class,"
    " w.spec, w.array_id, w.array_index, w.attempt, w.failures, w.node_id, w.gpu_indexes, "
    "w.desired,"
    " w.stop_reason, w.exit_code, w.exit_signal, w.state_reason, w.state_message, w.created_by,"
    " w.scheduled_at, w.started_at, w.finished_at, w.stop_requested_at, w.version, w.created_at,"
    " w.updated_at, w.hourly_price_micros, w.currency, w.cost_micros, w.gpu_milli_seconds,"
    " w.billed_until, w.expires_at, w.expiry_warned_at, w.settings";
constexpr std::string_view kWorkloadFrom = " FROM workloads w";

std::string IndexesToJson(const std::vector<int64_t>& indexes) {
  bj::array a;
  for (int64_t i : indexes) a.emplace_back(i);
  return bj::serialize(a);
}

std::optional<int64_t> OptInt(const Row& r, size_t i) {
  if (r.IsNull(i)) return std::nullopt;
  return r.Int(i);
}

Result<WorkloadRecord> WorkloadFromRow(const Row& r) {
  WorkloadRecord w;
  w.id = r.Text(0);
  w.org_id = OrgId::FromTrusted(r.Text(1));
  w.kind = r.Text(2);
  w.project_id = ProjectId::FromTrusted(r.Text(3));
  w.team_id = TeamId::FromTrusted(r.Text(4));
  w.name = r.Text(5);
  HANGAR_ASSIGN_OR_RETURN(w.state, ParseEnum<WorkloadState>(r.Text(6), "workload state"));
  HANGAR_ASSIGN_OR_RETURN(w.priority_class,
                          ParseEnum<api::PriorityClass>(r.Text(7), "workload priority"));
  w.spec_json = r.Text(8);
  w.array_id = r.OptText(9);
  w.array_index = OptInt(r, 10);
  w.attempt = r.Int(11);
  w.failures = r.Int(12);
  if (auto node = r.OptText(13)) w.node_id = NodeId::FromTrusted(*node);
  auto indexes = json::Parse(r.Text(14));
  if (!indexes || !indexes->is_array()) return std::unexpected(CorruptRow("workload GPUs"));
  for (const auto& v : indexes->get_array()) {
    if (!v.is_int64()) return std::unexpected(CorruptRow("workload GPUs"));
    w.gpu_indexes.push_back(v.get_int64());
  }
  w.desired = r.Text(15);
  w.stop_reason = r.Text(16);
  w.exit_code = OptInt(r, 17);
  w.signal = OptInt(r, 18);
  w.state_reason = r.Text(19);
  w.state_message = r.Text(20);
  w.created_by = r.Text(21);
  w.scheduled_at = r.OptTime(22);
  w.started_at = r.OptTime(23);
  w.finished_at = r.OptTime(24);
  w.stop_requested_at = r.OptTime(25);
  w.version = r.Int(26);
  w.created_at = r.Time(27);
  w.updated_at = r.Time(28);
  w.hourly_price_micros = r.Int(29);
  w.currency = r.Text(30);
  w.cost_micros = r.Int(31);
  w.gpu_milli_seconds = r.Int(32);
  w.billed_until = r.OptTime(33);
  w.expires_at = r.OptTime(34);
  w.expiry_warned_at = r.OptTime(35);
  w.settings_json = r.Text(36);
  return w;
}

SqlValue OptParam(const std::optional<int64_t>& v) { return v ? SqlValue(*v) : Null(); }

const ListTable& JobTable() {
  static const ListTable t{&JobListSpec(),
                           kWorkloadSelect,
                           kWorkloadFrom,
                           "w.org_id",
                           "w.id",
                           "w.created_at",
                           {{"state", "w.state"},
                            {"project_id", "w.project_id"},
                            {"node_id", "w.node_id"},
                            {"name", "w.name"},
                            {"priority_class", "w.priority_class"},
                            {"array_id", "w.array_id"},
                            {"created_at", "w.created_at"}},
                           "w.kind = 'job'"};
  return t;
}

const ListTable& InstanceTable() {
  static const ListTable t{&InstanceListSpec(),
                           kWorkloadSelect,
                           kWorkloadFrom,
                           "w.org_id",
                           "w.id",
                           "w.created_at",
                           {{"state", "w.state"},
                            {"project_id", "w.project_id"},
                            {"node_id", "w.node_id"},
                            {"name", "w.name"},
                            {"created_at", "w.created_at"}},
                           "w.kind = 'instance'"};
  return t;
}

}  // namespace

const ListSpec& JobListSpec() {
  static const ListSpec spec{
      "jobs",
      {
          EnumField<api::JobState>("state", true, "The job's state."),
          Field("project_id", FieldType::kText, true, false, "The project the job runs for."),
          Field("node_id", FieldType::kText, true, false, "The node the job was placed on."),
          Field("name", FieldType::kText, true, true, "The job's name."),
          EnumField<api::PriorityClass>("priority_class", false, "The job's priority class."),
          Field("array_id", FieldType::kText, true, false,
                "The first job of an array: lists the whole array."),
          Field("created_at", FieldType::kTime, false, true, "When the job was submitted."),
      },
  };
  return spec;
}

const ListSpec& InstanceListSpec() {
  static const ListSpec spec{
      "instances",
      {
          EnumField<api::InstanceState>("state", true, "The instance's state."),
          Field("project_id", FieldType::kText, true, false, "The project the instance is for."),
          Field("node_id", FieldType::kText, true, false, "The node the instance is placed on."),
          Field("name", FieldType::kText, true, true, "The instance's name."),
          Field("created_at", FieldType::kTime, false, true, "When the instance was requested."),
      },
  };
  return spec;
}

Status InsertWorkload(Tx& tx, const WorkloadRecord& w) {
  return StatusOf(tx.Exec(
      "INSERT INTO workloads (id, org_id, kind, project_id, team_id, name, state, priority_class,"
      " spec, array_id, array_index, attempt, failures, node_id, gpu_indexes, desired,"
      " stop_reason, exit_code, exit_signal, state_reason, state_message, created_by,"
      " scheduled_at, started_at, finished_at, stop_requested_at, version, created_at,"
      " updated_at, hourly_price_micros, currency, cost_micros, gpu_milli_seconds, billed_until,"
      " expires_at, expiry_warned_at, settings)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
      " $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36,"
      " $37)",
      {w.id,
       w.org_id.str(),
       w.kind,
       w.project_id.str(),
       w.team_id.str(),
       w.name,
       std::string(json::EnumName(w.state)),
       std::string(json::EnumName(w.priority_class)),
       w.spec_json,
       Nullable(w.array_id),
       OptParam(w.array_index),
       w.attempt,
       w.failures,
       w.node_id ? SqlValue(w.node_id->str()) : Null(),
       IndexesToJson(w.gpu_indexes),
       w.desired,
       w.stop_reason,
       OptParam(w.exit_code),
       OptParam(w.signal),
       w.state_reason,
       w.state_message,
       w.created_by,
       Nullable(w.scheduled_at),
       Nullable(w.started_at),
       Nullable(w.finished_at),
       Nullable(w.stop_requested_at),
       w.version,
       ToUnixMicros(w.created_at),
       ToUnixMicros(w.updated_at),
       w.hourly_price_micros,
       w.currency,
       w.cost_micros,
       w.gpu_milli_seconds,
       Nullable(w.billed_until),
       Nullable(w.expires_at),
       Nullable(w.expiry_warned_at),
       w.settings_json}));
}

Result<std::optional<WorkloadRecord>> GetWorkload(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kWorkloadSelect, kWorkloadFrom, " WHERE w.org_id = $1 AND w.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<WorkloadRecord>(tx, sql, params, WorkloadFromRow);
}

Result<Page<WorkloadRecord>> ListJobs(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<WorkloadRecord>(tx, JobTable(), org, query, WorkloadFromRow);
}

Result<Page<WorkloadRecord>> ListInstances(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<WorkloadRecord>(tx, InstanceTable(), org, query, WorkloadFromRow);
}

Status UpdateWorkload(Tx& tx, const WorkloadRecord& w) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE workloads SET state = $3, attempt = $4, node_id = $5, gpu_indexes = $6,"
              " desired = $7, stop_reason = $8, exit_code = $9, exit_signal = $10,"
              " state_reason = $11, state_message = $12, scheduled_at = $13, started_at = $14,"
              " finished_at = $15, stop_requested_at = $16, updated_at = $17, failures = $19,"
              " hourly_price_micros = $20, currency = $21, cost_micros = $22,"
              " gpu_milli_seconds = $23, billed_until = $24, expires_at = $25,"
              " expiry_warned_at = $26, settings = $27, spec = $28, name = $29,"
              " priority_class = $30, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $18",
              {w.org_id.str(),
               w.id,
               std::string(json::EnumName(w.state)),
               w.attempt,
               w.node_id ? SqlValue(w.node_id->str()) : Null(),
               IndexesToJson(w.gpu_indexes),
               w.desired,
               w.stop_reason,
               OptParam(w.exit_code),
               OptParam(w.signal),
               w.state_reason,
               w.state_message,
               Nullable(w.scheduled_at),
               Nullable(w.started_at),
               Nullable(w.finished_at),
               Nullable(w.stop_requested_at),
               ToUnixMicros(w.updated_at),
               w.version,
               w.failures,
               w.hourly_price_micros,
               w.currency,
               w.cost_micros,
               w.gpu_milli_seconds,
               Nullable(w.billed_until),
               Nullable(w.expires_at),
               Nullable(w.expiry_warned_at),
               w.settings_json,
               w.spec_json,
               w.name,
               std::string(json::EnumName(w.priority_class))}));
  if (changed == 0) return UpdateMissed(tx, "workloads", w.kind, w.org_id.str(), w.id);
  return Ok();
}

Result<std::vector<WorkloadRecord>> ListActiveWorkloads(Tx& tx) {
  static const std::string sql =
      Concat({kWorkloadSelect, kWorkloadFrom,
              " WHERE w.state IN ('pending', 'scheduled', 'running', 'stopping')"
              " ORDER BY w.org_id, w.id"});
  return QueryAll<WorkloadRecord>(tx, sql, {}, WorkloadFromRow);
}

Result<std::vector<WorkloadRecord>> ListOrgActiveWorkloads(Tx& tx, const OrgId& org) {
  static const std::string sql =
      Concat({kWorkloadSelect, kWorkloadFrom,
              " WHERE w.org_id = $1 AND w.state IN ('pending', 'scheduled', 'running', 'stopping')"
              " ORDER BY w.id"});
  SqlValue params[] = {org.str()};
  return QueryAll<WorkloadRecord>(tx, sql, params, WorkloadFromRow);
}

Result<std::vector<WorkloadRecord>> ListNodeWorkloads(Tx& tx, const OrgId& org,
                                                      const NodeId& node) {
  static const std::string sql = Concat(
      {kWorkloadSelect, kWorkloadFrom,
       " WHERE w.node_id = $1 AND w.org_id = $2 AND w.state IN ('scheduled', 'running', 'stopping')"
       " ORDER BY w.id"});
  SqlValue params[] = {node.str(), org.str()};
  return QueryAll<WorkloadRecord>(tx, sql, params, WorkloadFromRow);
}

Result<std::vector<WorkloadRecord>> ListWorkloadsOnUnreachableNodes(Tx& tx) {
  static const std::string sql =
      Concat({kWorkloadSelect, kWorkloadFrom,
              " JOIN nodes n ON n.id = w.node_id AND n.org_id = w.org_id"
              " WHERE n.state = 'unreachable' AND w.state IN ('scheduled', 'running', 'stopping')"
              " ORDER BY w.id"});
  return QueryAll<WorkloadRecord>(tx, sql, {}, WorkloadFromRow);
}

Result<std::vector<WorkloadRecord>> ListRunningStartedBefore(Tx& tx, Timestamp started_before) {
  static const std::string sql = Concat({kWorkloadSelect, kWorkloadFrom,
                                         " WHERE w.state = 'running' AND w.started_at < $1"
                                         " ORDER BY w.id"});
  SqlValue params[] = {ToUnixMicros(started_before)};
  return QueryAll<WorkloadRecord>(tx, sql, params, WorkloadFromRow);
}

Result<std::vector<WorkloadRecord>> ListInstancesExpiringBefore(Tx& tx, Timestamp before) {
  static const std::string sql =
      Concat({kWorkloadSelect, kWorkloadFrom,
              " WHERE w.kind = 'instance' AND w.state = 'running' AND w.expires_at < $1"
              " ORDER BY w.id"});
  SqlValue params[] = {ToUnixMicros(before)};
  return QueryAll<WorkloadRecord>(tx, sql, params, WorkloadFromRow);
}

Result<int64_t> AppendOutput(Tx& tx, const OrgId& org, const OutputRecord& chunk) {
  HANGAR_ASSIGN_OR_RETURN(auto rows,
                          tx.Query("SELECT COALESCE(MAX(byte_end), 0) FROM workload_output"
                                   " WHERE workload_id = $1 AND attempt = $2 AND stream = $3",
                                   {chunk.workload_id, chunk.attempt, chunk.stream}));
  // The agent uploads each stream in order from its last acknowledged offset, so a chunk is
  // either new or a repeat of one already stored.
  if (chunk.byte_end <= rows.at(0).Int(0)) return int64_t{0};
  HANGAR_TRY(StatusOf(tx.Exec(
      "INSERT INTO workload_output (org_id, workload_id, attempt, stream, byte_offset, byte_end,"
      " text, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {org.str(), chunk.workload_id, chunk.attempt, chunk.stream, chunk.byte_offset, chunk.byte_end,
       chunk.text, ToUnixMicros(chunk.time)})));
  return chunk.byte_end - chunk.byte_offset;
}

Result<std::vector<OutputRecord>> ReadOutput(Tx& tx, const OrgId& org, std::string_view workload_id,
                                             int64_t after, int64_t limit) {
  static const std::string sql =
      "SELECT seq, workload_id, attempt, stream, byte_offset, byte_end, text, time"
      " FROM workload_output"
      " WHERE workload_id = $1 AND org_id = $2 AND seq > $3 ORDER BY seq LIMIT $4";
  SqlValue params[] = {std::string(workload_id), org.str(), after, limit};
  return QueryAll<OutputRecord>(tx, sql, params, [](const Row& r) -> Result<OutputRecord> {
    return OutputRecord{.seq = r.Int(0),
                        .workload_id = r.Text(1),
                        .attempt = r.Int(2),
                        .stream = r.Text(3),
                        .byte_offset = r.Int(4),
                        .byte_end = r.Int(5),
                        .text = r.Text(6),
                        .time = r.Time(7)};
  });
}

}  // namespace hangar::store
