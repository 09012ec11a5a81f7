// The tenancy tree and its members. See directory_service.h.
#include "identity/directory_service.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "identity/api_keys.h"
#include "identity/service_support.h"
#include "identity/views.h"

namespace hangar::identity {
namespace {

constexpr std::string_view kInvitationPrefix = "hgi_";
constexpr int64_t kDefaultInvitationHours = 72;
constexpr int64_t kMaxInvitationHours = 720;
constexpr size_t kMaxDescription = 1024;

Error NotFound(std::string_view noun, const std::string& id) {
  return Error::NotFound("no " + std::string(noun) + " " + id);
}

Status PreconditionFailed(std::string_view noun) {
  return std::unexpected(Error(ErrorCode::kPreconditionFailed,
                               "the " + std::string(noun) + " changed since it was read")
                             .Hint("GET it again and retry with its current ETag in If-Match"));
}

void CheckDescription(Error& invalid, const std::optional<std::string>& d) {
  if (d && d->size() > kMaxDescription) invalid.AddField("/description", "must be <= 1024 bytes");
}

void CheckDisplayName(Error& invalid, const std::optional<std::string>& d) {
  if (d && d->size() > 200) invalid.AddField("/display_name", "must be <= 200 bytes");
}

// Turns a unique-key violation of an insert into a 409 naming the field.
Status MapDuplicate(Status s, std::string_view noun, std::string_view field) {
  if (!s && s.error().code() == ErrorCode::kAlreadyExists) {
    return std::unexpected(Error::AlreadyExists("a " + std::string(noun) + " with this " +
                                                std::string(field).substr(1) + " already exists")
                               .Field(std::string(field), "must be unique"));
  }
  return s;
}

}  // namespace

void CheckName(Error& invalid, std::string_view pointer, std::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  }
  if (!ok) {
    invalid.AddField(std::string(pointer),
                     "must be 1..63 lowercase letters, digits or '-', starting with a letter or "
                     "digit");
  }
}

std::optional<std::string> NormaliseEmail(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) return std::nullopt;
  size_t at = email.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 >= email.size() ||
      email.find('@', at + 1) != std::string_view::npos ||
      email.find('.', at) == std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == ',') {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

DirectoryService::DirectoryService(store::Store& store, const Clock& clock, Authorizer& authorizer,
                                   Authenticator& authenticator, DirectoryOptions options)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      authenticator_(authenticator),
      options_(std::move(options)),
      public_url_(options_.public_url) {}

void DirectoryService::SetPublicUrl(std::string url) {
  std::lock_guard lock(public_url_mutex_);
  public_url_ = std::move(url);
}

Status DirectoryService::Emit(store::Tx& tx, const Principal& who, std::string type,
                              std::string subject, std::string data_json, Timestamp now) {
  return AppendIdentityEvent(tx, clock_, who, std::move(type), std::move(subject),
                             std::move(data_json), now);
}

api::Invitation DirectoryService::MakeInvitation(store::UserRecord& user, int64_t hours,
                                                 Timestamp now) {
  GeneratedSecret secret = GenerateSecret(kInvitationPrefix);
  user.invitation_hash = secret.hash;
  user.invitation_expires_at = now + std::chrono::hours(hours);
  std::string base;
  {
    std::lock_guard lock(public_url_mutex_);
    base = public_url_;
  }
  return api::Invitation{.user = ToApi(user, now),
                         .token = secret.secret,
                         .accept_url = base + "/login?invitation=" + secret.secret,
                         .expires_at = FormatRfc3339(*user.invitation_expires_at)};
}

// ---- Organisations
// -------------------------------------------------------------------------------

Result<api::CreatedOrganization> DirectoryService::CreateOrganization(
    const Principal& who, const api::CreateOrganizationRequest& r) {
  HANGAR_TRY(
      authorizer_.Require(who, "organizations:create", ResourceScope::Organization(who.org_id)));
  Error invalid = Error::Invalid("the organisation is not valid");
  CheckName(invalid, "/name", r.name);
  CheckDisplayName(invalid, r.display_name);
  auto email = NormaliseEmail(r.admin_email);
  if (!email) invalid.AddField("/admin_email", "must be an email address");
  HANGAR_TRY(IfInvalid(std::move(invalid)));

  Timestamp now = clock_.Now();
  store::OrgDetailRecord org{.id = OrgId::Generate(clock_),
                             .name = r.name,
                             .display_name = r.display_name.value_or(r.name),
                             .created_at = now,
                             .updated_at = now};
  store::UserRecord admin{.id = UserId::Generate(clock_),
                          .org_id = org.id,
                          .email = *email,
                          .display_name = *email,
                          .created_at = now,
                          .updated_at = now};
  api::Invitation invitation = MakeInvitation(admin, kDefaultInvitationHours, now);
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindOrgByName(tx, r.name));
    if (taken) {
      return std::unexpected(
          Error::AlreadyExists("an organisation named '" + r.name + "' already exists")
              .Field("/name", "must be unique across the installation"));
    }
    HANGAR_TRY(store::InsertOrgDetail(tx, org));
    HANGAR_TRY(store::InsertUser(tx, admin));
    HANGAR_TRY(store::InsertRoleBinding(
        tx, store::RoleBindingRecord{.id = RoleBindingId::Generate(clock_),
                                     .org_id = org.id,
                                     .principal_type = "user",
                                     .principal_id = admin.id.str(),
                                     .role = "admin",
                                     .scope_type = "organization",
                                     .scope_id = org.id.str(),
                                     .justification = "first administrator",
                                     .created_by = who.ActorId(),
                                     .created_at = now,
                                     .updated_at = now}));
    // The new tenant's own log starts with its creation; the creator's log records it too.
    Principal in_new_org = who;
    in_new_org.org_id = org.id;
    HANGAR_TRY(Emit(tx, in_new_org, "hangar.organization.created", org.id.str(),
                    json::Serialize(ToApi(org)), now));
    return Emit(tx, who, "hangar.organization.created", org.id.str(), json::Serialize(ToApi(org)),
                now);
  }));
  return api::CreatedOrganization{.organization = ToApi(org), .admin_invitation = invitation};
}

