// TokenService: Hangar's OAuth 2.0 authorisation server and the verifier of its access tokens.
//
// Grants:
//  - authorisation code with PKCE (RFC 7636, S256 only) for the portal and the CLI, after a
//    sign-in on the server-rendered login page (organisation, email, password);
//  - device authorisation (RFC 8628) so `hangar login` works from a headless machine;
//  - refresh tokens that rotate on every use; presenting a used one again revokes its whole
//    family (every token descended from that sign-in), since one of the two parties is a thief;
//  - client credentials for service accounts: client_id is the account's id, client_secret one
//    of its API keys (so expiry, allow-lists, rotation and revocation carry over).
//
// Access tokens are short-lived JWTs (RFC 9068 profile) signed ES256 with a key that rotates on
// a schedule; the previous keys stay in the JWKS until every token they signed has expired.
// Signing keys are kept in the store sealed with AES-256-GCM under the server secret, so every
// replica that shares the secret signs and verifies with the same keys.
//
// Revocation (RFC 7009) of an access token puts its jti on a list every replica reloads within
// `cache_ttl`; revoking a refresh token revokes its family. Introspection (RFC 7662) answers for
// tokens of the caller's own organisation only.
//
// Passwords: sign-in locks a user after the organisation's limit of consecutive failures for its
// lockout period, and answers an unknown user after the same argon2 work as a wrong password, so
// timing does not reveal which accounts exist. Every sign-in appends an audit record.
//
// Thread-safety: thread-safe. Keys and the revocation list are cached under mutex_.
#pragma once

#include <expected>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "identity/authenticator.h"
#include "identity/jwt.h"
#include "identity/passwords.h"
#include "identity/principal.h"
#include "store/identity_repos.h"
#include "store/oauth_repos.h"
#include "store/store.h"

namespace hangar::identity {

struct TokenOptions {
  Micros access_token_ttl = std::chrono::minutes(15);
  Micros refresh_token_ttl = std::chrono::hours(24 * 30);
  Micros signing_key_rotation = std::chrono::hours(24 * 30);
  Micros authorization_code_ttl = std::chrono::minutes(2);
  Micros device_code_ttl = std::chrono::minutes(10);
  int64_t device_poll_interval_seconds = 5;
  Micros cache_ttl = std::chrono::seconds(10);  // revocation list and key reloads on replicas
  std::string audience = "hangar-api";
  PasswordHashParams password_hashing;
};

// An RFC 6749 §5.2 error: the token endpoint answers these as {"error", "error_description"}.
struct OAuthError {
  std::string error;  // invalid_request, invalid_client, invalid_grant, unauthorized_client,
                      // unsupported_grant_type, invalid_scope, authorization_pending, slow_down,
                      // access_denied, expired_token
  std::string description;
  unsigned status = 400;
};
template <typename T>
using OAuthResult = std::expected<T, OAuthError>;

struct TokenResponse {
  std::string access_token;
  std::string token_type = "Bearer";
  int64_t expires_in = 0;
  std::string refresh_token;  // empty for client credentials
  std::string scope;
};

struct DeviceAuthorization {
  std::string device_code;
  std::string user_code;  // "WDJB-MJHT"
  std::string verification_uri;
  std::string verification_uri_complete;
  int64_t expires_in = 0;
  int64_t interval = 0;
};

// A signed-in user, as the login page hands it to the grant it completes.
struct SignedInUser {
  OrgId org_id;
  UserId user_id;
  std::string email;
};

// RFC 7662 answer.
struct Introspection {
  bool active = false;
  std::string scope, client_id, sub, jti, tenant, token_type, iss, aud;
  int64_t exp = 0, iat = 0;
};

// Who asks, for the audit records of sign-ins.
struct RequestOrigin {
  std::string address;
  std::string user_agent;
  std::string request_id;
};

class TokenService {
 public:
  TokenService(store::Store& store, const Clock& clock, Authenticator& authenticator,
               std::string server_secret, std::string issuer, TokenOptions options);

  void SetIssuer(std::string issuer);  // before serving (hangard learns its port late)
  std::string issuer() const;

