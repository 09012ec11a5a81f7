#include "gateway/list_query.h"
#include "routes/routes.h"

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
                   .operation_id = "listEvents",
                   .summary = "The organisation's events (CloudEvents), newest first",
                   .tag = "Events",
                   .response_body = Schema<api::EventList>(),
                   .list = &store::EventListSpec()});
}

}  // namespace hangar::routes
