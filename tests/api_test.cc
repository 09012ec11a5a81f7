// hangard's API conventions end to end, on a real process over loopback: authentication,
// problem+json for every kind of bad input (and that bad input changes nothing), idempotency,
// conditional requests, CORS, gzip, request ids, OpenAPI conformance, graceful shutdown.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/hangard_fixture.h"
#include "support/schema_check.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

constexpr const char* kH100 = R"({"name":"H100-80GB","vendor":"nvidia","architecture":"hopper",
  "product_name":"NVIDIA H100 80GB HBM3","memory_mib":81559,"compute_capability":"9.0",
  "hourly_price_micros":2490000})";

class ApiTest : public HangardFixture {
 protected:
  // The problem body of `r`, after checking it is one with `status`.
  bj::object Problem(const Response& r, unsigned status) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    EXPECT_EQ(r[bhttp::field::content_type], "application/problem+json") << r.body();
    auto body = bj::parse(r.body()).as_object();
    EXPECT_EQ(body.at("status").as_int64(), status);
    EXPECT_FALSE(body.at("title").as_string().empty());
    EXPECT_TRUE(body.at("request_id").as_string().size() > 0);
    return body;
  }
  std::set<std::string> Pointers(const bj::object& problem) {
    std::set<std::string> out;
    if (auto* errors = problem.if_contains("errors"); errors && errors->is_array()) {
      for (const auto& e : errors->as_array()) out.insert(std::string(e.at("pointer").as_string()));
    }
    return out;
  }
  size_t GpuTypeCount() { return Json(Get("/api/v1/gpu-types")).at("items").as_array().size(); }
};

TEST_F(ApiTest, HealthAndReadinessNeedNoCredentials) {
  auto health = Client().Send(verb::get, "/healthz");
  EXPECT_EQ(health.result_int(), 200u);
  auto ready = Client().Send(verb::get, "/readyz");
  EXPECT_EQ(ready.result_int(), 200u);
  EXPECT_EQ(Json(ready).at("status").as_string(), "ok");
}

TEST_F(ApiTest, AdminKeyFileIsPrivate) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "data" / "admin-api-key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(hangard_->Log().find("admin-api-key"), std::string::npos);
}

TEST_F(ApiTest, MissingOrBadKeysAre401WithBearerChallenge) {
  for (std::string token : {std::string(), std::string("hgr_wrong"), admin_key_ + "x"}) {
    auto r = Client().Send(verb::get, "/api/v1/gpus", token);
    auto p = Problem(r, 401);
    EXPECT_EQ(r[bhttp::field::www_authenticate], R"(Bearer realm="hangar")");
    EXPECT_TRUE(p.contains("hint"));
  }
}

