#include "fleet/views.h"
#include "gateway/list_query.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Access;
using gateway::JsonResponse;
using gateway::ListResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

namespace {
template <typename Record>
http::Response Created(const RequestContext& ctx, const Record& record, std::string_view kind) {
  auto body = fleet::ToApi(record);
  return gateway::CreatedResponse(ctx, body, "/api/v1/" + std::string(kind) + "/" + body.id);
}

template <typename Record>
http::Response One(const RequestContext& ctx, const Record& record) {
  return gateway::ObjectResponse(ctx, fleet::ToApi(record));
}

auto ToApiFn = [](const auto& record) { return fleet::ToApi(record); };
}  // namespace

void AddFleetRoutes(gateway::Router& router, fleet::FleetService& fleet) {
  // ---- GPU types ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/gpu-types",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query,
                         gateway::ParseListQuery(ctx.query(), store::GpuTypeListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, fleet.ListGpuTypes(ctx.principal(), query));
                     return ListResponse<api::GpuTypeList>(ctx, page, ToApiFn);
                   },
                   .permission = "gpu-types:read",
                   .operation_id = "listGpuTypes",
                   .summary = "List GPU types in the catalogue",
                   .tag = "GPU types",
                   .response_body = Schema<api::GpuTypeList>(),
                   .list = &store::GpuTypeListSpec()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/gpu-types",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateGpuTypeRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto type,
                                             fleet.CreateGpuType(ctx.principal(), request));
                     return Created(ctx, type, "gpu-types");
                   },
                   .permission = "gpu-types:create",
                   .operation_id = "createGpuType",
                   .summary = "Add a GPU type to the catalogue",
                   .tag = "GPU types",
                   .request_body = Schema<api::CreateGpuTypeRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::GpuType>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/gpu-types/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<GpuTypeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto type, fleet.GetGpuType(ctx.principal(), id));
                     return One(ctx, type);
                   },
                   .permission = "gpu-types:read",
                   .operation_id = "getGpuType",
                   .summary = "Get a GPU type",
                   .tag = "GPU types",
                   .response_body = Schema<api::GpuType>()});

  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/gpu-types/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<GpuTypeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateGpuTypeRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto type, fleet.UpdateGpuType(ctx.principal(), id, patch, version));
                     return One(ctx, type);
                   },
                   .permission = "gpu-types:update",
                   .operation_id = "updateGpuType",
                   .summary = "Rename a GPU type or set its price (JSON merge patch)",
                   .tag = "GPU types",
                   .request_body = Schema<api::UpdateGpuTypeRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::GpuType>()});

  // ---- Nodes ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/nodes",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::NodeListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, fleet.ListNodes(ctx.principal(), query));
                     return ListResponse<api::NodeList>(ctx, page, ToApiFn);
                   },
                   .permission = "nodes:read",
                   .operation_id = "listNodes",
                   .summary = "List nodes",
                   .tag = "Nodes",
                   .response_body = Schema<api::NodeList>(),
                   .list = &store::NodeListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/nodes/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto node, fleet.GetNode(ctx.principal(), id));
                     return One(ctx, node);
                   },
                   .permission = "nodes:read",
                   .operation_id = "getNode",
                   .summary = "Get a node",
                   .tag = "Nodes",
                   .response_body = Schema<api::Node>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/nodes/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateNodeRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto node,
                                             fleet.UpdateNode(ctx.principal(), id, patch, version));
                     return One(ctx, node);
                   },
                   .permission = "nodes:update",
                   .operation_id = "updateNode",
                   .summary = "Change a node's labels or cordon it (JSON merge patch)",
                   .tag = "Nodes",
                   .request_body = Schema<api::UpdateNodeRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::Node>()});

  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/nodes/{id}/drain",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::DrainNodeRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto node,
                                             fleet.DrainNode(ctx.principal(), id, request));
                     return One(ctx, node);
                   },
                   .permission = "nodes:update",
                   .operation_id = "drainNode",
                   .summary = "Cordon a node and move its work off (uncordon to end the drain)",
                   .tag = "Nodes",
                   .request_body = Schema<api::DrainNodeRequest>(),
                   .response_body = Schema<api::Node>()});

  // ---- Join tokens ----
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/nodes/join-tokens",
      .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateJoinTokenRequest>());
        HANGAR_ASSIGN_OR_RETURN(auto created, fleet.CreateJoinToken(ctx.principal(), request));
        api::JoinToken body = fleet::ToApi(created.record);
        body.token = created.secret;
        http::Response response = JsonResponse(ctx, 201, body, body.etag);
        response.set(http::bhttp::field::location, body.links["self"]);
        response.set(http::bhttp::field::cache_control, "no-store");
        return response;
      },
      .permission = "join-tokens:create",
      .operation_id = "createJoinToken",
      .summary = "Create a token that lets agents register nodes (the secret is shown once)",
      .tag = "Nodes",
      .request_body = Schema<api::CreateJoinTokenRequest>(),
      .success_status = 201,
      .response_body = Schema<api::JoinToken>()});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/nodes/join-tokens",
            .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::JoinTokenListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, fleet.ListJoinTokens(ctx.principal(), query));
              return ListResponse<api::JoinTokenList>(ctx, page, ToApiFn);
            },
            .permission = "join-tokens:read",
            .operation_id = "listJoinTokens",
            .summary = "List join tokens (without secrets)",
            .tag = "Nodes",
            .response_body = Schema<api::JoinTokenList>(),
            .list = &store::JoinTokenListSpec()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/nodes/join-tokens/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<JoinTokenId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_TRY(fleet.DeleteJoinToken(ctx.principal(), id, version));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "join-tokens:delete",
                   .operation_id = "deleteJoinToken",
                   .summary = "Revoke a join token",
                   .tag = "Nodes",
                   .success_status = 204});

  // ---- Agents ----
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/nodes/register",
      .access = Access::kJoinToken,
      .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::RegisterNodeRequest>());
        HANGAR_ASSIGN_OR_RETURN(auto registration, fleet.RegisterNode(ctx.bearer(), request));
        api::RegisterNodeResponse body{
            fleet::ToApi(registration.node), registration.credential,
            std::chrono::duration_cast<std::chrono::seconds>(fleet.options().heartbeat_interval)
                .count()};
        http::Response response = JsonResponse(ctx, 201, body);
        response.set(http::bhttp::field::location, body.node.links["self"]);
        response.set(http::bhttp::field::cache_control, "no-store");
        return response;
      },
      .operation_id = "registerNode",
      .summary = "Register a node (agents; authenticated with a join token)",
      .tag = "Agents",
      .request_body = Schema<api::RegisterNodeRequest>(),
      .success_status = 201,
      .response_body = Schema<api::RegisterNodeResponse>()});
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/nodes/{id}/heartbeat",
      .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<NodeId>("id"));
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::HeartbeatRequest>());
        HANGAR_ASSIGN_OR_RETURN(auto node, fleet.Heartbeat(ctx.principal(), id, request));
        api::HeartbeatResponse body{
            fleet::ToApi(node),
            std::chrono::duration_cast<std::chrono::seconds>(fleet.options().heartbeat_interval)
                .count()};
        return JsonResponse(ctx, 200, body);
      },
      .permission = "nodes:report",
      .operation_id = "heartbeatNode",
      .summary = "Report a node's liveness and GPU inventory (agents; node credential)",
      .tag = "Agents",
      .request_body = Schema<api::HeartbeatRequest>(),
      .response_body = Schema<api::HeartbeatResponse>(),
      .idempotent_post = false});

  // ---- GPUs ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/gpus",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::GpuListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, fleet.ListGpus(ctx.principal(), query));
                     return ListResponse<api::GpuList>(ctx, page, ToApiFn);
                   },
                   .permission = "gpus:read",
                   .operation_id = "listGpus",
                   .summary = "List GPUs",
                   .tag = "GPUs",
                   .response_body = Schema<api::GpuList>(),
                   .list = &store::GpuListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/gpus/{id}",
                   .handler = [&fleet](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<GpuId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto gpu, fleet.GetGpu(ctx.principal(), id));
                     return One(ctx, gpu);
                   },
                   .permission = "gpus:read",
                   .operation_id = "getGpu",
                   .summary = "Get a GPU",
                   .tag = "GPUs",
                   .response_body = Schema<api::Gpu>()});
}

}  // namespace hangar::routes