Result<store::OrgDetailRecord> DirectoryService::GetOrganization(const Principal& who,
                                                                 const OrgId& id) {
  // Platform administrators read every organisation; everyone else only their own.
  bool platform = who.IsAdmin();
  if (!platform && id != who.org_id) return std::unexpected(NotFound("organisation", id.str()));
  if (!platform) {
    HANGAR_TRY(authorizer_.RequireOnObject(who, "organizations:read", "organizations:read",
                                           ResourceScope::Organization(id),
                                           NotFound("organisation", id.str())));
  }
  std::optional<store::OrgDetailRecord> org;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(org, store::GetOrg(tx, id));
    return Ok();
  }));
  if (!org) return std::unexpected(NotFound("organisation", id.str()));
  return *org;
}

Result<store::Page<store::OrgDetailRecord>> DirectoryService::ListOrganizations(
    const Principal& who, const store::ListQuery& query) {
  std::optional<OrgId> only;
  if (!who.IsAdmin()) {
    HANGAR_TRY(
        authorizer_.Require(who, "organizations:read", ResourceScope::Organization(who.org_id)));
    only = who.org_id;
  }
  store::Page<store::OrgDetailRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListOrgs(tx, only, query));
    return Ok();
  }));
  return page;
}

Result<store::OrgDetailRecord> DirectoryService::UpdateOrganization(
    const Principal& who, const OrgId& id, const api::UpdateOrganizationRequest& patch,
    std::optional<int64_t> if_match) {
  if (!who.IsAdmin() || id == who.org_id) {
    if (id != who.org_id) return std::unexpected(NotFound("organisation", id.str()));
    HANGAR_TRY(authorizer_.RequireOnObject(who, "organizations:update", "organizations:read",
                                           ResourceScope::Organization(id),
                                           NotFound("organisation", id.str())));
  }
  Error invalid = Error::Invalid("the organisation update is not valid");
  CheckDisplayName(invalid, patch.display_name);
  if (patch.settings) {
    const auto& s = *patch.settings;
    if (s.api_key_max_age_days && (*s.api_key_max_age_days < 0 || *s.api_key_max_age_days > 3650)) {
      invalid.AddField("/settings/api_key_max_age_days", "must be 0 (no limit) to 3650");
    }
    if (s.login_max_failures && (*s.login_max_failures < 1 || *s.login_max_failures > 100)) {
      invalid.AddField("/settings/login_max_failures", "must be 1..100");
    }
    if (s.login_lockout_minutes &&
        (*s.login_lockout_minutes < 1 || *s.login_lockout_minutes > 10080)) {
      invalid.AddField("/settings/login_lockout_minutes", "must be 1..10080 (a week)");
    }
    if (s.rate_limits) {
      auto check = [&](const std::optional<api::RateLimitSetting>& l, std::string_view name) {
        if (!l) return;
        std::string base = "/settings/rate_limits/" + std::string(name);
        if (l->per_second && (*l->per_second < 0 || *l->per_second > 1'000'000)) {
          invalid.AddField(base + "/per_second", "must be 0 (off) to 1000000");
        }
        if (l->burst && (*l->burst < 0 || *l->burst > 1'000'000)) {
          invalid.AddField(base + "/burst", "must be 0 to 1000000");
        }
      };
      check(s.rate_limits->per_key, "per_key");
      check(s.rate_limits->per_user, "per_user");
      check(s.rate_limits->per_team, "per_team");
      check(s.rate_limits->per_project, "per_project");
    }
  }
  HANGAR_TRY(IfInvalid(std::move(invalid)));

  std::optional<store::OrgDetailRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto org, store::GetOrg(tx, id));
    if (!org) return std::unexpected(NotFound("organisation", id.str()));
    if (if_match && *if_match != org->version) return PreconditionFailed("organisation");
    store::OrgDetailRecord updated = *org;
    if (patch.display_name) updated.display_name = *patch.display_name;
    if (patch.settings) {
      // Merge: fields the patch names replace the stored ones; the rest stay.
      api::OrganizationSettings merged =
          json::ParseAs<api::OrganizationSettings>(org->settings_json)
              .value_or(api::OrganizationSettings{});
      const auto& s = *patch.settings;
      if (s.api_key_max_age_days) merged.api_key_max_age_days = s.api_key_max_age_days;
      if (s.login_max_failures) merged.login_max_failures = s.login_max_failures;
      if (s.login_lockout_minutes) merged.login_lockout_minutes = s.login_lockout_minutes;
      if (s.rate_limits) {
        if (!merged.rate_limits) merged.rate_limits = api::RateLimitSettings{};
        auto& m = *merged.rate_limits;
        if (s.rate_limits->per_key) m.per_key = s.rate_limits->per_key;
        if (s.rate_limits->per_user) m.per_user = s.rate_limits->per_user;
        if (s.rate_limits->per_team) m.per_team = s.rate_limits->per_team;
        if (s.rate_limits->per_project) m.per_project = s.rate_limits->per_project;
      }
      updated.settings_json = SerializeSettings(merged);
    }
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateOrg(tx, updated));
    updated.version += 1;
    Principal in_org = who;
    in_org.org_id = id;
    HANGAR_TRY(Emit(tx, in_org, "hangar.organization.updated", id.str(),
                    json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

Result<api::OrganizationSettings> DirectoryService::SettingsOf(const OrgId& org) {
  std::optional<store::OrgDetailRecord> record;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::GetOrg(tx, org));
    return Ok();
  }));
  if (!record) return std::unexpected(NotFound("organisation", org.str()));
  return ParseSettings(record->settings_json);
}

