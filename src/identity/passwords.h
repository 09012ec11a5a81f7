// Passwords of local users: argon2id hashing (RFC 9106) and the rules a new password must meet.
//
// Hashes are PHC strings ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>") produced by the
// libargon2 reference implementation, so the parameters travel with each hash: raising the
// parameters later never breaks old hashes, and NeedsRehash tells the login path when to upgrade
// one. Hashing is deliberately slow (tens to hundreds of milliseconds of CPU and `memory_kib` of
// RAM per call): callers on an I/O thread must hand it to a worker pool.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hangar::identity {

// argon2id cost parameters. The defaults are RFC 9106 §4's second recommended option (64 MiB,
// 3 passes) with one lane instead of four, since each login hashes on a single worker thread; that
// is well above the OWASP cheat sheet's minimums. They must be valid for argon2 (time_cost >= 1,
// memory_kib >= 8 * parallelism, parallelism >= 1); validate configured values at startup,
// because HashPassword treats invalid parameters as a program error.
struct PasswordHashParams {
  uint32_t time_cost = 3;
  uint32_t memory_kib = 64 * 1024;
  uint32_t parallelism = 1;
};

// argon2id of `password` with a fresh 16-byte CSPRNG salt and a 32-byte tag, as a PHC string.
std::string HashPassword(std::string_view password, const PasswordHashParams& params = {});

// True when `password` matches `encoded` (constant-time comparison inside libargon2). False, never
// an exception, for malformed encodings, other algorithms, and parameters too large to be ours
// (so a corrupted row cannot make a login allocate gigabytes).
bool VerifyPassword(std::string_view password, std::string_view encoded);

// True when `encoded` is weaker than `params` would produce (lower time, memory or lanes, a
// shorter salt or tag, another algorithm or version) or is malformed. Call after a successful
// VerifyPassword and store HashPassword(password, params) when it says so.
bool NeedsRehash(std::string_view encoded, const PasswordHashParams& params);

// A valid hash of a random password nobody knows, computed once per parameter set and cached.
// Login verifies against it when the user does not exist, so "no such user" costs the same time
// as "wrong password" and response timing does not reveal which emails have accounts. Pass the
// same params the real hashes use; the first call for a parameter set pays one hash.
std::string DummyPasswordHash(const PasswordHashParams& params = {});

// Rules for a new password, after NIST SP 800-63B §5.1.1.2: length rather than composition rules
// (no "one digit, one symbol" requirements, which make passwords harder to remember and not much
// harder to guess), plus a check against very common and context-specific choices:
//   - at least 12 characters, counted as UTF-8 code points so non-Latin passphrases are not
//     penalised, and at most 256 bytes (argon2 does not need more; it bounds the work);
//   - not a single character repeated;
//   - not one of a short built-in list of very common passwords (case-insensitive);
//   - not containing the local part of `email` (case-insensitive) when it has 3 or more characters.
// Fails with kInvalidArgument naming `field` (a JSON pointer) and a hint; the password itself is
// never echoed.
Status CheckPasswordRules(std::string_view password, std::string_view email,
                          std::string_view field = "/password");

}  // namespace hangar::identity
