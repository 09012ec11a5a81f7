#include "workloads/instance_service.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "common/json_codec.h"
#include "store/identity_repos.h"
#include "store/quota_repos.h"
#include "store/read_all.h"
#include "workloads/approval_service.h"
#include "workloads/job_spec.h"
#include "workloads/quota_service.h"
#include "workloads/reservation_service.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;
using State = store::WorkloadState;

constexpr std::string_view kSource = "/api/v1/instances";

ResourceScope ScopeOf(const store::WorkloadRecord& r) {
  return ResourceScope::Project(r.org_id, r.team_id, r.project_id);
}

std::string_view AllowedActions(State state) {
  switch (state) {
    case State::pending:
    case State::scheduled:
      return "stop, resize, snapshot, clone, terminate";
    case State::running:
      return "stop, resize, extend, snapshot, clone, migrate, terminate";
    case State::stopping:
      return "snapshot, clone, terminate";
    case State::awaiting_approval:
      return "terminate";
    case State::stopped:
    case State::failed:
      return "start, resize, snapshot, clone, terminate";
    default:
      return "none (it is terminated)";
  }
}

Error IllegalAction(const store::WorkloadRecord& r, std::string_view action) {
  std::string state(json::EnumName(r.state));
  return Error::Conflict("cannot " + std::string(action) + " instance " + r.id + ": it is " + state)
      .Hint("a " + state + " instance allows: " + std::string(AllowedActions(r.state)));
}

// Seconds as people read them in messages: "8 h", "90 min", "45 s".
std::string Span(Micros d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s >= 3600 && s % 3600 == 0) return std::to_string(s / 3600) + " h";
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + " min";
  return std::to_string(s) + " s";
}

// Adds a violation at /max_lifetime_seconds when `lifetime` is outside the allowed range.
void CheckLifetime(int64_t lifetime, const InstanceOptions& options, Error& e) {
  auto seconds = [](Micros d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
  };
  if (lifetime < seconds(options.min_lifetime) || lifetime > seconds(options.max_lease)) {
    e.AddField("/max_lifetime_seconds", "must be between " +
                                            std::to_string(seconds(options.min_lifetime)) +
                                            " and " + std::to_string(seconds(options.max_lease)));
  }
}

// The request checked and completed, and the run spec the scheduler and the agent use.
struct NormalizedInstance {
  api::CreateInstanceRequest request;
  api::SubmitJobRequest run;
  api::InstanceSettings settings;
};

Result<NormalizedInstance> Normalize(api::CreateInstanceRequest r, Timestamp now,
                                     const InstanceOptions& options) {
  Error e = Error::Invalid("the instance is not valid");
  auto seconds = [](Micros d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
  };
  int64_t lifetime = r.max_lifetime_seconds.value_or(seconds(options.default_lifetime));
  CheckLifetime(lifetime, options, e);
  r.max_lifetime_seconds = lifetime;
  if (!r.command) r.command = std::vector<std::string>{"sleep", "infinity"};
  if (r.resources && r.resources->gpus && *r.resources->gpus == 0) {
    e.AddField("/resources/gpus", "an instance needs at least one GPU");
  }
  if (!r.preemption) r.preemption = api::PreemptionPolicy::never;

  api::SubmitJobRequest run{.project = r.project,
                            .name = r.name,
                            .command = *r.command,
                            .environment = r.environment,
                            .resources = r.resources,
                            .node_selector = r.node_selector,
                            .priority_class = r.priority_class,
                            .start_after = r.start_after,
                            .preemption = r.preemption,
                            .on_node_loss = api::NodeLossPolicy::requeue,
                            .reservation = r.reservation,
                            .tolerations = r.tolerations};
  auto normalized = NormalizeJobRequest(std::move(run), now);
  if (!normalized) {
    for (const auto& v : normalized.error().violations()) e.AddField(v.pointer, v.detail);
  }
  if (!e.violations().empty()) return std::unexpected(std::move(e));
  run = std::move(*normalized);
  if (!r.name) {
    const auto& res = *run.resources;
    run.name = res.gpu_type.value_or("gpu") + "x" + std::to_string(*res.gpus);
  }
  r.name = run.name;
  r.resources = run.resources;
  r.environment = run.environment;
  r.node_selector = run.node_selector;
  r.tolerations = run.tolerations;
  r.priority_class = run.priority_class;
  r.start_after = run.start_after;
  return NormalizedInstance{.request = std::move(r),
                            .run = std::move(run),
                            .settings = {.max_lifetime_seconds = lifetime}};
}

Status AppendInstanceEvent(store::Tx& tx, const store::WorkloadRecord& r, std::string type,
                           Timestamp now, const std::string& actor) {
  FakeClock at(now);
  return store::AppendEvent(tx,
                            store::EventRecord{.id = EventId::Generate(at),
                                               .org_id = r.org_id,
                                               .type = std::move(type),
                                               .source = std::string(kSource),
                                               .subject = r.id,
                                               .time = now,
                                               .data_json = json::Serialize(ToApiInstance(r, now)),
                                               .actor = actor});
}

// Writes a change that is not a change of state (extend, resize, a warning), with its event.
Status Save(store::Tx& tx, store::WorkloadRecord& r, std::string event_type, Timestamp now,
            const std::string& actor) {
  r.updated_at = now;
  HANGAR_TRY(store::UpdateWorkload(tx, r));
  ++r.version;
  return AppendInstanceEvent(tx, r, std::move(event_type), now, actor);
}

// ---- The estimate ----

struct GpuMatch {
  int64_t free = 0;
  int64_t total = 0;
  std::vector<int64_t> prices;      // of the matching GPUs, cheapest first
  std::vector<Timestamp> frees_at;  // when busy matching GPUs are expected back, soonest first
};

