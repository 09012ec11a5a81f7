// The OAuth 2.0 authorisation server. See token_service.h.
#include "identity/token_service.h"

#include <spdlog/spdlog.h>

#include <boost/url.hpp>

#include "api/identity_types.h"
#include "common/crypto.h"
#include "common/json_codec.h"
#include "identity/api_keys.h"
#include "identity/directory_service.h"
#include "identity/rbac.h"
#include "identity/views.h"

namespace hangar::identity {
namespace {

namespace bj = boost::json;

constexpr std::string_view kCliClient = "hangar-cli";
constexpr std::string_view kPortalClient = "hangar-portal";
constexpr std::string_view kCodePrefix = "hgc_";
constexpr std::string_view kDeviceCodePrefix = "hgd_";
constexpr std::string_view kRefreshPrefix = "hgt_";
constexpr std::string_view kDeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code";
// RFC 8628 §6.1: consonants only, so codes spell no words and survive being read aloud.
constexpr std::string_view kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";

OAuthError OAuth(std::string error, std::string description, unsigned status = 400) {
  return OAuthError{std::move(error), std::move(description), status};
}

bool IsPublicClient(std::string_view client_id) {
  return client_id == kCliClient || client_id == kPortalClient;
}

// Space-separated permission patterns; empty means "*". nullopt when one is not valid.
std::optional<std::vector<std::string>> ParseScope(std::string_view scope) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < scope.size()) {
    size_t end = scope.find(' ', pos);
    if (end == std::string_view::npos) end = scope.size();
    std::string item(scope.substr(pos, end - pos));
    if (!item.empty()) {
      if (!IsValidPermissionPattern(item)) return std::nullopt;
      out.push_back(std::move(item));
    }
    pos = end + 1;
  }
  if (out.empty()) out.emplace_back("*");
  return out;
}

std::string JoinScope(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string NormaliseUserCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string NewUserCode() {
  std::string bytes = RandomBytes(8);
  std::string code;
  for (unsigned char b : bytes) code.push_back(kUserCodeAlphabet[b % kUserCodeAlphabet.size()]);
  return code;  // stored normalised; shown as XXXX-XXXX
}

std::string FormatUserCode(const std::string& code) {
  return code.substr(0, 4) + "-" + code.substr(4);
}

}  // namespace

TokenService::TokenService(store::Store& store, const Clock& clock, Authenticator& authenticator,
                           std::string server_secret, std::string issuer, TokenOptions options)
    : store_(store),
      clock_(clock),
      authenticator_(authenticator),
      server_secret_(std::move(server_secret)),
      options_(std::move(options)),
      issuer_(std::move(issuer)) {}

void TokenService::SetIssuer(std::string issuer) {
  std::lock_guard lock(mutex_);
  issuer_ = std::move(issuer);
  verified_.clear();  // verified against the old issuer
}

std::string TokenService::issuer() const {
  std::lock_guard lock(mutex_);
  return issuer_;
}

bool TokenService::LooksLikeJwt(std::string_view token) {
  return token.starts_with("eyJ") && std::count(token.begin(), token.end(), '.') == 2;
}

// ---- Signing keys
// --------------------------------------------------------------------------------

Status TokenService::ReloadKeys(bool force) {
  Timestamp now = clock_.Now();
  {
    std::lock_guard lock(mutex_);
    // A forced reload (an unknown kid) still waits a second between reloads, so a flood of
    // forged kids cannot turn into a flood of queries.
    Micros min_age = force ? Micros(std::chrono::seconds(1)) : options_.cache_ttl;
    if (signing_key_ && now - keys_loaded_at_ < min_age) return Ok();
  }
  // Published: every key that may have signed a token that has not expired yet.
  Timestamp since = now - options_.signing_key_rotation - 2 * options_.access_token_ttl;
  std::vector<store::SigningKeyRecord> records;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(records, store::ListSigningKeys(tx, since));
    return Ok();
  }));
  std::optional<SigningKey> newest;
  Timestamp newest_at;
  std::vector<VerificationKey> keys;
  std::vector<bj::object> jwks;
  for (const auto& r : records) {
    auto jwk = json::Parse(r.public_jwk);
    if (!jwk || !jwk->is_object()) continue;
    auto key = VerificationKey::FromJwk(jwk->as_object());
    if (!key) continue;
    keys.push_back(*key);
    jwks.push_back(jwk->as_object());
    if (!newest) {
      auto pem = OpenAes256Gcm(server_secret_, r.sealed_private_key);
      if (!pem) {
        return std::unexpected(
            Error::Internal("signing key " + r.kid +
                            " cannot be opened: is auth.secret_file the same file on "
                            "every replica?"));
      }
      HANGAR_ASSIGN_OR_RETURN(auto signing, SigningKey::FromPem(*pem));
      newest = std::move(signing);
      newest_at = r.created_at;
    }
  }
  std::lock_guard lock(mutex_);
  if (newest) {
    signing_key_ = std::move(newest);
    signing_key_created_at_ = newest_at;
  }
  verification_keys_ = std::move(keys);
  published_jwks_ = std::move(jwks);
  keys_loaded_at_ = now;
  return Ok();
}

