// Identity and access commands: whoami, orgs, teams, projects, users, service-accounts, api-keys,
// roles, permissions, role-bindings, access-review and audit. Each maps onto one route of
// routes/identity_routes.cc or routes/event_routes.cc (docs/cli.md lists them).
#include <memory>

#include "cli/session.h"

namespace hangar::cli {

namespace {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

// Removes null members at every depth: in a JSON merge patch (RFC 7396) null means "remove",
// and an unset optional means "unchanged".
boost::json::value StripNulls(boost::json::value v) {
  if (auto* obj = v.if_object()) {
    for (auto it = obj->begin(); it != obj->end();) {
      if (it->value().is_null()) {
        it = obj->erase(it);
      } else {
        it->value() = StripNulls(std::move(it->value()));
        ++it;
      }
    }
  }
  return v;
}

// PATCH with a merge patch whose nested objects carry only the members that were set.
template <typename T, typename Req>
ApiResult<T> MergePatch(ApiClient& c, std::string target, const Req& patch) {
  return c.Call<T>(
      client::HttpRequest{.method = "PATCH",
                          .target = std::move(target),
                          .body = boost::json::serialize(StripNulls(json::Encode(patch))),
                          .content_type = "application/merge-patch+json"});
}

// --grace: a duration as ParseDurationSeconds takes it, or zero ("0", "0s", "0h": no grace).
Result<int64_t> ParseGraceSeconds(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && std::string_view("smhd").find(digits.back()) != std::string_view::npos) {
    digits.remove_suffix(1);
  }
  if (!digits.empty() && digits.find_first_not_of('0') == std::string_view::npos) return 0;
  return ParseDurationSeconds(text);
}

bool Given(const CLI::Option* opt) { return opt->count() > 0; }

// `parent get ID`: GET base/ID.
template <typename T>
void AddGet(CLI::App& parent, Session& s, Action& action, std::string base, std::string help,
            std::string arg = "ID") {
  auto id = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand("get", std::move(help));
  cmd->add_option(arg, *id)->required();
  cmd->callback([&s, &action, id, base] {
    action = [&s, id, base] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Get<T>(base + "/" + UrlEncode(*id)), f);
      });
    };
  });
}

// `parent delete ID`: DELETE base/ID, then "<noun> ID deleted".
void AddDelete(CLI::App& parent, Session& s, Action& action, std::string base, std::string noun,
               std::string help, std::string arg = "ID") {
  auto id = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand("delete", std::move(help));
  cmd->add_option(arg, *id)->required();
  cmd->callback([&s, &action, id, base, noun] {
    action = [&s, id, base, noun] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        auto res = c.Delete(base + "/" + UrlEncode(*id));
        if (!res) return std::unexpected(std::move(res).error());
        return Msg(noun + " " + *id + " deleted");
      });
    };
  });
}

// The answer of api-keys create and rotate: the secret goes to stdout once, a warning to stderr.
ApiResult<std::string> ShowKeyWithSecret(Session& s, const api::ApiKey& key, OutputFormat f,
                                         bool quiet) {
  s.err() << "Warning: the secret of API key " << key.id
          << " is shown only this once and cannot be retrieved again; store it now.\n";
  if (quiet) return key.secret.value_or("") + "\n";
  std::string text = RenderOne(key, f);
  if (f == OutputFormat::kTable) text += "\nSecret: " + key.secret.value_or("") + "\n";
  return text;
}

// The lines that follow an invitation in a table: the token and where to use it, once.
std::string InvitationLines(const api::Invitation& inv) {
  return "\nInvitation token (shown only once): " + inv.token + "\nAccept at: " + inv.accept_url +
         "\nExpires: " + inv.expires_at +
         "\nOr, as the invitee: hangar users accept-invitation --token " + inv.token + "\n";
}

void AddWhoAmI(CLI::App& app, Session& s, Action& action) {
  app.add_subcommand("whoami", "show who you are signed in as: principal, organisation, roles")
      ->callback([&s, &action] {
        action = [&s] {
          return s.WithClient([](ApiClient& c, OutputFormat f) {
            return Rendered(c.Get<api::WhoAmI>("/api/v1/whoami"), f);
          });
        };
      });
}

