#include "common/crypto.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hangar {
namespace {

TEST(CryptoTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, Sha256OfAFileMatchesSha256OfItsContent) {
  auto path = std::filesystem::temp_directory_path() / ("sha-" + Base62Encode(RandomBytes(8)));
  // Larger than one read block, so the incremental digest is exercised.
  std::string content = RandomBytes((1 << 20) + 12345);
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_EQ(Sha256FileHex(path.string()), Sha256Hex(content));
  std::filesystem::remove(path);
  EXPECT_EQ(Sha256FileHex(path.string()), std::nullopt);
}

TEST(CryptoTest, Base64UrlRoundTripsAllLengths) {
  std::string data = RandomBytes(64);
  for (size_t n = 0; n <= data.size(); ++n) {
    auto encoded = Base64UrlEncode(data.substr(0, n));
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(encoded), data.substr(0, n));
  }
  EXPECT_FALSE(Base64UrlDecode("a").has_value());
  EXPECT_FALSE(Base64UrlDecode("ab$d").has_value());
}

TEST(CryptoTest, Base62UsesOnlyAlphanumerics) {
  EXPECT_EQ(Base62Encode(std::string("\x01\x00", 2)), "48");
  for (char c : Base62Encode(RandomBytes(32)))
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(CryptoTest, HmacSha256MatchesRfc4231Case2) {
  std::string mac = HmacSha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(Base64Encode(mac), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

TEST(CryptoTest, AesGcmSealsAndDetectsTamperingAndWrongKeys) {
  std::string key = RandomBytes(32);
  for (std::string plain : {std::string(), std::string("secret hgr_key"), RandomBytes(5000)}) {
    std::string sealed = SealAes256Gcm(key, plain);
    EXPECT_EQ(OpenAes256Gcm(key, sealed), plain);
    EXPECT_NE(SealAes256Gcm(key, plain), sealed);  // fresh nonce each time
    EXPECT_FALSE(OpenAes256Gcm(RandomBytes(32), sealed).has_value());
    std::string tampered = sealed;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(OpenAes256Gcm(key, tampered).has_value());
  }
  EXPECT_FALSE(OpenAes256Gcm(key, "not sealed").has_value());
}

}  // namespace
}  // namespace hangar