// ---- Teams
// ---------------------------------------------------------------------------------------

Result<store::TeamRecord> DirectoryService::CreateTeam(const Principal& who,
                                                       const api::CreateTeamRequest& r) {
  HANGAR_TRY(authorizer_.Require(who, "teams:create", ResourceScope::Organization(who.org_id)));
  Error invalid = Error::Invalid("the team is not valid");
  CheckName(invalid, "/name", r.name);
  CheckDescription(invalid, r.description);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  Timestamp now = clock_.Now();
  store::TeamRecord team{.id = TeamId::Generate(clock_),
                         .org_id = who.org_id,
                         .name = r.name,
                         .description = r.description.value_or(""),
                         .created_at = now,
                         .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindTeamByName(tx, who.org_id, r.name));
    if (taken) return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "team", "/name");
    HANGAR_TRY(store::InsertTeam(tx, team));
    return Emit(tx, who, "hangar.team.created", team.id.str(), json::Serialize(ToApi(team)), now);
  }));
  return team;
}

Result<store::TeamRecord> DirectoryService::GetTeam(const Principal& who, const TeamId& id) {
  std::optional<store::TeamRecord> team;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(team, store::GetTeam(tx, who.org_id, id));
    return Ok();
  }));
  if (!team) return std::unexpected(NotFound("team", id.str()));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "teams:read", "teams:read",
                                         ResourceScope::Team(who.org_id, id),
                                         NotFound("team", id.str())));
  return *team;
}

