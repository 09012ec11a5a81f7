// Identity views: tenancy and access records rendered as the public API's objects
// (api/identity_types.h), with RFC 3339 times, ETags and links. Shared by handlers and events.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/identity_types.h"
#include "store/identity_repos.h"

namespace hangar::identity {

api::Organization ToApi(const store::OrgDetailRecord& record);
api::Team ToApi(const store::TeamRecord& record);
api::Project ToApi(const store::ProjectRecord& record);
api::User ToApi(const store::UserRecord& record, Timestamp now);
api::ServiceAccount ToApi(const store::ServiceAccountRecord& record);
api::ApiKey ToApi(const store::ApiKeyRecord& record, Timestamp now);
api::Role ToApi(const store::RoleRecord& record, std::vector<std::string> effective);
api::RoleBinding ToApi(const store::RoleBindingRecord& record, Timestamp now);

// Organisation settings: stored JSON <-> API object, with defaults filled in on the way out.
api::OrganizationSettings ParseSettings(const std::string& settings_json);
std::string SerializeSettings(const api::OrganizationSettings& settings);

inline constexpr int64_t kDefaultLoginMaxFailures = 5;
inline constexpr int64_t kDefaultLoginLockoutMinutes = 15;

}  // namespace hangar::identity
