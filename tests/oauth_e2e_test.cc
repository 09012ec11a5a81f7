// The OAuth 2.0 authorisation server end to end, on a real hangard: discovery and JWKS (checked
// with Node's independent JOSE implementation), the device flow, authorisation code + PKCE,
// refresh rotation with reuse detection, client credentials, token attacks, revocation,
// introspection, sign-in lockout, and cross-tenant isolation on every endpoint that takes an id.
#include <gtest/gtest.h>

#include <fstream>

#include "common/crypto.h"
#include "support/hangard_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

constexpr const char* kForm = "application/x-www-form-urlencoded";
constexpr const char* kPassword = "a long enough passphrase";

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Form(std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : "&") + k + "=" + UrlEncode(v);
  return out;
}

class OAuthTest : public HangardFixture {
 protected:
  Response PostForm(const std::string& target, const std::string& body,
                    const std::string& token = {},
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(verb::post, target, token, body, std::move(headers), kForm);
  }
  bj::object Json200(const Response& r, unsigned status = 200) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    auto v = bj::parse(r.body());
    return v.is_object() ? v.as_object() : bj::object{};
  }
  static std::string S(const bj::value& v) { return std::string(v.as_string()); }

  // Invites `email` into the organisation of `admin_token` with `role` and activates them
  // through the invitation page.
  std::string InviteAndActivate(const std::string& admin_token, const std::string& email,
                                const std::string& role) {
    auto inv = Json200(Client().Send(verb::post, "/api/v1/users", admin_token,
                                     R"({"email":")" + email + R"(","role":")" + role + R"("})"),
                       201);
    std::string token = S(inv.at("token"));
    auto page = Client().Send(verb::get, "/login?invitation=" + token);
    EXPECT_EQ(page.result_int(), 200u);
    EXPECT_NE(page.body().find("New password"), std::string::npos);
    auto done = PostForm("/login", Form({{"invitation", token}, {"password", kPassword}}));
    EXPECT_EQ(done.result_int(), 200u) << done.body();
    return S(inv.at("user").at("id"));
  }

  // `hangar login` as the server sees it: device authorisation, approval on the page, polling.
  bj::object DeviceLogin(const std::string& org, const std::string& email,
                         const std::string& password = kPassword) {
    auto start = Json200(PostForm("/oauth/device_authorization",
                                  Form({{"client_id", "hangar-cli"}, {"scope", "*"}})));
    std::string device_code = S(start.at("device_code"));
    auto pending = PostForm("/oauth/token",
                            Form({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                                  {"device_code", device_code},
                                  {"client_id", "hangar-cli"}}));
    EXPECT_EQ(pending.result_int(), 400u);
    EXPECT_EQ(bj::parse(pending.body()).at("error").as_string(), "authorization_pending");
    auto page = Client().Send(verb::get, "/oauth/device?user_code=" + S(start.at("user_code")));
    EXPECT_NE(page.body().find(S(start.at("user_code"))), std::string::npos);
    auto approved = PostForm("/oauth/device", Form({{"user_code", S(start.at("user_code"))},
                                                    {"organization", org},
                                                    {"email", email},
                                                    {"password", password},
                                                    {"decision", "approve"}}));
    EXPECT_EQ(approved.result_int(), 200u) << approved.body();
    return Json200(PostForm("/oauth/token",
                            Form({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                                  {"device_code", device_code},
                                  {"client_id", "hangar-cli"}})));
  }

  std::string OrgName() {
    auto me = Json200(Get("/api/v1/whoami"));
    return S(me.at("organization_name"));
  }
};

TEST_F(OAuthTest, DiscoveryAndJwksDescribeTheServer) {
  auto meta = Json200(Client().Send(verb::get, "/.well-known/openid-configuration"));
  EXPECT_EQ(S(meta.at("issuer")), Url());
  EXPECT_EQ(S(meta.at("token_endpoint")), Url() + "/oauth/token");
  EXPECT_EQ(meta.at("code_challenge_methods_supported").as_array().size(), 1u);
  auto jwks = Json200(Client().Send(verb::get, "/.well-known/jwks.json"));
  ASSERT_GE(jwks.at("keys").as_array().size(), 1u);
  const auto& key = jwks.at("keys").at(0).as_object();
  EXPECT_EQ(S(key.at("kty")), "EC");
  EXPECT_EQ(S(key.at("alg")), "ES256");
  EXPECT_FALSE(key.contains("d"));
}

