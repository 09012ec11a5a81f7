#include "gateway/list_query.h"
#include "routes/routes.h"
#include "store/identity_repos.h"

namespace hangar::routes {

using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

void AddEventRoutes(gateway::Router& router, events::EventService& events) {
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/events",
                   .handler = [&events](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::EventListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, events.ListEvents(ctx.principal(), query));
                     return gateway::ListResponse<api::EventList>(
                         ctx, page, [](const auto& record) { return events::ToApi(record); });
                   },
                   .permission = "events:read",
                   .operation_id = "listEvents",
                   .summary = "The organisation's events (CloudEvents), newest first",
                   .tag = "Events",
                   .response_body = Schema<api::EventList>(),
                   .list = &store::EventListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/audit",
                   .handler = [&events](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::AuditListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, events.ListAudit(ctx.principal(), query));
                     return gateway::ListResponse<api::EventList>(
                         ctx, page, [](const auto& record) { return events::ToApi(record); });
                   },
                   .permission = "audit:read",
                   .operation_id = "listAudit",
                   .summary = "The organisation's audit log: who did what, from where, with what "
                              "outcome (newest first)",
                   .tag = "Audit",
                   .response_body = Schema<api::EventList>(),
                   .list = &store::AuditListSpec()});
}

}  // namespace hangar::routes
