// Identity and access end to end, on a real hangard over loopback: users and invitations, service
// accounts, API keys (scopes, allow-lists, expiry policy, rotation, revocation), role bindings at
// each scope, escalation refusal, and the audit log.
#include <gtest/gtest.h>

#include <set>

#include "support/hangard_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

class IdentityTest : public HangardFixture {
 protected:
  Response As(const std::string& key, verb method, const std::string& target,
              const std::string& body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(method, target, key, body, std::move(headers));
  }
  Response Admin(verb method, const std::string& target, const std::string& body = {}) {
    return As(admin_key_, method, target, body);
  }
  bj::object Ok(const Response& r, unsigned status = 200) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    auto v = bj::parse(r.body());
    return v.is_object() ? v.as_object() : bj::object{};
  }
  std::string Str(const bj::object& o, std::string_view key) {
    return std::string(o.at(key).as_string());
  }

  // A service account bound to `role` at organisation scope, and a key for it.
  std::pair<std::string, std::string> ServiceAccountWithKey(const std::string& name,
                                                            const std::string& role,
                                                            const std::string& key_extra = "") {
    auto sa =
        Ok(Admin(verb::post, "/api/v1/service-accounts", R"({"name":")" + name + R"("})"), 201);
    std::string id = Str(sa, "id");
    if (!role.empty()) {
      Ok(Admin(verb::post, "/api/v1/role-bindings",
               R"({"principal_id":")" + id + R"(","role":")" + role + R"("})"),
         201);
    }
    auto key = Ok(Admin(verb::post, "/api/v1/api-keys",
                        R"({"name":"k","owner_id":")" + id + "\"" + key_extra + "}"),
                  201);
    return {id, Str(key, "secret")};
  }

  // Invites a user with `role`, accepts the invitation, and creates a key for them.
  std::pair<std::string, std::string> UserWithKey(const std::string& email,
                                                  const std::string& role) {
    auto inv = Ok(Admin(verb::post, "/api/v1/users",
                        R"({"email":")" + email + R"(","role":")" + role + R"("})"),
                  201);
    std::string user = Str(inv.at("user").as_object(), "id");
    Ok(Client().Send(
        verb::post, "/api/v1/invitations/accept", "",
        R"({"token":")" + Str(inv, "token") + R"(","password":"a long enough passphrase"})"));
    auto key = Ok(
        Admin(verb::post, "/api/v1/api-keys", R"({"name":"k","owner_id":")" + user + R"("})"), 201);
    return {user, Str(key, "secret")};
  }
};

TEST_F(IdentityTest, InvitationActivatesAUserWithAGoodPassword) {
  auto inv = Ok(Admin(verb::post, "/api/v1/users", R"({"email":"Grace@Example.com"})"), 201);
  EXPECT_EQ(inv.at("user").at("email").as_string(), "grace@example.com");
  EXPECT_EQ(inv.at("user").at("state").as_string(), "invited");
  EXPECT_TRUE(Str(inv, "token").starts_with("hgi_"));
  EXPECT_NE(Str(inv, "accept_url").find(Url()), std::string::npos);

  // Weak passwords and bad tokens change nothing.
  auto weak = Client().Send(verb::post, "/api/v1/invitations/accept", "",
                            R"({"token":")" + Str(inv, "token") + R"(","password":"short"})");
  EXPECT_EQ(weak.result_int(), 422u) << weak.body();
  EXPECT_NE(weak.body().find("/password"), std::string::npos);
  auto bad = Client().Send(verb::post, "/api/v1/invitations/accept", "",
                           R"({"token":"hgi_nope","password":"a long enough passphrase"})");
  EXPECT_EQ(bad.result_int(), 422u);
  auto user = Ok(Client().Send(
      verb::post, "/api/v1/invitations/accept", "",
      R"({"token":")" + Str(inv, "token") + R"(","password":"a long enough passphrase"})"));
  EXPECT_EQ(Str(user, "state"), "active");
  // An invitation works once.
  auto again = Client().Send(
      verb::post, "/api/v1/invitations/accept", "",
      R"({"token":")" + Str(inv, "token") + R"(","password":"a long enough passphrase"})");
  EXPECT_EQ(again.result_int(), 422u);
  // The same email cannot be invited twice.
  EXPECT_EQ(Admin(verb::post, "/api/v1/users", R"({"email":"grace@example.com"})").result_int(),
            409u);
}