Result<store::Page<store::TeamRecord>> DirectoryService::ListTeams(const Principal& who,
                                                                   const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "teams:read"));
  if (!any) {
    return std::unexpected(Error::PermissionDenied("permission teams:read is required")
                               .Hint("ask an administrator for a role that includes teams:read"));
  }
  store::Page<store::TeamRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListTeams(tx, who.org_id, query));
    return Ok();
  }));
  // A page may come back shorter than the limit: the cursor still moves over the hidden rows.
  std::vector<store::TeamRecord> visible;
  for (auto& t : page.items) {
    HANGAR_ASSIGN_OR_RETURN(
        auto d, authorizer_.Check(who, "teams:read", ResourceScope::Team(who.org_id, t.id)));
    if (d.allowed) visible.push_back(std::move(t));
  }
  page.items = std::move(visible);
  return page;
}

Result<store::TeamRecord> DirectoryService::UpdateTeam(const Principal& who, const TeamId& id,
                                                       const api::UpdateTeamRequest& patch,
                                                       std::optional<int64_t> if_match) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "teams:update", "teams:read",
                                         ResourceScope::Team(who.org_id, id),
                                         NotFound("team", id.str())));
  Error invalid = Error::Invalid("the team update is not valid");
  if (patch.name) CheckName(invalid, "/name", *patch.name);
  CheckDescription(invalid, patch.description);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::optional<store::TeamRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto team, store::GetTeam(tx, who.org_id, id));
    if (!team) return std::unexpected(NotFound("team", id.str()));
    if (if_match && *if_match != team->version) return PreconditionFailed("team");
    store::TeamRecord updated = *team;
    if (patch.name && *patch.name != team->name) {
      HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindTeamByName(tx, who.org_id, *patch.name));
      if (taken) return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "team", "/name");
      updated.name = *patch.name;
    }
    if (patch.description) updated.description = *patch.description;
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateTeam(tx, updated));
    updated.version += 1;
    HANGAR_TRY(
        Emit(tx, who, "hangar.team.updated", id.str(), json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

Status DirectoryService::DeleteTeam(const Principal& who, const TeamId& id,
                                    std::optional<int64_t> if_match) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "teams:delete", "teams:read",
                                         ResourceScope::Team(who.org_id, id),
                                         NotFound("team", id.str())));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto team, store::GetTeam(tx, who.org_id, id));
    if (!team) return std::unexpected(NotFound("team", id.str()));
    if (if_match && *if_match != team->version) return PreconditionFailed("team");
    HANGAR_ASSIGN_OR_RETURN(int64_t projects, store::CountProjectsOfTeam(tx, who.org_id, id));
    if (projects > 0) {
      return std::unexpected(
          Error::Conflict("the team still has " + std::to_string(projects) + " project(s)")
              .Hint("delete or move its projects first: GET "
                    "/api/v1/projects?team_id=" +
                    id.str()));
    }
    HANGAR_TRY(store::DeleteBindingsOfScope(tx, who.org_id, id.str()));
    HANGAR_TRY(store::DeleteTeam(tx, who.org_id, id));
    return Emit(tx, who, "hangar.team.deleted", id.str(), json::Serialize(ToApi(*team)),
                clock_.Now());
  }));
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

// ---- Projects
// ------------------------------------------------------------------------------------

Result<store::ProjectRecord> DirectoryService::CreateProject(const Principal& who,
                                                             const api::CreateProjectRequest& r) {
  Error invalid = Error::Invalid("the project is not valid");
  CheckName(invalid, "/name", r.name);
  CheckDescription(invalid, r.description);
  auto team_id = TeamId::Parse(r.team_id);
  if (!team_id) invalid.AddField("/team_id", "must be a team id (team_…)");
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  Error no_team = Error::Invalid("the team does not exist")
                      .Field("/team_id", "no team " + r.team_id + " in this organisation");
  HANGAR_TRY(authorizer_.RequireOnObject(who, "projects:create", "teams:read",
                                         ResourceScope::Team(who.org_id, *team_id), no_team));
  Timestamp now = clock_.Now();
  store::ProjectRecord project{.id = ProjectId::Generate(clock_),
                               .org_id = who.org_id,
                               .team_id = *team_id,
                               .name = r.name,
                               .description = r.description.value_or(""),
                               .created_at = now,
                               .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto team, store::GetTeam(tx, who.org_id, *team_id));
    if (!team) return std::unexpected(no_team);
    HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindProjectByName(tx, who.org_id, r.name));
    if (taken) return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "project", "/name");
    HANGAR_TRY(store::InsertProject(tx, project));
    return Emit(tx, who, "hangar.project.created", project.id.str(),
                json::Serialize(ToApi(project)), now);
  }));
  return project;
}

