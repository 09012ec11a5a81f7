#include <charconv>

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

namespace {

api::Job ToApi(const workloads::JobView& v) {
  return workloads::ToApiJob(v.record, v.spec, v.as_of, v.queue);
}

// A job action (cancel, hold, release, requeue): 202 while the run is being stopped.
template <typename Fn>
Route ActionRoute(std::string action, std::string summary, Fn fn) {
  return Route{.method = verb::post,
               .path = "/api/v1/jobs/{id}/" + action,
               .handler = [fn](RequestContext& ctx) -> Result<http::Response> {
                 HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<JobId>("id"));
                 HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                 HANGAR_ASSIGN_OR_RETURN(auto job, fn(ctx.principal(), id, version));
                 auto body = ToApi(job);
                 unsigned status = job.record.state == store::WorkloadState::stopping ? 202 : 200;
                 return JsonResponse(ctx, status, body, body.etag);
               },
               .permission = "jobs:update",
               .authorize = Authorize::kObject,
               .operation_id = action + "Job",
               .summary = std::move(summary),
               .tag = "Jobs",
               .response_body = Schema<api::Job>()};
}

}  // namespace

void AddWorkloadRoutes(gateway::Router& router, workloads::JobService& jobs) {
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/jobs",
                   .handler = [&jobs](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::SubmitJobRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto created, jobs.Submit(ctx.principal(), request));
                     auto body = ToApi(created.front());
                     return gateway::CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "jobs:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "submitJob",
                   .summary = "Submit a batch job (or an array of them: the first is returned, "
                              "list the rest with ?array_id=)",
                   .tag = "Jobs",
                   .request_body = Schema<api::SubmitJobRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Job>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/jobs",
                   .handler = [&jobs](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::JobListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, jobs.List(ctx.principal(), query));
                     return gateway::ListResponse<api::JobList>(
                         ctx, page, [](const workloads::JobView& v) { return ToApi(v); });
                   },
                   .permission = "jobs:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "listJobs",
                   .summary = "List the jobs you can see",
                   .tag = "Jobs",
                   .response_body = Schema<api::JobList>(),
                   .list = &store::JobListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/jobs/{id}",
                   .handler = [&jobs](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<JobId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto job, jobs.Get(ctx.principal(), id));
                     return gateway::ObjectResponse(ctx, ToApi(job));
                   },
                   .permission = "jobs:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getJob",
                   .summary = "Get a job: its state, placement, exit status and, while it "
                              "waits, why (reason, queue position, estimated start)",
                   .tag = "Jobs",
                   .response_body = Schema<api::Job>()});
  router.Add(ActionRoute("cancel",
                         "Cancel a job (a running one is stopped: SIGTERM, then "
                         "SIGKILL after its grace period)",
                         [&jobs](const auto& who, const auto& id, auto version) {
                           return jobs.Cancel(who, id, version);
                         }));
  router.Add(ActionRoute("hold", "Hold a pending job: it is not started until released",
                         [&jobs](const auto& who, const auto& id, auto version) {
                           return jobs.Hold(who, id, version);
                         }));
  router.Add(ActionRoute("release", "Release a held job into the queue",
                         [&jobs](const auto& who, const auto& id, auto version) {
                           return jobs.Release(who, id, version);
                         }));
  router.Add(ActionRoute("requeue", "Queue a job again (a running one is stopped first)",
                         [&jobs](const auto& who, const auto& id, auto version) {
                           return jobs.Requeue(who, id, version);
                         }));
  // GET /api/v1/jobs/{id}/logs is in log_routes.cc, with the other logs routes.

  // ---- Agents ----
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/agent/nodes/{id}/assignments",
      .handler = [&jobs](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
        HANGAR_ASSIGN_OR_RETURN(int64_t wait, IntParam(ctx, "wait_seconds", 0, 0, 60));
        std::string known(ctx.QueryValue("known").value_or(""));
        HANGAR_ASSIGN_OR_RETURN(
            auto list, jobs.Assignments(ctx.principal(), id, known, std::chrono::seconds(wait)));
        return JsonResponse(ctx, 200, list);
      },
      .permission = "nodes:report",
      .operation_id = "getNodeAssignments",
      .summary = "What the node should run or stop (agents; node credential). With ?known= "
                 "the current revision, waits up to wait_seconds for a change",
      .tag = "Agents",
      .response_body = Schema<api::AssignmentList>(),
      .query_params = {
          QueryParam("wait_seconds", store::FieldType::kInt,
                     "Long poll: wait up to this long (0..60) for a change."),
          QueryParam("known", store::FieldType::kText, "The revision the agent already has.")}});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/agent/nodes/{id}/reports",
                   .handler = [&jobs](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto report, ctx.Body<api::NodeReport>());
                     HANGAR_ASSIGN_OR_RETURN(auto answer, jobs.Report(ctx.principal(), id, report));
                     return JsonResponse(ctx, 200, answer);
                   },
                   .permission = "nodes:report",
                   .operation_id = "reportNodeRuns",
                   .summary = "Report runs started and ended and their output (agents; node "
                              "credential). Repeating a report is harmless",
                   .tag = "Agents",
                   .request_body = Schema<api::NodeReport>(),
                   .response_body = Schema<api::NodeReportAnswer>(),
                   .idempotent_post = false});
}

}  // namespace hangar::routes
