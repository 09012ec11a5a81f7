// Permissions, roles and the central authorisation check. See rbac.h.
#include "identity/rbac.h"

#include <algorithm>
#include <set>

#include "store/identity_repos.h"

namespace hangar::identity {
namespace {

// The catalogue. Resources of later capabilities (instances, jobs, quotas, usage, costs,
// budgets) are listed now so that roles written today keep their meaning when they arrive.
std::vector<PermissionInfo> BuildPermissions() {
  std::vector<PermissionInfo> p = {
      {"organizations:read", "Read the organisation and its settings."},
      {"organizations:update", "Change the organisation's display name and policies."},
      {"organizations:create", "Create organisations (platform administrators only)."},
      {"teams:read", "Read teams."},
      {"teams:create", "Create teams."},
      {"teams:update", "Rename or describe teams."},
      {"teams:delete", "Delete empty teams."},
      {"projects:read", "Read projects."},
      {"projects:create", "Create projects in a team."},
      {"projects:update", "Rename or describe projects."},
      {"projects:delete", "Delete projects."},
      {"users:read", "Read users."},
      {"users:create", "Invite users."},
      {"users:update", "Rename, disable, enable or unlock users."},
      {"users:delete", "Delete users."},
      {"service-accounts:read", "Read service accounts."},
      {"service-accounts:create", "Create service accounts."},
      {"service-accounts:update", "Change or disable service accounts."},
      {"service-accounts:delete", "Delete service accounts."},
      {"api-keys:read", "Read other principals' API keys (everyone reads their own)."},
      {"api-keys:create", "Create API keys for service accounts and other users."},
      {"api-keys:update", "Rotate other principals' API keys."},
      {"api-keys:delete", "Revoke other principals' API keys."},
      {"roles:read", "Read roles."},
      {"roles:create", "Create custom roles."},
      {"roles:update", "Change custom roles."},
      {"roles:delete", "Delete custom roles."},
      {"role-bindings:read", "Read role bindings."},
      {"role-bindings:create", "Grant roles (including temporary elevation)."},
      {"role-bindings:delete", "Revoke roles."},
      {"access-review:read", "Review who holds which access."},
      {"audit:read", "Read the audit log."},
      {"events:read", "Read the event log."},
      {"nodes:read", "Read nodes."},
      {"nodes:update", "Cordon, uncordon and label nodes."},
      {"nodes:report", "Report as a node agent (agents' own credentials only)."},
      {"gpus:read", "Read GPUs and their live metrics."},
      {"metrics:read", "Read the metric history of projects and teams."},
      {"alert-rules:read", "Read alert rules."},
      {"alert-rules:create", "Create alert rules."},
      {"alert-rules:update", "Change, enable and disable alert rules."},
      {"alert-rules:delete", "Delete alert rules."},
      {"alerts:read", "Read alerts (pending, firing and resolved)."},
      {"gpu-types:read", "Read the GPU catalogue."},
      {"gpu-types:create", "Add GPU types."},
      {"gpu-types:update", "Rename or price GPU types."},
      {"join-tokens:read", "Read node join tokens."},
      {"join-tokens:create", "Create node join tokens."},
      {"join-tokens:delete", "Delete node join tokens."},
      {"instances:read", "Read GPU instances."},
      {"instances:create", "Provision GPU instances."},
      {"instances:update", "Stop, start, resize and snapshot instances."},
      {"instances:delete", "Terminate instances."},
      {"jobs:read", "Read jobs."},
      {"jobs:create", "Submit jobs."},
      {"jobs:update", "Change and cancel jobs."},
      {"jobs:delete", "Delete jobs."},
      {"reservations:read", "Read advance reservations and the reservation calendar."},
      {"reservations:create", "Book GPUs for a future window."},
      {"reservations:delete", "Cancel reservations."},
      {"quotas:read", "Read quotas."},
      {"quotas:update", "Set quotas."},
      {"quotas:approve", "Approve quota requests."},
      {"usage:read", "Read metered usage."},
      {"costs:read", "Read costs."},
      {"budgets:read", "Read budgets."},
      {"budgets:update", "Set budgets."},
      {"approvals:read", "Read approval requests."},
      {"approvals:decide", "Approve or reject requests (never one's own)."},
      {"approval-policies:update", "Set what a project requires approval for."},
  };
  std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return p;
}

std::vector<BuiltinRole> BuildBuiltinRoles() {
  return {
      {"admin", "Everything in the scope it is bound at.", {"*"}},
      {"developer",
       "Runs work: provisions instances and submits jobs, reads the fleet and the organisation.",
       {"instances:*",        "jobs:*",         "reservations:*",        "teams:read",
        "projects:read",      "users:read",     "service-accounts:read", "roles:read",
        "nodes:read",         "gpus:read",      "gpu-types:read",        "quotas:read",
        "usage:read",         "costs:read",     "budgets:read",          "events:read",
        "organizations:read", "approvals:read", "metrics:read",          "alert-rules:read",
        "alerts:read"}},
      {"viewer",
       "Reads everything except secrets, the audit log and the access review.",
       {"organizations:read",
        "teams:read",
        "projects:read",
        "users:read",
        "service-accounts:read",
        "roles:read",
        "role-bindings:read",
        "nodes:read",
        "gpus:read",
        "gpu-types:read",
        "instances:read",
        "jobs:read",
        "reservations:read",
        "quotas:read",
        "usage:read",
        "costs:read",
        "budgets:read",
        "events:read",
        "approvals:read",
        "metrics:read",
        "alert-rules:read",
        "alerts:read"}},
      {"billing-viewer",
       "Reads usage, costs, budgets and quotas, and the prices of the catalogue.",
       {"usage:read", "costs:read", "budgets:read", "quotas:read", "organizations:read",
        "teams:read", "projects:read", "gpu-types:read"}},
  };
}

std::pair<std::string_view, std::string_view> SplitPermission(std::string_view p) {
  size_t colon = p.find(':');
  if (colon == std::string_view::npos) return {p, {}};
  return {p.substr(0, colon), p.substr(colon + 1)};
}

}  // namespace

const std::vector<PermissionInfo>& AllPermissions() {
  static const std::vector<PermissionInfo> permissions = BuildPermissions();
  return permissions;
}

bool IsKnownPermission(std::string_view permission) {
  const auto& all = AllPermissions();
  auto it =
      std::lower_bound(all.begin(), all.end(), permission,
                       [](const PermissionInfo& a, std::string_view b) { return a.name < b; });
  return it != all.end() && it->name == permission;
}

bool IsValidPermissionPattern(std::string_view pattern) {
  if (pattern == "*") return true;
  auto [resource, verb] = SplitPermission(pattern);
  if (resource.empty() || verb.empty() || (resource == "*" && verb == "*")) return false;
  for (const PermissionInfo& p : AllPermissions()) {
    auto [r, v] = SplitPermission(p.name);
    if ((resource == "*" || resource == r) && (verb == "*" || verb == v)) return true;
  }
  return false;
}

bool PatternMatches(std::string_view pattern, std::string_view permission) {
  if (pattern == "*" || pattern == permission) return true;
  auto [pr, pv] = SplitPermission(pattern);
  auto [r, v] = SplitPermission(permission);
  return (pr == "*" || pr == r) && (pv == "*" || pv == v);
}

bool AnyPatternMatches(const std::vector<std::string>& patterns, std::string_view permission) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return PatternMatches(p, permission); });
}

