// The public API's identity and access types: organisations, teams, projects, users, service
// accounts, API keys, roles, role bindings, the access review and the audit log.
//
// Same conventions as api/types.h (described structs, one codec, one OpenAPI schema each).
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// ---- Organisations
// -------------------------------------------------------------------------------

// Requests per second and burst for one kind of caller; null fields take the server default.
struct RateLimitSetting {
  std::optional<int64_t> per_second;
  std::optional<int64_t> burst;
};
BOOST_DESCRIBE_STRUCT(RateLimitSetting, (), (per_second, burst))

struct RateLimitSettings {
  std::optional<RateLimitSetting> per_key;      // each API key or access token
  std::optional<RateLimitSetting> per_user;     // all of one user's (or service account's) keys
  std::optional<RateLimitSetting> per_team;     // requests that touch one team's objects
  std::optional<RateLimitSetting> per_project;  // requests that touch one project's objects
};
BOOST_DESCRIBE_STRUCT(RateLimitSettings, (), (per_key, per_user, per_team, per_project))

// An organisation's policies. Every field is optional in a PATCH (merge semantics).
struct OrganizationSettings {
  // API keys may not live longer than this (0: no limit). Enforces rotation.
  std::optional<int64_t> api_key_max_age_days;
  // Consecutive failed sign-ins before a user is locked, and for how long.
  std::optional<int64_t> login_max_failures;
  std::optional<int64_t> login_lockout_minutes;
  std::optional<RateLimitSettings> rate_limits;
};
BOOST_DESCRIBE_STRUCT(OrganizationSettings, (),
                      (api_key_max_age_days, login_max_failures, login_lockout_minutes,
                       rate_limits))

struct Organization {
  std::string id;
  std::string name;  // unique across the installation; users type it to sign in
  std::string display_name;
  OrganizationSettings settings;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Organization, (),
                      (id, name, display_name, settings, created_at, updated_at, etag, links))

// POST /organizations (platform administrators): the new organisation and its first admin,
// who is invited by email.
struct CreateOrganizationRequest {
  std::string name;
  std::optional<std::string> display_name;
  std::string admin_email;
};
BOOST_DESCRIBE_STRUCT(CreateOrganizationRequest, (), (name, display_name, admin_email))

struct UpdateOrganizationRequest {
  std::optional<std::string> display_name;
  std::optional<OrganizationSettings> settings;
};
BOOST_DESCRIBE_STRUCT(UpdateOrganizationRequest, (), (display_name, settings))

