// JWT access tokens for Hangar's OAuth 2.0 server (RFC 9068 profile), signed ES256.
//
// ES256 (ECDSA P-256 + SHA-256, RFC 7518 §3.4) is the only algorithm this module knows: the
// verifier never takes the algorithm from the token, so "alg: none", HS256-with-the-public-key
// and RS256 confusion attacks have nothing to work with. Keys are identified by their RFC 7638
// JWK thumbprint (`kid`) so a JWKS can hold several keys during rotation, and resource servers
// written in any language can verify tokens with the published JWKS alone.
//
// All cryptography is OpenSSL 3 through its EVP APIs; this header keeps OpenSSL out of its
// includers by holding keys as an opaque, forward-declared EVP_PKEY.
//
// Thread-safety: SigningKey and VerificationKey are immutable after construction; copies share
// the underlying key, and OpenSSL allows concurrent signing/verification with one EVP_PKEY. All
// functions are safe to call from any thread.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"
#include "common/error.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, forward-declared to keep OpenSSL out of this header.

namespace hangar::identity {

class VerificationKey;

// What Hangar puts in an access token. Times travel as NumericDate (whole seconds since the
// epoch), so sub-second parts are dropped when signing.
struct JwtClaims {
  std::string issuer;     // "iss"
  std::string subject;    // "sub": the principal (user or service account id)
  std::string audience;   // "aud": the resource server
  std::string jwt_id;     // "jti": unique per token, for revocation lists and replay logs
  std::string scope;      // "scope": space-separated; omitted from the token when empty
  std::string tenant;     // "tenant": the organization id the token acts in
  std::string client_id;  // "client_id" (RFC 9068); omitted from the token when empty
  Timestamp issued_at;    // "iat"
  Timestamp expires_at;   // "exp"
  std::optional<Timestamp> not_before;  // "nbf"
};

// What a resource server expects of a token. `issuer` and `audience` must not be empty.
struct JwtExpectations {
  std::string issuer;
  std::string audience;
  Timestamp now;
  Micros leeway = std::chrono::seconds(30);  // tolerated clock skew for exp, nbf and iat
};

// A signing key: a P-256 private key plus its key id (the RFC 7638 thumbprint of its public
// JWK). Cheap to copy.
class SigningKey {
 public:
  // A fresh key from the OpenSSL CSPRNG. Aborts if OpenSSL cannot generate one.
  static SigningKey Generate();
  // Loads an unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY") holding a P-256 key, as written by
  // PrivatePem(). Error::Invalid for anything else (other curves, RSA, encrypted PEM, garbage).
  static Result<SigningKey> FromPem(std::string_view private_pem);

  // PKCS#8 PEM of the private key, for storage. It is a secret: the caller encrypts it at rest.
  std::string PrivatePem() const;
  // base64url SHA-256 thumbprint of the public JWK (RFC 7638); stable across FromPem/PrivatePem.
  const std::string& kid() const { return kid_; }
  // {"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}: what the JWKS publishes.
  boost::json::object PublicJwk() const;
  // The public half, for verifying this key's own tokens without a JWKS round trip.
  VerificationKey ToVerificationKey() const;

 private:
  friend std::string SignJwt(const SigningKey& key, const JwtClaims& claims);
  explicit SigningKey(std::shared_ptr<evp_pkey_st> key);

  std::shared_ptr<evp_pkey_st> key_;
  std::string x_;  // base64url of the 32-byte affine x coordinate
  std::string y_;  // base64url of the 32-byte affine y coordinate
  std::string kid_;
};

// A P-256 public key from a JWK, as published in a JWKS. Cheap to copy.
class VerificationKey {
 public:
  // Requires kty "EC", crv "P-256", x and y of 32 bytes each naming a point on the curve, and a
  // non-empty string kid; "alg" and "use", when present, must be "ES256" and "sig". A JWK with a
  // private part ("d") is refused, since publishing one would be a leak. Error::Invalid otherwise.
  static Result<VerificationKey> FromJwk(const boost::json::object& jwk);

  const std::string& kid() const { return kid_; }

 private:
  friend class SigningKey;
  friend Result<JwtClaims> VerifyJwt(std::string_view token, std::span<const VerificationKey> keys,
                                     const JwtExpectations& expect);
  VerificationKey(std::shared_ptr<evp_pkey_st> key, std::string kid)
      : key_(std::move(key)), kid_(std::move(kid)) {}

  std::shared_ptr<evp_pkey_st> key_;
  std::string kid_;
};

// A compact JWS with header {"alg":"ES256","typ":"at+jwt","kid":<key.kid()>}. VerifyJwt requires
// iss, sub, aud, jti and tenant to be non-empty; the caller fills them.
std::string SignJwt(const SigningKey& key, const JwtClaims& claims);

// Verifies `token` with the key in `keys` whose kid matches the header's kid, then checks the
// claims against `expect`. Every failure is Error::Unauthenticated with a short, generic reason
// (never key material or OpenSSL details). Rejected: anything but three base64url segments of
// JSON objects; alg other than "ES256"; a "crit" header; an unknown kid; a signature that is not
// 64 raw r||s bytes or does not verify; typ other than "at+jwt"/"application/at+jwt"
// (case-insensitive) when present; iss != expect.issuer; aud (string or array of strings) not
// containing expect.audience; exp missing or <= now - leeway; nbf > now + leeway; iat missing or
// > now + leeway; missing or empty sub, jti or tenant; any of these claims, or scope and
// client_id, with the wrong JSON type. On success, `audience` in the result is expect.audience.
Result<JwtClaims> VerifyJwt(std::string_view token, std::span<const VerificationKey> keys,
                            const JwtExpectations& expect);

}  // namespace hangar::identity