Status TokenService::RotateSigningKeyIfDue() {
  HANGAR_TRY(ReloadKeys(true));
  Timestamp now = clock_.Now();
  {
    std::lock_guard lock(mutex_);
    if (signing_key_ && now - signing_key_created_at_ < options_.signing_key_rotation) {
      return Ok();
    }
  }
  SigningKey key = SigningKey::Generate();
  store::SigningKeyRecord record{
      .kid = key.kid(),
      .sealed_private_key = SealAes256Gcm(server_secret_, key.PrivatePem()),
      .public_jwk = bj::serialize(key.PublicJwk()),
      .created_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) { return store::InsertSigningKey(tx, record); }));
  spdlog::info("oauth: new signing key {}", key.kid());
  {
    std::lock_guard lock(mutex_);
    keys_loaded_at_ = Timestamp();  // force the next reload
  }
  return ReloadKeys(false);
}

Result<SigningKey> TokenService::CurrentSigningKey() {
  HANGAR_TRY(ReloadKeys(false));
  {
    std::lock_guard lock(mutex_);
    if (signing_key_ && clock_.Now() - signing_key_created_at_ < options_.signing_key_rotation) {
      return *signing_key_;
    }
  }
  HANGAR_TRY(RotateSigningKeyIfDue());
  std::lock_guard lock(mutex_);
  if (!signing_key_) return std::unexpected(Error::Internal("no signing key"));
  return *signing_key_;
}

Result<bj::object> TokenService::Jwks() {
  HANGAR_TRY(ReloadKeys(false));
  bj::array keys;
  std::lock_guard lock(mutex_);
  for (const auto& k : published_jwks_) keys.push_back(k);
  return bj::object{{"keys", std::move(keys)}};
}

