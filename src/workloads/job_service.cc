#include "workloads/job_service.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "store/identity_repos.h"
#include "workloads/instance_service.h"
#include "workloads/job_spec.h"
#include "workloads/quota_service.h"
#include "workloads/reservation_service.h"
#include "workloads/run_lifecycle.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using JobState = store::WorkloadState;
using identity::Principal;
using identity::ResourceScope;

ResourceScope ScopeOf(const store::WorkloadRecord& r) {
  return ResourceScope::Project(r.org_id, r.team_id, r.project_id);
}

std::string_view AllowedActions(JobState state) {
  switch (state) {
    case JobState::pending:
      return "cancel, hold";
    case JobState::held:
      return "cancel, release";
    case JobState::scheduled:
    case JobState::running:
      return "cancel, requeue";
    case JobState::stopping:
      return "cancel";
    case JobState::succeeded:
    case JobState::failed:
    case JobState::cancelled:
      return "requeue";
  }
  return "";
}

Error IllegalAction(const store::WorkloadRecord& r, std::string_view action) {
  std::string allowed(AllowedActions(r.state));
  return Error::Conflict("cannot " + std::string(action) + " job " + r.id + ": it is " +
                         std::string(json::EnumName(r.state)))
      .Hint("a " + std::string(json::EnumName(r.state)) + " job allows: " + allowed);
}

bool IsFinished(JobState s) {
  return s == JobState::succeeded || s == JobState::failed || s == JobState::cancelled;
}

// The job's next state after its current run ended (see the table in the header).
Status EndRun(store::Tx& tx, store::WorkloadRecord& r, const api::SubmitJobRequest& spec,
              const RunEnd& end, Timestamp now, const std::string& actor) {
  r.exit_code = end.exit_code;
  r.signal = end.signal;
  std::string how = end.lost ? "was lost: " + end.message : DescribeExit(end.exit_code, end.signal);
  if (r.state == JobState::stopping) {
    if (r.stop_reason == "cancelled") {
      return FinishRun(tx, r, JobState::cancelled, "cancelled", "cancelled; the run " + how, now,
                       actor);
    }
    if (r.stop_reason == "time_limit") {
      return FinishRun(tx, r, JobState::failed, "time_limit",
                       "stopped at its time limit of " +
                           std::to_string(spec.time_limit_seconds.value_or(0)) + " s; the run " +
                           how,
                       now, actor);
    }
    std::string reason = r.stop_reason.empty() ? "requeued" : r.stop_reason;
    return BackToQueue(tx, r, reason, reason + "; attempt " + std::to_string(r.attempt) + " " + how,
                       now, actor);
  }
  if (end.lost) {
    if (spec.on_node_loss.value_or(api::NodeLossPolicy::requeue) == api::NodeLossPolicy::fail) {
      return FinishRun(tx, r, JobState::failed, "lost",
                       "attempt " + std::to_string(r.attempt) + " " + how, now, actor);
    }
    return BackToQueue(tx, r, "lost", "attempt " + std::to_string(r.attempt) + " " + how, now,
                       actor);
  }
  if (end.exit_code && *end.exit_code == 0 && !end.signal) {
    return FinishRun(tx, r, JobState::succeeded, "completed", "exited with code 0", now, actor);
  }
  ++r.failures;
  int64_t retries = spec.retries.value_or(0);
  if (r.failures <= retries) {
    return BackToQueue(tx, r, "retrying",
                       "attempt " + std::to_string(r.attempt) + " " + how + "; retry " +
                           std::to_string(r.failures) + " of " + std::to_string(retries),
                       now, actor);
  }
  return FinishRun(tx, r, JobState::failed, end.signal ? "signal" : "exit_code",
                   how + (retries > 0 ? " (no retries left)" : ""), now, actor);
}

// PostgreSQL text cannot hold NUL; JSON decoding already guaranteed valid UTF-8. The agent
// sends none (it replaces them), so this only guards against other clients: U+FFFD as the
// agent does.
std::string SanitizeOutput(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<Timestamp> OptParse(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return ParseRfc3339(*text);
}

}  // namespace

// ---- JobService --------------------------------------------------------------------------------

