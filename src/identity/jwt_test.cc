// Tests for ES256 access tokens: round trips, key handling, the classic JWT attacks (alg none,
// HS256 with the public key, algorithm and kid confusion, DER signatures), claim checks, and
// interop with Node's built-in crypto, an independent implementation (tests/jwt/verify-jwt.mjs).
//
// Thread-safety: single-threaded tests.
#include "identity/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/crypto.h"

namespace hangar::identity {
namespace {

namespace bj = boost::json;

constexpr std::string_view kIssuer = "https://hangar.example";
constexpr std::string_view kAudience = "https://api.hangar.example";
const Timestamp kNow = Timestamp(std::chrono::seconds(1'800'000'000));

JwtClaims MakeClaims(Timestamp now = kNow) {
  return JwtClaims{.issuer = std::string(kIssuer),
                   .subject = "usr_123",
                   .audience = std::string(kAudience),
                   .jwt_id = "jti_abc",
                   .scope = "workloads:read workloads:write",
                   .tenant = "org_42",
                   .client_id = "cli_7",
                   .issued_at = now,
                   .expires_at = now + std::chrono::minutes(15),
                   .not_before = now};
}

JwtExpectations Expect(Timestamp now = kNow) {
  return {.issuer = std::string(kIssuer), .audience = std::string(kAudience), .now = now};
}

std::string B64Json(const bj::object& o) { return Base64UrlEncode(bj::serialize(o)); }

std::vector<std::string> Split(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(token.substr(start, dot - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

bj::object DecodeSegment(const std::string& segment) {
  return bj::parse(*Base64UrlDecode(segment)).as_object();
}

// The private key as an OpenSSL object, for forging tokens the API would never produce.
std::shared_ptr<EVP_PKEY> LoadPkey(const SigningKey& key) {
  std::string pem = key.PrivatePem();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), BIO_free);
  return std::shared_ptr<EVP_PKEY>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                   EVP_PKEY_free);
}

// DER ECDSA signature of `data`, as OpenSSL produces it.
std::string DerSign(const SigningKey& key, std::string_view data) {
  auto pkey = LoadPkey(key);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()), 1);
  size_t len = 0;
  auto* in = reinterpret_cast<const unsigned char*>(data.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()), 1);
  std::string der(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, in,
                           data.size()),
            1);
  der.resize(len);
  return der;
}

// Raw r||s ES256 signature, done independently of jwt.cc.
std::string RawSign(const SigningKey& key, std::string_view data) {
  std::string der = DerSign(key, data);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32);
  return raw;
}

// A validly ES256-signed token with an arbitrary header and payload.
std::string Forge(const SigningKey& key, const bj::object& header, const bj::object& payload) {
  std::string input = B64Json(header) + "." + B64Json(payload);
  return input + "." + Base64UrlEncode(RawSign(key, input));
}

