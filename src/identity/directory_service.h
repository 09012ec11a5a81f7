// DirectoryService: the tenancy tree and its members — organisations, teams, projects, users
// (invitation, acceptance, disabling) and service accounts.
//
// Every method takes the calling Principal and authorises through the Authorizer (rbac.h) once
// it knows where the object sits: team and project objects are checked at their own scope, so a
// binding on one team grants nothing on another. Objects of another organisation, and objects
// the caller may not read, are kNotFound. Every change appends its event in its transaction.
//
// Thread-safety: thread-safe; state lives in the store.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "api/identity_types.h"
#include "common/clock.h"
#include "identity/authenticator.h"
#include "identity/passwords.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/identity_repos.h"
#include "store/store.h"

namespace hangar::identity {

struct DirectoryOptions {
  std::string public_url = "http://127.0.0.1:8080";  // for invitation links
  PasswordHashParams password_hashing;
};

class DirectoryService {
 public:
  DirectoryService(store::Store& store, const Clock& clock, Authorizer& authorizer,
                   Authenticator& authenticator, DirectoryOptions options);

  // ---- Organisations ----
  // Platform administrators (the bootstrap key) only: the organisation plus an invitation for its
  // first admin, bound to the admin role.
  Result<api::CreatedOrganization> CreateOrganization(const Principal& who,
                                                      const api::CreateOrganizationRequest& r);
  Result<store::OrgDetailRecord> GetOrganization(const Principal& who, const OrgId& id);
  Result<store::Page<store::OrgDetailRecord>> ListOrganizations(const Principal& who,
                                                                const store::ListQuery& query);
  Result<store::OrgDetailRecord> UpdateOrganization(const Principal& who, const OrgId& id,
                                                    const api::UpdateOrganizationRequest& patch,
                                                    std::optional<int64_t> if_match);
  // Where users reach hangard, for invitation links; set once the listener is bound.
  void SetPublicUrl(std::string url);

  // The caller's organisation settings with defaults (rate limits, key age, lockout policy).
  Result<api::OrganizationSettings> SettingsOf(const OrgId& org);

  // ---- Teams ----
  Result<store::TeamRecord> CreateTeam(const Principal& who, const api::CreateTeamRequest& r);
  Result<store::TeamRecord> GetTeam(const Principal& who, const TeamId& id);
  Result<store::Page<store::TeamRecord>> ListTeams(const Principal& who,
                                                   const store::ListQuery& query);
  Result<store::TeamRecord> UpdateTeam(const Principal& who, const TeamId& id,
                                       const api::UpdateTeamRequest& patch,
                                       std::optional<int64_t> if_match);
  // kConflict while the team has projects.
  Status DeleteTeam(const Principal& who, const TeamId& id, std::optional<int64_t> if_match);

  // ---- Projects ----
  Result<store::ProjectRecord> CreateProject(const Principal& who,
                                             const api::CreateProjectRequest& r);
  Result<store::ProjectRecord> GetProject(const Principal& who, const ProjectId& id);
  Result<store::Page<store::ProjectRecord>> ListProjects(const Principal& who,
                                                         const store::ListQuery& query);
  Result<store::ProjectRecord> UpdateProject(const Principal& who, const ProjectId& id,
                                             const api::UpdateProjectRequest& patch,
                                             std::optional<int64_t> if_match);
  Status DeleteProject(const Principal& who, const ProjectId& id, std::optional<int64_t> if_match);

  // ---- Users ----
  Result<api::Invitation> InviteUser(const Principal& who, const api::InviteUserRequest& r);
  // Public: the invitee sets a password; the user becomes active.
  Result<store::UserRecord> AcceptInvitation(const api::AcceptInvitationRequest& r);
  Result<store::UserRecord> GetUser(const Principal& who, const UserId& id);
  Result<store::Page<store::UserRecord>> ListUsers(const Principal& who,
                                                   const store::ListQuery& query);
  Result<store::UserRecord> UpdateUser(const Principal& who, const UserId& id,
                                       const api::UpdateUserRequest& patch,
                                       std::optional<int64_t> if_match);
  // Revokes the user's keys and bindings too. A caller cannot delete itself.
  Status DeleteUser(const Principal& who, const UserId& id);

  // ---- Service accounts ----
  Result<store::ServiceAccountRecord> CreateServiceAccount(
      const Principal& who, const api::CreateServiceAccountRequest& r);
  Result<store::ServiceAccountRecord> GetServiceAccount(const Principal& who,
                                                        const ServiceAccountId& id);
  Result<store::Page<store::ServiceAccountRecord>> ListServiceAccounts(
      const Principal& who, const store::ListQuery& query);
  Result<store::ServiceAccountRecord> UpdateServiceAccount(
      const Principal& who, const ServiceAccountId& id,
      const api::UpdateServiceAccountRequest& patch, std::optional<int64_t> if_match);
  Status DeleteServiceAccount(const Principal& who, const ServiceAccountId& id);

 private:
  Status Emit(store::Tx& tx, const Principal& who, std::string type, std::string subject,
              std::string data_json, Timestamp now);
  // A new invitation for `user` (secret returned once, hash stored on the record).
  api::Invitation MakeInvitation(store::UserRecord& user, int64_t hours, Timestamp now);

  store::Store& store_;
  const Clock& clock_;
  Authorizer& authorizer_;
  Authenticator& authenticator_;
  const DirectoryOptions options_;
  mutable std::mutex public_url_mutex_;
  std::string public_url_;  // guarded by public_url_mutex_
};

// Name rules shared by the identity services: lowercase letters, digits and '-', 1-63
// characters, starting with a letter or digit (usable in URLs, CLIs and labels).
void CheckName(Error& invalid, std::string_view pointer, std::string_view name);
// A plausible email address, lowercased.
std::optional<std::string> NormaliseEmail(std::string_view email);

}  // namespace hangar::identity