void AddOrgs(CLI::App& app, Session& s, Action& action) {
  auto* orgs = app.add_subcommand("orgs", "organisations (tenants)")->require_subcommand(1);
  const std::string base = "/api/v1/organizations";
  orgs->add_subcommand("list", "list organisations (yours; all for platform administrators)")
      ->callback([&s, &action, base] {
        action = [&s, base] {
          return s.WithClient([&](ApiClient& c, OutputFormat f) {
            return Rendered(ListAll<api::OrganizationList>(c, base, "", 0), f);
          });
        };
      });
  AddGet<api::Organization>(*orgs, s, action, base, "show an organisation and its policies");

  struct CreateFlags {
    api::CreateOrganizationRequest req;
    std::string display_name;
  };
  auto cf = std::make_shared<CreateFlags>();
  auto* create = orgs->add_subcommand(
      "create", "create an organisation and invite its first admin (platform administrators)");
  create->add_option("NAME", cf->req.name, "unique name; users type it to sign in")->required();
  create->add_option("--admin-email", cf->req.admin_email, "the first admin, invited by email")
      ->required();
  auto* display = create->add_option("--display-name", cf->display_name, "a human-friendly name");
  create->callback([&s, &action, cf, display, base] {
    action = [&s, cf, display, base] {
      if (Given(display)) cf->req.display_name = cf->display_name;
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto created, c.Post<api::CreatedOrganization>(base, cf->req));
        if (f != OutputFormat::kTable) return RenderTree(created, f);
        return RenderOne(created.organization, f) + InvitationLines(created.admin_invitation);
      });
    };
  });

  struct UpdateFlags {
    std::string id, display_name;
    int64_t max_age = 0, max_failures = 0, lockout = 0;
  };
  auto uf = std::make_shared<UpdateFlags>();
  auto* update =
      orgs->add_subcommand("update", "change an organisation's display name or policies");
  update->add_option("ID", uf->id)->required();
  auto* u_display = update->add_option("--display-name", uf->display_name, "new display name");
  auto* u_age = update->add_option("--api-key-max-age-days", uf->max_age,
                                   "API keys may not live longer than N days (0: no limit)");
  auto* u_failures = update->add_option("--login-max-failures", uf->max_failures,
                                        "failed sign-ins in a row before a user is locked");
  auto* u_lockout = update->add_option("--login-lockout-minutes", uf->lockout,
                                       "how long a locked user stays locked");
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateOrganizationRequest patch;
      if (Given(u_display)) patch.display_name = uf->display_name;
      api::OrganizationSettings settings;
      if (Given(u_age)) settings.api_key_max_age_days = uf->max_age;
      if (Given(u_failures)) settings.login_max_failures = uf->max_failures;
      if (Given(u_lockout)) settings.login_lockout_minutes = uf->lockout;
      if (Given(u_age) || Given(u_failures) || Given(u_lockout)) patch.settings = settings;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(MergePatch<api::Organization>(c, base + "/" + UrlEncode(uf->id), patch), f);
      });
    };
  });
}

void AddTeams(CLI::App& app, Session& s, Action& action) {
  auto* teams = app.add_subcommand("teams", "teams (they own projects)")->require_subcommand(1);
  const std::string base = "/api/v1/teams";
  teams->add_subcommand("list", "list the teams you can see")->callback([&s, &action, base] {
    action = [&s, base] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::TeamList>(c, base, "", 0), f);
      });
    };
  });
  AddGet<api::Team>(*teams, s, action, base, "show a team");

  struct Flags {
    std::string id, name, description;
  };
  auto cf = std::make_shared<Flags>();
  auto* create = teams->add_subcommand("create", "create a team");
  create->add_option("NAME", cf->name, "unique in the organisation")->required();
  auto* c_desc = create->add_option("--description", cf->description, "what the team is for");
  create->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateTeamRequest req{.name = cf->name};
      if (Given(c_desc)) req.description = cf->description;
      return s.WithClient(
          [&](ApiClient& c, OutputFormat f) { return Rendered(c.Post<api::Team>(base, req), f); });
    };
  });

  auto uf = std::make_shared<Flags>();
  auto* update = teams->add_subcommand("update", "rename or describe a team");
  update->add_option("ID", uf->id)->required();
  auto* u_name = update->add_option("--name", uf->name, "new name");
  auto* u_desc = update->add_option("--description", uf->description, "new description");
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateTeamRequest patch;
      if (Given(u_name)) patch.name = uf->name;
      if (Given(u_desc)) patch.description = uf->description;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Patch<api::Team>(base + "/" + UrlEncode(uf->id), patch), f);
      });
    };
  });
  AddDelete(*teams, s, action, base, "team", "delete a team that has no projects");
}

