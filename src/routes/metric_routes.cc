#include "api/metric_types.h"
#include "routes/route_params.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Authorize;
using gateway::JsonResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

namespace {

std::vector<store::ListField> MetricQueryParams() {
  return {QueryParam("metric", store::FieldType::kText,
                     "utilization (default), memory_used_mib, temperature_c, power_watts or "
                     "sm_clock_mhz."),
          QueryParam("from", store::FieldType::kText,
                     "RFC 3339 start of the range (default: an hour before `to`; for a step "
                     "under a minute, as far back as raw samples are kept)."),
          QueryParam("to", store::FieldType::kText, "RFC 3339 end of the range (default: now)."),
          QueryParam("step", store::FieldType::kText,
                     "Bucket width: 15s, 1m, 1h, … (default: the range / 300). Below a minute "
                     "the recent raw samples answer (GPUs and nodes); otherwise 1-minute or "
                     "1-hour roll-ups, whichever still covers the range.")};
}

monitoring::MetricParams ParamsOf(const RequestContext& ctx) {
  auto get = [&](std::string_view name) { return std::string(ctx.QueryValue(name).value_or("")); };
  return {.metric = get("metric"), .from = get("from"), .to = get("to"), .step = get("step")};
}

void AddSeriesRoute(gateway::Router& router, monitoring::MetricsService& metrics,
                    monitoring::Scope scope, std::string path, std::string permission,
                    Authorize authorize, std::string operation_id, std::string summary,
                    std::string tag) {
  router.Add(Route{.method = verb::get,
                   .path = std::move(path),
                   .handler = [&metrics, scope](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto series,
                         metrics.Query(ctx.principal(), scope, ctx.PathParam("id"), ParamsOf(ctx)));
                     return JsonResponse(ctx, 200, series);
                   },
                   .permission = std::move(permission),
                   .authorize = authorize,
                   .operation_id = std::move(operation_id),
                   .summary = std::move(summary),
                   .tag = std::move(tag),
                   .response_body = Schema<api::MetricSeries>(),
                   .query_params = MetricQueryParams()});
}

}  // namespace

void AddMetricRoutes(gateway::Router& router, monitoring::MetricsService& metrics) {
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/nodes/{id}/metrics",
                   .handler = [&metrics](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto batch, ctx.Body<api::MetricBatchRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto result,
                                             metrics.Ingest(ctx.principal(), id, batch));
                     return JsonResponse(ctx, 200, result);
                   },
                   .permission = "nodes:report",
                   .operation_id = "ingestNodeMetrics",
                   .summary = "Ship a batch of GPU samples (agents; node credential)",
                   .tag = "Agents",
                   .request_body = Schema<api::MetricBatchRequest>(),
                   .response_body = Schema<api::MetricBatchResponse>(),
                   .idempotent_post = false});

  AddSeriesRoute(router, metrics, monitoring::Scope::kGpu, "/api/v1/gpus/{id}/metrics", "gpus:read",
                 Authorize::kOrganization, "getGpuMetrics",
                 "A GPU's metric history (min/avg/max per step)", "GPUs");
  AddSeriesRoute(router, metrics, monitoring::Scope::kNode, "/api/v1/nodes/{id}/metrics",
                 "nodes:read", Authorize::kOrganization, "getNodeMetrics",
                 "A node's metric history, all its GPUs together", "Nodes");
  AddSeriesRoute(router, metrics, monitoring::Scope::kProject, "/api/v1/projects/{id}/metrics",
                 "metrics:read", Authorize::kObject, "getProjectMetrics",
                 "The metric history of the GPUs a project's work held", "Projects");
  AddSeriesRoute(router, metrics, monitoring::Scope::kTeam, "/api/v1/teams/{id}/metrics",
                 "metrics:read", Authorize::kObject, "getTeamMetrics",
                 "The metric history of the GPUs a team's work held", "Teams");

  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/gpus/live",
                   .handler = [&metrics](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto live, metrics.Live(ctx.principal()));
                     return JsonResponse(ctx, 200, live);
                   },
                   .permission = "gpus:read",
                   .operation_id = "listLiveGpus",
                   .summary = "Every GPU's latest sample and who holds it (hangar gpus top)",
                   .tag = "GPUs",
                   .response_body = Schema<api::GpuLiveList>()});
}

}  // namespace hangar::routes
