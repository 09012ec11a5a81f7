// RBAC: permissions, built-in and custom roles, and the one central authorisation check.
//
// A permission is "resource:verb" ("projects:create", "nodes:read"). A role is a set of
// permission patterns ("*", "projects:*", "*:read") plus the roles it includes (composition).
// A role binding grants a role to a user or service account at organisation, team or project
// scope; a binding at a scope also grants on everything below it (org > team > project).
// Bindings may expire (temporary elevation): an expired binding grants nothing, with no sweep
// needed, because expiry is evaluated at check time with the injected clock.
//
// Authorizer::Check is the only place that decides. The gateway calls it for routes whose object
// is the organisation; services call it once they know the object's team and project. Default
// deny: no binding, no access. Credential scopes (an API key's or a token's `scope`) narrow what
// the bindings grant; they never widen it.
//
// Thread-safety: the free functions are pure. Authorizer is thread-safe: each organisation's
// policy (custom roles and bindings) is cached for a short TTL under mutex_ and dropped by
// Invalidate() after a change made through this process; other replicas see changes within the
// TTL.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "store/identity_repos.h"
#include "store/store.h"

namespace hangar::identity {

// ---- Permissions
// ---------------------------------------------------------------------------------

struct PermissionInfo {
  std::string name;  // "projects:create"
  std::string description;
};

// Every permission the API checks, sorted by name (GET /permissions, validation of custom roles).
const std::vector<PermissionInfo>& AllPermissions();
bool IsKnownPermission(std::string_view permission);
// "*", "resource:*", "*:verb" or an exact known permission, with known parts.
bool IsValidPermissionPattern(std::string_view pattern);
bool PatternMatches(std::string_view pattern, std::string_view permission);
bool AnyPatternMatches(const std::vector<std::string>& patterns, std::string_view permission);

// ---- Roles
// ---------------------------------------------------------------------------------------

struct BuiltinRole {
  std::string name;
  std::string description;
  std::vector<std::string> permissions;
};

// admin, developer, viewer, billing-viewer.
const std::vector<BuiltinRole>& BuiltinRoles();
const BuiltinRole* FindBuiltinRole(std::string_view name);

// The permission patterns of `role` with every included role expanded, given an organisation's
// custom roles by name. kInvalidArgument naming `field` for an unknown role or a cycle.
Result<std::vector<std::string>> ExpandRole(std::string_view role,
                                            const std::map<std::string, store::RoleRecord>& custom,
                                            std::string_view field = "/role");

// ---- The check
// -----------------------------------------------------------------------------------

// Where the object of a request sits. Empty team/project: an organisation-level object.
struct ResourceScope {
  OrgId org;
  std::string team_id;
  std::string project_id;

  static ResourceScope Organization(const OrgId& org) { return {org, {}, {}}; }
  static ResourceScope Team(const OrgId& org, const TeamId& team) { return {org, team.str(), {}}; }
  static ResourceScope Project(const OrgId& org, const TeamId& team, const ProjectId& project) {
    return {org, team.str(), project.str()};
  }
};

struct AccessDecision {
  bool allowed = false;
  std::string binding_id;  // the binding that granted it ("" for built-in principals)
  std::string role;
  std::string reason;  // why not, for the 403 detail and the audit record
};

class Authorizer {
 public:
  Authorizer(store::Store& store, const Clock& clock, Micros cache_ttl = std::chrono::seconds(10));

  // Whether `who` holds `permission` on an object at `scope`. kUnavailable when the store
  // cannot be read; a denial is a decision, not an error.
  Result<AccessDecision> Check(const Principal& who, std::string_view permission,
                               const ResourceScope& scope);
  // Check, as a Status: kPermissionDenied naming the permission when denied.
  Status Require(const Principal& who, std::string_view permission, const ResourceScope& scope);
  // For an object the caller addressed by id: kNotFound (as if it did not exist) when the caller
  // may not even read it, kPermissionDenied when it may read but not do `permission`.
  Status RequireOnObject(const Principal& who, std::string_view permission,
                         std::string_view read_permission, const ResourceScope& scope,
                         Error not_found);
  // Whether `who` holds `permission` at any scope of its organisation (list pre-filters).
  Result<bool> HoldsAnywhere(const Principal& who, std::string_view permission);

  // Drops the cached policy of `org` (call after a role or binding change).
  void Invalidate(const OrgId& org);

  // The effective permissions of each role the organisation can bind (built-in and custom).
  Result<std::map<std::string, std::vector<std::string>>> RolePermissions(const OrgId& org);

 private:
  struct Policy {
    std::map<std::string, std::vector<std::string>> role_permissions;  // expanded, by role name
    std::unordered_map<std::string, std::vector<store::RoleBindingRecord>>
        bindings;  // by principal
    Timestamp loaded_at;
  };
  Result<std::shared_ptr<const Policy>> PolicyOf(const OrgId& org);
  static bool BindingCovers(const store::RoleBindingRecord& binding, const ResourceScope& scope);

  store::Store& store_;
  const Clock& clock_;
  const Micros cache_ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Policy>> policies_;  // guarded by mutex_
  uint64_t generation_ = 0;                                                  // guarded by mutex_
};

}  // namespace hangar::identity