Result<store::ProjectRecord> DirectoryService::GetProject(const Principal& who,
                                                          const ProjectId& id) {
  std::optional<store::ProjectRecord> project;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::GetProject(tx, who.org_id, id));
    return Ok();
  }));
  if (!project) return std::unexpected(NotFound("project", id.str()));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "projects:read", "projects:read",
                                         ResourceScope::Project(who.org_id, project->team_id, id),
                                         NotFound("project", id.str())));
  return *project;
}

Result<store::Page<store::ProjectRecord>> DirectoryService::ListProjects(
    const Principal& who, const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "projects:read"));
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission projects:read is required")
            .Hint("ask an administrator for a role that includes projects:read"));
  }
  store::Page<store::ProjectRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListProjects(tx, who.org_id, query));
    return Ok();
  }));
  std::vector<store::ProjectRecord> visible;
  for (auto& p : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d,
                            authorizer_.Check(who, "projects:read",
                                              ResourceScope::Project(who.org_id, p.team_id, p.id)));
    if (d.allowed) visible.push_back(std::move(p));
  }
  page.items = std::move(visible);
  return page;
}

Result<store::ProjectRecord> DirectoryService::UpdateProject(const Principal& who,
                                                             const ProjectId& id,
                                                             const api::UpdateProjectRequest& patch,
                                                             std::optional<int64_t> if_match) {
  HANGAR_ASSIGN_OR_RETURN(auto current, GetProject(who, id));
  HANGAR_TRY(authorizer_.Require(who, "projects:update",
                                 ResourceScope::Project(who.org_id, current.team_id, id)));
  Error invalid = Error::Invalid("the project update is not valid");
  if (patch.name) CheckName(invalid, "/name", *patch.name);
  CheckDescription(invalid, patch.description);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::optional<store::ProjectRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto project, store::GetProject(tx, who.org_id, id));
    if (!project) return std::unexpected(NotFound("project", id.str()));
    if (if_match && *if_match != project->version) return PreconditionFailed("project");
    store::ProjectRecord updated = *project;
    if (patch.name && *patch.name != project->name) {
      HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindProjectByName(tx, who.org_id, *patch.name));
      if (taken) {
        return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "project", "/name");
      }
      updated.name = *patch.name;
    }
    if (patch.description) updated.description = *patch.description;
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateProject(tx, updated));
    updated.version += 1;
    HANGAR_TRY(
        Emit(tx, who, "hangar.project.updated", id.str(), json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

Status DirectoryService::DeleteProject(const Principal& who, const ProjectId& id,
                                       std::optional<int64_t> if_match) {
  HANGAR_ASSIGN_OR_RETURN(auto current, GetProject(who, id));
  HANGAR_TRY(authorizer_.Require(who, "projects:delete",
                                 ResourceScope::Project(who.org_id, current.team_id, id)));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto project, store::GetProject(tx, who.org_id, id));
    if (!project) return std::unexpected(NotFound("project", id.str()));
    if (if_match && *if_match != project->version) return PreconditionFailed("project");
    HANGAR_TRY(store::DeleteBindingsOfScope(tx, who.org_id, id.str()));
    HANGAR_TRY(store::DeleteProject(tx, who.org_id, id));
    return Emit(tx, who, "hangar.project.deleted", id.str(), json::Serialize(ToApi(*project)),
                clock_.Now());
  }));
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

// ---- Users
// ---------------------------------------------------------------------------------------