TEST_F(OAuthTest, DeviceFlowSignsInAndTokensVerifyWithAStandardJoseLibrary) {
  InviteAndActivate(admin_key_, "ada@example.com", "developer");
  auto tokens = DeviceLogin(OrgName(), "ada@example.com");
  std::string access = S(tokens.at("access_token"));
  EXPECT_EQ(S(tokens.at("token_type")), "Bearer");
  EXPECT_TRUE(S(tokens.at("refresh_token")).starts_with("hgt_"));
  auto me = Json200(Client().Send(verb::get, "/api/v1/whoami", access));
  EXPECT_EQ(S(me.at("name")), "ada@example.com");
  EXPECT_EQ(S(me.at("credential_type")), "access_token");
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/nodes", access).result_int(), 200u);
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/audit", access).result_int(), 403u);

  // Node's crypto, with the published JWKS only, accepts the token.
  if (std::system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "no node";
  auto jwks = Client().Send(verb::get, "/.well-known/jwks.json");
  std::filesystem::path file = dir_ / "jwks.json";
  std::ofstream(file) << jwks.body();
  std::string script = std::string(HANGAR_SOURCE_DIR) + "/tests/jwt/verify-jwt.mjs";
  std::string cmd = "node " + script + " " + access + " " + file.string() + " " + Url() +
                    " hangar-api >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST_F(OAuthTest, HangarLoginSignsInThroughTheBrowserPageAndLogoutRevokes) {
  InviteAndActivate(admin_key_, "cli@example.com", "viewer");
  std::filesystem::path home = dir_ / "cli-home";
  std::filesystem::create_directories(home);
  std::vector<std::string> env = {"HOME=" + home.string()};
  Process login("hangar", {"--url", Url(), "login"}, dir_ / "login.log", env);
  std::string user_code;
  ASSERT_TRUE(WaitFor([&] {
    std::string out = ReadFile(dir_ / "login.log");
    auto pos = out.find("confirm code ");
    if (pos == std::string::npos) return false;
    user_code = out.substr(pos + 13, 9);
    return user_code.size() == 9;
  })) << ReadFile(dir_ / "login.log");
  auto approved = PostForm("/oauth/device", Form({{"user_code", user_code},
                                                  {"organization", OrgName()},
                                                  {"email", "cli@example.com"},
                                                  {"password", kPassword},
                                                  {"decision", "approve"}}));
  EXPECT_EQ(approved.result_int(), 200u) << approved.body();
  EXPECT_EQ(login.Wait(std::chrono::seconds(30)), 0) << ReadFile(dir_ / "login.log");

  auto whoami = RunToCompletion("hangar", {"whoami", "-o", "json"}, dir_, env);
  EXPECT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_NE(whoami.output.find("cli@example.com"), std::string::npos) << whoami.output;
  EXPECT_NE(whoami.output.find("access_token"), std::string::npos);
  EXPECT_EQ(RunToCompletion("hangar", {"logout"}, dir_, env).exit_code, 0);
  EXPECT_EQ(RunToCompletion("hangar", {"whoami"}, dir_, env).exit_code, 3);
}

TEST_F(OAuthTest, IdempotencyKeysBelongToTheCallerWhateverTheCredential) {
  InviteAndActivate(admin_key_, "one@example.com", "admin");
  InviteAndActivate(admin_key_, "two@example.com", "admin");
  std::string one = S(DeviceLogin(OrgName(), "one@example.com").at("access_token"));
  std::string two = S(DeviceLogin(OrgName(), "two@example.com").at("access_token"));
  auto post = [&](const std::string& token, const std::string& name) {
    return Client().Send(verb::post, "/api/v1/teams", token, R"({"name":")" + name + R"("})",
                         {{"Idempotency-Key", "same-key"}});
  };
  auto first = Json200(post(one, "first"), 201);
  // Another user's request with the same key is a request of its own, not a replay or a 422.
  auto second = Json200(post(two, "second"), 201);
  EXPECT_NE(S(first.at("id")), S(second.at("id")));
  // The first user's retry replays the stored answer.
  auto again = Json200(post(one, "first"), 201);
  EXPECT_EQ(S(again.at("id")), S(first.at("id")));
}

TEST_F(OAuthTest, DevicePollingTooFastIsToldToSlowDownAndDenialEndsIt) {
  InviteAndActivate(admin_key_, "bob@example.com", "viewer");
  auto start =
      Json200(PostForm("/oauth/device_authorization", Form({{"client_id", "hangar-cli"}})));
  auto poll = [&] {
    return PostForm("/oauth/token",
                    Form({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                          {"device_code", S(start.at("device_code"))},
                          {"client_id", "hangar-cli"}}));
  };
  EXPECT_EQ(bj::parse(poll().body()).at("error").as_string(), "authorization_pending");
  EXPECT_EQ(bj::parse(poll().body()).at("error").as_string(), "slow_down");
  auto denied = PostForm("/oauth/device", Form({{"user_code", S(start.at("user_code"))},
                                                {"organization", OrgName()},
                                                {"email", "bob@example.com"},
                                                {"password", kPassword},
                                                {"decision", "deny"}}));
  EXPECT_EQ(denied.result_int(), 200u);
  EXPECT_EQ(bj::parse(poll().body()).at("error").as_string(), "access_denied");
  EXPECT_EQ(PostForm("/oauth/device_authorization", Form({{"client_id", "evil"}})).result_int(),
            400u);
}

TEST_F(OAuthTest, AuthorizationCodeNeedsTheRightPkceVerifierAndWorksOnce) {
  InviteAndActivate(admin_key_, "carol@example.com", "viewer");
  std::string verifier = Base64UrlEncode(RandomBytes(40));
  std::string challenge = Base64UrlEncode(Sha256Raw(verifier));
  std::string redirect = "http://127.0.0.1:9/callback";
  std::string query =
      "response_type=code&client_id=hangar-cli&redirect_uri=" + UrlEncode(redirect) +
      "&code_challenge=" + challenge + "&code_challenge_method=S256&state=xyz";
  auto page = Client().Send(verb::get, "/oauth/authorize?" + query);
  EXPECT_EQ(page.result_int(), 200u);
  EXPECT_NE(std::string(page[bhttp::field::content_type]).find("text/html"), std::string::npos);
  EXPECT_NE(std::string(page["Content-Security-Policy"]).find("frame-ancestors 'none'"),
            std::string::npos);
  // plain PKCE and foreign redirect URIs are refused without redirecting anywhere.
  auto plain = Client().Send(verb::get,
                             "/oauth/authorize?response_type=code&client_id=hangar-cli"
                             "&redirect_uri=" +
                                 UrlEncode(redirect) + "&code_challenge=" + challenge +
                                 "&code_challenge_method=plain");
  EXPECT_EQ(plain.result_int(), 400u);
  auto evil = Client().Send(verb::get,
                            "/oauth/authorize?response_type=code&client_id=hangar-cli"
                            "&redirect_uri=" +
                                UrlEncode("https://evil.test/cb") + "&code_challenge=" + challenge +
                                "&code_challenge_method=S256");
  EXPECT_EQ(evil.result_int(), 400u);

  auto wrong_password = PostForm("/oauth/authorize", Form({{"response_type", "code"},
                                                           {"client_id", "hangar-cli"},
                                                           {"redirect_uri", redirect},
                                                           {"code_challenge", challenge},
                                                           {"code_challenge_method", "S256"},
                                                           {"state", "xyz"},
                                                           {"organization", OrgName()},
                                                           {"email", "carol@example.com"},
                                                           {"password", "not the password"}}));
  EXPECT_EQ(wrong_password.result_int(), 401u);
  EXPECT_NE(wrong_password.body().find("sign-in failed"), std::string::npos);

  auto signed_in = PostForm("/oauth/authorize", Form({{"response_type", "code"},
                                                      {"client_id", "hangar-cli"},
                                                      {"redirect_uri", redirect},
                                                      {"code_challenge", challenge},
                                                      {"code_challenge_method", "S256"},
                                                      {"state", "xyz"},
                                                      {"organization", OrgName()},
                                                      {"email", "carol@example.com"},
                                                      {"password", kPassword}}));
  ASSERT_EQ(signed_in.result_int(), 303u) << signed_in.body();
  std::string location(signed_in[bhttp::field::location]);
  ASSERT_TRUE(location.starts_with(redirect + "?code=")) << location;
  EXPECT_NE(location.find("state=xyz"), std::string::npos);
  std::string code = location.substr(location.find("code=") + 5);
  code = code.substr(0, code.find('&'));

  auto exchange = [&](const std::string& v) {
    return PostForm("/oauth/token", Form({{"grant_type", "authorization_code"},
                                          {"code", code},
                                          {"redirect_uri", redirect},
                                          {"client_id", "hangar-cli"},
                                          {"code_verifier", v}}));
  };
  auto wrong = exchange(Base64UrlEncode(RandomBytes(40)));
  EXPECT_EQ(wrong.result_int(), 400u);
  EXPECT_EQ(bj::parse(wrong.body()).at("error").as_string(), "invalid_grant");
  auto tokens = Json200(exchange(verifier));
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/whoami", S(tokens.at("access_token"))).result_int(),
            200u);
  EXPECT_EQ(exchange(verifier).result_int(), 400u);  // a code works once
}

