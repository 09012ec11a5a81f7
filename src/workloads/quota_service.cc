#include "workloads/quota_service.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <map>

#include "common/json_codec.h"
#include "store/identity_repos.h"
#include "store/read_all.h"
#include "store/workload_repos.h"
#include "workloads/approval_service.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;

constexpr int64_t kMaxQuotaGpus = 1'000'000;
constexpr int64_t kMaxOverageGraceSeconds = 7 * 24 * 3600;  // a week
constexpr size_t kMaxReasonChars = 2000;

std::string Gpus(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return fmt::format("{:.3g}", static_cast<double>(milli) / 1000.0);
}

api::Quota ToApi(std::string type, std::string id, std::string name,
                 const std::optional<store::QuotaRecord>& q) {
  api::Quota out{.scope_type = std::move(type), .scope_id = id, .scope_name = std::move(name)};
  out.etag = api::ETagOf(q ? q->version : 0);
  out.links = {{"self", "/api/v1/quotas/" + id}};
  if (q) {
    out.gpus = q->gpus;
    out.gpu_limit = q->gpu_limit;
    out.gpu_limit_per_user = q->gpu_limit_per_user;
    out.weight = q->weight;
    out.overage_grace_seconds = q->overage_grace_seconds;
    if (q->over_limit_since) out.over_limit_since = FormatRfc3339(*q->over_limit_since);
    out.updated_by = q->updated_by;
    out.updated_at = FormatRfc3339(q->updated_at);
  }
  return out;
}

// Milli-GPUs a scope's workloads hold now and ask for while waiting.
struct ScopeUse {
  int64_t held = 0;
  int64_t pending = 0;
};

void WithUse(api::Quota& q, const ScopeUse& use) {
  q.gpus_in_use = static_cast<double>(use.held) / 1000.0;
  q.gpus_pending = static_cast<double>(use.pending) / 1000.0;
}

// Each workload counts for its project and its team.
std::map<std::string, ScopeUse> UseByScope(const std::vector<store::WorkloadRecord>& active) {
  std::map<std::string, ScopeUse> use;
  for (const auto& w : active) {
    int64_t milli = WorkloadMilliGpus(w);
    bool held = store::HoldsGpus(w.state);
    for (const std::string& scope : {w.project_id.str(), w.team_id.str()}) {
      (held ? use[scope].held : use[scope].pending) += milli;
    }
  }
  return use;
}

// A team or project, the scopes a quota belongs to.
struct QuotaScope {
  std::optional<store::TeamRecord> team;
  std::optional<store::ProjectRecord> project;

  const char* type() const { return team ? "team" : "project"; }
  const std::string& name() const { return team ? team->name : project->name; }
  TeamId team_id() const { return team ? team->id : project->team_id; }
  ResourceScope Resource(const OrgId& org) const {
    return team ? ResourceScope::Team(org, team->id)
                : ResourceScope::Project(org, project->team_id, project->id);
  }
};

bool IsScopeId(std::string_view id) {
  return TeamId::Parse(id).has_value() || ProjectId::Parse(id).has_value();
}

Error ScopeNotFound(std::string_view scope_id) {
  return Error::NotFound("no team or project " + std::string(scope_id))
      .Hint("quotas are set on a team (team_…) or a project (proj_…)");
}

// The team or project `scope_id` names in `org`; nullopt when there is none.
Result<std::optional<QuotaScope>> FindScope(store::Tx& tx, const OrgId& org,
                                            std::string_view scope_id) {
  QuotaScope scope;
  if (auto id = TeamId::Parse(scope_id)) {
    HANGAR_ASSIGN_OR_RETURN(scope.team, store::GetTeam(tx, org, *id));
  } else if (auto pid = ProjectId::Parse(scope_id)) {
    HANGAR_ASSIGN_OR_RETURN(scope.project, store::GetProject(tx, org, *pid));
  }
  if (!scope.team && !scope.project) return std::nullopt;
  return scope;
}

// The parts of the quota in force (those of a scope without one when there is none).
api::QuotaValues InForce(const std::optional<store::QuotaRecord>& q) {
  if (!q) return {.gpus = 0, .weight = 1};
  return {.gpus = q->gpus,
          .gpu_limit = q->gpu_limit,
          .weight = q->weight,
          .gpu_limit_per_user = q->gpu_limit_per_user,
          .overage_grace_seconds = q->overage_grace_seconds};
}