void AddProjects(CLI::App& app, Session& s, Action& action) {
  auto* projects = app.add_subcommand("projects", "projects (where work runs; each in a team)")
                       ->require_subcommand(1);
  const std::string base = "/api/v1/projects";
  auto team = std::make_shared<std::string>();
  auto* list = projects->add_subcommand("list", "list the projects you can see");
  list->add_option("--team", *team, "only the projects of this team id");
  list->callback([&s, &action, base, team] {
    action = [&s, base, team] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::ProjectList>(c, base, Param("team_id", *team), 0), f);
      });
    };
  });
  AddGet<api::Project>(*projects, s, action, base, "show a project");

  struct Flags {
    std::string id, name, team, description;
  };
  auto cf = std::make_shared<Flags>();
  auto* create = projects->add_subcommand("create", "create a project in a team");
  create->add_option("NAME", cf->name, "unique in its team")->required();
  create->add_option("--team", cf->team, "the team id (team_…)")->required();
  auto* c_desc = create->add_option("--description", cf->description, "what the project is for");
  create->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateProjectRequest req{.name = cf->name, .team_id = cf->team};
      if (Given(c_desc)) req.description = cf->description;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Post<api::Project>(base, req), f);
      });
    };
  });

  auto uf = std::make_shared<Flags>();
  auto* update = projects->add_subcommand("update", "rename or describe a project");
  update->add_option("ID", uf->id)->required();
  auto* u_name = update->add_option("--name", uf->name, "new name");
  auto* u_desc = update->add_option("--description", uf->description, "new description");
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateProjectRequest patch;
      if (Given(u_name)) patch.name = uf->name;
      if (Given(u_desc)) patch.description = uf->description;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Patch<api::Project>(base + "/" + UrlEncode(uf->id), patch), f);
      });
    };
  });
  AddDelete(*projects, s, action, base, "project", "delete a project");
}

