// Schedule repositories (see schedule_repos.h).
#include "store/schedule_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kScheduleSelect =
    "SELECT s.id, s.org_id, s.project_id, s.team_id, s.name, s.cron, s.time_zone,"
    " s.missed_runs, s.concurrency, s.starting_deadline_seconds, s.suspended, s.job,"
    " s.owner_kind, s.owner_subject, s.owner_key, s.owner_scopes, s.next_run_at, s.last_run_at,"
    " s.last_result, s.last_message, s.last_job_id, s.runs_started, s.runs_skipped, s.created_by,"
    " s.version, s.created_at, s.updated_at";
constexpr std::string_view kScheduleFrom = " FROM schedules s";

Result<PrincipalKind> OwnerKindOf(const std::string& name) {
  for (PrincipalKind kind : {PrincipalKind::kAdmin, PrincipalKind::kUser,
                             PrincipalKind::kServiceAccount, PrincipalKind::kNode}) {
    if (name == PrincipalKindName(kind)) return kind;
  }
  return std::unexpected(Error::Internal("unknown schedule owner kind '" + name + "'"));
}

Result<ScheduleRecord> ScheduleFromRow(const Row& r) {
  ScheduleRecord s{.id = r.Text(0),
                   .org_id = OrgId::FromTrusted(r.Text(1)),
                   .project_id = ProjectId::FromTrusted(r.Text(2)),
                   .team_id = TeamId::FromTrusted(r.Text(3)),
                   .name = r.Text(4),
                   .cron = r.Text(5),
                   .time_zone = r.Text(6)};
  HANGAR_ASSIGN_OR_RETURN(s.missed_runs,
                          ParseEnum<api::MissedRunPolicy>(r.Text(7), "missed-run policy"));
  HANGAR_ASSIGN_OR_RETURN(s.concurrency,
                          ParseEnum<api::ConcurrencyPolicy>(r.Text(8), "concurrency policy"));
  s.starting_deadline_seconds = r.Int(9);
  s.suspended = r.Int(10) != 0;
  s.job_json = r.Text(11);
  HANGAR_ASSIGN_OR_RETURN(s.owner_kind, OwnerKindOf(r.Text(12)));
  s.owner_subject = r.Text(13);
  s.owner_key = r.Text(14);
  s.owner_scopes_json = r.Text(15);
  s.next_run_at = r.OptTime(16);
  s.last_run_at = r.OptTime(17);
  HANGAR_ASSIGN_OR_RETURN(s.last_result,
                          ParseEnum<api::ScheduleRunResult>(r.Text(18), "schedule run result"));
  s.last_message = r.Text(19);
  s.last_job_id = r.OptText(20);
  s.runs_started = r.Int(21);
  s.runs_skipped = r.Int(22);
  s.created_by = r.Text(23);
  s.version = r.Int(24);
  s.created_at = r.Time(25);
  s.updated_at = r.Time(26);
  return s;
}

SqlValue OptTimeParam(const std::optional<Timestamp>& t) {
  return t ? SqlValue(ToUnixMicros(*t)) : Null();
}
SqlValue OptTextParam(const std::optional<std::string>& t) { return t ? SqlValue(*t) : Null(); }

const ListTable& ScheduleTable() {
  static const ListTable t{
      &ScheduleListSpec(),
      kScheduleSelect,
      kScheduleFrom,
      "s.org_id",
      "s.id",
      "s.created_at",
      {{"project_id", "s.project_id"}, {"name", "s.name"}, {"created_at", "s.created_at"}}};
  return t;
}

}  // namespace

const ListSpec& ScheduleListSpec() {
  static const ListSpec spec{
      "schedules",
      {
          Field("project_id", FieldType::kText, true, false, "The project it submits jobs to."),
          Field("name", FieldType::kText, true, true, "The schedule's name."),
          Field("created_at", FieldType::kTime, false, true, "When it was created."),
      },
  };
  return spec;
}

