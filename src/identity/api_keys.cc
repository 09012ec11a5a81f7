#include "identity/api_keys.h"

#include "common/crypto.h"

namespace hangar::identity {

namespace {
constexpr size_t kBodyLength = 43;
constexpr size_t kChecksumLength = 6;

std::string Checksum(std::string_view prefix_and_body) {
  uint32_t crc = Crc32(prefix_and_body);
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(crc >> (8 * (3 - i)));
  std::string encoded = Base62Encode(bytes);
  return std::string(kChecksumLength - encoded.size(), '0') + encoded;
}
}  // namespace

GeneratedSecret GenerateSecret(std::string_view prefix) {
  std::string body;
  // Base62 of 32 random bytes is 42 or 43 characters; left-pad to a fixed length.
  body = Base62Encode(RandomBytes(32));
  body = std::string(kBodyLength - body.size(), '0') + body;
  std::string secret = std::string(prefix) + body;
  secret += Checksum(secret);
  return {secret, HashSecret(secret)};
}

bool IsWellFormedSecret(std::string_view secret, std::string_view prefix) {
  if (secret.size() != prefix.size() + kBodyLength + kChecksumLength) return false;
  if (secret.substr(0, prefix.size()) != prefix) return false;
  for (char c : secret.substr(prefix.size())) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  std::string_view head = secret.substr(0, prefix.size() + kBodyLength);
  return secret.substr(head.size()) == Checksum(head);
}

std::string HashSecret(std::string_view secret) { return Sha256Hex(secret); }

}  // namespace hangar::identity