bj::object TokenService::Discovery() const {
  std::string iss = issuer();
  return bj::object{
      {"issuer", iss},
      {"authorization_endpoint", iss + "/oauth/authorize"},
      {"token_endpoint", iss + "/oauth/token"},
      {"device_authorization_endpoint", iss + "/oauth/device_authorization"},
      {"revocation_endpoint", iss + "/oauth/revoke"},
      {"introspection_endpoint", iss + "/oauth/introspect"},
      {"jwks_uri", iss + "/.well-known/jwks.json"},
      {"response_types_supported", bj::array{"code"}},
      {"grant_types_supported", bj::array{"authorization_code", "refresh_token",
                                          "client_credentials", std::string(kDeviceGrantType)}},
      {"code_challenge_methods_supported", bj::array{"S256"}},
      {"token_endpoint_auth_methods_supported",
       bj::array{"none", "client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported", bj::array{"none"}},
      {"introspection_endpoint_auth_methods_supported", bj::array{"bearer"}},
      {"scopes_supported", bj::array{"*"}},
      {"subject_types_supported", bj::array{"public"}},
      {"id_token_signing_alg_values_supported", bj::array{"ES256"}},
      {"service_documentation", iss + "/docs"},
  };
}

// ---- Issuing
// -------------------------------------------------------------------------------------

Result<TokenResponse> TokenService::IssueTokens(const OrgId& org, const std::string& subject,
                                                const std::string& client_id,
                                                const std::string& scope, bool with_refresh,
                                                std::string family) {
  HANGAR_ASSIGN_OR_RETURN(SigningKey key, CurrentSigningKey());
  Timestamp now = clock_.Now();
  JwtClaims claims{.issuer = issuer(),
                   .subject = subject,
                   .audience = options_.audience,
                   .jwt_id = "tok_" + Base62Encode(RandomBytes(16)),
                   .scope = scope,
                   .tenant = org.str(),
                   .client_id = client_id,
                   .issued_at = now,
                   .expires_at = now + options_.access_token_ttl};
  TokenResponse response{
      .access_token = SignJwt(key, claims),
      .expires_in =
          std::chrono::duration_cast<std::chrono::seconds>(options_.access_token_ttl).count(),
      .scope = scope};
  if (with_refresh) {
    GeneratedSecret refresh = GenerateSecret(kRefreshPrefix);
    store::RefreshTokenRecord record{
        .id = "rt_" + Base62Encode(RandomBytes(12)),
        .token_hash = refresh.hash,
        .family_id = family.empty() ? "fam_" + Base62Encode(RandomBytes(12)) : std::move(family),
        .org_id = org,
        .subject_id = subject,
        .client_id = client_id,
        .scope = scope,
        .expires_at = now + options_.refresh_token_ttl,
        .created_at = now};
    HANGAR_TRY(store_.Write([&](store::Tx& tx) { return store::InsertRefreshToken(tx, record); }));
    response.refresh_token = refresh.secret;
  }
  return response;
}

// ---- Sign-in
// -------------------------------------------------------------------------------------

void TokenService::AuditSignIn(const OrgId& org, const std::string& actor, const std::string& email,
                               const std::string& outcome, const std::string& reason,
                               const RequestOrigin& origin) {
  bj::object data{{"actor", bj::object{{"type", "user"}, {"id", actor}}},
                  {"tenant", org.str()},
                  {"email", email},
                  {"source_address", origin.address},
                  {"user_agent", origin.user_agent.substr(0, 256)},
                  {"request_id", origin.request_id},
                  {"operation", "signIn"},
                  {"outcome", outcome}};
  if (!reason.empty()) data["reason"] = reason;
  store::EventRecord record{.id = EventId::Generate(clock_),
                            .org_id = org,
                            .type = "hangar.audit.login",
                            .source = "/oauth/authorize",
                            .subject = actor.empty() ? email : actor,
                            .time = clock_.Now(),
                            .data_json = bj::serialize(data),
                            .actor = actor.empty() ? "anonymous" : actor,
                            .outcome = outcome};
  if (Status s = store_.Write([&](store::Tx& tx) { return store::AppendEvent(tx, record); }); !s) {
    spdlog::error("could not append the audit record of a sign-in: {}", s.error().ToString());
  }
}

Result<SignedInUser> TokenService::SignIn(std::string_view org_name, std::string_view email,
                                          std::string_view password, const RequestOrigin& origin) {
  Error failed = Error::Unauthenticated("sign-in failed")
                     .Hint(
                         "check the organisation, email and password; after repeated failures "
                         "the account is locked for a while");
  auto normalised = NormaliseEmail(email);
  std::optional<store::OrgDetailRecord> org;
  std::optional<store::UserRecord> user;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(org, store::FindOrgByName(tx, org_name));
    if (org && normalised) {
      HANGAR_ASSIGN_OR_RETURN(user, store::FindUserByEmail(tx, org->id, *normalised));
    }
    return Ok();
  }));
  Timestamp now = clock_.Now();
  if (!user || user->state != store::UserState::kActive || user->password_hash.empty()) {
    // The same argon2 work as a real check: timing does not tell which accounts exist.
    (void)VerifyPassword(password, DummyPasswordHash(options_.password_hashing));
    AuditSignIn(org ? org->id : OrgId(), user ? user->id.str() : "", std::string(email), "failed",
                user ? "the user is not active" : "unknown organisation or user", origin);
    return std::unexpected(std::move(failed));
  }
  if (user->locked_until && *user->locked_until > now) {
    AuditSignIn(org->id, user->id.str(), user->email, "denied", "the account is locked", origin);
    return std::unexpected(std::move(failed));
  }
  bool ok = VerifyPassword(password, user->password_hash);
  api::OrganizationSettings settings = ParseSettings(org->settings_json);
  std::string rehashed;
  if (ok && NeedsRehash(user->password_hash, options_.password_hashing)) {
    rehashed = HashPassword(password, options_.password_hashing);
  }
  bool locked_now = false;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetUser(tx, org->id, user->id));
    if (!current) return Ok();
    store::UserRecord updated = *current;
    if (ok) {
      updated.failed_logins = 0;
      updated.locked_until.reset();
      updated.last_login_at = now;
      if (!rehashed.empty()) updated.password_hash = rehashed;
    } else {
      updated.failed_logins += 1;
      if (updated.failed_logins >= settings.login_max_failures.value_or(kDefaultLoginMaxFailures)) {
        updated.locked_until = now + std::chrono::minutes(settings.login_lockout_minutes.value_or(
                                         kDefaultLoginLockoutMinutes));
        updated.failed_logins = 0;
        locked_now = true;
      }
    }
    updated.updated_at = now;
    return store::UpdateUser(tx, updated);
  }));
  if (!ok) {
    AuditSignIn(org->id, user->id.str(), user->email, "failed",
                locked_now ? "wrong password; the account is now locked" : "wrong password",
                origin);
    return std::unexpected(std::move(failed));
  }
  AuditSignIn(org->id, user->id.str(), user->email, "success", "", origin);
  return SignedInUser{org->id, user->id, user->email};
}