// The parts `change` gives, over `base`.
api::QuotaValues Merge(const api::QuotaValues& base, const api::QuotaValues& change) {
  auto pick = [](const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
    return a ? a : b;
  };
  return {.gpus = pick(change.gpus, base.gpus),
          .gpu_limit = pick(change.gpu_limit, base.gpu_limit),
          .weight = pick(change.weight, base.weight),
          .gpu_limit_per_user = pick(change.gpu_limit_per_user, base.gpu_limit_per_user),
          .overage_grace_seconds = pick(change.overage_grace_seconds, base.overage_grace_seconds)};
}

// Adds to `invalid` a violation for each rule the whole quota `q` of a project (`project`) or
// team breaks. A limit below the guarantee is the limit's fault, unless the caller gave only the
// guarantee (`given`): then it names /gpus, the field they can fix; likewise a per-user limit
// above the limit names /gpu_limit when only the limit was given.
void CheckQuota(const api::QuotaValues& q, const api::QuotaValues& given, bool project,
                Error& invalid) {
  int64_t gpus = q.gpus.value_or(0);
  int64_t weight = q.weight.value_or(1);
  if (gpus < 0 || gpus > kMaxQuotaGpus) {
    invalid.AddField("/gpus", "must be between 0 and " + std::to_string(kMaxQuotaGpus));
  }
  if (q.gpu_limit && (*q.gpu_limit < gpus || *q.gpu_limit > kMaxQuotaGpus)) {
    if (given.gpus && !given.gpu_limit) {
      invalid.AddField("/gpus", "must be at most the gpu_limit in force (" +
                                    std::to_string(*q.gpu_limit) + "); ask for a gpu_limit too");
    } else {
      invalid.AddField("/gpu_limit", "must be at least gpus (" + std::to_string(gpus) +
                                         ") and at most " + std::to_string(kMaxQuotaGpus));
    }
  }
  if (weight < 1 || weight > 1000) invalid.AddField("/weight", "must be between 1 and 1000");
  if (q.gpu_limit_per_user) {
    int64_t per_user = *q.gpu_limit_per_user;
    int64_t most = q.gpu_limit.value_or(kMaxQuotaGpus);
    if (!project) {
      invalid.AddField("/gpu_limit_per_user",
                       "only a project's quota has a per-user limit; set it on the team's "
                       "projects");
    } else if (per_user < 1 || per_user > most) {
      if (given.gpu_limit && !given.gpu_limit_per_user) {
        invalid.AddField("/gpu_limit", "must be at least the gpu_limit_per_user in force (" +
                                           std::to_string(per_user) +
                                           "); ask for a gpu_limit_per_user too");
      } else {
        invalid.AddField(
            "/gpu_limit_per_user",
            "must be between 1 and " + (q.gpu_limit ? "the gpu_limit (" + std::to_string(most) + ")"
                                                    : std::to_string(most)));
      }
    }
  }
  if (q.overage_grace_seconds &&
      (*q.overage_grace_seconds < 0 || *q.overage_grace_seconds > kMaxOverageGraceSeconds)) {
    invalid.AddField("/overage_grace_seconds", "must be between 0 (reclaim at once) and " +
                                                   std::to_string(kMaxOverageGraceSeconds) +
                                                   " (a week)");
  }
}

api::QuotaValues PartsOf(const api::QuotaChangeRequest& r) {
  return {.gpus = r.gpus,
          .gpu_limit = r.gpu_limit,
          .weight = r.weight,
          .gpu_limit_per_user = r.gpu_limit_per_user,
          .overage_grace_seconds = r.overage_grace_seconds};
}

