#include "workloads/schedule_service.h"

#include <spdlog/spdlog.h>

#include "common/cron.h"
#include "common/json_codec.h"
#include "identity/directory_service.h"
#include "workloads/schedule_plan.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;

constexpr int64_t kMinStartingDeadline = 10;
constexpr int64_t kMaxStartingDeadline = 7 * 24 * 3600;

ResourceScope ScopeOf(const store::ScheduleRecord& s) {
  return ResourceScope::Project(s.org_id, s.team_id, s.project_id);
}

Error NotFound(const ScheduleId& id) {
  return Error::NotFound("schedule " + id.str() + " not found");
}

bool IsFinal(store::WorkloadState s) {
  using store::WorkloadState;
  return s == WorkloadState::succeeded || s == WorkloadState::failed ||
         s == WorkloadState::cancelled || s == WorkloadState::stopped ||
         s == WorkloadState::terminated;
}

// The job checks name fields of a job request; in a schedule they sit under /job (the project
// is the schedule's own).
void AddJobViolations(Error& into, const Error& from) {
  for (const auto& v : from.violations()) {
    into.AddField(v.pointer == "/project" ? v.pointer : "/job" + v.pointer, v.detail);
  }
}

// The principal a schedule's runs submit as.
Principal OwnerOf(const store::ScheduleRecord& s) {
  Principal p{.org_id = s.org_id,
              .kind = s.owner_kind,
              .key_id = ApiKeyId::FromTrusted(s.owner_key),
              .subject_id = s.owner_subject};
  if (auto scopes = json::ParseAs<std::vector<std::string>>(s.owner_scopes_json)) {
    p.scopes = std::move(*scopes);
  }
  return p;
}

std::string Plural(int64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

}  // namespace

api::SubmitJobRequest JobRequestOf(const store::ScheduleRecord& schedule,
                                   const api::JobTemplate& job) {
  api::SubmitJobRequest r{.project = schedule.project_id.str(),
                          .name = job.name ? job.name : std::optional(schedule.name),
                          .command = job.command,
                          .environment = job.environment.value_or(api::Labels{}),
                          .working_dir = job.working_dir,
                          .resources = job.resources,
                          .node_selector = job.node_selector,
                          .priority_class = job.priority_class,
                          .time_limit_seconds = job.time_limit_seconds,
                          .preemption = job.preemption,
                          .checkpoint_grace_seconds = job.checkpoint_grace_seconds,
                          .retries = job.retries,
                          .on_node_loss = job.on_node_loss,
                          .array_size = job.array_size,
                          .tolerations = job.tolerations};
  return r;
}

void StampRun(PreparedJob& job, const std::string& schedule_id, Timestamp nominal) {
  // After the job checks, which keep HANGAR_* names for Hangar itself.
  if (!job.spec.environment) job.spec.environment.emplace();
  api::Labels& env = *job.spec.environment;
  env["HANGAR_SCHEDULE_ID"] = schedule_id;
  env["HANGAR_SCHEDULED_TIME"] = FormatRfc3339(nominal);
}

ScheduleService::ScheduleService(store::Store& store, const Clock& clock,
                                 identity::Authorizer& authorizer, JobService& jobs,
                                 std::function<void()> wake_scheduler)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      jobs_(jobs),
      wake_scheduler_(std::move(wake_scheduler)) {}

Result<TimeZone> ScheduleService::Zone(const std::string& name) {
  {
    std::lock_guard lock(zones_mutex_);
    if (auto it = zones_.find(name); it != zones_.end()) return it->second;
  }
  HANGAR_ASSIGN_OR_RETURN(TimeZone zone, TimeZone::Load(name));
  std::lock_guard lock(zones_mutex_);
  zones_.emplace(name, zone);
  return zone;
}