// ---- Authorisation code + PKCE
// -------------------------------------------------------------------

Status TokenService::ValidateAuthorizeRequest(std::string_view response_type,
                                              std::string_view client_id,
                                              std::string_view redirect_uri,
                                              std::string_view code_challenge,
                                              std::string_view code_challenge_method,
                                              std::string_view scope) {
  Error invalid = Error::Invalid("the authorisation request is not valid");
  if (response_type != "code") invalid.AddField("query:response_type", "must be code");
  if (!IsPublicClient(client_id)) {
    invalid.AddField("query:client_id", "must be hangar-cli or hangar-portal");
  } else {
    bool ok = false;
    auto uri = boost::urls::parse_absolute_uri(redirect_uri);
    if (uri && client_id == kCliClient) {
      // RFC 8252 §7.3: native apps listen on a loopback port of their choosing.
      ok = uri->scheme() == "http" &&
           (uri->host() == "127.0.0.1" || uri->host() == "localhost" || uri->host() == "[::1]");
    } else if (uri && client_id == kPortalClient) {
      ok = redirect_uri.starts_with(issuer() + "/");
    }
    if (!ok) {
      invalid.AddField("query:redirect_uri",
                       client_id == kCliClient
                           ? "must be an http://127.0.0.1:PORT/… loopback address"
                           : "must be an address of this server");
    }
  }
  if (code_challenge_method != "S256") {
    invalid.AddField("query:code_challenge_method", "must be S256 (plain is not accepted)");
  }
  if (code_challenge.size() != 43) {
    invalid.AddField("query:code_challenge", "must be the base64url SHA-256 of the verifier");
  }
  if (!ParseScope(scope)) invalid.AddField("query:scope", "must be permission patterns");
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  return Ok();
}

Result<std::string> TokenService::IssueAuthorizationCode(const SignedInUser& user,
                                                         std::string_view client_id,
                                                         std::string_view redirect_uri,
                                                         std::string_view code_challenge,
                                                         std::string_view scope) {
  GeneratedSecret code = GenerateSecret(kCodePrefix);
  Timestamp now = clock_.Now();
  store::OAuthGrantRecord grant{.id = "grant_" + Base62Encode(RandomBytes(12)),
                                .kind = "code",
                                .code_hash = code.hash,
                                .client_id = std::string(client_id),
                                .org_id = user.org_id.str(),
                                .user_id = user.user_id.str(),
                                .redirect_uri = std::string(redirect_uri),
                                .code_challenge = std::string(code_challenge),
                                .scope = JoinScope(*ParseScope(scope)),
                                .state = "approved",
                                .expires_at = now + options_.authorization_code_ttl,
                                .created_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::DeleteExpiredGrants(tx, now));
    return store::InsertGrant(tx, grant);
  }));
  return code.secret;
}