  // ---- Sign-in (the login page) ----
  Result<SignedInUser> SignIn(std::string_view org_name, std::string_view email,
                              std::string_view password, const RequestOrigin& origin);

  // ---- Authorisation code + PKCE ----
  // Checks what /oauth/authorize received before showing the login page; kInvalidArgument
  // naming the parameter.
  Status ValidateAuthorizeRequest(std::string_view response_type, std::string_view client_id,
                                  std::string_view redirect_uri, std::string_view code_challenge,
                                  std::string_view code_challenge_method, std::string_view scope);
  // The code to send back to redirect_uri.
  Result<std::string> IssueAuthorizationCode(const SignedInUser& user, std::string_view client_id,
                                             std::string_view redirect_uri,
                                             std::string_view code_challenge,
                                             std::string_view scope);
  OAuthResult<TokenResponse> ExchangeCode(std::string_view code, std::string_view client_id,
                                          std::string_view redirect_uri,
                                          std::string_view code_verifier);

  // ---- Device authorisation ----
  OAuthResult<DeviceAuthorization> StartDeviceAuthorization(std::string_view client_id,
                                                            std::string_view scope);
  // The signed-in user approves (or denies) the device showing `user_code`.
  Status DecideDevice(std::string_view user_code, const SignedInUser& user, bool approve);
  OAuthResult<TokenResponse> PollDevice(std::string_view device_code, std::string_view client_id);

  // ---- Other grants ----
  OAuthResult<TokenResponse> Refresh(std::string_view refresh_token, std::string_view client_id);
  OAuthResult<TokenResponse> ClientCredentials(std::string_view client_id,
                                               std::string_view client_secret,
                                               std::string_view scope, std::string_view address);

  // ---- Revocation and introspection ----
  // RFC 7009: unknown or foreign tokens are not an error (the answer is 200 either way).
  Status Revoke(std::string_view token);
  Result<Introspection> Introspect(std::string_view token, const Principal& caller);

  // ---- Verification (the gateway) ----
  // A Principal for a valid, unrevoked access token; kUnauthenticated otherwise.
  Result<Principal> AuthenticateAccessToken(std::string_view token);
  static bool LooksLikeJwt(std::string_view token);

  // ---- Publication ----
  Result<boost::json::object> Jwks();
  boost::json::object Discovery() const;

  // Creates the first signing key, or a new one when the newest is older than the rotation
  // period. Called at start and on a timer (hangard's reconciler).
  Status RotateSigningKeyIfDue();

 private:
  // Signs an access token and (unless `with_refresh` is false) a refresh token in `family`.
  Result<TokenResponse> IssueTokens(const OrgId& org, const std::string& subject,
                                    const std::string& client_id, const std::string& scope,
                                    bool with_refresh, std::string family);
  Result<SigningKey> CurrentSigningKey();
  Status ReloadKeys(bool force);
  Status ReloadRevocations();
  void AuditSignIn(const OrgId& org, const std::string& actor, const std::string& email,
                   const std::string& outcome, const std::string& reason,
                   const RequestOrigin& origin);

  store::Store& store_;
  const Clock& clock_;
  Authenticator& authenticator_;
  const std::string server_secret_;
  const TokenOptions options_;

  mutable std::mutex mutex_;
  std::string issuer_;                                  // guarded by mutex_
  std::optional<SigningKey> signing_key_;               // guarded by mutex_
  Timestamp signing_key_created_at_;                    // guarded by mutex_
  std::vector<VerificationKey> verification_keys_;      // guarded by mutex_
  std::vector<boost::json::object> published_jwks_;     // guarded by mutex_
  Timestamp keys_loaded_at_;                            // guarded by mutex_
  std::unordered_map<std::string, Timestamp> revoked_;  // jti -> token expiry; guarded
  Timestamp revocations_loaded_at_;                     // guarded by mutex_
  Timestamp revocations_loaded_through_;                // guarded by mutex_
  // Tokens whose signature and claims were verified, until they expire.
  struct VerifiedToken {
    Principal principal;
    Timestamp expires_at;
  };
  static constexpr size_t kMaxVerifiedTokens = 100'000;
  std::unordered_map<std::string, VerifiedToken> verified_;  // by token; guarded by mutex_
};

}  // namespace hangar::identity
