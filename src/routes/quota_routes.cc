// /api/v1/quotas: GPU quotas per team and project, with their current use, and requests to
// change them (approved through /api/v1/approvals).
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Authorize;
using gateway::JsonResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

void AddQuotaRoutes(gateway::Router& router, workloads::QuotaService& quotas) {
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/quotas",
                   .handler = [&quotas](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto list, quotas.List(ctx.principal()));
                     return JsonResponse(ctx, 200, list);
                   },
                   .permission = "quotas:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "listQuotas",
                   .summary = "Every team's and project's GPU quota (guarantee, limit, weight) "
                              "and what it uses now",
                   .tag = "Quotas",
                   .response_body = Schema<api::QuotaList>()});
  router.Add(Route{.method = verb::put,
                   .path = "/api/v1/quotas/{scope_id}",
                   .handler = [&quotas](RequestContext& ctx) -> Result<http::Response> {
                     std::string scope(ctx.PathParam("scope_id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::SetQuotaRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto quota,
                                             quotas.Set(ctx.principal(), scope, body, version));
                     return JsonResponse(ctx, 200, quota, quota.etag);
                   },
                   .permission = "quotas:update",
                   .authorize = Authorize::kObject,
                   .operation_id = "setQuota",
                   .summary = "Set the GPU quota of a team (team_…) or project (proj_…)",
                   .tag = "Quotas",
                   .request_body = Schema<api::SetQuotaRequest>(),
                   .response_body = Schema<api::Quota>()});
  // More specific than /quotas/{scope_id}: the router prefers literal segments.
  router.Add(Route{.method = verb::put,
                   .path = "/api/v1/quotas/request",
                   .handler = [&quotas](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::QuotaChangeRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto approval,
                                             quotas.RequestChange(ctx.principal(), body));
                     return gateway::CreatedResponse(ctx, approval, approval.links["self"]);
                   },
                   .permission = "quotas:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "requestQuotaChange",
                   .summary = "Ask for a team's or project's GPU quota to change: creates a "
                              "pending approval that someone holding quotas:approve decides",
                   .tag = "Quotas",
                   .request_body = Schema<api::QuotaChangeRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Approval>()});
}

}  // namespace hangar::routes