OAuthResult<TokenResponse> TokenService::ExchangeCode(std::string_view code,
                                                      std::string_view client_id,
                                                      std::string_view redirect_uri,
                                                      std::string_view code_verifier) {
  auto bad = [] { return std::unexpected(OAuth("invalid_grant", "the code is invalid or used")); };
  if (!IsWellFormedSecret(code, kCodePrefix)) return bad();
  if (code_verifier.size() < 43 || code_verifier.size() > 128) {
    return std::unexpected(OAuth("invalid_request", "code_verifier must be 43..128 characters"));
  }
  std::optional<store::OAuthGrantRecord> grant;
  bool redeemed = false;
  Timestamp now = clock_.Now();
  // The PKCE check: the verifier hashes to the challenge the authorisation request carried.
  std::string challenge = Base64UrlEncode(Sha256Raw(code_verifier));
  auto status = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(grant, store::FindGrantByCodeHash(tx, HashSecret(code)));
    if (!grant || grant->kind != "code" || grant->expires_at <= now ||
        grant->client_id != client_id || grant->redirect_uri != redirect_uri ||
        grant->code_challenge != challenge) {
      return Ok();
    }
    HANGAR_ASSIGN_OR_RETURN(redeemed, store::MarkGrantUsed(tx, grant->id));
    return Ok();
  });
  if (!status) return std::unexpected(OAuth("server_error", "try again", 503));
  if (!redeemed) return bad();
  auto tokens = IssueTokens(OrgId::FromTrusted(grant->org_id), grant->user_id, grant->client_id,
                            grant->scope, true, "");
  if (!tokens) return std::unexpected(OAuth("server_error", "try again", 503));
  return *tokens;
}

// ---- Device authorisation
// ------------------------------------------------------------------------

OAuthResult<DeviceAuthorization> TokenService::StartDeviceAuthorization(std::string_view client_id,
                                                                        std::string_view scope) {
  if (client_id != kCliClient) {
    return std::unexpected(OAuth("unauthorized_client", "only hangar-cli uses the device flow"));
  }
  auto scopes = ParseScope(scope);
  if (!scopes) return std::unexpected(OAuth("invalid_scope", "scope must be permission patterns"));
  GeneratedSecret device = GenerateSecret(kDeviceCodePrefix);
  Timestamp now = clock_.Now();
  store::OAuthGrantRecord grant{.id = "grant_" + Base62Encode(RandomBytes(12)),
                                .kind = "device",
                                .code_hash = device.hash,
                                .user_code = NewUserCode(),
                                .client_id = std::string(client_id),
                                .scope = JoinScope(*scopes),
                                .state = "pending",
                                .expires_at = now + options_.device_code_ttl,
                                .created_at = now};
  auto status = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::DeleteExpiredGrants(tx, now));
    return store::InsertGrant(tx, grant);
  });
  if (!status) return std::unexpected(OAuth("server_error", "try again", 503));
  std::string shown = FormatUserCode(*grant.user_code);
  std::string uri = issuer() + "/oauth/device";
  return DeviceAuthorization{
      .device_code = device.secret,
      .user_code = shown,
      .verification_uri = uri,
      .verification_uri_complete = uri + "?user_code=" + shown,
      .expires_in =
          std::chrono::duration_cast<std::chrono::seconds>(options_.device_code_ttl).count(),
      .interval = options_.device_poll_interval_seconds};
}

Status TokenService::DecideDevice(std::string_view user_code, const SignedInUser& user,
                                  bool approve) {
  std::string code = NormaliseUserCode(user_code);
  Timestamp now = clock_.Now();
  return store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto grant, store::FindGrantByUserCode(tx, code));
    if (!grant || grant->kind != "device" || grant->state != "pending" ||
        grant->expires_at <= now) {
      return std::unexpected(Error::Invalid("the code is unknown, used or expired")
                                 .Field("/user_code", "start again with hangar login"));
    }
    grant->state = approve ? "approved" : "denied";
    grant->org_id = user.org_id.str();
    grant->user_id = user.user_id.str();
    return store::UpdateGrant(tx, *grant);
  });
}

