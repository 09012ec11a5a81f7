// Tenancy and access repositories: every identity table and column name lives here.
//
// Thread-safety: stateless functions over the caller's Tx.
#include "store/identity_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

std::string ToJsonArray(const std::vector<std::string>& items) {
  bj::array a;
  for (const auto& s : items) a.emplace_back(bj::string_view(s));
  return bj::serialize(a);
}

Result<std::vector<std::string>> FromJsonArray(const std::string& text, std::string_view what) {
  auto parsed = json::Parse(text);
  if (!parsed || !parsed->is_array()) return std::unexpected(CorruptRow(what));
  std::vector<std::string> out;
  for (const auto& v : parsed->get_array()) {
    if (!v.is_string()) return std::unexpected(CorruptRow(what));
    out.emplace_back(v.get_string());
  }
  return out;
}

// Deletes one row of `table` in `org`; kNotFound naming `noun` when there was none.
Status DeleteOne(Tx& tx, std::string_view table, std::string_view noun, const OrgId& org,
                 const std::string& id) {
  std::string sql = Concat({"DELETE FROM ", table, " WHERE org_id = $1 AND id = $2"});
  HANGAR_ASSIGN_OR_RETURN(int64_t n, tx.Exec(sql, {org.str(), id}));
  if (n == 0) return std::unexpected(Error::NotFound(std::string(noun) + " not found"));
  return Ok();
}

// ---- Row mapping
// ---------------------------------------------------------------------------------

constexpr std::string_view kOrgSelect =
    "SELECT o.id, o.name, o.display_name, o.settings, o.version, o.created_at, o.updated_at";
constexpr std::string_view kOrgFrom = " FROM orgs o";

Result<OrgDetailRecord> OrgFromRow(const Row& r) {
  return OrgDetailRecord{.id = OrgId::FromTrusted(r.Text(0)),
                         .name = r.Text(1),
                         .display_name = r.Text(2),
                         .settings_json = r.Text(3),
                         .version = r.Int(4),
                         .created_at = r.Time(5),
                         .updated_at = r.Time(6)};
}

constexpr std::string_view kTeamSelect =
    "SELECT t.id, t.org_id, t.name, t.description, t.version, t.created_at, t.updated_at";
constexpr std::string_view kTeamFrom = " FROM teams t";

Result<TeamRecord> TeamFromRow(const Row& r) {
  return TeamRecord{.id = TeamId::FromTrusted(r.Text(0)),
                    .org_id = OrgId::FromTrusted(r.Text(1)),
                    .name = r.Text(2),
                    .description = r.Text(3),
                    .version = r.Int(4),
                    .created_at = r.Time(5),
                    .updated_at = r.Time(6)};
}

constexpr std::string_view kProjectSelect =
    "SELECT p.id, p.org_id, p.team_id, p.name, p.description, p.version, p.created_at,"
    " p.updated_at";
constexpr std::string_view kProjectFrom = " FROM projects p";

Result<ProjectRecord> ProjectFromRow(const Row& r) {
  return ProjectRecord{.id = ProjectId::FromTrusted(r.Text(0)),
                       .org_id = OrgId::FromTrusted(r.Text(1)),
                       .team_id = TeamId::FromTrusted(r.Text(2)),
                       .name = r.Text(3),
                       .description = r.Text(4),
                       .version = r.Int(5),
                       .created_at = r.Time(6),
                       .updated_at = r.Time(7)};
}

std::string_view UserStateName(UserState s) {
  switch (s) {
    case UserState::kInvited:
      return "invited";
    case UserState::kActive:
      return "active";
    case UserState::kDisabled:
      return "disabled";
  }
  return "disabled";
}

constexpr std::string_view kUserSelect =
    "SELECT u.id, u.org_id, u.email, u.display_name, u.state, u.password_hash,"
    " u.invitation_hash, u.invitation_expires_at, u.failed_logins, u.locked_until,"
    " u.last_login_at, u.version, u.created_at, u.updated_at";
constexpr std::string_view kUserFrom = " FROM users u";

Result<UserRecord> UserFromRow(const Row& r) {
  UserRecord u;
  u.id = UserId::FromTrusted(r.Text(0));
  u.org_id = OrgId::FromTrusted(r.Text(1));
  u.email = r.Text(2);
  u.display_name = r.Text(3);
  const std::string& state = r.Text(4);
  if (state == "invited") {
    u.state = UserState::kInvited;
  } else if (state == "active") {
    u.state = UserState::kActive;
  } else if (state == "disabled") {
    u.state = UserState::kDisabled;
  } else {
    return std::unexpected(CorruptRow("user state"));
  }
  u.password_hash = r.Text(5);
  u.invitation_hash = r.OptText(6);
  u.invitation_expires_at = r.OptTime(7);
  u.failed_logins = r.Int(8);
  u.locked_until = r.OptTime(9);
  u.last_login_at = r.OptTime(10);
  u.version = r.Int(11);
  u.created_at = r.Time(12);
  u.updated_at = r.Time(13);
  return u;
}

