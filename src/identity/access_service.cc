// Roles, bindings, API keys, the access review and whoami. See access_service.h.
#include "identity/access_service.h"

#include <algorithm>
#include <set>

#include "common/cidr.h"
#include "common/json_codec.h"
#include "identity/api_keys.h"
#include "identity/directory_service.h"
#include "identity/service_support.h"
#include "identity/views.h"

namespace hangar::identity {
namespace {

constexpr int64_t kDefaultGraceSeconds = 86400;
constexpr int64_t kMaxGraceSeconds = 30 * 86400;
constexpr int64_t kMaxBindingSeconds = 90LL * 86400;

Error RoleNotFound(std::string_view name) {
  return Error::NotFound("no role " + std::string(name)).Hint("GET /api/v1/roles lists them");
}

Error KeyNotFound(const ApiKeyId& id) { return Error::NotFound("no API key " + id.str()); }

api::Role BuiltinToApi(const BuiltinRole& b) {
  return api::Role{.name = b.name,
                   .description = b.description,
                   .builtin = true,
                   .permissions = b.permissions,
                   .effective_permissions = b.permissions,
                   .etag = "\"builtin\"",
                   .links = {{"self", "/api/v1/roles/" + b.name}}};
}

std::string_view PrincipalTypeOf(std::string_view id) {
  if (UserId::Parse(id)) return "user";
  if (ServiceAccountId::Parse(id)) return "service_account";
  return {};
}

}  // namespace

AccessService::AccessService(store::Store& store, const Clock& clock, Authorizer& authorizer,
                             Authenticator& authenticator)
    : store_(store), clock_(clock), authorizer_(authorizer), authenticator_(authenticator) {}

Status AccessService::Emit(store::Tx& tx, const Principal& who, std::string type,
                           std::string subject, std::string data_json, Timestamp now) {
  return AppendIdentityEvent(tx, clock_, who, std::move(type), std::move(subject),
                             std::move(data_json), now);
}

Result<std::map<std::string, store::RoleRecord>> AccessService::CustomRoles(store::Tx& tx,
                                                                            const OrgId& org) {
  HANGAR_ASSIGN_OR_RETURN(auto roles, store::ListAllRoles(tx, org));
  std::map<std::string, store::RoleRecord> out;
  for (auto& r : roles) out.emplace(r.name, std::move(r));
  return out;
}

Status AccessService::ValidateRole(Error& invalid, const std::vector<std::string>& permissions,
                                   const std::vector<std::string>& includes) {
  for (size_t i = 0; i < permissions.size(); ++i) {
    if (!IsValidPermissionPattern(permissions[i])) {
      invalid.AddField("/permissions/" + std::to_string(i),
                       "'" + permissions[i] +
                           "' is not a permission: use resource:verb, resource:*, *:verb or *");
    }
  }
  if (permissions.size() > 200) invalid.AddField("/permissions", "at most 200 entries");
  if (includes.size() > 20) invalid.AddField("/includes", "at most 20 roles");
  return Ok();
}

// ---- Roles
// ---------------------------------------------------------------------------------------

Result<std::vector<api::Role>> AccessService::ListRoles(const Principal& who) {
  HANGAR_TRY(authorizer_.Require(who, "roles:read", ResourceScope::Organization(who.org_id)));
  std::map<std::string, store::RoleRecord> custom;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(custom, CustomRoles(tx, who.org_id));
    return Ok();
  }));
  std::vector<api::Role> out;
  for (const BuiltinRole& b : BuiltinRoles()) out.push_back(BuiltinToApi(b));
  for (const auto& [name, role] : custom) {
    auto effective = ExpandRole(name, custom);
    out.push_back(ToApi(role, effective ? *effective : role.permissions));
  }
  return out;
}

Result<api::Role> AccessService::GetRole(const Principal& who, std::string_view name) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "roles:read", "roles:read",
                                         ResourceScope::Organization(who.org_id),
                                         RoleNotFound(name)));
  if (const BuiltinRole* b = FindBuiltinRole(name)) return BuiltinToApi(*b);
  std::map<std::string, store::RoleRecord> custom;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(custom, CustomRoles(tx, who.org_id));
    return Ok();
  }));
  auto it = custom.find(std::string(name));
  if (it == custom.end()) return std::unexpected(RoleNotFound(name));
  auto effective = ExpandRole(name, custom);
  return ToApi(it->second, effective ? *effective : it->second.permissions);
}