OAuthResult<TokenResponse> TokenService::PollDevice(std::string_view device_code,
                                                    std::string_view client_id) {
  if (!IsWellFormedSecret(device_code, kDeviceCodePrefix)) {
    return std::unexpected(OAuth("invalid_grant", "the device code is invalid"));
  }
  Timestamp now = clock_.Now();
  std::optional<OAuthError> error;
  std::optional<store::OAuthGrantRecord> grant;
  auto status = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(grant, store::FindGrantByCodeHash(tx, HashSecret(device_code)));
    if (!grant || grant->kind != "device" || grant->client_id != client_id) {
      error = OAuth("invalid_grant", "the device code is invalid");
      return Ok();
    }
    if (grant->expires_at <= now) {
      error = OAuth("expired_token", "the device code expired; run hangar login again");
      return Ok();
    }
    if (grant->state == "denied") {
      error = OAuth("access_denied", "the sign-in was declined");
      return Ok();
    }
    if (grant->state == "used") {
      error = OAuth("invalid_grant", "the device code was already used");
      return Ok();
    }
    if (grant->state == "pending") {
      bool too_fast =
          grant->last_polled_at && now - *grant->last_polled_at <
                                       std::chrono::seconds(options_.device_poll_interval_seconds);
      grant->last_polled_at = now;
      HANGAR_TRY(store::UpdateGrant(tx, *grant));
      error = too_fast ? OAuth("slow_down", "poll less often: add 5 seconds to the interval")
                       : OAuth("authorization_pending", "waiting for the user to approve");
      return Ok();
    }
    HANGAR_ASSIGN_OR_RETURN(bool redeemed, store::MarkGrantUsed(tx, grant->id));
    if (!redeemed) error = OAuth("invalid_grant", "the device code was already used");
    return Ok();
  });
  if (!status) return std::unexpected(OAuth("server_error", "try again", 503));
  if (error) return std::unexpected(*error);
  auto tokens = IssueTokens(OrgId::FromTrusted(grant->org_id), grant->user_id, grant->client_id,
                            grant->scope, true, "");
  if (!tokens) return std::unexpected(OAuth("server_error", "try again", 503));
  return *tokens;
}

// ---- Refresh and client credentials
// --------------------------------------------------------------

OAuthResult<TokenResponse> TokenService::Refresh(std::string_view refresh_token,
                                                 std::string_view client_id) {
  auto bad = [](std::string why) { return std::unexpected(OAuth("invalid_grant", why)); };
  if (!IsWellFormedSecret(refresh_token, kRefreshPrefix))
    return bad("the refresh token is invalid");
  Timestamp now = clock_.Now();
  std::optional<store::RefreshTokenRecord> token;
  bool reused = false;
  std::string why;
  auto status = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(token, store::FindRefreshTokenByHash(tx, HashSecret(refresh_token)));
    if (!token) {
      why = "the refresh token is invalid";
      return Ok();
    }
    if (token->revoked_at) {
      why = "the refresh token was revoked";
      return Ok();
    }
    if (token->used_at) {
      // Reuse of a rotated token: someone holds a copy. Revoke the whole family, so neither the
      // thief nor the victim keeps a working token; the victim signs in again.
      reused = true;
      why = "the refresh token was already used; every token of this sign-in is now revoked";
      return store::RevokeRefreshFamily(tx, token->family_id, now);
    }
    if (token->expires_at <= now) {
      why = "the refresh token has expired";
      return Ok();
    }
    if (token->client_id != client_id) {
      why = "the refresh token belongs to another client";
      return Ok();
    }
    HANGAR_ASSIGN_OR_RETURN(bool marked, store::MarkRefreshTokenUsed(tx, token->id, now));
    if (!marked) {
      reused = true;
      why = "the refresh token was used concurrently; every token of this sign-in is revoked";
      return store::RevokeRefreshFamily(tx, token->family_id, now);
    }
    return Ok();
  });
  if (!status) return std::unexpected(OAuth("server_error", "try again", 503));
  if (reused) {
    spdlog::warn("oauth: refresh token reuse in family {} of {}; family revoked", token->family_id,
                 token->subject_id);
    store::EventRecord record{
        .id = EventId::Generate(clock_),
        .org_id = token->org_id,
        .type = "hangar.audit.token_reuse",
        .source = "/oauth/token",
        .subject = token->subject_id,
        .time = now,
        .data_json = bj::serialize(bj::object{
            {"family", token->family_id}, {"client_id", token->client_id}, {"outcome", "denied"}}),
        .actor = token->subject_id,
        .outcome = "denied"};
    (void)store_.Write([&](store::Tx& tx) { return store::AppendEvent(tx, record); });
  }
  if (!why.empty()) return bad(why);
  auto enabled = authenticator_.SubjectEnabled(token->org_id, token->subject_id);
  if (!enabled || !*enabled) return bad("the user is no longer active");
  auto tokens = IssueTokens(token->org_id, token->subject_id, token->client_id, token->scope, true,
                            token->family_id);
  if (!tokens) return std::unexpected(OAuth("server_error", "try again", 503));
  return *tokens;
}

