#include "api/alert_types.h"
#include "gateway/list_query.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::ListResponse;
using gateway::ObjectResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

void AddAlertRoutes(gateway::Router& router, monitoring::AlertService& alerts) {
  auto rule_to_api = [](const store::AlertRuleRecord& r) { return monitoring::ToApi(r); };
  auto alert_to_api = [](const store::AlertRecord& a) { return monitoring::ToApi(a); };
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/alert-rules",
            .handler = [&alerts, rule_to_api](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::AlertRuleListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, alerts.ListRules(ctx.principal(), query));
              return ListResponse<api::AlertRuleList>(ctx, page, rule_to_api);
            },
            .permission = "alert-rules:read",
            .operation_id = "listAlertRules",
            .summary = "List alert rules (the built-in ones included)",
            .tag = "Alerts",
            .response_body = Schema<api::AlertRuleList>(),
            .list = &store::AlertRuleListSpec()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/alert-rules",
                   .handler = [&alerts](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateAlertRuleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto rule,
                                             alerts.CreateRule(ctx.principal(), request));
                     auto body = monitoring::ToApi(rule);
                     return gateway::CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "alert-rules:create",
                   .operation_id = "createAlertRule",
                   .summary = "Create an alert rule",
                   .tag = "Alerts",
                   .request_body = Schema<api::CreateAlertRuleRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::AlertRule>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/alert-rules/{id}",
                   .handler = [&alerts](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<AlertRuleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto rule, alerts.GetRule(ctx.principal(), id.str()));
                     return ObjectResponse(ctx, monitoring::ToApi(rule));
                   },
                   .permission = "alert-rules:read",
                   .operation_id = "getAlertRule",
                   .summary = "Get an alert rule",
                   .tag = "Alerts",
                   .response_body = Schema<api::AlertRule>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/alert-rules/{id}",
                   .handler = [&alerts](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<AlertRuleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateAlertRuleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto rule, alerts.UpdateRule(ctx.principal(), id.str(), patch, version));
                     return ObjectResponse(ctx, monitoring::ToApi(rule));
                   },
                   .permission = "alert-rules:update",
                   .operation_id = "updateAlertRule",
                   .summary = "Tune, enable or disable an alert rule (JSON merge patch)",
                   .tag = "Alerts",
                   .request_body = Schema<api::UpdateAlertRuleRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::AlertRule>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/alert-rules/{id}",
                   .handler = [&alerts](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<AlertRuleId>("id"));
                     HANGAR_TRY(alerts.DeleteRule(ctx.principal(), id.str()));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "alert-rules:delete",
                   .operation_id = "deleteAlertRule",
                   .summary = "Delete an alert rule (built-in rules can only be disabled)",
                   .tag = "Alerts",
                   .success_status = 204});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/alerts",
            .handler = [&alerts, alert_to_api](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto query,
                                      gateway::ParseListQuery(ctx.query(), store::AlertListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, alerts.ListAlerts(ctx.principal(), query));
              return ListResponse<api::AlertList>(ctx, page, alert_to_api);
            },
            .permission = "alerts:read",
            .operation_id = "listAlerts",
            .summary = "List alerts: pending, firing and resolved",
            .tag = "Alerts",
            .response_body = Schema<api::AlertList>(),
            .list = &store::AlertListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/alerts/{id}",
                   .handler = [&alerts](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<AlertId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto alert,
                                             alerts.GetAlert(ctx.principal(), id.str()));
                     return ObjectResponse(ctx, monitoring::ToApi(alert));
                   },
                   .permission = "alerts:read",
                   .operation_id = "getAlert",
                   .summary = "Get an alert",
                   .tag = "Alerts",
                   .response_body = Schema<api::Alert>()});
}

}  // namespace hangar::routes