JobService::JobService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                       NodeSignals& signals, const QueueBoard& board,
                       std::function<void()> wake_scheduler, JobOptions options,
                       OutputBell* output_bell)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      signals_(signals),
      board_(board),
      wake_scheduler_(std::move(wake_scheduler)),
      options_(options),
      output_bell_(output_bell) {}

JobView JobService::ViewOf(store::WorkloadRecord record) const {
  JobView view{.as_of = clock_.Now()};
  if (auto spec = SpecOf(record)) view.spec = std::move(*spec);
  if (record.state == JobState::pending) {
    view.queue = board_.Find(record.org_id.str(), record.id);
  } else if (record.state == JobState::held) {
    // Held work waits for a release, not for the scheduler.
    view.queue = api::JobQueueInfo{.reason = "held",
                                   .message = "held: release it to queue it",
                                   .evaluated_at = FormatRfc3339(record.updated_at)};
  }
  view.record = std::move(record);
  return view;
}

Status JobService::Authorize(const Principal& who, std::string_view permission,
                             const store::WorkloadRecord& record) {
  return authorizer_.RequireOnObject(who, permission, "jobs:read", ScopeOf(record),
                                     Error::NotFound("job " + record.id + " not found"));
}

Result<std::vector<JobView>> JobService::Submit(const Principal& who,
                                                const api::SubmitJobRequest& request) {
  HANGAR_ASSIGN_OR_RETURN(PreparedJob job, Prepare(who, request));
  std::vector<store::WorkloadRecord> created;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(created, Insert(tx, who, job, clock_.Now(), "/api/v1/jobs"));
    return Ok();
  }));
  wake_scheduler_();
  std::vector<JobView> out;
  out.reserve(created.size());
  for (auto& r : created) {
    out.push_back(JobView{std::move(r), job.spec, std::nullopt, clock_.Now()});
  }
  return out;
}

Result<PreparedJob> JobService::Prepare(const Principal& who,
                                        const api::SubmitJobRequest& request) {
  Timestamp now = clock_.Now();
  HANGAR_ASSIGN_OR_RETURN(api::SubmitJobRequest spec, NormalizeJobRequest(request, now));

  // Resolve what the request names, and check the caller may use it, before writing.
  std::optional<store::ProjectRecord> project;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::FindProject(tx, who.org_id, spec.project));
    return Ok();
  }));
  auto unknown_project = [&] {
    return Error::Invalid("the job is not valid")
        .Field("/project", "no project with that id or name")
        .Hint("list the projects you can use: hangar projects list");
  };
  if (!project) return std::unexpected(unknown_project());
  HANGAR_TRY(authorizer_.RequireOnObject(
      who, "jobs:create", "projects:read",
      ResourceScope::Project(who.org_id, project->team_id, project->id), unknown_project()));
  spec.project = project->id.str();

  Error invalid = Error::Invalid("the job is not valid");
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_TRY(CheckReservationUse(tx, who.org_id, project->id, spec, now));
    if (spec.resources->gpu_type) {
      store::ListQuery q{.equals = {{"name", *spec.resources->gpu_type}}, .limit = 1};
      HANGAR_ASSIGN_OR_RETURN(auto types, store::ListGpuTypes(tx, who.org_id, q));
      if (types.items.empty()) {
        invalid.AddField("/resources/gpu_type", "no GPU type of that name in the catalogue");
      }
    }
    HANGAR_TRY(CheckRequestFitsQuota(tx, who.org_id, project->team_id, project->id, project->name,
                                     *spec.resources->gpus * *spec.resources->gpu_milli));
    for (size_t i = 0; i < spec.dependencies->size(); ++i) {
      const auto& d = (*spec.dependencies)[i];
      HANGAR_ASSIGN_OR_RETURN(auto other, store::GetWorkload(tx, who.org_id, d.job));
      bool visible = false;
      if (other) {
        HANGAR_ASSIGN_OR_RETURN(auto decision,
                                authorizer_.Check(who, "jobs:read", ScopeOf(*other)));
        visible = decision.allowed;
      }
      if (!visible) {
        invalid.AddField("/dependencies/" + std::to_string(i) + "/job", "no such job");
      }
    }
    return Ok();
  }));
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  return PreparedJob{std::move(spec), std::move(*project)};
}