// Every rule `request` breaks, given the quota in force of a project (`project`) or team (the
// scope_id is checked apart).
Error CheckChangeRequest(const api::QuotaChangeRequest& request, const api::QuotaValues& in_force,
                         bool project) {
  Error invalid = Error::Invalid("the quota request is not valid");
  api::QuotaValues parts = PartsOf(request);
  if (!parts.gpus && !parts.gpu_limit && !parts.weight && !parts.gpu_limit_per_user &&
      !parts.overage_grace_seconds) {
    for (const char* field :
         {"/gpus", "/gpu_limit", "/weight", "/gpu_limit_per_user", "/overage_grace_seconds"}) {
      invalid.AddField(field,
                       "give at least one of gpus, gpu_limit, weight, gpu_limit_per_user and "
                       "overage_grace_seconds");
    }
  } else {
    CheckQuota(Merge(in_force, parts), parts, project, invalid);
  }
  bool blank = request.reason.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank || request.reason.size() > kMaxReasonChars) {
    invalid.AddField("/reason", "must say why, in 1 to " + std::to_string(kMaxReasonChars) +
                                    " characters (the approver reads it)");
  }
  return invalid;
}

// The stored form of the whole quota `q` (valid: CheckQuota found nothing).
store::QuotaRecord RecordOf(const OrgId& org, std::string_view scope_id, const api::QuotaValues& q,
                            const std::string& actor, Timestamp now) {
  return {.org_id = org,
          .scope_id = std::string(scope_id),
          .gpus = q.gpus.value_or(0),
          .gpu_limit = q.gpu_limit,
          .gpu_limit_per_user = q.gpu_limit_per_user,
          .weight = q.weight.value_or(1),
          .overage_grace_seconds = q.overage_grace_seconds,
          .updated_by = actor,
          .updated_at = now};
}

// Stores `record` (a scope's whole quota) with its hangar.quota.updated event, in `tx`;
// returns the quota now in force with its use.
Result<api::Quota> SaveQuota(store::Tx& tx, const QuotaScope& scope,
                             const store::QuotaRecord& record,
                             std::optional<int64_t> if_match_version, const Clock& clock) {
  HANGAR_TRY(store::PutQuota(tx, record, if_match_version));
  HANGAR_ASSIGN_OR_RETURN(auto saved, store::GetQuota(tx, record.org_id, record.scope_id));
  HANGAR_ASSIGN_OR_RETURN(auto active, store::ListOrgActiveWorkloads(tx, record.org_id));
  api::Quota view = ToApi(scope.type(), record.scope_id, scope.name(), saved);
  if (scope.project) view.team_id = scope.project->team_id.str();
  WithUse(view, UseByScope(active)[record.scope_id]);
  HANGAR_TRY(store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock),
                                                       .org_id = record.org_id,
                                                       .type = "hangar.quota.updated",
                                                       .source = "/api/v1/quotas",
                                                       .subject = record.scope_id,
                                                       .time = record.updated_at,
                                                       .data_json = json::Serialize(view),
                                                       .actor = record.updated_by}));
  return view;
}

}  // namespace

int64_t WorkloadMilliGpus(const store::WorkloadRecord& r) {
  auto spec = SpecOf(r);
  int64_t share = 1000;
  int64_t gpus = 1;
  if (spec && spec->resources) {
    share = spec->resources->gpu_milli.value_or(1000);
    gpus = spec->resources->gpus.value_or(1);
  }
  if (store::HoldsGpus(r.state)) gpus = static_cast<int64_t>(r.gpu_indexes.size());
  return gpus * share;
}

