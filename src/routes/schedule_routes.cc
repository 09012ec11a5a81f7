// Recurring jobs: /api/v1/schedules (create, list, read, change, delete) and
// /api/v1/schedules/{id}/trigger (a run now).
#include "gateway/list_query.h"
#include "routes/route_params.h"
#include "routes/routes.h"
#include "workloads/views.h"

namespace hangar::routes {

using gateway::Authorize;
using gateway::JsonResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

void AddScheduleRoutes(gateway::Router& router, workloads::ScheduleService& schedules) {
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/schedules",
                   .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateScheduleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto created,
                                             schedules.Create(ctx.principal(), request));
                     auto body = schedules.ToApi(created);
                     return gateway::CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "jobs:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "createSchedule",
                   .summary = "Create a recurring job: a cron expression in a time zone, and the "
                              "job each run submits",
                   .tag = "Schedules",
                   .request_body = Schema<api::CreateScheduleRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Schedule>()});
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/schedules",
      .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto query,
                                gateway::ParseListQuery(ctx.query(), store::ScheduleListSpec()));
        HANGAR_ASSIGN_OR_RETURN(auto page, schedules.List(ctx.principal(), query));
        return gateway::ListResponse<api::ScheduleList>(
            ctx, page, [&schedules](const store::ScheduleRecord& r) { return schedules.ToApi(r); });
      },
      .permission = "jobs:read",
      .authorize = Authorize::kObject,
      .operation_id = "listSchedules",
      .summary = "List the schedules you can see, with their next run times",
      .tag = "Schedules",
      .response_body = Schema<api::ScheduleList>(),
      .list = &store::ScheduleListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/schedules/{id}",
                   .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ScheduleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto schedule, schedules.Get(ctx.principal(), id));
                     return gateway::ObjectResponse(ctx, schedules.ToApi(schedule));
                   },
                   .permission = "jobs:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getSchedule",
                   .summary = "Get a schedule: its next run times and how its latest run went",
                   .tag = "Schedules",
                   .response_body = Schema<api::Schedule>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/schedules/{id}",
                   .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ScheduleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateScheduleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto schedule,
                                             schedules.Update(ctx.principal(), id, patch, version));
                     auto body = schedules.ToApi(schedule);
                     return JsonResponse(ctx, 200, body, body.etag);
                   },
                   .permission = "jobs:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "updateSchedule",
                   .summary = "Change a schedule's timetable, policies or job; suspend or resume "
                              "it (JSON merge patch)",
                   .tag = "Schedules",
                   .request_body = Schema<api::UpdateScheduleRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::Schedule>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/schedules/{id}",
                   .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ScheduleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_TRY(schedules.Delete(ctx.principal(), id, version));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "jobs:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "deleteSchedule",
                   .summary = "Delete a schedule (the jobs it submitted stay)",
                   .tag = "Schedules",
                   .success_status = 204});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/schedules/{id}/trigger",
                   .handler = [&schedules](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ScheduleId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto jobs, schedules.Trigger(ctx.principal(), id));
                     const auto& first = jobs.front();
                     auto body =
                         workloads::ToApiJob(first.record, first.spec, first.as_of, first.queue);
                     return gateway::CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "jobs:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "triggerSchedule",
                   .summary = "Run a schedule's job now, outside its cron times (the job is "
                              "returned; the timetable is unchanged)",
                   .tag = "Schedules",
                   .success_status = 201,
                   .response_body = Schema<api::Job>()});
}

}  // namespace hangar::routes