constexpr std::string_view kServiceAccountSelect =
    "SELECT s.id, s.org_id, s.name, s.description, s.disabled, s.version, s.created_at,"
    " s.updated_at";
constexpr std::string_view kServiceAccountFrom = " FROM service_accounts s";

Result<ServiceAccountRecord> ServiceAccountFromRow(const Row& r) {
  return ServiceAccountRecord{.id = ServiceAccountId::FromTrusted(r.Text(0)),
                              .org_id = OrgId::FromTrusted(r.Text(1)),
                              .name = r.Text(2),
                              .description = r.Text(3),
                              .disabled = r.Int(4) != 0,
                              .version = r.Int(5),
                              .created_at = r.Time(6),
                              .updated_at = r.Time(7)};
}

constexpr std::string_view kRoleSelect =
    "SELECT r.id, r.org_id, r.name, r.description, r.permissions, r.includes, r.version,"
    " r.created_at, r.updated_at";
constexpr std::string_view kRoleFrom = " FROM roles r";

Result<RoleRecord> RoleFromRow(const Row& r) {
  RoleRecord role;
  role.id = RoleId::FromTrusted(r.Text(0));
  role.org_id = OrgId::FromTrusted(r.Text(1));
  role.name = r.Text(2);
  role.description = r.Text(3);
  HANGAR_ASSIGN_OR_RETURN(role.permissions, FromJsonArray(r.Text(4), "role permissions"));
  HANGAR_ASSIGN_OR_RETURN(role.includes, FromJsonArray(r.Text(5), "role includes"));
  role.version = r.Int(6);
  role.created_at = r.Time(7);
  role.updated_at = r.Time(8);
  return role;
}

constexpr std::string_view kBindingSelect =
    "SELECT b.id, b.org_id, b.principal_type, b.principal_id, b.role, b.scope_type, b.scope_id,"
    " b.expires_at, b.justification, b.created_by, b.version, b.created_at, b.updated_at";
constexpr std::string_view kBindingFrom = " FROM role_bindings b";

Result<RoleBindingRecord> BindingFromRow(const Row& r) {
  return RoleBindingRecord{.id = RoleBindingId::FromTrusted(r.Text(0)),
                           .org_id = OrgId::FromTrusted(r.Text(1)),
                           .principal_type = r.Text(2),
                           .principal_id = r.Text(3),
                           .role = r.Text(4),
                           .scope_type = r.Text(5),
                           .scope_id = r.Text(6),
                           .expires_at = r.OptTime(7),
                           .justification = r.Text(8),
                           .created_by = r.Text(9),
                           .version = r.Int(10),
                           .created_at = r.Time(11),
                           .updated_at = r.Time(12)};
}

constexpr std::string_view kApiKeySelect =
    "SELECT k.id, k.org_id, k.name, k.secret_hash, k.kind, k.subject_id, k.expires_at,"
    " k.revoked_at, k.created_at, k.scopes, k.allowed_cidrs, k.rate_limit, k.rate_burst,"
    " k.last_used_at, k.last_used_address, k.rotated_to, k.display_prefix, k.created_by,"
    " k.version, k.updated_at";
constexpr std::string_view kApiKeyFrom = " FROM api_keys k";

Result<ApiKeyRecord> ApiKeyFromRow(const Row& r) {
  ApiKeyRecord k;
  k.id = ApiKeyId::FromTrusted(r.Text(0));
  k.org_id = OrgId::FromTrusted(r.Text(1));
  k.name = r.Text(2);
  k.secret_hash = r.Text(3);
  bool known = false;
  for (PrincipalKind kind : {PrincipalKind::kAdmin, PrincipalKind::kNode, PrincipalKind::kUser,
                             PrincipalKind::kServiceAccount}) {
    if (r.Text(4) == PrincipalKindName(kind)) {
      k.kind = kind;
      known = true;
    }
  }
  if (!known) return std::unexpected(CorruptRow("API key kind"));
  k.subject_id = r.Text(5);
  k.expires_at = r.OptTime(6);
  k.revoked_at = r.OptTime(7);
  k.created_at = r.Time(8);
  HANGAR_ASSIGN_OR_RETURN(k.scopes, FromJsonArray(r.Text(9), "API key scopes"));
  HANGAR_ASSIGN_OR_RETURN(k.allowed_cidrs, FromJsonArray(r.Text(10), "API key CIDRs"));
  k.rate_limit = r.Int(11);
  k.rate_burst = r.Int(12);
  k.last_used_at = r.OptTime(13);
  k.last_used_address = r.Text(14);
  k.rotated_to = r.Text(15);
  k.display_prefix = r.Text(16);
  k.created_by = r.Text(17);
  k.version = r.Int(18);
  k.updated_at = r.Time(19);
  return k;
}

