// Verifies a Hangar access token with Node's built-in crypto, an implementation independent of
// Hangar's C++ (OpenSSL) code, to prove the tokens are standard ES256 JWS that any resource
// server can check with the published JWKS. Used by JwtInteropTest in src/identity/jwt_test.cc.
//   node tests/jwt/verify-jwt.mjs TOKEN JWKS_FILE ISSUER AUDIENCE
// Prints the payload JSON and exits 0 when the token is valid; prints the reason to stderr and
// exits 1 otherwise (2 on bad usage). Needs Node 20, no npm packages.
import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

function fail(reason) {
  console.error(`invalid token: ${reason}`);
  process.exit(1);
}

function decodeJson(segment, what) {
  try {
    const value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      fail(`${what} is not a JSON object`);
    }
    return value;
  } catch {
    fail(`${what} is not base64url JSON`);
  }
}

const [token, jwksFile, issuer, audience] = process.argv.slice(2);
if (!token || !jwksFile || !issuer || !audience) {
  console.error("usage: verify-jwt.mjs TOKEN JWKS_FILE ISSUER AUDIENCE");
  process.exit(2);
}

const segments = token.split(".");
if (segments.length !== 3) fail("not three segments");
const [headerB64, payloadB64, signatureB64] = segments;
const header = decodeJson(headerB64, "header");
if (header.alg !== "ES256") fail(`alg is ${JSON.stringify(header.alg)}, not ES256`);

const jwks = JSON.parse(readFileSync(jwksFile, "utf8"));
const jwk = (jwks.keys ?? []).find((k) => typeof header.kid === "string" && k.kid === header.kid);
if (!jwk) fail("no key in the JWKS has the token's kid");
let key;
try {
  key = createPublicKey({ key: jwk, format: "jwk" });
} catch (e) {
  fail(`the JWK does not load: ${e.message}`);
}

// JWS ES256 signatures are raw r||s (IEEE P1363), 64 bytes, not DER.
const signature = Buffer.from(signatureB64, "base64url");
if (signature.length !== 64) fail(`signature is ${signature.length} bytes, not 64`);
const signingInput = Buffer.from(`${headerB64}.${payloadB64}`, "ascii");
if (!verify("sha256", signingInput, { key, dsaEncoding: "ieee-p1363" }, signature)) {
  fail("bad signature");
}

const payload = decodeJson(payloadB64, "payload");
if (payload.iss !== issuer) fail(`iss is ${JSON.stringify(payload.iss)}`);
const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
if (!audiences.includes(audience)) fail(`aud is ${JSON.stringify(payload.aud)}`);
if (typeof payload.exp !== "number") fail("exp is missing");
if (payload.exp <= Date.now() / 1000) fail("expired");

console.log(JSON.stringify(payload));
process.exit(0);