bool LabelsMatch(const api::Labels& have, const api::Labels& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

// Whether GPU `g` is of the kind `res` asks for (type, memory, CUDA version) and ready.
// `min_cuda` is res.min_cuda_version parsed (0: none).
bool GpuMatches(const store::GpuRecord& g, const api::JobResources& res, int32_t min_cuda) {
  std::string type = g.gpu_type_name.empty() ? g.product_name : g.gpu_type_name;
  if (res.gpu_type && type != *res.gpu_type) return false;
  if (g.memory_mib < res.min_gpu_memory_mib.value_or(0)) return false;
  if (min_cuda > 0 && ParseCudaVersion(g.cuda_version).value_or(0) < min_cuda) return false;
  return g.state == api::GpuState::ready;
}

// When a workload holding GPUs is expected to give them back: a job at its time limit, an
// instance at its lease's end; nullopt when nothing bounds it.
std::optional<Timestamp> ExpectedEnd(const store::WorkloadRecord& w) {
  if (w.kind == "instance") return w.expires_at;
  auto spec = SpecOf(w);
  if (!spec || !spec->time_limit_seconds) return std::nullopt;
  Timestamp from = w.started_at.value_or(w.scheduled_at.value_or(w.created_at));
  return from + std::chrono::seconds(*spec->time_limit_seconds);
}

// The most the request's GPUs can cost per hour from the catalogue: its type's price, or the
// dearest type's when it names none (what an approval policy is checked against).
Result<int64_t> MaxHourlyPrice(store::Tx& tx, const OrgId& org, const api::JobResources& res) {
  HANGAR_ASSIGN_OR_RETURN(auto types,
                          store::ReadAll<store::GpuTypeRecord>(tx, org, store::ListGpuTypes));
  int64_t per_gpu = 0;
  for (const auto& t : types) {
    if (!res.gpu_type || t.name == *res.gpu_type)
      per_gpu = std::max(per_gpu, t.hourly_price_micros);
  }
  return static_cast<int64_t>(static_cast<__int128>(per_gpu) * res.gpus.value_or(1) *
                              res.gpu_milli.value_or(1000) / 1000);
}

// ---- Snapshots ----

// Snapshot names: what people type on the command line, unique in the project.
bool ValidSnapshotName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

// A snapshot of `r`'s workspace for its node's agent to take, recorded in `tx` with its event.
Result<store::SnapshotRecord> NewSnapshot(store::Tx& tx, const store::WorkloadRecord& r,
                                          std::optional<std::string> name, std::string purpose,
                                          const Clock& clock, const std::string& actor) {
  Timestamp now = clock.Now();
  auto settings = SettingsOf(r);
  if (r.state == State::terminated || !settings.workspace_node) {
    return std::unexpected(
        Error::Conflict("instance " + r.id + " has no workspace to snapshot: " +
                        (r.state == State::terminated ? "it is terminated" : "it never ran"))
            .Hint("snapshot an instance once it has run"));
  }
  SnapshotId id = SnapshotId::Generate(clock);
  if (!name) name = r.name + "-" + id.str().substr(id.str().size() - 6);
  store::SnapshotRecord snap{.id = id.str(),
                             .org_id = r.org_id,
                             .project_id = r.project_id,
                             .team_id = r.team_id,
                             .name = *name,
                             .instance_id = r.id,
                             .node_id = NodeId::FromTrusted(*settings.workspace_node),
                             .workspace = r.id,
                             .purpose = std::move(purpose),
                             .state = api::SnapshotState::pending,
                             .state_message = "waiting for " + *settings.workspace_node +
                                              " to archive and upload the workspace",
                             .created_by = actor,
                             .created_at = now,
                             .updated_at = now};
  if (auto inserted = store::InsertSnapshot(tx, snap); !inserted) {
    if (inserted.error().code() == ErrorCode::kAlreadyExists) {
      return std::unexpected(Error::Conflict("the project already has a snapshot named " + *name)
                                 .Field("/name", "is already used in the project")
                                 .Hint("choose another name, or delete the old snapshot"));
    }
    return std::unexpected(inserted.error());
  }
  HANGAR_TRY(AppendSnapshotEvent(tx, snap, "hangar.snapshot.created", now, actor));
  return snap;
}

// The nodes other than `except` that could take `spec` now: schedulable, matching its
// selector, with enough free GPUs of the kind it asks for. Most free first.
std::vector<std::pair<std::string, int64_t>> NodesWithRoom(
    const std::vector<store::NodeRecord>& nodes, const std::vector<store::GpuRecord>& gpus,
    const std::vector<store::WorkloadRecord>& active, const api::SubmitJobRequest& spec,
    const std::string& except) {
  const api::JobResources res = spec.resources.value_or(api::JobResources{});
  int32_t min_cuda = res.min_cuda_version ? ParseCudaVersion(*res.min_cuda_version).value_or(0) : 0;
  std::set<std::string> held;  // "node/index"
  for (const auto& w : active) {
    if (!store::HoldsGpus(w.state) || !w.node_id) continue;
    for (int64_t g : w.gpu_indexes) held.insert(w.node_id->str() + "/" + std::to_string(g));
  }
  std::map<std::string, int64_t> free;
  for (const auto& g : gpus) {
    if (!GpuMatches(g, res, min_cuda)) continue;
    if (held.contains(g.node_id.str() + "/" + std::to_string(g.index))) continue;
    ++free[g.node_id.str()];
  }
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& n : nodes) {
    bool schedulable =
        n.state == api::NodeState::ready && !n.cordoned &&
        LabelsMatch(n.labels, spec.node_selector.value_or(api::Labels{})) &&
        api::ToleratesAll(spec.tolerations.value_or(std::vector<api::Toleration>{}), n.taints);
    int64_t room = free[n.id.str()];
    if (schedulable && n.id.str() != except && room >= res.gpus.value_or(1)) {
      out.emplace_back(n.id.str(), room);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace

// ---- Shared with the agents' reports -------------------------------------------------------

Status AppendSnapshotEvent(store::Tx& tx, const store::SnapshotRecord& snapshot, std::string type,
                           Timestamp now, const std::string& actor) {
  FakeClock at(now);
  return store::AppendEvent(
      tx, store::EventRecord{.id = EventId::Generate(at),
                             .org_id = snapshot.org_id,
                             .type = std::move(type),
                             .source = "/api/v1/snapshots",
                             .subject = snapshot.id,
                             .time = now,
                             .data_json = json::Serialize(ToApiSnapshot(snapshot)),
                             .actor = actor});
}

Status AfterSnapshotReady(store::Tx& tx, const store::SnapshotRecord& snapshot, Timestamp now,
                          const std::string& actor, std::vector<NodeId>& ring) {
  HANGAR_ASSIGN_OR_RETURN(auto loaded,
                          store::GetWorkload(tx, snapshot.org_id, snapshot.instance_id));
  if (!loaded) return Ok();
  store::WorkloadRecord& r = *loaded;
  api::InstanceSettings settings = SettingsOf(r);
  if (settings.migration_snapshot != snapshot.id) return Ok();
  std::string target = settings.migration_node.value_or("");
  settings.migration_snapshot.reset();
  settings.migration_node.reset();
  if (r.state != State::scheduled && r.state != State::running) {
    // Stopped (or terminated) meanwhile: nothing left to move; the snapshot stays.
    r.settings_json = json::Serialize(settings);
    return Save(tx, r, "hangar.instance.migration_abandoned", now, actor);
  }
  settings.restore_snapshot = snapshot.id;
  settings.pinned_node = target;
  r.settings_json = json::Serialize(settings);
  if (r.node_id) ring.push_back(*r.node_id);
  return RequestStop(tx, r, "migrate",
                     "migrating to " + target + ": snapshot " + snapshot.id +
                         " is saved; stopping the session here to restore it there",
                     now, actor);
}

Status AfterSnapshotFailed(store::Tx& tx, const store::SnapshotRecord& snapshot, Timestamp now,
                           const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto active, store::ListOrgActiveWorkloads(tx, snapshot.org_id));
  for (auto& r : active) {
    if (r.kind != "instance") continue;
    api::InstanceSettings settings = SettingsOf(r);
    if (settings.migration_snapshot == snapshot.id) {
      settings.migration_snapshot.reset();
      settings.migration_node.reset();
      r.settings_json = json::Serialize(settings);
      r.state_reason = "migration_failed";
      r.state_message = "the migration failed (" + snapshot.state_message +
                        "); it keeps running on " + (r.node_id ? r.node_id->str() : "its node");
      HANGAR_TRY(Save(tx, r, "hangar.instance.migration_failed", now, actor));
    } else if (settings.restore_snapshot == snapshot.id && r.state == State::pending) {
      HANGAR_TRY(FinishRun(
          tx, r, State::failed, "restore_failed",
          "snapshot " + snapshot.id + " it was to start from failed: " + snapshot.state_message,
          now, actor));
    }
  }
  return Ok();
}

void StartLease(store::WorkloadRecord& r, const NodeId& node, Timestamp now) {
  api::InstanceSettings settings = SettingsOf(r);
  r.expires_at = now + std::chrono::seconds(settings.max_lifetime_seconds);
  r.expiry_warned_at.reset();
  settings.workspace_node = node.str();
  settings.restore_snapshot.reset();
  settings.pinned_node.reset();
  r.settings_json = json::Serialize(settings);
}

Status EndInstanceRun(store::Tx& tx, store::WorkloadRecord& r, const RunEnd& end, Timestamp now,
                      const std::string& actor) {
  r.exit_code = end.exit_code;
  r.signal = end.signal;
  std::string how =
      end.lost ? "was lost (" + end.message + ")" : DescribeExit(end.exit_code, end.signal);
  if (r.state == State::stopping) {
    const std::string& why = r.stop_reason;
    if (why == "terminate") {
      return FinishRun(tx, r, State::terminated, "terminated", "terminated; the session " + how,
                       now, actor);
    }
    if (why == "stop" || why == "lease_expired") {
      return FinishRun(
          tx, r, State::stopped, why,
          (why == "stop" ? std::string("stopped") : "stopped at the end of its lease") +
              "; the session " + how + ". Start it again when needed",
          now, actor);
    }
    if (why == "migrate") {
      return BackToQueue(tx, r, "migrating",
                         "migrating to " + SettingsOf(r).pinned_node.value_or("another node") +
                             ": the session " + how + "; placing it there",
                         now, actor);
    }
    std::string reason = why.empty() ? "requeued" : (why == "resize" ? "resized" : why);
    return BackToQueue(tx, r, reason, reason + ": the session " + how + "; placing it again", now,
                       actor);
  }
  if (end.lost) {
    return BackToQueue(tx, r, "node_lost",
                       "the session " + how +
                           "; placing it again (the workspace on that node "
                           "is not reachable)",
                       now, actor);
  }
  if (end.exit_code && *end.exit_code == 0 && !end.signal) {
    return FinishRun(tx, r, State::stopped, "session_ended",
                     "the session exited with code 0; start it again when needed", now, actor);
  }
  return FinishRun(tx, r, State::failed, "session_failed",
                   "the session " + how + "; start it again when needed", now, actor);
}

// ---- InstanceService -------------------------------------------------------------------------

InstanceService::InstanceService(store::Store& store, const Clock& clock,
                                 identity::Authorizer& authorizer, NodeSignals& signals,
                                 const QueueBoard& board, std::function<void()> wake_scheduler,
                                 InstanceOptions options)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      signals_(signals),
      board_(board),
      wake_scheduler_(std::move(wake_scheduler)),
      options_(options) {}

InstanceView InstanceService::ViewOf(store::WorkloadRecord record) const {
  InstanceView view;
  if (record.state == State::pending) view.queue = board_.Find(record.org_id.str(), record.id);
  view.record = std::move(record);
  return view;
}

Status InstanceService::Authorize(const Principal& who, std::string_view permission,
                                  const store::WorkloadRecord& record) {
  return authorizer_.RequireOnObject(who, permission, "instances:read", ScopeOf(record),
                                     Error::NotFound("instance " + record.id + " not found"));
}

Result<InstanceView> InstanceService::Create(const Principal& who,
                                             const api::CreateInstanceRequest& request) {
  Timestamp now = clock_.Now();
  HANGAR_ASSIGN_OR_RETURN(auto n, Normalize(request, now, options_));
  auto unknown_project = [&] {
    return Error::Invalid("the instance is not valid")
        .Field("/project", "no project with that id or name")
        .Hint("list the projects you can use: hangar projects list");
  };
  std::optional<store::ProjectRecord> project;
  Error invalid = Error::Invalid("the instance is not valid");
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::FindProject(tx, who.org_id, n.run.project));
    if (n.run.resources->gpu_type) {
      store::ListQuery q{.equals = {{"name", *n.run.resources->gpu_type}}, .limit = 1};
      HANGAR_ASSIGN_OR_RETURN(auto types, store::ListGpuTypes(tx, who.org_id, q));
      if (types.items.empty()) {
        invalid.AddField("/resources/gpu_type", "no GPU type of that name in the catalogue");
      }
    }
    return Ok();
  }));
  if (!project) return std::unexpected(unknown_project());
  HANGAR_TRY(authorizer_.RequireOnObject(
      who, "instances:create", "projects:read",
      ResourceScope::Project(who.org_id, project->team_id, project->id), unknown_project()));
  if (request.snapshot) {
    // The workspace starts as the snapshot's: one of the same project, not failed.
    std::optional<store::SnapshotRecord> snap;
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(snap, store::GetSnapshot(tx, who.org_id, *request.snapshot));
      if (!snap) {
        HANGAR_ASSIGN_OR_RETURN(
            snap, store::FindSnapshotByName(tx, who.org_id, project->id, *request.snapshot));
      }
      return Ok();
    }));
    if (!snap || snap->project_id != project->id) {
      invalid.AddField("/snapshot", "no snapshot of that id or name in the project");
    } else if (snap->state == api::SnapshotState::failed) {
      invalid.AddField("/snapshot", "that snapshot failed: " + snap->state_message);
    } else {
      n.settings.restore_snapshot = snap->id;
    }
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  n.run.project = project->id.str();
  int64_t price = 0;  // what an approval policy is checked against
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_TRY(CheckReservationUse(tx, who.org_id, project->id, n.run, now));
    HANGAR_TRY(CheckRequestFitsQuota(tx, who.org_id, project->team_id, project->id, project->name,
                                     *n.run.resources->gpus * *n.run.resources->gpu_milli));
    HANGAR_ASSIGN_OR_RETURN(price, MaxHourlyPrice(tx, who.org_id, *n.run.resources));
    return Ok();
  }));

  store::WorkloadRecord r{.id = InstanceId::Generate(clock_).str(),
                          .org_id = who.org_id,
                          .kind = "instance",
                          .project_id = project->id,
                          .team_id = project->team_id,
                          .name = *n.run.name,
                          .state = State::pending,
                          .priority_class = *n.run.priority_class,
                          .spec_json = json::Serialize(n.run),
                          .state_reason = "created",
                          .state_message = "queued for placement",
                          .created_by = who.ActorId(),
                          .settings_json = json::Serialize(n.settings),
                          .created_at = now,
                          .updated_at = now};
  const store::WorkloadRecord as_asked = r;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    r = as_asked;
    // A request over the project's approval policy waits for a person's decision.
    HANGAR_TRY(
        RequestApprovalIfNeeded(tx, r, *n.run.resources->gpus, price, clock_, who.ActorId()));
    HANGAR_TRY(store::InsertWorkload(tx, r));
    return AppendInstanceEvent(tx, r, "hangar.instance.created", now, who.ActorId());
  }));
  wake_scheduler_();
  return InstanceView{.record = std::move(r)};
}