Status CheckRequestFitsQuota(store::Tx& tx, const OrgId& org, const TeamId& team,
                             const ProjectId& project, std::string_view project_name,
                             int64_t gpu_milli) {
  HANGAR_ASSIGN_OR_RETURN(auto limits,
                          store::ListRequestBoundingQuotas(tx, org, project.str(), team.str()));
  // The project's limit first: it is the one the caller most likely knows.
  std::partition(limits.begin(), limits.end(),
                 [&](const auto& q) { return q.scope_id == project.str(); });
  for (const auto& quota : limits) {
    if (!quota.gpu_limit || gpu_milli <= *quota.gpu_limit * 1000) continue;
    std::string label = quota.scope_id == project.str() ? "project " + std::string(project_name)
                                                        : "its team " + team.str();
    return std::unexpected(
        Error(ErrorCode::kResourceExhausted, "the request for " + Gpus(gpu_milli) +
                                                 " GPUs exceeds the GPU limit of " + label + ": " +
                                                 std::to_string(*quota.gpu_limit) + " GPUs at once")
            .Field("/resources/gpus", "at most " + std::to_string(*quota.gpu_limit) +
                                          " GPUs (quota of " + quota.scope_id + ")")
            .Hint("ask for fewer GPUs, or for a higher limit: hangar quota request " +
                  quota.scope_id +
                  " --limit N --reason TEXT (PUT /api/v1/quotas/request; someone holding "
                  "quotas:approve decides). With quotas:update: hangar quota set " +
                  quota.scope_id + " --limit N. GET /api/v1/quotas shows limits and use"));
  }
  // Within the limits, but more than one user may hold in the project (at most the project's
  // limit, so checked after it: raising the per-user limit alone would then be enough).
  for (const auto& quota : limits) {
    if (quota.scope_id != project.str() || !quota.gpu_limit_per_user) continue;
    int64_t per_user = *quota.gpu_limit_per_user;
    if (gpu_milli <= per_user * 1000) continue;
    return std::unexpected(
        Error(ErrorCode::kResourceExhausted,
              "the request for " + Gpus(gpu_milli) + " GPUs exceeds the per-user GPU limit of " +
                  "project " + std::string(project_name) + ": " + std::to_string(per_user) +
                  " GPUs at once per user")
            .Field("/resources/gpus", "at most " + std::to_string(per_user) +
                                          " GPUs per user (quota of " + quota.scope_id + ")")
            .Hint("ask for fewer GPUs, or for a higher per-user limit: hangar quota request " +
                  quota.scope_id +
                  " --per-user N --reason TEXT (PUT /api/v1/quotas/request; someone holding "
                  "quotas:approve decides). With quotas:update: hangar quota set " +
                  quota.scope_id + " --per-user N. GET /api/v1/quotas shows limits and use"));
  }
  return Ok();
}

QuotaService::QuotaService(store::Store& store, const Clock& clock,
                           identity::Authorizer& authorizer, std::function<void()> wake_scheduler)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      wake_scheduler_(std::move(wake_scheduler)) {}

Result<api::QuotaList> QuotaService::List(const Principal& who) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "quotas:read"));
  if (!any) {
    return std::unexpected(Error::PermissionDenied("permission quotas:read is required")
                               .Hint("ask an administrator for a role that includes quotas:read"));
  }
  std::vector<store::TeamRecord> teams;
  std::vector<store::ProjectRecord> projects;
  std::vector<store::QuotaRecord> quotas;
  std::vector<store::WorkloadRecord> active;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(teams,
                            store::ReadAll<store::TeamRecord>(tx, who.org_id, store::ListTeams));
    HANGAR_ASSIGN_OR_RETURN(
        projects, store::ReadAll<store::ProjectRecord>(tx, who.org_id, store::ListProjects));
    HANGAR_ASSIGN_OR_RETURN(quotas, store::ListQuotas(tx, who.org_id));
    HANGAR_ASSIGN_OR_RETURN(active, store::ListOrgActiveWorkloads(tx, who.org_id));
    return Ok();
  }));
  std::map<std::string, store::QuotaRecord> by_scope;
  for (auto& q : quotas) by_scope.emplace(q.scope_id, std::move(q));
  std::map<std::string, ScopeUse> use = UseByScope(active);
  auto find = [&](const std::string& id) -> std::optional<store::QuotaRecord> {
    auto it = by_scope.find(id);
    if (it == by_scope.end()) return std::nullopt;
    return it->second;
  };
  auto with_use = [&](api::Quota q) {
    WithUse(q, use[q.scope_id]);
    return q;
  };
  api::QuotaList out;
  for (const auto& t : teams) {
    HANGAR_ASSIGN_OR_RETURN(
        auto d, authorizer_.Check(who, "quotas:read", ResourceScope::Team(who.org_id, t.id)));
    if (d.allowed)
      out.items.push_back(with_use(ToApi("team", t.id.str(), t.name, find(t.id.str()))));
  }
  for (const auto& p : projects) {
    HANGAR_ASSIGN_OR_RETURN(
        auto d,
        authorizer_.Check(who, "quotas:read", ResourceScope::Project(who.org_id, p.team_id, p.id)));
    if (!d.allowed) continue;
    auto q = with_use(ToApi("project", p.id.str(), p.name, find(p.id.str())));
    q.team_id = p.team_id.str();
    out.items.push_back(std::move(q));
  }
  return out;
}