TEST_F(IdentityTest, KeyScopesNarrowTheOwnersRoles) {
  auto [sa, key] = ServiceAccountWithKey("ci", "developer", R"(,"scopes":["nodes:read"])");
  EXPECT_EQ(As(key, verb::get, "/api/v1/nodes").result_int(), 200u);
  auto gpus = As(key, verb::get, "/api/v1/gpus");  // developer may, the key's scope may not
  EXPECT_EQ(gpus.result_int(), 403u);
  EXPECT_NE(gpus.body().find("scopes"), std::string::npos);
  auto bad_scope = Admin(verb::post, "/api/v1/api-keys",
                         R"({"name":"x","owner_id":")" + sa + R"(","scopes":["nodes:fly"]})");
  EXPECT_EQ(bad_scope.result_int(), 422u);
  EXPECT_NE(bad_scope.body().find("/scopes/0"), std::string::npos);
}

TEST_F(IdentityTest, ChecksumTyposAreRejectedBeforeALookup) {
  auto [sa, key] = ServiceAccountWithKey("typo", "viewer");
  std::string typo = key;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  auto r = As(typo, verb::get, "/api/v1/nodes");
  EXPECT_EQ(r.result_int(), 401u);
  EXPECT_NE(r.body().find("malformed"), std::string::npos) << r.body();
}

TEST_F(IdentityTest, AllowListsRefuseOtherAddresses) {
  auto [sa, elsewhere] = ServiceAccountWithKey(
      "remote", "viewer", R"(,"allowed_cidrs":["10.0.0.0/8","2001:db8::/32"])");
  auto r = As(elsewhere, verb::get, "/api/v1/nodes");
  EXPECT_EQ(r.result_int(), 401u);
  EXPECT_NE(r.body().find("address"), std::string::npos);
  auto local =
      Ok(Admin(verb::post, "/api/v1/api-keys",
               R"({"name":"local","owner_id":")" + sa + R"(","allowed_cidrs":["127.0.0.1/8"]})"),
         201);
  EXPECT_EQ(local.at("allowed_cidrs").at(0).as_string(), "127.0.0.0/8");  // normalised
  EXPECT_EQ(As(Str(local, "secret"), verb::get, "/api/v1/nodes").result_int(), 200u);
  auto bad = Admin(verb::post, "/api/v1/api-keys",
                   R"({"name":"x","owner_id":")" + sa + R"(","allowed_cidrs":["10.0.0.0/33"]})");
  EXPECT_EQ(bad.result_int(), 422u);
  EXPECT_NE(bad.body().find("/allowed_cidrs/0"), std::string::npos);
}

TEST_F(IdentityTest, RotationKeepsTheOldKeyForTheGraceWindowAndRevocationIsImmediate) {
  auto [sa, first] = ServiceAccountWithKey("rotating", "viewer");
  auto [sa2, bystander] = ServiceAccountWithKey("bystander", "viewer");
  auto keys = Ok(Admin(verb::get, "/api/v1/api-keys?owner_id=" + sa));
  std::string first_id = Str(keys.at("items").at(0).as_object(), "id");

  auto second = Ok(Admin(verb::post, "/api/v1/api-keys/" + first_id + "/rotate",
                         R"({"grace_period_seconds":600})"),
                   201);
  std::string second_key = Str(second, "secret");
  EXPECT_EQ(As(first, verb::get, "/api/v1/nodes").result_int(), 200u);  // in its grace window
  EXPECT_EQ(As(second_key, verb::get, "/api/v1/nodes").result_int(), 200u);
  auto old = Ok(Admin(verb::get, "/api/v1/api-keys/" + first_id));
  EXPECT_EQ(Str(old, "state"), "expiring");
  EXPECT_EQ(Str(old, "rotated_to"), Str(second, "id"));
  // A rotated key cannot be rotated again; its successor can, with no grace at all.
  EXPECT_EQ(Admin(verb::post, "/api/v1/api-keys/" + first_id + "/rotate", "{}").result_int(), 409u);
  auto third = Ok(Admin(verb::post, "/api/v1/api-keys/" + Str(second, "id") + "/rotate",
                        R"({"grace_period_seconds":0})"),
                  201);
  EXPECT_EQ(As(second_key, verb::get, "/api/v1/nodes").result_int(), 401u);
  std::string third_key = Str(third, "secret");
  EXPECT_EQ(As(third_key, verb::get, "/api/v1/nodes").result_int(), 200u);

  // Revocation takes effect at once and leaves other keys alone.
  auto revoked = Ok(Admin(verb::delete_, "/api/v1/api-keys/" + Str(third, "id")));
  EXPECT_EQ(Str(revoked, "state"), "revoked");
  EXPECT_EQ(As(third_key, verb::get, "/api/v1/nodes").result_int(), 401u);
  EXPECT_EQ(As(first, verb::get, "/api/v1/nodes").result_int(), 200u);
  EXPECT_EQ(As(bystander, verb::get, "/api/v1/nodes").result_int(), 200u);
}