api::Schedule ScheduleService::ToApi(const store::ScheduleRecord& r) {
  api::Schedule out{.id = r.id,
                    .project_id = r.project_id.str(),
                    .name = r.name,
                    .cron = r.cron,
                    .time_zone = r.time_zone,
                    .missed_runs = r.missed_runs,
                    .concurrency = r.concurrency,
                    .starting_deadline_seconds = r.starting_deadline_seconds,
                    .suspended = r.suspended,
                    .last_result = r.last_result,
                    .last_message = r.last_message,
                    .last_job_id = r.last_job_id,
                    .runs_started = r.runs_started,
                    .runs_skipped = r.runs_skipped,
                    .owner = r.owner_subject.empty() ? r.owner_key : r.owner_subject,
                    .created_by = r.created_by,
                    .created_at = FormatRfc3339(r.created_at),
                    .updated_at = FormatRfc3339(r.updated_at),
                    .etag = "\"" + std::to_string(r.version) + "\"",
                    .links = {{"self", "/api/v1/schedules/" + r.id},
                              {"jobs", "/api/v1/jobs?project_id=" + r.project_id.str()}}};
  if (auto job = json::ParseAs<api::JobTemplate>(r.job_json)) out.job = std::move(*job);
  if (r.next_run_at) out.next_run_at = FormatRfc3339(*r.next_run_at);
  if (r.last_run_at) out.last_run_at = FormatRfc3339(*r.last_run_at);
  if (r.last_job_id) out.links["last_job"] = "/api/v1/jobs/" + *r.last_job_id;
  auto cron = CronExpression::Parse(r.cron);
  auto zone = Zone(r.time_zone);
  if (!r.suspended && cron && zone) {
    Timestamp after = clock_.Now();
    // A due run not yet started is still the next one.
    if (r.next_run_at && *r.next_run_at <= after) after = *r.next_run_at - Micros(1);
    for (Timestamp t : cron->NextN(after, *zone, kNextRunsShown)) {
      out.next_runs.push_back(FormatRfc3339(t));
    }
  }
  return out;
}

Result<store::ScheduleRecord> ScheduleService::Create(const Principal& who,
                                                      const api::CreateScheduleRequest& request) {
  Timestamp now = clock_.Now();
  Error invalid = Error::Invalid("the schedule is not valid");
  identity::CheckName(invalid, "/name", request.name);
  auto cron = CronExpression::Parse(request.cron);
  if (!cron) invalid.AddField("/cron", cron.error().message());
  std::string zone_name = request.time_zone.value_or("UTC");
  auto zone = Zone(zone_name);
  if (!zone) invalid.AddField("/time_zone", zone.error().message());
  int64_t deadline = request.starting_deadline_seconds.value_or(300);
  if (deadline < kMinStartingDeadline || deadline > kMaxStartingDeadline) {
    invalid.AddField("/starting_deadline_seconds", "must be from 10 to 604800 (a week) seconds");
  }
  std::optional<Timestamp> next;
  if (cron && zone) {
    next = cron->Next(now, *zone);
    if (!next) invalid.AddField("/cron", "never matches a date (e.g. 30 February)");
  }

  // The template is checked as a job submitted now would be, by the caller, who becomes the
  // schedule's owner.
  store::ScheduleRecord record{
      .id = ScheduleId::Generate(clock_).str(), .org_id = who.org_id, .name = request.name};
  auto prepared = jobs_.Prepare(who, [&] {
    auto r = JobRequestOf(record, request.job);
    r.project = request.project;
    return r;
  }());
  if (!prepared) {
    if (prepared.error().code() != ErrorCode::kInvalidArgument) {
      if (prepared.error().code() == ErrorCode::kResourceExhausted) {
        Error refused(ErrorCode::kResourceExhausted, prepared.error().message());
        AddJobViolations(refused, prepared.error());
        return std::unexpected(std::move(refused).Hint(prepared.error().hint()));
      }
      return std::unexpected(prepared.error());
    }
    AddJobViolations(invalid, prepared.error());
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  record.project_id = prepared->project.id;
  record.team_id = prepared->project.team_id;
  record.cron = cron->ToString();
  record.time_zone = zone->name();
  record.missed_runs = request.missed_runs.value_or(api::MissedRunPolicy::run_once);
  record.concurrency = request.concurrency.value_or(api::ConcurrencyPolicy::allow);
  record.starting_deadline_seconds = deadline;
  record.suspended = request.suspended.value_or(false);
  record.job_json = json::Serialize(request.job);
  record.owner_kind = who.kind;
  record.owner_subject = who.subject_id;
  record.owner_key = who.key_id.str();
  record.owner_scopes_json = json::Serialize(who.scopes);
  record.next_run_at = record.suspended ? std::nullopt : next;
  record.created_by = who.ActorId();
  record.created_at = now;
  record.updated_at = now;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    if (auto inserted = store::InsertSchedule(tx, record); !inserted) {
      if (inserted.error().code() == ErrorCode::kAlreadyExists) {
        return std::unexpected(
            Error::Conflict("the project already has a schedule named " + record.name)
                .Field("/name", "is already used in the project")
                .Hint("choose another name, or change the existing schedule"));
      }
      return std::unexpected(inserted.error());
    }
    return AppendScheduleEvent(tx, record, "hangar.schedule.created", now, who.ActorId());
  }));
  return record;
}

