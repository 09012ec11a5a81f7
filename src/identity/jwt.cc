// ES256 JWT signing and verification over OpenSSL 3 EVP; see jwt.h. JWS wants raw r||s
// signatures while OpenSSL signs and verifies DER, so this file converts between the two.
//
// Thread-safety: no shared mutable state; each call uses its own OpenSSL contexts.
#include "identity/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <utility>

#include "common/crypto.h"

namespace hangar::identity {

namespace {

namespace bj = boost::json;

// Fixed by P-256: coordinates, r and s are 32-byte big-endian integers.
constexpr size_t kCoordinateBytes = 32;
constexpr size_t kSignatureBytes = 2 * kCoordinateBytes;
// OpenSSL's name for P-256. The NIST alias also works, but this is what the EVP getters return.
constexpr char kGroupName[] = "prime256v1";
// Real access tokens are well under 1 KiB; the bound keeps hostile input from costing parse time.
constexpr size_t kMaxTokenBytes = 8192;
// NumericDate values beyond year 9999 are nonsense and would overflow microsecond Timestamps.
constexpr int64_t kMaxNumericDate = 253'402'300'799;

using PkeyPtr = std::shared_ptr<evp_pkey_st>;

PkeyPtr WrapPkey(EVP_PKEY* pkey) { return PkeyPtr(pkey, EVP_PKEY_free); }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Sha256Raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HANGAR_CHECK(EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) == 1,
               "OpenSSL SHA-256 failed");
  return std::string(reinterpret_cast<char*>(digest), len);
}

// A non-negative BIGNUM as a fixed-width big-endian string; nullopt when it does not fit.
std::optional<std::string> BnToFixed(const BIGNUM* bn, size_t width) {
  std::string out(width, '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width)) !=
      static_cast<int>(width)) {
    return std::nullopt;
  }
  return out;
}

bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1) return false;
  return std::string_view(name, len) == kGroupName;
}

// The raw affine coordinates of a P-256 key (public or private).
std::optional<std::pair<std::string, std::string>> PublicCoordinates(EVP_PKEY* pkey) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
  ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1 && ok;
  std::unique_ptr<BIGNUM, BnFree> x(x_raw), y(y_raw);
  if (!ok) return std::nullopt;
  auto x_bytes = BnToFixed(x.get(), kCoordinateBytes);
  auto y_bytes = BnToFixed(y.get(), kCoordinateBytes);
  if (!x_bytes || !y_bytes) return std::nullopt;
  return std::pair{std::move(*x_bytes), std::move(*y_bytes)};
}

// RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace. Built by
// hand because the exact bytes are what gets hashed.
std::string Thumbprint(std::string_view x_b64, std::string_view y_b64) {
  std::string input = R"({"crv":"P-256","kty":"EC","x":")";
  input += x_b64;
  input += R"(","y":")";
  input += y_b64;
  input += R"("})";
  return Base64UrlEncode(Sha256Raw(input));
}

// JWS ES256 signatures are raw r||s (RFC 7518 §3.4); OpenSSL speaks DER ECDSA-Sig-Value.
std::optional<std::string> DerToRaw(std::string_view der) {
  const unsigned char* p = Bytes(der);
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  auto r_bytes = BnToFixed(r, kCoordinateBytes);
  auto s_bytes = BnToFixed(s, kCoordinateBytes);
  if (!r_bytes || !s_bytes) return std::nullopt;
  return *r_bytes + *s_bytes;
}

std::optional<std::string> RawToDer(std::string_view raw) {
  if (raw.size() != kSignatureBytes) return std::nullopt;
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(Bytes(raw), kCoordinateBytes, nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(
      BN_bin2bn(Bytes(raw.substr(kCoordinateBytes)), kCoordinateBytes, nullptr));
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

// Raw 64-byte ES256 signature over `data`.
std::string SignEs256(EVP_PKEY* pkey, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  HANGAR_CHECK(ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                   EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(data), data.size()) == 1,
               "OpenSSL ECDSA sign setup failed");
  std::string der(len, '\0');
  HANGAR_CHECK(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                              Bytes(data), data.size()) == 1,
               "OpenSSL ECDSA sign failed");
  der.resize(len);
  auto raw = DerToRaw(der);
  HANGAR_CHECK(raw.has_value(), "OpenSSL produced an unparsable ECDSA signature");
  return std::move(*raw);
}

