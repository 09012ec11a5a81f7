// Advance reservations: /api/v1/reservations (book, list, read, cancel) and
// /api/v1/reservations/calendar (what is booked when, per GPU type).
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

void AddReservationRoutes(gateway::Router& router, workloads::ReservationService& reservations) {
  router.Add(
      Route{.method = verb::post,
            .path = "/api/v1/reservations",
            .handler = [&reservations](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateReservationRequest>());
              HANGAR_ASSIGN_OR_RETURN(auto created, reservations.Create(ctx.principal(), request));
              auto body = reservations.ToApi(created);
              return gateway::CreatedResponse(ctx, body, body.links["self"]);
            },
            .permission = "reservations:create",
            .authorize = Authorize::kObject,
            .operation_id = "createReservation",
            .summary = "Book GPUs of one type for a project over a future window (checked against "
                       "the type's capacity and the project's quota)",
            .tag = "Reservations",
            .request_body = Schema<api::CreateReservationRequest>(),
            .success_status = 201,
            .response_body = Schema<api::Reservation>()});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/reservations",
            .handler = [&reservations](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::ReservationListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, reservations.List(ctx.principal(), query));
              HANGAR_ASSIGN_OR_RETURN(auto in_use, reservations.InUse(ctx.principal().org_id));
              return gateway::ListResponse<api::ReservationList>(
                  ctx, page, [&](const store::ReservationRecord& r) {
                    auto it = in_use.find(r.id);
                    return reservations.ToApi(r, it == in_use.end() ? 0 : it->second);
                  });
            },
            .permission = "reservations:read",
            .authorize = Authorize::kObject,
            .operation_id = "listReservations",
            .summary = "List the reservations you can see",
            .tag = "Reservations",
            .response_body = Schema<api::ReservationList>(),
            .list = &store::ReservationListSpec()});
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/reservations/calendar",
      .handler = [&reservations](RequestContext& ctx) -> Result<http::Response> {
        auto param = [&](std::string_view name) -> std::optional<std::string> {
          auto v = ctx.QueryValue(name);
          return v ? std::optional<std::string>(*v) : std::nullopt;
        };
        HANGAR_ASSIGN_OR_RETURN(
            auto calendar,
            reservations.Calendar(ctx.principal(), param("gpu_type"), param("from"), param("to")));
        return JsonResponse(ctx, 200, calendar);
      },
      .permission = "reservations:read",
      .authorize = Authorize::kObject,
      .operation_id = "getReservationCalendar",
      .summary = "The reservation calendar: per GPU type, its capacity and, between from and "
                 "to, how many GPUs are booked and free at each time",
      .tag = "Reservations",
      .response_body = Schema<api::ReservationCalendar>(),
      .query_params = {
          QueryParam("gpu_type", store::FieldType::kText, "One GPU type (default: every type)."),
          QueryParam("from", store::FieldType::kTime, "RFC 3339; default now."),
          QueryParam("to", store::FieldType::kTime,
                     "RFC 3339; default 7 days after from, at most 92 days after it.")}});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/reservations/{id}",
                   .handler = [&reservations](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ReservationId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto r, reservations.Get(ctx.principal(), id));
                     HANGAR_ASSIGN_OR_RETURN(auto in_use, reservations.InUse(r.org_id));
                     return gateway::ObjectResponse(ctx, reservations.ToApi(r, in_use[r.id]));
                   },
                   .permission = "reservations:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getReservation",
                   .summary = "Get a reservation: its state and, while active, the GPUs set "
                              "aside for it",
                   .tag = "Reservations",
                   .response_body = Schema<api::Reservation>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/reservations/{id}",
                   .handler = [&reservations](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ReservationId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto r,
                                             reservations.Cancel(ctx.principal(), id, version));
                     auto body = reservations.ToApi(r);
                     return JsonResponse(ctx, 200, body, body.etag);
                   },
                   .permission = "reservations:delete",
                   .authorize = Authorize::kObject,
                   .operation_id = "cancelReservation",
                   .summary = "Cancel a reservation: its GPUs are free at once; its running "
                              "work goes on as ordinary work",
                   .tag = "Reservations",
                   .response_body = Schema<api::Reservation>()});
}

}  // namespace hangar::routes
