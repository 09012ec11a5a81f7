#include "workloads/quota_service.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <map>

#include "common/json_codec.h"
#include "store/identity_repos.h"
#include "store/read_all.h"
#include "store/workload_repos.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;

constexpr int64_t kMaxQuotaGpus = 1'000'000;

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
    out.weight = q->weight;
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
                          store::ListLimitingQuotas(tx, org, project.str(), team.str()));
  // The project's limit first: it is the one the caller most likely knows.
  std::partition(limits.begin(), limits.end(),
                 [&](const auto& q) { return q.scope_id == project.str(); });
  for (const auto& quota : limits) {
    if (gpu_milli <= *quota.gpu_limit * 1000) continue;
    std::string label = quota.scope_id == project.str() ? "project " + std::string(project_name)
                                                        : "its team " + team.str();
    return std::unexpected(
        Error(ErrorCode::kResourceExhausted, "the request for " + Gpus(gpu_milli) +
                                                 " GPUs exceeds the GPU limit of " + label + ": " +
                                                 std::to_string(*quota.gpu_limit) + " GPUs at once")
            .Field("/resources/gpus", "at most " + std::to_string(*quota.gpu_limit) +
                                          " GPUs (quota of " + quota.scope_id + ")")
            .Hint("ask fewer GPUs, or ask an administrator to raise the limit: hangar quota set " +
                  quota.scope_id + " --limit N (GET /api/v1/quotas shows limits and use)"));
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
  auto not_found = [&] {
    return Error::NotFound("no team or project " + std::string(scope_id))
        .Hint("quotas are set on a team (team_…) or a project (proj_…)");
  };
  std::optional<store::TeamRecord> team;
  std::optional<store::ProjectRecord> project;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    if (auto id = TeamId::Parse(scope_id)) {
      HANGAR_ASSIGN_OR_RETURN(team, store::GetTeam(tx, who.org_id, *id));
    } else if (auto pid = ProjectId::Parse(scope_id)) {
      HANGAR_ASSIGN_OR_RETURN(project, store::GetProject(tx, who.org_id, *pid));
    }
    return Ok();
  }));
  if (!team && !project) return std::unexpected(not_found());
  ResourceScope scope = team ? ResourceScope::Team(who.org_id, team->id)
                             : ResourceScope::Project(who.org_id, project->team_id, project->id);
  HANGAR_TRY(authorizer_.RequireOnObject(who, "quotas:update", "quotas:read", scope, not_found()));

  Error invalid = Error::Invalid("the quota is not valid");
  int64_t gpus = request.gpus.value_or(0);
  int64_t weight = request.weight.value_or(1);
  if (gpus < 0 || gpus > kMaxQuotaGpus) {
    invalid.AddField("/gpus", "must be between 0 and " + std::to_string(kMaxQuotaGpus));
  }
  if (request.gpu_limit && (*request.gpu_limit < gpus || *request.gpu_limit > kMaxQuotaGpus)) {
    invalid.AddField("/gpu_limit", "must be at least gpus (" + std::to_string(gpus) +
                                       ") and at most " + std::to_string(kMaxQuotaGpus));
  }
  if (weight < 1 || weight > 1000) invalid.AddField("/weight", "must be between 1 and 1000");
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  std::string id(scope_id);
  Timestamp now = clock_.Now();
  store::QuotaRecord record{.org_id = who.org_id,
                            .scope_id = id,
                            .gpus = gpus,
                            .gpu_limit = request.gpu_limit,
                            .weight = weight,
                            .updated_by = who.ActorId(),
                            .updated_at = now};
  std::optional<store::QuotaRecord> saved;
  api::Quota view;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::PutQuota(tx, record, if_match_version));
    HANGAR_ASSIGN_OR_RETURN(saved, store::GetQuota(tx, who.org_id, id));
    HANGAR_ASSIGN_OR_RETURN(auto active, store::ListOrgActiveWorkloads(tx, who.org_id));
    view = ToApi(team ? "team" : "project", id, team ? team->name : project->name, saved);
    if (project) view.team_id = project->team_id.str();
    WithUse(view, UseByScope(active)[id]);
    return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock_),
                                                     .org_id = who.org_id,
                                                     .type = "hangar.quota.updated",
                                                     .source = "/api/v1/quotas",
                                                     .subject = id,
                                                     .time = now,
                                                     .data_json = json::Serialize(view),
                                                     .actor = who.ActorId()});
  }));
  wake_scheduler_();
  return view;
}

}  // namespace hangar::workloads
