#include "client/api_client.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace hangar::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

ErrorCode ErrorCodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kMalformed;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 405:
      return ErrorCode::kMethodNotAllowed;
    case 409:
      return ErrorCode::kConflict;
    case 412:
      return ErrorCode::kPreconditionFailed;
    case 413:
      return ErrorCode::kPayloadTooLarge;
    case 414:
      return ErrorCode::kUriTooLong;
    case 415:
      return ErrorCode::kUnsupportedMediaType;
    case 422:
      return ErrorCode::kInvalidArgument;
    case 429:
      return ErrorCode::kResourceExhausted;
    case 431:
      return ErrorCode::kHeadersTooLarge;
    case 502:
    case 503:
    case 504:
      return ErrorCode::kUnavailable;
    default:
      break;
  }
  if (status >= 500) return ErrorCode::kInternal;
  return ErrorCode::kInvalidArgument;
}

std::optional<api::Problem> ParseProblem(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc || !doc->is_object()) return std::nullopt;
  const auto& obj = doc->get_object();
  if (!obj.contains("title") && !obj.contains("status")) return std::nullopt;
  api::Problem p;
  auto str = [&](std::string_view key) -> std::string {
    const auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  p.type = str("type");
  p.title = str("title");
  p.detail = str("detail");
  p.instance = str("instance");
  p.request_id = str("request_id");
  if (const auto* v = obj.if_contains("status"); v && v->is_int64()) p.status = v->get_int64();
  if (const auto* v = obj.if_contains("hint"); v && v->is_string()) {
    p.hint = std::string(v->get_string());
  }
  if (const auto* v = obj.if_contains("errors"); v && v->is_array()) {
    std::vector<api::ProblemField> fields;
    for (const auto& e : v->get_array()) {
      if (!e.is_object()) continue;
      api::ProblemField f;
      if (const auto* ptr = e.get_object().if_contains("pointer"); ptr && ptr->is_string()) {
        f.pointer = std::string(ptr->get_string());
      }
      if (const auto* d = e.get_object().if_contains("detail"); d && d->is_string()) {
        f.detail = std::string(d->get_string());
      }
      fields.push_back(std::move(f));
    }
    p.errors = std::move(fields);
  }
  return p;
}

std::string SerializeMergePatch(boost::json::value patch) {
  if (patch.is_object()) {
    auto& obj = patch.get_object();
    for (auto it = obj.begin(); it != obj.end();) {
      it = it->value().is_null() ? obj.erase(it) : it + 1;
    }
  }
  return boost::json::serialize(patch);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  auto append = [&](std::string_view text) {
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
        out.push_back(static_cast<char>(c));
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
  };
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    append(name);
    out.push_back('=');
    append(value);
  }
  return out;
}

// The connection state: a resolved endpoint and, between calls, an open keep-alive stream.
// Network operations are asynchronous under the hood (beast::tcp_stream timeouts only apply to
// async operations) and driven to completion on a private io_context, so the API stays
// synchronous.
class ApiClient::Impl {
 public:
  Impl(ClientOptions options, std::string host, std::string port, std::string prefix)
      : options_(std::move(options)),
        host_(std::move(host)),
        port_(std::move(port)),
        prefix_(std::move(prefix)) {}

  Result<HttpResponse> Send(const HttpRequest& request) {
    if (aborted_) return std::unexpected(Aborted());
    // A reused connection may have been closed by the server while idle; that shows up as an
    // error before any response byte arrives, and the request is then retried once on a fresh
    // connection. A fresh connection's errors are final.
    bool reused = stream_ && stream_->socket().is_open();
    auto result = SendOnce(request);
    if (!result && reused && retryable_ && !aborted_) {
      Close();
      result = SendOnce(request);
    }
    if (!result) Close();
    return result;
  }

  const ClientOptions& options() const { return options_; }
  int connections_opened() const { return connections_opened_; }

  void Abort() {
    aborted_ = true;
    // Handlers run on the thread driving ioc_, which owns stream_; posting is the thread-safe way
    // in. If no call is running, the handler runs at the start of the next Drive, harmlessly.
    asio::post(ioc_, [this] {
      if (stream_) stream_->cancel();
    });
  }

 private:
  Error Unreachable(const beast::error_code& ec) const {
    return Error::Unavailable(
               "cannot reach hangard at " + options_.base_url + ": " +
               (ec == beast::error::timeout ? std::string("timed out") : ec.message()))
        .Hint("check the server URL and that hangard is running");
  }

  Error Aborted() const {
    return Error::Unavailable("call to hangard at " + options_.base_url + " aborted");
  }

  // Runs the queued operation to completion.
  void Drive() {
    ioc_.restart();
    ioc_.run();
  }