Result<api::Role> AccessService::CreateRole(const Principal& who, const api::CreateRoleRequest& r) {
  HANGAR_TRY(authorizer_.Require(who, "roles:create", ResourceScope::Organization(who.org_id)));
  Error invalid = Error::Invalid("the role is not valid");
  CheckName(invalid, "/name", r.name);
  if (FindBuiltinRole(r.name)) invalid.AddField("/name", "is the name of a built-in role");
  if (r.description && r.description->size() > 1024) {
    invalid.AddField("/description", "must be <= 1024 bytes");
  }
  std::vector<std::string> includes = r.includes.value_or(std::vector<std::string>{});
  HANGAR_TRY(ValidateRole(invalid, r.permissions, includes));
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  Timestamp now = clock_.Now();
  store::RoleRecord role{.id = RoleId::Generate(clock_),
                         .org_id = who.org_id,
                         .name = r.name,
                         .description = r.description.value_or(""),
                         .permissions = r.permissions,
                         .includes = includes,
                         .created_at = now,
                         .updated_at = now};
  std::vector<std::string> effective;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto custom, CustomRoles(tx, who.org_id));
    if (custom.contains(r.name)) {
      return std::unexpected(Error::AlreadyExists("a role named '" + r.name + "' already exists")
                                 .Field("/name", "must be unique"));
    }
    custom.emplace(role.name, role);
    HANGAR_ASSIGN_OR_RETURN(effective, ExpandRole(role.name, custom, "/includes"));
    HANGAR_TRY(store::InsertRole(tx, role));
    return Emit(tx, who, "hangar.role.created", role.id.str(),
                json::Serialize(ToApi(role, effective)), now);
  }));
  authorizer_.Invalidate(who.org_id);
  return ToApi(role, effective);
}

Result<api::Role> AccessService::UpdateRole(const Principal& who, std::string_view name,
                                            const api::UpdateRoleRequest& patch,
                                            std::optional<int64_t> if_match) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "roles:update", "roles:read",
                                         ResourceScope::Organization(who.org_id),
                                         RoleNotFound(name)));
  if (FindBuiltinRole(name)) {
    return std::unexpected(Error::Conflict("built-in roles cannot be changed")
                               .Hint("create a custom role that includes it"));
  }
  Error invalid = Error::Invalid("the role update is not valid");
  if (patch.description && patch.description->size() > 1024) {
    invalid.AddField("/description", "must be <= 1024 bytes");
  }
  HANGAR_TRY(ValidateRole(invalid, patch.permissions.value_or(std::vector<std::string>{}),
                          patch.includes.value_or(std::vector<std::string>{})));
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::optional<store::RoleRecord> result;
  std::vector<std::string> effective;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto custom, CustomRoles(tx, who.org_id));
    auto it = custom.find(std::string(name));
    if (it == custom.end()) return std::unexpected(RoleNotFound(name));
    if (if_match && *if_match != it->second.version) {
      return std::unexpected(Error(ErrorCode::kPreconditionFailed, "the role changed")
                                 .Hint("GET it again and retry with its current ETag"));
    }
    store::RoleRecord updated = it->second;
    if (patch.description) updated.description = *patch.description;
    if (patch.permissions) updated.permissions = *patch.permissions;
    if (patch.includes) updated.includes = *patch.includes;
    it->second = updated;
    HANGAR_ASSIGN_OR_RETURN(effective, ExpandRole(updated.name, custom, "/includes"));
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateRole(tx, updated));
    updated.version += 1;
    HANGAR_TRY(Emit(tx, who, "hangar.role.updated", updated.id.str(),
                    json::Serialize(ToApi(updated, effective)), now));
    result = std::move(updated);
    return Ok();
  }));
  authorizer_.Invalidate(who.org_id);
  return ToApi(*result, effective);
}

