// /api/v1/instances (and /api/v1/gpus/provision): GPU instances and their lifecycle actions.
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

api::Instance ToApi(const workloads::InstanceService& instances, const workloads::InstanceView& v) {
  return workloads::ToApiInstance(v.record, instances.clock().Now(), v.queue);
}

// Create, or with ?dry_run=true estimate: the same body and validation either way.
Route CreateRoute(workloads::InstanceService& instances, std::string path, std::string operation,
                  std::string summary) {
  return Route{
      .method = verb::post,
      .path = std::move(path),
      .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(bool dry_run, BoolParam(ctx, "dry_run", false));
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateInstanceRequest>());
        if (dry_run) {
          HANGAR_ASSIGN_OR_RETURN(auto estimate, instances.Estimate(ctx.principal(), request));
          return JsonResponse(ctx, 200, estimate);
        }
        HANGAR_ASSIGN_OR_RETURN(auto created, instances.Create(ctx.principal(), request));
        auto body = ToApi(instances, created);
        return gateway::CreatedResponse(ctx, body, body.links["self"]);
      },
      .permission = "instances:create",
      .authorize = Authorize::kObject,
      .operation_id = std::move(operation),
      .summary = std::move(summary),
      .tag = "Instances",
      .request_body = Schema<api::CreateInstanceRequest>(),
      .success_status = 201,
      .response_body = Schema<api::Instance>(),
      .query_params = {QueryParam("dry_run", store::FieldType::kBool,
                                  "true: create nothing; answer an InstanceEstimate (feasibility, "
                                  "price, expected start, what blocks it).")}};
}

// An action without a body: 202 while the session is being stopped.
template <typename Fn>
Route ActionRoute(workloads::InstanceService& instances, std::string action, std::string permission,
                  std::string summary, Fn fn) {
  return Route{.method = verb::post,
               .path = "/api/v1/instances/{id}/" + action,
               .handler = [&instances, fn](RequestContext& ctx) -> Result<http::Response> {
                 HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
                 HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                 HANGAR_ASSIGN_OR_RETURN(auto view, fn(ctx, id, version));
                 auto body = ToApi(instances, view);
                 unsigned status = view.record.state == store::WorkloadState::stopping ? 202 : 200;
                 return JsonResponse(ctx, status, body, body.etag);
               },
               .permission = std::move(permission),
               .authorize = Authorize::kObject,
               .operation_id = action + "Instance",
               .summary = std::move(summary),
               .tag = "Instances",
               .response_body = Schema<api::Instance>()};
}

}  // namespace

void AddInstanceRoutes(gateway::Router& router, workloads::InstanceService& instances) {
  router.Add(CreateRoute(instances, "/api/v1/instances", "createInstance",
                         "Provision a GPU instance (?dry_run=true: estimate only)"));
  router.Add(CreateRoute(instances, "/api/v1/gpus/provision", "provisionGpus",
                         "Provision GPUs: the same as POST /api/v1/instances"));
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/instances",
            .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::InstanceListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, instances.List(ctx.principal(), query));
              return gateway::ListResponse<api::InstanceList>(
                  ctx, page,
                  [&instances](const workloads::InstanceView& v) { return ToApi(instances, v); });
            },
            .permission = "instances:read",
            .authorize = Authorize::kObject,
            .operation_id = "listInstances",
            .summary = "List the instances you can see",
            .tag = "Instances",
            .response_body = Schema<api::InstanceList>(),
            .list = &store::InstanceListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/instances/{id}",
                   .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto view, instances.Get(ctx.principal(), id));
                     return gateway::ObjectResponse(ctx, ToApi(instances, view));
                   },
                   .permission = "instances:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getInstance",
                   .summary = "Get an instance: state, placement, lease, cost so far and, while "
                              "it waits, why",
                   .tag = "Instances",
                   .response_body = Schema<api::Instance>()});
  router.Add(ActionRoute(instances, "start", "instances:update",
                         "Start a stopped or failed instance (queued for placement)",
                         [&instances](RequestContext& ctx, const InstanceId& id, auto version) {
                           return instances.Start(ctx.principal(), id, version);
                         }));
  router.Add(ActionRoute(instances, "stop", "instances:update",
                         "Stop an instance: its GPUs are released, its workspace kept",
                         [&instances](RequestContext& ctx, const InstanceId& id, auto version) {
                           return instances.Stop(ctx.principal(), id, version);
                         }));
  router.Add(ActionRoute(instances, "terminate", "instances:delete",
                         "Terminate an instance for good",
                         [&instances](RequestContext& ctx, const InstanceId& id, auto version) {
                           return instances.Terminate(ctx.principal(), id, version);
                         }));
  // DELETE is terminate (API.md): the same answer as POST …/terminate.
  router.Add(
      Route{.method = verb::delete_,
            .path = "/api/v1/instances/{id}",
            .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
              HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
              HANGAR_ASSIGN_OR_RETURN(auto view, instances.Terminate(ctx.principal(), id, version));
              auto body = ToApi(instances, view);
              unsigned status = view.record.state == store::WorkloadState::stopping ? 202 : 200;
              return JsonResponse(ctx, status, body, body.etag);
            },
            .permission = "instances:delete",
            .authorize = Authorize::kObject,
            .operation_id = "deleteInstance",
            .summary = "Terminate an instance (the same as POST …/terminate)",
            .tag = "Instances",
            .response_body = Schema<api::Instance>()});
  router.Add(
      ActionRoute(instances, "extend", "instances:update",
                  "Extend a running instance's lease by `seconds` (at most 30 days from its start)",
                  [&instances](RequestContext& ctx, const InstanceId& id,
                               auto version) -> Result<workloads::InstanceView> {
                    // An instance the caller cannot see is a 404 whatever the body says.
                    HANGAR_TRY(instances.Get(ctx.principal(), id));
                    HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::ExtendInstanceRequest>());
                    return instances.Extend(ctx.principal(), id, body, version);
                  }));
  router.Add(
      ActionRoute(instances, "resize", "instances:update",
                  "Change an instance's GPU count (a placed one is stopped and placed again)",
                  [&instances](RequestContext& ctx, const InstanceId& id,
                               auto version) -> Result<workloads::InstanceView> {
                    // An instance the caller cannot see is a 404 whatever the body says.
                    HANGAR_TRY(instances.Get(ctx.principal(), id));
                    HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::ResizeInstanceRequest>());
                    return instances.Resize(ctx.principal(), id, body, version);
                  }));
  // GET /api/v1/instances/{id}/logs is in log_routes.cc, with the other logs routes.
}

}  // namespace hangar::routes