OAuthResult<TokenResponse> TokenService::ClientCredentials(std::string_view client_id,
                                                           std::string_view client_secret,
                                                           std::string_view scope,
                                                           std::string_view address) {
  auto invalid_client = [] {
    return std::unexpected(OAuth("invalid_client",
                                 "client_id must be a service account id and client_secret one of "
                                 "its API keys",
                                 401));
  };
  if (!ServiceAccountId::Parse(client_id)) return invalid_client();
  auto principal = authenticator_.Authenticate(client_secret, address);
  if (!principal || principal->kind != store::PrincipalKind::kServiceAccount ||
      principal->subject_id != client_id) {
    return invalid_client();
  }
  auto requested = ParseScope(scope);
  if (!requested)
    return std::unexpected(OAuth("invalid_scope", "scope must be permission patterns"));
  // The token can do no more than the key it was exchanged for.
  std::vector<std::string> granted;
  bool key_unrestricted =
      AnyPatternMatches(principal->scopes, "*") &&
      std::find(principal->scopes.begin(), principal->scopes.end(), "*") != principal->scopes.end();
  if (scope.empty()) {
    granted = principal->scopes;
  } else if (key_unrestricted) {
    granted = *requested;
  } else {
    for (const auto& s : *requested) {
      if (std::find(principal->scopes.begin(), principal->scopes.end(), s) ==
          principal->scopes.end()) {
        return std::unexpected(OAuth("invalid_scope", "the key does not allow scope " + s));
      }
      granted.push_back(s);
    }
  }
  auto tokens = IssueTokens(principal->org_id, principal->subject_id, std::string(client_id),
                            JoinScope(granted), false, "");
  if (!tokens) return std::unexpected(OAuth("server_error", "try again", 503));
  return *tokens;
}

// ---- Verification, revocation, introspection
// -----------------------------------------------------

Status TokenService::ReloadRevocations() {
  Timestamp now = clock_.Now();
  Timestamp since;
  {
    std::lock_guard lock(mutex_);
    if (revocations_loaded_at_ != Timestamp() &&
        now - revocations_loaded_at_ < options_.cache_ttl) {
      return Ok();
    }
    since = revocations_loaded_through_;
  }
  std::vector<std::pair<std::string, Timestamp>> rows;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(rows, store::ListRevokedTokens(tx, since));
    return Ok();
  }));
  std::lock_guard lock(mutex_);
  for (auto& [jti, expires] : rows) revoked_[jti] = expires;
  std::erase_if(revoked_,
                [&](const auto& kv) { return kv.second + std::chrono::minutes(1) < now; });
  revocations_loaded_at_ = now;
  // Overlap by the cache period so a revocation committed while we read is not skipped.
  revocations_loaded_through_ = now - options_.cache_ttl;
  return Ok();
}

Result<Principal> TokenService::AuthenticateAccessToken(std::string_view token) {
  HANGAR_TRY(ReloadKeys(false));
  HANGAR_TRY(ReloadRevocations());
  Timestamp now = clock_.Now();
  std::optional<Principal> principal;
  {
    // A token verified before is not verified again: the ES256 check costs ~60 µs, the lookup
    // well under one. Revocation and the subject's state are still checked on every request.
    std::lock_guard lock(mutex_);
    if (auto it = verified_.find(std::string(token)); it != verified_.end()) {
      if (it->second.expires_at > now) {
        principal = it->second.principal;
      } else {
        verified_.erase(it);
      }
    }
  }
  if (!principal) {
    JwtExpectations expect{.issuer = issuer(), .audience = options_.audience, .now = now};
    std::vector<VerificationKey> keys;
    {
      std::lock_guard lock(mutex_);
      keys = verification_keys_;
    }
    auto claims = VerifyJwt(token, keys, expect);
    if (!claims && claims.error().message().find("unknown key") != std::string::npos) {
      HANGAR_TRY(ReloadKeys(true));  // another replica may have rotated
      {
        std::lock_guard lock(mutex_);
        keys = verification_keys_;
      }
      claims = VerifyJwt(token, keys, expect);
    }
    if (!claims) return std::unexpected(claims.error());
    auto org = OrgId::Parse(claims->tenant);
    store::PrincipalKind kind;
    if (UserId::Parse(claims->subject)) {
      kind = store::PrincipalKind::kUser;
    } else if (ServiceAccountId::Parse(claims->subject)) {
      kind = store::PrincipalKind::kServiceAccount;
    } else {
      return std::unexpected(Error::Unauthenticated("the access token names no principal"));
    }
    if (!org) return std::unexpected(Error::Unauthenticated("the access token names no tenant"));
    principal = Principal{
        .org_id = *org, .kind = kind, .subject_id = claims->subject, .token_id = claims->jwt_id};
    auto scopes = ParseScope(claims->scope);
    principal->scopes = scopes ? *scopes : std::vector<std::string>{};
    std::lock_guard lock(mutex_);
    if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();  // bounded; refills cheaply
    verified_[std::string(token)] = VerifiedToken{*principal, claims->expires_at};
  }
  {
    std::lock_guard lock(mutex_);
    if (revoked_.contains(principal->token_id)) {
      return std::unexpected(Error::Unauthenticated("the access token was revoked")
                                 .Hint("sign in again (hangar login)"));
    }
  }
  HANGAR_ASSIGN_OR_RETURN(bool enabled,
                          authenticator_.SubjectEnabled(principal->org_id, principal->subject_id));
  if (!enabled) {
    return std::unexpected(
        Error::Unauthenticated("the token's user or service account is disabled"));
  }
  return *principal;
}