Result<api::Invitation> DirectoryService::InviteUser(const Principal& who,
                                                     const api::InviteUserRequest& r) {
  HANGAR_TRY(authorizer_.Require(who, "users:create", ResourceScope::Organization(who.org_id)));
  Error invalid = Error::Invalid("the invitation is not valid");
  auto email = NormaliseEmail(r.email);
  if (!email) invalid.AddField("/email", "must be an email address");
  CheckDisplayName(invalid, r.display_name);
  int64_t hours = r.expires_in_hours.value_or(kDefaultInvitationHours);
  if (hours < 1 || hours > kMaxInvitationHours) {
    invalid.AddField("/expires_in_hours", "must be 1..720");
  }
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::map<std::string, std::vector<std::string>> roles;
  if (r.role) {
    HANGAR_ASSIGN_OR_RETURN(roles, authorizer_.RolePermissions(who.org_id));
    if (!roles.contains(*r.role)) {
      return std::unexpected(Error::Invalid("no such role")
                                 .Field("/role", "no role named '" + *r.role + "'")
                                 .Hint("list roles with GET /api/v1/roles"));
    }
    // Granting a role is a role-binding change: the inviter needs that permission too.
    HANGAR_TRY(
        authorizer_.Require(who, "role-bindings:create", ResourceScope::Organization(who.org_id)));
  }
  Timestamp now = clock_.Now();
  store::UserRecord user{.id = UserId::Generate(clock_),
                         .org_id = who.org_id,
                         .email = *email,
                         .display_name = r.display_name.value_or(*email),
                         .created_at = now,
                         .updated_at = now};
  api::Invitation invitation = MakeInvitation(user, hours, now);
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto taken, store::FindUserByEmail(tx, who.org_id, *email));
    if (taken) {
      return std::unexpected(Error::AlreadyExists("a user with this email already exists")
                                 .Field("/email", "must be unique in the organisation")
                                 .Hint("GET /api/v1/users?email=" + *email));
    }
    HANGAR_TRY(store::InsertUser(tx, user));
    if (r.role) {
      store::RoleBindingRecord binding{.id = RoleBindingId::Generate(clock_),
                                       .org_id = who.org_id,
                                       .principal_type = "user",
                                       .principal_id = user.id.str(),
                                       .role = *r.role,
                                       .scope_type = "organization",
                                       .scope_id = who.org_id.str(),
                                       .justification = "granted at invitation",
                                       .created_by = who.ActorId(),
                                       .created_at = now,
                                       .updated_at = now};
      HANGAR_TRY(store::InsertRoleBinding(tx, binding));
      HANGAR_TRY(Emit(tx, who, "hangar.role_binding.created", binding.id.str(),
                      json::Serialize(ToApi(binding, now)), now));
    }
    return Emit(tx, who, "hangar.user.invited", user.id.str(), json::Serialize(ToApi(user, now)),
                now);
  }));
  if (r.role) authorizer_.Invalidate(who.org_id);
  return invitation;
}

Result<store::UserRecord> DirectoryService::AcceptInvitation(
    const api::AcceptInvitationRequest& r) {
  Error bad_token = Error::Invalid("the invitation is not valid")
                        .Field("/token", "is unknown, already used or expired")
                        .Hint("ask an administrator for a new invitation");
  if (!IsWellFormedSecret(r.token, kInvitationPrefix)) return std::unexpected(bad_token);
  std::string hash = HashSecret(r.token);
  std::optional<store::UserRecord> user;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(user, store::FindUserByInvitationHash(tx, hash));
    return Ok();
  }));
  Timestamp now = clock_.Now();
  if (!user || user->state != store::UserState::kInvited || !user->invitation_expires_at ||
      *user->invitation_expires_at <= now) {
    return std::unexpected(bad_token);
  }
  HANGAR_TRY(CheckPasswordRules(r.password, user->email));
  Error invalid = Error::Invalid("the new account is not valid");
  CheckDisplayName(invalid, r.display_name);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  // Hashing is deliberately slow; it happens before the write so the writer is not held.
  std::string password_hash = HashPassword(r.password, options_.password_hashing);
  std::optional<store::UserRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto current, store::FindUserByInvitationHash(tx, hash));
    if (!current || current->state != store::UserState::kInvited) {
      return std::unexpected(bad_token);  // accepted concurrently
    }
    store::UserRecord updated = *current;
    updated.state = store::UserState::kActive;
    updated.password_hash = password_hash;
    updated.invitation_hash.reset();
    updated.invitation_expires_at.reset();
    if (r.display_name) updated.display_name = *r.display_name;
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateUser(tx, updated));
    updated.version += 1;
    Principal self{.org_id = updated.org_id,
                   .kind = store::PrincipalKind::kUser,
                   .subject_id = updated.id.str()};
    HANGAR_TRY(Emit(tx, self, "hangar.user.activated", updated.id.str(),
                    json::Serialize(ToApi(updated, now)), now));
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

