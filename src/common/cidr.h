// CIDR blocks and IP allow-lists, e.g. the networks an API key may be used from.
//
// Parsing is Boost.Asio's (inet_pton underneath); this file only adds the prefix, the
// normalisation and the matching rules:
//   - "10.0.0.0/8", "2001:db8::/32", or a bare address meaning /32 or /128;
//   - host bits are cleared rather than rejected ("10.1.2.3/8" is 10.0.0.0/8), so what a user
//     typed is stored and shown in one canonical form;
//   - IPv4 lives in one place: an IPv4-mapped IPv6 client (::ffff:10.1.2.3, as a dual-stack
//     socket reports IPv4 peers) matches IPv4 blocks, and a block written inside ::ffff:0:0/96
//     becomes the IPv4 block it means. IPv6 blocks never match IPv4 clients otherwise, so "::/0"
//     allows every IPv6 client, not every client.
// Blocks are stored as bytes and a prefix, so copying and comparing them is cheap.
//
// Thread-safety: value types and stateless functions.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hangar {

class CidrBlock {
 public:
  // Parses a block or a bare address. Whitespace, zone ids ("%eth0"), and prefixes outside 0..32
  // (IPv4) or 0..128 (IPv6) fail with kInvalidArgument (no field: ParseCidrList adds one).
  static Result<CidrBlock> Parse(std::string_view text);

  bool Contains(const boost::asio::ip::address& address) const;
  // Canonical "network/prefix", always with the prefix ("10.0.0.1/32"); Parse(ToString()) is
  // the same block.
  std::string ToString() const;

  bool is_v4() const { return is_v4_; }
  int prefix_length() const { return prefix_length_; }

  bool operator==(const CidrBlock&) const = default;

 private:
  CidrBlock() = default;

  std::array<uint8_t, 16> network_{};  // IPv4 uses the first 4 bytes; host bits are zero
  uint8_t prefix_length_ = 0;
  bool is_v4_ = false;
};

// Parses every entry; on failure the error has one field violation per bad entry, named
// `field` + "/" + index (a JSON pointer such as "/allowed_cidrs/2").
Result<std::vector<CidrBlock>> ParseCidrList(const std::vector<std::string>& items,
                                             std::string_view field);

// True when `list` is empty (no restriction) or a block contains `address`. An address that does
// not parse is never allowed.
bool AddressAllowed(const std::vector<CidrBlock>& list, std::string_view address);

}  // namespace hangar