void AddUsers(CLI::App& app, Session& s, Action& action) {
  auto* users = app.add_subcommand("users", "people: invite, disable, enable (unlock), delete")
                    ->require_subcommand(1);
  const std::string base = "/api/v1/users";

  struct ListFlags {
    std::string state, email;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = users->add_subcommand("list", "list users");
  list->add_option("--state", lf->state, "invited, active or disabled")
      ->check(CLI::IsMember({"invited", "active", "disabled"}));
  list->add_option("--email", lf->email, "only the user with this email address");
  list->callback([&s, &action, base, lf] {
    action = [&s, base, lf] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        std::string q = Param("state", lf->state) + Param("email", lf->email);
        return Rendered(ListAll<api::UserList>(c, base, q, 0), f);
      });
    };
  });
  AddGet<api::User>(*users, s, action, base, "show a user");

  struct InviteFlags {
    std::string email, role, display_name;
    int64_t hours = 0;
  };
  auto inf = std::make_shared<InviteFlags>();
  auto* invite = users->add_subcommand(
      "invite", "invite a user by email (the invitation token is shown once)");
  invite->add_option("EMAIL", inf->email)->required();
  auto* i_role =
      invite->add_option("--role", inf->role, "an organisation-wide role to grant, e.g. developer");
  auto* i_display = invite->add_option("--display-name", inf->display_name, "the user's name");
  auto* i_hours = invite->add_option("--expires-in-hours", inf->hours,
                                     "how long the invitation is valid (server default 72)");
  invite->callback([=, &s, &action] {
    action = [=, &s] {
      api::InviteUserRequest req{.email = inf->email};
      if (Given(i_role)) req.role = inf->role;
      if (Given(i_display)) req.display_name = inf->display_name;
      if (Given(i_hours)) req.expires_in_hours = inf->hours;
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto inv, c.Post<api::Invitation>(base, req));
        if (f != OutputFormat::kTable) return RenderTree(inv, f);
        return RenderOne(inv.user, f) + InvitationLines(inv);
      });
    };
  });

  struct UpdateFlags {
    std::string id, display_name, state;
  };
  auto uf = std::make_shared<UpdateFlags>();
  auto* update = users->add_subcommand(
      "update", "rename a user, or disable or enable (which also unlocks) them");
  update->add_option("ID", uf->id)->required();
  auto* u_display = update->add_option("--display-name", uf->display_name, "new display name");
  update->add_option("--state", uf->state, "active or disabled")
      ->check(CLI::IsMember({"active", "disabled"}));
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateUserRequest patch;
      if (Given(u_display)) patch.display_name = uf->display_name;
      if (!uf->state.empty()) patch.state = json::EnumFromName<api::UserState>(uf->state);
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Patch<api::User>(base + "/" + UrlEncode(uf->id), patch), f);
      });
    };
  });
  AddDelete(*users, s, action, base, "user", "delete a user, revoking their keys and roles");

  struct AcceptFlags {
    std::string token, display_name;
    bool password_stdin = false;
  };
  auto af = std::make_shared<AcceptFlags>();
  auto* accept = users->add_subcommand(
      "accept-invitation",
      "accept an invitation: set your password (prompted, or --password-stdin)");
  accept->add_option("--token", af->token, "the invitation token")->required();
  accept->add_flag("--password-stdin", af->password_stdin, "read the password from stdin");
  auto* a_display = accept->add_option("--display-name", af->display_name, "your name");
  accept->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::AcceptInvitationRequest req{.token = af->token};
      if (Given(a_display)) req.display_name = af->display_name;
      if (af->password_stdin) {
        req.password = s.ReadStdin();
        while (!req.password.empty() &&
               (req.password.back() == '\n' || req.password.back() == '\r')) {
          req.password.pop_back();
        }
      } else {
        auto first = s.ReadSecret("Password: ");
        if (!first) return s.Usage(first.error());
        auto again = s.ReadSecret("Repeat the password: ");
        if (!again) return s.Usage(again.error());
        if (*first != *again) return s.Usage(Error::Invalid("the passwords do not match"));
        req.password = *first;
      }
      if (req.password.empty()) return s.Usage(Error::Invalid("the password is empty"));
      return s.WithClient(
          [&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
            HANGAR_ASSIGN_OR_RETURN_API(auto user,
                                        c.Post<api::User>("/api/v1/invitations/accept", req));
            std::string text = RenderOne(user, f);
            if (f == OutputFormat::kTable) {
              text += "\nInvitation accepted. Sign in with: hangar login\n";
            }
            return text;
          },
          Session::Auth::kNone);
    };
  });
}

void AddServiceAccounts(CLI::App& app, Session& s, Action& action) {
  auto* accounts = app.add_subcommand("service-accounts", "non-human principals for automation")
                       ->require_subcommand(1);
  const std::string base = "/api/v1/service-accounts";
  accounts->add_subcommand("list", "list service accounts")->callback([&s, &action, base] {
    action = [&s, base] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::ServiceAccountList>(c, base, "", 0), f);
      });
    };
  });
  AddGet<api::ServiceAccount>(*accounts, s, action, base, "show a service account");

  struct Flags {
    std::string id, name, description, disabled;
  };
  auto cf = std::make_shared<Flags>();
  auto* create = accounts->add_subcommand("create", "create a service account");
  create->add_option("NAME", cf->name, "unique in the organisation")->required();
  auto* c_desc = create->add_option("--description", cf->description, "what it automates");
  create->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateServiceAccountRequest req{.name = cf->name};
      if (Given(c_desc)) req.description = cf->description;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Post<api::ServiceAccount>(base, req), f);
      });
    };
  });

  auto uf = std::make_shared<Flags>();
  auto* update =
      accounts->add_subcommand("update", "rename, describe, disable or enable a service account");
  update->add_option("ID", uf->id)->required();
  auto* u_name = update->add_option("--name", uf->name, "new name");
  auto* u_desc = update->add_option("--description", uf->description, "new description");
  update->add_option("--disabled", uf->disabled, "true: its keys stop working; false: again")
      ->check(CLI::IsMember({"true", "false"}));
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateServiceAccountRequest patch;
      if (Given(u_name)) patch.name = uf->name;
      if (Given(u_desc)) patch.description = uf->description;
      if (!uf->disabled.empty()) patch.disabled = uf->disabled == "true";
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Patch<api::ServiceAccount>(base + "/" + UrlEncode(uf->id), patch), f);
      });
    };
  });
  AddDelete(*accounts, s, action, base, "service account",
            "delete a service account, revoking its keys and roles");
}