Status ScheduleService::AppendScheduleEvent(store::Tx& tx, const store::ScheduleRecord& s,
                                            std::string type, Timestamp now,
                                            const std::string& actor) {
  FakeClock at(now);  // the event id carries the change's time
  return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(at),
                                                   .org_id = s.org_id,
                                                   .type = std::move(type),
                                                   .source = "/api/v1/schedules",
                                                   .subject = s.id,
                                                   .time = now,
                                                   .data_json = json::Serialize(ToApi(s)),
                                                   .actor = actor});
}

Result<store::ScheduleRecord> ScheduleService::Get(const Principal& who, const ScheduleId& id) {
  std::optional<store::ScheduleRecord> schedule;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(schedule, store::GetSchedule(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!schedule) return std::unexpected(NotFound(id));
  HANGAR_TRY(
      authorizer_.RequireOnObject(who, "jobs:read", "jobs:read", ScopeOf(*schedule), NotFound(id)));
  return std::move(*schedule);
}

Result<store::Page<store::ScheduleRecord>> ScheduleService::List(const Principal& who,
                                                                 const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "jobs:read"));
  if (!any) {
    return std::unexpected(Error::PermissionDenied("permission jobs:read is required")
                               .Hint("ask an administrator for a role that includes jobs:read"));
  }
  store::Page<store::ScheduleRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListSchedules(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<store::ScheduleRecord> out{.next_page_token = page.next_page_token};
  for (auto& s : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "jobs:read", ScopeOf(s)));
    if (d.allowed) out.items.push_back(std::move(s));
  }
  return out;
}

Result<store::ScheduleRecord> ScheduleService::Update(const Principal& who, const ScheduleId& id,
                                                      const api::UpdateScheduleRequest& request,
                                                      std::optional<int64_t> if_match_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  HANGAR_TRY(
      authorizer_.RequireOnObject(who, "jobs:create", "jobs:read", ScopeOf(current), NotFound(id)));
  Timestamp now = clock_.Now();
  store::ScheduleRecord next = current;
  Error invalid = Error::Invalid("the change is not valid");
  std::optional<CronExpression> cron;
  if (auto parsed = CronExpression::Parse(request.cron.value_or(current.cron))) {
    cron = *parsed;
  } else {
    invalid.AddField("/cron", parsed.error().message());
  }
  auto zone = Zone(request.time_zone.value_or(current.time_zone));
  if (!zone) invalid.AddField("/time_zone", zone.error().message());
  if (request.starting_deadline_seconds) {
    int64_t d = *request.starting_deadline_seconds;
    if (d < kMinStartingDeadline || d > kMaxStartingDeadline) {
      invalid.AddField("/starting_deadline_seconds", "must be from 10 to 604800 (a week) seconds");
    }
    next.starting_deadline_seconds = d;
  }
  if (request.job) {
    auto prepared = jobs_.Prepare(who, JobRequestOf(current, *request.job));
    if (!prepared) {
      if (prepared.error().code() != ErrorCode::kInvalidArgument &&
          prepared.error().code() != ErrorCode::kResourceExhausted) {
        return std::unexpected(prepared.error());
      }
      AddJobViolations(invalid, prepared.error());
    }
    next.job_json = json::Serialize(*request.job);
  }
  // Runs submit as whoever set the schedule up last, so a job is never attributed to (nor run
  // with the rights of) someone who did not ask for that template.
  next.owner_kind = who.kind;
  next.owner_subject = who.subject_id;
  next.owner_key = who.key_id.str();
  next.owner_scopes_json = json::Serialize(who.scopes);
  if (request.missed_runs) next.missed_runs = *request.missed_runs;
  if (request.concurrency) next.concurrency = *request.concurrency;
  if (request.suspended) next.suspended = *request.suspended;
  if (cron) next.cron = cron->ToString();
  if (zone) next.time_zone = zone->name();
  // A new timetable, or a resume, starts from now: runs passed while suspended are not missed.
  bool retimed = next.cron != current.cron || next.time_zone != current.time_zone ||
                 next.suspended != current.suspended;
  if (cron && zone && retimed) {
    next.next_run_at = next.suspended ? std::nullopt : cron->Next(now, *zone);
    if (!next.suspended && !next.next_run_at) {
      invalid.AddField("/cron", "never matches a date (e.g. 30 February)");
    }
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  next.updated_at = now;
  if (if_match_version) next.version = *if_match_version;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::UpdateSchedule(tx, next));
    return AppendScheduleEvent(tx, next, "hangar.schedule.updated", now, who.ActorId());
  }));
  next.version = (if_match_version ? *if_match_version : current.version) + 1;
  return next;
}