// ---- List tables
// ---------------------------------------------------------------------------------

const ListTable& OrgTable() {
  static const ListTable t{&OrgListSpec(),
                           kOrgSelect,
                           kOrgFrom,
                           "",
                           "o.id",
                           "o.created_at",
                           {{"name", "o.name"}, {"created_at", "o.created_at"}}};
  return t;
}

const ListTable& TeamTable() {
  static const ListTable t{&TeamListSpec(),
                           kTeamSelect,
                           kTeamFrom,
                           "t.org_id",
                           "t.id",
                           "t.created_at",
                           {{"name", "t.name"}, {"created_at", "t.created_at"}}};
  return t;
}

const ListTable& ProjectTable() {
  static const ListTable t{
      &ProjectListSpec(),
      kProjectSelect,
      kProjectFrom,
      "p.org_id",
      "p.id",
      "p.created_at",
      {{"name", "p.name"}, {"team_id", "p.team_id"}, {"created_at", "p.created_at"}}};
  return t;
}

const ListTable& UserTable() {
  static const ListTable t{&UserListSpec(),
                           kUserSelect,
                           kUserFrom,
                           "u.org_id",
                           "u.id",
                           "u.created_at",
                           {{"email", "u.email"},
                            {"state", "u.state"},
                            {"display_name", "u.display_name"},
                            {"created_at", "u.created_at"}}};
  return t;
}

const ListTable& ServiceAccountTable() {
  static const ListTable t{&ServiceAccountListSpec(),
                           kServiceAccountSelect,
                           kServiceAccountFrom,
                           "s.org_id",
                           "s.id",
                           "s.created_at",
                           {{"name", "s.name"}, {"created_at", "s.created_at"}}};
  return t;
}

const ListTable& RoleTable() {
  static const ListTable t{&RoleListSpec(),
                           kRoleSelect,
                           kRoleFrom,
                           "r.org_id",
                           "r.id",
                           "r.created_at",
                           {{"name", "r.name"}, {"created_at", "r.created_at"}}};
  return t;
}

const ListTable& BindingTable() {
  static const ListTable t{&RoleBindingListSpec(),
                           kBindingSelect,
                           kBindingFrom,
                           "b.org_id",
                           "b.id",
                           "b.created_at",
                           {{"principal_id", "b.principal_id"},
                            {"principal_type", "b.principal_type"},
                            {"role", "b.role"},
                            {"scope_type", "b.scope_type"},
                            {"scope_id", "b.scope_id"},
                            {"created_at", "b.created_at"}}};
  return t;
}

const ListTable& ApiKeyTable() {
  // Node credentials are machine-issued and not managed through this list.
  static const ListTable t{&ApiKeyListSpec(),
                           kApiKeySelect,
                           " FROM api_keys k",
                           "k.org_id",
                           "k.id",
                           "k.created_at",
                           {{"owner_id", "k.subject_id"},
                            {"owner_type", "k.kind"},
                            {"created_at", "k.created_at"},
                            {"name", "k.name"}},
                           "k.kind <> 'node'"};
  return t;
}

}  // namespace

// ---- List specs
// ----------------------------------------------------------------------------------

const ListSpec& OrgListSpec() {
  static const ListSpec spec{
      "organizations",
      {Field("name", FieldType::kText, true, true, "The organisation's unique name."),
       Field("created_at", FieldType::kTime, false, true, "When it was created.")}};
  return spec;
}

const ListSpec& TeamListSpec() {
  static const ListSpec spec{
      "teams",
      {Field("name", FieldType::kText, true, true, "The team's name, unique in the organisation."),
       Field("created_at", FieldType::kTime, false, true, "When it was created.")}};
  return spec;
}

const ListSpec& ProjectListSpec() {
  static const ListSpec spec{
      "projects",
      {Field("name", FieldType::kText, true, true,
             "The project's name, unique in the organisation."),
       Field("team_id", FieldType::kText, true, false, "The id of the project's team."),
       Field("created_at", FieldType::kTime, false, true, "When it was created.")}};
  return spec;
}

const ListSpec& UserListSpec() {
  ListField state = Field("state", FieldType::kText, true, false,
                          "The user's state: invited, active or disabled.");
  state.allowed_values = {"invited", "active", "disabled"};
  static const ListSpec spec{
      "users",
      {Field("email", FieldType::kText, true, true, "The user's email address (lowercase)."), state,
       Field("display_name", FieldType::kText, false, true, "The user's display name."),
       Field("created_at", FieldType::kTime, false, true, "When the user was invited.")}};
  return spec;
}

