// OAuth repositories. See oauth_repos.h.
#include "store/oauth_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kGrantSelect =
    "SELECT id, kind, code_hash, user_code, client_id, org_id, user_id, redirect_uri,"
    " code_challenge, scope, state, expires_at, last_polled_at, created_at FROM oauth_grants";

Result<OAuthGrantRecord> GrantFromRow(const Row& r) {
  return OAuthGrantRecord{.id = r.Text(0),
                          .kind = r.Text(1),
                          .code_hash = r.Text(2),
                          .user_code = r.OptText(3),
                          .client_id = r.Text(4),
                          .org_id = r.Text(5),
                          .user_id = r.Text(6),
                          .redirect_uri = r.Text(7),
                          .code_challenge = r.Text(8),
                          .scope = r.Text(9),
                          .state = r.Text(10),
                          .expires_at = r.Time(11),
                          .last_polled_at = r.OptTime(12),
                          .created_at = r.Time(13)};
}

constexpr std::string_view kRefreshSelect =
    "SELECT id, token_hash, family_id, org_id, subject_id, client_id, scope, expires_at, used_at,"
    " revoked_at, created_at FROM refresh_tokens";

Result<RefreshTokenRecord> RefreshFromRow(const Row& r) {
  return RefreshTokenRecord{.id = r.Text(0),
                            .token_hash = r.Text(1),
                            .family_id = r.Text(2),
                            .org_id = OrgId::FromTrusted(r.Text(3)),
                            .subject_id = r.Text(4),
                            .client_id = r.Text(5),
                            .scope = r.Text(6),
                            .expires_at = r.Time(7),
                            .used_at = r.OptTime(8),
                            .revoked_at = r.OptTime(9),
                            .created_at = r.Time(10)};
}

}  // namespace

Status InsertSigningKey(Tx& tx, const SigningKeyRecord& k) {
  return StatusOf(
      tx.Exec("INSERT INTO signing_keys (kid, sealed_private_key, public_jwk, created_at)"
              " VALUES ($1, $2, $3, $4)",
              {k.kid, k.sealed_private_key, k.public_jwk, ToUnixMicros(k.created_at)}));
}

Result<std::vector<SigningKeyRecord>> ListSigningKeys(Tx& tx, Timestamp since) {
  SqlValue params[] = {ToUnixMicros(since)};
  return QueryAll<SigningKeyRecord>(
      tx,
      "SELECT kid, sealed_private_key, public_jwk, created_at FROM signing_keys"
      " WHERE created_at >= $1 ORDER BY created_at DESC",
      params, [](const Row& r) -> Result<SigningKeyRecord> {
        return SigningKeyRecord{r.Text(0), r.Text(1), r.Text(2), r.Time(3)};
      });
}

Status InsertGrant(Tx& tx, const OAuthGrantRecord& g) {
  return StatusOf(tx.Exec(
      "INSERT INTO oauth_grants (id, kind, code_hash, user_code, client_id, org_id, user_id,"
      " redirect_uri, code_challenge, scope, state, expires_at, last_polled_at, created_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      {g.id, g.kind, g.code_hash, Nullable(g.user_code), g.client_id, g.org_id, g.user_id,
       g.redirect_uri, g.code_challenge, g.scope, g.state, ToUnixMicros(g.expires_at),
       Nullable(g.last_polled_at), ToUnixMicros(g.created_at)}));
}

Result<std::optional<OAuthGrantRecord>> FindGrantByCodeHash(Tx& tx, std::string_view hash) {
  static const std::string sql = Concat({kGrantSelect, " WHERE code_hash = $1"});
  SqlValue params[] = {std::string(hash)};
  return QueryOne<OAuthGrantRecord>(tx, sql, params, GrantFromRow);
}

Result<std::optional<OAuthGrantRecord>> FindGrantByUserCode(Tx& tx, std::string_view user_code) {
  static const std::string sql = Concat({kGrantSelect, " WHERE user_code = $1"});
  SqlValue params[] = {std::string(user_code)};
  return QueryOne<OAuthGrantRecord>(tx, sql, params, GrantFromRow);
}

