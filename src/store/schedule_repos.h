// Schedule repositories: recurring jobs (/api/v1/schedules) and the control loop's query for
// the ones due. Same rules as store/repos.h: functions run in the caller's transaction and take
// the OrgId (except ListDueSchedules, which serves every organisation).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/schedule_types.h"
#include "store/repos.h"

namespace hangar::store {

struct ScheduleRecord {
  std::string id;  // "sched_…"
  OrgId org_id;
  ProjectId project_id;
  TeamId team_id;
  std::string name;  // unique in the project
  std::string cron;  // normalised
  std::string time_zone;
  api::MissedRunPolicy missed_runs = api::MissedRunPolicy::run_once;
  api::ConcurrencyPolicy concurrency = api::ConcurrencyPolicy::allow;
  int64_t starting_deadline_seconds = 300;
  bool suspended = false;
  std::string job_json;  // api::JobTemplate
  // The principal runs submit as: its kind, subject (user, service account; empty for the
  // bootstrap key), API key and the credential's scopes (a JSON array).
  PrincipalKind owner_kind = PrincipalKind::kUser;
  std::string owner_subject;
  std::string owner_key;
  std::string owner_scopes_json;
  std::optional<Timestamp> next_run_at;
  std::optional<Timestamp> last_run_at;
  api::ScheduleRunResult last_result = api::ScheduleRunResult::none;
  std::string last_message;
  std::optional<std::string> last_job_id;
  int64_t runs_started = 0;
  int64_t runs_skipped = 0;
  std::string created_by;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// Schedules: filter by project_id, name, suspended; sort by created_at or name.
const ListSpec& ScheduleListSpec();

// kAlreadyExists when the project already has a schedule of that name.
Status InsertSchedule(Tx& tx, const ScheduleRecord& s);
Result<std::optional<ScheduleRecord>> GetSchedule(Tx& tx, const OrgId& org, std::string_view id);
Result<std::optional<ScheduleRecord>> FindScheduleByName(Tx& tx, const OrgId& org,
                                                         const ProjectId& project,
                                                         std::string_view name);
Result<Page<ScheduleRecord>> ListSchedules(Tx& tx, const OrgId& org, const ListQuery& query);
// Unsuspended schedules of every organisation whose next run is at or before `now`, earliest
// first, at most `limit`.
Result<std::vector<ScheduleRecord>> ListDueSchedules(Tx& tx, Timestamp now, int64_t limit);
// Writes every mutable column (the owner too) if the stored version is s.version, and stores
// version + 1 (kPreconditionFailed when it changed since read).
Status UpdateSchedule(Tx& tx, const ScheduleRecord& s);
Status DeleteSchedule(Tx& tx, const OrgId& org, std::string_view id);

}  // namespace hangar::store