const ListSpec& ServiceAccountListSpec() {
  static const ListSpec spec{
      "service-accounts",
      {Field("name", FieldType::kText, true, true,
             "The account's name, unique in the organisation."),
       Field("created_at", FieldType::kTime, false, true, "When it was created.")}};
  return spec;
}

const ListSpec& RoleListSpec() {
  static const ListSpec spec{
      "roles",
      {Field("name", FieldType::kText, true, true, "The role's name."),
       Field("created_at", FieldType::kTime, false, true, "When it was created.")}};
  return spec;
}

const ListSpec& RoleBindingListSpec() {
  ListField principal_type =
      Field("principal_type", FieldType::kText, true, false, "user or service_account.");
  principal_type.allowed_values = {"user", "service_account"};
  ListField scope_type =
      Field("scope_type", FieldType::kText, true, false, "organization, team or project.");
  scope_type.allowed_values = {"organization", "team", "project"};
  static const ListSpec spec{
      "role-bindings",
      {Field("principal_id", FieldType::kText, true, false, "The user or service account id."),
       principal_type, Field("role", FieldType::kText, true, false, "The role's name."), scope_type,
       Field("scope_id", FieldType::kText, true, false, "The organisation, team or project id."),
       Field("created_at", FieldType::kTime, false, true, "When the binding was created.")}};
  return spec;
}

const ListSpec& ApiKeyListSpec() {
  ListField owner_type =
      Field("owner_type", FieldType::kText, true, false, "user or service_account.");
  owner_type.allowed_values = {"user", "service_account"};
  static const ListSpec spec{
      "api-keys",
      {Field("owner_id", FieldType::kText, true, false, "The owning user or service account."),
       owner_type, Field("name", FieldType::kText, true, true, "The key's name."),
       Field("created_at", FieldType::kTime, false, true, "When the key was created.")}};
  return spec;
}

const ListSpec& AuditListSpec() {
  ListField outcome = Field("outcome", FieldType::kText, true, false, "success, denied or failed.");
  outcome.allowed_values = {"success", "denied", "failed"};
  static const ListSpec spec{
      "audit",
      {Field("type", FieldType::kText, true, false,
             "The record type: hangar.audit.request, hangar.audit.login, ..."),
       Field("subject", FieldType::kText, true, false, "The target object's id or path."),
       Field("actor", FieldType::kText, true, false,
             "The user, service account or key that acted."),
       outcome},
      "-time"};
  return spec;
}

// ---- Organisations
// -------------------------------------------------------------------------------

Status InsertOrgDetail(Tx& tx, const OrgDetailRecord& o) {
  return StatusOf(
      tx.Exec("INSERT INTO orgs (id, name, display_name, settings, version, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {o.id.str(), o.name, o.display_name, o.settings_json, o.version,
               ToUnixMicros(o.created_at), ToUnixMicros(o.updated_at)}));
}

Result<std::optional<OrgDetailRecord>> GetOrg(Tx& tx, const OrgId& id) {
  static const std::string sql = Concat({kOrgSelect, kOrgFrom, " WHERE o.id = $1"});
  SqlValue params[] = {id.str()};
  return QueryOne<OrgDetailRecord>(tx, sql, params, OrgFromRow);
}

Result<std::optional<OrgDetailRecord>> FindOrgByName(Tx& tx, std::string_view name) {
  static const std::string sql = Concat({kOrgSelect, kOrgFrom, " WHERE o.name = $1"});
  SqlValue params[] = {std::string(name)};
  return QueryOne<OrgDetailRecord>(tx, sql, params, OrgFromRow);
}

Result<Page<OrgDetailRecord>> ListOrgs(Tx& tx, std::optional<OrgId> only, const ListQuery& query) {
  if (only) {
    static const ListTable one{&OrgListSpec(),
                               kOrgSelect,
                               kOrgFrom,
                               "o.id",
                               "o.id",
                               "o.created_at",
                               {{"name", "o.name"}, {"created_at", "o.created_at"}}};
    return RunList<OrgDetailRecord>(tx, one, *only, query, OrgFromRow);
  }
  return RunList<OrgDetailRecord>(tx, OrgTable(), OrgId(), query, OrgFromRow);
}

Status UpdateOrg(Tx& tx, const OrgDetailRecord& o) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE orgs SET display_name = $2, settings = $3, updated_at = $4,"
                         " version = version + 1 WHERE id = $1 AND version = $5",
                         {o.id.str(), o.display_name, o.settings_json, ToUnixMicros(o.updated_at),
                          o.version}));
  if (n == 0) return UpdateMissed(tx, "orgs", "organisation", o.id.str(), o.id.str());
  return Ok();
}

// ---- Teams and projects
// --------------------------------------------------------------------------