Status ScheduleService::Delete(const Principal& who, const ScheduleId& id,
                               std::optional<int64_t> if_match_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  HANGAR_TRY(
      authorizer_.RequireOnObject(who, "jobs:create", "jobs:read", ScopeOf(current), NotFound(id)));
  Timestamp now = clock_.Now();
  return store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto stored, store::GetSchedule(tx, who.org_id, id.str()));
    if (!stored) return std::unexpected(NotFound(id));
    if (if_match_version && *if_match_version != stored->version) {
      return std::unexpected(Error(ErrorCode::kPreconditionFailed,
                                   "schedule " + id.str() + " changed since it was read")
                                 .Hint("read it again and retry with the new etag"));
    }
    HANGAR_TRY(store::DeleteSchedule(tx, who.org_id, stored->id));
    return AppendScheduleEvent(tx, *stored, "hangar.schedule.deleted", now, who.ActorId());
  });
}

Result<std::vector<JobView>> ScheduleService::Trigger(const Principal& who, const ScheduleId& id) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  HANGAR_TRY(
      authorizer_.RequireOnObject(who, "jobs:create", "jobs:read", ScopeOf(current), NotFound(id)));
  Timestamp now = clock_.Now();
  HANGAR_ASSIGN_OR_RETURN(auto job, json::ParseAs<api::JobTemplate>(current.job_json));
  HANGAR_ASSIGN_OR_RETURN(PreparedJob prepared, jobs_.Prepare(who, JobRequestOf(current, job)));
  StampRun(prepared, current.id, now);
  std::vector<store::WorkloadRecord> created;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto stored, store::GetSchedule(tx, who.org_id, id.str()));
    if (!stored) return std::unexpected(NotFound(id));
    HANGAR_ASSIGN_OR_RETURN(created,
                            jobs_.Insert(tx, who, prepared, now, "/api/v1/schedules/" + id.str()));
    store::ScheduleRecord next = *stored;
    next.last_run_at = now;
    next.last_result = api::ScheduleRunResult::started;
    next.last_message =
        "started job " + created.front().id + " (triggered by " + who.ActorId() + ")";
    next.last_job_id = created.front().id;
    next.runs_started += 1;
    next.updated_at = now;
    HANGAR_TRY(store::UpdateSchedule(tx, next));
    return AppendScheduleEvent(tx, next, "hangar.schedule.run", now, who.ActorId());
  }));
  wake_scheduler_();
  std::vector<JobView> out;
  for (auto& r : created) out.push_back(JobView{std::move(r), prepared.spec, std::nullopt, now});
  return out;
}

Result<int> ScheduleService::RunDue(int64_t limit) {
  Timestamp now = clock_.Now();
  std::vector<store::ScheduleRecord> due;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(due, store::ListDueSchedules(tx, now, limit));
    return Ok();
  }));
  int handled = 0;
  for (const auto& s : due) {
    if (Status run = RunOne(s, now); !run) {
      spdlog::warn("schedule {}: the run could not be recorded: {}", s.id, run.error().ToString());
      continue;
    }
    ++handled;
  }
  return handled;
}

