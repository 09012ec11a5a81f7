// ApiClient: a small synchronous HTTP/1.1 client for hangard's public API, used by the CLI and
// the node agent.
//
// One ApiClient holds one keep-alive connection to the server at `base_url` and reuses it for
// every call; a connection the server closed while idle is re-opened transparently. Every
// operation (resolve, connect, write, read) is bounded by `timeout`. Bodies are JSON encoded and
// decoded with common/json_codec.h. Responses are read tolerantly: members this client does not
// know are ignored, so a newer server does not break an older CLI or agent.
//
// A call that fails yields an ApiError: a canonical Error (for code-based decisions), the HTTP
// status (0 when no response arrived) and the server's RFC 9457 problem when it sent one.
//
// Only plain http:// is supported for now; https:// is rejected at construction time with
// kInvalidArgument.
//
// Thread-safety: an ApiClient is not thread-safe; use one per thread.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/types.h"
#include "client/event_stream.h"
#include "common/error.h"
#include "common/json_codec.h"

// HANGAR_ASSIGN_OR_RETURN for ApiResult: binds the value or returns the ApiError.
#define HANGAR_ASSIGN_OR_RETURN_API(lhs, expr)                                               \
  auto HANGAR_CONCAT_(hangar_api_result_, __LINE__) = (expr);                                \
  if (!HANGAR_CONCAT_(hangar_api_result_, __LINE__)) {                                       \
    return std::unexpected(std::move(HANGAR_CONCAT_(hangar_api_result_, __LINE__)).error()); \
  }                                                                                          \
  lhs = std::move(*HANGAR_CONCAT_(hangar_api_result_, __LINE__))

namespace hangar::client {

// Why a call failed.
struct ApiError {
  Error error;                          // canonical code + message (title: detail, or transport)
  int http_status = 0;                  // 0: no HTTP response (unreachable, timeout, bad URL)
  std::optional<api::Problem> problem;  // the server's problem+json, when it sent one