Result<api::InstanceEstimate> InstanceService::Estimate(const Principal& who,
                                                        const api::CreateInstanceRequest& request) {
  Timestamp now = clock_.Now();
  HANGAR_ASSIGN_OR_RETURN(auto n, Normalize(request, now, options_));
  const api::JobResources& res = *n.run.resources;
  api::InstanceEstimate out;
  std::optional<store::ProjectRecord> project;
  std::vector<store::NodeRecord> nodes;
  std::vector<store::GpuRecord> gpus;
  std::vector<store::GpuTypeRecord> types;
  std::map<std::string, std::vector<store::WorkloadRecord>> placed;  // node -> its workloads
  std::vector<store::WorkloadRecord> active;                         // the organisation's
  std::vector<store::QuotaRecord> quotas;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::FindProject(tx, who.org_id, n.run.project));
    HANGAR_ASSIGN_OR_RETURN(active, store::ListOrgActiveWorkloads(tx, who.org_id));
    HANGAR_ASSIGN_OR_RETURN(quotas, store::ListQuotas(tx, who.org_id));
    HANGAR_ASSIGN_OR_RETURN(nodes,
                            store::ReadAll<store::NodeRecord>(tx, who.org_id, store::ListNodes));
    HANGAR_ASSIGN_OR_RETURN(gpus,
                            store::ReadAll<store::GpuRecord>(tx, who.org_id, store::ListGpus));
    HANGAR_ASSIGN_OR_RETURN(
        types, store::ReadAll<store::GpuTypeRecord>(tx, who.org_id, store::ListGpuTypes));
    return Ok();
  }));
  // What holds GPUs, by node: the active workloads already read, not one query per node.
  for (const auto& w : active) {
    if (store::HoldsGpus(w.state) && w.node_id) placed[w.node_id->str()].push_back(w);
  }
  auto unknown_project = [&] {
    return Error::Invalid("the instance is not valid")
        .Field("/project", "no project with that id or name")
        .Hint("list the projects you can use: hangar projects list");
  };
  if (!project) return std::unexpected(unknown_project());
  HANGAR_TRY(authorizer_.RequireOnObject(
      who, "instances:create", "projects:read",
      ResourceScope::Project(who.org_id, project->team_id, project->id), unknown_project()));
  std::map<std::string, const store::GpuTypeRecord*> type_by_name;
  for (const auto& t : types) type_by_name[t.name] = &t;
  if (res.gpu_type && !type_by_name.contains(*res.gpu_type)) {
    return std::unexpected(
        Error::Invalid("the instance is not valid")
            .Field("/resources/gpu_type", "no GPU type of that name in the catalogue"));
  }
  n.request.project = project->id.str();
  out.request = n.request;

  int32_t min_cuda = res.min_cuda_version ? ParseCudaVersion(*res.min_cuda_version).value_or(0) : 0;
  std::map<std::string, GpuMatch> by_node;
  for (const auto& g : gpus) {
    if (!GpuMatches(g, res, min_cuda)) continue;
    std::string type = g.gpu_type_name.empty() ? g.product_name : g.gpu_type_name;
    GpuMatch& m = by_node[g.node_id.str()];
    ++m.total;
    auto it = type_by_name.find(type);
    m.prices.push_back(it == type_by_name.end() ? 0 : it->second->hourly_price_micros);
    if (it != type_by_name.end() && out.currency.empty()) out.currency = it->second->currency;
    // Held by a workload (a share counts as held: an instance wants whole GPUs). It comes back
    // when the last holder ends, if every holder has an end.
    bool busy = false;
    bool bounded = true;
    Timestamp back{};
    for (const auto& w : placed[g.node_id.str()]) {
      if (std::find(w.gpu_indexes.begin(), w.gpu_indexes.end(), g.index) == w.gpu_indexes.end()) {
        continue;
      }
      busy = true;
      if (auto end = ExpectedEnd(w)) {
        back = std::max(back, *end);
      } else {
        bounded = false;
      }
    }
    if (!busy) {
      ++m.free;
    } else if (bounded) {
      m.frees_at.push_back(back);
    }
  }

  int64_t want = *res.gpus;
  int64_t best_price = std::numeric_limits<int64_t>::max();
  std::optional<Timestamp> earliest;
  for (const auto& node : nodes) {
    bool schedulable =
        node.state == api::NodeState::ready && !node.cordoned &&
        LabelsMatch(node.labels, *n.run.node_selector) &&
        api::ToleratesAll(n.run.tolerations.value_or(std::vector<api::Toleration>{}), node.taints);
    auto it = by_node.find(node.id.str());
    if (!schedulable || it == by_node.end() || it->second.total < want) continue;
    GpuMatch& m = it->second;
    ++out.matching_nodes;
    std::sort(m.prices.begin(), m.prices.end());
    int64_t price = 0;
    for (int64_t i = 0; i < want; ++i) price += m.prices[static_cast<size_t>(i)];
    best_price = std::min(best_price, price);
    if (m.free >= want) {
      out.available_now = true;
      earliest = now;
      continue;
    }
    std::sort(m.frees_at.begin(), m.frees_at.end());
    size_t needed = static_cast<size_t>(want - m.free);
    if (m.frees_at.size() >= needed) {
      Timestamp at = m.frees_at[needed - 1];
      if (!earliest || at < *earliest) earliest = at;
    }
  }
  out.feasible = out.matching_nodes > 0;
  if (out.feasible) {
    out.hourly_price_micros = best_price;
    out.lifetime_cost_micros = static_cast<int64_t>(static_cast<__int128>(best_price) *
                                                    n.settings.max_lifetime_seconds / 3600);
  }
  std::string wanted = std::to_string(want) + " " + res.gpu_type.value_or("GPU") +
                       (want > 1 ? "s" : "") + " on one node";
  if (!out.feasible) {
    out.blocked_by.push_back(
        {.code = "no_matching_gpus",
         .message = "no schedulable node has " + wanted +
                    " matching the request (type, memory, CUDA version, node selector)"});
  } else if (!out.available_now) {
    out.blocked_by.push_back(
        {.code = "insufficient_gpus",
         .message = "every node with " + wanted + " is busy" +
                    (earliest ? "; the soonest frees up when running work reaches its end"
                              : "; the work holding them has no end time, so no start can be "
                                "predicted")});
  }
  // Quotas: a limit the request exceeds on its own refuses it; one the current use leaves no
  // room under makes it wait.
  int64_t want_milli = want * *res.gpu_milli;
  for (const auto& q : quotas) {
    bool ours = q.scope_id == project->id.str() || q.scope_id == project->team_id.str();
    if (!ours || !q.gpu_limit) continue;
    int64_t used = 0;
    for (const auto& w : active) {
      bool in_scope = w.project_id.str() == q.scope_id || w.team_id.str() == q.scope_id;
      if (in_scope && store::HoldsGpus(w.state)) used += WorkloadMilliGpus(w);
    }
    std::string limit = std::to_string(*q.gpu_limit);
    if (want_milli > *q.gpu_limit * 1000) {
      out.blocked_by.push_back(
          {.code = "quota_limit",
           .message = "the request exceeds the GPU limit of " + q.scope_id + " (" + limit +
                      " GPUs): creating it would be refused; ask an administrator to raise it"});
      out.available_now = false;
      earliest.reset();
    } else if (used + want_milli > *q.gpu_limit * 1000) {
      out.blocked_by.push_back({.code = "quota_exceeded",
                                .message = q.scope_id + " uses " + std::to_string(used / 1000) +
                                           " of its " + limit +
                                           " GPUs: it would wait until some are released"});
      out.available_now = false;
      earliest.reset();  // when the project's own work ends is not predicted here
    }
  }
  if (n.run.start_after) {
    Timestamp not_before = *ParseRfc3339(*n.run.start_after);
    if (not_before > now) {
      out.blocked_by.push_back(
          {.code = "start_after", .message = "asked not to start before " + *n.run.start_after});
      if (earliest) earliest = std::max(*earliest, not_before);
    }
  }
  if (out.feasible && earliest) {
    out.expected_start = FormatRfc3339(*earliest);
    out.expected_wait_seconds = std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(*earliest - now).count());
  }
  return out;
}

