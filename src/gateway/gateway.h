// Gateway: the middleware chain every request passes through, in this order:
//
//   1. request id      X-Request-Id accepted (when well-formed) or generated; echoed on every
//                      response and in every problem body
//   2. CORS            allow-listed origins get CORS headers; preflights are answered here
//   3. routing         404 / 405 (with Allow)
//   4. query check     unknown query parameters are a 400 naming them
//   5. authentication  Bearer API key or OAuth access token (JWT) -> Principal (401 with
//                      WWW-Authenticate otherwise)
//   5b. rate limit     a token bucket per API key (its own limit, or the default) and per user or
//                      service account, or per client address for anonymous and failed requests;
//                      RateLimit-Policy / RateLimit headers on every response, 429 + Retry-After
//   5c. authorisation  routes checked at organisation scope are checked here (rbac.h); object
//                      routes are checked by their service once it knows the object's scope
//   6. media type      bodies must be JSON (415 otherwise)
//   7. idempotency     POST + Idempotency-Key: replay, 409 while in flight, 422 on reuse
//   8. handler         a service call, translated
//   9. conditional GET If-None-Match matching the ETag -> 304
//  10. errors          any Error -> problem+json (gateway/problem.h), the only place
//  11. audit           every mutating request, failed authentication and denial appends an
//                      audit record (hangar.audit.request) to the events table: actor, tenant,
//                      source address, user agent, request id, target and outcome
//
// A handler may answer with a stream (router.h, StreamResponse: Server-Sent Events); the chain
// then runs on its head as on any response, and Handle() returns the stream's source with it,
// for the transport to drive after the handler has returned.
//
// The transport (http::Server) calls Handle() on a worker thread.
//
// Metrics (GatewayOptions::metrics, optional): every request Handle() answers is counted by
// method, route pattern (never the raw path: "other" when no route matched) and status, timed
// until its response head is ready (a stream's body is not timed), and counted in flight
// meanwhile. Transport errors (HandleTransportError) are not requests and are not counted.
//
// Thread-safety: Handle() and HandleTransportError() may run concurrently on any threads; the
// only mutable state is the rate limiter's buckets, which guards itself, and the metrics, which
// are atomic.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "gateway/rate_limiter.h"
#include "gateway/router.h"
#include "http/server.h"
#include "identity/authenticator.h"
#include "identity/rbac.h"
#include "identity/token_service.h"
#include "store/store.h"
#include "telemetry/hangard_metrics.h"

namespace hangar::gateway {

struct GatewayOptions {
  std::vector<std::string> cors_allowed_origins;  // exact origins, or "*" for any
  bool dev_mode = false;                          // problem bodies include internal messages
  Micros idempotency_ttl = std::chrono::hours(24);
  // An unfinished Idempotency-Key claim older than this is taken over (its request died).
  Micros idempotency_abandon_after = std::chrono::minutes(1);
  // Requests per second and burst; a policy with rate 0 is off.
  RateLimitPolicy per_key{"per-key", 100, 200};
  RateLimitPolicy per_user{"per-user", 200, 400};  // all keys and tokens of one principal
  // Requests addressed to one team or project (by path id or a team_id/project_id filter),
  // whoever sends them: one busy project cannot starve the rest of its organisation.
  RateLimitPolicy per_team{"per-team", 1000, 2000};
  RateLimitPolicy per_project{"per-project", 500, 1000};
  RateLimitPolicy per_address{"per-address", 20, 40};
  bool audit = true;  // append audit records (benchmarks of the bare server turn it off)
  // How long an organisation's own limits (PATCH /organizations/{id} settings.rate_limits) are
  // cached before a change shows.
  Micros org_settings_ttl = std::chrono::seconds(10);
  // Request counts, latencies and requests in flight; null records nothing. Must outlive the
  // Gateway.
  telemetry::HttpMetrics* metrics = nullptr;
};

class Gateway final : public http::RequestHandler {
 public:
  // `tokens` verifies OAuth access tokens (JWTs); without it only API keys authenticate.
  Gateway(const Router& router, identity::Authenticator& authenticator,
          identity::Authorizer& authorizer, identity::TokenService* tokens, store::Store& store,
          const Clock& clock, GatewayOptions options);

  http::Reply Handle(http::Request& request, const http::PeerInfo& peer) override;
  http::Response HandleTransportError(const Error& error, const http::Request* partial) override;

 private:
  // Steps 3-9 for a request whose target parsed.
  Result<http::Response> Process(RequestContext& ctx);
  Status Authenticate(const Route& route, RequestContext& ctx);
  // Takes a token for the caller (the principal's key, else the client address) and records the
  // headers to send; kRateLimited when the bucket is empty.
  Status ApplyRateLimit(RequestContext& ctx);
  // The limits that apply in `org`: the server defaults overridden by the organisation's
  // settings. Cached for org_settings_ttl.
  struct OrgLimits {
    RateLimitPolicy per_key, per_user, per_team, per_project;
    Timestamp loaded_at;
  };
  std::shared_ptr<const OrgLimits> LimitsOf(const OrgId& org);
  // Counts and times one answered request (see "Metrics" above); `route` is null when none
  // matched.
  void RecordRequest(const http::Request& request, const Route* route, unsigned status,
                     std::chrono::steady_clock::time_point started);
  // The audit record of a finished request, when it is one to keep.
  void Audit(const RequestContext& ctx, const Route* route, unsigned status, const Error* error);
  Status CheckQueryParameters(const Route& route, const RequestContext& ctx) const;
  Status CheckMediaType(const Route& route, const http::Request& request) const;
  Result<http::Response> RunWithIdempotency(const Route& route, RequestContext& ctx,
                                            std::string_view key);
  void AddCorsHeaders(const http::Request& request, http::Response& response) const;
  bool OriginAllowed(std::string_view origin) const;

  const Router& router_;
  identity::Authenticator& authenticator_;
  identity::Authorizer& authorizer_;
  identity::TokenService* tokens_;
  store::Store& store_;
  const Clock& clock_;
  const GatewayOptions options_;
  RateLimiter limiter_;
  // Readers share the lock; a miss (once per organisation per TTL) takes it exclusively.
  std::shared_mutex limits_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const OrgLimits>> limits_;  // by org id
};

}  // namespace hangar::gateway
