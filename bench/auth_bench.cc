// What authentication, authorisation and rate limiting add to every request (issue 3), with the
// real classes over a real SQLite store (migrations applied), the way the gateway calls them:
//
//   authenticate   Authenticator::Authenticate (API key: SHA-256 + cache) or
//                  TokenService::AuthenticateAccessToken (JWT: ES256 verify + revocation list +
//                  "is the subject still enabled", both cached)
//   rate limit     RateLimiter::Take on "key:<credential>" and on "user:<subject>" (two takes, as
//                  Gateway::ApplyRateLimit does for a user or service account)
//   authorise      Authorizer::Check(principal, "nodes:read", organisation scope) against the
//                  organisation's cached policy (role bindings in the store)
//
// The caches run with hangard's default TTL (10 s) on the wall clock, so a long run also pays
// the periodic reloads, as a server does. The cold path (cache miss) is measured separately with
// a TTL of 0: one store read per request, plus the durable "last used" write a miss makes for a
// valid key.
//
// Callers: kCallers service accounts, each with its own API key and access token; benchmark thread
// i acts as caller i % kCallers, so with ->Threads(8) eight callers run at once, as eight clients
// of one server would. A global lock would show as time per request growing with threads.
//
// Thread-safety: the environment is built in main() before any benchmark runs and destroyed after
// the last; benchmark threads only call the thread-safe services.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "gateway/rate_limiter.h"
#include "identity/api_keys.h"
#include "identity/authenticator.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "identity/token_service.h"
#include "store/identity_repos.h"
#include "store/repos.h"
#include "store/temp_store.h"

namespace hangar {
namespace {

using identity::Principal;
using identity::ResourceScope;

constexpr int kCallers = 8;
constexpr std::string_view kPermission = "nodes:read";  // GET /api/v1/nodes, /gpus/{id}: *:read
constexpr std::string_view kClientAddress = "127.0.0.1";

// Large enough never to refuse: the benchmark measures the cost, not the policy.
const gateway::RateLimitPolicy kPerKey{"per-key", 1e9, 1'000'000'000};
const gateway::RateLimitPolicy kPerUser{"per-user", 1e9, 1'000'000'000};

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "auth_bench: %s: %s\n", what, r.error().ToString().c_str());
    std::abort();
  }
  return std::move(*r);
}
void Must(Status s, const char* what) {
  if (!s) {
    std::fprintf(stderr, "auth_bench: %s: %s\n", what, s.error().ToString().c_str());
    std::abort();
  }
}

struct Caller {
  ServiceAccountId account;
  std::string api_key;       // hgr_…
  std::string access_token;  // a JWT from the client-credentials grant
};

// Everything the benchmarks share; members are destroyed in reverse order (services before the
// store they hold a reference to).
struct Env {
  SystemClock clock;
  store::TempSqliteStore temp;
  OrgId org;
  std::string admin_key;
  identity::Authenticator authenticator;       // hangard's default cache TTL
  identity::Authenticator cold_authenticator;  // TTL 0: every call is a cache miss
  identity::Authorizer authorizer;
  identity::TokenService tokens;
  gateway::RateLimiter limiter;
  std::vector<Caller> callers;
  std::string unknown_key;  // well-formed, never stored