Result<std::vector<store::WorkloadRecord>> JobService::Insert(store::Tx& tx, const Principal& who,
                                                              const PreparedJob& job, Timestamp now,
                                                              std::string_view source) {
  const api::SubmitJobRequest& spec = job.spec;
  const store::ProjectRecord& project = job.project;
  std::string spec_json = json::Serialize(spec);
  std::vector<store::WorkloadRecord> created;
  std::optional<std::string> array_id;
  for (int64_t i = 0; i < *spec.array_size; ++i) {
    store::WorkloadRecord r{
        .id = JobId::Generate(clock_).str(),
        .org_id = who.org_id,
        .kind = "job",
        .project_id = project.id,
        .team_id = project.team_id,
        .name = *spec.array_size > 1 ? *spec.name + "[" + std::to_string(i) + "]" : *spec.name,
        .state = *spec.hold ? JobState::held : JobState::pending,
        .priority_class = *spec.priority_class,
        .spec_json = spec_json,
        .state_reason = *spec.hold ? "held" : "submitted",
        .state_message = *spec.hold ? "submitted on hold: release it to queue it" : "queued",
        .created_by = who.ActorId(),
        .created_at = now,
        .updated_at = now};
    if (*spec.array_size > 1) {
      if (!array_id) array_id = r.id;
      r.array_id = array_id;
      r.array_index = i;
    }
    HANGAR_TRY(store::InsertWorkload(tx, r));
    HANGAR_TRY(store::AppendEvent(
        tx, store::EventRecord{.id = EventId::Generate(clock_),
                               .org_id = r.org_id,
                               .type = "hangar.job.submitted",
                               .source = std::string(source),
                               .subject = r.id,
                               .time = now,
                               .data_json = json::Serialize(ToApiJob(r, spec, now)),
                               .actor = who.ActorId()}));
    created.push_back(std::move(r));
  }
  return created;
}

Result<JobView> JobService::Get(const Principal& who, const JobId& id) {
  std::optional<store::WorkloadRecord> record;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::GetWorkload(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!record || record->kind != "job") {
    return std::unexpected(Error::NotFound("job " + id.str() + " not found"));
  }
  HANGAR_TRY(Authorize(who, "jobs:read", *record));
  return ViewOf(std::move(*record));
}

Result<store::Page<JobView>> JobService::List(const Principal& who, const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "jobs:read"));
  if (!any) {
    return std::unexpected(Error::PermissionDenied("permission jobs:read is required")
                               .Hint("ask an administrator for a role that includes jobs:read"));
  }
  store::Page<store::WorkloadRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListJobs(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<JobView> out{.next_page_token = page.next_page_token};
  for (auto& r : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "jobs:read", ScopeOf(r)));
    if (d.allowed) out.items.push_back(ViewOf(std::move(r)));
  }
  return out;
}

Result<JobView> JobService::Cancel(const Principal& who, const JobId& id,
                                   std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "cancel");
}
Result<JobView> JobService::Hold(const Principal& who, const JobId& id,
                                 std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "hold");
}
Result<JobView> JobService::Release(const Principal& who, const JobId& id,
                                    std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "release");
}
Result<JobView> JobService::Requeue(const Principal& who, const JobId& id,
                                    std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "requeue");
}

