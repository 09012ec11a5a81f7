// Typed repositories for tenancy and access: organisations, teams, projects, users, service
// accounts, roles and role bindings. Same rules as repos.h: every function runs in the caller's
// transaction, every lookup by id takes the caller's OrgId (another tenant's row is not found),
// and `version` grows by one on each update.
//
// Thread-safety: stateless functions over the caller's Tx.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "store/repos.h"
#include "store/store.h"

namespace hangar::store {

// ---- Records -----------------------------------------------------------------------------------

// An organisation with its policy settings (JSON text, decoded by identity/).
struct OrgDetailRecord {
  OrgId id;
  std::string name;
  std::string display_name;
  std::string settings_json = "{}";
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct TeamRecord {
  TeamId id;
  OrgId org_id;
  std::string name;
  std::string description;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct ProjectRecord {
  ProjectId id;
  OrgId org_id;
  TeamId team_id;
  std::string name;
  std::string description;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

enum class UserState { kInvited, kActive, kDisabled };

struct UserRecord {
  UserId id;
  OrgId org_id;
  std::string email;  // stored lowercase
  std::string display_name;
  UserState state = UserState::kInvited;
  std::string password_hash;                   // argon2id PHC string; empty until accepted
  std::optional<std::string> invitation_hash;  // SHA-256 of the invitation secret
  std::optional<Timestamp> invitation_expires_at;
  int64_t failed_logins = 0;  // consecutive; reset by a successful login
  std::optional<Timestamp> locked_until;
  std::optional<Timestamp> last_login_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct ServiceAccountRecord {
  ServiceAccountId id;
  OrgId org_id;
  std::string name;
  std::string description;
  bool disabled = false;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// A custom role of one organisation. Built-in roles live in code (identity/rbac.h).
struct RoleRecord {
  RoleId id;
  OrgId org_id;
  std::string name;
  std::string description;
  std::vector<std::string> permissions;  // "resource:verb" patterns
  std::vector<std::string> includes;     // names of roles whose permissions this one adds
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// Who holds a role where: principal_type "user" | "service_account"; scope_type
// "organization" | "team" | "project" with the scope's id.
struct RoleBindingRecord {
  RoleBindingId id;
  OrgId org_id;
  std::string principal_type;
  std::string principal_id;
  std::string role;
  std::string scope_type;
  std::string scope_id;
  std::optional<Timestamp> expires_at;  // temporary elevation
  std::string justification;
  std::string created_by;  // the actor's id
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// ---- List specs
// ----------------------------------------------------------------------------------

const ListSpec& OrgListSpec();
const ListSpec& TeamListSpec();
const ListSpec& ProjectListSpec();
const ListSpec& UserListSpec();
const ListSpec& ServiceAccountListSpec();
const ListSpec& RoleListSpec();
const ListSpec& RoleBindingListSpec();
const ListSpec& ApiKeyListSpec();
// Audit records: filter by type, subject, actor and outcome; newest first.
const ListSpec& AuditListSpec();

// ---- Organisations
// -------------------------------------------------------------------------------

// kAlreadyExists when the name is taken (names are global: users sign in with them).
Status InsertOrgDetail(Tx& tx, const OrgDetailRecord& org);
Result<std::optional<OrgDetailRecord>> GetOrg(Tx& tx, const OrgId& id);
Result<std::optional<OrgDetailRecord>> FindOrgByName(Tx& tx, std::string_view name);
// Every organisation (platform administrators), or only `only` when set.
Result<Page<OrgDetailRecord>> ListOrgs(Tx& tx, std::optional<OrgId> only, const ListQuery& query);
// Writes display_name, settings and updated_at, optimistic on org.version.
Status UpdateOrg(Tx& tx, const OrgDetailRecord& org);

// ---- Teams and projects
// --------------------------------------------------------------------------

Status InsertTeam(Tx& tx, const TeamRecord& team);
Result<std::optional<TeamRecord>> GetTeam(Tx& tx, const OrgId& org, const TeamId& id);
Result<std::optional<TeamRecord>> FindTeamByName(Tx& tx, const OrgId& org, std::string_view name);
Result<Page<TeamRecord>> ListTeams(Tx& tx, const OrgId& org, const ListQuery& query);
Status UpdateTeam(Tx& tx, const TeamRecord& team);  // name, description; optimistic
Status DeleteTeam(Tx& tx, const OrgId& org, const TeamId& id);
Result<int64_t> CountProjectsOfTeam(Tx& tx, const OrgId& org, const TeamId& team);

Status InsertProject(Tx& tx, const ProjectRecord& project);
Result<std::optional<ProjectRecord>> GetProject(Tx& tx, const OrgId& org, const ProjectId& id);
Result<std::optional<ProjectRecord>> FindProjectByName(Tx& tx, const OrgId& org,
                                                       std::string_view name);
// By id ("proj_…") when `id_or_name` parses as one, else by name.
Result<std::optional<ProjectRecord>> FindProject(Tx& tx, const OrgId& org,
                                                 std::string_view id_or_name);
Result<Page<ProjectRecord>> ListProjects(Tx& tx, const OrgId& org, const ListQuery& query);
Status UpdateProject(Tx& tx, const ProjectRecord& project);  // name, description; optimistic
Status DeleteProject(Tx& tx, const OrgId& org, const ProjectId& id);

// ---- Users and service accounts
// ------------------------------------------------------------------

Status InsertUser(Tx& tx, const UserRecord& user);
Result<std::optional<UserRecord>> GetUser(Tx& tx, const OrgId& org, const UserId& id);
Result<std::optional<UserRecord>> FindUserByEmail(Tx& tx, const OrgId& org, std::string_view email);
Result<std::optional<UserRecord>> FindUserByInvitationHash(Tx& tx, std::string_view hash);
Result<Page<UserRecord>> ListUsers(Tx& tx, const OrgId& org, const ListQuery& query);
// Every mutable field, optimistic on user.version.
Status UpdateUser(Tx& tx, const UserRecord& user);
Status DeleteUser(Tx& tx, const OrgId& org, const UserId& id);

Status InsertServiceAccount(Tx& tx, const ServiceAccountRecord& account);
Result<std::optional<ServiceAccountRecord>> GetServiceAccount(Tx& tx, const OrgId& org,
                                                              const ServiceAccountId& id);
Result<Page<ServiceAccountRecord>> ListServiceAccounts(Tx& tx, const OrgId& org,
                                                       const ListQuery& query);
Status UpdateServiceAccount(Tx& tx, const ServiceAccountRecord& account);
Status DeleteServiceAccount(Tx& tx, const OrgId& org, const ServiceAccountId& id);

// ---- Roles and bindings
// --------------------------------------------------------------------------

Status InsertRole(Tx& tx, const RoleRecord& role);
Result<std::optional<RoleRecord>> GetRole(Tx& tx, const OrgId& org, const RoleId& id);
Result<std::optional<RoleRecord>> FindRoleByName(Tx& tx, const OrgId& org, std::string_view name);
Result<std::vector<RoleRecord>> ListAllRoles(Tx& tx, const OrgId& org);
Result<Page<RoleRecord>> ListRoles(Tx& tx, const OrgId& org, const ListQuery& query);
Status UpdateRole(Tx& tx, const RoleRecord& role);  // description, permissions, includes
Status DeleteRole(Tx& tx, const OrgId& org, const RoleId& id);

Status InsertRoleBinding(Tx& tx, const RoleBindingRecord& binding);
Result<std::optional<RoleBindingRecord>> GetRoleBinding(Tx& tx, const OrgId& org,
                                                        const RoleBindingId& id);
Result<Page<RoleBindingRecord>> ListRoleBindings(Tx& tx, const OrgId& org, const ListQuery& query);
// Every binding of one principal (the authorizer's working set), expired ones included.
Result<std::vector<RoleBindingRecord>> ListBindingsOfPrincipal(Tx& tx, const OrgId& org,
                                                               std::string_view principal_id);
Result<std::vector<RoleBindingRecord>> ListAllBindings(Tx& tx, const OrgId& org);
Result<int64_t> CountBindingsOfRole(Tx& tx, const OrgId& org, std::string_view role);
Status DeleteRoleBinding(Tx& tx, const OrgId& org, const RoleBindingId& id);
// Removes the bindings of a deleted principal or scope.
Status DeleteBindingsOfPrincipal(Tx& tx, const OrgId& org, std::string_view principal_id);
Status DeleteBindingsOfScope(Tx& tx, const OrgId& org, std::string_view scope_id);

// ---- API keys (management; authentication lookups are in repos.h) -------------------------------

Result<std::optional<ApiKeyRecord>> GetApiKey(Tx& tx, const OrgId& org, const ApiKeyId& id);
// Keys of users and service accounts (never node credentials), optionally of one owner.
Result<Page<ApiKeyRecord>> ListApiKeys(Tx& tx, const OrgId& org, const ListQuery& query);
// Writes name, expires_at, revoked_at, rotated_to and updated_at; optimistic on key.version.
Status UpdateApiKey(Tx& tx, const ApiKeyRecord& key);
Status RecordApiKeyUse(Tx& tx, const ApiKeyId& id, Timestamp at, std::string_view address);
// The most recent use of any key of each subject (for the access review).
Result<std::map<std::string, Timestamp>> LastKeyUseBySubject(Tx& tx, const OrgId& org);

// ---- Audit
// ---------------------------------------------------------------------------------------

// An organisation's audit records (events whose type starts "hangar.audit."), newest first.
Result<Page<EventRecord>> ListAuditEvents(Tx& tx, const OrgId& org, const ListQuery& query);

}  // namespace hangar::store
