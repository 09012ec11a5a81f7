// Secret formats: API keys (`hgr_…`) and node join tokens (`hgj_…`).
//
// A secret is a prefix, 43 base62 characters of CSPRNG output (256 bits) and a 6-character
// base62 CRC-32 of what precedes it, GitHub-token style: typos and truncations are rejected
// without a database lookup, and secret scanners can recognise leaked keys. Only the SHA-256 of
// a secret is ever stored.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

namespace hangar::identity {

inline constexpr std::string_view kApiKeyPrefix = "hgr_";
inline constexpr std::string_view kJoinTokenPrefix = "hgj_";

struct GeneratedSecret {
  std::string secret;  // give to the caller once
  std::string hash;    // store this
};

GeneratedSecret GenerateSecret(std::string_view prefix);

// True when `secret` has the prefix, the length and a matching checksum.
bool IsWellFormedSecret(std::string_view secret, std::string_view prefix);

// What the store keeps: lowercase hex SHA-256 of the whole secret.
std::string HashSecret(std::string_view secret);

}  // namespace hangar::identity
