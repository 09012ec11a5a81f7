// Router: the route table of the public API and the per-request context handlers see.
//
// A route is a method, a path pattern ("/api/v1/nodes/{id}"), who may call it, its handler,
// and its documentation (summary, request/response schemas, list spec). The same table drives
// dispatch and the OpenAPI document (gateway/openapi.h), so every route is documented by
// construction. Literal segments win over parameters ("/nodes/join-tokens" before
// "/nodes/{id}").
//
// Handlers translate HTTP to service calls and back, nothing else; they return Result so that
// errors reach the one problem+json mapping (gateway/problem.h).
//
// Thread-safety: routes are added before the server starts; afterwards the Router is read-only
// and Match() may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json_codec.h"
#include "gateway/schema.h"
#include "http/server.h"
#include "identity/principal.h"
#include "store/repos.h"

namespace hangar::gateway {

using http::bhttp::verb;

// Who may call a route: which credential it takes.
enum class Access {
  kPublic,     // no credentials (health, docs, sign-in)
  kApiKey,     // an API key or an OAuth access token; then authorised (see Authorize)
  kJoinToken,  // a node join token, checked by the handler's service
};

// Where a kApiKey route's permission is checked (default deny: every kApiKey route names one).
enum class Authorize {
  kOrganization,  // the gateway checks `permission` at organisation scope before the handler
  kObject,        // the service checks `permission` at the object's own scope (team, project),
                  // which it learns by loading it; 404 when the caller may not read it
  kSelf,          // any authenticated caller acting on itself (whoami, its own keys); the
                  // service checks `permission` when the object belongs to someone else
};

struct Route;

class RequestContext {
 public:
  RequestContext(http::Request& request, std::string request_id, std::string path,
                 std::vector<std::pair<std::string, std::string>> query)
      : request_(request),
        request_id_(std::move(request_id)),
        path_(std::move(path)),
        query_(std::move(query)) {}

  http::Request& request() { return request_; }
  const http::Request& request() const { return request_; }
  const std::string& request_id() const { return request_id_; }
  const std::string& path() const { return path_; }
  // The client's IP address (without port), for per-address limits and audit.
  const std::string& client_address() const { return client_address_; }
  const std::vector<std::pair<std::string, std::string>>& query() const { return query_; }
  std::optional<std::string_view> QueryValue(std::string_view name) const;

  // The value of a `{name}` path parameter.
  const std::string& PathParam(const std::string& name) const { return path_params_.at(name); }
  // A path parameter parsed as a typed id; kMalformed (400) naming "path:NAME" otherwise: a
  // string that cannot be an id of this kind is a malformed request, not a missing object.
  template <typename IdT>
  Result<IdT> PathId(const std::string& name) const {
    auto id = IdT::Parse(PathParam(name));
    if (!id) {
      return std::unexpected(Error::Malformed(id.error().message())
                                 .Field("path:" + name, "is not a valid id")
                                 .Hint("ids look like " + std::string(IdT::kPrefix) +
                                       "_ followed by 26 characters, as returned by the API"));
    }
    return id;
  }

  // The authenticated caller (set for kApiKey routes).
  const identity::Principal& principal() const { return *principal_; }
  bool authenticated() const { return principal_.has_value(); }
  // The bearer credential as sent (kJoinToken routes hand it to their service).
  const std::string& bearer() const { return bearer_; }

  // Decodes the JSON body strictly as T (400 for bad JSON, 422 naming every bad field).
  template <typename T>
  Result<T> Body() const {
    return json::ParseAs<T>(request_.body());
  }
  // Decodes an application/x-www-form-urlencoded body (OAuth endpoints, HTML forms); a name
  // given twice is kMalformed (RFC 6749 §3.1: parameters must not repeat).
  Result<std::map<std::string, std::string>> FormBody() const;
  // The version named by If-Match ("\"3\""), nullopt when absent or "*"; kPreconditionFailed
  // for a value that can never match.
  Result<std::optional<int64_t>> IfMatchVersion() const;

