#include "identity/authenticator.h"

#include <gtest/gtest.h>

#include <optional>

#include "identity/api_keys.h"
#include "store/repos.h"
#include "store/temp_store.h"

namespace hangar::identity {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto temp = store::TempSqliteStore::Open(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(temp.has_value()) << temp.error().ToString();
    temp_.emplace(std::move(*temp));
    store_ = &temp_->store();
  }
  std::optional<store::TempSqliteStore> temp_;
  store::Store* store_ = nullptr;
  FakeClock clock_{FromUnixMicros(1'795'000'000'000'000)};
};

TEST_F(AuthenticatorTest, BootstrapCreatesOneAdminKeyExactlyOnce) {
  auto first = BootstrapFirstOrganisation(*store_, clock_, [](const std::string&) { return Ok(); });
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->has_value());
  auto second =
      BootstrapFirstOrganisation(*store_, clock_, [](const std::string&) { return Ok(); });
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->has_value());

  Authenticator auth(*store_, clock_);
  auto principal = auth.Authenticate(**first);
  ASSERT_TRUE(principal.has_value()) << principal.error().ToString();
  EXPECT_TRUE(principal->IsAdmin());
}

TEST_F(AuthenticatorTest, BootstrapLeavesNothingWhenTheKeyCannotBeDelivered) {
  auto failed = BootstrapFirstOrganisation(*store_, clock_, [](const std::string&) -> Status {
    return std::unexpected(Error::Internal("disk full"));
  });
  ASSERT_FALSE(failed.has_value());
  std::string delivered;
  auto retried = BootstrapFirstOrganisation(*store_, clock_, [&](const std::string& key) {
    delivered = key;
    return Ok();
  });
  ASSERT_TRUE(retried.has_value() && retried->has_value());
  EXPECT_EQ(delivered, **retried);
}

TEST_F(AuthenticatorTest, RejectsMissingMalformedAndUnknownKeys) {
  Authenticator auth(*store_, clock_);
  for (std::string key :
       {std::string(), std::string("hgr_nope"), GenerateSecret(kApiKeyPrefix).secret}) {
    auto r = auth.Authenticate(key);
    ASSERT_FALSE(r.has_value()) << key;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_FALSE(r.error().hint().empty());
  }
}

TEST_F(AuthenticatorTest, RevokedKeysStopWorkingAfterForget) {
  auto admin = BootstrapFirstOrganisation(*store_, clock_, [](const std::string&) { return Ok(); });
  Authenticator auth(*store_, clock_);
  auto org = auth.Authenticate(**admin)->org_id;
  GeneratedSecret node_key = GenerateSecret(kApiKeyPrefix);
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) {
    return store::InsertApiKey(tx, {.id = ApiKeyId::Generate(clock_),
                                    .org_id = org,
                                    .name = "node",
                                    .secret_hash = node_key.hash,
                                    .kind = store::PrincipalKind::kNode,
                                    .subject_id = "node_x",
                                    .created_at = clock_.Now()});
  }));
  ASSERT_TRUE(auth.Authenticate(node_key.secret).has_value());
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) {
    return store::RevokeApiKeysOfSubject(tx, org, "node_x", clock_.Now());
  }));
  // Still cached until forgotten (other replicas: until the TTL passes).
  EXPECT_TRUE(auth.Authenticate(node_key.secret).has_value());
  auth.Forget("node_x");
  EXPECT_FALSE(auth.Authenticate(node_key.secret).has_value());
}

TEST_F(AuthenticatorTest, CacheExpiresWithTheClock) {
  auto admin = BootstrapFirstOrganisation(*store_, clock_, [](const std::string&) { return Ok(); });
  Authenticator auth(*store_, clock_, std::chrono::seconds(10));
  GeneratedSecret later = GenerateSecret(kApiKeyPrefix);
  EXPECT_FALSE(auth.Authenticate(later.secret).has_value());  // negatively cached
  auto org = auth.Authenticate(**admin)->org_id;
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) {
    return store::InsertApiKey(tx, {.id = ApiKeyId::Generate(clock_),
                                    .org_id = org,
                                    .name = "later",
                                    .secret_hash = later.hash,
                                    .created_at = clock_.Now()});
  }));
  EXPECT_FALSE(auth.Authenticate(later.secret).has_value());
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_TRUE(auth.Authenticate(later.secret).has_value());
}

}  // namespace
}  // namespace hangar::identity