TEST_F(ApiTest, RequestIdsAreEchoedOrGenerated) {
  auto given = Get("/api/v1/gpus", {{"X-Request-Id", "trace-abc.123"}});
  EXPECT_EQ(given["X-Request-Id"], "trace-abc.123");
  auto minted = Get("/api/v1/gpus", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_TRUE(std::string(minted["X-Request-Id"]).starts_with("req_"));
  auto missing = Get("/api/v1/nope");
  EXPECT_EQ(Problem(missing, 404).at("request_id").as_string(), missing["X-Request-Id"]);
}

TEST_F(ApiTest, CreateReturns201WithLocationAndETagThenGetMatches) {
  auto created = Post("/api/v1/gpu-types", kH100);
  ASSERT_EQ(created.result_int(), 201u) << created.body();
  auto body = Json(created).as_object();
  std::string id(body.at("id").as_string());
  EXPECT_TRUE(id.starts_with("gput_"));
  EXPECT_EQ(created[bhttp::field::location], "/api/v1/gpu-types/" + id);
  EXPECT_EQ(created[bhttp::field::etag], body.at("etag").as_string());
  EXPECT_EQ(body.at("hourly_price_micros").as_int64(), 2490000);
  EXPECT_EQ(body.at("currency").as_string(), "USD");
  auto fetched = Get("/api/v1/gpu-types/" + id);
  EXPECT_EQ(fetched.result_int(), 200u);
  EXPECT_EQ(Json(fetched), Json(created));

  auto dup = Post("/api/v1/gpu-types", kH100);
  Problem(dup, 409);
}

TEST_F(ApiTest, MalformedJsonIs400AndChangesNothing) {
  for (const char* bad : {"{", "{\"name\": }", "not json", "[1,2"}) {
    Problem(Post("/api/v1/gpu-types", bad), 400);
  }
  EXPECT_EQ(GpuTypeCount(), 0u);
}

TEST_F(ApiTest, WrongTypesAndUnknownFieldsAre422NamingEachField) {
  auto r = Post("/api/v1/gpu-types",
                R"({"name":"A","vendor":"nvidia","architecture":"x","product_name":"P",
                    "memory_mib":"lots","compute_capability":9,"hourly_price_micros":1,
                    "colour":"green"})");
  auto p = Problem(r, 422);
  EXPECT_EQ(Pointers(p), (std::set<std::string>{"/memory_mib", "/compute_capability", "/colour"}));
  auto missing = Problem(Post("/api/v1/gpu-types", "{}"), 422);
  EXPECT_TRUE(Pointers(missing).contains("/name"));
  auto invalid = Problem(Post("/api/v1/gpu-types",
                              R"({"name":"bad name","vendor":"v","architecture":"a",
                                  "product_name":"p","memory_mib":-1,"compute_capability":"9.0",
                                  "hourly_price_micros":0})"),
                         422);
  EXPECT_EQ(Pointers(invalid), (std::set<std::string>{"/name", "/memory_mib"}));
  EXPECT_EQ(GpuTypeCount(), 0u);
}

TEST_F(ApiTest, WrongMediaTypeIs415) {
  auto r = Client().Send(verb::post, "/api/v1/gpu-types", admin_key_, kH100, {}, "text/plain");
  Problem(r, 415);
  EXPECT_EQ(GpuTypeCount(), 0u);
}

TEST_F(ApiTest, OversizedBodiesHeadersAndTargetsAreRefused) {
  std::string big(2 << 20, 'x');
  auto body = Post("/api/v1/gpu-types", "{\"name\":\"" + big + "\"}");
  Problem(body, 413);
  auto header = Get("/api/v1/gpus", {{"X-Filler", std::string(20 << 10, 'h')}});
  Problem(header, 431);
  auto target = Get("/api/v1/gpus?state=" + std::string(16 << 10, 'a'));
  Problem(target, 414);
  EXPECT_EQ(GpuTypeCount(), 0u);
}

TEST_F(ApiTest, GarbageOnTheWireIs400) {
  std::string reply = Client().SendRaw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(reply.find("400"), std::string::npos) << reply;
  EXPECT_NE(reply.find("application/problem+json"), std::string::npos) << reply;
}

TEST_F(ApiTest, UnknownQueryParametersAre400) {
  auto p = Problem(Get("/api/v1/gpus?colour=red"), 400);
  EXPECT_EQ(Pointers(p), (std::set<std::string>{"query:colour"}));
  Problem(Get("/api/v1/gpus/gpu_01jd3x0000000000000000000?verbose=1"), 400);
}

TEST_F(ApiTest, BadListParametersAndCursorsAre422) {
  auto limit = Problem(Get("/api/v1/gpus?limit=5000"), 422);
  EXPECT_TRUE(Pointers(limit).contains("query:limit"));
  auto sort = Problem(Get("/api/v1/nodes?sort=-colour"), 422);
  EXPECT_TRUE(Pointers(sort).contains("query:sort"));
  auto cursor = Problem(Get("/api/v1/gpus?page_token=garbage"), 422);
  EXPECT_TRUE(Pointers(cursor).contains("query:page_token"));
}

TEST_F(ApiTest, MalformedIdsAre400AndUnknownIds404) {
  auto bad = Problem(Get("/api/v1/nodes/not-an-id"), 400);
  EXPECT_TRUE(Pointers(bad).contains("path:id"));
  Problem(Get("/api/v1/nodes/gpu_01jd3x00000000000000000000"), 400);  // wrong kind
  Problem(Get("/api/v1/nodes/node_01jd3x00000000000000000000"), 404);
}

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  auto r = Client().Send(verb::delete_, "/api/v1/gpus", admin_key_);
  Problem(r, 405);
  EXPECT_EQ(r[bhttp::field::allow], "GET, HEAD");
}