Status InsertSchedule(Tx& tx, const ScheduleRecord& s) {
  return StatusOf(tx.Exec(
      "INSERT INTO schedules (id, org_id, project_id, team_id, name, cron, time_zone,"
      " missed_runs, concurrency, starting_deadline_seconds, suspended, job, owner_kind,"
      " owner_subject, owner_key, owner_scopes, next_run_at, last_run_at, last_result,"
      " last_message, last_job_id, runs_started, runs_skipped, created_by, version, created_at,"
      " updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
      " $19, $20, $21, $22, $23, $24, 1, $25, $26)",
      {s.id,
       s.org_id.str(),
       s.project_id.str(),
       s.team_id.str(),
       s.name,
       s.cron,
       s.time_zone,
       std::string(json::EnumName(s.missed_runs)),
       std::string(json::EnumName(s.concurrency)),
       s.starting_deadline_seconds,
       int64_t{s.suspended ? 1 : 0},
       s.job_json,
       std::string(PrincipalKindName(s.owner_kind)),
       s.owner_subject,
       s.owner_key,
       s.owner_scopes_json,
       OptTimeParam(s.next_run_at),
       OptTimeParam(s.last_run_at),
       std::string(json::EnumName(s.last_result)),
       s.last_message,
       OptTextParam(s.last_job_id),
       s.runs_started,
       s.runs_skipped,
       s.created_by,
       ToUnixMicros(s.created_at),
       ToUnixMicros(s.updated_at)}));
}

Result<std::optional<ScheduleRecord>> GetSchedule(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kScheduleSelect, kScheduleFrom, " WHERE s.org_id = $1 AND s.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<ScheduleRecord>(tx, sql, params, ScheduleFromRow);
}

Result<std::optional<ScheduleRecord>> FindScheduleByName(Tx& tx, const OrgId& org,
                                                         const ProjectId& project,
                                                         std::string_view name) {
  static const std::string sql =
      Concat({kScheduleSelect, kScheduleFrom,
              " WHERE s.org_id = $1 AND s.project_id = $2 AND s.name = $3"});
  SqlValue params[] = {org.str(), project.str(), std::string(name)};
  return QueryOne<ScheduleRecord>(tx, sql, params, ScheduleFromRow);
}

Result<Page<ScheduleRecord>> ListSchedules(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<ScheduleRecord>(tx, ScheduleTable(), org, query, ScheduleFromRow);
}

Result<std::vector<ScheduleRecord>> ListDueSchedules(Tx& tx, Timestamp now, int64_t limit) {
  static const std::string sql = Concat({kScheduleSelect, kScheduleFrom,
                                         " WHERE s.next_run_at <= $1 AND s.suspended = 0"
                                         " ORDER BY s.next_run_at, s.id LIMIT $2"});
  SqlValue params[] = {ToUnixMicros(now), limit};
  return QueryAll<ScheduleRecord>(tx, sql, params, ScheduleFromRow);
}

Status UpdateSchedule(Tx& tx, const ScheduleRecord& s) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE schedules SET cron = $3, time_zone = $4, missed_runs = $5,"
              " concurrency = $6, starting_deadline_seconds = $7, suspended = $8, job = $9,"
              " next_run_at = $10, last_run_at = $11, last_result = $12, last_message = $13,"
              " last_job_id = $14, runs_started = $15, runs_skipped = $16,"
              " owner_kind = $19, owner_subject = $20, owner_key = $21, owner_scopes = $22,"
              " version = version + 1, updated_at = $17"
              " WHERE org_id = $1 AND id = $2 AND version = $18",
              {s.org_id.str(),
               s.id,
               s.cron,
               s.time_zone,
               std::string(json::EnumName(s.missed_runs)),
               std::string(json::EnumName(s.concurrency)),
               s.starting_deadline_seconds,
               int64_t{s.suspended ? 1 : 0},
               s.job_json,
               OptTimeParam(s.next_run_at),
               OptTimeParam(s.last_run_at),
               std::string(json::EnumName(s.last_result)),
               s.last_message,
               OptTextParam(s.last_job_id),
               s.runs_started,
               s.runs_skipped,
               ToUnixMicros(s.updated_at),
               s.version,
               std::string(PrincipalKindName(s.owner_kind)),
               s.owner_subject,
               s.owner_key,
               s.owner_scopes_json}));
  if (changed == 0) {
    return std::unexpected(
        Error(ErrorCode::kPreconditionFailed, "schedule " + s.id + " changed since it was read")
            .Hint("read it again and retry with the new etag"));
  }
  return Ok();
}

Status DeleteSchedule(Tx& tx, const OrgId& org, std::string_view id) {
  return StatusOf(
      tx.Exec("DELETE FROM schedules WHERE org_id = $1 AND id = $2", {org.str(), std::string(id)}));
}

}  // namespace hangar::store
