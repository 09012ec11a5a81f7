#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <boost/url.hpp>
#include <charconv>
#include <chrono>
#include <set>

#include "common/crypto.h"
#include "common/ids.h"
#include "gateway/list_query.h"
#include "gateway/problem.h"
#include "identity/api_keys.h"
#include "identity/views.h"
#include "store/identity_repos.h"

namespace hangar::gateway {

namespace bhttp = http::bhttp;

namespace {

constexpr std::string_view kExposedHeaders =
    "ETag, Link, Location, X-Request-Id, Idempotent-Replayed, Retry-After, RateLimit, "
    "RateLimit-Policy";
constexpr std::string_view kAllowedRequestHeaders =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id";

// A client-supplied request id is kept when it is short and plain; otherwise we mint one, so
// logs never carry attacker-shaped text.
bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

std::string BearerOf(const http::Request& request) {
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return {};
  std::string_view value = it->value();
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() ||
      !boost::beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return std::string(value);
}

// "application/json; charset=utf-8" -> "application/json"
std::string_view MediaTypeOf(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return type;
}

bool ETagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  // A comma-separated list; weak comparison (W/ prefixes ignored), as RFC 9110 asks for GET.
  auto strip = [](std::string_view t) {
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    return t;
  };
  std::string_view want = strip(etag);
  size_t pos = 0;
  while (pos <= if_none_match.size()) {
    size_t end = if_none_match.find(',', pos);
    if (end == std::string_view::npos) end = if_none_match.size();
    if (strip(if_none_match.substr(pos, end - pos)) == want) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

Gateway::Gateway(const Router& router, identity::Authenticator& authenticator,
                 identity::Authorizer& authorizer, identity::TokenService* tokens,
                 store::Store& store, const Clock& clock, GatewayOptions options)
    : router_(router),
      authenticator_(authenticator),
      authorizer_(authorizer),
      tokens_(tokens),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      limiter_(clock) {}

namespace {
// "127.0.0.1:5432" -> "127.0.0.1"; "[::1]:80" or "::1:80" -> "::1".
std::string AddressWithoutPort(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return std::string(peer);
  std::string_view host = peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}
}  // namespace

Status Gateway::ApplyRateLimit(RequestContext& ctx) {
  auto refuse = [&](const RateLimitPolicy& policy, const RateDecision& decision) -> Status {
    ctx.retry_after_seconds_ = decision.retry_after_seconds;
    return std::unexpected(
        Error(ErrorCode::kRateLimited, "rate limit exceeded: " + std::to_string(policy.burst) +
                                           " requests, refilled at " +
                                           std::to_string(static_cast<int64_t>(policy.per_second)) +
                                           "/s (" + policy.name + ")")
            .Hint("retry after " + std::to_string(decision.retry_after_seconds) +
                  " s; the RateLimit header shows what is left"));
  };
  if (!ctx.principal_) {
    const RateLimitPolicy& policy = options_.per_address;
    if (!policy.enabled()) return Ok();
    RateDecision decision = limiter_.Take("addr:" + ctx.client_address_, policy);
    ctx.rate_limit_policy_ = RateLimiter::PolicyHeader(policy);
    ctx.rate_limit_state_ = RateLimiter::StateHeader(policy, decision);
    return decision.allowed ? Ok() : refuse(policy, decision);
  }
  const identity::Principal& who = *ctx.principal_;
  std::shared_ptr<const OrgLimits> limits = LimitsOf(who.org_id);
  // Every bucket this request draws from; the header reports the one with the least left.
  std::optional<std::pair<RateLimitPolicy, RateDecision>> reported;
  auto take = [&](const std::string& bucket, const RateLimitPolicy& policy) -> Status {
    if (!policy.enabled()) return Ok();
    RateDecision decision = limiter_.Take(bucket, policy);
    if (!reported || decision.remaining < reported->second.remaining || !decision.allowed) {
      reported = {policy, decision};
      ctx.rate_limit_policy_ = RateLimiter::PolicyHeader(policy);
      ctx.rate_limit_state_ = RateLimiter::StateHeader(policy, decision);
    }
    return decision.allowed ? Ok() : refuse(policy, decision);
  };
  // A key with its own limit uses it; otherwise the organisation's (or the server's) default.
  RateLimitPolicy per_key = limits->per_key;
  if (who.rate_limit > 0 && per_key.enabled()) {
    per_key.per_second = static_cast<double>(who.rate_limit);
    per_key.burst = who.rate_burst > 0 ? who.rate_burst : who.rate_limit * 2;
  }
  HANGAR_TRY(take("key:" + who.CredentialId(), per_key));
  // One principal's keys and tokens share a bucket, so minting more keys buys no more requests.
  if (!who.subject_id.empty() && who.kind != store::PrincipalKind::kNode) {
    HANGAR_TRY(take("user:" + who.subject_id, limits->per_user));
  }
  // The team or project the request addresses, by path or by filter.
  auto addressed = [&](std::string_view value) -> Status {
    if (TeamId::Parse(value)) return take("team:" + std::string(value), limits->per_team);
    if (ProjectId::Parse(value)) return take("project:" + std::string(value), limits->per_project);
    return Ok();
  };
  for (const auto& [name, value] : ctx.path_params_) HANGAR_TRY(addressed(value));
  for (const auto& [name, value] : ctx.query()) {
    if (name == "team_id" || name == "project_id" || name == "scope_id") {
      HANGAR_TRY(addressed(value));
    }
  }
  return Ok();
}

std::shared_ptr<const Gateway::OrgLimits> Gateway::LimitsOf(const OrgId& org) {
  Timestamp now = clock_.Now();
  {
    std::shared_lock lock(limits_mutex_);
    auto it = limits_.find(org.str());
    if (it != limits_.end() && now - it->second->loaded_at < options_.org_settings_ttl) {
      return it->second;
    }
  }
  auto limits = std::make_shared<OrgLimits>(
      OrgLimits{options_.per_key, options_.per_user, options_.per_team, options_.per_project, now});
  std::optional<store::OrgDetailRecord> record;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::GetOrg(tx, org));
    return Ok();
  });
  if (read && record) {
    api::OrganizationSettings settings = identity::ParseSettings(record->settings_json);
    auto apply = [](RateLimitPolicy& policy, const std::optional<api::RateLimitSetting>& s) {
      if (!s) return;
      if (s->per_second) policy.per_second = static_cast<double>(*s->per_second);
      if (s->burst) policy.burst = *s->burst;
      if (s->per_second && !s->burst) policy.burst = *s->per_second * 2;
    };
    if (settings.rate_limits) {
      apply(limits->per_key, settings.rate_limits->per_key);
      apply(limits->per_user, settings.rate_limits->per_user);
      apply(limits->per_team, settings.rate_limits->per_team);
      apply(limits->per_project, settings.rate_limits->per_project);
    }
  } else if (!read) {
    // The store is down: keep limiting with the server defaults rather than failing requests.
    spdlog::warn("rate limits of {}: {}", org.str(), read.error().ToString());
  }
  std::unique_lock lock(limits_mutex_);
  if (limits_.size() > 100'000) limits_.clear();
  limits_[org.str()] = limits;
  return limits;
}

bool Gateway::OriginAllowed(std::string_view origin) const {
  for (const auto& allowed : options_.cors_allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

void Gateway::AddCorsHeaders(const http::Request& request, http::Response& response) const {
  auto origin = request.find(bhttp::field::origin);
  if (origin == request.end() || !OriginAllowed(origin->value())) return;
  response.set(bhttp::field::access_control_allow_origin, origin->value());
  response.set(bhttp::field::access_control_expose_headers, kExposedHeaders);
  response.set(bhttp::field::vary, "Origin");
}

http::Reply Gateway::Handle(http::Request& request, const http::PeerInfo& peer) {
  const auto started = std::chrono::steady_clock::now();
  // In flight until the reply is built, even if a handler throws to the transport's catch-all.
  struct InFlight {
    telemetry::Gauge* gauge;
    explicit InFlight(telemetry::Gauge* g) : gauge(g) {
      if (gauge != nullptr) gauge->Increment();
    }
    ~InFlight() {
      if (gauge != nullptr) gauge->Decrement();
    }
  } in_flight(options_.metrics != nullptr ? &options_.metrics->in_flight : nullptr);
  const Route* matched_route = nullptr;  // for the metrics' route label

  // 1. Request id.
  std::string request_id;
  if (auto it = request.find("X-Request-Id");
      it != request.end() && IsAcceptableRequestId(it->value())) {
    request_id = std::string(it->value());
  } else {
    request_id = RequestId::Generate(clock_).str();
  }

  // The target: an origin-form path and query (Boost.URL decodes and validates it).
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  auto parsed = boost::urls::parse_origin_form(request.target());
  http::Response response;
  std::shared_ptr<http::StreamSource> stream;  // a streamed reply's body
  if (!parsed) {
    response = ProblemResponse(Error::Malformed("the request target is not a valid path and query"),
                               {.instance = "",
                                .request_id = request_id,
                                .http_version = request.version(),
                                .dev_mode = options_.dev_mode});
  } else {
    path = std::string(parsed->path());  // percent-decoded
    for (auto param : parsed->params()) query.emplace_back(param.key, param.value);
    RequestContext ctx(request, request_id, path, std::move(query));
    ctx.client_address_ = AddressWithoutPort(peer.remote_address);

    // 2. CORS preflight: answered before authentication, as browsers send no credentials.
    auto origin = request.find(bhttp::field::origin);
    if (request.method() == verb::options && origin != request.end() &&
        request.find(bhttp::field::access_control_request_method) != request.end()) {
      response = EmptyResponse(ctx, OriginAllowed(origin->value()) ? 204 : 403);
      if (OriginAllowed(origin->value())) {
        response.set(bhttp::field::access_control_allow_methods,
                     "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        response.set(bhttp::field::access_control_allow_headers, kAllowedRequestHeaders);
        response.set(bhttp::field::access_control_max_age, "600");
      }
    } else {
      auto result = Process(ctx);
      matched_route = ctx.route_;
      Audit(ctx, ctx.route_, result ? result->result_int() : HttpStatusOf(result.error().code()),
            result ? nullptr : &result.error());
      if (result) {
        response = std::move(*result);
        stream = std::move(ctx.stream_);
      } else {
        response = ProblemResponse(result.error(), {.instance = path,
                                                    .request_id = request_id,
                                                    .http_version = request.version(),
                                                    .dev_mode = options_.dev_mode});
        if (result.error().code() == ErrorCode::kRateLimited) {
          response.set(bhttp::field::retry_after, std::to_string(ctx.retry_after_seconds_));
        }
        if (result.error().code() == ErrorCode::kMethodNotAllowed) {
          std::vector<std::string> allowed;
          (void)router_.Match(request.method(), path, &allowed);
          std::string allow;
          if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) {
            allowed.emplace_back("HEAD");  // served for every GET route
          }
          for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
          response.set(bhttp::field::allow, allow);
        }
      }
      if (!ctx.rate_limit_policy_.empty()) {
        response.set("RateLimit-Policy", ctx.rate_limit_policy_);
        response.set("RateLimit", ctx.rate_limit_state_);
      }
    }
  }
  AddCorsHeaders(request, response);
  response.set("X-Request-Id", request_id);
  RecordRequest(request, matched_route, response.result_int(), started);
  return http::Reply(std::move(response), std::move(stream));
}

void Gateway::RecordRequest(const http::Request& request, const Route* route, unsigned status,
                            std::chrono::steady_clock::time_point started) {
  telemetry::HttpMetrics* metrics = options_.metrics;
  if (metrics == nullptr) return;
  // Label values are bounded: Beast's known methods (anything else is "other"), route patterns,
  // three-digit status codes.
  std::string_view method =
      request.method() == verb::unknown ? "other" : bhttp::to_string(request.method());
  std::string_view route_label = route != nullptr ? std::string_view(route->path) : "other";
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof code, status);
  std::string_view code_label(code, ec == std::errc() ? end - code : 0);
  metrics->requests.WithLabels({method, route_label, code_label}).Increment();
  metrics->duration.WithLabels({method, route_label})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void Gateway::Audit(const RequestContext& ctx, const Route* route, unsigned status,
                    const Error* error) {
  if (!options_.audit || route == nullptr) return;
  const http::Request& request = ctx.request();
  bool mutating = request.method() == verb::post || request.method() == verb::put ||
                  request.method() == verb::patch || request.method() == verb::delete_;
  bool unauthenticated = status == 401;
  bool denied = status == 403;
  // Rate-limited requests are not recorded: a flood must not become a flood of writes.
  if (status == 429 || (!mutating && !unauthenticated && !denied)) return;
  std::string outcome = status < 400                  ? "success"
                        : (unauthenticated || denied) ? "denied"
                                                      : "failed";

  boost::json::object actor;
  OrgId org;
  if (ctx.principal_) {
    const identity::Principal& who = *ctx.principal_;
    org = who.org_id;
    actor["type"] = store::PrincipalKindName(who.kind);
    actor["id"] = who.ActorId();
    actor["credential"] = who.CredentialId();
  } else {
    actor["type"] = "anonymous";
  }
  // The target: the object the path names, else the path itself.
  std::string target = ctx.path();
  for (const auto& [name, value] : ctx.path_params_) target = value;
  boost::json::object data{
      {"actor", std::move(actor)},
      {"tenant", org.str()},
      {"source_address", ctx.client_address()},
      {"user_agent", std::string(request[bhttp::field::user_agent]).substr(0, 256)},
      {"request_id", ctx.request_id()},
      {"method", std::string(request.method_string())},
      {"path", ctx.path()},
      {"operation", route->operation_id},
      {"permission", route->permission},
      {"target", target},
      {"status", status},
      {"outcome", outcome},
  };
  if (error != nullptr) data["reason"] = error->message();
  store::EventRecord record{.id = EventId::Generate(clock_),
                            .org_id = org,
                            .type = "hangar.audit.request",
                            .source = "/hangar/gateway",
                            .subject = target,
                            .time = clock_.Now(),
                            .data_json = boost::json::serialize(data),
                            .actor = ctx.principal_ ? ctx.principal_->ActorId() : "anonymous",
                            .outcome = outcome};
  Status s = store_.Write([&](store::Tx& tx) { return store::AppendEvent(tx, record); });
  if (!s)
    spdlog::error("could not append the audit record of {}: {}", ctx.request_id(),
                  s.error().ToString());
}

http::Response Gateway::HandleTransportError(const Error& error, const http::Request* partial) {
  std::string request_id = RequestId::Generate(clock_).str();
  std::string instance;
  unsigned version = 11;
  if (partial != nullptr) {
    version = partial->version();
    if (auto parsed = boost::urls::parse_origin_form(partial->target())) {
      instance = std::string(parsed->path());
    }
  }
  http::Response response = ProblemResponse(error, {.instance = instance,
                                                    .request_id = request_id,
                                                    .http_version = version,
                                                    .dev_mode = options_.dev_mode});
  response.set("X-Request-Id", request_id);
  response.keep_alive(false);
  return response;
}

Status Gateway::CheckQueryParameters(const Route& route, const RequestContext& ctx) const {
  if (route.any_query) return Ok();
  Error e = Error::Malformed("the request has query parameters this route does not take");
  for (const auto& [name, value] : ctx.query()) {
    bool known = false;
    if (route.list != nullptr) {
      for (const auto& p : CommonListParameters()) known |= (p == name);
      if (const auto* f = route.list->Find(name)) known |= f->filterable;
    }
    for (const auto& p : route.query_params) known |= (p.name == name);
    if (!known) e.AddField("query:" + name, "is not a parameter of " + route.path);
  }
  if (!e.violations().empty()) {
    return std::unexpected(
        std::move(e).Hint("remove it; the parameters of each route are in /api/v1/openapi.json"));
  }
  return Ok();
}

Status Gateway::Authenticate(const Route& route, RequestContext& ctx) {
  if (route.access == Access::kPublic) return Ok();
  ctx.bearer_ = BearerOf(ctx.request());
  if (route.access == Access::kJoinToken) {
    // The service looks the token up; a string that cannot be one is refused here, before
    // anything (an Idempotency-Key claim) is written on behalf of an anonymous caller.
    if (!identity::IsWellFormedSecret(ctx.bearer_, identity::kJoinTokenPrefix)) {
      return std::unexpected(Error::Unauthenticated("a node join token (hgj_…) is required")
                                 .Hint("ask an admin for a token: hangar join-tokens create"));
    }
    return Ok();
  }
  if (tokens_ != nullptr && identity::TokenService::LooksLikeJwt(ctx.bearer_)) {
    HANGAR_ASSIGN_OR_RETURN(ctx.principal_, tokens_->AuthenticateAccessToken(ctx.bearer_));
    return Ok();
  }
  HANGAR_ASSIGN_OR_RETURN(ctx.principal_,
                          authenticator_.Authenticate(ctx.bearer_, ctx.client_address_));
  return Ok();
}

Status Gateway::CheckMediaType(const Route& route, const http::Request& request) const {
  // No body, no media type to check: a route whose body is optional takes an empty POST.
  if (!route.request_body || request.body().empty()) return Ok();
  auto it = request.find(bhttp::field::content_type);
  std::string_view type = it == request.end() ? "" : MediaTypeOf(it->value());
  for (const auto& accepted : route.content_types) {
    if (boost::beast::iequals(type, accepted)) return Ok();
  }
  std::string list;
  for (const auto& accepted : route.content_types) list += (list.empty() ? "" : " or ") + accepted;
  return std::unexpected(
      Error(ErrorCode::kUnsupportedMediaType,
            "the request body must be " + list + (type.empty() ? "" : ", not " + std::string(type)))
          .Hint("set Content-Type: " + route.content_types.front()));
}

Result<http::Response> Gateway::Process(RequestContext& ctx) {
  http::Request& request = ctx.request();
  // 3. Routing.
  HANGAR_ASSIGN_OR_RETURN(RouteMatch match, router_.Match(request.method(), ctx.path()));
  const Route& route = *match.route;
  ctx.route_ = &route;
  ctx.path_params_ = std::move(match.params);
  // 4-6. Authentication first, so an anonymous caller learns nothing about parameters.
  // The limit applies to failed authentications too (by address), so keys cannot be guessed
  // at line rate.
  Status authenticated = Authenticate(route, ctx);
  HANGAR_TRY(ApplyRateLimit(ctx));
  HANGAR_TRY(authenticated);
  // 5c. Authorisation of organisation-level routes: the one central check (rbac.h).
  if (route.access == Access::kApiKey && route.authorize == Authorize::kOrganization) {
    HANGAR_TRY(authorizer_.Require(*ctx.principal_, route.permission,
                                   identity::ResourceScope::Organization(ctx.principal_->org_id)));
    ctx.permission_checked_ = route.permission;
  }
  HANGAR_TRY(CheckQueryParameters(route, ctx));
  HANGAR_TRY(CheckMediaType(route, request));

  // 7-8. Idempotency and the handler.
  Result<http::Response> result;
  auto key = request.find("Idempotency-Key");
  if (request.method() == verb::post && route.idempotent_post && key != request.end()) {
    result = RunWithIdempotency(route, ctx, key->value());
  } else {
    result = route.handler(ctx);
  }
  if (!result) return result;

  // 9. Conditional GET.
  if (request.method() == verb::get || request.method() == verb::head) {
    auto etag = result->find(bhttp::field::etag);
    auto inm = request.find(bhttp::field::if_none_match);
    if (etag != result->end() && inm != request.end() && result->result_int() == 200 &&
        ETagMatches(inm->value(), etag->value())) {
      http::Response not_modified{bhttp::status::not_modified, request.version()};
      not_modified.set(bhttp::field::etag, etag->value());
      return not_modified;
    }
  }
  return result;
}

Result<http::Response> Gateway::RunWithIdempotency(const Route& route, RequestContext& ctx,
                                                   std::string_view key) {
  if (key.empty() || key.size() > 255) {
    return std::unexpected(Error::Malformed("Idempotency-Key must be 1..255 characters")
                               .Field("header:Idempotency-Key", "must be 1..255 characters"));
  }
  // Keys are per caller: the API key that sent it, or (join-token routes) the token's hash.
  // Keys are scoped to the caller (Stripe scopes them to the account): a user's API keys and
  // access tokens share them, and no two callers can collide.
  std::string scope = route.access == Access::kApiKey
                          ? ctx.principal().org_id.str() + "/" + ctx.principal().ActorId()
                          : "bearer:" + Sha256Hex(ctx.bearer());
  // Stored responses can hold secrets shown once (join tokens, node credentials). The database
  // keeps only the key's hash, and the response sealed with a key derived from the client's raw
  // Idempotency-Key, so a copy of the database replays nothing.
  std::string stored_key = Sha256Hex(key);
  std::string seal_key = HmacSha256(key, "hangar idempotency v1");
  std::string method_path =
      std::string(bhttp::to_string(ctx.request().method())) + " " + ctx.path();
  std::string request_hash = Sha256Hex(method_path + "\n" + ctx.request().body());
  Timestamp now = clock_.Now();
  store::IdempotencyRecord claim{.scope = scope,
                                 .key = stored_key,
                                 .method_path = method_path,
                                 .request_hash = request_hash,
                                 .created_at = now};
  std::optional<store::IdempotencyRecord> existing;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(
        existing, store::ClaimIdempotencyKey(tx, claim, now - options_.idempotency_abandon_after,
                                             now - options_.idempotency_ttl));
    return Ok();
  }));
  if (existing) {
    if (existing->request_hash != request_hash) {
      return std::unexpected(
          Error::Invalid("this Idempotency-Key was used for a different request")
              .Field("header:Idempotency-Key", "was already used with another body or path")
              .Hint("use a new Idempotency-Key for a new request"));
    }
    if (!existing->completed) {
      return std::unexpected(
          Error::Conflict("a request with this Idempotency-Key is still in progress")
              .Hint("retry after it finishes to receive its response"));
    }
    auto headers_text = OpenAes256Gcm(seal_key, existing->response_headers_json);
    auto body = OpenAes256Gcm(seal_key, existing->response_body);
    if (!headers_text || !body) {
      return std::unexpected(Error::Internal("a stored idempotent response could not be opened"));
    }
    http::Response replay{static_cast<bhttp::status>(existing->status), ctx.request().version()};
    if (auto headers = json::Parse(*headers_text); headers && headers->is_object()) {
      for (const auto& kv : headers->as_object()) {
        if (kv.value().is_string()) replay.set(kv.key(), kv.value().as_string());
      }
    }
    replay.set("Idempotent-Replayed", "true");
    replay.body() = std::move(*body);
    replay.prepare_payload();
    return replay;
  }