Status AccessService::DeleteRole(const Principal& who, std::string_view name) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "roles:delete", "roles:read",
                                         ResourceScope::Organization(who.org_id),
                                         RoleNotFound(name)));
  if (FindBuiltinRole(name)) {
    return std::unexpected(Error::Conflict("built-in roles cannot be deleted"));
  }
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto custom, CustomRoles(tx, who.org_id));
    auto it = custom.find(std::string(name));
    if (it == custom.end()) return std::unexpected(RoleNotFound(name));
    HANGAR_ASSIGN_OR_RETURN(int64_t bindings, store::CountBindingsOfRole(tx, who.org_id, name));
    if (bindings > 0) {
      return std::unexpected(
          Error::Conflict("the role is granted by " + std::to_string(bindings) + " binding(s)")
              .Hint("delete them first: GET /api/v1/role-bindings?role=" + std::string(name)));
    }
    for (const auto& [other, role] : custom) {
      if (std::find(role.includes.begin(), role.includes.end(), name) != role.includes.end()) {
        return std::unexpected(Error::Conflict("role '" + other + "' includes this role")
                                   .Hint("remove it from that role's includes first"));
      }
    }
    HANGAR_TRY(store::DeleteRole(tx, who.org_id, it->second.id));
    return Emit(tx, who, "hangar.role.deleted", it->second.id.str(),
                json::Serialize(ToApi(it->second, it->second.permissions)), clock_.Now());
  }));
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

// ---- Role bindings
// -------------------------------------------------------------------------------

