#include "gateway/router.h"

#include <boost/url.hpp>
#include <charconv>

namespace hangar::gateway {

namespace {
std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

std::optional<std::string_view> RequestContext::QueryValue(std::string_view name) const {
  for (const auto& [k, v] : query_) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

Result<std::map<std::string, std::string>> RequestContext::FormBody() const {
  std::string body = request_.body();
  // '+' is a space in form encoding; Boost.URL decodes query strings, where it is not.
  std::replace(body.begin(), body.end(), '+', ' ');
  std::string escaped;
  for (char c : body) escaped += c == ' ' ? std::string("%20") : std::string(1, c);
  auto params = boost::urls::parse_query(escaped);
  if (!params) return std::unexpected(Error::Malformed("the form body is not url-encoded"));
  std::map<std::string, std::string> out;
  for (auto p : *params) {
    std::string key = p.key.decode();
    if (out.contains(key)) {
      return std::unexpected(
          Error::Malformed("a parameter is repeated").Field("/" + key, "must appear once"));
    }
    out[key] = p.has_value ? p.value.decode() : std::string();
  }
  return out;
}

Result<std::optional<int64_t>> RequestContext::IfMatchVersion() const {
  auto it = request_.find(http::bhttp::field::if_match);
  if (it == request_.end()) return std::optional<int64_t>();
  std::string_view value = it->value();
  if (value == "*") return std::optional<int64_t>();
  if (value.size() >= 3 && value.front() == '"' && value.back() == '"') {
    std::string_view digits = value.substr(1, value.size() - 2);
    int64_t version = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) return version;
  }
  return std::unexpected(
      Error(ErrorCode::kPreconditionFailed, "If-Match does not match the object's current ETag")
          .Hint("send the `etag` of the object as returned by GET"));
}

void Router::Add(Route route) {
  // Default deny, enforced when the table is built: an authenticated route without a permission
  // would be open to every key of every role.
  HANGAR_CHECK(route.access != Access::kApiKey || !route.permission.empty() ||
                   route.authorize == Authorize::kSelf,
               "route " + route.path + " names no permission");
  compiled_.push_back({SplitPath(route.path), routes_.size()});
  routes_.push_back(std::move(route));
}

Result<RouteMatch> Router::Match(verb method, std::string_view path,
                                 std::vector<std::string>* allowed) const {
  std::vector<std::string> segments = SplitPath(path);
  if (method == verb::head) method = verb::get;
  // The best match is the one with the most literal segments (specific routes win).
  const Compiled* best = nullptr;
  int best_literals = -1;
  std::vector<std::string> methods;
  for (const auto& c : compiled_) {
    if (c.segments.size() != segments.size()) continue;
    int literals = 0;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      if (IsParam(c.segments[i])) continue;
      ok = c.segments[i] == segments[i];
      ++literals;
    }
    if (!ok) continue;
    const Route& route = routes_[c.route_index];
    if (route.method != method) {
      methods.emplace_back(http::bhttp::to_string(route.method));
      continue;
    }
    if (literals > best_literals) {
      best = &c;
      best_literals = literals;
    }
  }
  if (best == nullptr) {
    if (methods.empty()) {
      return std::unexpected(Error::NotFound("no such resource: " + std::string(path))
                                 .Hint("see /api/v1/openapi.json for the available routes"));
    }
    std::string list;
    for (const auto& m : methods) list += (list.empty() ? "" : ", ") + m;
    if (allowed) *allowed = methods;
    return std::unexpected(
        Error(ErrorCode::kMethodNotAllowed, std::string(path) + " allows only " + list));
  }
  RouteMatch match{&routes_[best->route_index], {}};
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& s = best->segments[i];
    if (IsParam(s)) match.params[s.substr(1, s.size() - 2)] = segments[i];
  }
  return match;
}

http::Response MakeJsonResponse(const RequestContext& ctx, unsigned status, std::string body,
                                std::string_view etag) {
  http::Response response{static_cast<http::bhttp::status>(status), ctx.request().version()};
  response.set(http::bhttp::field::content_type, "application/json");
  if (!etag.empty()) response.set(http::bhttp::field::etag, etag);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

http::Response EmptyResponse(const RequestContext& ctx, unsigned status) {
  http::Response response{static_cast<http::bhttp::status>(status), ctx.request().version()};
  response.prepare_payload();
  return response;
}

http::Response StreamResponse(RequestContext& ctx, std::shared_ptr<http::StreamSource> source,
                              std::string_view content_type) {
  http::Response response{http::bhttp::status::ok, ctx.request().version()};
  response.set(http::bhttp::field::content_type, content_type);
  // Proxies and browsers must pass each event on as it comes, not cache or buffer the body.
  response.set(http::bhttp::field::cache_control, "no-cache");
  response.set("X-Accel-Buffering", "no");
  ctx.stream_ = std::move(source);
  return response;
}

std::string NextPageLink(const RequestContext& ctx, std::string_view next_page_token) {
  boost::urls::url url;
  url.set_path(ctx.path());
  auto params = url.params();
  for (const auto& [k, v] : ctx.query()) {
    if (k != "page_token") params.append({k, v});
  }
  params.append({"page_token", next_page_token});
  return std::string(url.buffer());
}

}  // namespace hangar::gateway
