// Tests for CIDR parsing, normalisation, matching and allow-list errors.
#include "common/cidr.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

CidrBlock Block(std::string_view text) {
  auto block = CidrBlock::Parse(text);
  EXPECT_TRUE(block.has_value()) << text;
  return block ? *block : *CidrBlock::Parse("0.0.0.0/0");
}

bool Contains(std::string_view block, std::string_view address) {
  return Block(block).Contains(boost::asio::ip::make_address(address));
}

TEST(CidrTest, Ipv4ContainsAndExcludes) {
  EXPECT_TRUE(Contains("10.0.0.0/8", "10.0.0.0"));
  EXPECT_TRUE(Contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(Contains("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(Contains("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(Contains("192.168.4.0/22", "192.168.7.200"));
  EXPECT_FALSE(Contains("192.168.4.0/22", "192.168.8.1"));
  EXPECT_FALSE(Contains("192.168.4.0/22", "192.168.3.255"));
}

TEST(CidrTest, Ipv6ContainsAndExcludes) {
  EXPECT_TRUE(Contains("2001:db8::/32", "2001:db8::1"));
  EXPECT_TRUE(Contains("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(Contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(Contains("2001:db8:abcd:12::/63", "2001:db8:abcd:13::5"));
  EXPECT_FALSE(Contains("2001:db8:abcd:12::/63", "2001:db8:abcd:14::5"));
  EXPECT_TRUE(Contains("fe80::/10", "fe80::1%1"));  // a zone id on the client is ignored
}

TEST(CidrTest, FamiliesDoNotCrossExceptThroughMappedAddresses) {
  EXPECT_FALSE(Contains("10.0.0.0/8", "::1"));
  EXPECT_FALSE(Contains("::/0", "10.1.2.3"));
  EXPECT_FALSE(Contains("0.0.0.0/0", "2001:db8::1"));
  // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6.
  EXPECT_TRUE(Contains("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_FALSE(Contains("10.0.0.0/8", "::ffff:11.1.2.3"));
  EXPECT_TRUE(Contains("10.1.2.3", "::ffff:10.1.2.3"));
  EXPECT_FALSE(Contains("::/0", "::ffff:10.1.2.3"));
}

TEST(CidrTest, MappedBlocksBecomeIpv4Blocks) {
  CidrBlock block = Block("::ffff:10.0.0.0/104");
  EXPECT_TRUE(block.is_v4());
  EXPECT_EQ(block.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(Contains("::ffff:10.0.0.0/104", "10.9.9.9"));
  EXPECT_EQ(Block("::ffff:10.1.2.3").ToString(), "10.1.2.3/32");
}

TEST(CidrTest, ZeroAndFullPrefixes) {
  EXPECT_TRUE(Contains("0.0.0.0/0", "1.2.3.4"));
  EXPECT_TRUE(Contains("0.0.0.0/0", "255.255.255.255"));
  EXPECT_TRUE(Contains("::/0", "2001:db8::1"));
  EXPECT_TRUE(Contains("::/0", "::"));
  EXPECT_TRUE(Contains("10.1.2.3/32", "10.1.2.3"));
  EXPECT_FALSE(Contains("10.1.2.3/32", "10.1.2.4"));
  EXPECT_TRUE(Contains("2001:db8::7/128", "2001:db8::7"));
  EXPECT_FALSE(Contains("2001:db8::7/128", "2001:db8::6"));
}

TEST(CidrTest, BareAddressesAreHostBlocks) {
  EXPECT_EQ(Block("10.1.2.3").ToString(), "10.1.2.3/32");
  EXPECT_EQ(Block("10.1.2.3").prefix_length(), 32);
  EXPECT_EQ(Block("2001:db8::7").ToString(), "2001:db8::7/128");
  EXPECT_EQ(Block("10.1.2.3"), Block("10.1.2.3/32"));
  EXPECT_TRUE(Contains("10.1.2.3", "10.1.2.3"));
  EXPECT_FALSE(Contains("10.1.2.3", "10.1.2.33"));
}

TEST(CidrTest, HostBitsAreNormalisedAway) {
  EXPECT_EQ(Block("10.1.2.3/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Block("10.1.2.3/8"), Block("10.0.0.0/8"));
  EXPECT_EQ(Block("192.168.7.255/22").ToString(), "192.168.4.0/22");
  EXPECT_EQ(Block("1.2.3.4/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(Block("2001:db8:abcd:13::5/63").ToString(), "2001:db8:abcd:12::/63");
  EXPECT_EQ(Block("2001:DB8::/32").ToString(), "2001:db8::/32");
  for (std::string_view text : {"10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0", "::/0", "::1/128"}) {
    EXPECT_EQ(Block(Block(text).ToString()), Block(text)) << text;
    EXPECT_EQ(Block(text).ToString(), text);
  }
}

TEST(CidrTest, RejectsGarbageAndBadPrefixes) {
  for (std::string_view bad : {"",
                               "/",
                               "/8",
                               "10.0.0.0/",
                               "10.0.0.0/33",
                               "10.0.0.0/-1",
                               "10.0.0.0/+8",
                               "10.0.0.0/8/8",
                               "10.0.0.0/4294967304",
                               "10.0.0.0/ 8",
                               " 10.0.0.0/8",
                               "10.0.0.0/8 ",
                               "10.0.0/8",
                               "256.0.0.0/8",
                               "010.0.0.1",
                               "10.0.0.0/abc",
                               "2001:db8::/129",
                               "2001:db8::/1280",
                               "fe80::1%eth0",
                               "fe80::/10%1",
                               "example.com",
                               "localhost",
                               "10.0.0.0/0x8"}) {
    auto block = CidrBlock::Parse(bad);
    ASSERT_FALSE(block.has_value()) << bad << " parsed as " << block->ToString();
    EXPECT_EQ(block.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_FALSE(block.error().hint().empty());
  }
  auto v4 = CidrBlock::Parse("10.0.0.0/33");
  EXPECT_NE(v4.error().message().find("0 to 32"), std::string::npos) << v4.error().message();
  auto v6 = CidrBlock::Parse("::/129");
  EXPECT_NE(v6.error().message().find("0 to 128"), std::string::npos) << v6.error().message();
}

TEST(CidrTest, ParseListNamesEveryBadEntryByPointer) {
  auto ok = ParseCidrList({"10.0.0.0/8", "2001:db8::/32", "192.168.1.1"}, "/allowed_cidrs");
  ASSERT_TRUE(ok.has_value());
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[2].ToString(), "192.168.1.1/32");

  auto bad = ParseCidrList({"10.0.0.0/8", "nope", "10.0.0.0/99"}, "/allowed_cidrs");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(bad.error().violations().size(), 2u);
  EXPECT_EQ(bad.error().violations()[0].pointer, "/allowed_cidrs/1");
  EXPECT_EQ(bad.error().violations()[1].pointer, "/allowed_cidrs/2");
  EXPECT_NE(bad.error().violations()[1].detail.find("0 to 32"), std::string::npos);
  EXPECT_FALSE(bad.error().hint().empty());

  auto empty = ParseCidrList({}, "/allowed_cidrs");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(CidrTest, AddressAllowedChecksTheWholeList) {
  EXPECT_TRUE(AddressAllowed({}, "203.0.113.9"));
  EXPECT_TRUE(AddressAllowed({}, "not an address"));  // no list, no restriction
  auto list = *ParseCidrList({"10.0.0.0/8", "2001:db8::/32"}, "/allowed_cidrs");
  EXPECT_TRUE(AddressAllowed(list, "10.20.30.40"));
  EXPECT_TRUE(AddressAllowed(list, "::ffff:10.20.30.40"));
  EXPECT_TRUE(AddressAllowed(list, "2001:db8::99"));
  EXPECT_FALSE(AddressAllowed(list, "203.0.113.9"));
  EXPECT_FALSE(AddressAllowed(list, "2001:db9::1"));
  EXPECT_FALSE(AddressAllowed(list, ""));
  EXPECT_FALSE(AddressAllowed(list, "10.20.30.40:443"));
  EXPECT_FALSE(AddressAllowed(list, "garbage"));
}

}  // namespace
}  // namespace hangar