bool VerifyEs256(EVP_PKEY* pkey, std::string_view data, std::string_view raw_signature) {
  auto der = RawToDer(raw_signature);
  if (!der) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx.get(), Bytes(*der), der->size(), Bytes(data), data.size()) == 1;
  // A failed verification leaves entries on this thread's OpenSSL error queue; they would
  // otherwise surface in an unrelated later error report.
  if (!ok) ERR_clear_error();
  return ok;
}

// Stops OpenSSL from prompting on the terminal for a passphrase: encrypted PEMs are refused.
int NoPassphrase(char*, int, int, void*) { return -1; }

Error BadJwk(std::string message) { return Error::Invalid("JWK: " + std::move(message)); }

// ---- Verification helpers ----

Error Reject(std::string message) {
  return Error::Unauthenticated(std::move(message))
      .Hint("request a new access token from the authorization server");
}

std::optional<bj::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char c, char d) {
    return std::tolower(static_cast<unsigned char>(c)) ==
           std::tolower(static_cast<unsigned char>(d));
  });
}

// A string claim: nullopt when absent, an error when present with another JSON type.
Result<std::optional<std::string>> StringClaim(const bj::object& claims, std::string_view name) {
  const bj::value* v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    return std::unexpected(
        Reject("the access token claim '" + std::string(name) + "' must be a string"));
  }
  return std::string(v->as_string());
}

Result<std::string> RequiredStringClaim(const bj::object& claims, std::string_view name) {
  HANGAR_ASSIGN_OR_RETURN(std::optional<std::string> value, StringClaim(claims, name));
  if (!value || value->empty()) {
    return std::unexpected(Reject("the access token lacks the '" + std::string(name) + "' claim"));
  }
  return std::move(*value);
}

// RFC 7519 NumericDate: seconds since the epoch, possibly fractional.
Result<std::optional<Timestamp>> DateClaim(const bj::object& claims, std::string_view name) {
  const bj::value* v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  auto bad = [&] {
    return std::unexpected(Reject("the access token claim '" + std::string(name) +
                                  "' must be a date in seconds since the epoch"));
  };
  if (v->is_int64()) {
    int64_t s = v->as_int64();
    if (s < 0 || s > kMaxNumericDate) return bad();
    return Timestamp(std::chrono::seconds(s));
  }
  if (v->is_uint64()) {
    uint64_t s = v->as_uint64();
    if (s > static_cast<uint64_t>(kMaxNumericDate)) return bad();
    return Timestamp(std::chrono::seconds(static_cast<int64_t>(s)));
  }
  if (v->is_double()) {
    double s = v->as_double();
    if (!std::isfinite(s) || s < 0 || s > static_cast<double>(kMaxNumericDate)) return bad();
    return Timestamp(Micros(static_cast<int64_t>(std::floor(s * 1e6))));
  }
  return bad();
}

int64_t ToNumericDate(Timestamp t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

}  // namespace

// ---- SigningKey ----

SigningKey::SigningKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {
  auto xy = PublicCoordinates(key_.get());
  HANGAR_CHECK(xy.has_value(), "cannot read the public point of a P-256 key");
  x_ = Base64UrlEncode(xy->first);
  y_ = Base64UrlEncode(xy->second);
  kid_ = Thumbprint(x_, y_);
}

SigningKey SigningKey::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kGroupName);
  HANGAR_CHECK(pkey != nullptr, "OpenSSL P-256 key generation failed");
  return SigningKey(WrapPkey(pkey));
}

Result<SigningKey> SigningKey::FromPem(std::string_view private_pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
  HANGAR_CHECK(bio != nullptr, "OpenSSL BIO allocation failed");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  ERR_clear_error();
  if (raw == nullptr) {
    return std::unexpected(Error::Invalid("the signing key is not an unencrypted PKCS#8 PEM"));
  }
  PkeyPtr pkey = WrapPkey(raw);
  if (!IsP256(pkey.get())) {
    return std::unexpected(Error::Invalid("the signing key is not an EC P-256 key"));
  }
  return SigningKey(std::move(pkey));
}

std::string SigningKey::PrivatePem() const {
  // Secure-heap memory BIO: the PEM is wiped when the BIO is freed.
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_secmem()));
  HANGAR_CHECK(bio != nullptr, "OpenSSL BIO allocation failed");
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
  HANGAR_CHECK(
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
      "OpenSSL PEM encoding failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bj::object SigningKey::PublicJwk() const {
  return bj::object{{"kty", "EC"}, {"crv", "P-256"}, {"x", x_},     {"y", y_},
                    {"kid", kid_}, {"alg", "ES256"}, {"use", "sig"}};
}

