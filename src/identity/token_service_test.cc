#include "identity/token_service.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "identity/api_keys.h"
#include "store/identity_repos.h"
#include "store/temp_store.h"

namespace hangar::identity {
namespace {

// The token service with an injected clock: expiry, signing-key rotation and the revocation list
// without waiting. A service account's API key is exchanged for tokens (client credentials).
class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto temp = store::TempSqliteStore::Open(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(temp.has_value()) << temp.error().ToString();
    temp_.emplace(std::move(*temp));
    Timestamp now = clock_.Now();
    key_ = GenerateSecret(kApiKeyPrefix);
    ASSERT_TRUE(temp_->store().Write([&](store::Tx& tx) -> Status {
      HANGAR_TRY(store::InsertOrg(tx, store::OrgRecord{org_, "acme", now}));
      HANGAR_TRY(store::InsertServiceAccount(
          tx, store::ServiceAccountRecord{
                  .id = sa_, .org_id = org_, .name = "ci", .created_at = now, .updated_at = now}));
      return store::InsertApiKey(tx,
                                 store::ApiKeyRecord{.id = ApiKeyId::Generate(clock_),
                                                     .org_id = org_,
                                                     .name = "k",
                                                     .secret_hash = key_.hash,
                                                     .kind = store::PrincipalKind::kServiceAccount,
                                                     .subject_id = sa_.str(),
                                                     .created_at = now,
                                                     .updated_at = now});
    }));
    authenticator_.emplace(temp_->store(), clock_, std::chrono::seconds(10));
    tokens_ = MakeService("hangar-api");
  }

  std::unique_ptr<TokenService> MakeService(std::string audience) {
    auto service = std::make_unique<TokenService>(
        temp_->store(), clock_, *authenticator_, secret_, "https://hangar.test",
        TokenOptions{.cache_ttl = std::chrono::seconds(1), .audience = std::move(audience)});
    EXPECT_TRUE(service->RotateSigningKeyIfDue().has_value());
    return service;
  }

  std::string Token(std::string_view scope = "") {
    auto t = tokens_->ClientCredentials(sa_.str(), key_.secret, scope, "127.0.0.1");
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().description);
    return t ? t->access_token : "";
  }

  FakeClock clock_{FromUnixMicros(1'795'000'000'000'000)};
  std::optional<store::TempSqliteStore> temp_;
  OrgId org_ = OrgId::Generate(clock_);
  ServiceAccountId sa_ = ServiceAccountId::Generate(clock_);
  GeneratedSecret key_;
  std::string secret_ = RandomBytes(32);
  std::optional<Authenticator> authenticator_;
  std::unique_ptr<TokenService> tokens_;
};

TEST_F(TokenServiceTest, AnAccessTokenNamesItsPrincipalScopeAndTenant) {
  auto principal = tokens_->AuthenticateAccessToken(Token("nodes:read gpus:read"));
  ASSERT_TRUE(principal.has_value()) << principal.error().ToString();
  EXPECT_EQ(principal->org_id, org_);
  EXPECT_EQ(principal->kind, store::PrincipalKind::kServiceAccount);
  EXPECT_EQ(principal->subject_id, sa_.str());
  EXPECT_EQ(principal->scopes, (std::vector<std::string>{"nodes:read", "gpus:read"}));
  EXPECT_TRUE(principal->token_id.starts_with("tok_"));
  EXPECT_FALSE(tokens_->ClientCredentials(sa_.str(), key_.secret, "nodes:fly", "").has_value());
}

TEST_F(TokenServiceTest, ExpiredTokensAreRefused) {
  std::string token = Token();
  clock_.Advance(std::chrono::minutes(15) + std::chrono::seconds(31));  // past exp + leeway
  auto expired = tokens_->AuthenticateAccessToken(token);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(expired.error().message().find("expired"), std::string::npos);
}

TEST_F(TokenServiceTest, ATokenForAnotherAudienceOrIssuerIsRefused) {
  auto other = MakeService("some-other-api");  // same keys, another resource server
  EXPECT_FALSE(other->AuthenticateAccessToken(Token()).has_value());
  auto issuer = MakeService("hangar-api");
  issuer->SetIssuer("https://evil.test");
  EXPECT_FALSE(issuer->AuthenticateAccessToken(Token()).has_value());
}

TEST_F(TokenServiceTest, RotationKeepsThePreviousKeyPublishedUntilItsTokensExpire) {
  std::string before = Token();
  auto jwks = tokens_->Jwks();
  ASSERT_TRUE(jwks.has_value());
  ASSERT_EQ(jwks->at("keys").as_array().size(), 1u);
  std::string old_kid(jwks->at("keys").at(0).at("kid").as_string());

  clock_.Advance(std::chrono::hours(24 * 30));  // the rotation period
  ASSERT_TRUE(tokens_->RotateSigningKeyIfDue().has_value());
  std::string after = Token();
  jwks = tokens_->Jwks();
  ASSERT_EQ(jwks->at("keys").as_array().size(), 2u);
  EXPECT_EQ(jwks->at("keys").at(1).at("kid").as_string(), old_kid);  // newest first
  EXPECT_TRUE(tokens_->AuthenticateAccessToken(after).has_value());

  // Once every token the old key signed has expired, the old key leaves the JWKS.
  clock_.Advance(std::chrono::hours(1));
  jwks = tokens_->Jwks();
  EXPECT_EQ(jwks->at("keys").as_array().size(), 1u);
  EXPECT_FALSE(tokens_->AuthenticateAccessToken(before).has_value());
}

TEST_F(TokenServiceTest, ARevokedTokenIsRefusedByEveryReplicaWithinTheCachePeriod) {
  std::string token = Token();
  auto replica = MakeService("hangar-api");  // another hangard on the same database
  ASSERT_TRUE(replica->AuthenticateAccessToken(token).has_value());
  ASSERT_TRUE(tokens_->Revoke(token).has_value());
  EXPECT_FALSE(tokens_->AuthenticateAccessToken(token).has_value());  // at once, here
  clock_.Advance(std::chrono::seconds(2));                            // > cache_ttl
  auto there = replica->AuthenticateAccessToken(token);
  ASSERT_FALSE(there.has_value());
  EXPECT_NE(there.error().message().find("revoked"), std::string::npos);
}

TEST_F(TokenServiceTest, SigningKeysNeedTheServerSecret) {
  TokenService wrong_secret(temp_->store(), clock_, *authenticator_, RandomBytes(32),
                            "https://hangar.test", {});
  auto status = wrong_secret.RotateSigningKeyIfDue();
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().message().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace hangar::identity
