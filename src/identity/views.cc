#include "identity/views.h"

#include "common/json_codec.h"

namespace hangar::identity {
namespace {

constexpr std::string_view kBase = "/api/v1";

std::string Link(std::string_view collection, const std::string& id) {
  return std::string(kBase) + "/" + std::string(collection) + "/" + id;
}

using api::ETagOf;

std::optional<std::string> OptTime(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return FormatRfc3339(*t);
}

}  // namespace

api::OrganizationSettings ParseSettings(const std::string& settings_json) {
  auto parsed = json::ParseAs<api::OrganizationSettings>(settings_json);
  api::OrganizationSettings s = parsed ? *parsed : api::OrganizationSettings{};
  if (!s.api_key_max_age_days) s.api_key_max_age_days = 0;
  if (!s.login_max_failures) s.login_max_failures = kDefaultLoginMaxFailures;
  if (!s.login_lockout_minutes) s.login_lockout_minutes = kDefaultLoginLockoutMinutes;
  if (!s.rate_limits) s.rate_limits = api::RateLimitSettings{};
  return s;
}

std::string SerializeSettings(const api::OrganizationSettings& settings) {
  return json::Serialize(settings);
}

api::Organization ToApi(const store::OrgDetailRecord& r) {
  return api::Organization{.id = r.id.str(),
                           .name = r.name,
                           .display_name = r.display_name,
                           .settings = ParseSettings(r.settings_json),
                           .created_at = FormatRfc3339(r.created_at),
                           .updated_at = FormatRfc3339(r.updated_at),
                           .etag = ETagOf(r.version),
                           .links = {{"self", Link("organizations", r.id.str())},
                                     {"teams", std::string(kBase) + "/teams"},
                                     {"users", std::string(kBase) + "/users"}}};
}

api::Team ToApi(const store::TeamRecord& r) {
  return api::Team{
      .id = r.id.str(),
      .name = r.name,
      .description = r.description,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = ETagOf(r.version),
      .links = {{"self", Link("teams", r.id.str())},
                {"projects", std::string(kBase) + "/projects?team_id=" + r.id.str()},
                {"members", std::string(kBase) + "/role-bindings?scope_id=" + r.id.str()}}};
}

api::Project ToApi(const store::ProjectRecord& r) {
  return api::Project{
      .id = r.id.str(),
      .name = r.name,
      .description = r.description,
      .team_id = r.team_id.str(),
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = ETagOf(r.version),
      .links = {{"self", Link("projects", r.id.str())},
                {"team", Link("teams", r.team_id.str())},
                {"members", std::string(kBase) + "/role-bindings?scope_id=" + r.id.str()}}};
}

api::User ToApi(const store::UserRecord& r, Timestamp now) {
  api::UserState state = api::UserState::invited;
  if (r.state == store::UserState::kActive) state = api::UserState::active;
  if (r.state == store::UserState::kDisabled) state = api::UserState::disabled;
  bool locked = r.locked_until && *r.locked_until > now;
  return api::User{
      .id = r.id.str(),
      .email = r.email,
      .display_name = r.display_name,
      .state = state,
      .locked = locked,
      .locked_until = locked ? OptTime(r.locked_until) : std::nullopt,
      .last_login_at = OptTime(r.last_login_at),
      .invitation_expires_at =
          r.state == store::UserState::kInvited ? OptTime(r.invitation_expires_at) : std::nullopt,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = ETagOf(r.version),
      .links = {
          {"self", Link("users", r.id.str())},
          {"api_keys", std::string(kBase) + "/api-keys?owner_id=" + r.id.str()},
          {"role_bindings", std::string(kBase) + "/role-bindings?principal_id=" + r.id.str()}}};
}

api::ServiceAccount ToApi(const store::ServiceAccountRecord& r) {
  return api::ServiceAccount{
      .id = r.id.str(),
      .name = r.name,
      .description = r.description,
      .disabled = r.disabled,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = ETagOf(r.version),
      .links = {
          {"self", Link("service-accounts", r.id.str())},
          {"api_keys", std::string(kBase) + "/api-keys?owner_id=" + r.id.str()},
          {"role_bindings", std::string(kBase) + "/role-bindings?principal_id=" + r.id.str()}}};
}

api::ApiKey ToApi(const store::ApiKeyRecord& r, Timestamp now) {
  api::ApiKeyState state = api::ApiKeyState::active;
  if (r.revoked_at) {
    state = api::ApiKeyState::revoked;
  } else if (r.expires_at && *r.expires_at <= now) {
    state = api::ApiKeyState::expired;
  } else if (!r.rotated_to.empty()) {
    state = api::ApiKeyState::expiring;  // rotated: works until the grace window ends
  }
  api::ApiKey k{.id = r.id.str(),
                .name = r.name,
                .owner_type = std::string(store::PrincipalKindName(r.kind)),
                .owner_id = r.subject_id,
                .prefix = r.display_prefix,
                .scopes = r.scopes,
                .allowed_cidrs = r.allowed_cidrs,
                .state = state,
                .expires_at = OptTime(r.expires_at),
                .revoked_at = OptTime(r.revoked_at),
                .last_used_at = OptTime(r.last_used_at),
                .created_by = r.created_by,
                .created_at = FormatRfc3339(r.created_at),
                .updated_at = FormatRfc3339(r.updated_at),
                .etag = ETagOf(r.version),
                .links = {{"self", Link("api-keys", r.id.str())}}};
  if (r.rate_limit > 0) k.rate_limit = api::RateLimitSetting{r.rate_limit, r.rate_burst};
  if (!r.rotated_to.empty()) {
    k.rotated_to = r.rotated_to;
    k.links["successor"] = Link("api-keys", r.rotated_to);
  }
  if (!r.last_used_address.empty()) k.last_used_address = r.last_used_address;
  return k;
}

api::Role ToApi(const store::RoleRecord& r, std::vector<std::string> effective) {
  return api::Role{.id = r.id.str(),
                   .name = r.name,
                   .description = r.description,
                   .builtin = false,
                   .permissions = r.permissions,
                   .includes = r.includes,
                   .effective_permissions = std::move(effective),
                   .created_at = FormatRfc3339(r.created_at),
                   .updated_at = FormatRfc3339(r.updated_at),
                   .etag = ETagOf(r.version),
                   .links = {{"self", Link("roles", r.name)}}};
}

api::RoleBinding ToApi(const store::RoleBindingRecord& r, Timestamp now) {
  api::ScopeType scope = api::ScopeType::organization;
  if (r.scope_type == "team") scope = api::ScopeType::team;
  if (r.scope_type == "project") scope = api::ScopeType::project;
  std::string principal_collection = r.principal_type == "user" ? "users" : "service-accounts";
  api::RoleBinding b{.id = r.id.str(),
                     .principal_type = r.principal_type,
                     .principal_id = r.principal_id,
                     .role = r.role,
                     .scope_type = scope,
                     .scope_id = r.scope_id,
                     .expires_at = OptTime(r.expires_at),
                     .expired = r.expires_at && *r.expires_at <= now,
                     .justification = r.justification,
                     .created_by = r.created_by,
                     .created_at = FormatRfc3339(r.created_at),
                     .updated_at = FormatRfc3339(r.updated_at),
                     .etag = ETagOf(r.version),
                     .links = {{"self", Link("role-bindings", r.id.str())},
                               {"principal", Link(principal_collection, r.principal_id)},
                               {"role", Link("roles", r.role)}}};
  if (scope == api::ScopeType::team) b.links["scope"] = Link("teams", r.scope_id);
  if (scope == api::ScopeType::project) b.links["scope"] = Link("projects", r.scope_id);
  if (scope == api::ScopeType::organization) b.links["scope"] = Link("organizations", r.scope_id);
  return b;
}

}  // namespace hangar::identity