TEST_F(OAuthTest, RefreshTokensRotateAndAReplayRevokesTheFamily) {
  InviteAndActivate(admin_key_, "dan@example.com", "viewer");
  auto first = DeviceLogin(OrgName(), "dan@example.com");
  auto refresh = [&](const std::string& token) {
    return PostForm("/oauth/token", Form({{"grant_type", "refresh_token"},
                                          {"refresh_token", token},
                                          {"client_id", "hangar-cli"}}));
  };
  auto second = Json200(refresh(S(first.at("refresh_token"))));
  EXPECT_NE(S(second.at("refresh_token")), S(first.at("refresh_token")));
  // The old refresh token again: a replay. It fails, and so does the newest one.
  auto replay = refresh(S(first.at("refresh_token")));
  EXPECT_EQ(replay.result_int(), 400u);
  EXPECT_NE(replay.body().find("already used"), std::string::npos);
  EXPECT_EQ(refresh(S(second.at("refresh_token"))).result_int(), 400u);
  auto reuse = Json200(Get("/api/v1/audit?type=hangar.audit.token_reuse"));
  EXPECT_EQ(reuse.at("items").as_array().size(), 1u);
  // A refresh token of another client is refused.
  auto third = DeviceLogin(OrgName(), "dan@example.com");
  auto other_client =
      PostForm("/oauth/token", Form({{"grant_type", "refresh_token"},
                                     {"refresh_token", S(third.at("refresh_token"))},
                                     {"client_id", "hangar-portal"}}));
  EXPECT_EQ(other_client.result_int(), 400u);
}