Result<InstanceView> InstanceService::Get(const Principal& who, const InstanceId& id) {
  std::optional<store::WorkloadRecord> record;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::GetWorkload(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!record || record->kind != "instance") {
    return std::unexpected(Error::NotFound("instance " + id.str() + " not found"));
  }
  HANGAR_TRY(Authorize(who, "instances:read", *record));
  return ViewOf(std::move(*record));
}

Result<store::Page<InstanceView>> InstanceService::List(const Principal& who,
                                                        const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "instances:read"));
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission instances:read is required")
            .Hint("ask an administrator for a role that includes instances:read"));
  }
  store::Page<store::WorkloadRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListInstances(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<InstanceView> out{.next_page_token = page.next_page_token};
  for (auto& r : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "instances:read", ScopeOf(r)));
    if (d.allowed) out.items.push_back(ViewOf(std::move(r)));
  }
  return out;
}

Result<InstanceView> InstanceService::Act(const Principal& who, const InstanceId& id,
                                          std::optional<int64_t> if_match_version,
                                          std::string_view permission, const Change& change) {
  HANGAR_ASSIGN_OR_RETURN(InstanceView current, Get(who, id));
  HANGAR_TRY(Authorize(who, permission, current.record));
  store::WorkloadRecord r;
  bool ring_node = false;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto loaded, store::GetWorkload(tx, who.org_id, id.str()));
    if (!loaded) return std::unexpected(Error::NotFound("instance " + id.str() + " not found"));
    r = std::move(*loaded);
    if (if_match_version && *if_match_version != r.version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "instance " + r.id + " changed since it was read")
              .Hint("read it again and retry with the new etag"));
    }
    ring_node = false;
    return change(tx, r, clock_.Now(), who.ActorId(), ring_node);
  }));
  if (ring_node && r.node_id) signals_.Ring(r.node_id->str());
  wake_scheduler_();
  return ViewOf(std::move(r));
}