Status InsertTeam(Tx& tx, const TeamRecord& t) {
  return StatusOf(
      tx.Exec("INSERT INTO teams (id, org_id, name, description, version, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {t.id.str(), t.org_id.str(), t.name, t.description, t.version,
               ToUnixMicros(t.created_at), ToUnixMicros(t.updated_at)}));
}

Result<std::optional<TeamRecord>> GetTeam(Tx& tx, const OrgId& org, const TeamId& id) {
  static const std::string sql =
      Concat({kTeamSelect, kTeamFrom, " WHERE t.org_id = $1 AND t.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<TeamRecord>(tx, sql, params, TeamFromRow);
}

Result<std::optional<TeamRecord>> FindTeamByName(Tx& tx, const OrgId& org, std::string_view name) {
  static const std::string sql =
      Concat({kTeamSelect, kTeamFrom, " WHERE t.org_id = $1 AND t.name = $2"});
  SqlValue params[] = {org.str(), std::string(name)};
  return QueryOne<TeamRecord>(tx, sql, params, TeamFromRow);
}

Result<Page<TeamRecord>> ListTeams(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<TeamRecord>(tx, TeamTable(), org, query, TeamFromRow);
}

Status UpdateTeam(Tx& tx, const TeamRecord& t) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE teams SET name = $3, description = $4, updated_at = $5,"
                         " version = version + 1 WHERE org_id = $1 AND id = $2 AND version = $6",
                         {t.org_id.str(), t.id.str(), t.name, t.description,
                          ToUnixMicros(t.updated_at), t.version}));
  if (n == 0) return UpdateMissed(tx, "teams", "team", t.org_id.str(), t.id.str());
  return Ok();
}

Status DeleteTeam(Tx& tx, const OrgId& org, const TeamId& id) {
  return DeleteOne(tx, "teams", "team", org, id.str());
}

Result<int64_t> CountProjectsOfTeam(Tx& tx, const OrgId& org, const TeamId& team) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT COUNT(*) FROM projects WHERE org_id = $1 AND team_id = $2",
                          {org.str(), team.str()}));
  return rows.at(0).Int(0);
}

Status InsertProject(Tx& tx, const ProjectRecord& p) {
  return StatusOf(
      tx.Exec("INSERT INTO projects (id, org_id, team_id, name, description, version, created_at,"
              " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
              {p.id.str(), p.org_id.str(), p.team_id.str(), p.name, p.description, p.version,
               ToUnixMicros(p.created_at), ToUnixMicros(p.updated_at)}));
}

Result<std::optional<ProjectRecord>> GetProject(Tx& tx, const OrgId& org, const ProjectId& id) {
  static const std::string sql =
      Concat({kProjectSelect, kProjectFrom, " WHERE p.org_id = $1 AND p.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<ProjectRecord>(tx, sql, params, ProjectFromRow);
}

Result<std::optional<ProjectRecord>> FindProjectByName(Tx& tx, const OrgId& org,
                                                       std::string_view name) {
  static const std::string sql =
      Concat({kProjectSelect, kProjectFrom, " WHERE p.org_id = $1 AND p.name = $2"});
  SqlValue params[] = {org.str(), std::string(name)};
  return QueryOne<ProjectRecord>(tx, sql, params, ProjectFromRow);
}

Result<std::optional<ProjectRecord>> FindProject(Tx& tx, const OrgId& org,
                                                 std::string_view id_or_name) {
  if (auto id = ProjectId::Parse(id_or_name)) return GetProject(tx, org, *id);
  return FindProjectByName(tx, org, id_or_name);
}

Result<Page<ProjectRecord>> ListProjects(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<ProjectRecord>(tx, ProjectTable(), org, query, ProjectFromRow);
}

Status UpdateProject(Tx& tx, const ProjectRecord& p) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE projects SET name = $3, description = $4, updated_at = $5,"
                         " version = version + 1 WHERE org_id = $1 AND id = $2 AND version = $6",
                         {p.org_id.str(), p.id.str(), p.name, p.description,
                          ToUnixMicros(p.updated_at), p.version}));
  if (n == 0) return UpdateMissed(tx, "projects", "project", p.org_id.str(), p.id.str());
  return Ok();
}

Status DeleteProject(Tx& tx, const OrgId& org, const ProjectId& id) {
  return DeleteOne(tx, "projects", "project", org, id.str());
}

// ---- Users and service accounts
// ------------------------------------------------------------------

Status InsertUser(Tx& tx, const UserRecord& u) {
  return StatusOf(tx.Exec(
      "INSERT INTO users (id, org_id, email, display_name, state, password_hash,"
      " invitation_hash, invitation_expires_at, failed_logins, locked_until, last_login_at,"
      " version, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      {u.id.str(), u.org_id.str(), u.email, u.display_name, std::string(UserStateName(u.state)),
       u.password_hash, Nullable(u.invitation_hash), Nullable(u.invitation_expires_at),
       u.failed_logins, Nullable(u.locked_until), Nullable(u.last_login_at), u.version,
       ToUnixMicros(u.created_at), ToUnixMicros(u.updated_at)}));
}