TEST_F(OAuthTest, ClientCredentialsExchangeAServiceAccountKeyForANarrowerToken) {
  auto sa = Json200(Post("/api/v1/service-accounts", R"({"name":"deployer"})"), 201);
  std::string sa_id = S(sa.at("id"));
  Json200(Post("/api/v1/role-bindings", R"({"principal_id":")" + sa_id + R"(","role":"viewer"})"),
          201);
  auto key =
      Json200(Post("/api/v1/api-keys", R"({"name":"ci","owner_id":")" + sa_id + R"("})"), 201);
  std::string secret = S(key.at("secret"));
  // client_secret_basic
  std::string basic = Base64Encode(sa_id + ":" + secret);
  auto token = Json200(PostForm(
      "/oauth/token", Form({{"grant_type", "client_credentials"}, {"scope", "nodes:read"}}), "",
      {{"Authorization", "Basic " + basic}}));
  EXPECT_FALSE(token.contains("refresh_token") && !token.at("refresh_token").is_null());
  std::string access = S(token.at("access_token"));
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/nodes", access).result_int(), 200u);
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/gpus", access).result_int(), 403u);  // scope
  // client_secret_post with a wrong secret
  auto bad = PostForm("/oauth/token", Form({{"grant_type", "client_credentials"},
                                            {"client_id", sa_id},
                                            {"client_secret", "hgr_wrong"}}));
  EXPECT_EQ(bad.result_int(), 401u);
  EXPECT_EQ(bj::parse(bad.body()).at("error").as_string(), "invalid_client");
  auto unsupported = PostForm("/oauth/token", Form({{"grant_type", "password"}}));
  EXPECT_EQ(bj::parse(unsupported.body()).at("error").as_string(), "unsupported_grant_type");
}