Result<JobView> JobService::Act(const Principal& who, const JobId& id,
                                std::optional<int64_t> if_match_version, std::string_view action) {
  HANGAR_ASSIGN_OR_RETURN(JobView current, Get(who, id));
  HANGAR_TRY(Authorize(who, "jobs:update", current.record));
  store::WorkloadRecord r;
  bool ring_node = false;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto loaded, store::GetWorkload(tx, who.org_id, id.str()));
    if (!loaded) return std::unexpected(Error::NotFound("job " + id.str() + " not found"));
    r = std::move(*loaded);
    if (if_match_version && *if_match_version != r.version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "job " + r.id + " changed since it was read")
              .Hint("read it again and retry with the new etag"));
    }
    Timestamp now = clock_.Now();
    std::string actor = who.ActorId();
    ring_node = false;
    if (action == "cancel") {
      switch (r.state) {
        case JobState::pending:
        case JobState::held:
          return FinishRun(tx, r, JobState::cancelled, "cancelled", "cancelled before it started",
                           now, actor);
        case JobState::scheduled:
        case JobState::running:
        case JobState::stopping:
          ring_node = true;
          return RequestStop(tx, r, "cancelled", "cancelled: stopping the run", now, actor);
        default:
          return std::unexpected(IllegalAction(r, action));
      }
    }
    if (action == "hold") {
      if (r.state == JobState::held) return Ok();
      if (r.state != JobState::pending) return std::unexpected(IllegalAction(r, action));
      return TransitionWorkload(tx, r, JobState::held, "held", "held: release it to queue it", now,
                                actor);
    }
    if (action == "release") {
      if (r.state == JobState::pending) return Ok();
      if (r.state != JobState::held) return std::unexpected(IllegalAction(r, action));
      return TransitionWorkload(tx, r, JobState::pending, "released", "released: queued", now,
                                actor);
    }
    // requeue
    if (r.state == JobState::scheduled || r.state == JobState::running) {
      ring_node = true;
      return RequestStop(tx, r, "requeued", "requeued: stopping the run", now, actor);
    }
    if (!IsFinished(r.state)) return std::unexpected(IllegalAction(r, action));
    r.exit_code.reset();
    r.signal.reset();
    r.failures = 0;
    r.finished_at.reset();
    return BackToQueue(tx, r, "requeued", "requeued by " + actor, now, actor);
  }));
  if (ring_node && r.node_id) signals_.Ring(r.node_id->str());
  wake_scheduler_();
  return ViewOf(std::move(r));
}

Result<std::vector<store::OutputRecord>> JobService::Output(const Principal& who, const JobId& id,
                                                            int64_t after, int64_t limit) {
  HANGAR_ASSIGN_OR_RETURN(JobView job, Get(who, id));
  std::vector<store::OutputRecord> out;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(out, store::ReadOutput(tx, who.org_id, id.str(), after, limit));
    return Ok();
  }));
  return out;
}

// ---- Agents ------------------------------------------------------------------------------------

Result<api::AssignmentList> JobService::Assignments(const Principal& who, const NodeId& node,
                                                    const std::string& known, Micros wait) {
  if (!who.IsNode(node)) {
    return std::unexpected(
        Error::PermissionDenied("only the node's own credential may read its assignments"));
  }
  wait = std::min(wait, options_.max_assignment_wait);
  auto read = [&]() -> Result<api::AssignmentList> {
    std::vector<store::WorkloadRecord> records;
    std::vector<store::SnapshotRecord> tasks;
    std::map<std::string, api::WorkspaceRestore> restores;  // instance id -> its snapshot
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      restores.clear();
      HANGAR_ASSIGN_OR_RETURN(records, store::ListNodeWorkloads(tx, who.org_id, node));
      HANGAR_ASSIGN_OR_RETURN(tasks, store::ListNodeSnapshotTasks(tx, who.org_id, node));
      for (const auto& r : records) {
        if (r.kind != "instance") continue;
        auto restore = SettingsOf(r).restore_snapshot;
        if (!restore) continue;
        HANGAR_ASSIGN_OR_RETURN(auto snap, store::GetSnapshot(tx, who.org_id, *restore));
        // The scheduler places an instance only once its snapshot is ready.
        if (snap && snap->state == api::SnapshotState::ready) {
          restores[r.id] = api::WorkspaceRestore{
              .snapshot_id = snap->id, .size_bytes = snap->size_bytes, .sha256 = snap->sha256};
        }
      }
      return Ok();
    }));
    api::AssignmentList list;
    for (const auto& t : tasks) {
      list.snapshots.push_back(api::SnapshotTask{.snapshot_id = t.id, .workspace = t.workspace});
    }
    for (const auto& r : records) {
      HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(r));
      api::Assignment a{.run_id = RunIdOf(r),
                        .workload_id = r.id,
                        .attempt = r.attempt,
                        .desired = r.desired,
                        .command = spec.command,
                        .environment = spec.environment.value_or(api::Labels{}),
                        .working_dir = spec.working_dir.value_or(""),
                        .gpu_indexes = r.gpu_indexes,
                        .stop_grace_seconds = spec.checkpoint_grace_seconds.value_or(10)};
      // What the workload asked for becomes its limits on the node; 0 means not asked.
      if (spec.resources) {
        if (spec.resources->cpu_milli.value_or(0) > 0) a.cpu_milli = spec.resources->cpu_milli;
        if (spec.resources->memory_mib.value_or(0) > 0) a.memory_mib = spec.resources->memory_mib;
      }
      if (r.kind == "instance") {
        // The session runs in the instance's workspace, kept on the node across runs.
        a.workspace = r.id;
        if (auto it = restores.find(r.id); it != restores.end()) a.restore = it->second;
        a.environment["HANGAR_INSTANCE_ID"] = r.id;
        a.environment["HANGAR_INSTANCE_NAME"] = r.name;
      } else {
        a.environment["HANGAR_JOB_ID"] = r.id;
        a.environment["HANGAR_JOB_NAME"] = r.name;
      }
      a.environment["HANGAR_PROJECT_ID"] = r.project_id.str();
      a.environment["HANGAR_ATTEMPT"] = std::to_string(r.attempt);
      if (r.array_id) {
        a.environment["HANGAR_ARRAY_ID"] = *r.array_id;
        a.environment["HANGAR_ARRAY_INDEX"] = std::to_string(r.array_index.value_or(0));
      }
      list.items.push_back(std::move(a));
    }
    list.revision =
        Sha256Hex(json::Serialize(list.items) + json::Serialize(list.snapshots)).substr(0, 16);
    return list;
  };
  uint64_t seen = signals_.Count(node.str());
  HANGAR_ASSIGN_OR_RETURN(auto list, read());
  if (known.empty() || list.revision != known || wait <= Micros(0)) return list;
  if (!signals_.WaitForChange(node.str(), seen, wait)) return list;
  return read();
}

