// Snapshots: POST /api/v1/instances/{id}/snapshot|clone|migrate, /api/v1/snapshots, and the
// agents' transfers of snapshot archives (/api/v1/agent/nodes/{id}/snapshots/{snapshot}/…).
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

// The largest archive piece an agent uploads or downloads in one call. Uploads stay under the
// server's request body limit (1 MiB by default).
constexpr int64_t kMaxPiece = 4 << 20;

// An optional JSON body: an empty one is the request's defaults.
template <typename T>
Result<T> OptionalBody(RequestContext& ctx) {
  if (ctx.request().body().empty()) return T{};
  return ctx.Body<T>();
}

gateway::SchemaFn BinarySchema() {
  return [](gateway::SchemaRegistry&) {
    return boost::json::value{{"type", "string"}, {"format", "binary"}};
  };
}

api::Instance ToApi(const workloads::InstanceService& instances, const workloads::InstanceView& v) {
  return workloads::ToApiInstance(v.record, instances.clock().Now(), v.queue);
}

}  // namespace

void AddSnapshotRoutes(gateway::Router& router, workloads::InstanceService& instances,
                       workloads::SnapshotService& snapshots) {
  router.Add(
      Route{.method = verb::post,
            .path = "/api/v1/instances/{id}/snapshot",
            .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
              // An instance the caller cannot see is a 404 whatever the body says.
              HANGAR_TRY(instances.Get(ctx.principal(), id));
              HANGAR_ASSIGN_OR_RETURN(auto body, OptionalBody<api::CreateSnapshotRequest>(ctx));
              HANGAR_ASSIGN_OR_RETURN(auto snap, instances.Snapshot(ctx.principal(), id, body));
              auto out = workloads::ToApiSnapshot(snap);
              http::Response response = JsonResponse(ctx, 202, out, out.etag);
              response.set(http::bhttp::field::location, out.links["self"]);
              return response;
            },
            .permission = "instances:update",
            .authorize = Authorize::kObject,
            .operation_id = "snapshotInstance",
            .summary = "Save the instance's workspace as a named snapshot (202: pending until its "
                       "node uploaded it)",
            .tag = "Instances",
            .request_body = Schema<api::CreateSnapshotRequest>(),
            .success_status = 202,
            .response_body = Schema<api::Snapshot>()});
  router.Add(
      Route{.method = verb::post,
            .path = "/api/v1/instances/{id}/clone",
            .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
              HANGAR_TRY(instances.Get(ctx.principal(), id));
              HANGAR_ASSIGN_OR_RETURN(auto body, OptionalBody<api::CloneInstanceRequest>(ctx));
              HANGAR_ASSIGN_OR_RETURN(auto view, instances.Clone(ctx.principal(), id, body));
              auto out = ToApi(instances, view);
              return gateway::CreatedResponse(ctx, out, out.links["self"]);
            },
            .permission = "instances:create",
            .authorize = Authorize::kObject,
            .operation_id = "cloneInstance",
            .summary = "A new instance like this one, starting from a snapshot of its workspace "
                       "(taken now, or the one named)",
            .tag = "Instances",
            .request_body = Schema<api::CloneInstanceRequest>(),
            .success_status = 201,
            .response_body = Schema<api::Instance>()});
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/instances/{id}/migrate",
      .handler = [&instances](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
        HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
        HANGAR_TRY(instances.Get(ctx.principal(), id));
        HANGAR_ASSIGN_OR_RETURN(auto body, OptionalBody<api::MigrateInstanceRequest>(ctx));
        HANGAR_ASSIGN_OR_RETURN(auto view, instances.Migrate(ctx.principal(), id, body, version));
        auto out = ToApi(instances, view);
        return JsonResponse(ctx, 202, out, out.etag);
      },
      .permission = "instances:update",
      .authorize = Authorize::kObject,
      .operation_id = "migrateInstance",
      .summary = "Move a running instance to another node: snapshot, stop here, place there, "
                 "restore, run (202; follow its state)",
      .tag = "Instances",
      .request_body = Schema<api::MigrateInstanceRequest>(),
      .success_status = 202,
      .response_body = Schema<api::Instance>()});

  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/snapshots",
            .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::SnapshotListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, snapshots.List(ctx.principal(), query));
              return gateway::ListResponse<api::SnapshotList>(ctx, page, workloads::ToApiSnapshot);
            },
            .permission = "instances:read",
            .authorize = Authorize::kObject,
            .operation_id = "listSnapshots",
            .summary = "List the snapshots you can see",
            .tag = "Snapshots",
            .response_body = Schema<api::SnapshotList>(),
            .list = &store::SnapshotListSpec()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/snapshots/{id}",
                   .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto snap, snapshots.Get(ctx.principal(), id));
                     return gateway::ObjectResponse(ctx, workloads::ToApiSnapshot(snap));
                   },
                   .permission = "instances:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getSnapshot",
                   .summary = "Get a snapshot: its state, size and checksum",
                   .tag = "Snapshots",
                   .response_body = Schema<api::Snapshot>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/snapshots/{id}",
                   .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_TRY(snapshots.Delete(ctx.principal(), id, version));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "instances:delete",
                   .authorize = Authorize::kObject,
                   .operation_id = "deleteSnapshot",
                   .summary = "Delete a ready or failed snapshot and its archive",
                   .tag = "Snapshots",
                   .success_status = 204});

  // ---- Agents ----
  router.Add(Route{
      .method = verb::put,
      .path = "/api/v1/agent/nodes/{id}/snapshots/{snapshot}/content",
      .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto node, ctx.PathId<NodeId>("id"));
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("snapshot"));
        HANGAR_ASSIGN_OR_RETURN(int64_t offset, IntParam(ctx, "offset", 0, 0, INT64_MAX / 2));
        HANGAR_ASSIGN_OR_RETURN(
            auto answer, snapshots.Upload(ctx.principal(), node, id, offset, ctx.request().body()));
        return JsonResponse(ctx, 200, answer);
      },
      .permission = "nodes:report",
      .operation_id = "uploadSnapshotPiece",
      .summary = "Upload a piece of a snapshot's archive at ?offset= (agents; node credential). "
                 "Pieces the server holds already are accepted again",
      .tag = "Agents",
      .request_body = BinarySchema(),
      .content_types = {"application/octet-stream"},
      .response_body = Schema<api::SnapshotUploadAnswer>(),
      .query_params = {
          QueryParam("offset", store::FieldType::kInt, "Where the piece starts in the archive.")}});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/agent/nodes/{id}/snapshots/{snapshot}/complete",
                   .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto node, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("snapshot"));
                     HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::CompleteSnapshotRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto snap,
                                             snapshots.Complete(ctx.principal(), node, id, body));
                     return gateway::ObjectResponse(ctx, workloads::ToApiSnapshot(snap));
                   },
                   .permission = "nodes:report",
                   .operation_id = "completeSnapshot",
                   .summary = "The archive is uploaded: check its size and SHA-256 and make "
                              "the snapshot ready (agents)",
                   .tag = "Agents",
                   .request_body = Schema<api::CompleteSnapshotRequest>(),
                   .response_body = Schema<api::Snapshot>(),
                   .idempotent_post = false});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/agent/nodes/{id}/snapshots/{snapshot}/fail",
                   .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto node, ctx.PathId<NodeId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("snapshot"));
                     HANGAR_ASSIGN_OR_RETURN(auto body, ctx.Body<api::FailSnapshotRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto snap,
                                             snapshots.Fail(ctx.principal(), node, id, body));
                     return gateway::ObjectResponse(ctx, workloads::ToApiSnapshot(snap));
                   },
                   .permission = "nodes:report",
                   .operation_id = "failSnapshot",
                   .summary = "The node could not take the snapshot (agents)",
                   .tag = "Agents",
                   .request_body = Schema<api::FailSnapshotRequest>(),
                   .response_body = Schema<api::Snapshot>(),
                   .idempotent_post = false});
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/agent/nodes/{id}/snapshots/{snapshot}/content",
      .handler = [&snapshots](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto node, ctx.PathId<NodeId>("id"));
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<SnapshotId>("snapshot"));
        HANGAR_ASSIGN_OR_RETURN(int64_t offset, IntParam(ctx, "offset", 0, 0, INT64_MAX / 2));
        HANGAR_ASSIGN_OR_RETURN(int64_t length, IntParam(ctx, "length", kMaxPiece, 1, kMaxPiece));
        HANGAR_ASSIGN_OR_RETURN(auto data,
                                snapshots.Download(ctx.principal(), node, id, offset, length));
        http::Response response{http::bhttp::status::ok, ctx.request().version()};
        response.set(http::bhttp::field::content_type, "application/octet-stream");
        response.body() = std::move(data);
        response.prepare_payload();
        return response;
      },
      .permission = "nodes:report",
      .operation_id = "downloadSnapshotPiece",
      .summary = "A range of a ready snapshot's archive, for a node restoring it (agents)",
      .tag = "Agents",
      .response_body = BinarySchema(),
      .response_content_type = "application/octet-stream",
      .query_params = {
          QueryParam("offset", store::FieldType::kInt, "Where the range starts."),
          QueryParam("length", store::FieldType::kInt, "At most this many bytes (<= 4 MiB).")}});
}

}  // namespace hangar::routes