Result<store::UserRecord> DirectoryService::GetUser(const Principal& who, const UserId& id) {
  // Everyone may read themselves; reading others needs users:read.
  if (who.subject_id != id.str()) {
    HANGAR_TRY(authorizer_.RequireOnObject(who, "users:read", "users:read",
                                           ResourceScope::Organization(who.org_id),
                                           NotFound("user", id.str())));
  }
  std::optional<store::UserRecord> user;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(user, store::GetUser(tx, who.org_id, id));
    return Ok();
  }));
  if (!user) return std::unexpected(NotFound("user", id.str()));
  return *user;
}

Result<store::Page<store::UserRecord>> DirectoryService::ListUsers(const Principal& who,
                                                                   const store::ListQuery& query) {
  HANGAR_TRY(authorizer_.Require(who, "users:read", ResourceScope::Organization(who.org_id)));
  store::Page<store::UserRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListUsers(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Result<store::UserRecord> DirectoryService::UpdateUser(const Principal& who, const UserId& id,
                                                       const api::UpdateUserRequest& patch,
                                                       std::optional<int64_t> if_match) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "users:update", "users:read",
                                         ResourceScope::Organization(who.org_id),
                                         NotFound("user", id.str())));
  Error invalid = Error::Invalid("the user update is not valid");
  CheckDisplayName(invalid, patch.display_name);
  if (patch.state == api::UserState::invited) {
    invalid.AddField("/state", "may be set to active or disabled");
  }
  if (patch.state == api::UserState::disabled && who.subject_id == id.str()) {
    invalid.AddField("/state", "you cannot disable yourself");
  }
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::optional<store::UserRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto user, store::GetUser(tx, who.org_id, id));
    if (!user) return std::unexpected(NotFound("user", id.str()));
    if (if_match && *if_match != user->version) return PreconditionFailed("user");
    store::UserRecord updated = *user;
    if (patch.display_name) updated.display_name = *patch.display_name;
    if (patch.state == api::UserState::disabled) updated.state = store::UserState::kDisabled;
    if (patch.state == api::UserState::active) {
      if (user->state == store::UserState::kInvited) {
        return std::unexpected(
            Error::Conflict("an invited user becomes active by accepting the invitation")
                .Hint("send the user the invitation link"));
      }
      // Enabling also unlocks: an admin vouching for the user ends a lockout early.
      updated.state = store::UserState::kActive;
      updated.locked_until.reset();
      updated.failed_logins = 0;
    }
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateUser(tx, updated));
    updated.version += 1;
    HANGAR_TRY(
        Emit(tx, who, "hangar.user.updated", id.str(), json::Serialize(ToApi(updated, now)), now));
    result = std::move(updated);
    return Ok();
  }));
  authenticator_.Forget(id.str());  // a disabled user's keys stop at once on this replica
  return *result;
}

Status DirectoryService::DeleteUser(const Principal& who, const UserId& id) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "users:delete", "users:read",
                                         ResourceScope::Organization(who.org_id),
                                         NotFound("user", id.str())));
  if (who.subject_id == id.str()) {
    return std::unexpected(
        Error::Conflict("you cannot delete yourself").Hint("ask another administrator"));
  }
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto user, store::GetUser(tx, who.org_id, id));
    if (!user) return std::unexpected(NotFound("user", id.str()));
    Timestamp now = clock_.Now();
    HANGAR_TRY(store::RevokeApiKeysOfSubject(tx, who.org_id, id.str(), now));
    HANGAR_TRY(store::DeleteBindingsOfPrincipal(tx, who.org_id, id.str()));
    HANGAR_TRY(store::DeleteUser(tx, who.org_id, id));
    return Emit(tx, who, "hangar.user.deleted", id.str(), json::Serialize(ToApi(*user, now)), now);
  }));
  authenticator_.Forget(id.str());
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

// ---- Service accounts
// ----------------------------------------------------------------------------

Result<store::ServiceAccountRecord> DirectoryService::CreateServiceAccount(
    const Principal& who, const api::CreateServiceAccountRequest& r) {
  HANGAR_TRY(
      authorizer_.Require(who, "service-accounts:create", ResourceScope::Organization(who.org_id)));
  Error invalid = Error::Invalid("the service account is not valid");
  CheckName(invalid, "/name", r.name);
  CheckDescription(invalid, r.description);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  Timestamp now = clock_.Now();
  store::ServiceAccountRecord account{.id = ServiceAccountId::Generate(clock_),
                                      .org_id = who.org_id,
                                      .name = r.name,
                                      .description = r.description.value_or(""),
                                      .created_at = now,
                                      .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    store::ListQuery by_name;
    by_name.equals.emplace_back("name", r.name);
    by_name.limit = 1;
    HANGAR_ASSIGN_OR_RETURN(auto taken, store::ListServiceAccounts(tx, who.org_id, by_name));
    if (!taken.items.empty()) {
      return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "service account", "/name");
    }
    HANGAR_TRY(store::InsertServiceAccount(tx, account));
    return Emit(tx, who, "hangar.service_account.created", account.id.str(),
                json::Serialize(ToApi(account)), now);
  }));
  return account;
}