  Result<http::Response> result = route.handler(ctx);
  // Outcomes a retry could change (authentication, rate limits, server errors) release the key;
  // everything else is the answer for good.
  unsigned status = result ? result->result_int() : HttpStatusOf(result.error().code());
  bool release = status >= 500 || status == 401 || status == 403 || status == 429;
  Status recorded;
  if (release) {
    recorded = store_.Write([&](store::Tx& tx) -> Status {
      return store::ReleaseIdempotencyKey(tx, scope, stored_key, claim.created_at);
    });
  } else {
    http::Response response =
        result ? *result
               : ProblemResponse(result.error(), {.instance = ctx.path(),
                                                  .request_id = ctx.request_id(),
                                                  .http_version = ctx.request().version(),
                                                  .dev_mode = options_.dev_mode});
    boost::json::object headers;
    for (auto field : {bhttp::field::content_type, bhttp::field::location, bhttp::field::etag,
                       bhttp::field::cache_control}) {
      if (auto it = response.find(field); it != response.end()) {
        headers[std::string(bhttp::to_string(field))] = std::string(it->value());
      }
    }
    store::IdempotencyRecord done = claim;
    done.completed = true;
    done.status = status;
    done.response_headers_json = SealAes256Gcm(seal_key, boost::json::serialize(headers));
    done.response_body = SealAes256Gcm(seal_key, response.body());
    recorded = store_.Write(
        [&](store::Tx& tx) -> Status { return store::CompleteIdempotencyKey(tx, done); });
  }
  if (!recorded) {
    spdlog::warn("request {}: could not record Idempotency-Key outcome: {}", ctx.request_id(),
                 recorded.error().ToString());
  }
  return result;
}

}  // namespace hangar::gateway