Status UpdateGrant(Tx& tx, const OAuthGrantRecord& g) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE oauth_grants SET state = $2, org_id = $3, user_id = $4,"
                         " last_polled_at = $5 WHERE id = $1",
                         {g.id, g.state, g.org_id, g.user_id, Nullable(g.last_polled_at)}));
  if (n == 0) return std::unexpected(Error::NotFound("grant not found"));
  return Ok();
}

Result<bool> MarkGrantUsed(Tx& tx, std::string_view id) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n,
      tx.Exec("UPDATE oauth_grants SET state = 'used' WHERE id = $1 AND state = 'approved'",
              {std::string(id)}));
  return n == 1;
}

Status DeleteExpiredGrants(Tx& tx, Timestamp now) {
  return StatusOf(tx.Exec("DELETE FROM oauth_grants WHERE expires_at < $1", {ToUnixMicros(now)}));
}

Status InsertRefreshToken(Tx& tx, const RefreshTokenRecord& t) {
  return StatusOf(tx.Exec(
      "INSERT INTO refresh_tokens (id, token_hash, family_id, org_id, subject_id, client_id,"
      " scope, expires_at, used_at, revoked_at, created_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {t.id, t.token_hash, t.family_id, t.org_id.str(), t.subject_id, t.client_id, t.scope,
       ToUnixMicros(t.expires_at), Nullable(t.used_at), Nullable(t.revoked_at),
       ToUnixMicros(t.created_at)}));
}

Result<std::optional<RefreshTokenRecord>> FindRefreshTokenByHash(Tx& tx, std::string_view hash) {
  static const std::string sql = Concat({kRefreshSelect, " WHERE token_hash = $1"});
  SqlValue params[] = {std::string(hash)};
  return QueryOne<RefreshTokenRecord>(tx, sql, params, RefreshFromRow);
}

Result<bool> MarkRefreshTokenUsed(Tx& tx, std::string_view id, Timestamp now) {
  HANGAR_ASSIGN_OR_RETURN(int64_t n,
                          tx.Exec("UPDATE refresh_tokens SET used_at = $2"
                                  " WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
                                  {std::string(id), ToUnixMicros(now)}));
  return n == 1;
}

Status RevokeRefreshFamily(Tx& tx, std::string_view family_id, Timestamp now) {
  return StatusOf(tx.Exec(
      "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
      {std::string(family_id), ToUnixMicros(now)}));
}

Status RevokeRefreshTokensOfSubject(Tx& tx, const OrgId& org, std::string_view subject_id,
                                    Timestamp now) {
  return StatusOf(
      tx.Exec("UPDATE refresh_tokens SET revoked_at = $3"
              " WHERE org_id = $1 AND subject_id = $2 AND revoked_at IS NULL",
              {org.str(), std::string(subject_id), ToUnixMicros(now)}));
}

Status InsertRevokedToken(Tx& tx, std::string_view jti, const OrgId& org, Timestamp expires_at,
                          Timestamp now) {
  // Revoking twice is harmless: the first record stands.
  return StatusOf(tx.Exec(
      "INSERT INTO revoked_tokens (jti, org_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (jti) DO NOTHING",
      {std::string(jti), org.str(), ToUnixMicros(expires_at), ToUnixMicros(now)}));
}

Result<std::vector<std::pair<std::string, Timestamp>>> ListRevokedTokens(Tx& tx, Timestamp since) {
  SqlValue params[] = {ToUnixMicros(since)};
  return QueryAll<std::pair<std::string, Timestamp>>(
      tx, "SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at >= $1", params,
      [](const Row& r) -> Result<std::pair<std::string, Timestamp>> {
        return std::pair{r.Text(0), r.Time(1)};
      });
}

}  // namespace hangar::store