Result<api::Quota> QuotaService::Set(const Principal& who, std::string_view scope_id,
                                     const api::SetQuotaRequest& request,
                                     std::optional<int64_t> if_match_version) {
  std::optional<QuotaScope> scope;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(scope, FindScope(tx, who.org_id, scope_id));
    return Ok();
  }));
  if (!scope) return std::unexpected(ScopeNotFound(scope_id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "quotas:update", "quotas:read",
                                         scope->Resource(who.org_id), ScopeNotFound(scope_id)));

  // A PUT replaces the whole quota: absent parts take their defaults.
  api::QuotaValues quota{.gpus = request.gpus.value_or(0),
                         .gpu_limit = request.gpu_limit,
                         .weight = request.weight.value_or(1),
                         .gpu_limit_per_user = request.gpu_limit_per_user,
                         .overage_grace_seconds = request.overage_grace_seconds};
  Error invalid = Error::Invalid("the quota is not valid");
  CheckQuota(quota, quota, scope->project.has_value(), invalid);
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  store::QuotaRecord record = RecordOf(who.org_id, scope_id, quota, who.ActorId(), clock_.Now());
  api::Quota view;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(view, SaveQuota(tx, *scope, record, if_match_version, clock_));
    return Ok();
  }));
  wake_scheduler_();
  return view;
}

Result<api::Approval> QuotaService::RequestChange(const Principal& who,
                                                  const api::QuotaChangeRequest& request) {
  const std::string& scope_id = request.scope_id;
  if (!IsScopeId(scope_id)) {
    // Name every bad field at once, the parts checked against a scope without a quota.
    Error invalid = CheckChangeRequest(request, InForce(std::nullopt), /*project=*/true);
    Error out = Error::Invalid("the quota request is not valid")
                    .Field("/scope_id", "must be a team (team_…) or project (proj_…) id");
    for (const auto& v : invalid.violations()) out.AddField(v.pointer, v.detail);
    return std::unexpected(std::move(out));
  }
  std::optional<QuotaScope> scope;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(scope, FindScope(tx, who.org_id, scope_id));
    return Ok();
  }));
  if (!scope) return std::unexpected(ScopeNotFound(scope_id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "quotas:read", "quotas:read",
                                         scope->Resource(who.org_id), ScopeNotFound(scope_id)));
  store::ApprovalRecord approval;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    // The quota in force is read in the transaction that records it next to the request.
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetQuota(tx, who.org_id, scope_id));
    api::QuotaValues in_force = InForce(current);
    Error invalid = CheckChangeRequest(request, in_force, scope->project.has_value());
    if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
    api::QuotaChange change{
        .requested = PartsOf(request), .in_force = in_force, .reason = request.reason};
    HANGAR_ASSIGN_OR_RETURN(approval, RecordQuotaApproval(tx, who.org_id, scope->team_id(),
                                                          scope_id, change, clock_, who.ActorId()));
    return Ok();
  }));
  return ToApiApproval(approval);
}

Result<api::Quota> ApplyQuotaChange(store::Tx& tx, const OrgId& org, std::string_view scope_id,
                                    const api::QuotaValues& change, const Clock& clock,
                                    Timestamp now, const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto scope, FindScope(tx, org, scope_id));
  if (!scope) {
    return std::unexpected(
        Error::Conflict(std::string(scope_id) + " no longer exists: its quota cannot change")
            .Hint("reject the request"));
  }
  HANGAR_ASSIGN_OR_RETURN(auto current, store::GetQuota(tx, org, scope_id));
  // Over the quota then in force: an administrator may have changed it since the request.
  api::QuotaValues quota = Merge(InForce(current), change);
  Error conflict =
      Error::Conflict("the quota of " + std::string(scope_id) +
                      " changed since the request: with the parts asked for it is not valid")
          .Hint("reject the request and ask again, or set the quota: hangar quota set");
  CheckQuota(quota, change, scope->project.has_value(), conflict);
  if (!conflict.violations().empty()) return std::unexpected(std::move(conflict));
  store::QuotaRecord record = RecordOf(org, scope_id, quota, actor, now);
  return SaveQuota(tx, *scope, record, std::nullopt, clock);
}

}  // namespace hangar::workloads