Result<store::ServiceAccountRecord> DirectoryService::GetServiceAccount(
    const Principal& who, const ServiceAccountId& id) {
  if (who.subject_id != id.str()) {
    HANGAR_TRY(authorizer_.RequireOnObject(who, "service-accounts:read", "service-accounts:read",
                                           ResourceScope::Organization(who.org_id),
                                           NotFound("service account", id.str())));
  }
  std::optional<store::ServiceAccountRecord> account;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(account, store::GetServiceAccount(tx, who.org_id, id));
    return Ok();
  }));
  if (!account) return std::unexpected(NotFound("service account", id.str()));
  return *account;
}

Result<store::Page<store::ServiceAccountRecord>> DirectoryService::ListServiceAccounts(
    const Principal& who, const store::ListQuery& query) {
  HANGAR_TRY(
      authorizer_.Require(who, "service-accounts:read", ResourceScope::Organization(who.org_id)));
  store::Page<store::ServiceAccountRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListServiceAccounts(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Result<store::ServiceAccountRecord> DirectoryService::UpdateServiceAccount(
    const Principal& who, const ServiceAccountId& id, const api::UpdateServiceAccountRequest& patch,
    std::optional<int64_t> if_match) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "service-accounts:update", "service-accounts:read",
                                         ResourceScope::Organization(who.org_id),
                                         NotFound("service account", id.str())));
  Error invalid = Error::Invalid("the service account update is not valid");
  if (patch.name) CheckName(invalid, "/name", *patch.name);
  CheckDescription(invalid, patch.description);
  HANGAR_TRY(IfInvalid(std::move(invalid)));
  std::optional<store::ServiceAccountRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto account, store::GetServiceAccount(tx, who.org_id, id));
    if (!account) return std::unexpected(NotFound("service account", id.str()));
    if (if_match && *if_match != account->version) return PreconditionFailed("service account");
    store::ServiceAccountRecord updated = *account;
    if (patch.name && *patch.name != account->name) {
      store::ListQuery by_name;
      by_name.equals.emplace_back("name", *patch.name);
      by_name.limit = 1;
      HANGAR_ASSIGN_OR_RETURN(auto taken, store::ListServiceAccounts(tx, who.org_id, by_name));
      if (!taken.items.empty()) {
        return MapDuplicate(std::unexpected(Error::AlreadyExists("")), "service account", "/name");
      }
      updated.name = *patch.name;
    }
    if (patch.description) updated.description = *patch.description;
    if (patch.disabled) updated.disabled = *patch.disabled;
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateServiceAccount(tx, updated));
    updated.version += 1;
    HANGAR_TRY(Emit(tx, who, "hangar.service_account.updated", id.str(),
                    json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  }));
  authenticator_.Forget(id.str());
  return *result;
}

Status DirectoryService::DeleteServiceAccount(const Principal& who, const ServiceAccountId& id) {
  HANGAR_TRY(authorizer_.RequireOnObject(who, "service-accounts:delete", "service-accounts:read",
                                         ResourceScope::Organization(who.org_id),
                                         NotFound("service account", id.str())));
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto account, store::GetServiceAccount(tx, who.org_id, id));
    if (!account) return std::unexpected(NotFound("service account", id.str()));
    Timestamp now = clock_.Now();
    HANGAR_TRY(store::RevokeApiKeysOfSubject(tx, who.org_id, id.str(), now));
    HANGAR_TRY(store::DeleteBindingsOfPrincipal(tx, who.org_id, id.str()));
    HANGAR_TRY(store::DeleteServiceAccount(tx, who.org_id, id));
    return Emit(tx, who, "hangar.service_account.deleted", id.str(),
                json::Serialize(ToApi(*account)), now);
  }));
  authenticator_.Forget(id.str());
  authorizer_.Invalidate(who.org_id);
  return Ok();
}

}  // namespace hangar::identity