Result<InstanceView> InstanceService::Start(const Principal& who, const InstanceId& id,
                                            std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "instances:update",
             [](store::Tx& tx, store::WorkloadRecord& r, Timestamp now, const std::string& actor,
                bool&) -> Status {
               switch (r.state) {
                 case State::pending:
                 case State::scheduled:
                 case State::running:
                   return Ok();  // already started
                 case State::stopped:
                 case State::failed:
                   r.finished_at.reset();
                   r.exit_code.reset();
                   r.signal.reset();
                   return BackToQueue(tx, r, "started", "start requested by " + actor + ": queued",
                                      now, actor);
                 default:
                   return std::unexpected(IllegalAction(r, "start"));
               }
             });
}

Result<InstanceView> InstanceService::Stop(const Principal& who, const InstanceId& id,
                                           std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "instances:update",
             [](store::Tx& tx, store::WorkloadRecord& r, Timestamp now, const std::string& actor,
                bool& ring) -> Status {
               switch (r.state) {
                 case State::stopped:
                   return Ok();
                 case State::pending:
                   return FinishRun(tx, r, State::stopped, "stop", "stopped before it was placed",
                                    now, actor);
                 case State::scheduled:
                 case State::running:
                   ring = true;
                   return RequestStop(tx, r, "stop",
                                      "stopping: the session gets SIGTERM, then SIGKILL after "
                                      "its grace period; the workspace is kept",
                                      now, actor);
                 case State::stopping:
                   if (r.stop_reason == "stop" || r.stop_reason == "lease_expired") return Ok();
                   [[fallthrough]];
                 default:
                   return std::unexpected(IllegalAction(r, "stop"));
               }
             });
}