  Status Connect() {
    stream_ = std::make_unique<beast::tcp_stream>(ioc_);
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(host_, port_, [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
    });
    Drive();
    if (aborted_) return std::unexpected(Aborted());
    if (ec) return std::unexpected(Unreachable(ec));
    stream_->expires_after(options_.timeout);
    stream_->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    Drive();
    if (ec) return std::unexpected(Unreachable(ec));
    ++connections_opened_;
    return Ok();
  }

  Result<HttpResponse> SendOnce(const HttpRequest& request) {
    retryable_ = false;
    if (!stream_ || !stream_->socket().is_open()) {
      HANGAR_TRY(Connect());
    } else {
      retryable_ = true;
    }
    http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
      return std::unexpected(Error::Invalid("unknown HTTP method " + request.method));
    }
    http::request<http::string_body> req(verb, prefix_ + request.target, 11);
    req.set(http::field::host, host_ + ":" + port_);
    req.set(http::field::user_agent, options_.user_agent);
    req.set(http::field::accept, "application/json, application/problem+json");
    const std::string& token = request.token ? *request.token : options_.token;
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty()) {
      req.set(http::field::content_type, request.content_type);
      req.body() = request.body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    beast::error_code ec;
    stream_->expires_after(options_.timeout);
    http::async_write(*stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (aborted_) return std::unexpected(Aborted());
    if (ec) return std::unexpected(Unreachable(ec));

    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    stream_->expires_after(options_.timeout);
    http::async_read(*stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (aborted_) return std::unexpected(Aborted());
    if (ec) {
      // Nothing received yet: the idle connection was closed under us, safe to retry.
      retryable_ = retryable_ && !parser.got_some();
      return std::unexpected(Unreachable(ec));
    }
    retryable_ = false;
    auto res = parser.release();
    if (!res.keep_alive()) Close();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    return out;
  }

 public:
  // See ApiClient::Follow. The HttpResponse is the answer when it was not a 2xx stream.
  Result<std::optional<HttpResponse>> Follow(
      const HttpRequest& request, const std::function<bool(const ServerSentEvent&)>& on_event) {
    if (aborted_) return std::unexpected(Aborted());
    // A fresh connection: a stream ends with its connection, and a failed read must not be
    // mistaken for an idle connection closed under us.
    Close();
    HANGAR_TRY(Connect());
    http::request<http::string_body> req(http::verb::get, prefix_ + request.target, 11);
    req.set(http::field::host, host_ + ":" + port_);
    req.set(http::field::user_agent, options_.user_agent);
    req.set(http::field::accept, "text/event-stream, application/problem+json");
    req.set(http::field::cache_control, "no-cache");
    const std::string& token = request.token ? *request.token : options_.token;
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    req.prepare_payload();
    auto result = FollowOn(req, on_event);
    Close();
    return result;
  }

 private:
  void Close() {
    if (stream_) {
      beast::error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_->socket().close(ignored);
    }
    stream_.reset();
    buffer_.clear();
  }

  Result<std::optional<HttpResponse>> FollowOn(
      http::request<http::string_body>& req,
      const std::function<bool(const ServerSentEvent&)>& on_event) {
    beast::error_code ec;
    stream_->expires_after(options_.timeout);
    http::async_write(*stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (aborted_) return std::unexpected(Aborted());
    if (ec) return std::unexpected(Unreachable(ec));

    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);  // a stream has no end; chunks are not stored
    stream_->expires_after(options_.timeout);
    http::async_read_header(*stream_, buffer_, parser,
                            [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (aborted_) return std::unexpected(Aborted());
    if (ec) return std::unexpected(Unreachable(ec));
    const auto& head = parser.get();
    const int status = static_cast<int>(head.result_int());
    const std::string content_type(head[http::field::content_type]);
    if (status < 200 || status >= 300 ||
        content_type.find("text/event-stream") == std::string::npos) {
      parser.body_limit(64 * 1024 * 1024);
      stream_->expires_after(options_.timeout);
      http::async_read(*stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
      Drive();
      if (aborted_) return std::unexpected(Aborted());
      if (ec) return std::unexpected(Unreachable(ec));
      auto res = parser.release();
      return HttpResponse{status, content_type, std::move(res.body())};
    }
    // Each piece of the body goes to the event parser as it arrives and is not kept.
    EventStreamParser events;
    bool stopped = false;
    auto feed = [&](std::string_view piece) {
      if (!stopped && !events.Feed(piece, on_event)) stopped = true;
    };
    auto on_chunk = [&](uint64_t, std::string_view body, beast::error_code&) {
      feed(body);
      return body.size();
    };
    parser.on_chunk_body(on_chunk);
    while (!parser.is_done() && !stopped) {
      stream_->expires_after(options_.timeout);
      http::async_read_some(*stream_, buffer_, parser,
                            [&](beast::error_code e, size_t) { ec = e; });
      Drive();
      if (aborted_) return std::unexpected(Aborted());
      // An HTTP/1.0-style body (no chunks) ends with the connection and lands in body().
      if (!parser.chunked() && !parser.get().body().empty()) {
        feed(parser.get().body());
        parser.get().body().clear();
      }
      if (ec == http::error::end_of_stream && !parser.chunked()) break;
      if (ec) return std::unexpected(Unreachable(ec));
    }
    return std::optional<HttpResponse>();
  }

  ClientOptions options_;
  std::string host_;
  std::string port_;
  std::string prefix_;  // the base URL's path without its trailing slash: "" or "/hangar"
  asio::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  bool retryable_ = false;
  int connections_opened_ = 0;
  std::atomic<bool> aborted_ = false;
};

Result<std::unique_ptr<ApiClient>> ApiClient::Create(ClientOptions options) {
  auto bad = [&](std::string why) {
    return std::unexpected(Error::Invalid("invalid server URL '" + options.base_url + "': " + why)
                               .Hint("use a URL such as http://localhost:8080"));
  };
  auto parsed = boost::urls::parse_absolute_uri(options.base_url);
  if (!parsed) return bad("not an absolute URL");
  if (parsed->scheme() == "https") {
    return std::unexpected(
        Error::Invalid("TLS not supported yet: cannot use https URL '" + options.base_url + "'")
            .Hint("use http:// (terminate TLS in front of hangard or tunnel over SSH)"));
  }
  if (parsed->scheme() != "http") return bad("the scheme must be http");
  if (!parsed->has_authority() || parsed->host().empty()) return bad("no host");
  if (parsed->has_query() || parsed->has_fragment()) return bad("no query or fragment allowed");
  std::string host = parsed->host_name().empty() ? std::string(parsed->host_address())
                                                 : std::string(parsed->host_name());
  if (parsed->host_type() == boost::urls::host_type::ipv6) {
    host = std::string(parsed->host_address());
  }
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string prefix(parsed->encoded_path());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return std::unique_ptr<ApiClient>(new ApiClient(
      std::make_unique<Impl>(std::move(options), std::move(host), std::move(port), prefix)));
}

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

Result<HttpResponse> ApiClient::Send(const HttpRequest& request) { return impl_->Send(request); }

ApiError ApiErrorFromResponse(const HttpResponse& response) {
  ApiError err{Error(ErrorCodeForHttpStatus(response.status), ""), response.status,
               ParseProblem(response.body)};
  std::string message;
  if (err.problem) {
    message = err.problem->title;
    if (!err.problem->detail.empty()) message += ": " + err.problem->detail;
    Error e = err.problem->hint ? Error(err.error.code(), message).Hint(*err.problem->hint)
                                : Error(err.error.code(), message);
    if (err.problem->errors) {
      for (const auto& f : *err.problem->errors) e.AddField(f.pointer, f.detail);
    }
    err.error = std::move(e);
  } else {
    message = "HTTP " + std::to_string(response.status);
    if (!response.body.empty()) message += ": " + response.body.substr(0, 200);
    err.error = Error(err.error.code(), message);
  }
  return err;
}

ApiResult<void> ApiClient::Follow(const HttpRequest& request,
                                  const std::function<bool(const ServerSentEvent&)>& on_event) {
  auto res = impl_->Follow(request, on_event);
  if (!res) return std::unexpected(ApiError::FromError(std::move(res).error()));
  if (!*res) return {};
  if ((*res)->status >= 200 && (*res)->status < 300) {
    return std::unexpected(ApiError::FromError(
        Error::Internal("hangard answered " + request.target + " with " +
                        ((*res)->content_type.empty() ? "no content type" : (*res)->content_type) +
                        ", not an event stream")));
  }
  return std::unexpected(ApiErrorFromResponse(**res));
}

ApiResult<std::string> ApiClient::CallRaw(const HttpRequest& request) {
  auto res = impl_->Send(request);
  if (!res) return std::unexpected(ApiError::FromError(std::move(res).error()));
  if (res->status >= 200 && res->status < 300) return std::move(res->body);
  return std::unexpected(ApiErrorFromResponse(*res));
}

Result<HttpResponse> ApiClient::PostForm(
    std::string target, const std::vector<std::pair<std::string, std::string>>& fields) {
  return impl_->Send(HttpRequest{.method = "POST",
                                 .target = std::move(target),
                                 .body = FormEncode(fields),
                                 .content_type = "application/x-www-form-urlencoded",
                                 .token = std::string()});
}

ApiResult<void> ApiClient::Delete(std::string target) {
  auto res = CallRaw(HttpRequest{.method = "DELETE", .target = std::move(target)});
  if (!res) return std::unexpected(std::move(res).error());
  return {};
}

const std::string& ApiClient::base_url() const { return impl_->options().base_url; }
int ApiClient::connections_opened() const { return impl_->connections_opened(); }
void ApiClient::Abort() { impl_->Abort(); }

}  // namespace hangar::client