TEST_F(ApiTest, IdempotencyKeyReplaysAndRejectsReuse) {
  auto first = Post("/api/v1/gpu-types", kH100, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.result_int(), 201u) << first.body();
  auto again = Post("/api/v1/gpu-types", kH100, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(again.result_int(), 201u);
  EXPECT_EQ(again["Idempotent-Replayed"], "true");
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(again[bhttp::field::location], first[bhttp::field::location]);
  EXPECT_EQ(GpuTypeCount(), 1u);

  std::string other = kH100;
  other.replace(other.find("H100-80GB"), 9, "H100-NVL1");
  auto reused = Post("/api/v1/gpu-types", other, {{"Idempotency-Key", "k-1"}});
  auto p = Problem(reused, 422);
  EXPECT_TRUE(Pointers(p).contains("header:Idempotency-Key"));
  EXPECT_EQ(GpuTypeCount(), 1u);
}

TEST_F(ApiTest, ReplayedSecretsAreNeverStoredInTheClear) {
  auto first = Post("/api/v1/nodes/join-tokens", "{}", {{"Idempotency-Key", "jt-1"}});
  ASSERT_EQ(first.result_int(), 201u) << first.body();
  std::string secret(Json(first).at("token").as_string());
  auto replay = Post("/api/v1/nodes/join-tokens", "{}", {{"Idempotency-Key", "jt-1"}});
  EXPECT_EQ(replay.body(), first.body());  // the client that holds the key gets its answer
  EXPECT_EQ(replay[bhttp::field::cache_control], "no-store");
  std::string on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "data")) {
    on_disk += ReadFile(entry.path());
  }
  EXPECT_EQ(on_disk.find(secret), std::string::npos) << "the join token is on disk in clear";
  EXPECT_EQ(on_disk.find("jt-1"), std::string::npos) << "the raw Idempotency-Key is on disk";
}

TEST_F(ApiTest, RegistrationWithoutAJoinTokenIsRefusedBeforeAnyWrite) {
  auto r = Client().Send(verb::post, "/api/v1/nodes/register", "hgj_forged", R"({})",
                         {{"Idempotency-Key", "k"}});
  auto p = Problem(r, 401);
  EXPECT_NE(std::string(p.at("detail").as_string()).find("join token"), std::string::npos);
}

TEST_F(ApiTest, ConditionalGetAnswers304) {
  auto created = Post("/api/v1/gpu-types", kH100);
  std::string location(created[bhttp::field::location]);
  std::string etag(created[bhttp::field::etag]);
  auto not_modified = Get(location, {{"If-None-Match", etag}});
  EXPECT_EQ(not_modified.result_int(), 304u);
  EXPECT_TRUE(not_modified.body().empty());
  EXPECT_EQ(Get(location, {{"If-None-Match", "\"999\""}}).result_int(), 200u);
}