void AddApiKeys(CLI::App& app, Session& s, Action& action) {
  auto* keys =
      app.add_subcommand("api-keys", "API keys: create, rotate, revoke")->require_subcommand(1);
  const std::string base = "/api/v1/api-keys";

  auto owner = std::make_shared<std::string>();
  auto* list = keys->add_subcommand("list", "list API keys (secrets are never shown)");
  list->add_option("--owner", *owner, "only the keys of this user or service account id");
  list->callback([&s, &action, base, owner] {
    action = [&s, base, owner] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::ApiKeyList>(c, base, Param("owner_id", *owner), 0), f);
      });
    };
  });
  AddGet<api::ApiKey>(*keys, s, action, base, "show an API key (never its secret)");

  struct CreateFlags {
    std::string name, owner;
    std::vector<std::string> scopes, cidrs;
    int64_t days = 0, rate = 0, burst = 0;
    bool quiet = false;
  };
  auto cf = std::make_shared<CreateFlags>();
  auto* create = keys->add_subcommand("create", "create an API key (the secret is shown once)");
  create->add_option("NAME", cf->name, "what the key is for")->required();
  auto* c_owner =
      create->add_option("--owner", cf->owner, "a service account or user id (default: yourself)");
  auto* c_scopes = create
                       ->add_option("--scope", cf->scopes,
                                    "a permission pattern the key is limited to, e.g. nodes:read "
                                    "(repeatable; default *: all of the owner's permissions)")
                       ->delimiter(',');
  auto* c_cidrs = create
                      ->add_option("--allow-cidr", cf->cidrs,
                                   "only accept the key from these networks (repeatable)")
                      ->delimiter(',');
  auto* c_days = create->add_option("--expires-in-days", cf->days, "lifetime in days");
  auto* c_rate = create->add_option("--rate-limit", cf->rate, "requests per second for this key");
  auto* c_burst = create->add_option("--burst", cf->burst, "burst for --rate-limit")->needs(c_rate);
  create->add_flag("-q,--quiet", cf->quiet, "print only the secret");
  create->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateApiKeyRequest req{.name = cf->name};
      if (Given(c_owner)) req.owner_id = cf->owner;
      if (Given(c_scopes)) req.scopes = cf->scopes;
      if (Given(c_cidrs)) req.allowed_cidrs = cf->cidrs;
      if (Given(c_days)) req.expires_in_days = cf->days;
      if (Given(c_rate)) {
        req.rate_limit = api::RateLimitSetting{.per_second = cf->rate};
        if (Given(c_burst)) req.rate_limit->burst = cf->burst;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto key, c.Post<api::ApiKey>(base, req));
        return ShowKeyWithSecret(s, key, f, cf->quiet);
      });
    };
  });

  struct RotateFlags {
    std::string id, grace;
    bool quiet = false;
  };
  auto rf = std::make_shared<RotateFlags>();
  auto* rotate = keys->add_subcommand(
      "rotate", "issue a successor key now; the old one works until the grace period ends");
  rotate->add_option("ID", rf->id)->required();
  rotate->add_option("--grace", rf->grace,
                     "how long the old key keeps working: 1h, 30m, 86400s, 0 (server default 24h)");
  rotate->add_flag("-q,--quiet", rf->quiet, "print only the new secret");
  rotate->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::RotateApiKeyRequest req;
      if (!rf->grace.empty()) {
        auto grace = ParseGraceSeconds(rf->grace);
        if (!grace) return s.Usage(grace.error());
        req.grace_period_seconds = *grace;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto key, c.Post<api::ApiKey>(base + "/" + UrlEncode(rf->id) + "/rotate", req));
        return ShowKeyWithSecret(s, key, f, rf->quiet);
      });
    };
  });

  auto revoke_id = std::make_shared<std::string>();
  auto* revoke = keys->add_subcommand("revoke", "revoke an API key at once");
  revoke->add_option("ID", *revoke_id)->required();
  revoke->callback([&s, &action, base, revoke_id] {
    action = [&s, base, revoke_id] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Call<api::ApiKey>(client::HttpRequest{
                            .method = "DELETE", .target = base + "/" + UrlEncode(*revoke_id)}),
                        f);
      });
    };
  });
}