Result<InstanceView> InstanceService::Terminate(const Principal& who, const InstanceId& id,
                                                std::optional<int64_t> if_match_version) {
  return Act(
      who, id, if_match_version, "instances:delete",
      [](store::Tx& tx, store::WorkloadRecord& r, Timestamp now, const std::string& actor,
         bool& ring) -> Status {
        switch (r.state) {
          case State::terminated:
            return Ok();
          case State::scheduled:
          case State::running:
          case State::stopping:
            ring = true;
            return RequestStop(tx, r, "terminate", "terminating: stopping the session", now, actor);
          case State::awaiting_approval:
            HANGAR_TRY(CancelApprovalsOf(tx, r.org_id, r.id, now, actor));
            return FinishRun(tx, r, State::terminated, "terminated",
                             "terminated by " + actor + " before it was approved", now, actor);
          default:
            return FinishRun(tx, r, State::terminated, "terminated", "terminated by " + actor, now,
                             actor);
        }
      });
}

Result<InstanceView> InstanceService::Extend(const Principal& who, const InstanceId& id,
                                             const api::ExtendInstanceRequest& request,
                                             std::optional<int64_t> if_match_version) {
  const Micros max_lease = options_.max_lease;
  return Act(
      who, id, if_match_version, "instances:update",
      [&request, max_lease](store::Tx& tx, store::WorkloadRecord& r, Timestamp now,
                            const std::string& actor, bool&) -> Status {
        if (r.state != State::running || !r.expires_at) {
          return std::unexpected(IllegalAction(r, "extend"));
        }
        auto max_seconds = std::chrono::duration_cast<std::chrono::seconds>(max_lease).count();
        if (request.seconds < 60 || request.seconds > max_seconds) {
          return std::unexpected(
              Error::Invalid("the extension is not valid")
                  .Field("/seconds", "must be between 60 and " + std::to_string(max_seconds)));
        }
        Timestamp until = *r.expires_at + std::chrono::seconds(request.seconds);
        Timestamp started = r.started_at.value_or(now);
        if (until - started > max_lease) {
          return std::unexpected(
              Error::Invalid("the extension is not valid")
                  .Field("/seconds", "a lease may last at most " + Span(max_lease) +
                                         " from its start; at most " +
                                         std::to_string(std::max<int64_t>(
                                             0, std::chrono::duration_cast<std::chrono::seconds>(
                                                    started + max_lease - *r.expires_at)
                                                    .count())) +
                                         " more seconds are allowed")
                  .Hint("stop and start the instance for a new lease"));
        }
        r.expires_at = until;
        r.expiry_warned_at.reset();
        return Save(tx, r, "hangar.instance.extended", now, actor);
      });
}

