#include "monitoring/metrics_service.h"

#include <charconv>

#include "store/identity_repos.h"
#include "store/repos.h"

namespace hangar::monitoring {
namespace {

// "90", "90s", "5m", "2h", "1d" -> seconds; nullopt when malformed or not positive.
std::optional<int64_t> ParseStep(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || n <= 0 || n > 366 * 86400) {
    return std::nullopt;
  }
  return n * unit;
}

}  // namespace

MetricsService::MetricsService(store::Store& store, const Clock& clock,
                               identity::Authorizer& authorizer, MetricHub& hub,
                               const workloads::GpuHolders& holders)
    : store_(store), clock_(clock), authorizer_(authorizer), hub_(hub), holders_(holders) {}

Result<api::MetricBatchResponse> MetricsService::Ingest(const identity::Principal& who,
                                                        const NodeId& node,
                                                        const api::MetricBatchRequest& batch) {
  if (!who.IsNode(node)) {
    return std::unexpected(
        Error::PermissionDenied("only the node's own credential may send its metrics"));
  }
  return hub_.Ingest(who.org_id, node, batch);
}

Status MetricsService::CheckScope(const identity::Principal& who, Scope scope,
                                  const std::string& id) {
  Error not_found = Error::NotFound(std::string(ScopeName(scope)) + " " + id + " not found");
  std::optional<identity::ResourceScope> object_scope;
  bool exists = false;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    switch (scope) {
      case Scope::kGpu: {
        auto gid = GpuId::Parse(id);
        if (!gid) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto g, store::GetGpu(tx, who.org_id, *gid));
        exists = g.has_value();
        return Ok();
      }
      case Scope::kNode: {
        auto nid = NodeId::Parse(id);
        if (!nid) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto n, store::GetNode(tx, who.org_id, *nid));
        exists = n.has_value();
        return Ok();
      }
      case Scope::kProject: {
        auto pid = ProjectId::Parse(id);
        if (!pid) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto p, store::GetProject(tx, who.org_id, *pid));
        if (p) {
          exists = true;
          object_scope = identity::ResourceScope::Project(who.org_id, p->team_id, p->id);
        }
        return Ok();
      }
      case Scope::kTeam: {
        auto tid = TeamId::Parse(id);
        if (!tid) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto t, store::GetTeam(tx, who.org_id, *tid));
        if (t) {
          exists = true;
          object_scope = identity::ResourceScope::Team(who.org_id, t->id);
        }
        return Ok();
      }
    }
    return Ok();
  }));
  if (!exists) return std::unexpected(std::move(not_found));
  if (object_scope) {
    std::string_view read = scope == Scope::kProject ? "projects:read" : "teams:read";
    HANGAR_TRY(authorizer_.RequireOnObject(who, "metrics:read", read, *object_scope,
                                           std::move(not_found)));
  }
  return Ok();
}

Result<api::MetricSeries> MetricsService::Query(const identity::Principal& who, Scope scope,
                                                const std::string& id, const MetricParams& params) {
  HANGAR_TRY(CheckScope(who, scope, id));
  Error invalid = Error::Invalid("the metric query is not valid");
  std::string metric_name = params.metric.empty() ? "utilization" : params.metric;
  auto metric = MetricIndex(metric_name);
  if (!metric) {
    invalid.AddField("query:metric",
                     "must be one of utilization, memory_used_mib, "
                     "temperature_c, power_watts, sm_clock_mhz");
  }
  Timestamp now = clock_.Now();
  std::optional<Timestamp> to = params.to.empty() ? std::optional(now) : ParseRfc3339(params.to);
  if (!to) invalid.AddField("query:to", "must be an RFC 3339 time");
  int64_t step = 0;
  if (!params.step.empty()) {
    auto parsed = ParseStep(params.step);
    if (!parsed) {
      invalid.AddField("query:step", "must be a duration such as 15s, 1m, 1h or seconds (60)");
    } else {
      step = *parsed;
    }
  }
  // Without `from`: the last hour, or as far back as raw samples go when the step asks for
  // them (a step under a minute).
  Micros back = step > 0 && step < 60
                    ? std::min<Micros>(std::chrono::hours(1), hub_.options().raw_retention)
                    : std::chrono::hours(1);
  std::optional<Timestamp> from =
      params.from.empty() ? std::optional(to.value_or(now) - back) : ParseRfc3339(params.from);
  if (!from) invalid.AddField("query:from", "must be an RFC 3339 time");
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  return hub_.Query({.scope = scope,
                     .scope_id = id,
                     .metric = *metric,
                     .from = *from,
                     .to = *to,
                     .step_seconds = step});
}

Result<api::GpuLiveList> MetricsService::Live(const identity::Principal& who) {
  // The store is the truth for which GPUs exist and their state; the hub adds the samples.
  std::vector<store::GpuRecord> gpus;
  std::unordered_map<std::string, std::string> node_names;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    store::ListQuery all{.limit = 1000};
    while (true) {
      HANGAR_ASSIGN_OR_RETURN(auto page, store::ListGpus(tx, who.org_id, all));
      for (auto& g : page.items) gpus.push_back(std::move(g));
      if (page.next_page_token.empty()) break;
      all.page_token = page.next_page_token;
    }
    store::ListQuery nodes_query{.limit = 1000};
    while (true) {
      HANGAR_ASSIGN_OR_RETURN(auto page, store::ListNodes(tx, who.org_id, nodes_query));
      for (const auto& n : page.items) node_names[n.id.str()] = n.name;
      if (page.next_page_token.empty()) break;
      nodes_query.page_token = page.next_page_token;
    }
    return Ok();
  }));
  std::unordered_map<std::string, GpuSnapshot> samples;
  for (auto& s : hub_.Gpus(who.org_id.str())) samples.emplace(s.id.str(), std::move(s));
  auto holders = holders_.Of(who.org_id.str());
  api::GpuLiveList out;
  out.items.reserve(gpus.size());
  for (const auto& g : gpus) {
    api::GpuLive live{.gpu_id = g.id.str(),
                      .node_id = g.node_id.str(),
                      .node_name = node_names[g.node_id.str()],
                      .index = g.index,
                      .gpu_type = g.gpu_type_name,
                      .state = g.state,
                      .memory_mib = g.memory_mib};
    if (auto h = holders->find(workloads::GpuHolders::GpuKey(g.node_id.str(), g.index));
        h != holders->end()) {
      live.project_id = h->second.project_id;
      live.workload_id = h->second.workload_id;
    }
    if (auto s = samples.find(g.id.str()); s != samples.end() && s->second.latest) {
      const api::GpuMetricPoint& p = *s->second.latest;
      live.sampled_at = FormatRfc3339(FromUnixMicros(p.t * 1000));
      live.utilization = p.utilization;
      live.memory_used_mib = p.memory_used_mib;
      live.temperature_c = p.temperature_c;
      live.power_watts = p.power_watts;
      live.sm_clock_mhz = p.sm_clock_mhz;
      live.ecc_dbe_total = p.ecc_dbe_total;
    }
    out.items.push_back(std::move(live));
  }
  std::sort(out.items.begin(), out.items.end(), [](const api::GpuLive& a, const api::GpuLive& b) {
    return std::tie(a.node_name, a.index) < std::tie(b.node_name, b.index);
  });
  return out;
}

}  // namespace hangar::monitoring