Result<store::RoleBindingRecord> AccessService::CreateBinding(
    const Principal& who, const api::CreateRoleBindingRequest& r) {
  Error invalid = Error::Invalid("the role binding is not valid");
  std::string_view principal_type = PrincipalTypeOf(r.principal_id);
  if (principal_type.empty()) {
    invalid.AddField("/principal_id", "must be a user (user_…) or service account (sa_…) id");
  }
  api::ScopeType scope_type = r.scope_type.value_or(api::ScopeType::organization);
  std::string scope_id = r.scope_id.value_or(who.org_id.str());
  if (scope_type == api::ScopeType::organization && scope_id != who.org_id.str()) {
    invalid.AddField("/scope_id", "must be this organisation's id (or omitted)");
  }
  if (scope_type == api::ScopeType::team && !TeamId::Parse(scope_id)) {
    invalid.AddField("/scope_id", "must be a team id for scope_type team");
  }
  if (scope_type == api::ScopeType::project && !ProjectId::Parse(scope_id)) {
    invalid.AddField("/scope_id", "must be a project id for scope_type project");
  }
  Timestamp now = clock_.Now();
  std::optional<Timestamp> expires_at;
  if (r.expires_at && r.expires_in_seconds) {
    invalid.AddField("/expires_in_seconds", "give expires_at or expires_in_seconds, not both");
  } else if (r.expires_at) {
    expires_at = ParseRfc3339(*r.expires_at);
    if (!expires_at) invalid.AddField("/expires_at", "must be an RFC 3339 time");
  } else if (r.expires_in_seconds) {
    expires_at = now + std::chrono::seconds(*r.expires_in_seconds);
  }
  if (expires_at &&
      (*expires_at <= now || *expires_at > now + std::chrono::seconds(kMaxBindingSeconds))) {
    invalid.AddField(r.expires_at ? "/expires_at" : "/expires_in_seconds",
                     "must be in the future and at most 90 days away");
  }
  std::string justification = r.justification.value_or("");
  if (expires_at && justification.size() < 3) {
    invalid.AddField("/justification", "is required for a temporary elevation (an expiry)");
  }
  if (justification.size() > 1024) invalid.AddField("/justification", "must be <= 1024 bytes");
  HANGAR_TRY(IfInvalid(std::move(invalid)));

  ResourceScope scope = ResourceScope::Organization(who.org_id);
  std::string scope_name(json::EnumName(scope_type));
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    Error missing = Error::Invalid("the binding names something that does not exist");
    if (scope_type == api::ScopeType::team) {
      HANGAR_ASSIGN_OR_RETURN(auto team,
                              store::GetTeam(tx, who.org_id, TeamId::FromTrusted(scope_id)));
      if (!team) return std::unexpected(std::move(missing).Field("/scope_id", "no such team"));
      scope.team_id = scope_id;
    } else if (scope_type == api::ScopeType::project) {
      HANGAR_ASSIGN_OR_RETURN(auto project,
                              store::GetProject(tx, who.org_id, ProjectId::FromTrusted(scope_id)));
      if (!project) {
        return std::unexpected(std::move(missing).Field("/scope_id", "no such project"));
      }
      scope.team_id = project->team_id.str();
      scope.project_id = scope_id;
    }
    bool exists = false;
    if (principal_type == "user") {
      HANGAR_ASSIGN_OR_RETURN(auto u,
                              store::GetUser(tx, who.org_id, UserId::FromTrusted(r.principal_id)));
      exists = u.has_value();
    } else {
      HANGAR_ASSIGN_OR_RETURN(
          auto a,
          store::GetServiceAccount(tx, who.org_id, ServiceAccountId::FromTrusted(r.principal_id)));
      exists = a.has_value();
    }
    if (!exists) {
      return std::unexpected(
          std::move(missing).Field("/principal_id", "no such user or service account"));
    }
    return Ok();
  }));
  HANGAR_TRY(authorizer_.Require(who, "role-bindings:create", scope));
  // No escalation: a caller may grant only permissions it holds itself at that scope.
  HANGAR_ASSIGN_OR_RETURN(auto roles, authorizer_.RolePermissions(who.org_id));
  auto role = roles.find(r.role);
  if (role == roles.end()) {
    return std::unexpected(Error::Invalid("no such role")
                               .Field("/role", "no role named '" + r.role + "'")
                               .Hint("list roles with GET /api/v1/roles"));
  }
  for (const PermissionInfo& p : AllPermissions()) {
    if (!AnyPatternMatches(role->second, p.name)) continue;
    HANGAR_ASSIGN_OR_RETURN(auto held, authorizer_.Check(who, p.name, scope));
    if (!held.allowed && p.name != "nodes:report" && p.name != "organizations:create") {
      return std::unexpected(
          Error::PermissionDenied("granting '" + r.role + "' would give " + p.name +
                                  ", which you do not hold here")
              .Hint("only grant roles whose permissions you hold at that scope"));
    }
  }
  store::RoleBindingRecord binding{.id = RoleBindingId::Generate(clock_),
                                   .org_id = who.org_id,
                                   .principal_type = std::string(principal_type),
                                   .principal_id = r.principal_id,
                                   .role = r.role,
                                   .scope_type = scope_name,
                                   .scope_id = scope_id,
                                   .expires_at = expires_at,
                                   .justification = justification,
                                   .created_by = who.ActorId(),
                                   .created_at = now,
                                   .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::InsertRoleBinding(tx, binding));
    return Emit(tx, who,
                expires_at ? "hangar.role_binding.elevated" : "hangar.role_binding.created",
                binding.id.str(), json::Serialize(ToApi(binding, now)), now);
  }));
  authorizer_.Invalidate(who.org_id);
  return binding;
}

Result<store::RoleBindingRecord> AccessService::GetBinding(const Principal& who,
                                                           const RoleBindingId& id) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "role-bindings:read", "role-bindings:read",
                                         ResourceScope::Organization(who.org_id),
                                         Error::NotFound("no role binding " + id.str())));
  std::optional<store::RoleBindingRecord> binding;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(binding, store::GetRoleBinding(tx, who.org_id, id));
    return Ok();
  }));
  if (!binding) return std::unexpected(Error::NotFound("no role binding " + id.str()));
  return *binding;
}