Result<InstanceView> InstanceService::Resize(const Principal& who, const InstanceId& id,
                                             const api::ResizeInstanceRequest& request,
                                             std::optional<int64_t> if_match_version) {
  return Act(who, id, if_match_version, "instances:update",
             [&request](store::Tx& tx, store::WorkloadRecord& r, Timestamp now,
                        const std::string& actor, bool& ring) -> Status {
               if (r.state == State::terminated || r.state == State::stopping ||
                   r.state == State::awaiting_approval) {
                 return std::unexpected(IllegalAction(r, "resize"));
               }
               HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(r));
               api::JobResources res = spec.resources.value_or(api::JobResources{});
               if (request.gpus < 1 || request.gpus > kMaxGpusPerJob) {
                 return std::unexpected(Error::Invalid("the resize is not valid")
                                            .Field("/gpus", "must be between 1 and " +
                                                                std::to_string(kMaxGpusPerJob)));
               }
               if (res.gpu_milli.value_or(1000) < 1000 && request.gpus != 1) {
                 return std::unexpected(Error::Invalid("the resize is not valid")
                                            .Field("/gpus",
                                                   "the instance has a share of one GPU; "
                                                   "a share needs gpus = 1"));
               }
               if (res.gpus.value_or(1) == request.gpus) return Ok();
               std::string from = std::to_string(res.gpus.value_or(1));
               res.gpus = request.gpus;
               spec.resources = res;
               r.spec_json = json::Serialize(spec);
               std::string to = std::to_string(request.gpus);
               if (r.state == State::scheduled || r.state == State::running) {
                 ring = true;
                 return RequestStop(tx, r, "resize",
                                    "resizing from " + from + " to " + to +
                                        " GPUs: stopping the session to place it again",
                                    now, actor);
               }
               // Not placed: the next placement uses the new size.
               r.state_message = "resized from " + from + " to " + to + " GPUs; " + r.state_message;
               return Save(tx, r, "hangar.instance.resized", now, actor);
             });
}

Result<store::SnapshotRecord> InstanceService::Snapshot(const Principal& who, const InstanceId& id,
                                                        const api::CreateSnapshotRequest& request) {
  if (request.name && !ValidSnapshotName(*request.name)) {
    return std::unexpected(Error::Invalid("the snapshot is not valid")
                               .Field("/name", "must be 1..63 letters, digits, '-', '_' or '.'"));
  }
  HANGAR_ASSIGN_OR_RETURN(InstanceView current, Get(who, id));
  HANGAR_TRY(Authorize(who, "instances:update", current.record));
  store::SnapshotRecord snap;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto r, store::GetWorkload(tx, who.org_id, id.str()));
    if (!r) return std::unexpected(Error::NotFound("instance " + id.str() + " not found"));
    HANGAR_ASSIGN_OR_RETURN(snap, NewSnapshot(tx, *r, request.name, "user", clock_, who.ActorId()));
    return Ok();
  }));
  signals_.Ring(snap.node_id.str());
  return snap;
}

Result<InstanceView> InstanceService::Clone(const Principal& who, const InstanceId& id,
                                            const api::CloneInstanceRequest& request) {
  HANGAR_ASSIGN_OR_RETURN(InstanceView source, Get(who, id));
  const store::WorkloadRecord& src = source.record;
  HANGAR_TRY(authorizer_.RequireOnObject(who, "instances:create", "instances:read", ScopeOf(src),
                                         Error::NotFound("instance " + id.str() + " not found")));
  api::InstanceSettings settings{.max_lifetime_seconds = SettingsOf(src).max_lifetime_seconds};
  Error invalid = Error::Invalid("the clone is not valid");
  if (request.max_lifetime_seconds) {
    CheckLifetime(*request.max_lifetime_seconds, options_, invalid);
    settings.max_lifetime_seconds = *request.max_lifetime_seconds;
  }
  if (request.name && request.name->empty()) invalid.AddField("/name", "must not be empty");
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(src));
  spec.name = request.name.value_or(src.name + "-clone");
  spec.start_after.reset();
  Timestamp now = clock_.Now();
  std::string actor = who.ActorId();
  store::WorkloadRecord r{.id = InstanceId::Generate(clock_).str(),
                          .org_id = who.org_id,
                          .kind = "instance",
                          .project_id = src.project_id,
                          .team_id = src.team_id,
                          .name = *spec.name,
                          .state = State::pending,
                          .priority_class = src.priority_class,
                          .spec_json = json::Serialize(spec),
                          .state_reason = "created",
                          .state_message = "a clone of " + src.id + ": queued for placement",
                          .created_by = actor,
                          .created_at = now,
                          .updated_at = now};
  std::optional<std::string> ring;
  const api::JobResources res = spec.resources.value_or(api::JobResources{});
  int64_t price = 0;  // what an approval policy is checked against
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_TRY(CheckRequestFitsQuota(tx, who.org_id, src.team_id, src.project_id,
                                     src.project_id.str(), WorkloadMilliGpus(src)));
    HANGAR_ASSIGN_OR_RETURN(price, MaxHourlyPrice(tx, who.org_id, res));
    return Ok();
  }));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    ring.reset();
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetWorkload(tx, who.org_id, src.id));
    if (!current) return std::unexpected(Error::NotFound("instance " + id.str() + " not found"));
    std::optional<store::SnapshotRecord> snap;
    if (request.snapshot) {
      HANGAR_ASSIGN_OR_RETURN(snap, store::GetSnapshot(tx, who.org_id, *request.snapshot));
      if (!snap) {
        HANGAR_ASSIGN_OR_RETURN(
            snap, store::FindSnapshotByName(tx, who.org_id, src.project_id, *request.snapshot));
      }
      if (!snap || snap->project_id != src.project_id) {
        return std::unexpected(Error::Invalid("the clone is not valid")
                                   .Field("/snapshot",
                                          "no snapshot of that id or name in the "
                                          "instance's project"));
      }
      if (snap->state == api::SnapshotState::failed) {
        return std::unexpected(
            Error::Invalid("the clone is not valid")
                .Field("/snapshot", "that snapshot failed: " + snap->state_message));
      }
    } else if (SettingsOf(*current).workspace_node && current->state != State::terminated) {
      HANGAR_ASSIGN_OR_RETURN(snap,
                              NewSnapshot(tx, *current, std::nullopt, "clone", clock_, actor));
      ring = snap->node_id.str();
    }
    api::InstanceSettings clone_settings = settings;
    if (snap) {
      clone_settings.restore_snapshot = snap->id;
      r.state_message = "a clone of " + src.id + " from snapshot " + snap->id +
                        (snap->state == api::SnapshotState::ready
                             ? ": queued for placement"
                             : ": waits for the snapshot, then for placement");
    }
    r.settings_json = json::Serialize(clone_settings);
    HANGAR_TRY(RequestApprovalIfNeeded(tx, r, res.gpus.value_or(1), price, clock_, actor));
    HANGAR_TRY(store::InsertWorkload(tx, r));
    return AppendInstanceEvent(tx, r, "hangar.instance.created", now, actor);
  }));
  if (ring) signals_.Ring(*ring);
  wake_scheduler_();
  return InstanceView{.record = std::move(r)};
}