VerificationKey SigningKey::ToVerificationKey() const {
  // Through the JWK rather than sharing key_, so the verifier never holds the private scalar.
  auto key = VerificationKey::FromJwk(PublicJwk());
  HANGAR_CHECK(key.has_value(), "a generated key's own JWK does not load");
  return std::move(*key);
}

// ---- VerificationKey ----

Result<VerificationKey> VerificationKey::FromJwk(const bj::object& jwk) {
  auto member = [&](std::string_view name) -> std::optional<std::string_view> {
    const bj::value* v = jwk.if_contains(name);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->as_string());
  };
  if (member("kty") != "EC") return std::unexpected(BadJwk("kty must be \"EC\""));
  if (member("crv") != "P-256") return std::unexpected(BadJwk("crv must be \"P-256\""));
  if (jwk.contains("alg") && member("alg") != "ES256") {
    return std::unexpected(BadJwk("alg must be \"ES256\""));
  }
  if (jwk.contains("use") && member("use") != "sig") {
    return std::unexpected(BadJwk("use must be \"sig\""));
  }
  if (jwk.contains("d")) {
    return std::unexpected(BadJwk("a published key must not contain the private part \"d\""));
  }
  std::optional<std::string_view> kid = member("kid");
  if (!kid || kid->empty()) return std::unexpected(BadJwk("kid must be a non-empty string"));
  std::optional<std::string> x, y;
  if (auto s = member("x")) x = Base64UrlDecode(*s);
  if (auto s = member("y")) y = Base64UrlDecode(*s);
  if (!x || !y || x->size() != kCoordinateBytes || y->size() != kCoordinateBytes) {
    return std::unexpected(BadJwk("x and y must be base64url of 32 bytes each"));
  }

  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  HANGAR_CHECK(ctx != nullptr, "OpenSSL EC context allocation failed");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kGroupName),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* raw = nullptr;
  bool ok = EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
            EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) == 1;
  PkeyPtr pkey = WrapPkey(raw);
  if (ok) {
    // Decoding already rejects points off the curve; the explicit check also covers the point
    // at infinity and documents that invalid-curve keys never reach EVP_DigestVerify.
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    ok = check && EVP_PKEY_public_check(check.get()) == 1;
  }
  ERR_clear_error();
  if (!ok) return std::unexpected(BadJwk("x and y are not a point on P-256"));
  return VerificationKey(std::move(pkey), std::string(*kid));
}

// ---- Tokens ----

