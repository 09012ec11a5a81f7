// argon2id hashing through libargon2 and the new-password rules; see passwords.h.
//
// Thread-safety: libargon2 is reentrant; the dummy-hash cache is guarded by a mutex.
#include "identity/passwords.h"

#include <argon2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "common/crypto.h"

namespace hangar::identity {

namespace {

constexpr size_t kSaltBytes = 16;  // RFC 9106 §3.1 recommends 128 bits
constexpr size_t kHashBytes = 32;
constexpr size_t kMinPasswordCodePoints = 12;
constexpr size_t kMaxPasswordBytes = 256;

// Upper bounds for parameters VerifyPassword accepts. Far above any sane configuration; they only
// stop a corrupted or planted hash from making a login allocate 4 GiB or spin for minutes.
constexpr uint32_t kMaxVerifyMemoryKib = 4 * 1024 * 1024;
constexpr uint32_t kMaxVerifyTimeCost = 100;
constexpr uint32_t kMaxVerifyParallelism = 64;

// The fields of a PHC string as libargon2 writes it: "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
struct ParsedHash {
  uint32_t version = 0;
  uint32_t memory_kib = 0;
  uint32_t time_cost = 0;
  uint32_t parallelism = 0;
  size_t salt_bytes = 0;
  size_t hash_bytes = 0;
};

bool ConsumeNumber(std::string_view& text, std::string_view key, uint32_t& out) {
  if (!text.starts_with(key)) return false;
  text.remove_prefix(key.size());
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return true;
}

// Decoded length of unpadded standard base64, or nullopt if `text` is not such base64. The bytes
// themselves are not needed: libargon2 decodes them again when verifying.
std::optional<size_t> Base64DecodedLength(std::string_view text) {
  if (text.empty() || text.size() % 4 == 1) return std::nullopt;
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return std::nullopt;
  }
  return text.size() * 3 / 4;
}

std::optional<ParsedHash> ParsePhc(std::string_view encoded) {
  ParsedHash parsed;
  std::string_view rest = encoded;
  if (!rest.starts_with("$argon2id$")) return std::nullopt;
  rest.remove_prefix(std::string_view("$argon2id$").size());
  if (!ConsumeNumber(rest, "v=", parsed.version) ||
      !ConsumeNumber(rest, "$m=", parsed.memory_kib) ||
      !ConsumeNumber(rest, ",t=", parsed.time_cost) ||
      !ConsumeNumber(rest, ",p=", parsed.parallelism) || !rest.starts_with('$')) {
    return std::nullopt;
  }
  rest.remove_prefix(1);
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  auto salt = Base64DecodedLength(rest.substr(0, dollar));
  auto hash = Base64DecodedLength(rest.substr(dollar + 1));
  if (!salt || !hash) return std::nullopt;
  parsed.salt_bytes = *salt;
  parsed.hash_bytes = *hash;
  return parsed;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Code points, assuming valid UTF-8 (the JSON parser has already rejected invalid UTF-8); on
// invalid input it still returns a count no larger than the byte length.
size_t CountCodePoints(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += IsUtf8Continuation(c) ? 0 : 1;
  return count;
}

// True when `text` is one code point (of any byte length) repeated.
bool IsOneRepeatedCharacter(std::string_view text) {
  if (text.empty()) return false;
  size_t width = 1;
  while (width < text.size() && IsUtf8Continuation(text[width])) ++width;
  if (text.size() % width != 0) return false;
  std::string_view first = text.substr(0, width);
  for (size_t i = width; i < text.size(); i += width) {
    if (text.substr(i, width) != first) return false;
  }
  return true;
}

// Very common passwords that pass the length rule, from public breach-corpus top lists (lowercase;
// compared case-insensitively). Short list on purpose: the length rule already excludes the bulk
// of any top-N list, and a large list belongs in a data file, not in code.
constexpr std::array<std::string_view, 36> kCommonPasswords = {
    "password1234",   "password12345", "password123456",   "password123!", "passw0rd1234",
    "p@ssw0rd1234",   "p@ssword1234",  "passwordpassword", "123456789012", "1234567890123",
    "12345678901234", "123456789abc",  "1234567890ab",     "012345678901", "123123123123",
    "qwertyuiopas",   "qwertyuiop12",  "qwerty123456",     "123456qwerty", "qwertyqwerty",
    "1q2w3e4r5t6y",   "1qaz2wsx3edc",  "zaq12wsxcde3",     "asdfghjkl123", "abcdefghijkl",
    "abc123abc123",   "iloveyou1234",  "letmein12345",     "welcome12345", "changeme1234",
    "administrator",  "football1234",  "monkey123456",     "sunshine1234", "trustno1trustno1",
    "superman1234",
};

Error RuleViolation(std::string_view field, std::string detail, std::string hint) {
  return Error::Invalid("password does not meet the password rules")
      .Field(std::string(field), std::move(detail))
      .Hint(std::move(hint));
}

}  // namespace

std::string HashPassword(std::string_view password, const PasswordHashParams& params) {
  std::string salt = RandomBytes(kSaltBytes);
  size_t encoded_length = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                            kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(encoded_length, '\0');
  int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kHashBytes, encoded.data(), encoded.size());
  // Only invalid parameters or an allocation failure get here: both are program errors, since
  // configured parameters are validated at startup.
  HANGAR_CHECK(rc == ARGON2_OK, argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen includes the terminator
  return encoded;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  auto parsed = ParsePhc(encoded);
  if (!parsed || parsed->memory_kib > kMaxVerifyMemoryKib ||
      parsed->time_cost > kMaxVerifyTimeCost || parsed->parallelism > kMaxVerifyParallelism) {
    return false;
  }
  std::string terminated(encoded);  // libargon2 wants a C string
  // A non-null pointer even for an empty password: libargon2 rejects (NULL, 0) in some versions.
  const char* pwd = password.empty() ? "" : password.data();
  return argon2id_verify(terminated.c_str(), pwd, password.size()) == ARGON2_OK;
}

bool NeedsRehash(std::string_view encoded, const PasswordHashParams& params) {
  auto parsed = ParsePhc(encoded);
  if (!parsed) return true;
  return parsed->version != ARGON2_VERSION_13 || parsed->memory_kib < params.memory_kib ||
         parsed->time_cost < params.time_cost || parsed->parallelism < params.parallelism ||
         parsed->salt_bytes < kSaltBytes || parsed->hash_bytes < kHashBytes;
}

std::string DummyPasswordHash(const PasswordHashParams& params) {
  static std::mutex mutex;
  static std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string> cache;
  std::lock_guard lock(mutex);
  auto key = std::make_tuple(params.time_cost, params.memory_kib, params.parallelism);
  auto it = cache.find(key);
  if (it == cache.end()) {
    it = cache.emplace(key, HashPassword(Base64UrlEncode(RandomBytes(32)), params)).first;
  }
  return it->second;
}

Status CheckPasswordRules(std::string_view password, std::string_view email,
                          std::string_view field) {
  constexpr std::string_view kPassphraseHint =
      "Use a passphrase of several unrelated words; length matters more than symbols or digits.";
  if (password.size() > kMaxPasswordBytes) {
    return std::unexpected(
        RuleViolation(field, "must be at most " + std::to_string(kMaxPasswordBytes) + " bytes",
                      "Use a shorter passphrase, or let a password manager generate one of 20 to "
                      "64 characters."));
  }
  if (CountCodePoints(password) < kMinPasswordCodePoints) {
    return std::unexpected(RuleViolation(
        field, "must be at least " + std::to_string(kMinPasswordCodePoints) + " characters",
        std::string(kPassphraseHint)));
  }
  if (IsOneRepeatedCharacter(password)) {
    return std::unexpected(RuleViolation(field, "must not be a single repeated character",
                                         std::string(kPassphraseHint)));
  }
  std::string lower = AsciiLower(password);
  for (std::string_view common : kCommonPasswords) {
    if (lower == common) {
      return std::unexpected(RuleViolation(
          field, "is one of the most common passwords",
          "Choose something attackers do not try first: " + std::string(kPassphraseHint)));
    }
  }
  // The account name is the first thing a targeted guess tries. Check the local part without any
  // "+tag" as well, since "alice+gpu@example.com" is still alice.
  std::string_view local = email.substr(0, std::min(email.rfind('@'), email.size()));
  std::string_view untagged = local.substr(0, std::min(local.find('+'), local.size()));
  for (std::string_view name : {untagged, local}) {
    if (name.size() >= 3 && lower.find(AsciiLower(name)) != std::string::npos) {
      return std::unexpected(RuleViolation(field, "must not contain the name part of your email",
                                           std::string(kPassphraseHint)));
    }
  }
  return Ok();
}

}  // namespace hangar::identity