Result<store::Page<store::RoleBindingRecord>> AccessService::ListBindings(
    const Principal& who, const store::ListQuery& query) {
  HANGAR_TRY(
      authorizer_.Require(who, "role-bindings:read", ResourceScope::Organization(who.org_id)));
  store::Page<store::RoleBindingRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListRoleBindings(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Status AccessService::DeleteBinding(const Principal& who, const RoleBindingId& id) {
  HANGAR_ASSIGN_OR_RETURN(auto binding, GetBinding(who, id));
  ResourceScope scope = ResourceScope::Organization(who.org_id);
  if (binding.scope_type == "team") scope.team_id = binding.scope_id;
  if (binding.scope_type == "project") {
    std::optional<store::ProjectRecord> project;
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(
          project, store::GetProject(tx, who.org_id, ProjectId::FromTrusted(binding.scope_id)));
      return Ok();
    }));
    if (project) scope.team_id = project->team_id.str();
    scope.project_id = binding.scope_id;
  }
  HANGAR_TRY(authorizer_.Require(who, "role-bindings:delete", scope));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::DeleteRoleBinding(tx, who.org_id, id));
    Timestamp now = clock_.Now();
    return Emit(tx, who, "hangar.role_binding.deleted", id.str(),
                json::Serialize(ToApi(binding, now)), now);
  }));
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

Result<api::AccessReview> AccessService::AccessReview(const Principal& who,
                                                      const store::ListQuery& query) {
  HANGAR_TRY(
      authorizer_.Require(who, "access-review:read", ResourceScope::Organization(who.org_id)));
  HANGAR_ASSIGN_OR_RETURN(auto roles, authorizer_.RolePermissions(who.org_id));
  store::Page<store::RoleBindingRecord> page;
  std::map<std::string, std::string> names;
  std::map<std::string, Timestamp> last_used;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListRoleBindings(tx, who.org_id, query));
    HANGAR_ASSIGN_OR_RETURN(last_used, store::LastKeyUseBySubject(tx, who.org_id));
    for (const auto& b : page.items) {
      if (names.contains(b.principal_id)) continue;
      if (b.principal_type == "user") {
        HANGAR_ASSIGN_OR_RETURN(
            auto u, store::GetUser(tx, who.org_id, UserId::FromTrusted(b.principal_id)));
        names[b.principal_id] = u ? u->email : "";
        if (u && u->last_login_at) {
          Timestamp& t = last_used[b.principal_id];
          t = std::max(t, *u->last_login_at);
        }
      } else {
        HANGAR_ASSIGN_OR_RETURN(
            auto a, store::GetServiceAccount(tx, who.org_id,
                                             ServiceAccountId::FromTrusted(b.principal_id)));
        names[b.principal_id] = a ? a->name : "";
      }
    }
    return Ok();
  }));
  Timestamp now = clock_.Now();
  api::AccessReview review;
  for (const auto& b : page.items) {
    api::RoleBinding view = ToApi(b, now);
    api::AccessReviewEntry e{.principal_type = b.principal_type,
                             .principal_id = b.principal_id,
                             .principal_name = names[b.principal_id],
                             .role = b.role,
                             .scope_type = view.scope_type,
                             .scope_id = b.scope_id,
                             .binding_id = b.id.str(),
                             .expires_at = view.expires_at,
                             .expired = view.expired,
                             .justification = b.justification};
    if (auto it = roles.find(b.role); it != roles.end()) e.permissions = it->second;
    if (auto it = last_used.find(b.principal_id); it != last_used.end()) {
      e.last_used_at = FormatRfc3339(it->second);
    }
    review.items.push_back(std::move(e));
  }
  if (!page.next_page_token.empty()) review.next_page_token = page.next_page_token;
  return review;
}

// ---- API keys
// ------------------------------------------------------------------------------------

Status AccessService::AuthorizeKey(const Principal& who, const store::ApiKeyRecord& key,
                                   std::string_view verb) {
  bool own = !who.subject_id.empty() && key.subject_id == who.subject_id;
  if (own && key.org_id == who.org_id) return Ok();
  return authorizer_.RequireOnObject(who, "api-keys:" + std::string(verb), "api-keys:read",
                                     ResourceScope::Organization(who.org_id), KeyNotFound(key.id));
}

