#include "cli/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "cli/config.h"
#include "cli/output.h"
#include "cli/session.h"
#include "client/test_server.h"

namespace hangar::cli {
namespace {

namespace fs = std::filesystem;
using hangar::testing::TestServer;

api::Gpu SampleGpu() {
  return api::Gpu{.id = "gpu_1",
                  .node_id = "node_1",
                  .index = 3,
                  .gpu_type = "H100-80GB",
                  .memory_mib = 81559,
                  .state = api::GpuState::ready};
}

TEST(OutputTest, GpuTableIsAligned) {
  std::string table = Render(std::vector<api::Gpu>{SampleGpu()}, OutputFormat::kTable);
  EXPECT_EQ(table,
            "ID      NODE     INDEX   TYPE        MEMORY (GiB)   STATE\n"
            "gpu_1   node_1   3       H100-80GB   79.6           ready\n");
}

TEST(OutputTest, NodeAndGpuTypeTables) {
  api::Node n{.id = "node_1",
              .name = "gpu-01",
              .cordoned = true,
              .labels = {{"zone", "a"}},
              .gpu_count = 8};
  std::string nodes = Render(std::vector<api::Node>{n}, OutputFormat::kTable);
  EXPECT_NE(nodes.find("LAST HEARTBEAT"), std::string::npos);
  EXPECT_NE(nodes.find("node_1   gpu-01   ready   yes        8      zone=a   -"), std::string::npos)
      << nodes;
  api::GpuType t{.id = "gput_1",
                 .name = "L4",
                 .vendor = "nvidia",
                 .architecture = "ada",
                 .product_name = "NVIDIA L4",
                 .memory_mib = 23034,
                 .compute_capability = "8.9",
                 .hourly_price_micros = 490000,
                 .currency = "USD"};
  std::string types = Render(std::vector<api::GpuType>{t}, OutputFormat::kTable);
  EXPECT_NE(types.find("0.49 USD"), std::string::npos) << types;
}

TEST(OutputTest, JsonListIsAnArrayOfItemsAndGetIsAnObject) {
  std::string list = Render(std::vector<api::Gpu>{SampleGpu()}, OutputFormat::kJson);
  auto v = boost::json::parse(list);
  ASSERT_TRUE(v.is_array());
  EXPECT_EQ(v.as_array()[0].as_object().at("id"), "gpu_1");
  auto one = boost::json::parse(RenderOne(SampleGpu(), OutputFormat::kJson));
  ASSERT_TRUE(one.is_object());
  EXPECT_EQ(one.as_object().at("memory_mib"), 81559);
}

TEST(OutputTest, YamlKeepsTypes) {
  boost::json::value v = boost::json::parse(
      R"({"a":"true","b":"12","c":12,"d":null,"e":["x"],"f":"","g":"hello","h":false})");
  std::string yaml = ToYaml(v);
  EXPECT_EQ(yaml, "a: \"true\"\nb: \"12\"\nc: 12\nd: ~\ne:\n  - x\nf: \"\"\ng: hello\nh: false\n");
}

TEST(PriceTest, ParsesDecimalsExactly) {
  EXPECT_EQ(ParsePriceMicros("2.49"), 2'490'000);
  EXPECT_EQ(ParsePriceMicros("0.000001"), 1);
  EXPECT_EQ(ParsePriceMicros("12"), 12'000'000);
  EXPECT_EQ(ParsePriceMicros("0.1"), 100'000);
  EXPECT_EQ(ParsePriceMicros("4.10"), 4'100'000);
  for (std::string_view bad : {"", "-1", "1.", ".5", "1.0000001", "1e3", "abc", "1,5", "1.2.3"}) {
    EXPECT_FALSE(ParsePriceMicros(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatPriceMicros(2'490'000), "2.49");
  EXPECT_EQ(FormatPriceMicros(2'000'000), "2.00");
  EXPECT_EQ(FormatPriceMicros(1), "0.000001");
}

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(ParseDurationSeconds("24h"), 86400);
  EXPECT_EQ(ParseDurationSeconds("30m"), 1800);
  EXPECT_EQ(ParseDurationSeconds("7d"), 604800);
  EXPECT_EQ(ParseDurationSeconds("90"), 90);
  EXPECT_FALSE(ParseDurationSeconds("h").has_value());
  EXPECT_FALSE(ParseDurationSeconds("-1h").has_value());
  EXPECT_FALSE(ParseDurationSeconds("1w").has_value());
}

TEST(ErrorTest, RendersProblemAndMapsExitCodes) {
  client::ApiError e{Error::Invalid("x"), 422,
                     api::Problem{.title = "Invalid argument",
                                  .status = 422,
                                  .detail = "the body is wrong",
                                  .request_id = "req_1",
                                  .hint = "see docs",
                                  .errors = std::vector<api::ProblemField>{{"/name", "too long"}}}};
  EXPECT_EQ(RenderError(e),
            "Error: Invalid argument (HTTP 422): the body is wrong\n  - /name: too long\n"
            "Hint: see docs\nRequest ID: req_1\n");
  EXPECT_EQ(ExitCodeFor(e), 5);
  e.http_status = 401;
  EXPECT_EQ(ExitCodeFor(e), 3);
  e.http_status = 403;
  EXPECT_EQ(ExitCodeFor(e), 3);
  e.http_status = 404;
  EXPECT_EQ(ExitCodeFor(e), 4);
  e.http_status = 409;
  EXPECT_EQ(ExitCodeFor(e), 5);
  e.http_status = 500;
  EXPECT_EQ(ExitCodeFor(e), 6);
  EXPECT_EQ(ExitCodeFor(client::ApiError::FromError(Error::Unavailable("down"))), 6);
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-cli-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { fs::remove_all(home_); }
  Env MakeEnv(std::map<std::string, std::string> vars) {
    vars["HOME"] = home_.string();
    return [vars](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
  fs::path home_;
};

TEST_F(ConfigTest, WriteReadWithMode0600InHome) {
  Env env = MakeEnv({});
  fs::path path = ConfigPath("", env);
  EXPECT_EQ(path, home_ / ".config" / "hangar" / "config.yaml");
  CliConfig cfg{.current_context = "local",
                .contexts = {{"local", {"http://localhost:8080", "hgr_a"}},
                             {"prod", {"http://prod:80", "hgr_b"}}}};
  ASSERT_TRUE(SaveConfig(path, cfg).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto loaded = LoadConfig(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->current_context, "local");
  EXPECT_EQ(loaded->contexts.at("prod").token, "hgr_b");
}

TEST_F(ConfigTest, PrecedenceIsFlagThenEnvThenFile) {
  CliConfig cfg{.current_context = "local", .contexts = {{"local", {"http://file", "file-tok"}}}};
  auto c = ResolveConnection({}, MakeEnv({}), cfg);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->url, "http://file");
  EXPECT_EQ(c->token, "file-tok");

  Env env = MakeEnv({{"HANGAR_URL", "http://env"}, {"HANGAR_TOKEN", "env-tok"}});
  c = ResolveConnection({}, env, cfg);
  EXPECT_EQ(c->url, "http://env");
  EXPECT_EQ(c->token, "env-tok");

  c = ResolveConnection({.url = "http://flag", .token = "flag-tok"}, env, cfg);
  EXPECT_EQ(c->url, "http://flag");
  EXPECT_EQ(c->token, "flag-tok");

  std::ofstream(home_ / "tok") << "file-flag-tok\n";
  c = ResolveConnection({.token_file = (home_ / "tok").string()}, env, cfg);
  EXPECT_EQ(c->token, "file-flag-tok");

  auto none = ResolveConnection({}, MakeEnv({}), CliConfig{});
  ASSERT_FALSE(none.has_value());
  EXPECT_FALSE(none.error().hint().empty());
}

// Runs the CLI in-process with a fake environment.
int RunHangar(std::vector<std::string> args, const Env& env, std::string* out, std::string* err,
              const CliIo& io = {}) {
  std::vector<const char*> argv{"hangar"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  int code = RunCli(static_cast<int>(argv.size()), argv.data(), o, e, env, io);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST_F(ConfigTest, ConfigCommandsAndAListFollowingPages) {
  std::string out, err;
  Env env = MakeEnv({});
  ASSERT_EQ(RunHangar({"config", "set-context", "local", "--url", "http://x:1", "--token", "t"},
                      env, &out, &err),
            0)
      << err;
  ASSERT_EQ(RunHangar({"config", "current-context"}, env, &out, &err), 0);
  EXPECT_EQ(out, "local\n");
  EXPECT_EQ(RunHangar({"config", "use-context", "nope"}, env, &out, &err), 4);

  std::vector<std::string> targets;
  std::string auth;
  TestServer server([&](const TestServer::Request& req) {
    targets.emplace_back(req.target());
    auth = std::string(req[boost::beast::http::field::authorization]);
    api::GpuList page;
    page.items.push_back(SampleGpu());
    if (req.target().find("page_token") == std::string::npos) page.next_page_token = "p2";
    return TestServer::Json(200, json::Serialize(page));
  });
  ASSERT_EQ(RunHangar({"--url", server.url(), "-o", "json", "gpus", "list", "--state", "ready"},
                      env, &out, &err),
            0)
      << err;
  ASSERT_EQ(targets.size(), 2u);
  // GPUs are listed by node and index unless --sort says otherwise.
  EXPECT_EQ(targets[0], "/api/v1/gpus?state=ready&sort=node_id%2Cindex");
  EXPECT_EQ(targets[1], "/api/v1/gpus?state=ready&sort=node_id%2Cindex&page_token=p2");
  EXPECT_EQ(auth, "Bearer t");  // URL from the flag, token from the current context
  EXPECT_EQ(boost::json::parse(out).as_array().size(), 2u);

  EXPECT_EQ(RunHangar({"--url", server.url(), "gpus", "list", "--limit", "1"}, env, &out, &err), 0);
  EXPECT_EQ(targets.back(), "/api/v1/gpus?sort=node_id%2Cindex&limit=1");
  size_t before = targets.size();
  EXPECT_EQ(RunHangar({"--url", server.url(), "gpus", "list", "--sort", "-index"}, env, &out, &err),
            0);
  ASSERT_GT(targets.size(), before);
  EXPECT_EQ(targets[before], "/api/v1/gpus?sort=-index");
  EXPECT_EQ(RunHangar({"gpus", "frobnicate"}, env, &out, &err), 2);
  EXPECT_EQ(RunHangar({"gpu-types", "create", "--name", "x", "--vendor", "nvidia", "--architecture",
                       "ada", "--product-name", "p", "--memory-mib", "1", "--compute-capability",
                       "8.9", "--hourly-price", "1.2345678"},
                      env, &out, &err),
            2);
}

TEST_F(ConfigTest, UnreachableServerExitsSix) {
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  std::string out, err;
  EXPECT_EQ(RunHangar({"--url", "http://127.0.0.1:" + std::to_string(port), "nodes", "list"},
                      MakeEnv({}), &out, &err),
            6);
  EXPECT_NE(err.find("cannot reach hangard"), std::string::npos) << err;
}

// ---- Identity commands, login and token refresh -------------------------------------------------

// One request as the test server saw it.
struct Seen {
  std::string method, target, content_type, body, auth;
};

// A TestServer that records every request; `handler` answers them.
class RecordingServer {
 public:
  using Handler = std::function<TestServer::Response(const Seen&)>;
  explicit RecordingServer(Handler handler)
      : handler_(std::move(handler)), server_([this](const TestServer::Request& req) {
          namespace http = boost::beast::http;
          Seen seen{std::string(req.method_string()), std::string(req.target()),
                    std::string(req[http::field::content_type]), req.body(),
                    std::string(req[http::field::authorization])};
          {
            std::lock_guard lock(mu_);
            seen_.push_back(seen);
          }
          return handler_(seen);
        }) {}
  std::string url() const { return server_.url(); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // The requests to `target` (path and query).
  std::vector<Seen> To(const std::string& target) {
    std::vector<Seen> out;
    for (auto& s : seen()) {
      if (s.target == target) out.push_back(s);
    }
    return out;
  }

 private:
  Handler handler_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  TestServer server_;
};

api::ApiKey SampleKey() {
  return api::ApiKey{.id = "key_1",
                     .name = "ci",
                     .owner_type = "service_account",
                     .owner_id = "sa_1",
                     .prefix = "hgr_ab",
                     .secret = "hgr_abcdef123",
                     .scopes = {"nodes:read", "gpus:read"},
                     .state = api::ApiKeyState::active};
}

api::WhoAmI SampleMe() {
  return api::WhoAmI{.principal_type = "user",
                     .principal_id = "user_1",
                     .name = "ada@example.com",
                     .organization_id = "org_1",
                     .organization_name = "acme",
                     .credential_type = "api_key",
                     .credential_id = "key_1",
                     .scopes = {"*"}};
}

const Timestamp kT0 = FromUnixMicros(1'800'000'000'000'000);

TEST_F(ConfigTest, OldConfigFilesStillLoadAndTokensRoundTrip) {
  fs::path path = home_ / "old.yaml";
  std::ofstream(path) << "current-context: local\ncontexts:\n  local: {url: http://x, token: t}\n";
  auto old = LoadConfig(path);
  ASSERT_TRUE(old.has_value()) << old.error().ToString();
  EXPECT_EQ(old->contexts.at("local").token, "t");
  EXPECT_TRUE(old->contexts.at("local").refresh_token.empty());
  EXPECT_FALSE(old->contexts.at("local").token_expires_at.has_value());
  ASSERT_TRUE(SaveConfig(path, *old).has_value());
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str().find("refresh"), std::string::npos) << text.str();

  old->contexts["sso"] = {"http://y", "at", "rt", kT0};
  ASSERT_TRUE(SaveConfig(path, *old).has_value());
  auto loaded = LoadConfig(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->contexts.at("sso").refresh_token, "rt");
  EXPECT_EQ(loaded->contexts.at("sso").token_expires_at, kT0);
}

TEST(FormEncodeTest, EncodesLikeABrowser) {
  EXPECT_EQ(client::FormEncode({{"client_id", "hangar-cli"}, {"scope", "*"}}),
            "client_id=hangar-cli&scope=*");
  EXPECT_EQ(client::FormEncode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                                {"x", "a b&c=d/é"}}),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&x=a+b%26c%3Dd%2F%C3%"
            "A9");
}

TEST_F(ConfigTest, ApiKeysCreatePrintsTheSecretOnceAndSendsTheRequest) {
  RecordingServer server(
      [](const Seen&) { return TestServer::Json(201, json::Serialize(SampleKey())); });
  std::string out, err;
  ASSERT_EQ(RunHangar({"--url",
                       server.url(),
                       "--token",
                       "t",
                       "api-keys",
                       "create",
                       "ci",
                       "--owner",
                       "sa_1",
                       "--scope",
                       "nodes:read",
                       "--scope",
                       "gpus:read",
                       "--allow-cidr",
                       "10.0.0.0/8,192.168.0.0/16",
                       "--expires-in-days",
                       "30",
                       "--rate-limit",
                       "5",
                       "--burst",
                       "10"},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/api/v1/api-keys");
  EXPECT_EQ(
      boost::json::parse(seen[0].body),
      boost::json::parse(R"({"name":"ci","owner_id":"sa_1","scopes":["nodes:read","gpus:read"],
                "allowed_cidrs":["10.0.0.0/8","192.168.0.0/16"],"expires_at":null,
                "expires_in_days":30,"rate_limit":{"per_second":5,"burst":10}})"));
  EXPECT_NE(out.find("key_1"), std::string::npos) << out;
  EXPECT_NE(out.find("Secret: hgr_abcdef123\n"), std::string::npos) << out;
  EXPECT_NE(err.find("shown only this once"), std::string::npos) << err;
  EXPECT_EQ(err.find("hgr_abcdef123"), std::string::npos) << "the secret goes to stdout only";

  // -q: the secret alone; -o json: the object, secret included.
  ASSERT_EQ(
      RunHangar({"--url", server.url(), "api-keys", "create", "ci", "-q"}, MakeEnv({}), &out, &err),
      0);
  EXPECT_EQ(out, "hgr_abcdef123\n");
  EXPECT_EQ(boost::json::parse(server.seen().back().body).at("scopes"), nullptr);
  ASSERT_EQ(RunHangar({"--url", server.url(), "-o", "json", "api-keys", "create", "ci"},
                      MakeEnv({}), &out, &err),
            0);
  EXPECT_EQ(boost::json::parse(out).at("secret"), "hgr_abcdef123");
  // --burst needs --rate-limit.
  EXPECT_EQ(RunHangar({"--url", server.url(), "api-keys", "create", "ci", "--burst", "3"},
                      MakeEnv({}), &out, &err),
            2);
}

TEST_F(ConfigTest, ApiKeysRotateTurnsGraceIntoSeconds) {
  RecordingServer server(
      [](const Seen&) { return TestServer::Json(201, json::Serialize(SampleKey())); });
  std::string out, err;
  ASSERT_EQ(RunHangar({"--url", server.url(), "api-keys", "rotate", "key_0", "--grace", "1h"},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].target, "/api/v1/api-keys/key_0/rotate");
  EXPECT_EQ(boost::json::parse(server.seen()[0].body),
            boost::json::parse(R"({"grace_period_seconds":3600})"));
  EXPECT_NE(out.find("Secret: hgr_abcdef123"), std::string::npos) << out;

  for (auto [grace, seconds] :
       std::vector<std::pair<std::string, int64_t>>{{"30m", 1800}, {"86400s", 86400}, {"0", 0}}) {
    ASSERT_EQ(RunHangar({"--url", server.url(), "api-keys", "rotate", "key_0", "--grace", grace},
                        MakeEnv({}), &out, &err),
              0)
        << grace << ": " << err;
    EXPECT_EQ(boost::json::parse(server.seen().back().body).at("grace_period_seconds"), seconds)
        << grace;
  }
  EXPECT_EQ(RunHangar({"--url", server.url(), "api-keys", "rotate", "key_0", "--grace", "1w"},
                      MakeEnv({}), &out, &err),
            2);
}

TEST_F(ConfigTest, RoleBindingsCreateScopesToATeam) {
  RecordingServer server([](const Seen&) {
    api::RoleBinding b{.id = "rb_1",
                       .principal_type = "user",
                       .principal_id = "user_1",
                       .role = "developer",
                       .scope_type = api::ScopeType::team,
                       .scope_id = "team_1"};
    return TestServer::Json(201, json::Serialize(b));
  });
  std::string out, err;
  ASSERT_EQ(RunHangar({"--url", server.url(), "role-bindings", "create", "--principal", "user_1",
                       "--role", "developer", "--team", "team_1", "--expires-in", "2h",
                       "--justification", "incident 42"},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  auto body = boost::json::parse(server.seen().at(0).body);
  EXPECT_EQ(body.at("scope_type"), "team");
  EXPECT_EQ(body.at("scope_id"), "team_1");
  EXPECT_EQ(body.at("principal_id"), "user_1");
  EXPECT_EQ(body.at("role"), "developer");
  EXPECT_EQ(body.at("expires_in_seconds"), 7200);
  EXPECT_EQ(body.at("justification"), "incident 42");
  EXPECT_NE(out.find("team/team_1"), std::string::npos) << out;
  // Without --team/--project the server's default (the organisation) applies.
  ASSERT_EQ(RunHangar({"--url", server.url(), "role-bindings", "create", "--principal", "sa_1",
                       "--role", "viewer"},
                      MakeEnv({}), &out, &err),
            0);
  EXPECT_EQ(boost::json::parse(server.seen().back().body).at("scope_type"), nullptr);
  EXPECT_EQ(RunHangar({"--url", server.url(), "role-bindings", "create", "--principal", "sa_1",
                       "--role", "viewer", "--team", "t", "--project", "p"},
                      MakeEnv({}), &out, &err),
            2);
}

TEST_F(ConfigTest, AuditListRendersATable) {
  RecordingServer server([](const Seen&) {
    api::EventList list;
    list.items.push_back(api::Event{
        .specversion = "1.0",
        .id = "evt_1",
        .type = "hangar.audit.request",
        .subject = "team_1",
        .time = "2026-11-22T18:31:00Z",
        .data = boost::json::parse(R"({"actor":{"type":"user","id":"user_1"},"outcome":"denied",
            "method":"DELETE","path":"/api/v1/teams/team_1","status":403})")});
    list.items.push_back(
        api::Event{.id = "evt_2",
                   .type = "hangar.audit.request",
                   .time = "2026-11-22T18:30:00Z",
                   .data = boost::json::parse(R"({"actor":{"type":"anonymous"},"outcome":"denied",
            "method":"POST","path":"/api/v1/teams","status":401})")});
    return TestServer::Json(200, json::Serialize(list));
  });
  std::string out, err;
  ASSERT_EQ(RunHangar({"--url", server.url(), "audit", "list", "--actor", "user_1", "--outcome",
                       "denied"},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  EXPECT_EQ(server.seen().at(0).target, "/api/v1/audit?actor=user_1&outcome=denied&limit=50");
  EXPECT_EQ(out,
            "TIME                   ACTOR       OUTCOME   METHOD   PATH                   STATUS\n"
            "2026-11-22T18:31:00Z   user_1      denied    DELETE   /api/v1/teams/team_1   403\n"
            "2026-11-22T18:30:00Z   anonymous   denied    POST     /api/v1/teams          401\n");
  EXPECT_EQ(RunHangar({"--url", server.url(), "audit", "list", "--outcome", "maybe"}, MakeEnv({}),
                      &out, &err),
            2);
}

TEST_F(ConfigTest, UpdatesSendMergePatchesOfTheGivenFlagsOnly) {
  RecordingServer server([](const Seen& seen) {
    if (seen.target.starts_with("/api/v1/organizations")) {
      return TestServer::Json(200, json::Serialize(api::Organization{.id = "org_1"}));
    }
    return TestServer::Json(200, json::Serialize(api::ServiceAccount{.id = "sa_1"}));
  });
  std::string out, err;
  ASSERT_EQ(
      RunHangar({"--url", server.url(), "orgs", "update", "org_1", "--login-max-failures", "5"},
                MakeEnv({}), &out, &err),
      0)
      << err;
  Seen org = server.seen().back();
  EXPECT_EQ(org.method, "PATCH");
  EXPECT_EQ(org.content_type, "application/merge-patch+json");
  // Nested members not given are left out (null would reset them).
  EXPECT_EQ(boost::json::parse(org.body),
            boost::json::parse(R"({"settings":{"login_max_failures":5}})"));
  ASSERT_EQ(RunHangar({"--url", server.url(), "service-accounts", "update", "sa_1", "--disabled",
                       "true", "--description", ""},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  EXPECT_EQ(boost::json::parse(server.seen().back().body),
            boost::json::parse(R"({"description":"","disabled":true})"));
}

TEST_F(ConfigTest, UsersInviteAndAcceptInvitation) {
  RecordingServer server([](const Seen& seen) {
    api::User user{.id = "user_2", .email = "bob@example.com"};
    if (seen.target == "/api/v1/users") {
      return TestServer::Json(201, json::Serialize(api::Invitation{
                                       .user = user,
                                       .token = "inv_secret",
                                       .accept_url = "http://x/invitations/accept#inv_secret",
                                       .expires_at = "2026-11-25T00:00:00Z"}));
    }
    user.state = api::UserState::active;
    return TestServer::Json(200, json::Serialize(user));
  });
  std::string out, err;
  ASSERT_EQ(RunHangar({"--url", server.url(), "--token", "t", "users", "invite", "bob@example.com",
                       "--role", "developer", "--expires-in-hours", "48"},
                      MakeEnv({}), &out, &err),
            0)
      << err;
  EXPECT_EQ(boost::json::parse(server.seen().back().body),
            boost::json::parse(R"({"email":"bob@example.com","display_name":null,
                "role":"developer","expires_in_hours":48})"));
  EXPECT_NE(out.find("Invitation token (shown only once): inv_secret"), std::string::npos) << out;
  EXPECT_NE(out.find("Accept at: http://x/invitations/accept#inv_secret"), std::string::npos);

  std::istringstream in("s3cret pass\n");
  ASSERT_EQ(RunHangar({"--url", server.url(), "--token", "t", "users", "accept-invitation",
                       "--token", "inv_secret", "--password-stdin"},
                      MakeEnv({}), &out, &err, {.in = &in}),
            0)
      << err;
  Seen accept = server.seen().back();
  EXPECT_EQ(accept.target, "/api/v1/invitations/accept");
  EXPECT_EQ(accept.auth, "") << "a public route: no token is sent";
  EXPECT_EQ(boost::json::parse(accept.body),
            boost::json::parse(R"({"token":"inv_secret","password":"s3cret pass",
                "display_name":null})"));

  // The prompt: asked twice, echo off (the injected reader), and the two must match.
  std::vector<std::string> prompts;
  CliIo io{.read_secret = [&](std::string_view prompt) -> Result<std::string> {
    prompts.emplace_back(prompt);
    return prompts.size() == 1 ? "pw1" : "pw2";
  }};
  EXPECT_EQ(RunHangar({"--url", server.url(), "users", "accept-invitation", "--token", "x"},
                      MakeEnv({}), &out, &err, io),
            2);
  EXPECT_EQ(prompts.size(), 2u);
  EXPECT_NE(err.find("do not match"), std::string::npos) << err;
}

TEST_F(ConfigTest, LoginWithAnApiKeyVerifiesAndStoresIt) {
  RecordingServer server([](const Seen& seen) {
    if (seen.auth != "Bearer hgr_good") {
      return TestServer::Json(401, R"({"title":"Unauthenticated","status":401})",
                              "application/problem+json");
    }
    return TestServer::Json(200, json::Serialize(SampleMe()));
  });
  std::string out, err;
  Env env = MakeEnv({});
  std::istringstream bad("hgr_bad\n");
  EXPECT_EQ(
      RunHangar({"--url", server.url(), "login", "--api-key-stdin"}, env, &out, &err, {.in = &bad}),
      3);
  EXPECT_FALSE(fs::exists(ConfigPath("", env))) << "a rejected key is not stored";

  std::istringstream good("  hgr_good\n");
  ASSERT_EQ(RunHangar({"--url", server.url(), "login", "--api-key-stdin"}, env, &out, &err,
                      {.in = &good}),
            0)
      << err;
  EXPECT_EQ(server.seen().back().target, "/api/v1/whoami");
  EXPECT_NE(out.find("Logged in as ada@example.com (user user_1) in organisation acme"),
            std::string::npos)
      << out;
  auto cfg = LoadConfig(ConfigPath("", env));
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->current_context, "default");
  EXPECT_EQ(cfg->contexts.at("default").url, server.url());
  EXPECT_EQ(cfg->contexts.at("default").token, "hgr_good");
  struct stat st {};
  ASSERT_EQ(::stat(ConfigPath("", env).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  // The stored key is used from now on, and --api-key-file works the same way.
  ASSERT_EQ(RunHangar({"whoami"}, env, &out, &err), 0) << err;
  EXPECT_EQ(server.seen().back().auth, "Bearer hgr_good");
  std::ofstream(home_ / "key") << "hgr_good\n";
  EXPECT_EQ(RunHangar({"login", "--api-key-file", (home_ / "key").string(), "--context", "other"},
                      env, &out, &err),
            2)
      << "a new context has no URL until --url gives one";
  ASSERT_EQ(RunHangar({"--url", server.url(), "login", "--api-key-file", (home_ / "key").string(),
                       "--context", "other"},
                      env, &out, &err),
            0)
      << err;
  EXPECT_EQ(LoadConfig(ConfigPath("", env))->current_context, "other");
}

// A fake OAuth server: the device flow, refresh with rotation, revocation; and /api/v1 routes
// that accept only the current access token.
class FakeOAuth {
 public:
  FakeOAuth() : server_([this](const Seen& seen) { return Handle(seen); }) {}
  std::string url() const { return server_.url(); }
  RecordingServer& server() { return server_; }

  std::mutex mu;
  int polls = 0;       // POSTs to /oauth/token with the device_code grant
  int generation = 1;  // access token "at<N>" and refresh token "rt<N>" are current
  bool refresh_invalid = false;

 private:
  TestServer::Response Handle(const Seen& seen) {
    std::lock_guard lock(mu);
    auto tokens = [&] {
      return TestServer::Json(
          200, R"({"access_token":"at)" + std::to_string(generation) +
                   R"(","token_type":"Bearer","expires_in":3600,"refresh_token":"rt)" +
                   std::to_string(generation) + R"(","scope":"*"})");
    };
    auto oauth_error = [](std::string code) {
      return TestServer::Json(400, R"({"error":")" + code + R"("})");
    };
    if (seen.target == "/oauth/device_authorization") {
      return TestServer::Json(200, R"({"device_code":"dc_1","user_code":"WDJB-MJHT",
          "verification_uri":"http://h/device",
          "verification_uri_complete":"http://h/device?user_code=WDJB-MJHT",
          "expires_in":600,"interval":5})");
    }
    if (seen.target == "/oauth/token") {
      if (seen.body.starts_with("grant_type=urn")) {
        ++polls;
        if (polls == 1) return oauth_error("authorization_pending");
        if (polls == 2) return oauth_error("slow_down");
        if (polls == 3) return oauth_error("authorization_pending");
        return tokens();
      }
      std::string expected = "grant_type=refresh_token&refresh_token=rt" +
                             std::to_string(generation) + "&client_id=hangar-cli";
      if (refresh_invalid || seen.body != expected) return oauth_error("invalid_grant");
      ++generation;  // rotation: the old refresh token is spent
      return tokens();
    }
    if (seen.target == "/oauth/revoke") return TestServer::Json(200, "{}");
    if (seen.auth != "Bearer at" + std::to_string(generation)) {
      return TestServer::Json(401, R"({"title":"Unauthenticated","status":401})",
                              "application/problem+json");
    }
    if (seen.target == "/api/v1/whoami") return TestServer::Json(200, json::Serialize(SampleMe()));
    return TestServer::Json(200, json::Serialize(api::TeamList{}));
  }

  RecordingServer server_;
};

TEST_F(ConfigTest, LoginWithTheDeviceFlowPollsAndStoresTokens) {
  FakeOAuth oauth;
  FakeClock clock(kT0);
  std::vector<int64_t> sleeps;
  CliIo io{.clock = &clock, .sleep = [&](std::chrono::seconds d) {
             sleeps.push_back(d.count());
             clock.Advance(d);
           }};
  std::string out, err;
  Env env = MakeEnv({});
  ASSERT_EQ(RunHangar({"--url", oauth.url(), "login"}, env, &out, &err, io), 0) << err;
  EXPECT_NE(out.find("Open http://h/device?user_code=WDJB-MJHT and confirm code WDJB-MJHT\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Logged in as ada@example.com"), std::string::npos) << out;
  // Pending keeps the interval; slow_down adds 5 seconds for every later poll.
  EXPECT_EQ(sleeps, (std::vector<int64_t>{5, 5, 10, 10}));

  auto device = oauth.server().To("/oauth/device_authorization");
  ASSERT_EQ(device.size(), 1u);
  EXPECT_EQ(device[0].body, "client_id=hangar-cli&scope=*");
  EXPECT_EQ(device[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(device[0].auth, "");
  auto polls = oauth.server().To("/oauth/token");
  ASSERT_EQ(polls.size(), 4u);
  EXPECT_EQ(polls[0].body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc_1&"
            "client_id=hangar-cli");

  auto cfg = LoadConfig(ConfigPath("", env));
  ASSERT_TRUE(cfg.has_value());
  const Context& ctx = cfg->contexts.at(cfg->current_context);
  EXPECT_EQ(ctx.url, oauth.url());
  EXPECT_EQ(ctx.token, "at1");
  EXPECT_EQ(ctx.refresh_token, "rt1");
  EXPECT_EQ(ctx.token_expires_at, kT0 + std::chrono::seconds(30 + 3600));
  struct stat st {};
  ASSERT_EQ(::stat(ConfigPath("", env).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  // Logout revokes the refresh token and forgets both tokens.
  ASSERT_EQ(RunHangar({"logout"}, env, &out, &err, io), 0) << err;
  auto revoke = oauth.server().To("/oauth/revoke");
  ASSERT_EQ(revoke.size(), 1u);
  EXPECT_EQ(revoke[0].body, "token=rt1&token_type_hint=refresh_token&client_id=hangar-cli");
  cfg = LoadConfig(ConfigPath("", env));
  EXPECT_EQ(cfg->contexts.at("default").token, "");
  EXPECT_EQ(cfg->contexts.at("default").refresh_token, "");
  EXPECT_EQ(cfg->contexts.at("default").url, oauth.url()) << "the server stays configured";
}

TEST_F(ConfigTest, DeviceFlowDeniedOrExpiredFails) {
  RecordingServer server([](const Seen& seen) {
    if (seen.target == "/oauth/device_authorization") {
      return TestServer::Json(200, R"({"device_code":"d","user_code":"U","verification_uri":
          "http://h/device","expires_in":60})");
    }
    return TestServer::Json(400, R"({"error":"access_denied"})");
  });
  FakeClock clock(kT0);
  CliIo io{.clock = &clock, .sleep = [&](std::chrono::seconds d) { clock.Advance(d); }};
  std::string out, err;
  EXPECT_EQ(RunHangar({"--url", server.url(), "login"}, MakeEnv({}), &out, &err, io), 3);
  EXPECT_NE(out.find("Open http://h/device and confirm code U"), std::string::npos) << out;
  EXPECT_NE(err.find("denied"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(ConfigPath("", MakeEnv({}))));
}

TEST_F(ConfigTest, AnExpiredAccessTokenIsRefreshedAndTheRotatedTokenStored) {
  FakeOAuth oauth;
  FakeClock clock(kT0);
  CliIo io{.clock = &clock};
  Env env = MakeEnv({});
  fs::path path = ConfigPath("", env);
  // at1 expired a minute ago; rt1 is the current refresh token.
  ASSERT_TRUE(SaveConfig(path, CliConfig{.current_context = "sso",
                                         .contexts = {{"sso",
                                                       {oauth.url(), "at0", "rt1",
                                                        kT0 - std::chrono::minutes(1)}}}})
                  .has_value());
  std::string out, err;
  ASSERT_EQ(RunHangar({"teams", "list"}, env, &out, &err, io), 0) << err;
  auto seen = oauth.server().seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/oauth/token");
  EXPECT_EQ(seen[0].body, "grant_type=refresh_token&refresh_token=rt1&client_id=hangar-cli");
  EXPECT_EQ(seen[0].auth, "");
  EXPECT_EQ(seen[1].target, "/api/v1/teams");
  EXPECT_EQ(seen[1].auth, "Bearer at2");
  auto cfg = LoadConfig(path);
  EXPECT_EQ(cfg->contexts.at("sso").token, "at2");
  EXPECT_EQ(cfg->contexts.at("sso").refresh_token, "rt2");
  EXPECT_EQ(cfg->contexts.at("sso").token_expires_at, kT0 + std::chrono::seconds(3600));

  // Still valid: no refresh.
  ASSERT_EQ(RunHangar({"teams", "list"}, env, &out, &err, io), 0) << err;
  EXPECT_EQ(oauth.server().seen().size(), 3u);

  // A 401 to a token that has not expired yet (revoked, say): refresh once and retry.
  {
    std::lock_guard lock(oauth.mu);
    oauth.generation = 2;  // the server still expects rt2...
  }
  ASSERT_TRUE(SaveConfig(path, CliConfig{.current_context = "sso",
                                         .contexts = {{"sso",
                                                       {oauth.url(), "at-revoked", "rt2",
                                                        kT0 + std::chrono::hours(1)}}}})
                  .has_value());
  ASSERT_EQ(RunHangar({"teams", "list"}, env, &out, &err, io), 0) << err;
  seen = oauth.server().seen();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[3].auth, "Bearer at-revoked");
  EXPECT_EQ(seen[4].target, "/oauth/token");
  EXPECT_EQ(seen[5].auth, "Bearer at3");
  EXPECT_EQ(LoadConfig(path)->contexts.at("sso").refresh_token, "rt3");

  // A refresh token the server rejects is forgotten, and the user is told to log in again.
  {
    std::lock_guard lock(oauth.mu);
    oauth.refresh_invalid = true;
  }
  clock.Advance(std::chrono::hours(2));
  EXPECT_EQ(RunHangar({"teams", "list"}, env, &out, &err, io), 3);
  EXPECT_NE(err.find("hangar login"), std::string::npos) << err;
  cfg = LoadConfig(path);
  EXPECT_EQ(cfg->contexts.at("sso").refresh_token, "");
  EXPECT_EQ(cfg->contexts.at("sso").token, "");

  // A token from a flag or the environment is never refreshed.
  ASSERT_TRUE(
      SaveConfig(
          path, CliConfig{.current_context = "sso",
                          .contexts = {{"sso",
                                        {oauth.url(), "at0", "rt9", kT0 - std::chrono::hours(9)}}}})
          .has_value());
  size_t before = oauth.server().seen().size();
  EXPECT_EQ(RunHangar({"--token", "flag-token", "teams", "list"}, env, &out, &err, io), 3);
  EXPECT_EQ(oauth.server().seen().size(), before + 1);
}

// ---- Fleet and monitoring commands ----------------------------------------------------------

constexpr std::string_view kNodeId = "node_01jd3x00000000000000000001";
constexpr std::string_view kRuleId = "arule_01jd3x0000000000000000000r";

// The CLI against `server`, with a token, on the fake clock kT0 and a recorded, instant sleep.
class FleetCliTest : public ConfigTest {
 protected:
  int Run(RecordingServer& server, std::vector<std::string> args, CliIo io = {}) {
    args.insert(args.begin(), {"--url", server.url(), "--token", "t"});
    if (!io.clock) io.clock = &clock_;
    if (!io.sleep) io.sleep = [this](std::chrono::seconds d) { sleeps_.push_back(d.count()); };
    return RunHangar(args, MakeEnv({}), &out_, &err_, io);
  }
  FakeClock clock_{kT0};
  std::vector<int64_t> sleeps_;
  std::string out_, err_;
};

api::Node SampleNode() {
  return api::Node{.id = std::string(kNodeId), .name = "gpu-01", .gpu_count = 8, .etag = "\"7\""};
}

api::GpuLiveList SampleLive() {
  api::GpuLiveList live;
  live.items.push_back(api::GpuLive{.gpu_id = "gpu_2",
                                    .node_id = std::string(kNodeId),
                                    .node_name = "gpu-01",
                                    .index = 1,
                                    .gpu_type = "H100-80GB",
                                    .state = api::GpuState::unhealthy,
                                    .memory_mib = 81559});
  live.items.push_back(api::GpuLive{.gpu_id = "gpu_1",
                                    .node_id = std::string(kNodeId),
                                    .node_name = "gpu-01",
                                    .index = 0,
                                    .gpu_type = "H100-80GB",
                                    .project_id = "proj_1",
                                    .workload_id = "job_1",
                                    .sampled_at = "2027-01-15T07:59:59Z",
                                    .utilization = 73.4,
                                    .memory_used_mib = 40960,
                                    .memory_mib = 81559,
                                    .temperature_c = 61.4,
                                    .power_watts = 412.6,
                                    .sm_clock_mhz = 1980});
  live.items.push_back(api::GpuLive{.gpu_id = "gpu_3",
                                    .node_id = "node_2",
                                    .node_name = "gpu-02",
                                    .index = 0,
                                    .gpu_type = "L4",
                                    .sampled_at = "2027-01-15T07:59:59Z",
                                    .utilization = 5,
                                    .memory_used_mib = 512,
                                    .memory_mib = 23034,
                                    .temperature_c = 35,
                                    .power_watts = 20,
                                    .sm_clock_mhz = 210});
  return live;
}

TEST_F(FleetCliTest, GpusTopOncePrintsOneFrameWithFleetTotals) {
  RecordingServer server(
      [](const Seen&) { return TestServer::Json(200, json::Serialize(SampleLive())); });
  ASSERT_EQ(Run(server, {"gpus", "top", "--once"}), 0) << err_;
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].method, "GET");
  EXPECT_EQ(server.seen()[0].target, "/api/v1/gpus/live");
  // Sorted by node and index; busy counts held GPUs; the mean is over GPUs with a sample.
  EXPECT_EQ(out_,
            "GPUs 3   busy 1   mean util 39.2%   unhealthy 1   unreachable 0   at "
            "2027-01-15T08:00:00Z\n"
            "\n"
            "NODE     GPU   TYPE        STATE       UTIL                MEM (GiB)   TEMP C   "
            "POWER W   SM MHz   PROJECT/WORKLOAD\n"
            "gpu-01   0     H100-80GB   ready       [#######...]  73%   40.0/79.6   61       "
            "413       1980     proj_1/job_1\n"
            "gpu-01   1     H100-80GB   unhealthy   -                   -/79.6      -        "
            "-         -        -\n"
            "gpu-02   0     L4          ready       [#.........]   5%   0.5/22.5    35       "
            "20        210      -\n");
  EXPECT_TRUE(sleeps_.empty());

  ASSERT_EQ(Run(server, {"gpus", "top", "--once", "--node", "gpu-02"}), 0) << err_;
  EXPECT_NE(out_.find("GPUs 1   busy 0   mean util 5%"), std::string::npos) << out_;
  EXPECT_EQ(out_.find("gpu-01"), std::string::npos) << out_;

  // -o json: the items once, for scripts.
  ASSERT_EQ(Run(server, {"-o", "json", "gpus", "top"}), 0) << err_;
  auto items = boost::json::parse(out_).as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("gpu_id"), "gpu_2");
  EXPECT_EQ(server.seen().size(), 3u);
}

TEST_F(FleetCliTest, GpusTopRedrawsOnATerminalUntilCtrlC) {
  RecordingServer server(
      [](const Seen&) { return TestServer::Json(200, json::Serialize(SampleLive())); });
  // The third one-second nap (the second wait) is interrupted as Ctrl-C would.
  CliIo io{.sleep =
               [&](std::chrono::seconds d) {
                 sleeps_.push_back(d.count());
                 if (sleeps_.size() == 3) ::raise(SIGINT);
               },
           .stdout_is_terminal = [] { return true; }};
  ASSERT_EQ(Run(server, {"gpus", "top", "--interval", "2s"}, io), 0) << err_;
  EXPECT_EQ(server.seen().size(), 2u);
  EXPECT_EQ(sleeps_, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_TRUE(out_.starts_with("\x1b[H\x1b[2JGPUs 3")) << out_;
  EXPECT_NE(out_.find("\x1b[H\x1b[2J", 1), std::string::npos) << "the second frame redraws";
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL) << "the previous SIGINT handler is restored";

  // Not a terminal: frames follow one another, without escape codes.
  sleeps_.clear();
  io.stdout_is_terminal = [] { return false; };
  ASSERT_EQ(Run(server, {"gpus", "top", "--interval", "1s"}, io), 0) << err_;
  EXPECT_EQ(out_.find('\x1b'), std::string::npos);
  EXPECT_NE(out_.find("\n\nGPUs 3"), std::string::npos) << out_;

  EXPECT_EQ(Run(server, {"gpus", "top", "--interval", "soon"}), 2);
  EXPECT_NE(err_.find("not a duration"), std::string::npos) << err_;
}

TEST_F(FleetCliTest, GpusTopKeepsTheLastFrameWhenALaterRefreshFails) {
  std::atomic<int> calls = 0;
  RecordingServer server([&](const Seen&) {
    if (++calls == 1) return TestServer::Json(200, json::Serialize(SampleLive()));
    return TestServer::Json(503, R"({"title":"Unavailable","status":503})",
                            "application/problem+json");
  });
  CliIo io{.sleep = [&](std::chrono::seconds d) {
    sleeps_.push_back(d.count());
    if (sleeps_.size() == 2) ::raise(SIGINT);
  }};
  ASSERT_EQ(Run(server, {"gpus", "top", "--interval", "1s"}, io), 0) << err_;
  EXPECT_EQ(calls, 2);
  EXPECT_NE(out_.find("\nrefresh failed at 2027-01-15T08:00:00Z: Unavailable"), std::string::npos)
      << out_;
  EXPECT_NE(out_.rfind("gpu-02   0     L4"), out_.find("gpu-02   0     L4")) << "shown again";

  // A first fetch that fails fails the command.
  calls = 1;
  EXPECT_EQ(Run(server, {"gpus", "top"}, io), 6);
}

TEST_F(FleetCliTest, NodesCordonUncordonAndDrainResolveNamesAndWait) {
  std::mutex mu;
  std::vector<int64_t> running = {3, 3, 1, 0};  // what successive GETs of the node report
  RecordingServer server([&](const Seen& seen) {
    api::Node node = SampleNode();
    if (seen.target.starts_with("/api/v1/nodes?name=")) {
      api::NodeList list;
      if (seen.target.ends_with("=gpu-01")) list.items.push_back(node);
      return TestServer::Json(200, json::Serialize(list));
    }
    if (seen.method == "POST" || seen.method == "GET") {
      std::lock_guard lock(mu);
      node.cordoned = node.draining = true;
      node.workloads_running = running.front();
      if (running.size() > 1) running.erase(running.begin());
    }
    return TestServer::Json(200, json::Serialize(node));
  });
  std::string path = "/api/v1/nodes/" + std::string(kNodeId);

  ASSERT_EQ(Run(server, {"nodes", "cordon", "gpu-01", "--reason", "bad fan"}), 0) << err_;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/api/v1/nodes?name=gpu-01");
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].target, path);
  EXPECT_EQ(seen[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(boost::json::parse(seen[1].body),
            boost::json::parse(R"({"cordoned":true,"cordon_reason":"bad fan"})"));

  // An id is used as it is: no lookup.
  ASSERT_EQ(Run(server, {"nodes", "uncordon", std::string(kNodeId)}), 0) << err_;
  EXPECT_EQ(server.seen().size(), 3u);
  EXPECT_EQ(boost::json::parse(server.seen().back().body),
            boost::json::parse(R"({"cordoned":false})"));

  ASSERT_EQ(
      Run(server, {"nodes", "drain", "gpu-01", "--reason", "kernel", "--timeout", "30m", "--wait"}),
      0)
      << err_;
  seen = server.seen();
  ASSERT_EQ(seen.size(), 8u);  // lookup, POST, then GETs until nothing runs
  EXPECT_EQ(seen[4].method, "POST");
  EXPECT_EQ(seen[4].target, path + "/drain");
  EXPECT_EQ(boost::json::parse(seen[4].body),
            boost::json::parse(R"({"reason":"kernel","timeout_seconds":1800})"));
  for (size_t i = 5; i < 8; ++i) EXPECT_EQ(seen[i].method + " " + seen[i].target, "GET " + path);
  EXPECT_EQ(err_,
            "node gpu-01: draining, 3 workload(s) still running\n"
            "node gpu-01: draining, 1 workload(s) still running\n"
            "node gpu-01: drained, no workloads running\n");
  EXPECT_EQ(sleeps_, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_NE(out_.find("gpu-01   ready   draining, 0 running"), std::string::npos) << out_;

  EXPECT_EQ(Run(server, {"nodes", "drain", "gpu-01", "--timeout", "soon"}), 2);
  EXPECT_EQ(Run(server, {"nodes", "get", "gpu-99"}), 4);
  EXPECT_NE(err_.find("no node named 'gpu-99'"), std::string::npos) << err_;
}

TEST_F(FleetCliTest, NodesDrainWaitFailsWhenTheNodeIsUncordonedWithWorkLeft) {
  RecordingServer server([](const Seen& seen) {
    api::Node node = SampleNode();
    node.workloads_running = 2;
    node.cordoned = node.draining = seen.method == "POST";
    return TestServer::Json(200, json::Serialize(node));
  });
  EXPECT_EQ(Run(server, {"nodes", "drain", std::string(kNodeId), "--wait"}), 5);
  EXPECT_NE(err_.find("was uncordoned"), std::string::npos) << err_;
}

TEST_F(FleetCliTest, NodesTaintEditsTheCurrentTaintsUnderIfMatch) {
  RecordingServer server([](const Seen&) {
    api::Node node = SampleNode();
    node.taints = {{.key = "gpu", .value = "broken"}, {.key = "maintenance"}};
    return TestServer::Json(200, json::Serialize(node));
  });
  ASSERT_EQ(Run(server, {"nodes", "taint", std::string(kNodeId), "gpu=ok",
                         "dedicated=ml:NoSchedule", "--remove", "maintenance"}),
            0)
      << err_;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(boost::json::parse(seen[1].body),
            boost::json::parse(R"({"taints":[{"key":"gpu","value":"ok","effect":null},
                {"key":"dedicated","value":"ml","effect":"NoSchedule"}]})"));
  EXPECT_EQ(Run(server, {"nodes", "taint", std::string(kNodeId), "=x"}), 2);
  EXPECT_EQ(Run(server, {"nodes", "taint", std::string(kNodeId)}), 2);
  EXPECT_EQ(server.seen().size(), 2u) << "bad flags send nothing";
}

TEST(OutputTest, NodeTableShowsCordonReasonDrainAndTaints) {
  api::Node cordoned = SampleNode();
  cordoned.cordoned = true;
  cordoned.cordon_reason = "health check: xid_79 on GPU 3";
  api::Node draining = SampleNode();
  draining.name = "gpu-02";
  draining.cordoned = draining.draining = true;
  draining.workloads_running = 2;
  draining.taints = {{.key = "gpu", .value = "broken"}};
  std::string table = Render(std::vector<api::Node>{cordoned, draining}, OutputFormat::kTable);
  EXPECT_NE(table.find("   TAINTS   "), std::string::npos) << table;
  EXPECT_NE(table.find("yes: health check: xid_79 on GPU 3"), std::string::npos) << table;
  EXPECT_NE(table.find("draining, 2 running                  8      -        gpu=broken"),
            std::string::npos)
      << table;
  // No node has a taint: no TAINTS column.
  EXPECT_EQ(Render(std::vector<api::Node>{cordoned}, OutputFormat::kTable).find("TAINTS"),
            std::string::npos);
}

api::AlertRule SampleRule() {
  return api::AlertRule{.id = std::string(kRuleId),
                        .name = "gpu-hot",
                        .metric = "temperature_c",
                        .op = ">",
                        .threshold = 85,
                        .duration_seconds = 300,
                        .scope = "gpu",
                        .selector = {.gpu_type = "H100-80GB"},
                        .severity = "critical"};
}

TEST_F(FleetCliTest, AlertsListResolvesTheRuleNameAndRendersTheTable) {
  RecordingServer server([](const Seen& seen) {
    if (seen.target.starts_with("/api/v1/alert-rules")) {
      return TestServer::Json(200, json::Serialize(api::AlertRuleList{.items = {SampleRule()}}));
    }
    api::AlertList list;
    list.items.push_back(api::Alert{.id = "alrt_1",
                                    .rule_id = std::string(kRuleId),
                                    .rule_name = "gpu-hot",
                                    .subject = "gpu_1",
                                    .state = api::AlertState::firing,
                                    .severity = "critical",
                                    .value = 91.25,
                                    .message = "GPU 3 of gpu-01 at 91.25 C",
                                    .started_at = "2027-01-15T07:50:00Z",
                                    .fired_at = "2027-01-15T07:55:00Z"});
    return TestServer::Json(200, json::Serialize(list));
  });
  ASSERT_EQ(Run(server, {"alerts", "list", "--state", "firing", "--rule", "gpu-hot"}), 0) << err_;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/api/v1/alert-rules?name=gpu-hot");
  EXPECT_EQ(seen[1].target, "/api/v1/alerts?state=firing&rule_id=" + std::string(kRuleId));
  EXPECT_EQ(out_,
            "STATE    SEVERITY   RULE      SUBJECT   VALUE   SINCE                  MESSAGE\n"
            "firing   critical   gpu-hot   gpu_1     91.25   2027-01-15T07:55:00Z   GPU 3 of "
            "gpu-01 at 91.25 C\n");
  EXPECT_EQ(Run(server, {"alerts", "list", "--state", "burning"}), 2);
  EXPECT_EQ(Run(server, {"alerts", "list", "--rule", "no-such-rule"}), 4);
  EXPECT_NE(err_.find("no alert rule named 'no-such-rule'"), std::string::npos) << err_;
}

TEST_F(FleetCliTest, AlertRulesCreateUpdateDeleteSendTheDocumentedRequests) {
  RecordingServer server([](const Seen& seen) {
    if (seen.method == "DELETE") return TestServer::Json(204, "");
    if (seen.target.starts_with("/api/v1/alert-rules?")) {
      return TestServer::Json(200, json::Serialize(api::AlertRuleList{.items = {SampleRule()}}));
    }
    return TestServer::Json(seen.method == "POST" ? 201 : 200, json::Serialize(SampleRule()));
  });
  ASSERT_EQ(
      Run(server, {"alerts",       "rules",         "create",     "--name",     "gpu-hot",
                   "--metric",     "temperature_c", "--op",       "gt",         "--threshold",
                   "85",           "--for",         "5m",         "--gpu-type", "H100-80GB",
                   "--node-label", "zone=a",        "--severity", "critical",   "--disabled"}),
      0)
      << err_;
  Seen create = server.seen().back();
  EXPECT_EQ(create.method + " " + create.target, "POST /api/v1/alert-rules");
  EXPECT_EQ(boost::json::parse(create.body), boost::json::parse(R"({"name":"gpu-hot",
      "description":null,"metric":"temperature_c","op":">","threshold":85.0,
      "duration_seconds":300,"scope":"gpu",
      "selector":{"gpu_type":"H100-80GB","node_labels":{"zone":"a"}},
      "severity":"critical","enabled":false})"));
  EXPECT_EQ(out_,
            "NAME      METRIC          CONDITION     SCOPE   SELECTOR             SEVERITY   "
            "ENABLED   BUILT-IN   ID\n"
            "gpu-hot   temperature_c   > 85 for 5m   gpu     gpu_type=H100-80GB   critical   yes  "
            "     no         " +
                std::string(kRuleId) + "\n");

  ASSERT_EQ(Run(server, {"alerts", "rules", "update", "gpu-hot", "--threshold", "90", "--for", "0",
                         "--disable"}),
            0)
      << err_;
  Seen update = server.seen().back();
  EXPECT_EQ(update.method + " " + update.target,
            "PATCH /api/v1/alert-rules/" + std::string(kRuleId));
  EXPECT_EQ(update.content_type, "application/merge-patch+json");
  EXPECT_EQ(boost::json::parse(update.body),
            boost::json::parse(R"({"threshold":90.0,"duration_seconds":0,"enabled":false})"));

  ASSERT_EQ(Run(server, {"alerts", "rules", "delete", "gpu-hot"}), 0) << err_;
  EXPECT_EQ(server.seen().back().method + " " + server.seen().back().target,
            "DELETE /api/v1/alert-rules/" + std::string(kRuleId));
  EXPECT_EQ(out_, "alert rule gpu-hot deleted\n");

  // Bad flags are caught before anything is sent, with a message naming the flag.
  size_t sent = server.seen().size();
  std::vector<std::string> create_args = {"alerts",   "rules",       "create",      "--name", "x",
                                          "--metric", "utilization", "--threshold", "1"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = create_args;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  EXPECT_EQ(Run(server, with({"--op", "=>"})), 2);
  EXPECT_NE(err_.find("--op '=>' is not a comparison"), std::string::npos) << err_;
  EXPECT_EQ(Run(server, with({"--op", ">", "--for", "2days"})), 2);
  EXPECT_NE(err_.find("--for '2days' is not a duration from 0 to 24h"), std::string::npos) << err_;
  EXPECT_EQ(Run(server, with({"--op", ">", "--for", "25h"})), 2);
  EXPECT_EQ(Run(server, with({"--op", ">", "--scope", "rack"})), 2);
  EXPECT_NE(err_.find("--scope 'rack' is not one of gpu, allocated_gpu, node"), std::string::npos)
      << err_;
  EXPECT_EQ(Run(server, with({"--op", ">", "--severity", "page"})), 2);
  EXPECT_EQ(Run(server, with({"--op", ">", "--node-label", "zone"})), 2);
  EXPECT_EQ(Run(server, {"alerts", "rules", "update", "gpu-hot"}), 2);
  EXPECT_NE(err_.find("nothing to change"), std::string::npos) << err_;
  EXPECT_EQ(Run(server, {"alerts", "rules", "update", "gpu-hot", "--enable", "--disable"}), 2);
  EXPECT_EQ(server.seen().size(), sent);
}

TEST_F(FleetCliTest, MetricsResolvesNamesConvertsRelativeTimesAndRendersBuckets) {
  RecordingServer server([](const Seen& seen) {
    if (seen.target.starts_with("/api/v1/projects?")) {
      api::ProjectList list;
      list.items.push_back(api::Project{.id = "proj_01jd3x0000000000000000000p", .name = "vision"});
      return TestServer::Json(200, json::Serialize(list));
    }
    api::MetricSeries series{.scope = "project",
                             .scope_id = "proj_01jd3x0000000000000000000p",
                             .metric = "utilization",
                             .unit = "percent",
                             .from = "2027-01-15T07:00:00Z",
                             .to = "2027-01-15T08:00:00Z",
                             .step_seconds = 60,
                             .resolution = "1m"};
    series.points.push_back({"2027-01-15T07:00:00Z", 0, 41.333, 100, 480, 8});
    series.points.push_back({"2027-01-15T07:01:00Z", 12.5, 50, 90, 475, 7.92});
    if (seen.target.starts_with("/api/v1/gpus/")) series.scope = "gpu";
    return TestServer::Json(200, json::Serialize(series));
  });
  ASSERT_EQ(
      Run(server, {"metrics", "project", "vision", "--from", "-1h", "--to", "now", "--step", "1m"}),
      0)
      << err_;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/api/v1/projects?name=vision");
  EXPECT_EQ(seen[1].target,
            "/api/v1/projects/proj_01jd3x0000000000000000000p/metrics?metric=utilization&from="
            "2027-01-15T07%3A00%3A00Z&to=2027-01-15T08%3A00%3A00Z&step=1m");
  EXPECT_EQ(out_,
            "utilization (percent) of project proj_01jd3x0000000000000000000p, "
            "2027-01-15T07:00:00Z to 2027-01-15T08:00:00Z, step 1m, resolution 1m\n"
            "TIME                   MIN    AVG     MAX   SAMPLES   GPUS\n"
            "2027-01-15T07:00:00Z   0      41.33   100   480       8\n"
            "2027-01-15T07:01:00Z   12.5   50      90    475       7.92\n");

  // A GPU: no lookup, no GPUS column; without flags only the metric is sent.
  ASSERT_EQ(Run(server, {"metrics", "gpu", "gpu_1", "--metric", "power_watts"}), 0) << err_;
  EXPECT_EQ(server.seen().back().target, "/api/v1/gpus/gpu_1/metrics?metric=power_watts");
  EXPECT_EQ(out_.find("GPUS"), std::string::npos) << out_;
  ASSERT_EQ(
      Run(server, {"-o", "json", "metrics", "gpu", "gpu_1", "--from", "2027-01-14T00:00:00+02:00"}),
      0);
  EXPECT_EQ(server.seen().back().target,
            "/api/v1/gpus/gpu_1/metrics?metric=utilization&from=2027-01-14T00%3A00%3A00%2B02%3A00");
  EXPECT_EQ(boost::json::parse(out_).at("points").as_array().size(), 2u);

  size_t sent = server.seen().size();
  EXPECT_EQ(Run(server, {"metrics", "team", "ml", "--from", "yesterday"}), 2);
  EXPECT_NE(err_.find("--from 'yesterday' is not a time"), std::string::npos) << err_;
  EXPECT_EQ(Run(server, {"metrics", "node", "gpu-01", "--step", "1w"}), 2);
  EXPECT_EQ(server.seen().size(), sent);
}

TEST(TimeFlagTest, RelativeTimesBecomeRfc3339OnTheGivenClock) {
  EXPECT_EQ(ParseTimeFlag("-1h", "--from", kT0), "2027-01-15T07:00:00Z");
  EXPECT_EQ(ParseTimeFlag("-2d", "--from", kT0), "2027-01-13T08:00:00Z");
  EXPECT_EQ(ParseTimeFlag("+30m", "--start", kT0), "2027-01-15T08:30:00Z");
  EXPECT_EQ(ParseTimeFlag("now", "--to", kT0), "2027-01-15T08:00:00Z");
  EXPECT_EQ(ParseTimeFlag("2026-03-01T09:00:00Z", "--to", kT0), "2026-03-01T09:00:00Z");
  EXPECT_EQ(ParseTimeFlag("", "--to", kT0), "");
  for (std::string_view bad : {"-1w", "1h", "-", "2026-03-01", "tomorrow"}) {
    auto parsed = ParseTimeFlag(bad, "--from", kT0);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_NE(parsed.error().message().find("--from"), std::string::npos);
  }
  EXPECT_EQ(FormatDurationSeconds(0), "0s");
  EXPECT_EQ(FormatDurationSeconds(90), "90s");
  EXPECT_EQ(FormatDurationSeconds(300), "5m");
  EXPECT_EQ(FormatDurationSeconds(7200), "2h");
  EXPECT_EQ(FormatDurationSeconds(172800), "2d");
  EXPECT_EQ(FormatNumber(90), "90");
  EXPECT_EQ(FormatNumber(97.25), "97.25");
  EXPECT_EQ(FormatNumber(0.3333), "0.33");
  EXPECT_EQ(FormatNumber(-0.001), "0");
}

TEST(IdTest, LooksLikeIdTellsIdsFromNames) {
  EXPECT_TRUE(LooksLikeId("node_01jd3x00000000000000000001", "node"));
  EXPECT_FALSE(LooksLikeId("node_01jd3x00000000000000000001", "proj"));
  EXPECT_TRUE(LooksLikeId("arule_01jd3x0000000000000000000r", ""));
  EXPECT_FALSE(LooksLikeId("gpu-01", "node"));
  EXPECT_FALSE(LooksLikeId("node_gpu01", "node"));
  EXPECT_FALSE(LooksLikeId("node_81jd3x00000000000000000001", "node"));  // top digit too big
  EXPECT_FALSE(LooksLikeId("node_01JD3X00000000000000000001", "node"));
}

}  // namespace
}  // namespace hangar::cli