  Env()
      : temp(Must(store::TempSqliteStore::Open("auth_bench"), "open the store")),
        authenticator(temp.store(), clock),
        cold_authenticator(temp.store(), clock, Micros(0)),
        authorizer(temp.store(), clock),
        tokens(temp.store(), clock, authenticator, RandomBytes(32), "http://bench.invalid", {}),
        limiter(clock) {
    store::Store& store = temp.store();
    auto admin = Must(
        identity::BootstrapFirstOrganisation(store, clock, [](const std::string&) { return Ok(); }),
        "bootstrap");
    admin_key = admin.value();
    org = Must(authenticator.Authenticate(admin_key), "admin key").org_id;
    Must(tokens.RotateSigningKeyIfDue(), "signing key");
    unknown_key = identity::GenerateSecret(identity::kApiKeyPrefix).secret;

    // The callers, and some bindings of other principals so the policy is not trivial: each
    // caller holds viewer on the organisation plus developer on a team; 32 users hold roles too.
    Timestamp now = clock.Now();
    TeamId team = TeamId::Generate(clock);
    Must(store.Write([&](store::Tx& tx) -> Status {
      HANGAR_TRY(store::InsertTeam(
          tx,
          {.id = team, .org_id = org, .name = "bench-team", .created_at = now, .updated_at = now}));
      auto bind = [&](std::string type, std::string id, std::string role, std::string scope_type,
                      std::string scope_id) {
        return store::InsertRoleBinding(tx, {.id = RoleBindingId::Generate(clock),
                                             .org_id = org,
                                             .principal_type = std::move(type),
                                             .principal_id = std::move(id),
                                             .role = std::move(role),
                                             .scope_type = std::move(scope_type),
                                             .scope_id = std::move(scope_id),
                                             .created_by = "auth_bench",
                                             .created_at = now,
                                             .updated_at = now});
      };
      for (int i = 0; i < 32; ++i) {
        HANGAR_TRY(bind("user", UserId::Generate(clock).str(), i % 2 ? "developer" : "viewer",
                        "organization", org.str()));
      }
      for (int i = 0; i < kCallers; ++i) {
        Caller c{.account = ServiceAccountId::Generate(clock)};
        HANGAR_TRY(store::InsertServiceAccount(tx, {.id = c.account,
                                                    .org_id = org,
                                                    .name = "bench-" + std::to_string(i),
                                                    .created_at = now,
                                                    .updated_at = now}));
        HANGAR_TRY(bind("service_account", c.account.str(), "developer", "team", team.str()));
        HANGAR_TRY(bind("service_account", c.account.str(), "viewer", "organization", org.str()));
        identity::GeneratedSecret key = identity::GenerateSecret(identity::kApiKeyPrefix);
        HANGAR_TRY(store::InsertApiKey(tx, {.id = ApiKeyId::Generate(clock),
                                            .org_id = org,
                                            .name = "bench",
                                            .secret_hash = key.hash,
                                            .kind = store::PrincipalKind::kServiceAccount,
                                            .subject_id = c.account.str(),
                                            .created_at = now,
                                            .display_prefix = key.secret.substr(0, 12),
                                            .created_by = "auth_bench",
                                            .updated_at = now}));
        c.api_key = key.secret;
        callers.push_back(std::move(c));
      }
      return Ok();
    }),
         "create the callers");
    for (Caller& c : callers) {
      auto token = tokens.ClientCredentials(c.account.str(), c.api_key, "", kClientAddress);
      if (!token) {
        std::fprintf(stderr, "auth_bench: client credentials: %s %s\n", token.error().error.c_str(),
                     token.error().description.c_str());
        std::abort();
      }
      c.access_token = token->access_token;
      // Both credentials must work and be allowed before anything is timed.
      Principal by_key = Must(authenticator.Authenticate(c.api_key, kClientAddress), "API key");
      Principal by_token = Must(tokens.AuthenticateAccessToken(c.access_token), "access token");
      for (const Principal* p : {&by_key, &by_token}) {
        auto d = Must(authorizer.Check(*p, kPermission, ResourceScope::Organization(org)), "check");
        if (!d.allowed) {
          std::fprintf(stderr, "auth_bench: not allowed: %s\n", d.reason.c_str());
          std::abort();
        }
      }
    }
  }
};

Env* g_env = nullptr;

const Caller& CallerOf(const benchmark::State& state) {
  return g_env->callers[state.thread_index() % kCallers];
}

// Gateway::ApplyRateLimit for a user or service account: the credential's bucket, then the
// principal's (its keys and tokens share one). Builds the bucket names per request, as it does.
bool TakeRateLimits(const Principal& who) {
  bool allowed = g_env->limiter.Take("key:" + who.CredentialId(), kPerKey).allowed;
  if (!who.subject_id.empty() && who.kind != store::PrincipalKind::kNode) {
    allowed = g_env->limiter.Take("user:" + who.subject_id, kPerUser).allowed && allowed;
  }
  return allowed;
}

bool Authorise(const Principal& who) {
  auto d = g_env->authorizer.Check(who, kPermission, ResourceScope::Organization(who.org_id));
  return d && d->allowed;
}

// ---- Authentication alone ----------------------------------------------------------------------

// The common case: the key's principal is in the cache (SHA-256 of the key + one map lookup).
void BM_ApiKeyAuthenticateCached(benchmark::State& state) {
  const std::string& key = CallerOf(state).api_key;
  for (auto _ : state) {
    auto p = g_env->authenticator.Authenticate(key, kClientAddress);
    if (!p) state.SkipWithError("authentication failed");
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApiKeyAuthenticateCached)->Threads(1)->Threads(8)->UseRealTime();

// A cache miss for a valid key: the store read (key, then its service account) and the durable
// "last used" write a miss makes (SQLite, synchronous=FULL). With the default TTL this happens
// once per key per 10 s.
void BM_ApiKeyAuthenticateCold(benchmark::State& state) {
  const std::string& key = CallerOf(state).api_key;
  for (auto _ : state) {
    auto p = g_env->cold_authenticator.Authenticate(key, kClientAddress);
    if (!p) state.SkipWithError("authentication failed");
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApiKeyAuthenticateCold)->Threads(1)->UseRealTime();

// A cache miss for a well-formed key that is not in the store: the read alone (no write).
void BM_ApiKeyAuthenticateColdUnknown(benchmark::State& state) {
  for (auto _ : state) {
    auto p = g_env->cold_authenticator.Authenticate(g_env->unknown_key, kClientAddress);
    if (p) state.SkipWithError("an unknown key authenticated");
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApiKeyAuthenticateColdUnknown)->Threads(1)->UseRealTime();

// ES256 signature check, claims, revocation list and the cached "subject enabled" lookup.
void BM_JwtAuthenticate(benchmark::State& state) {
  const std::string& token = CallerOf(state).access_token;
  for (auto _ : state) {
    auto p = g_env->tokens.AuthenticateAccessToken(token);
    if (!p) state.SkipWithError("authentication failed");
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JwtAuthenticate)->Threads(1)->Threads(8)->UseRealTime();

// ---- Authorisation and rate limiting alone -----------------------------------------------------

void BM_Authorize(benchmark::State& state) {
  Principal who = Must(g_env->authenticator.Authenticate(CallerOf(state).api_key), "API key");
  for (auto _ : state) {
    bool allowed = Authorise(who);
    if (!allowed) state.SkipWithError("denied");
    benchmark::DoNotOptimize(allowed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Authorize)->Threads(1)->Threads(8)->UseRealTime();

// The two takes of a service account's request (per key, per principal).
void BM_RateLimitKeyAndUser(benchmark::State& state) {
  Principal who = Must(g_env->authenticator.Authenticate(CallerOf(state).api_key), "API key");
  for (auto _ : state) benchmark::DoNotOptimize(TakeRateLimits(who));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimitKeyAndUser)->Threads(1)->Threads(8)->UseRealTime();

// ---- Per-request overhead: authenticate + rate limit (2 takes) + authorise ---------------------

void BM_ApiKeyRequestOverhead(benchmark::State& state) {
  const std::string& key = CallerOf(state).api_key;
  for (auto _ : state) {
    auto who = g_env->authenticator.Authenticate(key, kClientAddress);
    bool ok = who && TakeRateLimits(*who) && Authorise(*who);
    if (!ok) state.SkipWithError("request refused");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApiKeyRequestOverhead)->Threads(1)->Threads(8)->UseRealTime();

void BM_JwtRequestOverhead(benchmark::State& state) {
  const std::string& token = CallerOf(state).access_token;
  for (auto _ : state) {
    auto who = g_env->tokens.AuthenticateAccessToken(token);
    bool ok = who && TakeRateLimits(*who) && Authorise(*who);
    if (!ok) state.SkipWithError("request refused");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JwtRequestOverhead)->Threads(1)->Threads(8)->UseRealTime();

// The bootstrap admin key, as bench/http_bench.sh sends it: one take (no principal bucket) and
// no policy lookup (the admin kind is decided without bindings).
void BM_AdminKeyRequestOverhead(benchmark::State& state) {
  for (auto _ : state) {
    auto who = g_env->authenticator.Authenticate(g_env->admin_key, kClientAddress);
    bool ok = who && TakeRateLimits(*who) && Authorise(*who);
    if (!ok) state.SkipWithError("request refused");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdminKeyRequestOverhead)->Threads(1)->UseRealTime();

}  // namespace
}  // namespace hangar

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  {
    auto env = std::make_unique<hangar::Env>();
    hangar::g_env = env.get();
    benchmark::RunSpecifiedBenchmarks();
    hangar::g_env = nullptr;
  }
  benchmark::Shutdown();
  return 0;
}
