#include "cli/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/config.h"
#include "cli/output.h"
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
int RunHangar(std::vector<std::string> args, const Env& env, std::string* out, std::string* err) {
  std::vector<const char*> argv{"hangar"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  int code = RunCli(static_cast<int>(argv.size()), argv.data(), o, e, env);
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

}  // namespace
}  // namespace hangar::cli