void AddRoles(CLI::App& app, Session& s, Action& action) {
  auto* roles = app.add_subcommand("roles", "built-in and custom roles")->require_subcommand(1);
  const std::string base = "/api/v1/roles";
  roles->add_subcommand("list", "list roles with their permissions")->callback([&s, &action, base] {
    action = [&s, base] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::RoleList>(c, base, "", 0), f);
      });
    };
  });
  AddGet<api::Role>(*roles, s, action, base, "show a role and its effective permissions", "NAME");

  struct Flags {
    std::string name, description;
    std::vector<std::string> permissions, includes;
  };
  auto cf = std::make_shared<Flags>();
  auto* create = roles->add_subcommand("create", "create a custom role");
  create->add_option("NAME", cf->name)->required();
  create
      ->add_option("--permission", cf->permissions,
                   "a permission (pattern) it grants, e.g. instances:* (repeatable)")
      ->delimiter(',')
      ->required();
  auto* c_include = create
                        ->add_option("--include", cf->includes,
                                     "a role whose permissions it also grants (repeatable)")
                        ->delimiter(',');
  auto* c_desc = create->add_option("--description", cf->description, "what the role is for");
  create->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateRoleRequest req{.name = cf->name, .permissions = cf->permissions};
      if (Given(c_desc)) req.description = cf->description;
      if (Given(c_include)) req.includes = cf->includes;
      return s.WithClient(
          [&](ApiClient& c, OutputFormat f) { return Rendered(c.Post<api::Role>(base, req), f); });
    };
  });

  auto uf = std::make_shared<Flags>();
  auto* update = roles->add_subcommand(
      "update", "change a custom role (--permission and --include replace the lists)");
  update->add_option("NAME", uf->name)->required();
  auto* u_perm = update
                     ->add_option("--permission", uf->permissions,
                                  "the permissions it grants (repeatable; replaces the list)")
                     ->delimiter(',');
  auto* u_include = update
                        ->add_option("--include", uf->includes,
                                     "the roles it includes (repeatable; replaces the list)")
                        ->delimiter(',');
  auto* u_desc = update->add_option("--description", uf->description, "new description");
  update->callback([=, &s, &action] {
    action = [=, &s] {
      api::UpdateRoleRequest patch;
      if (Given(u_desc)) patch.description = uf->description;
      if (Given(u_perm)) patch.permissions = uf->permissions;
      if (Given(u_include)) patch.includes = uf->includes;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Patch<api::Role>(base + "/" + UrlEncode(uf->name), patch), f);
      });
    };
  });
  AddDelete(*roles, s, action, base, "role", "delete a custom role no binding uses", "NAME");

  auto* permissions =
      app.add_subcommand("permissions", "the permissions roles can grant")->require_subcommand(1);
  permissions->add_subcommand("list", "list every permission")->callback([&s, &action] {
    action = [&s] {
      return s.WithClient([](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto list, c.Get<api::PermissionList>("/api/v1/permissions"));
        return Render(list.items, f);
      });
    };
  });
}