Result<InstanceView> InstanceService::Migrate(const Principal& who, const InstanceId& id,
                                              const api::MigrateInstanceRequest& request,
                                              std::optional<int64_t> if_match_version) {
  std::vector<store::NodeRecord> nodes;
  std::vector<store::GpuRecord> gpus;
  std::vector<store::WorkloadRecord> active;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(active, store::ListOrgActiveWorkloads(tx, who.org_id));
    HANGAR_ASSIGN_OR_RETURN(nodes,
                            store::ReadAll<store::NodeRecord>(tx, who.org_id, store::ListNodes));
    HANGAR_ASSIGN_OR_RETURN(gpus,
                            store::ReadAll<store::GpuRecord>(tx, who.org_id, store::ListGpus));
    return Ok();
  }));
  const Clock& clock = clock_;
  std::optional<std::string> snapshot_node;
  auto view = Act(
      who, id, if_match_version, "instances:update",
      [&](store::Tx& tx, store::WorkloadRecord& r, Timestamp now, const std::string& actor,
          bool&) -> Status {
        api::InstanceSettings settings = SettingsOf(r);
        if (settings.migration_snapshot) {
          if (!request.node || request.node == settings.migration_node) return Ok();
          return std::unexpected(Error::Conflict("instance " + r.id + " is already migrating to " +
                                                 settings.migration_node.value_or("?"))
                                     .Hint("wait until it runs there, then migrate it again"));
        }
        if (r.state != State::running || !r.node_id) {
          return std::unexpected(IllegalAction(r, "migrate"));
        }
        HANGAR_ASSIGN_OR_RETURN(auto spec, SpecOf(r));
        auto candidates = NodesWithRoom(nodes, gpus, active, spec, r.node_id->str());
        std::string wanted =
            std::to_string(spec.resources.value_or(api::JobResources{}).gpus.value_or(1)) +
            " free GPUs matching the instance";
        std::string target;
        if (request.node) {
          if (*request.node == r.node_id->str()) {
            return std::unexpected(Error::Invalid("the migration is not valid")
                                       .Field("/node", "is the node the instance runs on"));
          }
          bool known = std::any_of(nodes.begin(), nodes.end(),
                                   [&](const auto& n) { return n.id.str() == *request.node; });
          if (!known) {
            return std::unexpected(
                Error::Invalid("the migration is not valid").Field("/node", "no such node"));
          }
          bool has_room = std::any_of(candidates.begin(), candidates.end(),
                                      [&](const auto& c) { return c.first == *request.node; });
          if (!has_room) {
            return std::unexpected(
                Error::Conflict("node " + *request.node + " has no room for instance " + r.id +
                                ": it needs " + wanted +
                                " (and a ready, uncordoned node "
                                "matching its selector)")
                    .Hint("pick another node, or leave node out to let Hangar choose"));
          }
          target = *request.node;
        } else {
          if (candidates.empty()) {
            return std::unexpected(
                Error::Conflict("no other node has room for instance " + r.id + " now: it needs " +
                                wanted + " on a ready, uncordoned node matching its selector")
                    .Hint("try again when GPUs are released"));
          }
          target = candidates.front().first;
        }
        HANGAR_ASSIGN_OR_RETURN(auto snap,
                                NewSnapshot(tx, r, std::nullopt, "migrate", clock, actor));
        snapshot_node = snap.node_id.str();
        settings.migration_snapshot = snap.id;
        settings.migration_node = target;
        r.settings_json = json::Serialize(settings);
        r.state_reason = "migrating";
        r.state_message = "migrating to " + target + ": saving the workspace as snapshot " +
                          snap.id + " while the session runs";
        return Save(tx, r, "hangar.instance.migrating", now, actor);
      });
  if (view && snapshot_node) signals_.Ring(*snapshot_node);
  return view;
}

Result<std::vector<store::OutputRecord>> InstanceService::Output(const Principal& who,
                                                                 const InstanceId& id,
                                                                 int64_t after, int64_t limit) {
  HANGAR_ASSIGN_OR_RETURN(InstanceView view, Get(who, id));
  std::vector<store::OutputRecord> out;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(out, store::ReadOutput(tx, who.org_id, id.str(), after, limit));
    return Ok();
  }));
  return out;
}

Result<int> InstanceService::EnforceLeases() {
  Timestamp now = clock_.Now();
  std::vector<NodeId> nodes;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    nodes.clear();
    HANGAR_ASSIGN_OR_RETURN(auto records,
                            store::ListInstancesExpiringBefore(tx, now + options_.expiry_warning));
    for (auto& r : records) {
      if (!r.expires_at) continue;
      if (*r.expires_at <= now) {
        HANGAR_TRY(RequestStop(tx, r, "lease_expired",
                               "its lease ended at " + FormatRfc3339(*r.expires_at) +
                                   ": stopping (the workspace is kept)",
                               now, ""));
        if (r.node_id) nodes.push_back(*r.node_id);
        continue;
      }
      Micros lifetime = std::chrono::seconds(SettingsOf(r).max_lifetime_seconds);
      Micros window = std::min(options_.expiry_warning, lifetime / 4);
      if (r.expiry_warned_at || *r.expires_at - now > window) continue;
      r.expiry_warned_at = now;
      HANGAR_TRY(Save(tx, r, "hangar.instance.expiring", now, ""));
    }
    return Ok();
  }));
  for (const auto& n : nodes) signals_.Ring(n.str());
  return static_cast<int>(nodes.size());
}

}  // namespace hangar::workloads
