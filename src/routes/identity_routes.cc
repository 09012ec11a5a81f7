// Identity and access routes: organisations, teams, projects, users, service accounts, API keys,
// roles, role bindings, the access review and whoami.
#include "gateway/list_query.h"
#include "identity/views.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Access;
using gateway::Authorize;
using gateway::CreatedResponse;
using gateway::JsonResponse;
using gateway::ListResponse;
using gateway::ObjectResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;
using identity::AccessService;
using identity::DirectoryService;

namespace {

// A response that carries a secret: never stored by caches.
template <typename Body>
http::Response Secret(http::Response response) {
  response.set(http::bhttp::field::cache_control, "no-store");
  return response;
}

template <typename T>
auto ToApiFn() {
  return [](const T& record) { return identity::ToApi(record); };
}

}  // namespace

void AddIdentityRoutes(gateway::Router& router, DirectoryService& directory, AccessService& access,
                       const Clock& clock) {
  // ---- Organisations ----
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/organizations",
      .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto query,
                                gateway::ParseListQuery(ctx.query(), store::OrgListSpec()));
        HANGAR_ASSIGN_OR_RETURN(auto page, directory.ListOrganizations(ctx.principal(), query));
        return ListResponse<api::OrganizationList>(ctx, page, ToApiFn<store::OrgDetailRecord>());
      },
      .permission = "organizations:read",
      .authorize = Authorize::kObject,
      .operation_id = "listOrganizations",
      .summary = "List organisations (yours; every one for platform administrators)",
      .tag = "Organizations",
      .response_body = Schema<api::OrganizationList>(),
      .list = &store::OrgListSpec()});
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/organizations",
      .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateOrganizationRequest>());
        HANGAR_ASSIGN_OR_RETURN(auto created,
                                directory.CreateOrganization(ctx.principal(), request));
        http::Response response = JsonResponse(ctx, 201, created, created.organization.etag);
        response.set(http::bhttp::field::location, created.organization.links["self"]);
        return Secret<api::CreatedOrganization>(std::move(response));
      },
      .permission = "organizations:create",
      .operation_id = "createOrganization",
      .summary = "Create an organisation and invite its first admin (platform administrators)",
      .tag = "Organizations",
      .request_body = Schema<api::CreateOrganizationRequest>(),
      .success_status = 201,
      .response_body = Schema<api::CreatedOrganization>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/organizations/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<OrgId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto org,
                                             directory.GetOrganization(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(org));
                   },
                   .permission = "organizations:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getOrganization",
                   .summary = "Get an organisation and its policies",
                   .tag = "Organizations",
                   .response_body = Schema<api::Organization>()});
  router.Add(
      Route{.method = verb::patch,
            .path = "/api/v1/organizations/{id}",
            .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<OrgId>("id"));
              HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
              HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateOrganizationRequest>());
              HANGAR_ASSIGN_OR_RETURN(
                  auto org, directory.UpdateOrganization(ctx.principal(), id, patch, version));
              return ObjectResponse(ctx, identity::ToApi(org));
            },
            .permission = "organizations:update",
            .authorize = Authorize::kObject,
            .operation_id = "updateOrganization",
            .summary = "Change an organisation's display name or policies (JSON merge patch)",
            .tag = "Organizations",
            .request_body = Schema<api::UpdateOrganizationRequest>(),
            .content_types = {"application/merge-patch+json", "application/json"},
            .response_body = Schema<api::Organization>()});

  // ---- Teams ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/teams",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::TeamListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page,
                                             directory.ListTeams(ctx.principal(), query));
                     return ListResponse<api::TeamList>(ctx, page, ToApiFn<store::TeamRecord>());
                   },
                   .permission = "teams:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "listTeams",
                   .summary = "List the teams you can see",
                   .tag = "Teams",
                   .response_body = Schema<api::TeamList>(),
                   .list = &store::TeamListSpec()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/teams",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateTeamRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto team,
                                             directory.CreateTeam(ctx.principal(), request));
                     auto body = identity::ToApi(team);
                     return CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "teams:create",
                   .operation_id = "createTeam",
                   .summary = "Create a team",
                   .tag = "Teams",
                   .request_body = Schema<api::CreateTeamRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Team>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/teams/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<TeamId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto team, directory.GetTeam(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(team));
                   },
                   .permission = "teams:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getTeam",
                   .summary = "Get a team",
                   .tag = "Teams",
                   .response_body = Schema<api::Team>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/teams/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<TeamId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateTeamRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto team, directory.UpdateTeam(ctx.principal(), id, patch, version));
                     return ObjectResponse(ctx, identity::ToApi(team));
                   },
                   .permission = "teams:update",
                   .authorize = Authorize::kObject,
                   .operation_id = "updateTeam",
                   .summary = "Rename or describe a team (JSON merge patch)",
                   .tag = "Teams",
                   .request_body = Schema<api::UpdateTeamRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::Team>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/teams/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<TeamId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_TRY(directory.DeleteTeam(ctx.principal(), id, version));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "teams:delete",
                   .authorize = Authorize::kObject,
                   .operation_id = "deleteTeam",
                   .summary = "Delete a team that has no projects",
                   .tag = "Teams",
                   .success_status = 204});

  // ---- Projects ----
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/projects",
            .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::ProjectListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, directory.ListProjects(ctx.principal(), query));
              return ListResponse<api::ProjectList>(ctx, page, ToApiFn<store::ProjectRecord>());
            },
            .permission = "projects:read",
            .authorize = Authorize::kObject,
            .operation_id = "listProjects",
            .summary = "List the projects you can see",
            .tag = "Projects",
            .response_body = Schema<api::ProjectList>(),
            .list = &store::ProjectListSpec()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/projects",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateProjectRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto project,
                                             directory.CreateProject(ctx.principal(), request));
                     auto body = identity::ToApi(project);
                     return CreatedResponse(ctx, body, body.links["self"]);
                   },
                   .permission = "projects:create",
                   .authorize = Authorize::kObject,
                   .operation_id = "createProject",
                   .summary = "Create a project in a team",
                   .tag = "Projects",
                   .request_body = Schema<api::CreateProjectRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Project>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/projects/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ProjectId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto project,
                                             directory.GetProject(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(project));
                   },
                   .permission = "projects:read",
                   .authorize = Authorize::kObject,
                   .operation_id = "getProject",
                   .summary = "Get a project",
                   .tag = "Projects",
                   .response_body = Schema<api::Project>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/projects/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ProjectId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateProjectRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto project,
                         directory.UpdateProject(ctx.principal(), id, patch, version));
                     return ObjectResponse(ctx, identity::ToApi(project));
                   },
                   .permission = "projects:update",
                   .authorize = Authorize::kObject,
                   .operation_id = "updateProject",
                   .summary = "Rename or describe a project (JSON merge patch)",
                   .tag = "Projects",
                   .request_body = Schema<api::UpdateProjectRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::Project>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/projects/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ProjectId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_TRY(directory.DeleteProject(ctx.principal(), id, version));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "projects:delete",
                   .authorize = Authorize::kObject,
                   .operation_id = "deleteProject",
                   .summary = "Delete a project",
                   .tag = "Projects",
                   .success_status = 204});

  // ---- Users ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/users",
                   .handler = [&directory, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::UserListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page,
                                             directory.ListUsers(ctx.principal(), query));
                     Timestamp now = clock.Now();
                     return ListResponse<api::UserList>(
                         ctx, page, [now](const auto& u) { return identity::ToApi(u, now); });
                   },
                   .permission = "users:read",
                   .operation_id = "listUsers",
                   .summary = "List users",
                   .tag = "Users",
                   .response_body = Schema<api::UserList>(),
                   .list = &store::UserListSpec()});
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/users",
      .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::InviteUserRequest>());
        HANGAR_ASSIGN_OR_RETURN(auto invitation, directory.InviteUser(ctx.principal(), request));
        http::Response response = JsonResponse(ctx, 201, invitation, invitation.user.etag);
        response.set(http::bhttp::field::location, invitation.user.links["self"]);
        return Secret<api::Invitation>(std::move(response));
      },
      .permission = "users:create",
      .operation_id = "inviteUser",
      .summary = "Invite a user (the invitation token is shown once)",
      .tag = "Users",
      .request_body = Schema<api::InviteUserRequest>(),
      .success_status = 201,
      .response_body = Schema<api::Invitation>()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/invitations/accept",
                   .access = Access::kPublic,
                   .handler = [&directory, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request,
                                             ctx.Body<api::AcceptInvitationRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto user, directory.AcceptInvitation(request));
                     return ObjectResponse(ctx, identity::ToApi(user, clock.Now()));
                   },
                   .operation_id = "acceptInvitation",
                   .summary = "Accept an invitation: set a password and activate the user",
                   .tag = "Users",
                   .request_body = Schema<api::AcceptInvitationRequest>(),
                   .response_body = Schema<api::User>(),
                   .idempotent_post = false});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/users/{id}",
                   .handler = [&directory, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<UserId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto user, directory.GetUser(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(user, clock.Now()));
                   },
                   .permission = "users:read",
                   .authorize = Authorize::kSelf,
                   .operation_id = "getUser",
                   .summary = "Get a user",
                   .tag = "Users",
                   .response_body = Schema<api::User>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/users/{id}",
                   .handler = [&directory, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<UserId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateUserRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto user, directory.UpdateUser(ctx.principal(), id, patch, version));
                     return ObjectResponse(ctx, identity::ToApi(user, clock.Now()));
                   },
                   .permission = "users:update",
                   .operation_id = "updateUser",
                   .summary = "Rename, disable or enable (and unlock) a user (JSON merge patch)",
                   .tag = "Users",
                   .request_body = Schema<api::UpdateUserRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::User>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/users/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<UserId>("id"));
                     HANGAR_TRY(directory.DeleteUser(ctx.principal(), id));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "users:delete",
                   .operation_id = "deleteUser",
                   .summary = "Delete a user, revoking their keys and role bindings",
                   .tag = "Users",
                   .success_status = 204});

  // ---- Service accounts ----
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/service-accounts",
      .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(
            auto query, gateway::ParseListQuery(ctx.query(), store::ServiceAccountListSpec()));
        HANGAR_ASSIGN_OR_RETURN(auto page, directory.ListServiceAccounts(ctx.principal(), query));
        return ListResponse<api::ServiceAccountList>(ctx, page,
                                                     ToApiFn<store::ServiceAccountRecord>());
      },
      .permission = "service-accounts:read",
      .operation_id = "listServiceAccounts",
      .summary = "List service accounts",
      .tag = "Service accounts",
      .response_body = Schema<api::ServiceAccountList>(),
      .list = &store::ServiceAccountListSpec()});
  router.Add(
      Route{.method = verb::post,
            .path = "/api/v1/service-accounts",
            .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateServiceAccountRequest>());
              HANGAR_ASSIGN_OR_RETURN(auto account,
                                      directory.CreateServiceAccount(ctx.principal(), request));
              auto body = identity::ToApi(account);
              return CreatedResponse(ctx, body, body.links["self"]);
            },
            .permission = "service-accounts:create",
            .operation_id = "createServiceAccount",
            .summary = "Create a service account (for automation: API keys and client credentials)",
            .tag = "Service accounts",
            .request_body = Schema<api::CreateServiceAccountRequest>(),
            .success_status = 201,
            .response_body = Schema<api::ServiceAccount>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/service-accounts/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ServiceAccountId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto account,
                                             directory.GetServiceAccount(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(account));
                   },
                   .permission = "service-accounts:read",
                   .authorize = Authorize::kSelf,
                   .operation_id = "getServiceAccount",
                   .summary = "Get a service account",
                   .tag = "Service accounts",
                   .response_body = Schema<api::ServiceAccount>()});
  router.Add(Route{
      .method = verb::patch,
      .path = "/api/v1/service-accounts/{id}",
      .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ServiceAccountId>("id"));
        HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
        HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateServiceAccountRequest>());
        HANGAR_ASSIGN_OR_RETURN(
            auto account, directory.UpdateServiceAccount(ctx.principal(), id, patch, version));
        return ObjectResponse(ctx, identity::ToApi(account));
      },
      .permission = "service-accounts:update",
      .operation_id = "updateServiceAccount",
      .summary = "Rename, describe, disable or enable a service account (JSON merge patch)",
      .tag = "Service accounts",
      .request_body = Schema<api::UpdateServiceAccountRequest>(),
      .content_types = {"application/merge-patch+json", "application/json"},
      .response_body = Schema<api::ServiceAccount>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/service-accounts/{id}",
                   .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ServiceAccountId>("id"));
                     HANGAR_TRY(directory.DeleteServiceAccount(ctx.principal(), id));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "service-accounts:delete",
                   .operation_id = "deleteServiceAccount",
                   .summary = "Delete a service account, revoking its keys and role bindings",
                   .tag = "Service accounts",
                   .success_status = 204});

  // ---- API keys ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/api-keys",
                   .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto query, gateway::ParseListQuery(ctx.query(), store::ApiKeyListSpec()));
                     HANGAR_ASSIGN_OR_RETURN(auto page, access.ListApiKeys(ctx.principal(), query));
                     Timestamp now = clock.Now();
                     return ListResponse<api::ApiKeyList>(
                         ctx, page, [now](const auto& k) { return identity::ToApi(k, now); });
                   },
                   .permission = "api-keys:read",
                   .authorize = Authorize::kSelf,
                   .operation_id = "listApiKeys",
                   .summary = "List API keys (your own; everyone's with api-keys:read)",
                   .tag = "API keys",
                   .response_body = Schema<api::ApiKeyList>(),
                   .list = &store::ApiKeyListSpec()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/api-keys",
                   .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateApiKeyRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto issued,
                                             access.CreateApiKey(ctx.principal(), request));
                     api::ApiKey body = identity::ToApi(issued.record, clock.Now());
                     body.secret = issued.secret;
                     return Secret<api::ApiKey>(CreatedResponse(ctx, body, body.links["self"]));
                   },
                   .permission = "api-keys:create",
                   .authorize = Authorize::kSelf,
                   .operation_id = "createApiKey",
                   .summary = "Create an API key (the secret is shown once)",
                   .tag = "API keys",
                   .request_body = Schema<api::CreateApiKeyRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::ApiKey>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/api-keys/{id}",
                   .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ApiKeyId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto key, access.GetApiKey(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(key, clock.Now()));
                   },
                   .permission = "api-keys:read",
                   .authorize = Authorize::kSelf,
                   .operation_id = "getApiKey",
                   .summary = "Get an API key (never its secret)",
                   .tag = "API keys",
                   .response_body = Schema<api::ApiKey>()});
  router.Add(Route{
      .method = verb::post,
      .path = "/api/v1/api-keys/{id}/rotate",
      .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ApiKeyId>("id"));
        api::RotateApiKeyRequest request;
        if (!ctx.request().body().empty()) {
          HANGAR_ASSIGN_OR_RETURN(request, ctx.Body<api::RotateApiKeyRequest>());
        }
        HANGAR_ASSIGN_OR_RETURN(auto issued, access.RotateApiKey(ctx.principal(), id, request));
        api::ApiKey body = identity::ToApi(issued.record, clock.Now());
        body.secret = issued.secret;
        return Secret<api::ApiKey>(CreatedResponse(ctx, body, body.links["self"]));
      },
      .permission = "api-keys:update",
      .authorize = Authorize::kSelf,
      .operation_id = "rotateApiKey",
      .summary = "Rotate an API key: a successor now, the old key until the grace period ends",
      .tag = "API keys",
      .request_body = Schema<api::RotateApiKeyRequest>(),
      .success_status = 201,
      .response_body = Schema<api::ApiKey>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/api-keys/{id}",
                   .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<ApiKeyId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto key, access.RevokeApiKey(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(key, clock.Now()));
                   },
                   .permission = "api-keys:delete",
                   .authorize = Authorize::kSelf,
                   .operation_id = "revokeApiKey",
                   .summary = "Revoke an API key at once (others are untouched)",
                   .tag = "API keys",
                   .response_body = Schema<api::ApiKey>()});

  // ---- Roles and permissions ----
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/permissions",
                   .handler = [](RequestContext& ctx) -> Result<http::Response> {
                     api::PermissionList list;
                     for (const auto& p : identity::AllPermissions()) {
                       list.items.push_back({p.name, p.description});
                     }
                     return JsonResponse(ctx, 200, list);
                   },
                   .authorize = Authorize::kSelf,
                   .operation_id = "listPermissions",
                   .summary = "Every permission roles can grant",
                   .tag = "Roles",
                   .response_body = Schema<api::PermissionList>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/roles",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto roles, access.ListRoles(ctx.principal()));
                     return JsonResponse(ctx, 200, api::RoleList{std::move(roles), std::nullopt});
                   },
                   .permission = "roles:read",
                   .operation_id = "listRoles",
                   .summary = "List built-in and custom roles with their effective permissions",
                   .tag = "Roles",
                   .response_body = Schema<api::RoleList>()});
  router.Add(Route{.method = verb::post,
                   .path = "/api/v1/roles",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateRoleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(auto role,
                                             access.CreateRole(ctx.principal(), request));
                     return CreatedResponse(ctx, role, role.links["self"]);
                   },
                   .permission = "roles:create",
                   .operation_id = "createRole",
                   .summary = "Create a custom role (permissions and included roles)",
                   .tag = "Roles",
                   .request_body = Schema<api::CreateRoleRequest>(),
                   .success_status = 201,
                   .response_body = Schema<api::Role>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/roles/{name}",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(
                         auto role, access.GetRole(ctx.principal(), ctx.PathParam("name")));
                     return ObjectResponse(ctx, role);
                   },
                   .permission = "roles:read",
                   .operation_id = "getRole",
                   .summary = "Get a role by name",
                   .tag = "Roles",
                   .response_body = Schema<api::Role>()});
  router.Add(Route{.method = verb::patch,
                   .path = "/api/v1/roles/{name}",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto version, ctx.IfMatchVersion());
                     HANGAR_ASSIGN_OR_RETURN(auto patch, ctx.Body<api::UpdateRoleRequest>());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto role,
                         access.UpdateRole(ctx.principal(), ctx.PathParam("name"), patch, version));
                     return ObjectResponse(ctx, role);
                   },
                   .permission = "roles:update",
                   .operation_id = "updateRole",
                   .summary = "Change a custom role (JSON merge patch)",
                   .tag = "Roles",
                   .request_body = Schema<api::UpdateRoleRequest>(),
                   .content_types = {"application/merge-patch+json", "application/json"},
                   .response_body = Schema<api::Role>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/roles/{name}",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_TRY(access.DeleteRole(ctx.principal(), ctx.PathParam("name")));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "roles:delete",
                   .operation_id = "deleteRole",
                   .summary = "Delete a custom role no binding uses",
                   .tag = "Roles",
                   .success_status = 204});

  // ---- Role bindings and the access review ----
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/role-bindings",
            .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(
                  auto query, gateway::ParseListQuery(ctx.query(), store::RoleBindingListSpec()));
              HANGAR_ASSIGN_OR_RETURN(auto page, access.ListBindings(ctx.principal(), query));
              Timestamp now = clock.Now();
              return ListResponse<api::RoleBindingList>(
                  ctx, page, [now](const auto& b) { return identity::ToApi(b, now); });
            },
            .permission = "role-bindings:read",
            .operation_id = "listRoleBindings",
            .summary = "List role bindings (memberships): who holds which role where",
            .tag = "Role bindings",
            .response_body = Schema<api::RoleBindingList>(),
            .list = &store::RoleBindingListSpec()});
  router.Add(
      Route{.method = verb::post,
            .path = "/api/v1/role-bindings",
            .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto request, ctx.Body<api::CreateRoleBindingRequest>());
              HANGAR_ASSIGN_OR_RETURN(auto binding, access.CreateBinding(ctx.principal(), request));
              auto body = identity::ToApi(binding, clock.Now());
              return CreatedResponse(ctx, body, body.links["self"]);
            },
            .permission = "role-bindings:create",
            .authorize = Authorize::kObject,
            .operation_id = "createRoleBinding",
            .summary = "Grant a role at organisation, team or project scope (with an expiry: a "
                       "temporary elevation, which needs a justification)",
            .tag = "Role bindings",
            .request_body = Schema<api::CreateRoleBindingRequest>(),
            .success_status = 201,
            .response_body = Schema<api::RoleBinding>()});
  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/role-bindings/{id}",
                   .handler = [&access, &clock](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<RoleBindingId>("id"));
                     HANGAR_ASSIGN_OR_RETURN(auto binding, access.GetBinding(ctx.principal(), id));
                     return ObjectResponse(ctx, identity::ToApi(binding, clock.Now()));
                   },
                   .permission = "role-bindings:read",
                   .operation_id = "getRoleBinding",
                   .summary = "Get a role binding",
                   .tag = "Role bindings",
                   .response_body = Schema<api::RoleBinding>()});
  router.Add(Route{.method = verb::delete_,
                   .path = "/api/v1/role-bindings/{id}",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<RoleBindingId>("id"));
                     HANGAR_TRY(access.DeleteBinding(ctx.principal(), id));
                     return gateway::EmptyResponse(ctx, 204);
                   },
                   .permission = "role-bindings:delete",
                   .authorize = Authorize::kObject,
                   .operation_id = "deleteRoleBinding",
                   .summary = "Revoke a role binding",
                   .tag = "Role bindings",
                   .success_status = 204});
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/access-review",
      .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto query,
                                gateway::ParseListQuery(ctx.query(), store::RoleBindingListSpec()));
        HANGAR_ASSIGN_OR_RETURN(auto review, access.AccessReview(ctx.principal(), query));
        http::Response response = JsonResponse(ctx, 200, review);
        if (review.next_page_token) {
          response.set(
              http::bhttp::field::link,
              "<" + gateway::NextPageLink(ctx, *review.next_page_token) + ">; rel=\"next\"");
        }
        return response;
      },
      .permission = "access-review:read",
      .operation_id = "getAccessReview",
      .summary = "Who holds what, through which binding, and when each principal last used it",
      .tag = "Role bindings",
      .response_body = Schema<api::AccessReview>(),
      .list = &store::RoleBindingListSpec()});

  router.Add(Route{.method = verb::get,
                   .path = "/api/v1/whoami",
                   .handler = [&access](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto me, access.WhoAmI(ctx.principal()));
                     return JsonResponse(ctx, 200, me);
                   },
                   .authorize = Authorize::kSelf,
                   .operation_id = "whoami",
                   .summary = "The caller: principal, organisation, credential, scopes, roles",
                   .tag = "Users",
                   .response_body = Schema<api::WhoAmI>()});
}

}  // namespace hangar::routes