Result<std::optional<UserRecord>> GetUser(Tx& tx, const OrgId& org, const UserId& id) {
  static const std::string sql =
      Concat({kUserSelect, kUserFrom, " WHERE u.org_id = $1 AND u.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<UserRecord>(tx, sql, params, UserFromRow);
}

Result<std::optional<UserRecord>> FindUserByEmail(Tx& tx, const OrgId& org,
                                                  std::string_view email) {
  static const std::string sql =
      Concat({kUserSelect, kUserFrom, " WHERE u.org_id = $1 AND u.email = $2"});
  SqlValue params[] = {org.str(), std::string(email)};
  return QueryOne<UserRecord>(tx, sql, params, UserFromRow);
}

Result<std::optional<UserRecord>> FindUserByInvitationHash(Tx& tx, std::string_view hash) {
  static const std::string sql = Concat({kUserSelect, kUserFrom, " WHERE u.invitation_hash = $1"});
  SqlValue params[] = {std::string(hash)};
  return QueryOne<UserRecord>(tx, sql, params, UserFromRow);
}

Result<Page<UserRecord>> ListUsers(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<UserRecord>(tx, UserTable(), org, query, UserFromRow);
}

Status UpdateUser(Tx& tx, const UserRecord& u) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n,
      tx.Exec("UPDATE users SET display_name = $3, state = $4, password_hash = $5,"
              " invitation_hash = $6, invitation_expires_at = $7, failed_logins = $8,"
              " locked_until = $9, last_login_at = $10, updated_at = $11, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $12",
              {u.org_id.str(), u.id.str(), u.display_name, std::string(UserStateName(u.state)),
               u.password_hash, Nullable(u.invitation_hash), Nullable(u.invitation_expires_at),
               u.failed_logins, Nullable(u.locked_until), Nullable(u.last_login_at),
               ToUnixMicros(u.updated_at), u.version}));
  if (n == 0) return UpdateMissed(tx, "users", "user", u.org_id.str(), u.id.str());
  return Ok();
}

Status DeleteUser(Tx& tx, const OrgId& org, const UserId& id) {
  return DeleteOne(tx, "users", "user", org, id.str());
}

Status InsertServiceAccount(Tx& tx, const ServiceAccountRecord& s) {
  return StatusOf(
      tx.Exec("INSERT INTO service_accounts (id, org_id, name, description, disabled, version,"
              " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
              {s.id.str(), s.org_id.str(), s.name, s.description, int64_t{s.disabled ? 1 : 0},
               s.version, ToUnixMicros(s.created_at), ToUnixMicros(s.updated_at)}));
}

Result<std::optional<ServiceAccountRecord>> GetServiceAccount(Tx& tx, const OrgId& org,
                                                              const ServiceAccountId& id) {
  static const std::string sql =
      Concat({kServiceAccountSelect, kServiceAccountFrom, " WHERE s.org_id = $1 AND s.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<ServiceAccountRecord>(tx, sql, params, ServiceAccountFromRow);
}

Result<Page<ServiceAccountRecord>> ListServiceAccounts(Tx& tx, const OrgId& org,
                                                       const ListQuery& query) {
  return RunList<ServiceAccountRecord>(tx, ServiceAccountTable(), org, query,
                                       ServiceAccountFromRow);
}

Status UpdateServiceAccount(Tx& tx, const ServiceAccountRecord& s) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE service_accounts SET name = $3, description = $4, disabled = $5,"
                         " updated_at = $6, version = version + 1"
                         " WHERE org_id = $1 AND id = $2 AND version = $7",
                         {s.org_id.str(), s.id.str(), s.name, s.description,
                          int64_t{s.disabled ? 1 : 0}, ToUnixMicros(s.updated_at), s.version}));
  if (n == 0) {
    return UpdateMissed(tx, "service_accounts", "service account", s.org_id.str(), s.id.str());
  }
  return Ok();
}

Status DeleteServiceAccount(Tx& tx, const OrgId& org, const ServiceAccountId& id) {
  return DeleteOne(tx, "service_accounts", "service account", org, id.str());
}

// ---- Roles and bindings
// --------------------------------------------------------------------------

Status InsertRole(Tx& tx, const RoleRecord& r) {
  return StatusOf(
      tx.Exec("INSERT INTO roles (id, org_id, name, description, permissions, includes, version,"
              " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
              {r.id.str(), r.org_id.str(), r.name, r.description, ToJsonArray(r.permissions),
               ToJsonArray(r.includes), r.version, ToUnixMicros(r.created_at),
               ToUnixMicros(r.updated_at)}));
}