TEST_F(IdentityTest, TheOrganisationsMaximumKeyAgeIsEnforced) {
  auto org = Ok(Admin(verb::get, "/api/v1/whoami"));
  std::string org_id = Str(org, "organization_id");
  auto patched = Ok(Admin(verb::patch, "/api/v1/organizations/" + org_id,
                          R"({"settings":{"api_key_max_age_days":30}})"));
  EXPECT_EQ(patched.at("settings").at("api_key_max_age_days").as_int64(), 30);
  auto sa = Ok(Admin(verb::post, "/api/v1/service-accounts", R"({"name":"aged"})"), 201);
  auto defaulted = Ok(Admin(verb::post, "/api/v1/api-keys",
                            R"({"name":"k","owner_id":")" + Str(sa, "id") + R"("})"),
                      201);
  EXPECT_FALSE(defaulted.at("expires_at").is_null());  // keys must expire by the maximum age
  auto too_long =
      Admin(verb::post, "/api/v1/api-keys",
            R"({"name":"k","owner_id":")" + Str(sa, "id") + R"(","expires_in_days":90})");
  EXPECT_EQ(too_long.result_int(), 422u);
  EXPECT_NE(too_long.body().find("/expires_in_days"), std::string::npos);
}

TEST_F(IdentityTest, DisablingAnOwnerStopsItsKeysAtOnce) {
  auto [user, key] = UserWithKey("ada@example.com", "viewer");
  EXPECT_EQ(As(key, verb::get, "/api/v1/nodes").result_int(), 200u);
  Ok(Admin(verb::patch, "/api/v1/users/" + user, R"({"state":"disabled"})"));
  EXPECT_EQ(As(key, verb::get, "/api/v1/nodes").result_int(), 401u);
  Ok(Admin(verb::patch, "/api/v1/users/" + user, R"({"state":"active"})"));
  EXPECT_EQ(As(key, verb::get, "/api/v1/nodes").result_int(), 200u);
}

TEST_F(IdentityTest, UsersManageTheirOwnKeysOnly) {
  auto [ada, ada_key] = UserWithKey("ada@example.com", "viewer");
  auto [bob, bob_key] = UserWithKey("bob@example.com", "viewer");
  auto own = Ok(As(ada_key, verb::post, "/api/v1/api-keys", R"({"name":"laptop"})"), 201);
  EXPECT_EQ(Str(own, "owner_id"), ada);
  auto mine = Ok(As(ada_key, verb::get, "/api/v1/api-keys"));
  for (const auto& k : mine.at("items").as_array()) EXPECT_EQ(k.at("owner_id").as_string(), ada);
  // Bob's keys are not Ada's business: not listed, not readable (404), not revocable.
  auto bobs = Ok(Admin(verb::get, "/api/v1/api-keys?owner_id=" + bob));
  std::string bob_key_id = Str(bobs.at("items").at(0).as_object(), "id");
  EXPECT_EQ(As(ada_key, verb::get, "/api/v1/api-keys/" + bob_key_id).result_int(), 404u);
  EXPECT_EQ(As(ada_key, verb::delete_, "/api/v1/api-keys/" + bob_key_id).result_int(), 404u);
  EXPECT_EQ(As(ada_key, verb::get, "/api/v1/api-keys?owner_id=" + bob).result_int(), 403u);
  EXPECT_EQ(As(bob_key, verb::get, "/api/v1/nodes").result_int(), 200u);
  // Creating a key for someone else needs api-keys:create.
  EXPECT_EQ(
      As(ada_key, verb::post, "/api/v1/api-keys", R"({"name":"x","owner_id":")" + bob + R"("})")
          .result_int(),
      403u);
}