 private:
  friend class Gateway;
  friend http::Response StreamResponse(RequestContext& ctx,
                                       std::shared_ptr<http::StreamSource> source,
                                       std::string_view content_type);
  http::Request& request_;
  std::string request_id_;
  std::string path_;
  std::vector<std::pair<std::string, std::string>> query_;
  std::map<std::string, std::string> path_params_;
  std::optional<identity::Principal> principal_;
  std::string bearer_;
  std::string client_address_;
  const Route* route_ = nullptr;    // the matched route, once routed
  std::string permission_checked_;  // the permission the gateway authorised, for the audit
  std::string rate_limit_policy_;   // header values set by the rate limiter
  std::string rate_limit_state_;
  int64_t retry_after_seconds_ = 0;
  std::shared_ptr<http::StreamSource> stream_;  // set by StreamResponse
};

using Handler = std::function<Result<http::Response>(RequestContext&)>;

struct Route {
  verb method = verb::get;
  std::string path;  // "/api/v1/nodes/{id}"
  Access access = Access::kApiKey;
  Handler handler;
  // Authorisation: the permission ("resource:verb") and where it is checked.
  std::string permission;
  Authorize authorize = Authorize::kOrganization;
  // Documentation, also used for validation:
  std::string operation_id;  // "getNode"
  std::string summary;
  std::string tag;                                                // "Nodes"
  SchemaFn request_body;                                          // null: the route takes no body
  std::vector<std::string> content_types = {"application/json"};  // accepted request media
  unsigned success_status = 200;
  SchemaFn response_body;  // null: no body (204)
  std::string response_content_type = "application/json";
  const store::ListSpec* list = nullptr;  // list routes: paging, sorting and filter parameters
  bool idempotent_post = true;            // POST honours Idempotency-Key
  bool hidden = false;                    // not in the OpenAPI document (docs assets)
  bool any_query = false;  // takes query parameters it validates itself (OAuth's pages)
  // Other query parameters the route takes (not lists'); the handler parses their values.
  std::vector<store::ListField> query_params;
};

struct RouteMatch {
  const Route* route = nullptr;
  std::map<std::string, std::string> params;
};

class Router {
 public:
  void Add(Route route);
  // kNotFound when no path matches; kMethodNotAllowed (message lists allowed methods, also in
  // `allowed`) when the path matches with another method. HEAD matches GET routes.
  Result<RouteMatch> Match(verb method, std::string_view path,
                           std::vector<std::string>* allowed = nullptr) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{id}" marks a parameter
    size_t route_index;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// ---- Response helpers for handlers --------------------------------------------------------------

// A JSON response with `body` encoded by the codec; `etag` (already quoted) is set when given.
template <typename T>
http::Response JsonResponse(const RequestContext& ctx, unsigned status, const T& body,
                            std::string_view etag = {});

http::Response EmptyResponse(const RequestContext& ctx, unsigned status);

// A streamed response (Server-Sent Events by default): 200 with `content_type` and
// `Cache-Control: no-cache`, whose body `source` produces after the handler returns (see
// http::StreamSource). The middleware after the handler still applies to the head (headers,
// audit); conditional GET, idempotency replay and gzip never do. For GET routes.
http::Response StreamResponse(RequestContext& ctx, std::shared_ptr<http::StreamSource> source,
                              std::string_view content_type = "text/event-stream");

// 200 with an API object and its ETag (every API object has an `etag` member).
template <typename Body>
http::Response ObjectResponse(const RequestContext& ctx, const Body& body) {
  return JsonResponse(ctx, 200, body, body.etag);
}

// 201 with the created object, its ETag and `Location: <location>`.
template <typename Body>
http::Response CreatedResponse(const RequestContext& ctx, const Body& body,
                               std::string_view location) {
  http::Response response = JsonResponse(ctx, 201, body, body.etag);
  response.set(http::bhttp::field::location, location);
  return response;
}

// Builds the `Link: <…>; rel="next"` URL: this request's path and query with page_token
// replaced.
std::string NextPageLink(const RequestContext& ctx, std::string_view next_page_token);

// A list response: `{"items": [...], "next_page_token": ...}` of type ListT with a Link header.
template <typename ListT, typename Record, typename ToApiFn>
http::Response ListResponse(const RequestContext& ctx, const store::Page<Record>& page,
                            ToApiFn to_api) {
  ListT list;
  list.items.reserve(page.items.size());
  for (const auto& record : page.items) list.items.push_back(to_api(record));
  if (!page.next_page_token.empty()) list.next_page_token = page.next_page_token;
  http::Response response = JsonResponse(ctx, 200, list);
  if (!page.next_page_token.empty()) {
    response.set(http::bhttp::field::link,
                 "<" + NextPageLink(ctx, page.next_page_token) + ">; rel=\"next\"");
  }
  return response;
}

http::Response MakeJsonResponse(const RequestContext& ctx, unsigned status, std::string body,
                                std::string_view etag);

template <typename T>
http::Response JsonResponse(const RequestContext& ctx, unsigned status, const T& body,
                            std::string_view etag) {
  return MakeJsonResponse(ctx, status, json::Serialize(body), etag);
}

}  // namespace hangar::gateway