TEST_F(ApiTest, CorsAllowsListedOriginsOnly) {
  auto preflight =
      Client().Send(verb::options, "/api/v1/gpus", "", "",
                    {{"Origin", "http://portal.test"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(preflight.result_int(), 204u);
  EXPECT_EQ(preflight[bhttp::field::access_control_allow_origin], "http://portal.test");
  EXPECT_NE(
      std::string(preflight[bhttp::field::access_control_allow_headers]).find("Authorization"),
      std::string::npos);
  auto other =
      Client().Send(verb::options, "/api/v1/gpus", "", "",
                    {{"Origin", "http://evil.test"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(other.result_int(), 403u);
  EXPECT_EQ(other.count(bhttp::field::access_control_allow_origin), 0u);
  auto simple = Get("/api/v1/gpus", {{"Origin", "http://portal.test"}});
  EXPECT_EQ(simple[bhttp::field::access_control_allow_origin], "http://portal.test");
}

TEST_F(ApiTest, LargeResponsesAreGzippedWhenAccepted) {
  auto plain = Client().Send(verb::get, "/api/v1/openapi.json");
  EXPECT_EQ(plain.count(bhttp::field::content_encoding), 0u);
  auto zipped =
      Client().Send(verb::get, "/api/v1/openapi.json", "", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(zipped[bhttp::field::content_encoding], "gzip");
  EXPECT_LT(zipped.body().size(), plain.body().size() / 2);
}

TEST_F(ApiTest, OpenApiDocumentDescribesEveryRouteAndTheResponsesMatchIt) {
  auto doc = Json(Client().Send(verb::get, "/api/v1/openapi.json")).as_object();
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  for (const char* p : {"/api/v1/gpus", "/api/v1/gpus/{id}", "/api/v1/nodes", "/api/v1/nodes/{id}",
                        "/api/v1/gpu-types", "/api/v1/nodes/join-tokens", "/api/v1/nodes/register",
                        "/api/v1/nodes/{id}/heartbeat", "/healthz", "/readyz"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
  EXPECT_TRUE(paths.at("/api/v1/nodes/{id}").as_object().contains("patch"));
  auto has_param = [&](const char* path, std::string_view name) {
    for (const auto& p : paths.at(path).at("get").at("parameters").as_array()) {
      if (p.at("name").as_string() == name) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_param("/api/v1/gpus", "sort"));
  EXPECT_FALSE(has_param("/api/v1/events", "sort"));  // newest first, always
  EXPECT_TRUE(has_param("/api/v1/events", "type"));
  SchemaChecker checker(doc);
  auto schema_of = [&](const char* path, const char* method, const char* status) {
    return paths.at(path)
        .at(method)
        .at("responses")
        .at(status)
        .at("content")
        .as_object()
        .begin()
        ->value()
        .at("schema");
  };
  auto created = Post("/api/v1/gpu-types", kH100);
  EXPECT_EQ(checker.Check(Json(created), schema_of("/api/v1/gpu-types", "post", "201")),
            std::vector<std::string>{});
  EXPECT_EQ(
      checker.Check(Json(Get("/api/v1/gpu-types")), schema_of("/api/v1/gpu-types", "get", "200")),
      std::vector<std::string>{});
  auto problem = Get("/api/v1/nodes/not-an-id");
  auto problem_schema = paths.at("/api/v1/nodes/{id}")
                            .at("get")
                            .at("responses")
                            .at("default")
                            .at("content")
                            .at("application/problem+json")
                            .at("schema");
  EXPECT_EQ(checker.Check(Json(problem), problem_schema), std::vector<std::string>{});
}

TEST_F(ApiTest, OpenApiDocumentValidatesAgainstTheOpenApi31Schema) {
  std::string node = FindOnPath("node");
  auto validator = std::filesystem::path(HANGAR_SOURCE_DIR) / "web/docs/validate-openapi.mjs";
  auto package = std::filesystem::path(HANGAR_SOURCE_DIR) /
                 "web/docs/node_modules/@seriousme/openapi-schema-validator";
  if (node.empty() || !std::filesystem::exists(package)) {
    GTEST_SKIP() << "needs node and `npm ci --prefix web/docs` (scripts/test.sh does both)";
  }
  auto doc = Client().Send(verb::get, "/api/v1/openapi.json");
  ASSERT_EQ(doc.result_int(), 200u);
  std::ofstream(dir_ / "openapi.json") << doc.body();
  auto result = RunToCompletion(node, {validator.string(), (dir_ / "openapi.json").string()}, dir_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("valid OpenAPI 3.1"), std::string::npos) << result.output;
}

TEST_F(ApiTest, DocsPageIsServed) {
  auto page = Client().Send(verb::get, "/docs");
  if (page.result_int() == 404) GTEST_SKIP() << "built without web/docs/node_modules";
  EXPECT_EQ(page.result_int(), 200u);
  EXPECT_NE(page.body().find("swagger-ui"), std::string::npos);
  auto script =
      Client().Send(verb::get, "/docs/swagger-ui-bundle.js", "", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(script.result_int(), 200u);
  EXPECT_EQ(script[bhttp::field::content_encoding], "gzip");
}

TEST_F(ApiTest, DataSurvivesARestart) {
  ASSERT_EQ(Post("/api/v1/gpu-types", kH100).result_int(), 201u);
  std::string key = admin_key_;
  hangard_->Signal(SIGTERM);
  ASSERT_EQ(hangard_->Wait(), 0);
  StartHangard();
  EXPECT_EQ(admin_key_, key);  // the key file is kept, no second bootstrap
  EXPECT_EQ(GpuTypeCount(), 1u);
}

TEST_F(ApiTest, JsonLogsAreOneObjectPerLineWithRequestIds) {
  hangard_->Signal(SIGTERM);
  ASSERT_EQ(hangard_->Wait(), 0);
  std::filesystem::remove(dir_ / "hangard.log");
  extra_flags_ = {"--log-format", "json"};
  StartHangard();
  auto r = Get("/api/v1/gpus?gpu_type=%22quoted%22", {{"X-Request-Id", "log-check-1"}});
  EXPECT_EQ(r.result_int(), 200u);
  hangard_->Signal(SIGTERM);
  ASSERT_EQ(hangard_->Wait(), 0);
  std::istringstream lines(hangard_->Log());
  std::string line;
  int parsed = 0;
  bool saw_request = false;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    auto v = bj::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    std::string msg(v.at("msg").as_string());
    saw_request |=
        msg.find("log-check-1") != std::string::npos && msg.find(" 200 ") != std::string::npos;
    ++parsed;
  }
  EXPECT_GT(parsed, 3);
  EXPECT_TRUE(saw_request) << hangard_->Log();
}

TEST_F(ApiTest, RateLimitsPerKeyAndPerAddressWithHeadersAnd429) {
  hangard_->Signal(SIGTERM);
  ASSERT_EQ(hangard_->Wait(), 0);
  extra_flags_ = {"--rate-limit-per-key",     "1", "--rate-limit-per-key-burst",     "3",
                  "--rate-limit-per-address", "1", "--rate-limit-per-address-burst", "2"};
  StartHangard();
  auto first = Get("/api/v1/gpu-types");
  ASSERT_EQ(first.result_int(), 200u);
  EXPECT_EQ(first["RateLimit-Policy"], "\"per-key\";q=3;w=3");
  EXPECT_TRUE(std::string(first["RateLimit"]).starts_with("\"per-key\";r=2;t="))
      << first["RateLimit"];
  // The bucket refills at 1/s, so count how many pass before the first refusal rather than
  // assuming the requests all land within one second.
  auto started = std::chrono::steady_clock::now();
  int allowed = 1;
  Response refused;
  for (int i = 0; i < 20; ++i) {
    auto r = Get("/api/v1/gpu-types");
    if (r.result_int() == 429) {
      refused = r;
      break;
    }
    ++allowed;
  }
  auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count();
  EXPECT_GE(allowed, 3);
  EXPECT_LE(allowed, 3 + elapsed + 1);
  auto p = Problem(refused, 429);
  EXPECT_EQ(p.at("type").as_string(), "https://hangar.dev/problems/rate-limited");
  EXPECT_TRUE(p.contains("hint"));
  EXPECT_EQ(refused[bhttp::field::retry_after], "1");
  EXPECT_TRUE(std::string(refused["RateLimit"]).starts_with("\"per-key\";r=0;"));

  // Without a valid key the caller is limited by address, and bad keys count too.
  auto health = Client().Send(verb::get, "/healthz");
  EXPECT_EQ(health["RateLimit-Policy"], "\"per-address\";q=2;w=2");
  int anonymous_allowed = 1;
  unsigned last = 0;
  for (int i = 0; i < 20 && last != 429; ++i) {
    last = Client().Send(verb::get, "/api/v1/gpus", "hgr_guess").result_int();
    if (last == 401) ++anonymous_allowed;
  }
  EXPECT_EQ(last, 429u);
  EXPECT_GE(anonymous_allowed, 2);
}

TEST_F(ApiTest, SigtermShutsDownCleanly) {
  hangard_->Signal(SIGTERM);
  EXPECT_EQ(hangard_->Wait(), 0);
  EXPECT_NE(hangard_->Log().find("hangard stopped"), std::string::npos);
}

}  // namespace
}  // namespace hangar::testing