struct OrganizationList {
  std::vector<Organization> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(OrganizationList, (), (items, next_page_token))

// ---- Teams and projects
// --------------------------------------------------------------------------

struct Team {
  std::string id;
  std::string name;
  std::string description;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Team, (), (id, name, description, created_at, updated_at, etag, links))

struct CreateTeamRequest {
  std::string name;
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(CreateTeamRequest, (), (name, description))

struct UpdateTeamRequest {
  std::optional<std::string> name;
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(UpdateTeamRequest, (), (name, description))

struct TeamList {
  std::vector<Team> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(TeamList, (), (items, next_page_token))

struct Project {
  std::string id;
  std::string name;
  std::string description;
  std::string team_id;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Project, (),
                      (id, name, description, team_id, created_at, updated_at, etag, links))

struct CreateProjectRequest {
  std::string name;
  std::string team_id;
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(CreateProjectRequest, (), (name, team_id, description))

struct UpdateProjectRequest {
  std::optional<std::string> name;
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(UpdateProjectRequest, (), (name, description))

struct ProjectList {
  std::vector<Project> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(ProjectList, (), (items, next_page_token))

// ---- Users and service accounts
// ------------------------------------------------------------------

BOOST_DEFINE_ENUM_CLASS(UserState, invited, active, disabled)

struct User {
  std::string id;
  std::string email;
  std::string display_name;
  UserState state = UserState::invited;
  bool locked = false;  // too many failed sign-ins; unlocks at locked_until
  std::optional<std::string> locked_until;
  std::optional<std::string> last_login_at;
  std::optional<std::string> invitation_expires_at;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(User, (),
                      (id, email, display_name, state, locked, locked_until, last_login_at,
                       invitation_expires_at, created_at, updated_at, etag, links))

// POST /users invites: the answer carries the invitation token once. The invitee sets a password
// with POST /invitations/accept (or the sign-in page's invitation form).
struct InviteUserRequest {
  std::string email;
  std::optional<std::string> display_name;
  std::optional<std::string> role;          // an organisation-wide role to bind, e.g. "developer"
  std::optional<int64_t> expires_in_hours;  // default 72, at most 720
};
BOOST_DESCRIBE_STRUCT(InviteUserRequest, (), (email, display_name, role, expires_in_hours))

struct Invitation {
  User user;
  std::string token;  // shown once
  std::string accept_url;
  std::string expires_at;
};
BOOST_DESCRIBE_STRUCT(Invitation, (), (user, token, accept_url, expires_at))

// The answer to POST /organizations: the organisation and its first admin's invitation.
struct CreatedOrganization {
  Organization organization;
  Invitation admin_invitation;
};
BOOST_DESCRIBE_STRUCT(CreatedOrganization, (), (organization, admin_invitation))

struct AcceptInvitationRequest {
  std::string token;
  std::string password;
  std::optional<std::string> display_name;
};
BOOST_DESCRIBE_STRUCT(AcceptInvitationRequest, (), (token, password, display_name))

// PATCH /users/{id}: an admin renames, disables or re-enables (which also unlocks) a user.
struct UpdateUserRequest {
  std::optional<std::string> display_name;
  std::optional<UserState> state;
};
BOOST_DESCRIBE_STRUCT(UpdateUserRequest, (), (display_name, state))

struct UserList {
  std::vector<User> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(UserList, (), (items, next_page_token))

struct ServiceAccount {
  std::string id;
  std::string name;
  std::string description;
  bool disabled = false;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(ServiceAccount, (),
                      (id, name, description, disabled, created_at, updated_at, etag, links))

struct CreateServiceAccountRequest {
  std::string name;
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(CreateServiceAccountRequest, (), (name, description))

struct UpdateServiceAccountRequest {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<bool> disabled;
};
BOOST_DESCRIBE_STRUCT(UpdateServiceAccountRequest, (), (name, description, disabled))

struct ServiceAccountList {
  std::vector<ServiceAccount> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(ServiceAccountList, (), (items, next_page_token))

// ---- API keys
// ------------------------------------------------------------------------------------

BOOST_DEFINE_ENUM_CLASS(ApiKeyState, active, expiring, expired, revoked)

struct ApiKey {
  std::string id;
  std::string name;
  std::string owner_type;  // "user" | "service_account" | "admin" (the bootstrap key)
  std::string owner_id;
  std::string prefix;                 // the key's first characters, to recognise it
  std::optional<std::string> secret;  // the whole key: only in the create and rotate answers
  std::vector<std::string> scopes;    // permission patterns ("nodes:read", "instances:*", "*")
  std::vector<std::string> allowed_cidrs;
  std::optional<RateLimitSetting> rate_limit;
  ApiKeyState state = ApiKeyState::active;
  std::optional<std::string> expires_at;
  std::optional<std::string> revoked_at;
  std::optional<std::string> rotated_to;  // the successor's id
  std::optional<std::string> last_used_at;
  std::optional<std::string> last_used_address;
  std::string created_by;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(ApiKey, (),
                      (id, name, owner_type, owner_id, prefix, secret, scopes, allowed_cidrs,
                       rate_limit, state, expires_at, revoked_at, rotated_to, last_used_at,
                       last_used_address, created_by, created_at, updated_at, etag, links))

struct CreateApiKeyRequest {
  std::string name;
  std::optional<std::string> owner_id;  // a service account, or a user; default: the caller
  std::optional<std::vector<std::string>> scopes;  // default ["*"]: all the owner's permissions
  std::optional<std::vector<std::string>> allowed_cidrs;
  std::optional<std::string> expires_at;   // RFC 3339; at most the organisation's maximum age
  std::optional<int64_t> expires_in_days;  // alternative to expires_at
  std::optional<RateLimitSetting> rate_limit;
};
BOOST_DESCRIBE_STRUCT(CreateApiKeyRequest, (),
                      (name, owner_id, scopes, allowed_cidrs, expires_at, expires_in_days,
                       rate_limit))

struct RotateApiKeyRequest {
  // How long the old key keeps working, 0 to 30 days in seconds (default 86400).
  std::optional<int64_t> grace_period_seconds;
};
BOOST_DESCRIBE_STRUCT(RotateApiKeyRequest, (), (grace_period_seconds))

struct ApiKeyList {
  std::vector<ApiKey> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(ApiKeyList, (), (items, next_page_token))

// ---- Roles and bindings
// --------------------------------------------------------------------------

struct Role {
  std::optional<std::string> id;  // null for built-in roles
  std::string name;
  std::string description;
  bool builtin = false;
  std::vector<std::string> permissions;            // as defined
  std::vector<std::string> includes;               // composed roles
  std::vector<std::string> effective_permissions;  // with the included roles expanded
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Role, (),
                      (id, name, description, builtin, permissions, includes, effective_permissions,
                       created_at, updated_at, etag, links))

struct CreateRoleRequest {
  std::string name;
  std::optional<std::string> description;
  std::vector<std::string> permissions;
  std::optional<std::vector<std::string>> includes;
};
BOOST_DESCRIBE_STRUCT(CreateRoleRequest, (), (name, description, permissions, includes))

struct UpdateRoleRequest {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> permissions;
  std::optional<std::vector<std::string>> includes;
};
BOOST_DESCRIBE_STRUCT(UpdateRoleRequest, (), (description, permissions, includes))

struct RoleList {
  std::vector<Role> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(RoleList, (), (items, next_page_token))

struct Permission {
  std::string name;  // "resource:verb"
  std::string description;
};
BOOST_DESCRIBE_STRUCT(Permission, (), (name, description))

struct PermissionList {
  std::vector<Permission> items;
};
BOOST_DESCRIBE_STRUCT(PermissionList, (), (items))

BOOST_DEFINE_ENUM_CLASS(ScopeType, organization, team, project)

struct RoleBinding {
  std::string id;
  std::string principal_type;  // "user" | "service_account"
  std::string principal_id;
  std::string role;
  ScopeType scope_type = ScopeType::organization;
  std::string scope_id;
  std::optional<std::string> expires_at;  // temporary elevation
  bool expired = false;
  std::string justification;
  std::string created_by;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(RoleBinding, (),
                      (id, principal_type, principal_id, role, scope_type, scope_id, expires_at,
                       expired, justification, created_by, created_at, updated_at, etag, links))

struct CreateRoleBindingRequest {
  std::string principal_id;  // user_… or sa_…
  std::string role;
  std::optional<ScopeType> scope_type;  // default organization
  std::optional<std::string> scope_id;  // team or project id; default the organisation
  // Temporary elevation: when the binding stops granting anything (RFC 3339), or a duration.
  std::optional<std::string> expires_at;
  std::optional<int64_t> expires_in_seconds;
  std::optional<std::string> justification;  // required with an expiry
};
BOOST_DESCRIBE_STRUCT(CreateRoleBindingRequest, (),
                      (principal_id, role, scope_type, scope_id, expires_at, expires_in_seconds,
                       justification))

struct RoleBindingList {
  std::vector<RoleBinding> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(RoleBindingList, (), (items, next_page_token))

// One line of the access review: who holds what, through which binding, last used when.
struct AccessReviewEntry {
  std::string principal_type;
  std::string principal_id;
  std::string principal_name;  // email or service account name
  std::string role;
  ScopeType scope_type = ScopeType::organization;
  std::string scope_id;
  std::string binding_id;
  std::optional<std::string> expires_at;
  bool expired = false;
  std::string justification;
  std::vector<std::string> permissions;     // the role's effective permissions
  std::optional<std::string> last_used_at;  // the principal's last authenticated request
};
BOOST_DESCRIBE_STRUCT(AccessReviewEntry, (),
                      (principal_type, principal_id, principal_name, role, scope_type, scope_id,
                       binding_id, expires_at, expired, justification, permissions, last_used_at))

struct AccessReview {
  std::vector<AccessReviewEntry> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(AccessReview, (), (items, next_page_token))

// GET /whoami: the caller as the server sees it.
struct WhoAmI {
  std::string principal_type;  // "user" | "service_account" | "admin" | "node"
  std::string principal_id;
  std::string name;
  std::string organization_id;
  std::string organization_name;
  std::string credential_type;  // "api_key" | "access_token"
  std::string credential_id;
  std::vector<std::string> scopes;
  std::vector<RoleBinding> bindings;
};
BOOST_DESCRIBE_STRUCT(WhoAmI, (),
                      (principal_type, principal_id, name, organization_id, organization_name,
                       credential_type, credential_id, scopes, bindings))

// ---- OAuth 2.0 (form-encoded requests, RFC 6749 / 7009 / 7662 / 8628 answers) -----------------

struct TokenRequest {
  std::string grant_type;  // authorization_code | refresh_token | client_credentials |
                           // urn:ietf:params:oauth:grant-type:device_code
  std::optional<std::string> code;
  std::optional<std::string> redirect_uri;
  std::optional<std::string> code_verifier;
  std::optional<std::string> refresh_token;
  std::optional<std::string> device_code;
  std::optional<std::string> client_id;
  std::optional<std::string> client_secret;  // or HTTP Basic authentication
  std::optional<std::string> scope;
};
BOOST_DESCRIBE_STRUCT(TokenRequest, (),
                      (grant_type, code, redirect_uri, code_verifier, refresh_token, device_code,
                       client_id, client_secret, scope))

struct TokenResponseBody {
  std::string access_token;
  std::string token_type;
  int64_t expires_in = 0;
  std::optional<std::string> refresh_token;
  std::string scope;
};
BOOST_DESCRIBE_STRUCT(TokenResponseBody, (),
                      (access_token, token_type, expires_in, refresh_token, scope))

struct DeviceAuthorizationRequest {
  std::string client_id;
  std::optional<std::string> scope;
};
BOOST_DESCRIBE_STRUCT(DeviceAuthorizationRequest, (), (client_id, scope))

struct DeviceAuthorizationResponse {
  std::string device_code;
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;
  int64_t expires_in = 0;
  int64_t interval = 0;
};
BOOST_DESCRIBE_STRUCT(DeviceAuthorizationResponse, (),
                      (device_code, user_code, verification_uri, verification_uri_complete,
                       expires_in, interval))

struct TokenRevocationRequest {
  std::string token;
  std::optional<std::string> token_type_hint;
  std::optional<std::string> client_id;
};
BOOST_DESCRIBE_STRUCT(TokenRevocationRequest, (), (token, token_type_hint, client_id))

struct IntrospectionRequest {
  std::string token;
  std::optional<std::string> token_type_hint;
};
BOOST_DESCRIBE_STRUCT(IntrospectionRequest, (), (token, token_type_hint))

struct IntrospectionResponse {
  bool active = false;
  std::optional<std::string> scope;
  std::optional<std::string> client_id;
  std::optional<std::string> sub;
  std::optional<std::string> jti;
  std::optional<std::string> tenant;
  std::optional<std::string> token_type;
  std::optional<std::string> iss;
  std::optional<std::string> aud;
  std::optional<int64_t> exp;
  std::optional<int64_t> iat;
};
BOOST_DESCRIBE_STRUCT(IntrospectionResponse, (),
                      (active, scope, client_id, sub, jti, tenant, token_type, iss, aud, exp, iat))

struct OAuthErrorBody {
  std::string error;
  std::string error_description;
};
BOOST_DESCRIBE_STRUCT(OAuthErrorBody, (), (error, error_description))

}  // namespace hangar::api
