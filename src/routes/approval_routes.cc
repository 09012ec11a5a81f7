// Approvals: /api/v1/approval-policies/{project} (what a project requires approval for) and
// /api/v1/approvals (list, read, approve, reject).
#include "gateway/list_query.h"
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

Route DecideRoute(workloads::ApprovalService& approvals, bool approve) {
  std::string action = approve ? "approve" : "reject";
  return Route{.method = verb::post,
               .path = "/api/v1/approvals/{id}/" + action,
               .handler = [&approvals, approve](RequestContext& ctx) -> Result<http::Response> {
                 HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ApprovalId>("id"));
                 HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                 // An approval the caller cannot see is a 404 whatever the body says.
                 HANGAR_TRY(approvals.Get(ctx.principal(), id));
                 api::DecideApprovalRequest body;
                 if (!ctx.request().body().empty()) {
                   HANGAR_ASSIGN_OR_RETURN(body, ctx.Body<api::DecideApprovalRequest>());
                 }
                 HANGAR_ASSIGN_OR_RETURN(
                     auto a, approvals.Decide(ctx.principal(), id, approve, body, version));
                 auto out = workloads::ToApiApproval(a);
                 return JsonResponse(ctx, 200, out, out.etag);
               },
               .permission = "approvals:decide",
               .authorize = Authorize::kObject,
               .operation_id = action + "Approval",
               .summary = approve ? "Approve a pending request: the instance is queued for "
                                    "placement, a quota change is put in force (quota changes "
                                    "need quotas:approve instead)"
                                  : "Reject a pending request: the instance is terminated, a "
                                    "quota stays as it is (quota changes need quotas:approve "
                                    "instead)",
               .tag = "Approvals",
               .request_body = Schema<api::DecideApprovalRequest>(),
               .response_body = Schema<api::Approval>()};
}

}  // namespace

void AddApprovalRoutes(gateway::Router& router, workloads::ApprovalService& approvals) {
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/approval-policies/{project}",
                   .handler = [&approvals](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto policy,
                         approvals.GetPolicy(ctx.principal(), ctx.PathParam("project")));
                     return gateway::ObjectResponse(ctx, policy);
                   },
                   .permission = "projects:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getApprovalPolicy",
                   .summary = "What the project (id or name) requires approval for",
                   .tag = "Approvals",
                   .response_body = Schema<api::ApprovalPolicy>()});
  router.Add(Route{.method = verb::put,
                   .path = "/api/v1/approval-policies/{project}",
                   .handler = [&approvals](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::SetApprovalPolicyRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto policy, approvals.SetPolicy(ctx.principal(), ctx.PathParam("project"),
                                                          body, version));
                     return JsonResponse(ctx, 200, policy, policy.etag);
                   },
                   .permission = "approval-policies:update",
                   .authorize = Authorize::kObject,
                   .operation_id = "setApprovalPolicy",
                   .summary = "Set what the project requires approval for (unset: nothing)",
                   .tag = "Approvals",
                   .request_body = Schema<api::SetApprovalPolicyRequest>(),
                   .response_body = Schema<api::ApprovalPolicy>()});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/approvals",
            .handler = [&approvals](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::ApprovalListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, approvals.List(ctx.principal(), query));
              return gateway::ListResponse<api::ApprovalList>(ctx, page, workloads::ToApiApproval);
            },
            .permission = "approvals:read",
            .authorize = Authorize::kObject,
            .operation_id = "listApprovals",
            .summary = "List the approvals you can see (?state=pending for the queue, "
                       "?subject_kind=quota for quota changes)",
            .tag = "Approvals",
            .response_body = Schema<api::ApprovalList>(),
            .list = &store::ApprovalListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/approvals/{id}",
                   .handler = [&approvals](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ApprovalId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto a, approvals.Get(ctx.principal(), id));
                     return gateway::ObjectResponse(ctx, workloads::ToApiApproval(a));
                   },
                   .permission = "approvals:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getApproval",
                   .summary = "Get an approval: what waits, why, who decided",
                   .tag = "Approvals",
                   .response_body = Schema<api::Approval>()});
  router.Add(DecideRoute(approvals, true));
  router.Add(DecideRoute(approvals, false));
}

}  // namespace hangar::routes