const std::vector<BuiltinRole>& BuiltinRoles() {
  static const std::vector<BuiltinRole> roles = BuildBuiltinRoles();
  return roles;
}

const BuiltinRole* FindBuiltinRole(std::string_view name) {
  for (const BuiltinRole& r : BuiltinRoles()) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Result<std::vector<std::string>> ExpandRole(std::string_view role,
                                            const std::map<std::string, store::RoleRecord>& custom,
                                            std::string_view field) {
  std::set<std::string> out;
  std::vector<std::string> path;  // roles being expanded, to detect cycles
  std::function<Status(std::string_view)> expand = [&](std::string_view name) -> Status {
    if (std::find(path.begin(), path.end(), name) != path.end()) {
      std::string cycle;
      for (const auto& p : path) cycle += p + " -> ";
      return std::unexpected(Error::Invalid("roles include each other in a cycle")
                                 .Field(std::string(field), cycle + std::string(name)));
    }
    if (const BuiltinRole* b = FindBuiltinRole(name)) {
      out.insert(b->permissions.begin(), b->permissions.end());
      return Ok();
    }
    auto it = custom.find(std::string(name));
    if (it == custom.end()) {
      return std::unexpected(Error::Invalid("no role named '" + std::string(name) + "'")
                                 .Field(std::string(field), "must name a built-in or custom role")
                                 .Hint("list roles with GET /api/v1/roles"));
    }
    path.emplace_back(name);
    out.insert(it->second.permissions.begin(), it->second.permissions.end());
    for (const std::string& included : it->second.includes) HANGAR_TRY(expand(included));
    path.pop_back();
    return Ok();
  };
  HANGAR_TRY(expand(role));
  return std::vector<std::string>(out.begin(), out.end());
}

// ---- Authorizer
// ----------------------------------------------------------------------------------

Authorizer::Authorizer(store::Store& store, const Clock& clock, Micros cache_ttl)
    : store_(store), clock_(clock), cache_ttl_(cache_ttl) {}

void Authorizer::Invalidate(const OrgId& org) {
  std::lock_guard lock(mutex_);
  ++generation_;
  policies_.erase(org.str());
}

Result<std::shared_ptr<const Authorizer::Policy>> Authorizer::PolicyOf(const OrgId& org) {
  Timestamp now = clock_.Now();
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = policies_.find(org.str());
    if (it != policies_.end() && it->second->loaded_at + cache_ttl_ > now) return it->second;
    generation = generation_;
  }
  std::vector<store::RoleRecord> roles;
  std::vector<store::RoleBindingRecord> bindings;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(roles, store::ListAllRoles(tx, org));
    HANGAR_ASSIGN_OR_RETURN(bindings, store::ListAllBindings(tx, org));
    return Ok();
  }));
  auto policy = std::make_shared<Policy>();
  policy->loaded_at = now;
  std::map<std::string, store::RoleRecord> custom;
  for (auto& r : roles) custom.emplace(r.name, std::move(r));
  for (const BuiltinRole& b : BuiltinRoles()) policy->role_permissions[b.name] = b.permissions;
  for (const auto& [name, role] : custom) {
    // A role broken by a later edit (an included role deleted) grants only its own permissions:
    // failing closed on the includes, not on the whole organisation.
    auto expanded = ExpandRole(name, custom);
    policy->role_permissions[name] = expanded ? *expanded : role.permissions;
  }
  for (auto& b : bindings) policy->bindings[b.principal_id].push_back(std::move(b));
  std::shared_ptr<const Policy> result = std::move(policy);
  {
    std::lock_guard lock(mutex_);
    if (generation == generation_) policies_[org.str()] = result;
  }
  return result;
}