TEST_F(OAuthTest, ForgedAndRevokedTokensAreRefused) {
  InviteAndActivate(admin_key_, "eve@example.com", "viewer");
  auto tokens = DeviceLogin(OrgName(), "eve@example.com");
  std::string access = S(tokens.at("access_token"));
  auto parts = [](const std::string& t) {
    size_t a = t.find('.'), b = t.find('.', a + 1);
    return std::tuple{t.substr(0, a), t.substr(a + 1, b - a - 1), t.substr(b + 1)};
  };
  auto [header, payload, signature] = parts(access);
  auto status = [&](const std::string& t) {
    return Client().Send(verb::get, "/api/v1/nodes", t).result_int();
  };
  EXPECT_EQ(status(access), 200u);
  // Tampered signature and tampered payload (another tenant's claims).
  std::string bad_sig = signature;
  bad_sig[5] = bad_sig[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(status(header + "." + payload + "." + bad_sig), 401u);
  auto claims = bj::parse(*Base64UrlDecode(payload)).as_object();
  claims["scope"] = "*";
  claims["sub"] = "user_00000000000000000000000000";
  EXPECT_EQ(status(header + "." + Base64UrlEncode(bj::serialize(claims)) + "." + signature), 401u);
  // alg: none.
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"at+jwt"})");
  EXPECT_EQ(status(none + "." + payload + "."), 401u);
  // HS256 signed with the public key (the JWK as published) as the HMAC secret.
  auto jwks = bj::parse(Client().Send(verb::get, "/.well-known/jwks.json").body());
  std::string kid = S(jwks.at("keys").at(0).at("kid"));
  std::string hs_header = Base64UrlEncode(R"({"alg":"HS256","typ":"at+jwt","kid":")" + kid + "\"}");
  std::string public_jwk = bj::serialize(jwks.at("keys").at(0));
  std::string mac = Base64UrlEncode(HmacSha256(public_jwk, hs_header + "." + payload));
  EXPECT_EQ(status(hs_header + "." + payload + "." + mac), 401u);

  // Revocation (RFC 7009) takes effect at once on this replica.
  EXPECT_EQ(PostForm("/oauth/revoke", Form({{"token", access}})).result_int(), 200u);
  auto revoked = Client().Send(verb::get, "/api/v1/nodes", access);
  EXPECT_EQ(revoked.result_int(), 401u);
  EXPECT_NE(revoked.body().find("revoked"), std::string::npos);
  // Revoking a refresh token revokes its family; unknown tokens are not an error.
  EXPECT_EQ(
      PostForm("/oauth/revoke", Form({{"token", S(tokens.at("refresh_token"))}})).result_int(),
      200u);
  auto refreshed = PostForm("/oauth/token", Form({{"grant_type", "refresh_token"},
                                                  {"refresh_token", S(tokens.at("refresh_token"))},
                                                  {"client_id", "hangar-cli"}}));
  EXPECT_EQ(refreshed.result_int(), 400u);
  EXPECT_EQ(PostForm("/oauth/revoke", Form({{"token", "whatever"}})).result_int(), 200u);
}