Status ScheduleService::RunOne(const store::ScheduleRecord& due, Timestamp now) {
  store::ScheduleRecord next = due;
  next.updated_at = now;
  auto cron = CronExpression::Parse(due.cron);
  auto zone = Zone(due.time_zone);
  std::optional<PreparedJob> prepared;
  Principal owner = OwnerOf(due);
  if (!cron || !zone) {
    // Only a zone removed from the system's tz database gets here (both were checked when
    // stored): stop rather than retry every second.
    next.next_run_at = std::nullopt;
    next.last_result = api::ScheduleRunResult::failed;
    next.last_message = (cron ? zone.error() : cron.error()).message() +
                        "; the schedule stops until its cron or time zone is changed";
  } else {
    RunPlan plan = PlanDueRuns(*cron, *zone, *due.next_run_at, now, due.missed_runs,
                               std::chrono::seconds(due.starting_deadline_seconds));
    next.next_run_at = plan.next_run_at;
    next.last_run_at = plan.latest_due;
    next.runs_skipped += plan.missed;
    std::string missed_note =
        plan.missed > 0 ? " (" + Plural(plan.missed, "earlier run") + " missed)" : "";
    if (!plan.run_at) {
      next.last_result = api::ScheduleRunResult::missed;
      next.last_message = "missed " + Plural(plan.missed, "run") + ", the latest at " +
                          FormatRfc3339(plan.latest_due) +
                          ": past the starting deadline, and missed_runs is skip";
    } else if (auto job = json::ParseAs<api::JobTemplate>(due.job_json); !job) {
      next.last_result = api::ScheduleRunResult::failed;
      next.last_message = "the stored job template is unreadable: " + job.error().message();
    } else if (auto checked = jobs_.Prepare(owner, JobRequestOf(due, *job)); !checked) {
      next.last_result = api::ScheduleRunResult::failed;
      next.last_message = "the run at " + FormatRfc3339(*plan.run_at) +
                          " could not submit its job: " + checked.error().ToString();
    } else {
      prepared = std::move(*checked);
      StampRun(*prepared, due.id, *plan.run_at);
      next.last_result = api::ScheduleRunResult::started;
      next.last_message = "run at " + FormatRfc3339(*plan.run_at) +
                          (plan.late ? ", started late" : "") + missed_note;
    }
  }

  std::vector<store::WorkloadRecord> created;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    created.clear();
    HANGAR_ASSIGN_OR_RETURN(auto stored, store::GetSchedule(tx, due.org_id, due.id));
    // Changed or deleted since read (a PATCH, another pass): the next pass sees the new state.
    if (!stored || stored->version != due.version) return Ok();
    store::ScheduleRecord updated = next;
    bool run = prepared.has_value();
    if (run && due.concurrency == api::ConcurrencyPolicy::forbid && due.last_job_id) {
      HANGAR_ASSIGN_OR_RETURN(auto previous, store::GetWorkload(tx, due.org_id, *due.last_job_id));
      if (previous && !IsFinal(previous->state)) {
        run = false;
        updated.runs_skipped += 1;
        updated.last_result = api::ScheduleRunResult::skipped_concurrent;
        updated.last_message = "skipped the run at " + FormatRfc3339(*updated.last_run_at) +
                               ": the previous run's job " + previous->id + " is still " +
                               std::string(json::EnumName(previous->state)) +
                               " (concurrency is forbid)";
      }
    }
    if (run) {
      HANGAR_ASSIGN_OR_RETURN(
          created, jobs_.Insert(tx, owner, *prepared, now, "/api/v1/schedules/" + due.id));
      updated.last_job_id = created.front().id;
      updated.runs_started += 1;
      updated.last_message =
          "started job " + created.front().id + " for the " + updated.last_message;
    }
    HANGAR_TRY(store::UpdateSchedule(tx, updated));
    return AppendScheduleEvent(tx, updated, "hangar.schedule.run", now, owner.ActorId());
  }));
  if (next.last_result == api::ScheduleRunResult::failed) {
    spdlog::warn("schedule {}: {}", due.id, next.last_message);
  }
  return Ok();
}

}  // namespace hangar::workloads
