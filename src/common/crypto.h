// Small wrappers over OpenSSL and zlib for what Hangar needs: random bytes, SHA-256, HMAC,
// base64url and CRC-32. Nothing here is home-made cryptography.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hangar {

// `n` bytes from the OpenSSL CSPRNG. Aborts if the CSPRNG fails (the process cannot run safely).
std::string RandomBytes(size_t n);
// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Lowercase hex SHA-256 of a file's content, read in blocks; nullopt when it cannot be read.
std::optional<std::string> Sha256FileHex(const std::string& path);
// Raw 32-byte SHA-256 (PKCE challenges).
std::string Sha256Raw(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// RFC 4648 §5 base64url without padding, and its inverse (nullopt on bad input).
std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);
// Standard base64 with padding.
std::string Base64Encode(std::string_view data);
// Base62 (0-9A-Za-z) rendering of random bytes, for tokens that survive copy and paste.
std::string Base62Encode(std::string_view data);
uint32_t Crc32(std::string_view data);

// AES-256-GCM authenticated encryption with a random 96-bit nonce. `key` must be 32 bytes.
// The result is base64 of nonce || ciphertext || tag; Open returns nullopt when the input was
// not sealed with this key (or was altered).
std::string SealAes256Gcm(std::string_view key, std::string_view plaintext);
std::optional<std::string> OpenAes256Gcm(std::string_view key, std::string_view sealed);

}  // namespace hangar
