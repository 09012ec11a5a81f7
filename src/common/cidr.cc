// CIDR parsing and matching over Boost.Asio addresses; see cidr.h for the rules.
//
// Thread-safety: stateless.
#include "common/cidr.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <charconv>

namespace hangar {

namespace {

namespace ip = boost::asio::ip;

constexpr std::string_view kCidrHint =
    "Use CIDR notation such as 10.0.0.0/8 or 2001:db8::/32, or a single IP address.";

Error CidrError(std::string message) {
  return Error::Invalid(std::move(message)).Hint(std::string(kCidrHint));
}

// True when the first `prefix` bits of `a` and `b` are equal.
bool SamePrefix(const uint8_t* a, const uint8_t* b, int prefix) {
  int whole = prefix / 8;
  if (!std::equal(a, a + whole, b)) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

// Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; match them as the IPv4 they are.
ip::address Unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

Result<CidrBlock> CidrBlock::Parse(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view address_text = text.substr(0, slash);
  // Zone ids name an interface of one host; they mean nothing in an allow-list.
  if (address_text.find('%') != std::string_view::npos) {
    return std::unexpected(CidrError("an IPv6 zone id (%...) is not allowed in a CIDR block"));
  }
  boost::system::error_code ec;
  ip::address address = ip::make_address(address_text, ec);
  if (ec) {
    return std::unexpected(CidrError("must be an IP address or a CIDR block such as 10.0.0.0/8"));
  }
  int max_prefix = address.is_v4() ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    // Parsed here rather than by make_network_v4/v6, which read it with atoi: "/4294967304"
    // would wrap to /8 there.
    std::string_view prefix_text = text.substr(slash + 1);
    auto [end, perr] =
        std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
    if (prefix_text.empty() || prefix_text.size() > 3 || perr != std::errc() ||
        end != prefix_text.data() + prefix_text.size() || prefix < 0 || prefix > max_prefix) {
      return std::unexpected(CidrError("prefix length must be a number from 0 to " +
                                       std::to_string(max_prefix) + " for an " +
                                       (address.is_v4() ? "IPv4" : "IPv6") + " network"));
    }
  }
  // A block inside ::ffff:0:0/96 only ever contains IPv4 clients, which Contains matches as IPv4.
  if (address.is_v6() && address.to_v6().is_v4_mapped() && prefix >= 96) {
    address = Unmapped(address);
    prefix -= 96;
  }

  CidrBlock block;
  block.prefix_length_ = static_cast<uint8_t>(prefix);
  block.is_v4_ = address.is_v4();
  if (block.is_v4_) {
    auto bytes = ip::network_v4(address.to_v4(), prefix).network().to_bytes();
    std::copy(bytes.begin(), bytes.end(), block.network_.begin());
  } else {
    auto bytes = ip::network_v6(address.to_v6(), prefix).network().to_bytes();
    std::copy(bytes.begin(), bytes.end(), block.network_.begin());
  }
  return block;
}

bool CidrBlock::Contains(const ip::address& address) const {
  ip::address plain = Unmapped(address);
  if (plain.is_v4() != is_v4_) return false;
  if (is_v4_) {
    auto bytes = plain.to_v4().to_bytes();
    return SamePrefix(network_.data(), bytes.data(), prefix_length_);
  }
  auto bytes = plain.to_v6().to_bytes();  // any zone id is ignored: it is not part of the address
  return SamePrefix(network_.data(), bytes.data(), prefix_length_);
}

std::string CidrBlock::ToString() const {
  std::string address;
  if (is_v4_) {
    ip::address_v4::bytes_type bytes;
    std::copy_n(network_.begin(), bytes.size(), bytes.begin());
    address = ip::address_v4(bytes).to_string();
  } else {
    ip::address_v6::bytes_type bytes;
    std::copy_n(network_.begin(), bytes.size(), bytes.begin());
    address = ip::address_v6(bytes).to_string();
  }
  return address + "/" + std::to_string(prefix_length_);
}

Result<std::vector<CidrBlock>> ParseCidrList(const std::vector<std::string>& items,
                                             std::string_view field) {
  std::vector<CidrBlock> blocks;
  blocks.reserve(items.size());
  std::optional<Error> error;
  for (size_t i = 0; i < items.size(); ++i) {
    auto block = CidrBlock::Parse(items[i]);
    if (block) {
      blocks.push_back(*block);
      continue;
    }
    // Report every bad entry at once, so a client fixes its list in one round trip.
    if (!error) {
      error = Error::Invalid("invalid CIDR block in " + std::string(field))
                  .Hint(std::string(kCidrHint));
    }
    error->AddField(std::string(field) + "/" + std::to_string(i), block.error().message());
  }
  if (error) return std::unexpected(std::move(*error));
  return blocks;
}

bool AddressAllowed(const std::vector<CidrBlock>& list, std::string_view address) {
  if (list.empty()) return true;
  boost::system::error_code ec;
  ip::address parsed = ip::make_address(address, ec);
  if (ec) return false;
  return std::ranges::any_of(list, [&](const CidrBlock& block) { return block.Contains(parsed); });
}

}  // namespace hangar
