#include "identity/api_keys.h"

#include <gtest/gtest.h>

#include <set>

namespace hangar::identity {
namespace {

TEST(ApiKeysTest, GeneratedSecretsAreWellFormedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    GeneratedSecret s = GenerateSecret(kApiKeyPrefix);
    EXPECT_TRUE(IsWellFormedSecret(s.secret, kApiKeyPrefix)) << s.secret;
    EXPECT_FALSE(IsWellFormedSecret(s.secret, kJoinTokenPrefix));
    EXPECT_EQ(s.hash, HashSecret(s.secret));
    EXPECT_EQ(s.hash.size(), 64u);
    EXPECT_TRUE(seen.insert(s.secret).second);
  }
}

TEST(ApiKeysTest, TyposAndTruncationsFailTheChecksum) {
  std::string secret = GenerateSecret(kApiKeyPrefix).secret;
  std::string typo = secret;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(IsWellFormedSecret(typo, kApiKeyPrefix));
  EXPECT_FALSE(IsWellFormedSecret(secret.substr(0, secret.size() - 1), kApiKeyPrefix));
  EXPECT_FALSE(IsWellFormedSecret("", kApiKeyPrefix));
  EXPECT_FALSE(IsWellFormedSecret("hgr_" + std::string(49, '!'), kApiKeyPrefix));
}

}  // namespace
}  // namespace hangar::identity