std::string SignJwt(const SigningKey& key, const JwtClaims& claims) {
  bj::object header{{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", key.kid()}};
  bj::object payload{{"iss", claims.issuer},
                     {"sub", claims.subject},
                     {"aud", claims.audience},
                     {"exp", ToNumericDate(claims.expires_at)}};
  if (claims.not_before) payload["nbf"] = ToNumericDate(*claims.not_before);
  payload["iat"] = ToNumericDate(claims.issued_at);
  payload["jti"] = claims.jwt_id;
  if (!claims.client_id.empty()) payload["client_id"] = claims.client_id;
  if (!claims.scope.empty()) payload["scope"] = claims.scope;
  payload["tenant"] = claims.tenant;

  std::string token = Base64UrlEncode(bj::serialize(header));
  token += '.';
  token += Base64UrlEncode(bj::serialize(payload));
  std::string signature = SignEs256(key.key_.get(), token);
  token += '.';
  token += Base64UrlEncode(signature);
  return token;
}

Result<JwtClaims> VerifyJwt(std::string_view token, std::span<const VerificationKey> keys,
                            const JwtExpectations& expect) {
  HANGAR_CHECK(!expect.issuer.empty() && !expect.audience.empty(),
               "JwtExpectations needs an issuer and an audience");
  auto malformed = [] {
    return std::unexpected(Reject("the access token is not a well-formed JWT"));
  };
  if (token.size() > kMaxTokenBytes) return malformed();

  // Compact serialization: exactly three segments (a JWE has five, an unsecured JWT an empty
  // third one, which fails the signature length check below).
  size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return malformed();
  size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return malformed();
  }
  std::string_view signing_input = token.substr(0, dot2);
  auto header_json = Base64UrlDecode(token.substr(0, dot1));
  auto payload_json = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_json || !payload_json || !signature) return malformed();
  std::optional<bj::object> header = ParseObject(*header_json);
  if (!header) return malformed();

  // The algorithm is fixed by the verifier, never chosen by the token (RFC 8725 §3.1).
  const bj::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "ES256") {
    return std::unexpected(Reject("the access token must be signed with ES256"));
  }
  // RFC 7515 §4.1.11: extensions marked critical must be understood; Hangar understands none.
  if (header->contains("crit")) {
    return std::unexpected(Reject("the access token uses unsupported critical header extensions"));
  }
  if (const bj::value* typ = header->if_contains("typ")) {
    // RFC 9068 §4: reject other token types so an ID token cannot pass as an access token.
    if (!typ->is_string() || !(EqualsIgnoreCase(typ->as_string(), "at+jwt") ||
                               EqualsIgnoreCase(typ->as_string(), "application/at+jwt"))) {
      return std::unexpected(Reject("the token is not an access token (typ must be at+jwt)"));
    }
  }
  const bj::value* kid = header->if_contains("kid");
  const VerificationKey* key = nullptr;
  if (kid != nullptr && kid->is_string()) {
    auto it = std::ranges::find_if(
        keys, [&](const VerificationKey& k) { return k.kid() == kid->as_string(); });
    if (it != keys.end()) key = &*it;
  }
  if (key == nullptr) {
    return std::unexpected(Reject("the access token was signed by an unknown key"));
  }
  if (signature->size() != kSignatureBytes ||
      !VerifyEs256(key->key_.get(), signing_input, *signature)) {
    return std::unexpected(Reject("the access token signature is invalid"));
  }

  // Only now, with the issuer's signature checked, are the claims worth reading.
  std::optional<bj::object> payload = ParseObject(*payload_json);
  if (!payload) return malformed();
  JwtClaims claims;
  HANGAR_ASSIGN_OR_RETURN(claims.issuer, RequiredStringClaim(*payload, "iss"));
  if (claims.issuer != expect.issuer) {
    return std::unexpected(Reject("the access token was issued by another issuer"));
  }

  bool audience_ok = false;
  if (const bj::value* aud = payload->if_contains("aud")) {
    if (aud->is_string()) {
      audience_ok = aud->as_string() == expect.audience;
    } else if (aud->is_array()) {
      for (const bj::value& a : aud->as_array()) {
        if (!a.is_string()) {
          return std::unexpected(Reject("the access token claim 'aud' must hold strings"));
        }
        audience_ok = audience_ok || a.as_string() == expect.audience;
      }
    } else {
      return std::unexpected(Reject("the access token claim 'aud' must be a string or array"));
    }
  }
  if (!audience_ok) {
    return std::unexpected(Reject("the access token is for another audience"));
  }
  claims.audience = expect.audience;

  HANGAR_ASSIGN_OR_RETURN(std::optional<Timestamp> exp, DateClaim(*payload, "exp"));
  HANGAR_ASSIGN_OR_RETURN(std::optional<Timestamp> nbf, DateClaim(*payload, "nbf"));
  HANGAR_ASSIGN_OR_RETURN(std::optional<Timestamp> iat, DateClaim(*payload, "iat"));
  if (!exp) return std::unexpected(Reject("the access token lacks the 'exp' claim"));
  if (!iat) return std::unexpected(Reject("the access token lacks the 'iat' claim"));
  if (*exp <= expect.now - expect.leeway) {
    return std::unexpected(Reject("the access token has expired"));
  }
  if (nbf && *nbf > expect.now + expect.leeway) {
    return std::unexpected(Reject("the access token is not valid yet"));
  }
  if (*iat > expect.now + expect.leeway) {
    return std::unexpected(Reject("the access token was issued in the future"));
  }
  claims.expires_at = *exp;
  claims.issued_at = *iat;
  claims.not_before = nbf;

  HANGAR_ASSIGN_OR_RETURN(claims.subject, RequiredStringClaim(*payload, "sub"));
  HANGAR_ASSIGN_OR_RETURN(claims.jwt_id, RequiredStringClaim(*payload, "jti"));
  HANGAR_ASSIGN_OR_RETURN(claims.tenant, RequiredStringClaim(*payload, "tenant"));
  HANGAR_ASSIGN_OR_RETURN(std::optional<std::string> scope, StringClaim(*payload, "scope"));
  HANGAR_ASSIGN_OR_RETURN(std::optional<std::string> client_id, StringClaim(*payload, "client_id"));
  claims.scope = scope.value_or("");
  claims.client_id = client_id.value_or("");
  return claims;
}

}  // namespace hangar::identity