TEST_F(OAuthTest, IntrospectionAnswersForTheCallersOrganisationOnly) {
  InviteAndActivate(admin_key_, "fay@example.com", "viewer");
  auto tokens = DeviceLogin(OrgName(), "fay@example.com");
  auto info = Json200(
      PostForm("/oauth/introspect", Form({{"token", S(tokens.at("access_token"))}}), admin_key_));
  EXPECT_TRUE(info.at("active").as_bool());
  EXPECT_EQ(S(info.at("scope")), "*");
  EXPECT_EQ(S(info.at("client_id")), "hangar-cli");
  auto junk = Json200(PostForm("/oauth/introspect", Form({{"token", "junk"}}), admin_key_));
  EXPECT_FALSE(junk.at("active").as_bool());
  EXPECT_EQ(PostForm("/oauth/introspect", Form({{"token", "junk"}})).result_int(), 401u);
}

TEST_F(OAuthTest, RepeatedFailuresLockTheAccountUntilAnAdminUnlocksIt) {
  std::string user = InviteAndActivate(admin_key_, "gus@example.com", "viewer");
  auto attempt = [&](const std::string& password) {
    auto start =
        Json200(PostForm("/oauth/device_authorization", Form({{"client_id", "hangar-cli"}})));
    return PostForm("/oauth/device", Form({{"user_code", S(start.at("user_code"))},
                                           {"organization", OrgName()},
                                           {"email", "gus@example.com"},
                                           {"password", password},
                                           {"decision", "approve"}}))
        .result_int();
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(attempt("wrong password " + std::to_string(i)), 401u);
  EXPECT_EQ(attempt(kPassword), 401u);  // locked: even the right password fails
  auto locked = Json200(Get("/api/v1/users/" + user));
  EXPECT_TRUE(locked.at("locked").as_bool());
  auto failures = Json200(Get("/api/v1/audit?type=hangar.audit.login&actor=" + user));
  EXPECT_GE(failures.at("items").as_array().size(), 6u);
  Json200(Client().Send(verb::patch, "/api/v1/users/" + user, admin_key_, R"({"state":"active"})"));
  EXPECT_EQ(attempt(kPassword), 200u);
}

// Another tenant's objects are 404 on every endpoint that takes an id, in both directions, and
// never appear in lists, the audit log or introspection.
TEST_F(OAuthTest, CrossTenantAccessIsAlways404) {
  // Tenant B, created by the platform administrator, with its own admin signed in by OAuth.
  auto created = Json200(
      Post("/api/v1/organizations", R"({"name":"globex","admin_email":"hank@globex.test"})"), 201);
  std::string org_b = S(created.at("organization").at("id"));
  std::string invitation = S(created.at("admin_invitation").at("token"));
  EXPECT_EQ(
      PostForm("/login", Form({{"invitation", invitation}, {"password", kPassword}})).result_int(),
      200u);
  std::string b = S(DeviceLogin("globex", "hank@globex.test").at("access_token"));
  auto b_post = [&](const std::string& path, const std::string& body) {
    return Json200(Client().Send(verb::post, path, b, body), 201);
  };
  auto team = b_post("/api/v1/teams", R"({"name":"research"})");
  auto project =
      b_post("/api/v1/projects", R"({"name":"x","team_id":")" + S(team.at("id")) + R"("})");
  auto sa = b_post("/api/v1/service-accounts", R"({"name":"bot"})");
  auto key = b_post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + S(sa.at("id")) + R"("})");
  auto role = b_post("/api/v1/roles", R"({"name":"custom","permissions":["nodes:read"]})");
  auto binding = b_post("/api/v1/role-bindings",
                        R"({"principal_id":")" + S(sa.at("id")) + R"(","role":"viewer"})");
  auto invited = b_post("/api/v1/users", R"({"email":"ivy@globex.test"})");
  auto token_b = b_post("/api/v1/nodes/join-tokens", R"({"description":"b"})");
  auto type_b = b_post("/api/v1/gpu-types",
                       R"({"name":"B-GPU","vendor":"nvidia","architecture":"hopper",
                           "product_name":"B GPU","memory_mib":1,"compute_capability":"9.0",
                           "hourly_price_micros":1})");
  auto job_b = b_post("/api/v1/jobs", R"({"project":")" + S(project.at("id")) +
                                          R"(","command":["true"],"hold":true})");
  std::string job = "/api/v1/jobs/" + S(job_b.at("id"));
  auto instance_b = b_post("/api/v1/instances", R"({"project":")" + S(project.at("id")) + R"("})");
  std::string instance = "/api/v1/instances/" + S(instance_b.at("id"));
  auto schedule_b = b_post("/api/v1/schedules", R"({"project":")" + S(project.at("id")) +
                                                    R"(","name":"nightly","cron":"@daily",)"
                                                    R"("job":{"command":["true"]}})");
  std::string schedule = "/api/v1/schedules/" + S(schedule_b.at("id"));

  // Tenant A's admin (the bootstrap key of "default") tries every B id on every verb.
  std::vector<std::pair<verb, std::string>> attempts = {
      {verb::get, "/api/v1/teams/" + S(team.at("id"))},
      {verb::patch, "/api/v1/teams/" + S(team.at("id"))},
      {verb::delete_, "/api/v1/teams/" + S(team.at("id"))},
      {verb::get, "/api/v1/projects/" + S(project.at("id"))},
      {verb::patch, "/api/v1/projects/" + S(project.at("id"))},
      {verb::delete_, "/api/v1/projects/" + S(project.at("id"))},
      {verb::get, "/api/v1/service-accounts/" + S(sa.at("id"))},
      {verb::patch, "/api/v1/service-accounts/" + S(sa.at("id"))},
      {verb::delete_, "/api/v1/service-accounts/" + S(sa.at("id"))},
      {verb::get, "/api/v1/api-keys/" + S(key.at("id"))},
      {verb::post, "/api/v1/api-keys/" + S(key.at("id")) + "/rotate"},
      {verb::delete_, "/api/v1/api-keys/" + S(key.at("id"))},
      {verb::get, "/api/v1/roles/custom"},
      {verb::patch, "/api/v1/roles/custom"},
      {verb::delete_, "/api/v1/roles/custom"},
      {verb::get, "/api/v1/role-bindings/" + S(binding.at("id"))},
      {verb::delete_, "/api/v1/role-bindings/" + S(binding.at("id"))},
      {verb::get, "/api/v1/users/" + S(invited.at("user").at("id"))},
      {verb::patch, "/api/v1/users/" + S(invited.at("user").at("id"))},
      {verb::delete_, "/api/v1/users/" + S(invited.at("user").at("id"))},
      {verb::delete_, "/api/v1/nodes/join-tokens/" + S(token_b.at("id"))},
      {verb::get, "/api/v1/gpu-types/" + S(type_b.at("id"))},
      {verb::patch, "/api/v1/gpu-types/" + S(type_b.at("id"))},
      {verb::get, job},
      {verb::get, job + "/logs"},
      {verb::post, job + "/cancel"},
      {verb::post, job + "/hold"},
      {verb::post, job + "/release"},
      {verb::post, job + "/requeue"},
      {verb::get, instance},
      {verb::get, instance + "/logs"},
      {verb::post, instance + "/start"},
      {verb::post, instance + "/stop"},
      {verb::post, instance + "/terminate"},
      {verb::post, instance + "/extend"},
      {verb::post, instance + "/resize"},
      {verb::post, instance + "/snapshot"},
      {verb::post, instance + "/clone"},
      {verb::post, instance + "/migrate"},
      {verb::delete_, instance},
      {verb::get, schedule},
      {verb::patch, schedule},
      {verb::delete_, schedule},
      {verb::post, schedule + "/trigger"},
      {verb::get, "/api/v1/approval-policies/" + S(project.at("id"))},
      {verb::put, "/api/v1/approval-policies/" + S(project.at("id"))},
      {verb::put, "/api/v1/quotas/" + S(team.at("id"))},
      {verb::put, "/api/v1/quotas/" + S(project.at("id"))},
  };
  // A user admin of tenant A (not the platform administrator) also gets 404 for B's organisation.
  InviteAndActivate(admin_key_, "tenant-a-admin@example.com", "admin");
  std::string a_user = S(DeviceLogin(OrgName(), "tenant-a-admin@example.com").at("access_token"));
  attempts.push_back({verb::get, "/api/v1/organizations/" + org_b});
  attempts.push_back({verb::patch, "/api/v1/organizations/" + org_b});
  for (const std::string& a : {admin_key_, a_user}) {
    for (const auto& [method, path] : attempts) {
      if (a == admin_key_ && path.find("/organizations/") != std::string::npos) continue;
      std::string body = method == verb::get || method == verb::delete_ ? "" : "{}";
      auto r =
          Client().Send(method, path, a, body,
                        {{"Content-Type", method == verb::patch ? "application/merge-patch+json"
                                                                : "application/json"}});
      EXPECT_EQ(r.result_int(), 404u)
          << bhttp::to_string(method) << " " << path << ": " << r.body();
      EXPECT_EQ(r.body().find("globex"), std::string::npos);
    }
  }
  // B's objects stayed as they were.
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/teams/" + S(team.at("id")), b).result_int(), 200u);
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/roles/custom", b).result_int(), 200u);
  EXPECT_EQ(S(Json200(Client().Send(verb::get, job, b)).at("state")), "held");
  EXPECT_EQ(Json200(Client().Send(verb::get, schedule, b)).at("runs_started").as_int64(), 0);
  // Lists do not mix tenants.
  auto me_a = Json200(Client().Send(verb::get, "/api/v1/whoami", a_user));
  std::string org_a = S(me_a.at("organization_id"));
  for (const char* list : {"/api/v1/teams", "/api/v1/projects", "/api/v1/service-accounts",
                           "/api/v1/api-keys", "/api/v1/role-bindings", "/api/v1/users",
                           "/api/v1/gpu-types", "/api/v1/access-review", "/api/v1/jobs"}) {
    auto r = Client().Send(verb::get, list, a_user);
    EXPECT_EQ(r.result_int(), 200u) << list;
    EXPECT_EQ(r.body().find("globex"), std::string::npos) << list;
    EXPECT_EQ(r.body().find(S(team.at("id"))), std::string::npos) << list;
    EXPECT_EQ(r.body().find(S(sa.at("id"))), std::string::npos) << list;
    EXPECT_EQ(r.body().find(S(job_b.at("id"))), std::string::npos) << list;
  }
  // A's audit log holds A's own requests (its failed attempts name B's ids, which A sent), never
  // B's records; B's log holds none of A's.
  for (const auto& [token, org] : {std::pair{a_user, org_a}, std::pair{b, org_b}}) {
    auto audit = Json200(Client().Send(verb::get, "/api/v1/audit?limit=1000", token));
    ASSERT_FALSE(audit.at("items").as_array().empty());
    for (const auto& e : audit.at("items").as_array()) {
      EXPECT_EQ(S(e.at("data").at("tenant")), org);
    }
  }
  // A's event log records that its platform administrator created B, and nothing of B's.
  auto events = Json200(Client().Send(verb::get, "/api/v1/events?limit=1000", a_user));
  for (const auto& e : events.at("items").as_array()) {
    if (bj::serialize(e).find("globex") != std::string::npos) {
      EXPECT_EQ(S(e.at("type")), "hangar.organization.created");
    }
    EXPECT_NE(S(e.at("subject")), S(team.at("id")));
  }
  // B's token means nothing to A's introspection; B's admin gets 404 on A's organisation.
  auto info = Json200(PostForm("/oauth/introspect", Form({{"token", b}}), a_user));
  EXPECT_FALSE(info.at("active").as_bool());
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/organizations/" + org_a, b).result_int(), 404u);
  auto orgs_of_b = Json200(Client().Send(verb::get, "/api/v1/organizations", b));
  EXPECT_EQ(orgs_of_b.at("items").as_array().size(), 1u);
}

}  // namespace
}  // namespace hangar::testing
