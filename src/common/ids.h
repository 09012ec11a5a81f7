// Typed, prefixed, time-sortable identifiers: `node_01jd3x…`, `gpu_…`, `key_…`.
//
// An ID is a prefix naming its kind, an underscore, and a 26-character lowercase Crockford
// base32 ULID: 48 bits of millisecond time (so IDs sort by creation) and 80 random bits. Each
// kind is its own C++ type, so a NodeId cannot be passed where a GpuId is expected.
//
// Thread-safety: value types. Generation reads the injected clock and the OpenSSL CSPRNG.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/error.h"

namespace hangar {

namespace internal {
// A fresh ULID body (26 lowercase Crockford base32 characters) for the given time.
std::string NewUlidBody(Timestamp now);
// True when `body` is 26 lowercase Crockford base32 characters.
bool IsUlidBody(std::string_view body);
}  // namespace internal

template <typename Tag>
class Id {
 public:
  static constexpr std::string_view kPrefix = Tag::kPrefix;

  Id() = default;

  static Id Generate(const Clock& clock) {
    Id id;
    id.value_.reserve(kPrefix.size() + 27);
    id.value_.append(kPrefix).append("_").append(internal::NewUlidBody(clock.Now()));
    return id;
  }

  // Accepts exactly `<prefix>_<ulid>`; anything else is kInvalidArgument naming the kind.
  static Result<Id> Parse(std::string_view text) {
    if (text.size() == kPrefix.size() + 27 && text.substr(0, kPrefix.size()) == kPrefix &&
        text[kPrefix.size()] == '_' && internal::IsUlidBody(text.substr(kPrefix.size() + 1))) {
      Id id;
      id.value_.assign(text);
      return id;
    }
    return std::unexpected(Error::Invalid("'" + std::string(text.substr(0, 64)) + "' is not a " +
                                          std::string(Tag::kNoun) + " id (" + std::string(kPrefix) +
                                          "_ and 26 characters)"));
  }
  // For values read back from our own store, which only ever holds valid IDs.
  static Id FromTrusted(std::string value) {
    Id id;
    id.value_ = std::move(value);
    return id;
  }

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const Id&) const = default;

 private:
  std::string value_;
};

struct OrgTag {
  static constexpr std::string_view kPrefix = "org", kNoun = "organisation";
};
struct NodeTag {
  static constexpr std::string_view kPrefix = "node", kNoun = "node";
};
struct GpuTag {
  static constexpr std::string_view kPrefix = "gpu", kNoun = "GPU";
};
struct GpuTypeTag {
  static constexpr std::string_view kPrefix = "gput", kNoun = "GPU type";
};
struct ApiKeyTag {
  static constexpr std::string_view kPrefix = "key", kNoun = "API key";
};
struct JoinTokenTag {
  static constexpr std::string_view kPrefix = "jtok", kNoun = "join token";
};
struct EventTag {
  static constexpr std::string_view kPrefix = "evt", kNoun = "event";
};
struct TeamTag {
  static constexpr std::string_view kPrefix = "team", kNoun = "team";
};
struct ProjectTag {
  static constexpr std::string_view kPrefix = "proj", kNoun = "project";
};
struct UserTag {
  static constexpr std::string_view kPrefix = "user", kNoun = "user";
};
struct ServiceAccountTag {
  static constexpr std::string_view kPrefix = "sa", kNoun = "service account";
};
struct RoleTag {
  static constexpr std::string_view kPrefix = "role", kNoun = "role";
};
struct RoleBindingTag {
  static constexpr std::string_view kPrefix = "rb", kNoun = "role binding";
};
struct JobTag {
  static constexpr std::string_view kPrefix = "job", kNoun = "job";
};
struct InstanceTag {
  static constexpr std::string_view kPrefix = "inst", kNoun = "instance";
};
struct SnapshotTag {
  static constexpr std::string_view kPrefix = "snap", kNoun = "snapshot";
};
struct ApprovalTag {
  static constexpr std::string_view kPrefix = "apr", kNoun = "approval";
};
struct ScheduleTag {
  static constexpr std::string_view kPrefix = "sched", kNoun = "schedule";
};
struct ReservationTag {
  static constexpr std::string_view kPrefix = "rsv", kNoun = "reservation";
};
struct AlertRuleTag {
  static constexpr std::string_view kPrefix = "arule", kNoun = "alert rule";
};
struct AlertTag {
  static constexpr std::string_view kPrefix = "alert", kNoun = "alert";
};
struct RequestTag {
  static constexpr std::string_view kPrefix = "req", kNoun = "request";
};

using OrgId = Id<OrgTag>;
using NodeId = Id<NodeTag>;
using GpuId = Id<GpuTag>;
using GpuTypeId = Id<GpuTypeTag>;
using ApiKeyId = Id<ApiKeyTag>;
using JoinTokenId = Id<JoinTokenTag>;
using EventId = Id<EventTag>;
using RequestId = Id<RequestTag>;
using JobId = Id<JobTag>;
using InstanceId = Id<InstanceTag>;
using SnapshotId = Id<SnapshotTag>;
using ApprovalId = Id<ApprovalTag>;
using ScheduleId = Id<ScheduleTag>;
using ReservationId = Id<ReservationTag>;
using AlertRuleId = Id<AlertRuleTag>;
using AlertId = Id<AlertTag>;
using TeamId = Id<TeamTag>;
using ProjectId = Id<ProjectTag>;
using UserId = Id<UserTag>;
using ServiceAccountId = Id<ServiceAccountTag>;
using RoleId = Id<RoleTag>;
using RoleBindingId = Id<RoleBindingTag>;

}  // namespace hangar

template <typename Tag>
struct std::hash<hangar::Id<Tag>> {
  size_t operator()(const hangar::Id<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