Result<IssuedApiKey> AccessService::CreateApiKey(const Principal& who,
                                                 const api::CreateApiKeyRequest& r) {
  Error invalid = Error::Invalid("the API key is not valid");
  if (r.name.empty() || r.name.size() > 100) invalid.AddField("/name", "must be 1..100 bytes");
  std::string owner_id = r.owner_id.value_or(who.subject_id);
  std::string_view owner_type = PrincipalTypeOf(owner_id);
  if (owner_type.empty()) {
    invalid.AddField("/owner_id", r.owner_id ? "must be a user or service account id"
                                             : "is required when the caller is not a user or "
                                               "service account");
  }
  std::vector<std::string> scopes = r.scopes.value_or(std::vector<std::string>{"*"});
  if (scopes.empty()) invalid.AddField("/scopes", "must name at least one permission pattern");
  for (size_t i = 0; i < scopes.size(); ++i) {
    if (!IsValidPermissionPattern(scopes[i])) {
      invalid.AddField("/scopes/" + std::to_string(i),
                       "'" + scopes[i] +
                           "' is not a permission pattern (resource:verb, "
                           "resource:*, *:verb or *)");
    }
  }
  std::vector<std::string> cidrs;
  if (r.allowed_cidrs) {
    auto parsed = ParseCidrList(*r.allowed_cidrs, "/allowed_cidrs");
    if (!parsed) {
      for (const auto& v : parsed.error().violations()) invalid.AddField(v.pointer, v.detail);
    } else {
      for (const auto& b : *parsed) cidrs.push_back(b.ToString());
    }
  }
  Timestamp now = clock_.Now();
  std::optional<Timestamp> expires_at;
  if (r.expires_at && r.expires_in_days) {
    invalid.AddField("/expires_in_days", "give expires_at or expires_in_days, not both");
  } else if (r.expires_at) {
    expires_at = ParseRfc3339(*r.expires_at);
    if (!expires_at || *expires_at <= now) {
      invalid.AddField("/expires_at", "must be an RFC 3339 time in the future");
    }
  } else if (r.expires_in_days) {
    if (*r.expires_in_days < 1 || *r.expires_in_days > 3650) {
      invalid.AddField("/expires_in_days", "must be 1..3650");
    } else {
      expires_at = now + std::chrono::hours(24 * *r.expires_in_days);
    }
  }
  int64_t rate = 0, burst = 0;
  if (r.rate_limit) {
    rate = r.rate_limit->per_second.value_or(0);
    burst = r.rate_limit->burst.value_or(rate * 2);
    if (rate < 1 || rate > 100'000) invalid.AddField("/rate_limit/per_second", "must be 1..100000");
    if (burst < rate || burst > 1'000'000) {
      invalid.AddField("/rate_limit/burst", "must be at least per_second and at most 1000000");
    }
  }
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  if (owner_id != who.subject_id) {
    HANGAR_TRY(
        authorizer_.Require(who, "api-keys:create", ResourceScope::Organization(who.org_id)));
  }
  GeneratedSecret secret = GenerateSecret(kApiKeyPrefix);
  store::ApiKeyRecord key{.id = ApiKeyId::Generate(clock_),
                          .org_id = who.org_id,
                          .name = r.name,
                          .secret_hash = secret.hash,
                          .kind = owner_type == "user" ? store::PrincipalKind::kUser
                                                       : store::PrincipalKind::kServiceAccount,
                          .subject_id = owner_id,
                          .expires_at = expires_at,
                          .created_at = now,
                          .scopes = scopes,
                          .allowed_cidrs = cidrs,
                          .rate_limit = rate,
                          .rate_burst = burst,
                          .display_prefix = secret.secret.substr(0, 12),
                          .created_by = who.ActorId(),
                          .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    // The owner must exist and be able to sign in: keys of disabled owners would not work.
    if (owner_type == "user") {
      HANGAR_ASSIGN_OR_RETURN(auto u,
                              store::GetUser(tx, who.org_id, UserId::FromTrusted(owner_id)));
      if (!u || u->state != store::UserState::kActive) {
        return std::unexpected(Error::Invalid("the owner cannot hold keys")
                                   .Field("/owner_id", "no active user " + owner_id));
      }
    } else {
      HANGAR_ASSIGN_OR_RETURN(auto a, store::GetServiceAccount(
                                          tx, who.org_id, ServiceAccountId::FromTrusted(owner_id)));
      if (!a || a->disabled) {
        return std::unexpected(Error::Invalid("the owner cannot hold keys")
                                   .Field("/owner_id", "no enabled service account " + owner_id));
      }
    }
    // The organisation's maximum key age makes rotation mandatory: keys must expire by then.
    HANGAR_ASSIGN_OR_RETURN(auto org, store::GetOrg(tx, who.org_id));
    int64_t max_days = org ? ParseSettings(org->settings_json).api_key_max_age_days.value_or(0) : 0;
    if (max_days > 0) {
      Timestamp limit = now + std::chrono::hours(24 * max_days);
      if (!key.expires_at) {
        key.expires_at = limit;
      } else if (*key.expires_at > limit) {
        return std::unexpected(
            Error::Invalid("the key would outlive the organisation's maximum key age")
                .Field(r.expires_at ? "/expires_at" : "/expires_in_days",
                       "must be at most " + std::to_string(max_days) + " days away")
                .Hint("rotate keys with POST /api/v1/api-keys/{id}/rotate before they expire"));
      }
    }
    HANGAR_TRY(store::InsertApiKey(tx, key));
    return Emit(tx, who, "hangar.api_key.created", key.id.str(), json::Serialize(ToApi(key, now)),
                now);
  }));
  return IssuedApiKey{key, secret.secret};
}