Result<std::optional<RoleRecord>> GetRole(Tx& tx, const OrgId& org, const RoleId& id) {
  static const std::string sql =
      Concat({kRoleSelect, kRoleFrom, " WHERE r.org_id = $1 AND r.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<RoleRecord>(tx, sql, params, RoleFromRow);
}

Result<std::optional<RoleRecord>> FindRoleByName(Tx& tx, const OrgId& org, std::string_view name) {
  static const std::string sql =
      Concat({kRoleSelect, kRoleFrom, " WHERE r.org_id = $1 AND r.name = $2"});
  SqlValue params[] = {org.str(), std::string(name)};
  return QueryOne<RoleRecord>(tx, sql, params, RoleFromRow);
}

Result<std::vector<RoleRecord>> ListAllRoles(Tx& tx, const OrgId& org) {
  static const std::string sql =
      Concat({kRoleSelect, kRoleFrom, " WHERE r.org_id = $1 ORDER BY r.name"});
  SqlValue params[] = {org.str()};
  return QueryAll<RoleRecord>(tx, sql, params, RoleFromRow);
}

Result<Page<RoleRecord>> ListRoles(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<RoleRecord>(tx, RoleTable(), org, query, RoleFromRow);
}

Status UpdateRole(Tx& tx, const RoleRecord& r) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE roles SET description = $3, permissions = $4, includes = $5,"
                         " updated_at = $6, version = version + 1"
                         " WHERE org_id = $1 AND id = $2 AND version = $7",
                         {r.org_id.str(), r.id.str(), r.description, ToJsonArray(r.permissions),
                          ToJsonArray(r.includes), ToUnixMicros(r.updated_at), r.version}));
  if (n == 0) return UpdateMissed(tx, "roles", "role", r.org_id.str(), r.id.str());
  return Ok();
}

Status DeleteRole(Tx& tx, const OrgId& org, const RoleId& id) {
  return DeleteOne(tx, "roles", "role", org, id.str());
}

Status InsertRoleBinding(Tx& tx, const RoleBindingRecord& b) {
  return StatusOf(tx.Exec(
      "INSERT INTO role_bindings (id, org_id, principal_type, principal_id, role, scope_type,"
      " scope_id, expires_at, justification, created_by, version, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      {b.id.str(), b.org_id.str(), b.principal_type, b.principal_id, b.role, b.scope_type,
       b.scope_id, Nullable(b.expires_at), b.justification, b.created_by, b.version,
       ToUnixMicros(b.created_at), ToUnixMicros(b.updated_at)}));
}

Result<std::optional<RoleBindingRecord>> GetRoleBinding(Tx& tx, const OrgId& org,
                                                        const RoleBindingId& id) {
  static const std::string sql =
      Concat({kBindingSelect, kBindingFrom, " WHERE b.org_id = $1 AND b.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<RoleBindingRecord>(tx, sql, params, BindingFromRow);
}

Result<Page<RoleBindingRecord>> ListRoleBindings(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<RoleBindingRecord>(tx, BindingTable(), org, query, BindingFromRow);
}

Result<std::vector<RoleBindingRecord>> ListBindingsOfPrincipal(Tx& tx, const OrgId& org,
                                                               std::string_view principal_id) {
  static const std::string sql =
      Concat({kBindingSelect, kBindingFrom, " WHERE b.org_id = $1 AND b.principal_id = $2"});
  SqlValue params[] = {org.str(), std::string(principal_id)};
  return QueryAll<RoleBindingRecord>(tx, sql, params, BindingFromRow);
}

Result<std::vector<RoleBindingRecord>> ListAllBindings(Tx& tx, const OrgId& org) {
  static const std::string sql =
      Concat({kBindingSelect, kBindingFrom, " WHERE b.org_id = $1 ORDER BY b.principal_id, b.id"});
  SqlValue params[] = {org.str()};
  return QueryAll<RoleBindingRecord>(tx, sql, params, BindingFromRow);
}

Result<int64_t> CountBindingsOfRole(Tx& tx, const OrgId& org, std::string_view role) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT COUNT(*) FROM role_bindings WHERE org_id = $1 AND role = $2",
                          {org.str(), std::string(role)}));
  return rows.at(0).Int(0);
}

Status DeleteRoleBinding(Tx& tx, const OrgId& org, const RoleBindingId& id) {
  return DeleteOne(tx, "role_bindings", "role binding", org, id.str());
}

Status DeleteBindingsOfPrincipal(Tx& tx, const OrgId& org, std::string_view principal_id) {
  return StatusOf(tx.Exec("DELETE FROM role_bindings WHERE org_id = $1 AND principal_id = $2",
                          {org.str(), std::string(principal_id)}));
}