bool Authorizer::BindingCovers(const store::RoleBindingRecord& b, const ResourceScope& scope) {
  if (b.scope_type == "organization") return true;
  if (b.scope_type == "team") return !scope.team_id.empty() && b.scope_id == scope.team_id;
  if (b.scope_type == "project") {
    return !scope.project_id.empty() && b.scope_id == scope.project_id;
  }
  return false;
}

Result<AccessDecision> Authorizer::Check(const Principal& who, std::string_view permission,
                                         const ResourceScope& scope) {
  AccessDecision d;
  if (who.org_id != scope.org) {
    d.reason = "the object belongs to another organisation";
    return d;
  }
  if (!AnyPatternMatches(who.scopes, permission)) {
    d.reason = "the credential's scopes do not include " + std::string(permission);
    return d;
  }
  switch (who.kind) {
    case store::PrincipalKind::kAdmin:
      // The bootstrap key: everything in its organisation except acting as a node.
      d.allowed = permission != "nodes:report";
      d.role = "admin";
      if (!d.allowed) d.reason = "only node credentials report as nodes";
      return d;
    case store::PrincipalKind::kNode:
      d.allowed = permission == "nodes:report";
      if (!d.allowed) d.reason = "node credentials may only report as their node";
      return d;
    case store::PrincipalKind::kUser:
    case store::PrincipalKind::kServiceAccount:
      break;
  }
  if (permission == "nodes:report" || permission == "organizations:create") {
    d.reason = std::string(permission) + " is not grantable by roles";
    return d;
  }
  HANGAR_ASSIGN_OR_RETURN(auto policy, PolicyOf(scope.org));
  auto it = policy->bindings.find(who.subject_id);
  Timestamp now = clock_.Now();
  bool saw_expired = false;
  if (it != policy->bindings.end()) {
    for (const store::RoleBindingRecord& b : it->second) {
      if (!BindingCovers(b, scope)) continue;
      auto role = policy->role_permissions.find(b.role);
      if (role == policy->role_permissions.end() || !AnyPatternMatches(role->second, permission)) {
        continue;
      }
      if (b.expires_at && *b.expires_at <= now) {
        saw_expired = true;
        continue;
      }
      d.allowed = true;
      d.binding_id = b.id.str();
      d.role = b.role;
      return d;
    }
  }
  d.reason = saw_expired ? "the binding that granted " + std::string(permission) + " has expired"
                         : "no role binding grants " + std::string(permission) + " here";
  return d;
}

