#include "common/ids.h"

#include <cstdint>
#include <cstring>
#include <random>

#include "common/crypto.h"

namespace hangar::internal {

namespace {
constexpr char kCrockford[] = "0123456789abcdefghjkmnpqrstvwxyz";
}

namespace {
// IDs must be unique, not secret (access is checked by tenant, never by knowing an id), so they
// come from a per-thread generator seeded once from the CSPRNG: one OpenSSL call per thread
// instead of one per id, which matters on the request path (every request gets an id).
std::string IdRandomBytes() {
  thread_local std::mt19937_64 engine = [] {
    std::string seed = RandomBytes(32);
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  uint64_t a = engine(), b = engine();
  std::string out(10, '\0');
  std::memcpy(out.data(), &a, 8);
  std::memcpy(out.data() + 8, &b, 2);
  return out;
}
}  // namespace

std::string NewUlidBody(Timestamp now) {
  uint64_t ms = static_cast<uint64_t>(ToUnixMicros(now) / 1000);
  std::string random = IdRandomBytes();
  // 128 bits: 48 of time then 80 of randomness, written as 26 base32 digits (130 bits, the top
  // two always zero).
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) bytes[6 + i] = static_cast<unsigned char>(random[i]);
  std::string out(26, '0');
  // Read 5 bits at a time from a 130-bit big-endian number whose top 2 bits are zero.
  for (int digit = 0; digit < 26; ++digit) {
    int bit = digit * 5 - 2;  // position of the digit's top bit within the 128 data bits
    unsigned value = 0;
    for (int b = 0; b < 5; ++b) {
      int pos = bit + b;
      value <<= 1;
      if (pos >= 0) value |= (bytes[pos / 8] >> (7 - pos % 8)) & 1u;
    }
    out[digit] = kCrockford[value];
  }
  return out;
}

bool IsUlidBody(std::string_view body) {
  if (body.size() != 26) return false;
  for (char c : body) {
    bool ok = false;
    for (const char* p = kCrockford; *p; ++p) ok |= (*p == c);
    if (!ok) return false;
  }
  return body[0] <= '7';  // the top digit carries only 3 bits
}

}  // namespace hangar::internal