Result<store::ApiKeyRecord> AccessService::GetApiKey(const Principal& who, const ApiKeyId& id) {
  std::optional<store::ApiKeyRecord> key;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(key, store::GetApiKey(tx, who.org_id, id));
    return Ok();
  }));
  if (!key) return std::unexpected(KeyNotFound(id));
  HANGAR_TRY(AuthorizeKey(who, *key, "read"));
  return *key;
}

Result<store::Page<store::ApiKeyRecord>> AccessService::ListApiKeys(const Principal& who,
                                                                    const store::ListQuery& query) {
  // Without api-keys:read the list is limited to the caller's own keys.
  store::ListQuery q = query;
  HANGAR_ASSIGN_OR_RETURN(
      auto d, authorizer_.Check(who, "api-keys:read", ResourceScope::Organization(who.org_id)));
  if (!d.allowed) {
    if (who.subject_id.empty()) {
      return std::unexpected(Error::PermissionDenied("permission api-keys:read is required"));
    }
    for (const auto& [field, value] : q.equals) {
      if (field == "owner_id" && value != store::SqlValue(who.subject_id)) {
        return std::unexpected(
            Error::PermissionDenied("permission api-keys:read is required to list others' keys"));
      }
    }
    q.equals.emplace_back("owner_id", who.subject_id);
  }
  store::Page<store::ApiKeyRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListApiKeys(tx, who.org_id, q));
    return Ok();
  }));
  return page;
}

Result<IssuedApiKey> AccessService::RotateApiKey(const Principal& who, const ApiKeyId& id,
                                                 const api::RotateApiKeyRequest& r) {
  int64_t grace = r.grace_period_seconds.value_or(kDefaultGraceSeconds);
  if (grace < 0 || grace > kMaxGraceSeconds) {
    return std::unexpected(Error::Invalid("the grace period is out of range")
                               .Field("/grace_period_seconds", "must be 0..2592000 (30 days)"));
  }
  HANGAR_ASSIGN_OR_RETURN(auto old, GetApiKey(who, id));
  HANGAR_TRY(AuthorizeKey(who, old, "update"));
  Timestamp now = clock_.Now();
  if (old.revoked_at || (old.expires_at && *old.expires_at <= now) || !old.rotated_to.empty()) {
    return std::unexpected(Error::Conflict("only an active key can be rotated")
                               .Hint(old.rotated_to.empty()
                                         ? "create a new key with POST /api/v1/api-keys"
                                         : "rotate its successor " + old.rotated_to));
  }
  GeneratedSecret secret = GenerateSecret(kApiKeyPrefix);
  store::ApiKeyRecord successor = old;
  successor.id = ApiKeyId::Generate(clock_);
  successor.secret_hash = secret.hash;
  successor.display_prefix = secret.secret.substr(0, 12);
  successor.created_at = now;
  successor.updated_at = now;
  successor.created_by = who.ActorId();
  successor.last_used_at.reset();
  successor.last_used_address.clear();
  successor.rotated_to.clear();
  successor.version = 1;
  // The successor lives as long as the original was meant to.
  if (old.expires_at) successor.expires_at = now + (*old.expires_at - old.created_at);
  Timestamp grace_end = now + std::chrono::seconds(grace);
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetApiKey(tx, who.org_id, id));
    if (!current || current->version != old.version) {
      return std::unexpected(Error::Conflict("the key changed while rotating; retry"));
    }
    store::ApiKeyRecord retired = *current;
    retired.rotated_to = successor.id.str();
    if (!retired.expires_at || *retired.expires_at > grace_end) retired.expires_at = grace_end;
    retired.updated_at = now;
    HANGAR_TRY(store::UpdateApiKey(tx, retired));
    HANGAR_TRY(store::InsertApiKey(tx, successor));
    retired.version += 1;
    HANGAR_TRY(Emit(tx, who, "hangar.api_key.rotated", id.str(),
                    json::Serialize(ToApi(retired, now)), now));
    return Emit(tx, who, "hangar.api_key.created", successor.id.str(),
                json::Serialize(ToApi(successor, now)), now);
  }));
  authenticator_.Forget(old.subject_id);  // the old key's cached expiry is now wrong
  return IssuedApiKey{successor, secret.secret};
}

