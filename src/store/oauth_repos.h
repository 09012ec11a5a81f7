// Typed repositories for the OAuth 2.0 authorisation server: signing keys, pending grants
// (authorisation codes and device codes), refresh tokens (rotating, in families) and the
// revocation list of access tokens. Secrets are stored only as SHA-256 hashes; signing keys
// only sealed (AES-256-GCM under the server secret).
//
// Thread-safety: stateless functions over the caller's Tx.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "store/store.h"

namespace hangar::store {

struct SigningKeyRecord {
  std::string kid;
  std::string sealed_private_key;
  std::string public_jwk;  // JSON text
  Timestamp created_at;
};

// An authorisation code (kind "code") or a device code (kind "device") until it is redeemed.
// state: "pending" (device code not yet approved), "approved", "denied" or "used".
struct OAuthGrantRecord {
  std::string id;
  std::string kind;
  std::string code_hash;
  std::optional<std::string> user_code;  // device flow: what the user types
  std::string client_id;
  std::string org_id;   // set when approved
  std::string user_id;  // set when approved
  std::string redirect_uri;
  std::string code_challenge;  // PKCE S256
  std::string scope;
  std::string state;
  Timestamp expires_at;
  std::optional<Timestamp> last_polled_at;
  Timestamp created_at;
};

struct RefreshTokenRecord {
  std::string id;
  std::string token_hash;
  std::string family_id;  // every token descended from one sign-in
  OrgId org_id;
  std::string subject_id;
  std::string client_id;
  std::string scope;
  Timestamp expires_at;
  std::optional<Timestamp> used_at;  // rotated: a second use is a replay
  std::optional<Timestamp> revoked_at;
  Timestamp created_at;
};

Status InsertSigningKey(Tx& tx, const SigningKeyRecord& key);
// Keys created at or after `since`, newest first.
Result<std::vector<SigningKeyRecord>> ListSigningKeys(Tx& tx, Timestamp since);

Status InsertGrant(Tx& tx, const OAuthGrantRecord& grant);
Result<std::optional<OAuthGrantRecord>> FindGrantByCodeHash(Tx& tx, std::string_view hash);
Result<std::optional<OAuthGrantRecord>> FindGrantByUserCode(Tx& tx, std::string_view user_code);
// Writes state, org_id, user_id and last_polled_at.
Status UpdateGrant(Tx& tx, const OAuthGrantRecord& grant);
// approved -> used; false when the grant was not approved any more (a concurrent redemption).
Result<bool> MarkGrantUsed(Tx& tx, std::string_view id);
Status DeleteExpiredGrants(Tx& tx, Timestamp now);

Status InsertRefreshToken(Tx& tx, const RefreshTokenRecord& token);
Result<std::optional<RefreshTokenRecord>> FindRefreshTokenByHash(Tx& tx, std::string_view hash);
// Marks the token used; false when it already was (a concurrent or replayed use).
Result<bool> MarkRefreshTokenUsed(Tx& tx, std::string_view id, Timestamp now);
Status RevokeRefreshFamily(Tx& tx, std::string_view family_id, Timestamp now);
Status RevokeRefreshTokensOfSubject(Tx& tx, const OrgId& org, std::string_view subject_id,
                                    Timestamp now);

Status InsertRevokedToken(Tx& tx, std::string_view jti, const OrgId& org, Timestamp expires_at,
                          Timestamp now);
// jtis revoked at or after `since` (the verifier's incremental refresh).
Result<std::vector<std::pair<std::string, Timestamp>>> ListRevokedTokens(Tx& tx, Timestamp since);

}  // namespace hangar::store
