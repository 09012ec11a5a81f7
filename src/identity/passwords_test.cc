// Tests for argon2id password hashing and the new-password rules. Most use cheap parameters
// (1 pass, 1 MiB) so the suite stays fast; one test exercises the production defaults.
#include "identity/passwords.h"

#include <gtest/gtest.h>

namespace hangar::identity {
namespace {

constexpr PasswordHashParams kCheap{.time_cost = 1, .memory_kib = 1024, .parallelism = 1};

// The single field violation of a failed rule check, for asserting on its pointer and detail.
FieldViolation OnlyViolation(const Status& status) {
  EXPECT_FALSE(status.has_value());
  if (status.has_value()) return {};
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(status.error().hint().empty());
  EXPECT_EQ(status.error().violations().size(), 1u);
  if (status.error().violations().empty()) return {};
  return status.error().violations().front();
}

TEST(PasswordHashTest, RoundTripsWithCheapParams) {
  std::string hash = HashPassword("correct horse battery staple", kCheap);
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$")) << hash;
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", hash));
  EXPECT_FALSE(VerifyPassword("correct horse battery stapl", hash));
  EXPECT_FALSE(VerifyPassword("Correct horse battery staple", hash));
  EXPECT_FALSE(VerifyPassword("", hash));
}

TEST(PasswordHashTest, RoundTripsWithDefaultParams) {
  std::string hash = HashPassword("correct horse battery staple");
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=65536,t=3,p=1$")) << hash;
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", hash));
  EXPECT_FALSE(VerifyPassword("wrong horse battery staple", hash));
  EXPECT_FALSE(NeedsRehash(hash, PasswordHashParams{}));
}

TEST(PasswordHashTest, EmptyAndBinaryPasswordsRoundTrip) {
  std::string empty = HashPassword("", kCheap);
  EXPECT_TRUE(VerifyPassword("", empty));
  EXPECT_FALSE(VerifyPassword("x", empty));
  std::string binary("a\0b\xff", 4);
  std::string hash = HashPassword(binary, kCheap);
  EXPECT_TRUE(VerifyPassword(binary, hash));
  EXPECT_FALSE(VerifyPassword("a", hash));  // an embedded NUL does not truncate the password
}

TEST(PasswordHashTest, SaltMakesEachHashDifferent) {
  std::string a = HashPassword("same password here", kCheap);
  std::string b = HashPassword("same password here", kCheap);
  EXPECT_NE(a, b);
  EXPECT_TRUE(VerifyPassword("same password here", a));
  EXPECT_TRUE(VerifyPassword("same password here", b));
}

TEST(PasswordHashTest, MalformedEncodingsVerifyFalse) {
  std::string good = HashPassword("correct horse battery staple", kCheap);
  std::string argon2i = good;
  argon2i.replace(0, std::string_view("$argon2id").size(), "$argon2i");
  std::string tampered = good;
  char& c = tampered[tampered.size() - 5];  // inside the tag, clear of base64 padding bits
  c = c == 'A' ? 'B' : 'A';
  for (const std::string& bad : {
           std::string(),
           std::string("not a hash"),
           std::string("$argon2id$"),
           std::string("$argon2id$v=19$m=1024,t=1,p=1$"),
           std::string("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ"),
           std::string("$argon2id$v=19$m=1024,t=1,p=1$!!!$!!!"),
           std::string("$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA"),
           std::string("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"),
           good.substr(0, good.size() - 10),
           good + "$extra",
           argon2i,
           tampered,
       }) {
    EXPECT_FALSE(VerifyPassword("correct horse battery staple", bad)) << bad;
  }
}

TEST(PasswordHashTest, RefusesAbsurdParamsWithoutRunningThem) {
  // A corrupted row claiming 64 GiB must fail fast rather than allocate.
  EXPECT_FALSE(VerifyPassword(
      "x", "$argon2id$v=19$m=67108864,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"));
  EXPECT_FALSE(VerifyPassword(
      "x", "$argon2id$v=19$m=1024,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"));
}

TEST(PasswordHashTest, NeedsRehashWhenParamsAreWeaker) {
  std::string cheap = HashPassword("correct horse battery staple", kCheap);
  EXPECT_FALSE(NeedsRehash(cheap, kCheap));
  EXPECT_TRUE(NeedsRehash(cheap, {.time_cost = 2, .memory_kib = 1024, .parallelism = 1}));
  EXPECT_TRUE(NeedsRehash(cheap, {.time_cost = 1, .memory_kib = 2048, .parallelism = 1}));
  EXPECT_TRUE(NeedsRehash(cheap, {.time_cost = 1, .memory_kib = 1024, .parallelism = 2}));
  EXPECT_TRUE(NeedsRehash(cheap, PasswordHashParams{}));
  // Stronger than required is fine: lowering the configuration does not churn hashes.
  EXPECT_FALSE(NeedsRehash(cheap, {.time_cost = 1, .memory_kib = 512, .parallelism = 1}));
  EXPECT_TRUE(NeedsRehash("garbage", kCheap));
  EXPECT_TRUE(
      NeedsRehash("$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
                  "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
                  kCheap));  // old version
  EXPECT_TRUE(
      NeedsRehash("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$"
                  "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
                  kCheap));  // 8-byte salt
}

TEST(PasswordHashTest, DummyHashIsValidCachedAndUnguessable) {
  std::string dummy = DummyPasswordHash(kCheap);
  EXPECT_EQ(DummyPasswordHash(kCheap), dummy);
  EXPECT_FALSE(NeedsRehash(dummy, kCheap));
  EXPECT_FALSE(VerifyPassword("", dummy));
  EXPECT_FALSE(VerifyPassword("password1234", dummy));
  // Another parameter set gets its own hash, so an unknown user costs what a real one does.
  std::string other = DummyPasswordHash({.time_cost = 2, .memory_kib = 1024, .parallelism = 1});
  EXPECT_NE(other, dummy);
  EXPECT_TRUE(other.starts_with("$argon2id$v=19$m=1024,t=2,p=1$")) << other;
}

TEST(PasswordRulesTest, AcceptsLongPassphrases) {
  EXPECT_TRUE(CheckPasswordRules("correct horse battery staple", "alice@example.com"));
  EXPECT_TRUE(CheckPasswordRules("abcdefghijk!", "bob@example.com"));                // exactly 12
  EXPECT_TRUE(CheckPasswordRules("ab" + std::string(254, 'c'), "bob@example.com"));  // 256 bytes
}

TEST(PasswordRulesTest, RejectsShortPasswordsCountingCodePoints) {
  FieldViolation v = OnlyViolation(CheckPasswordRules("short pass", "alice@example.com"));
  EXPECT_EQ(v.pointer, "/password");
  EXPECT_NE(v.detail.find("at least 12"), std::string::npos) << v.detail;
  // Eleven two-byte characters are 22 bytes but only 11 characters.
  std::string eleven_cyrillic = "абвгдеёжзий";
  ASSERT_EQ(eleven_cyrillic.size(), 22u);
  EXPECT_FALSE(CheckPasswordRules(eleven_cyrillic, "alice@example.com"));
  EXPECT_TRUE(CheckPasswordRules(eleven_cyrillic + "к", "alice@example.com"));
}

TEST(PasswordRulesTest, RejectsOverlongPasswords) {
  FieldViolation v = OnlyViolation(CheckPasswordRules("ab" + std::string(255, 'c'), "x@y.z"));
  EXPECT_NE(v.detail.find("at most 256 bytes"), std::string::npos) << v.detail;
}

TEST(PasswordRulesTest, RejectsOneRepeatedCharacter) {
  FieldViolation v = OnlyViolation(CheckPasswordRules(std::string(20, 'a'), "x@y.z"));
  EXPECT_NE(v.detail.find("repeated"), std::string::npos) << v.detail;
  std::string stars;
  for (int i = 0; i < 12; ++i) stars += "★";
  EXPECT_FALSE(CheckPasswordRules(stars, "x@y.z"));
  EXPECT_TRUE(CheckPasswordRules(stars + "a", "x@y.z"));
}

TEST(PasswordRulesTest, RejectsCommonPasswordsCaseInsensitively) {
  for (std::string_view common : {"password1234", "123456789012", "qwertyuiopas", "PassWord1234"}) {
    FieldViolation v = OnlyViolation(CheckPasswordRules(common, "x@y.z"));
    EXPECT_NE(v.detail.find("common"), std::string::npos) << common;
  }
}

TEST(PasswordRulesTest, RejectsTheEmailLocalPart) {
  FieldViolation v =
      OnlyViolation(CheckPasswordRules("my name is Alice.Smith!", "alice.smith@example.com"));
  EXPECT_NE(v.detail.find("email"), std::string::npos) << v.detail;
  EXPECT_FALSE(CheckPasswordRules("ALICE loves gpus", "alice+gpu@example.com"));
  // Too short a local part to mean anything, and the domain is not checked.
  EXPECT_TRUE(CheckPasswordRules("ab loves example gpus", "ab@example.com"));
  EXPECT_TRUE(CheckPasswordRules("ab loves gpus a lot", ""));
}

TEST(PasswordRulesTest, NamesTheGivenField) {
  FieldViolation v = OnlyViolation(CheckPasswordRules("short", "x@y.z", "/new_password"));
  EXPECT_EQ(v.pointer, "/new_password");
}

}  // namespace
}  // namespace hangar::identity