void AddRoleBindings(CLI::App& app, Session& s, Action& action) {
  auto* bindings = app.add_subcommand("role-bindings", "who holds which role where (memberships)")
                       ->require_subcommand(1);
  const std::string base = "/api/v1/role-bindings";

  struct ListFlags {
    std::string principal, role, scope_id;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = bindings->add_subcommand("list", "list role bindings");
  list->add_option("--principal", lf->principal, "only this user or service account id");
  list->add_option("--role", lf->role, "only this role");
  list->add_option("--scope-id", lf->scope_id,
                   "only bindings on this organisation, team or project");
  list->callback([&s, &action, base, lf] {
    action = [&s, base, lf] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        std::string q = Param("principal_id", lf->principal) + Param("role", lf->role) +
                        Param("scope_id", lf->scope_id);
        return Rendered(ListAll<api::RoleBindingList>(c, base, q, 0), f);
      });
    };
  });
  AddGet<api::RoleBinding>(*bindings, s, action, base, "show a role binding");

  struct CreateFlags {
    std::string principal, role, team, project, expires_in, justification;
  };
  auto cf = std::make_shared<CreateFlags>();
  auto* create = bindings->add_subcommand(
      "create",
      "grant a role to a user or service account, organisation-wide or on a team or project");
  create->add_option("--principal", cf->principal, "user_… or sa_…")->required();
  create->add_option("--role", cf->role, "the role's name")->required();
  auto* c_team = create->add_option("--team", cf->team, "grant it on this team only");
  auto* c_project = create->add_option("--project", cf->project, "grant it on this project only");
  c_team->excludes(c_project);
  create->add_option("--expires-in", cf->expires_in,
                     "temporary elevation: the binding lapses after 30m, 2h, 7d...");
  auto* c_just =
      create->add_option("--justification", cf->justification, "why (required with --expires-in)");
  create->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::CreateRoleBindingRequest req{.principal_id = cf->principal, .role = cf->role};
      if (Given(c_team)) {
        req.scope_type = api::ScopeType::team;
        req.scope_id = cf->team;
      } else if (Given(c_project)) {
        req.scope_type = api::ScopeType::project;
        req.scope_id = cf->project;
      }
      if (!cf->expires_in.empty()) {
        auto seconds = ParseDurationSeconds(cf->expires_in);
        if (!seconds) return s.Usage(seconds.error());
        req.expires_in_seconds = *seconds;
      }
      if (Given(c_just)) req.justification = cf->justification;
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Post<api::RoleBinding>(base, req), f);
      });
    };
  });
  AddDelete(*bindings, s, action, base, "role binding", "revoke a role binding");

  auto principal = std::make_shared<std::string>();
  auto* review = app.add_subcommand(
      "access-review", "who holds what, through which binding, and when each last used it");
  review->add_option("--principal", *principal, "only this user or service account id");
  review->callback([&s, &action, principal] {
    action = [&s, principal] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::AccessReview>(c, "/api/v1/access-review",
                                                   Param("principal_id", *principal), 0),
                        f);
      });
    };
  });
}

void AddAudit(CLI::App& app, Session& s, Action& action) {
  auto* audit = app.add_subcommand("audit", "the organisation's audit log")->require_subcommand(1);
  struct Flags {
    int64_t limit = 50;
    std::string actor, outcome, type, subject;
  };
  auto af = std::make_shared<Flags>();
  auto* list = audit->add_subcommand("list", "audit records, newest first");
  list->add_option("--actor", af->actor, "only what this user, service account or key did");
  list->add_option("--outcome", af->outcome, "success, denied or failed")
      ->check(CLI::IsMember({"success", "denied", "failed"}));
  list->add_option("--type", af->type, "only this record type, e.g. hangar.audit.request");
  list->add_option("--subject", af->subject, "only records about this object id or path");
  list->add_option("--limit", af->limit, "show at most N records (default 50)");
  list->callback([&s, &action, af] {
    action = [&s, af] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        std::string q = Param("actor", af->actor) + Param("outcome", af->outcome) +
                        Param("type", af->type) + Param("subject", af->subject);
        HANGAR_ASSIGN_OR_RETURN_API(auto items,
                                    ListAll<api::EventList>(c, "/api/v1/audit", q, af->limit));
        return RenderAudit(items, f);
      });
    };
  });
}

}  // namespace

void AddIdentityCommands(CLI::App& app, Session& s, Action& action) {
  AddWhoAmI(app, s, action);
  AddOrgs(app, s, action);
  AddTeams(app, s, action);
  AddProjects(app, s, action);
  AddUsers(app, s, action);
  AddServiceAccounts(app, s, action);
  AddApiKeys(app, s, action);
  AddRoles(app, s, action);
  AddRoleBindings(app, s, action);
  AddAudit(app, s, action);
}

}  // namespace hangar::cli