Status DeleteBindingsOfScope(Tx& tx, const OrgId& org, std::string_view scope_id) {
  return StatusOf(tx.Exec("DELETE FROM role_bindings WHERE org_id = $1 AND scope_id = $2",
                          {org.str(), std::string(scope_id)}));
}

// ---- API keys
// ------------------------------------------------------------------------------------

std::string_view PrincipalKindName(PrincipalKind k) {
  switch (k) {
    case PrincipalKind::kAdmin:
      return "admin";
    case PrincipalKind::kNode:
      return "node";
    case PrincipalKind::kUser:
      return "user";
    case PrincipalKind::kServiceAccount:
      return "service_account";
  }
  return "admin";
}

Status InsertApiKey(Tx& tx, const ApiKeyRecord& k) {
  return StatusOf(tx.Exec(
      "INSERT INTO api_keys (id, org_id, name, secret_hash, kind, subject_id, expires_at,"
      " revoked_at, created_at, scopes, allowed_cidrs, rate_limit, rate_burst, last_used_at,"
      " last_used_address, rotated_to, display_prefix, created_by, version, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
      " $19, $20)",
      {k.id.str(),
       k.org_id.str(),
       k.name,
       k.secret_hash,
       std::string(PrincipalKindName(k.kind)),
       k.subject_id,
       Nullable(k.expires_at),
       Nullable(k.revoked_at),
       ToUnixMicros(k.created_at),
       ToJsonArray(k.scopes),
       ToJsonArray(k.allowed_cidrs),
       k.rate_limit,
       k.rate_burst,
       Nullable(k.last_used_at),
       k.last_used_address,
       k.rotated_to,
       k.display_prefix,
       k.created_by,
       k.version,
       ToUnixMicros(k.updated_at)}));
}

Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(Tx& tx, std::string_view secret_hash) {
  static const std::string sql = Concat({kApiKeySelect, kApiKeyFrom, " WHERE k.secret_hash = $1"});
  SqlValue params[] = {std::string(secret_hash)};
  return QueryOne<ApiKeyRecord>(tx, sql, params, ApiKeyFromRow);
}

Status RevokeApiKeysOfSubject(Tx& tx, const OrgId& org, std::string_view subject_id,
                              Timestamp now) {
  return StatusOf(
      tx.Exec("UPDATE api_keys SET revoked_at = $3, updated_at = $3, version = version + 1"
              " WHERE org_id = $1 AND subject_id = $2 AND revoked_at IS NULL",
              {org.str(), std::string(subject_id), ToUnixMicros(now)}));
}

Result<std::optional<ApiKeyRecord>> GetApiKey(Tx& tx, const OrgId& org, const ApiKeyId& id) {
  static const std::string sql = Concat(
      {kApiKeySelect, kApiKeyFrom, " WHERE k.org_id = $1 AND k.id = $2 AND k.kind <> 'node'"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<ApiKeyRecord>(tx, sql, params, ApiKeyFromRow);
}

Result<Page<ApiKeyRecord>> ListApiKeys(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<ApiKeyRecord>(tx, ApiKeyTable(), org, query, ApiKeyFromRow);
}

Status UpdateApiKey(Tx& tx, const ApiKeyRecord& k) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n,
      tx.Exec("UPDATE api_keys SET name = $3, expires_at = $4, revoked_at = $5, rotated_to = $6,"
              " updated_at = $7, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $8",
              {k.org_id.str(), k.id.str(), k.name, Nullable(k.expires_at), Nullable(k.revoked_at),
               k.rotated_to, ToUnixMicros(k.updated_at), k.version}));
  if (n == 0) return UpdateMissed(tx, "api_keys", "API key", k.org_id.str(), k.id.str());
  return Ok();
}

Status RecordApiKeyUse(Tx& tx, const ApiKeyId& id, Timestamp at, std::string_view address) {
  // Not a versioned change: usage bookkeeping must not invalidate a client's ETag.
  return StatusOf(
      tx.Exec("UPDATE api_keys SET last_used_at = $2, last_used_address = $3 WHERE id = $1",
              {id.str(), ToUnixMicros(at), std::string(address)}));
}

Result<std::map<std::string, Timestamp>> LastKeyUseBySubject(Tx& tx, const OrgId& org) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT subject_id, MAX(last_used_at) FROM api_keys"
                          " WHERE org_id = $1 AND last_used_at IS NOT NULL GROUP BY subject_id",
                          {org.str()}));
  std::map<std::string, Timestamp> out;
  for (const Row& r : rows) out[r.Text(0)] = r.Time(1);
  return out;
}

// ---- Audit
// ---------------------------------------------------------------------------------------

Result<Page<EventRecord>> ListAuditEvents(Tx& tx, const OrgId& org, const ListQuery& query) {
  return ListEventsWhere(tx, org, query, "type LIKE 'hangar.audit.%'",
                         {"type", "subject", "actor", "outcome"});
}

}  // namespace hangar::store