bj::object GoodHeader(const SigningKey& key) {
  return {{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", key.kid()}};
}

bj::object GoodPayload() {
  return DecodeSegment(Split(SignJwt(SigningKey::Generate(), MakeClaims()))[1]);
}

std::string PublicPem(const SigningKey& key) {
  auto pkey = LoadPkey(key);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), pkey.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

class JwtTest : public ::testing::Test {
 protected:
  Result<JwtClaims> Verify(const std::string& token, Timestamp now = kNow) {
    return VerifyJwt(token, keys_, Expect(now));
  }
  // `why` is a fragment of the expected message, so a test fails when a token is rejected for
  // some reason other than the one under test.
  void ExpectRejected(const std::string& token, std::string_view why, Timestamp now = kNow) {
    auto r = Verify(token, now);
    ASSERT_FALSE(r.has_value()) << token;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_THAT(r.error().message(), ::testing::HasSubstr(std::string(why))) << token;
    EXPECT_FALSE(r.error().hint().empty());
  }

  SigningKey key_ = SigningKey::Generate();
  std::vector<VerificationKey> keys_{key_.ToVerificationKey()};
};

// ---- Keys ----

TEST(JwtKeyTest, PublicJwkHasTheRfc7518Fields) {
  SigningKey key = SigningKey::Generate();
  bj::object jwk = key.PublicJwk();
  EXPECT_EQ(jwk.at("kty"), "EC");
  EXPECT_EQ(jwk.at("crv"), "P-256");
  EXPECT_EQ(jwk.at("alg"), "ES256");
  EXPECT_EQ(jwk.at("use"), "sig");
  EXPECT_EQ(jwk.at("kid").as_string(), key.kid());
  EXPECT_FALSE(jwk.contains("d"));
  EXPECT_EQ(Base64UrlDecode(jwk.at("x").as_string())->size(), 32u);
  EXPECT_EQ(Base64UrlDecode(jwk.at("y").as_string())->size(), 32u);
  EXPECT_EQ(jwk.size(), 7u);
}

TEST(JwtKeyTest, KidIsTheRfc7638Thumbprint) {
  SigningKey key = SigningKey::Generate();
  bj::object jwk = key.PublicJwk();
  std::string input = R"({"crv":"P-256","kty":"EC","x":")" + std::string(jwk.at("x").as_string()) +
                      R"(","y":")" + std::string(jwk.at("y").as_string()) + R"("})";
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  EXPECT_EQ(key.kid(), Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), 32)));
  EXPECT_EQ(key.kid().size(), 43u);
  EXPECT_NE(key.kid(), SigningKey::Generate().kid());
}

TEST(JwtKeyTest, PemRoundTripKeepsTheKey) {
  SigningKey key = SigningKey::Generate();
  std::string pem = key.PrivatePem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << pem;
  auto loaded = SigningKey::FromPem(pem);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->kid(), key.kid());
  EXPECT_EQ(loaded->PublicJwk(), key.PublicJwk());
  // A token from the reloaded key verifies with the original's public key.
  VerificationKey original[] = {key.ToVerificationKey()};
  EXPECT_TRUE(VerifyJwt(SignJwt(*loaded, MakeClaims()), original, Expect()).has_value());
}

TEST(JwtKeyTest, FromPemRejectsOtherKeys) {
  EXPECT_FALSE(SigningKey::FromPem("").has_value());
  EXPECT_FALSE(SigningKey::FromPem("not a pem").has_value());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> p384(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp384r1"), EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), p384.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  auto r = SigningKey::FromPem(std::string_view(data, len));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  // A public key PEM is not a signing key.
  EXPECT_FALSE(SigningKey::FromPem(PublicPem(SigningKey::Generate())).has_value());
}

TEST(JwtKeyTest, FromJwkValidatesTheKey) {
  bj::object good = SigningKey::Generate().PublicJwk();
  auto ok = VerificationKey::FromJwk(good);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->kid(), good.at("kid").as_string());
  // Minimal JWK: only kty, crv, x, y and kid.
  bj::object minimal = good;
  minimal.erase("alg");
  minimal.erase("use");
  EXPECT_TRUE(VerificationKey::FromJwk(minimal).has_value());

  auto with = [&](std::string_view name, bj::value v) {
    bj::object jwk = good;
    jwk[name] = std::move(v);
    return VerificationKey::FromJwk(jwk);
  };
  auto without = [&](std::string_view name) {
    bj::object jwk = good;
    jwk.erase(name);
    return VerificationKey::FromJwk(jwk);
  };
  EXPECT_FALSE(with("kty", "RSA").has_value());
  EXPECT_FALSE(with("crv", "P-384").has_value());
  EXPECT_FALSE(with("alg", "HS256").has_value());
  EXPECT_FALSE(with("use", "enc").has_value());
  EXPECT_FALSE(with("kid", "").has_value());
  EXPECT_FALSE(with("kid", 7).has_value());
  EXPECT_FALSE(with("d", bj::string(Base64UrlEncode(std::string(32, '\1')))).has_value());
  EXPECT_FALSE(with("x", bj::string(Base64UrlEncode(std::string(31, '\1')))).has_value());
  EXPECT_FALSE(with("x", "!!!").has_value());
  EXPECT_FALSE(without("x").has_value());
  EXPECT_FALSE(without("y").has_value());
  EXPECT_FALSE(without("kid").has_value());
  // A point off the curve (invalid-curve attacks) is refused.
  std::string y = *Base64UrlDecode(good.at("y").as_string());
  y[31] ^= 1;
  auto off_curve = with("y", bj::string(Base64UrlEncode(y)));
  ASSERT_FALSE(off_curve.has_value());
  EXPECT_EQ(off_curve.error().code(), ErrorCode::kInvalidArgument);
}