Result<api::NodeReportAnswer> JobService::Report(const Principal& who, const NodeId& node,
                                                 const api::NodeReport& report) {
  if (!who.IsNode(node)) {
    return std::unexpected(
        Error::PermissionDenied("only the node's own credential may report its runs"));
  }
  Error invalid = Error::Invalid("the report is not valid");
  for (size_t i = 0; i < report.runs.size(); ++i) {
    const auto& run = report.runs[i];
    if (!ParseRunId(run.run_id)) {
      invalid.AddField("/runs/" + std::to_string(i) + "/run_id", "is not a run id");
    }
    if (run.state != "running" && run.state != "exited" && run.state != "lost") {
      invalid.AddField("/runs/" + std::to_string(i) + "/state", "must be running, exited or lost");
    }
  }
  for (size_t i = 0; i < report.output.size(); ++i) {
    const auto& out = report.output[i];
    std::string p = "/output/" + std::to_string(i);
    if (!ParseRunId(out.run_id)) invalid.AddField(p + "/run_id", "is not a run id");
    if (out.stream != "stdout" && out.stream != "stderr") {
      invalid.AddField(p + "/stream", "must be stdout or stderr");
    }
    if (out.offset < 0 || out.end < out.offset) {
      invalid.AddField(p + "/end", "offset and end must satisfy 0 <= offset <= end");
    }
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  api::NodeReportAnswer answer;
  bool freed = false;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    answer.forget.clear();
    freed = false;
    Timestamp now = clock_.Now();
    std::string actor = who.ActorId();
    // Output first, so a run's last lines are stored before its end is.
    for (const auto& out : report.output) {
      auto [id, attempt] = *ParseRunId(out.run_id);
      HANGAR_ASSIGN_OR_RETURN(auto r, store::GetWorkload(tx, who.org_id, id));
      // Only the node that ran the attempt may add to its output.
      bool ours = r && ((r->node_id == node && attempt == r->attempt) || attempt < r->attempt);
      if (!ours) continue;
      HANGAR_TRY(store::AppendOutput(tx, who.org_id,
                                     store::OutputRecord{.workload_id = id,
                                                         .attempt = attempt,
                                                         .stream = out.stream,
                                                         .byte_offset = out.offset,
                                                         .byte_end = out.end,
                                                         .text = SanitizeOutput(out.text),
                                                         .time = now}));
    }
    for (const auto& run : report.runs) {
      auto [id, attempt] = *ParseRunId(run.run_id);
      HANGAR_ASSIGN_OR_RETURN(auto r, store::GetWorkload(tx, who.org_id, id));
      bool current = r && r->node_id == node && r->attempt == attempt &&
                     (r->state == JobState::scheduled || r->state == JobState::running ||
                      r->state == JobState::stopping);
      if (!current) {
        // An old attempt, or one the server already moved on from: nothing to record.
        if (run.state != "running") answer.forget.push_back(run.run_id);
        continue;
      }
      if (run.state == "running") {
        if (r->state != JobState::scheduled) continue;
        r->started_at = OptParse(run.started_at).value_or(now);
        if (r->kind == "instance") StartLease(*r, node, now);
        HANGAR_TRY(TransitionWorkload(tx, *r, JobState::running, "started",
                                      "running on " + node.str(), now, actor));
        continue;
      }
      RunEnd end{.exit_code = run.exit_code,
                 .signal = run.signal,
                 .lost = run.state == "lost",
                 .message = run.message.value_or("the agent lost track of it")};
      if (!r->started_at) r->started_at = OptParse(run.started_at);
      if (r->kind == "instance") {
        HANGAR_TRY(EndInstanceRun(tx, *r, end, now, actor));
      } else {
        HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(*r));
        HANGAR_TRY(EndRun(tx, *r, spec, end, now, actor));
      }
      answer.forget.push_back(run.run_id);
      freed = true;
    }
    return Ok();
  }));
  if (freed) {
    signals_.Ring(node.str());
    wake_scheduler_();
  }
  if (output_bell_ != nullptr) output_bell_->RingReported(report);
  return answer;
}