Status TokenService::Revoke(std::string_view token) {
  Timestamp now = clock_.Now();
  if (LooksLikeJwt(token)) {
    HANGAR_TRY(ReloadKeys(false));
    std::vector<VerificationKey> keys;
    {
      std::lock_guard lock(mutex_);
      keys = verification_keys_;
    }
    auto claims =
        VerifyJwt(token, keys, {.issuer = issuer(), .audience = options_.audience, .now = now});
    if (!claims) return Ok();  // invalid or expired: nothing to revoke (RFC 7009 §2.2)
    auto org = OrgId::Parse(claims->tenant);
    if (!org) return Ok();
    HANGAR_TRY(store_.Write([&](store::Tx& tx) {
      return store::InsertRevokedToken(tx, claims->jwt_id, *org, claims->expires_at, now);
    }));
    std::lock_guard lock(mutex_);
    revoked_[claims->jwt_id] = claims->expires_at;
    return Ok();
  }
  if (IsWellFormedSecret(token, kRefreshPrefix)) {
    return store_.Write([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(auto record, store::FindRefreshTokenByHash(tx, HashSecret(token)));
      if (!record) return Ok();
      return store::RevokeRefreshFamily(tx, record->family_id, now);
    });
  }
  return Ok();
}

Result<Introspection> TokenService::Introspect(std::string_view token, const Principal& caller) {
  Introspection out;
  Timestamp now = clock_.Now();
  if (LooksLikeJwt(token)) {
    auto principal = AuthenticateAccessToken(token);
    if (!principal || principal->org_id != caller.org_id) return out;
    std::vector<VerificationKey> keys;
    {
      std::lock_guard lock(mutex_);
      keys = verification_keys_;
    }
    auto claims =
        VerifyJwt(token, keys, {.issuer = issuer(), .audience = options_.audience, .now = now});
    if (!claims) return out;
    out.active = true;
    out.scope = claims->scope;
    out.client_id = claims->client_id;
    out.sub = claims->subject;
    out.jti = claims->jwt_id;
    out.tenant = claims->tenant;
    out.token_type = "Bearer";
    out.iss = claims->issuer;
    out.aud = claims->audience;
    out.exp = ToUnixMicros(claims->expires_at) / 1'000'000;
    out.iat = ToUnixMicros(claims->issued_at) / 1'000'000;
    return out;
  }
  if (IsWellFormedSecret(token, kRefreshPrefix)) {
    std::optional<store::RefreshTokenRecord> record;
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(record, store::FindRefreshTokenByHash(tx, HashSecret(token)));
      return Ok();
    }));
    if (!record || record->org_id != caller.org_id || record->used_at || record->revoked_at ||
        record->expires_at <= now) {
      return out;
    }
    out.active = true;
    out.scope = record->scope;
    out.client_id = record->client_id;
    out.sub = record->subject_id;
    out.tenant = record->org_id.str();
    out.token_type = "refresh_token";
    out.iss = issuer();
    out.exp = ToUnixMicros(record->expires_at) / 1'000'000;
    out.iat = ToUnixMicros(record->created_at) / 1'000'000;
  }
  return out;
}

}  // namespace hangar::identity