TEST(JwtKeyTest, CopiesShareTheKey) {
  SigningKey key = SigningKey::Generate();
  SigningKey copy = key;
  SigningKey moved = std::move(copy);
  VerificationKey keys[] = {key.ToVerificationKey()};
  EXPECT_TRUE(VerifyJwt(SignJwt(moved, MakeClaims()), keys, Expect()).has_value());
}

// ---- Tokens ----

TEST_F(JwtTest, RoundTrip) {
  JwtClaims claims = MakeClaims();
  std::string token = SignJwt(key_, claims);
  bj::object header = DecodeSegment(Split(token)[0]);
  EXPECT_EQ(header, (bj::object{{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", key_.kid()}}));
  EXPECT_EQ(Base64UrlDecode(Split(token)[2])->size(), 64u);

  auto verified = Verify(token);
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(verified->issuer, claims.issuer);
  EXPECT_EQ(verified->subject, claims.subject);
  EXPECT_EQ(verified->audience, claims.audience);
  EXPECT_EQ(verified->jwt_id, claims.jwt_id);
  EXPECT_EQ(verified->scope, claims.scope);
  EXPECT_EQ(verified->tenant, claims.tenant);
  EXPECT_EQ(verified->client_id, claims.client_id);
  EXPECT_EQ(verified->issued_at, claims.issued_at);
  EXPECT_EQ(verified->expires_at, claims.expires_at);
  EXPECT_EQ(verified->not_before, claims.not_before);
}

TEST_F(JwtTest, OptionalClaimsAreOmittedWhenEmpty) {
  JwtClaims claims = MakeClaims();
  claims.scope.clear();
  claims.client_id.clear();
  claims.not_before.reset();
  claims.issued_at += Micros(999'999);  // NumericDate is whole seconds
  std::string token = SignJwt(key_, claims);
  bj::object payload = DecodeSegment(Split(token)[1]);
  EXPECT_FALSE(payload.contains("scope"));
  EXPECT_FALSE(payload.contains("client_id"));
  EXPECT_FALSE(payload.contains("nbf"));
  EXPECT_EQ(payload.at("iat"), 1'800'000'000);
  auto verified = Verify(token);
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(verified->scope, "");
  EXPECT_EQ(verified->issued_at, kNow);
  EXPECT_FALSE(verified->not_before.has_value());
}

TEST_F(JwtTest, TamperedPayloadIsRejected) {
  auto parts = Split(SignJwt(key_, MakeClaims()));
  bj::object payload = DecodeSegment(parts[1]);
  payload["tenant"] = "org_other";
  ExpectRejected(parts[0] + "." + B64Json(payload) + "." + parts[2], "signature is invalid");
}

TEST_F(JwtTest, TamperedSignatureIsRejected) {
  auto parts = Split(SignJwt(key_, MakeClaims()));
  std::string sig = *Base64UrlDecode(parts[2]);
  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    std::string bad = sig;
    bad[i] ^= 0x01;
    ExpectRejected(parts[0] + "." + parts[1] + "." + Base64UrlEncode(bad), "signature is invalid");
  }
  // r = 0 and s = 0 are never valid.
  ExpectRejected(parts[0] + "." + parts[1] + "." + Base64UrlEncode(std::string(64, '\0')),
                 "signature is invalid");
  ExpectRejected(parts[0] + "." + parts[1] + "." + Base64UrlEncode(std::string(64, '\xff')),
                 "signature is invalid");
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  bj::object payload = GoodPayload();
  for (const char* alg : {"none", "None", "NONE"}) {
    ExpectRejected(B64Json({{"alg", alg}}) + "." + B64Json(payload) + ".", "ES256");
    ExpectRejected(B64Json({{"alg", alg}, {"typ", "at+jwt"}, {"kid", key_.kid()}}) + "." +
                       B64Json(payload) + ".",
                   "ES256");
  }
}

TEST_F(JwtTest, Hs256WithThePublicKeyAsSecretIsRejected) {
  bj::object header{{"alg", "HS256"}, {"typ", "at+jwt"}, {"kid", key_.kid()}};
  std::string input = B64Json(header) + "." + B64Json(GoodPayload());
  for (const std::string& secret : {PublicPem(key_), bj::serialize(key_.PublicJwk())}) {
    ExpectRejected(input + "." + Base64UrlEncode(HmacSha256(secret, input)), "ES256");
  }
  // Even a 64-byte MAC under an ES256 label is only bytes that fail ECDSA verification.
  bj::object es_header = GoodHeader(key_);
  std::string es_input = B64Json(es_header) + "." + B64Json(GoodPayload());
  std::string mac = HmacSha256(PublicPem(key_), es_input);
  ExpectRejected(es_input + "." + Base64UrlEncode(mac + mac), "signature is invalid");
}

TEST_F(JwtTest, OtherAlgorithmsAreRejected) {
  bj::object payload = GoodPayload();
  for (const char* alg : {"RS256", "ES384", "ES512", "PS256", "EdDSA", "es256"}) {
    bj::object header = GoodHeader(key_);
    header["alg"] = alg;
    ExpectRejected(Forge(key_, header, payload), "ES256");
  }
  bj::object missing = GoodHeader(key_);
  missing.erase("alg");
  ExpectRejected(Forge(key_, missing, payload), "ES256");
  bj::object wrong_type = GoodHeader(key_);
  wrong_type["alg"] = bj::array{"ES256"};
  ExpectRejected(Forge(key_, wrong_type, payload), "ES256");
}

TEST_F(JwtTest, ForgedTokenWithTheRightHeaderVerifies) {
  // Sanity check for the forging helper the attack tests rely on.
  EXPECT_TRUE(Verify(Forge(key_, GoodHeader(key_), GoodPayload())).has_value());
}

TEST_F(JwtTest, CritHeaderIsRejected) {
  bj::object header = GoodHeader(key_);
  header["crit"] = bj::array{"exp"};
  ExpectRejected(Forge(key_, header, GoodPayload()), "critical");
}

TEST_F(JwtTest, TypMustBeAccessToken) {
  bj::object payload = GoodPayload();
  for (const char* typ : {"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"}) {
    bj::object header = GoodHeader(key_);
    header["typ"] = typ;
    EXPECT_TRUE(Verify(Forge(key_, header, payload)).has_value()) << typ;
  }
  bj::object absent = GoodHeader(key_);
  absent.erase("typ");
  EXPECT_TRUE(Verify(Forge(key_, absent, payload)).has_value());
  for (bj::value typ : {bj::value("JWT"), bj::value("id+jwt"), bj::value(""), bj::value(1)}) {
    bj::object header = GoodHeader(key_);
    header["typ"] = typ;
    ExpectRejected(Forge(key_, header, payload), "typ must be at+jwt");
  }
}

TEST_F(JwtTest, ExpiredTokenIsRejected) {
  std::string token = SignJwt(key_, MakeClaims());
  Timestamp exp = kNow + std::chrono::minutes(15);
  EXPECT_TRUE(Verify(token, exp).has_value());  // within leeway
  EXPECT_TRUE(Verify(token, exp + std::chrono::seconds(29)).has_value());
  ExpectRejected(token, "expired", exp + std::chrono::seconds(30));
  ExpectRejected(token, "expired", exp + std::chrono::hours(1));
  EXPECT_EQ(Verify(token, exp + std::chrono::hours(1)).error().message(),
            "the access token has expired");
}

TEST_F(JwtTest, NotBeforeInTheFutureIsRejected) {
  JwtClaims claims = MakeClaims();
  claims.not_before = kNow + std::chrono::minutes(5);
  std::string token = SignJwt(key_, claims);
  ExpectRejected(token, "not valid yet");
  EXPECT_TRUE(Verify(token, kNow + std::chrono::minutes(5) - std::chrono::seconds(30)).has_value());
  EXPECT_TRUE(Verify(token, kNow + std::chrono::minutes(6)).has_value());
}

TEST_F(JwtTest, IssuedInTheFutureIsRejected) {
  JwtClaims claims = MakeClaims(kNow + std::chrono::minutes(5));
  claims.not_before.reset();
  ExpectRejected(SignJwt(key_, claims), "in the future");
  // Clock skew within the leeway is tolerated.
  JwtClaims skewed = MakeClaims(kNow + std::chrono::seconds(20));
  skewed.not_before.reset();
  EXPECT_TRUE(Verify(SignJwt(key_, skewed)).has_value());
}

TEST_F(JwtTest, WrongAudienceIsRejected) {
  JwtClaims claims = MakeClaims();
  claims.audience = "https://other.example";
  ExpectRejected(SignJwt(key_, claims), "another audience");
  bj::object payload = GoodPayload();
  payload["aud"] = bj::array{"https://other.example", "x"};
  ExpectRejected(Forge(key_, GoodHeader(key_), payload), "another audience");
  payload["aud"] = bj::array{};
  ExpectRejected(Forge(key_, GoodHeader(key_), payload), "another audience");
  payload.erase("aud");
  ExpectRejected(Forge(key_, GoodHeader(key_), payload), "another audience");
}

TEST_F(JwtTest, AudienceArrayContainingUsIsAccepted) {
  bj::object payload = GoodPayload();
  payload["aud"] = bj::array{"https://other.example", kAudience};
  auto verified = Verify(Forge(key_, GoodHeader(key_), payload));
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(verified->audience, kAudience);
  // Every entry must be a string.
  payload["aud"] = bj::array{kAudience, 5};
  ExpectRejected(Forge(key_, GoodHeader(key_), payload), "'aud' must hold strings");
}

TEST_F(JwtTest, WrongIssuerIsRejected) {
  JwtClaims claims = MakeClaims();
  claims.issuer = "https://evil.example";
  ExpectRejected(SignJwt(key_, claims), "another issuer");
  claims.issuer = std::string(kIssuer) + "/";
  ExpectRejected(SignJwt(key_, claims), "another issuer");
}

TEST_F(JwtTest, UnknownKidIsRejected) {
  SigningKey other = SigningKey::Generate();
  ExpectRejected(SignJwt(other, MakeClaims()), "unknown key");
  bj::object header = GoodHeader(key_);
  header.erase("kid");
  ExpectRejected(Forge(key_, header, GoodPayload()), "unknown key");
  header["kid"] = bj::value(nullptr);
  ExpectRejected(Forge(key_, header, GoodPayload()), "unknown key");
  EXPECT_FALSE(VerifyJwt(SignJwt(key_, MakeClaims()), {}, Expect()).has_value());
}

TEST_F(JwtTest, OtherKeyClaimingOurKidIsRejected) {
  SigningKey attacker = SigningKey::Generate();
  ExpectRejected(Forge(attacker, GoodHeader(key_), GoodPayload()), "signature is invalid");
}

TEST_F(JwtTest, DerSignaturesAreRejected) {
  std::string input = B64Json(GoodHeader(key_)) + "." + B64Json(GoodPayload());
  std::string der = DerSign(key_, input);
  EXPECT_GE(der.size(), 68u);
  EXPECT_LE(der.size(), 72u);
  ExpectRejected(input + "." + Base64UrlEncode(der), "signature is invalid");
}

TEST_F(JwtTest, EachKeyInTheSetVerifiesItsOwnTokens) {
  SigningKey second = SigningKey::Generate();
  std::vector<VerificationKey> both{key_.ToVerificationKey(),
                                    *VerificationKey::FromJwk(second.PublicJwk())};
  JwtClaims a = MakeClaims();
  a.subject = "usr_a";
  JwtClaims b = MakeClaims();
  b.subject = "usr_b";
  auto ra = VerifyJwt(SignJwt(key_, a), both, Expect());
  auto rb = VerifyJwt(SignJwt(second, b), both, Expect());
  ASSERT_TRUE(ra.has_value()) << ra.error().ToString();
  ASSERT_TRUE(rb.has_value()) << rb.error().ToString();
  EXPECT_EQ(ra->subject, "usr_a");
  EXPECT_EQ(rb->subject, "usr_b");
  // Retiring the first key from the set invalidates its tokens only.
  std::span<const VerificationKey> only_second(both.data() + 1, 1);
  EXPECT_FALSE(VerifyJwt(SignJwt(key_, a), only_second, Expect()).has_value());
  EXPECT_TRUE(VerifyJwt(SignJwt(second, b), only_second, Expect()).has_value());
}

TEST_F(JwtTest, MalformedTokensAreRejected) {
  std::string token = SignJwt(key_, MakeClaims());
  auto parts = Split(token);
  for (const std::string& bad : {
           std::string(),
           std::string("."),
           std::string(".."),
           parts[0],
           parts[0] + "." + parts[1],
           token + ".",
           token + "." + parts[2],
           "." + parts[1] + "." + parts[2],
           parts[0] + "." + parts[1] + "!" + "." + parts[2],
           parts[0] + "." + parts[1] + "." + parts[2] + "=",
           " " + token,
           token + std::string(9000, 'A'),
           Base64UrlEncode("not json") + "." + parts[1] + "." + parts[2],
           Base64UrlEncode("[1]") + "." + parts[1] + "." + parts[2],
       }) {
    ExpectRejected(bad, "not a well-formed JWT");
  }
  // An empty payload segment changes the signing input.
  ExpectRejected(parts[0] + ".." + parts[2], "signature is invalid");
  // A signed payload that is not a JSON object.
  std::string input = B64Json(GoodHeader(key_)) + "." + Base64UrlEncode("[\"x\"]");
  ExpectRejected(input + "." + Base64UrlEncode(RawSign(key_, input)), "not a well-formed JWT");
  input = B64Json(GoodHeader(key_)) + "." + Base64UrlEncode("{\"sub\":");
  ExpectRejected(input + "." + Base64UrlEncode(RawSign(key_, input)), "not a well-formed JWT");
}

TEST_F(JwtTest, RequiredClaimsMustBePresent) {
  for (const char* name : {"sub", "jti", "tenant", "exp", "iat", "iss"}) {
    bj::object payload = GoodPayload();
    payload.erase(name);
    ExpectRejected(Forge(key_, GoodHeader(key_), payload), "lacks the");
  }
  for (const char* name : {"sub", "jti", "tenant"}) {
    bj::object payload = GoodPayload();
    payload[name] = "";
    ExpectRejected(Forge(key_, GoodHeader(key_), payload), "lacks the");
  }
  // The optional ones may be absent.
  bj::object payload = GoodPayload();
  payload.erase("nbf");
  payload.erase("scope");
  payload.erase("client_id");
  EXPECT_TRUE(Verify(Forge(key_, GoodHeader(key_), payload)).has_value());
}

TEST_F(JwtTest, ClaimsOfTheWrongTypeAreRejected) {
  std::vector<std::pair<const char*, bj::value>> cases = {
      {"sub", 123},         {"jti", bj::array{"a"}}, {"tenant", nullptr}, {"scope", bj::array{}},
      {"client_id", true},  {"iss", bj::object{}},   {"aud", 5},          {"exp", "1900000000"},
      {"iat", "yesterday"}, {"nbf", true},           {"exp", -5},         {"exp", 1e300},
  };
  for (auto& [name, value] : cases) {
    bj::object payload = GoodPayload();
    payload[name] = value;
    ExpectRejected(Forge(key_, GoodHeader(key_), payload), "must be");
  }
  // Fractional NumericDates are valid JSON numbers (RFC 7519 §2).
  bj::object payload = GoodPayload();
  payload["exp"] = 1'800'000'900.5;
  EXPECT_TRUE(Verify(Forge(key_, GoodHeader(key_), payload)).has_value());
}

// ---- Interop with an independent implementation ----

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::filesystem::path dir(std::string(rest.substr(0, colon)));
    if (!dir.empty() && access((dir / program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

std::filesystem::path VerifierScript() {
  if (const char* source = std::getenv("HANGAR_SOURCE_DIR"); source && *source) {
    return std::filesystem::path(source) / "tests/jwt/verify-jwt.mjs";
  }
  return std::filesystem::path(__FILE__).parent_path() / "../../tests/jwt/verify-jwt.mjs";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct NodeResult {
  int exit_code = -1;
  std::string stdout_text;
};

NodeResult RunNode(const std::string& token, const std::filesystem::path& jwks) {
  std::string command = "node " + ShellQuote(VerifierScript().string()) + " " + ShellQuote(token) +
                        " " + ShellQuote(jwks.string()) + " " + ShellQuote(std::string(kIssuer)) +
                        " " + ShellQuote(std::string(kAudience));
  NodeResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) result.stdout_text.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(JwtInteropTest, NodeCryptoVerifiesOurTokens) {
  if (!OnPath("node")) GTEST_SKIP() << "node is not on PATH";
  ASSERT_TRUE(std::filesystem::exists(VerifierScript())) << VerifierScript();

  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("hangar_jwt_interop_" + Base64UrlEncode(RandomBytes(9)));
  std::filesystem::create_directories(dir);
  SigningKey key = SigningKey::Generate();
  SigningKey other = SigningKey::Generate();
  std::filesystem::path jwks = dir / "jwks.json";
  {
    std::ofstream out(jwks);
    out << bj::serialize(bj::object{{"keys", bj::array{other.PublicJwk(), key.PublicJwk()}}});
  }

  // Node checks exp against its own wall clock.
  Timestamp now = SystemClock().Now();
  std::string token = SignJwt(key, MakeClaims(now));
  NodeResult good = RunNode(token, jwks);
  EXPECT_EQ(good.exit_code, 0) << good.stdout_text;
  auto payload = bj::parse(good.stdout_text).as_object();
  EXPECT_EQ(payload.at("sub"), "usr_123");
  EXPECT_EQ(payload.at("tenant"), "org_42");

  auto parts = Split(token);
  bj::object tampered = DecodeSegment(parts[1]);
  tampered["sub"] = "usr_admin";
  EXPECT_NE(RunNode(parts[0] + "." + B64Json(tampered) + "." + parts[2], jwks).exit_code, 0);
  std::string sig = *Base64UrlDecode(parts[2]);
  sig[10] ^= 1;
  EXPECT_NE(RunNode(parts[0] + "." + parts[1] + "." + Base64UrlEncode(sig), jwks).exit_code, 0);
  EXPECT_NE(RunNode(SignJwt(key, MakeClaims(now - std::chrono::hours(1))), jwks).exit_code, 0);

  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hangar::identity