Status Authorizer::Require(const Principal& who, std::string_view permission,
                           const ResourceScope& scope) {
  HANGAR_ASSIGN_OR_RETURN(AccessDecision d, Check(who, permission, scope));
  if (d.allowed) return Ok();
  return std::unexpected(
      Error::PermissionDenied("permission " + std::string(permission) + " is required: " + d.reason)
          .Hint("ask an administrator for a role that includes " + std::string(permission) +
                " (GET /api/v1/roles lists them)"));
}

Status Authorizer::RequireOnObject(const Principal& who, std::string_view permission,
                                   std::string_view read_permission, const ResourceScope& scope,
                                   Error not_found) {
  if (permission != read_permission) {
    HANGAR_ASSIGN_OR_RETURN(AccessDecision read, Check(who, read_permission, scope));
    if (!read.allowed) return std::unexpected(std::move(not_found));
    return Require(who, permission, scope);
  }
  HANGAR_ASSIGN_OR_RETURN(AccessDecision d, Check(who, permission, scope));
  if (!d.allowed) return std::unexpected(std::move(not_found));
  return Ok();
}

Result<bool> Authorizer::HoldsAnywhere(const Principal& who, std::string_view permission) {
  if (!AnyPatternMatches(who.scopes, permission)) return false;
  if (who.kind == store::PrincipalKind::kAdmin) return permission != "nodes:report";
  if (who.kind == store::PrincipalKind::kNode) return permission == "nodes:report";
  HANGAR_ASSIGN_OR_RETURN(auto policy, PolicyOf(who.org_id));
  auto it = policy->bindings.find(who.subject_id);
  if (it == policy->bindings.end()) return false;
  Timestamp now = clock_.Now();
  for (const store::RoleBindingRecord& b : it->second) {
    if (b.expires_at && *b.expires_at <= now) continue;
    auto role = policy->role_permissions.find(b.role);
    if (role != policy->role_permissions.end() && AnyPatternMatches(role->second, permission)) {
      return true;
    }
  }
  return false;
}

Result<std::map<std::string, std::vector<std::string>>> Authorizer::RolePermissions(
    const OrgId& org) {
  HANGAR_ASSIGN_OR_RETURN(auto policy, PolicyOf(org));
  return policy->role_permissions;
}

}  // namespace hangar::identity