TEST_F(IdentityTest, TeamBindingsGrantInTheirTeamOnly) {
  auto a = Ok(Admin(verb::post, "/api/v1/teams", R"({"name":"team-a"})"), 201);
  auto b = Ok(Admin(verb::post, "/api/v1/teams", R"({"name":"team-b"})"), 201);
  auto pb = Ok(Admin(verb::post, "/api/v1/projects",
                     R"({"name":"in-b","team_id":")" + Str(b, "id") + R"("})"),
               201);
  auto [lead, lead_key] = UserWithKey("lead@example.com", "viewer");
  Ok(Admin(verb::post, "/api/v1/role-bindings",
           R"({"principal_id":")" + lead + R"(","role":"admin","scope_type":"team","scope_id":")" +
               Str(a, "id") + R"("})"),
     201);
  // Viewer everywhere, admin of team a: creates projects in a, not in b.
  auto pa = Ok(As(lead_key, verb::post, "/api/v1/projects",
                  R"({"name":"in-a","team_id":")" + Str(a, "id") + R"("})"),
               201);
  EXPECT_EQ(As(lead_key, verb::post, "/api/v1/projects",
               R"({"name":"in-b2","team_id":")" + Str(b, "id") + R"("})")
                .result_int(),
            403u);
  EXPECT_EQ(
      As(lead_key, verb::patch, "/api/v1/projects/" + Str(pa, "id"), R"({"description":"mine"})")
          .result_int(),
      200u);
  EXPECT_EQ(As(lead_key, verb::patch, "/api/v1/projects/" + Str(pb, "id"),
               R"({"description":"not mine"})")
                .result_int(),
            403u);

  // A developer bound to team a only does not see team b at all.
  auto [dev, dev_key] = UserWithKey("dev@example.com", "billing-viewer");
  Ok(Admin(verb::post, "/api/v1/role-bindings",
           R"({"principal_id":")" + dev +
               R"(","role":"developer","scope_type":"project","scope_id":")" + Str(pa, "id") +
               R"("})"),
     201);
  EXPECT_EQ(As(dev_key, verb::get, "/api/v1/projects/" + Str(pa, "id")).result_int(), 200u);
  auto other = Admin(verb::get, "/api/v1/projects/" + Str(pb, "id"));
  EXPECT_EQ(other.result_int(), 200u);
  // billing-viewer reads projects org-wide; as developer on pa only it may not change pb.
  EXPECT_EQ(As(dev_key, verb::delete_, "/api/v1/projects/" + Str(pb, "id")).result_int(), 403u);
}

TEST_F(IdentityTest, NobodyGrantsWhatTheyDoNotHold) {
  auto role = Ok(Admin(verb::post, "/api/v1/roles",
                       R"({"name":"granter","permissions":["role-bindings:create"],
                           "includes":["viewer"]})"),
                 201);
  EXPECT_TRUE(role.at("effective_permissions").as_array().size() > 5);
  auto [granter, granter_key] = UserWithKey("granter@example.com", "granter");
  auto [target, target_key] = UserWithKey("target@example.com", "viewer");
  auto escalate = As(granter_key, verb::post, "/api/v1/role-bindings",
                     R"({"principal_id":")" + target + R"(","role":"admin"})");
  EXPECT_EQ(escalate.result_int(), 403u) << escalate.body();
  auto same = As(granter_key, verb::post, "/api/v1/role-bindings",
                 R"({"principal_id":")" + target + R"(","role":"viewer"})");
  EXPECT_EQ(same.result_int(), 201u) << same.body();
  // Composition cycles and unknown permissions are refused; built-ins are read-only.
  EXPECT_EQ(Admin(verb::patch, "/api/v1/roles/granter", R"({"includes":["granter"]})").result_int(),
            422u);
  EXPECT_EQ(Admin(verb::patch, "/api/v1/roles/admin", R"({"description":"x"})").result_int(), 409u);
  // A role in use cannot be deleted.
  EXPECT_EQ(Admin(verb::delete_, "/api/v1/roles/granter").result_int(), 409u);
}