// ---- Reconciler steps
// ----------------------------------------------------------------------------

Result<int> JobService::HandleLostNodes() {
  int changed = 0;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    changed = 0;
    HANGAR_ASSIGN_OR_RETURN(auto records, store::ListWorkloadsOnUnreachableNodes(tx));
    Timestamp now = clock_.Now();
    for (auto& r : records) {
      std::string node = r.node_id ? r.node_id->str() : "?";
      if (r.kind == "instance") {
        HANGAR_TRY(EndInstanceRun(
            tx, r, RunEnd{.lost = true, .message = "its node " + node + " stopped answering"}, now,
            ""));
        ++changed;
        continue;
      }
      HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(r));
      if (r.state == JobState::stopping && r.stop_reason == "cancelled") {
        HANGAR_TRY(FinishRun(tx, r, JobState::cancelled, "cancelled",
                             "cancelled; its node " + node + " stopped answering", now, ""));
      } else if (spec.on_node_loss.value_or(api::NodeLossPolicy::requeue) ==
                 api::NodeLossPolicy::fail) {
        HANGAR_TRY(FinishRun(tx, r, JobState::failed, "node_lost",
                             "its node " + node + " stopped answering (on_node_loss: fail)", now,
                             ""));
      } else {
        HANGAR_TRY(BackToQueue(tx, r, "node_lost",
                               "its node " + node + " stopped answering; requeued", now, ""));
      }
      ++changed;
    }
    return Ok();
  }));
  if (changed > 0) wake_scheduler_();
  return changed;
}

Result<int> JobService::EnforceTimeLimits() {
  Timestamp now = clock_.Now();
  std::vector<NodeId> nodes;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    nodes.clear();
    HANGAR_ASSIGN_OR_RETURN(auto records, store::ListRunningStartedBefore(tx, now));
    for (auto& r : records) {
      HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(r));
      if (!spec.time_limit_seconds || !r.started_at ||
          *r.started_at + std::chrono::seconds(*spec.time_limit_seconds) > now) {
        continue;
      }
      HANGAR_TRY(RequestStop(
          tx, r, "time_limit",
          "reached its time limit of " + std::to_string(*spec.time_limit_seconds) + " s: stopping",
          now, ""));
      if (r.node_id) nodes.push_back(*r.node_id);
    }
    return Ok();
  }));
  for (const auto& n : nodes) signals_.Ring(n.str());
  return static_cast<int>(nodes.size());
}

}  // namespace hangar::workloads