  static ApiError FromError(Error e) { return ApiError{std::move(e), 0, std::nullopt}; }
};

template <typename T>
using ApiResult = std::expected<T, ApiError>;

// The canonical code for an HTTP status (the inverse of http/problem.cc's mapping).
ErrorCode ErrorCodeForHttpStatus(int status);

// Parses a problem+json body leniently (unknown members ignored). nullopt when it is not one.
std::optional<api::Problem> ParseProblem(std::string_view body);

// Decodes `body` as T, ignoring members T does not have (tolerant reader). Other mismatches
// (missing required member, wrong type) are kInternal: the server broke its contract.
template <typename T>
Result<T> DecodeResponse(std::string_view body) {
  HANGAR_ASSIGN_OR_RETURN(auto doc, json::Parse(body));
  T out{};
  json::DecodeContext ctx;
  json::DecodeInto(doc, out, "", ctx);
  if (ctx.failed()) {
    Error err = std::move(ctx).TakeError();
    for (const auto& v : err.violations()) {
      if (v.detail != "is not a known field") {
        return std::unexpected(
            Error::Internal("unexpected response from hangard: " + v.pointer + " " + v.detail));
      }
    }
  }
  return out;
}

// Serialises `patch` with its top-level null members removed.
std::string SerializeMergePatch(boost::json::value patch);

struct ClientOptions {
  std::string base_url;                       // "http://host:port[/prefix]"
  std::string token;                          // sent as "Authorization: Bearer <token>"
  std::chrono::milliseconds timeout{30'000};  // per network operation
  std::string user_agent = "hangar-client";
};

// One raw HTTP exchange.
struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "PATCH", "DELETE"
  std::string target;  // path + query under the base URL: "/api/v1/gpus"
  std::string body;    // empty: no body
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::optional<std::string> token;  // overrides ClientOptions::token for this call
};

class ApiClient {
 public:
  // kInvalidArgument when `base_url` is not an absolute http:// URL (or is https://).
  static Result<std::unique_ptr<ApiClient>> Create(ClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Sends one request and returns the response whatever its status. Errors are transport
  // failures only: kUnavailable "cannot reach hangard at URL" when the connection is refused or
  // times out.
  Result<HttpResponse> Send(const HttpRequest& request);

  // Sends `request` and decodes a 2xx JSON body as T; any other status is an ApiError carrying
  // the problem.
  template <typename T>
  ApiResult<T> Call(const HttpRequest& request) {
    HANGAR_ASSIGN_OR_RETURN_API(auto body, CallRaw(request));
    auto decoded = DecodeResponse<T>(body);
    if (!decoded) return std::unexpected(ApiError::FromError(std::move(decoded).error()));
    return std::move(*decoded);
  }

  // Typed shorthands. `Req` is encoded with json::Serialize.
  template <typename T>
  ApiResult<T> Get(std::string target) {
    return Call<T>(HttpRequest{.method = "GET", .target = std::move(target)});
  }
  template <typename T, typename Req>
  ApiResult<T> Post(std::string target, const Req& body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Call<T>(HttpRequest{.method = "POST",
                               .target = std::move(target),
                               .body = json::Serialize(body),
                               .headers = std::move(headers)});
  }
  // PATCH with a JSON merge patch (RFC 7396). Top-level members that are null in the encoded
  // `body` (unset optionals) are left out, so they mean "unchanged", not "remove".
  template <typename T, typename Req>
  ApiResult<T> Patch(std::string target, const Req& body) {
    return Call<T>(HttpRequest{.method = "PATCH",
                               .target = std::move(target),
                               .body = SerializeMergePatch(json::Encode(body)),
                               .content_type = "application/merge-patch+json"});
  }
  // DELETE expecting 204 (or any 2xx).
  ApiResult<void> Delete(std::string target);

  // Sends `request`; the body of a 2xx response, or an ApiError.
  ApiResult<std::string> CallRaw(const HttpRequest& request);

  // POSTs `fields` as an application/x-www-form-urlencoded body without the bearer token (the
  // OAuth 2.0 endpoints) and returns the response whatever its status: OAuth errors are JSON
  // bodies such as {"error":"authorization_pending"}, not problems. Errors are transport failures.
  Result<HttpResponse> PostForm(std::string target,
                                const std::vector<std::pair<std::string, std::string>>& fields);

  // Sends `request` (a GET) accepting text/event-stream, and calls `on_event` for each
  // Server-Sent Event as it arrives, until the server ends the body (success), `on_event`
  // returns false (success), or the connection fails (kUnavailable; the caller may reconnect
  // with Last-Event-ID set to the last ServerSentEvent::id it got). Each read waits at most
  // `timeout`, so the server must send something (a keep-alive comment) more often. A non-2xx
  // answer is an ApiError carrying the problem; a 2xx answer that is not an event stream is
  // kInternal. The connection is closed afterwards.
  ApiResult<void> Follow(const HttpRequest& request,
                         const std::function<bool(const ServerSentEvent&)>& on_event);

  // Aborts the call in flight, if any, and makes this and every later call fail at once
  // (kUnavailable "aborted"). Safe from any thread: it is how an owner stops a thread that is
  // blocked in a long poll without waiting out the poll.
  void Abort();

  // The base URL as given, for messages.
  const std::string& base_url() const;
  // How many TCP connections this client has opened (keep-alive makes this 1 for many calls).
  int connections_opened() const;

 private:
  class Impl;
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes `text` for use as a query parameter value or path segment.
std::string UrlEncode(std::string_view text);

// application/x-www-form-urlencoded (the WHATWG serializer): "a=1&b=x+y"; bytes other than
// alphanumerics and *-._ are percent-encoded, spaces become '+'.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

// The ApiError for a non-2xx response: the problem's title and detail when the body is
// problem+json, else "HTTP <status>: <start of the body>".
ApiError ApiErrorFromResponse(const HttpResponse& response);

}  // namespace hangar::client