TEST_F(IdentityTest, TemporaryElevationNeedsAJustificationAndIsAudited) {
  auto [user, key] = UserWithKey("oncall@example.com", "viewer");
  auto missing =
      Admin(verb::post, "/api/v1/role-bindings",
            R"({"principal_id":")" + user + R"(","role":"admin","expires_in_seconds":3600})");
  EXPECT_EQ(missing.result_int(), 422u);
  EXPECT_NE(missing.body().find("/justification"), std::string::npos);
  auto elevated = Ok(Admin(verb::post, "/api/v1/role-bindings",
                           R"({"principal_id":")" + user +
                               R"(","role":"admin","expires_in_seconds":3600,
                                "justification":"INC-42 disk full"})"),
                     201);
  EXPECT_FALSE(elevated.at("expires_at").is_null());
  EXPECT_EQ(As(key, verb::post, "/api/v1/teams", R"({"name":"fixers"})").result_int(), 201u);
  auto events = Ok(Admin(verb::get, "/api/v1/events?type=hangar.role_binding.elevated"));
  ASSERT_EQ(events.at("items").as_array().size(), 1u);
  EXPECT_EQ(events.at("items").at(0).at("data").at("justification").as_string(),
            "INC-42 disk full");
  auto review = Ok(Admin(verb::get, "/api/v1/access-review?principal_id=" + user));
  ASSERT_EQ(review.at("items").as_array().size(), 2u);
  bool saw_elevation = false;
  for (const auto& e : review.at("items").as_array()) {
    EXPECT_EQ(e.at("principal_name").as_string(), "oncall@example.com");
    EXPECT_FALSE(e.at("last_used_at").is_null());
    if (e.at("role").as_string() == "admin") {
      saw_elevation = true;
      EXPECT_EQ(e.at("justification").as_string(), "INC-42 disk full");
    }
  }
  EXPECT_TRUE(saw_elevation);
}

TEST_F(IdentityTest, AuditRecordsWritesDenialsAndFailedAuthentication) {
  auto [user, key] = UserWithKey("audited@example.com", "viewer");
  Ok(Admin(verb::post, "/api/v1/teams", R"({"name":"audited"})"), 201);
  EXPECT_EQ(As(key, verb::post, "/api/v1/teams", R"({"name":"nope"})").result_int(), 403u);
  EXPECT_EQ(As(key, verb::get, "/api/v1/audit").result_int(), 403u);  // viewers do not read it
  std::string bad = key.substr(0, key.size() - 1) + (key.back() == 'a' ? "b" : "a");
  EXPECT_EQ(As(bad, verb::get, "/api/v1/nodes").result_int(), 401u);

  auto denied = Ok(Admin(verb::get, "/api/v1/audit?outcome=denied&actor=" + user));
  ASSERT_EQ(denied.at("items").as_array().size(), 2u);
  auto record = denied.at("items").at(1).at("data").as_object();  // newest first: the POST
  EXPECT_EQ(record.at("method").as_string(), "POST");
  EXPECT_EQ(record.at("operation").as_string(), "createTeam");
  EXPECT_EQ(record.at("permission").as_string(), "teams:create");
  EXPECT_EQ(record.at("status").as_int64(), 403);
  EXPECT_EQ(record.at("source_address").as_string(), "127.0.0.1");
  EXPECT_FALSE(record.at("request_id").as_string().empty());
  EXPECT_FALSE(record.at("tenant").as_string().empty());

  auto writes = Ok(Admin(verb::get, "/api/v1/audit?outcome=success"));
  bool saw_team = false;
  for (const auto& e : writes.at("items").as_array()) {
    saw_team |= e.at("data").at("operation").as_string() == "createTeam";
  }
  EXPECT_TRUE(saw_team);
  // Reads that succeed are not audited; the audit log is not in the event log.
  auto domain = Ok(Admin(verb::get, "/api/v1/events?type=hangar.audit.request"));
  EXPECT_TRUE(domain.at("items").as_array().empty());
}

