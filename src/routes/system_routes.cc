#include "common/crypto.h"
#include "gateway/openapi.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Access;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

void AddPrometheusRoute(gateway::Router& router, const telemetry::Registry& registry,
                        PrometheusRouteOptions options) {
  // Compared as hashes: equal-length digests, so the comparison's time says nothing useful about
  // the token.
  std::string token_hash = options.bearer_token.empty() ? "" : Sha256Hex(options.bearer_token);
  router.Add(
      Route{.method = verb::get,
            .path = "/metrics",
            .access = Access::kPublic,
            .handler = [&registry, token_hash](RequestContext& ctx) -> Result<http::Response> {
              if (!token_hash.empty()) {
                auto header = ctx.request().find(http::bhttp::field::authorization);
                std::string_view value = header == ctx.request().end() ? "" : header->value();
                if (!value.starts_with("Bearer ") || Sha256Hex(value.substr(7)) != token_hash) {
                  return std::unexpected(
                      Error::Unauthenticated("/metrics needs the scrape token")
                          .Hint("send Authorization: Bearer <token> (Prometheus: `authorization: "
                                "{credentials_file: …}` in the scrape config)"));
                }
              }
              http::Response response{http::bhttp::status::ok, ctx.request().version()};
              response.set(http::bhttp::field::content_type, telemetry::kTextContentType);
              response.set(http::bhttp::field::cache_control, "no-store");
              registry.WriteText(response.body());
              response.prepare_payload();
              return response;
            },
            .operation_id = "getPrometheusMetrics",
            .summary = "This server's metrics in the Prometheus text format 0.0.4",
            .tag = "System",
            .response_body = Schema<std::string>(),
            .response_content_type = "text/plain"});
}

void AddSystemRoutes(gateway::Router& router, store::Store& store,
                     std::shared_ptr<const gateway::StaticFiles> docs, std::string version) {
  router.Add(Route{.method = verb::get,
                   .path = "/healthz",
                   .access = Access::kPublic,
                   .handler = [](RequestContext& ctx) -> Result<http::Response> {
                     return gateway::JsonResponse(ctx, 200, api::Health{"ok", std::nullopt});
                   },
                   .operation_id = "healthz",
                   .summary = "The process is alive",
                   .tag = "System",
                   .response_body = Schema<api::Health>()});
  router.Add(Route{.method = verb::get,
                   .path = "/readyz",
                   .access = Access::kPublic,
                   .handler = [&store](RequestContext& ctx) -> Result<http::Response> {
                     // Ready means the database answers (migrations ran before the listener
                     // opened).
                     if (auto ping = store.Ping(); !ping) {
                       // A problem (503 + Retry-After), like every other dependency failure.
                       return std::unexpected(
                           Error::Unavailable("the database is unreachable")
                               .Hint("check the database URL and that the server is up"));
                     }
                     return gateway::JsonResponse(ctx, 200, api::Health{"ok", std::nullopt});
                   },
                   .operation_id = "readyz",
                   .summary = "The database is reachable and migrated",
                   .tag = "System",
                   .response_body = Schema<api::Health>()});

  // The document describes every route added so far (this function is called last) plus itself.
  auto openapi = std::make_shared<std::string>();
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/openapi.json",
                   .access = Access::kPublic,
                   .handler = [openapi](RequestContext& ctx) -> Result<http::Response> {
                     return gateway::MakeJsonResponse(ctx, 200, *openapi, {});
                   },
                   .operation_id = "getOpenApi",
                   .summary = "This API's OpenAPI 3.1 document",
                   .tag = "System",
                   .response_body = Schema<boost::json::value>()});

  if (docs) {
    auto serve_docs = [docs](RequestContext& ctx) -> Result<http::Response> {
      return docs->Serve(ctx, "index.html");
    };
    router.Add(Route{.method = verb::get,
                     .path = "/docs",
                     .access = Access::kPublic,
                     .handler = serve_docs,
                     .hidden = true});
    router.Add(Route{.method = verb::get,
                     .path = "/docs/{file}",
                     .access = Access::kPublic,
                     .handler = [docs](RequestContext& ctx) -> Result<http::Response> {
                       return docs->Serve(ctx, ctx.PathParam("file"));
                     },
                     .hidden = true});
  }
  *openapi = boost::json::serialize(gateway::BuildOpenApi(
      router, {.title = "Hangar API",
               .version = std::move(version),
               .description = "Self-service GPU platform: inventory, nodes and agents. Errors "
                              "are RFC 9457 problem+json; lists use cursor pagination."}));
}

}  // namespace hangar::routes