Result<store::ApiKeyRecord> AccessService::RevokeApiKey(const Principal& who, const ApiKeyId& id) {
  HANGAR_ASSIGN_OR_RETURN(auto key, GetApiKey(who, id));
  HANGAR_TRY(AuthorizeKey(who, key, "delete"));
  if (key.revoked_at) return key;  // revoking twice is a no-op, not an error
  Timestamp now = clock_.Now();
  std::optional<store::ApiKeyRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto current, store::GetApiKey(tx, who.org_id, id));
    if (!current) return std::unexpected(KeyNotFound(id));
    store::ApiKeyRecord revoked = *current;
    revoked.revoked_at = now;
    revoked.updated_at = now;
    HANGAR_TRY(store::UpdateApiKey(tx, revoked));
    revoked.version += 1;
    HANGAR_TRY(Emit(tx, who, "hangar.api_key.revoked", id.str(),
                    json::Serialize(ToApi(revoked, now)), now));
    result = std::move(revoked);
    return Ok();
  }));
  authenticator_.Forget(key.subject_id.empty() ? key.id.str() : key.subject_id);
  return *result;
}

Result<api::WhoAmI> AccessService::WhoAmI(const Principal& who) {
  api::WhoAmI me{.principal_type = std::string(store::PrincipalKindName(who.kind)),
                 .principal_id = who.ActorId(),
                 .organization_id = who.org_id.str(),
                 .credential_type = who.token_id.empty() ? "api_key" : "access_token",
                 .credential_id = who.CredentialId(),
                 .scopes = who.scopes};
  Timestamp now = clock_.Now();
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto org, store::GetOrg(tx, who.org_id));
    if (org) me.organization_name = org->name;
    if (who.kind == store::PrincipalKind::kUser) {
      HANGAR_ASSIGN_OR_RETURN(auto u,
                              store::GetUser(tx, who.org_id, UserId::FromTrusted(who.subject_id)));
      if (u) me.name = u->email;
    } else if (who.kind == store::PrincipalKind::kServiceAccount) {
      HANGAR_ASSIGN_OR_RETURN(
          auto a,
          store::GetServiceAccount(tx, who.org_id, ServiceAccountId::FromTrusted(who.subject_id)));
      if (a) me.name = a->name;
    } else if (who.kind == store::PrincipalKind::kAdmin) {
      me.name = "bootstrap admin key";
    }
    if (!who.subject_id.empty()) {
      HANGAR_ASSIGN_OR_RETURN(auto bindings,
                              store::ListBindingsOfPrincipal(tx, who.org_id, who.subject_id));
      for (const auto& b : bindings) me.bindings.push_back(ToApi(b, now));
    }
    return Ok();
  }));
  return me;
}

}  // namespace hangar::identity