TEST_F(IdentityTest, AKeysOwnLimitAndTheUsersBucketApply) {
  auto [sa, slow] =
      ServiceAccountWithKey("slow", "viewer", R"(,"rate_limit":{"per_second":1,"burst":1})");
  auto first = As(slow, verb::get, "/api/v1/nodes");
  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_EQ(first["RateLimit-Policy"], "\"per-key\";q=1;w=1");
  auto second = As(slow, verb::get, "/api/v1/nodes");
  EXPECT_EQ(second.result_int(), 429u);
  EXPECT_FALSE(second["Retry-After"].empty());
  EXPECT_NE(second.body().find("rate-limited"), std::string::npos);
  // The owner's other keys are not slowed by this one's limit.
  auto other = Ok(
      Admin(verb::post, "/api/v1/api-keys", R"({"name":"fast","owner_id":")" + sa + R"("})"), 201);
  EXPECT_EQ(As(Str(other, "secret"), verb::get, "/api/v1/nodes").result_int(), 200u);
}

class OrgRateLimitTest : public IdentityTest {
 protected:
  OrgRateLimitTest() { extra_flags_ = {"--auth-cache-ttl", "1ms"}; }
};

TEST_F(OrgRateLimitTest, OrganisationsSetTheirOwnPerUserAndPerProjectLimits) {
  std::string org = Str(Ok(Admin(verb::get, "/api/v1/whoami")), "organization_id");
  auto team = Ok(Admin(verb::post, "/api/v1/teams", R"({"name":"busy"})"), 201);
  auto project = Ok(Admin(verb::post, "/api/v1/projects",
                          R"({"name":"hot","team_id":")" + Str(team, "id") + R"("})"),
                    201);
  Ok(Admin(verb::patch, "/api/v1/organizations/" + org,
           R"({"settings":{"rate_limits":{"per_project":{"per_second":1,"burst":2},
                                          "per_user":{"per_second":1,"burst":3}}}})"));
  auto [user, key] = UserWithKey("busy@example.com", "viewer");
  // The project's bucket: two requests addressed to it, then 429, for any caller.
  std::string path = "/api/v1/projects/" + Str(project, "id");
  EXPECT_EQ(As(key, verb::get, path).result_int(), 200u);
  auto second = As(key, verb::get, path);
  EXPECT_EQ(second.result_int(), 200u);
  EXPECT_EQ(second["RateLimit-Policy"], "\"per-project\";q=2;w=2");
  auto third = As(admin_key_, verb::get, path);
  EXPECT_EQ(third.result_int(), 429u);
  EXPECT_NE(third.body().find("per-project"), std::string::npos);
  // The user's bucket (3) is shared by all their keys: the fourth request is refused.
  auto [user2, key2] = UserWithKey("other@example.com", "viewer");
  auto extra = Ok(
      Admin(verb::post, "/api/v1/api-keys", R"({"name":"second","owner_id":")" + user2 + R"("})"),
      201);
  EXPECT_EQ(As(key2, verb::get, "/api/v1/nodes").result_int(), 200u);
  EXPECT_EQ(As(Str(extra, "secret"), verb::get, "/api/v1/nodes").result_int(), 200u);
  EXPECT_EQ(As(key2, verb::get, "/api/v1/nodes").result_int(), 200u);
  auto refused = As(Str(extra, "secret"), verb::get, "/api/v1/nodes");
  EXPECT_EQ(refused.result_int(), 429u);
  EXPECT_NE(refused.body().find("per-user"), std::string::npos);
}

TEST_F(IdentityTest, EveryAuthenticatedOperationDocumentsItsPermission) {
  auto doc = Ok(Client().Send(verb::get, "/api/v1/openapi.json"));
  int operations = 0;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      const auto& o = op.as_object();
      if (o.contains("security") && o.at("security").as_array().empty()) continue;  // public
      if (o.contains("security")) continue;                                         // join token
      ++operations;
      EXPECT_TRUE(o.contains("description")) << method << " " << path;
      static const std::set<std::string> kSelfService = {"whoami", "listPermissions",
                                                         "oauthIntrospect"};
      if (!kSelfService.contains(std::string(o.at("operationId").as_string()))) {
        EXPECT_TRUE(o.contains("x-hangar-permission")) << method << " " << path;
      }
    }
  }
  EXPECT_GT(operations, 40);
}

}  // namespace
}  // namespace hangar::testing
