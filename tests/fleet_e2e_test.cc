// The inventory end to end with real processes: hangard, a hangar-agent with simulated GPUs that
// registers with a join token and heartbeats, and the hangar CLI reading and changing it.
#include <gtest/gtest.h>

#include "support/hangard_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

class FleetE2eTest : public HangardFixture {
 protected:
  std::string CreateJoinToken() {
    auto r = Post("/api/v1/nodes/join-tokens", R"({"description":"e2e"})");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    auto token = std::string(Json(r).at("token").as_string());
    EXPECT_TRUE(token.starts_with("hgj_"));
    return token;
  }

  std::unique_ptr<Process> StartAgent(const std::string& name, const std::string& spec,
                                      const std::string& token) {
    auto agent = std::make_unique<Process>(
        "hangar-agent",
        std::vector<std::string>{"--server", Url(), "--join-token", token, "--simulate", spec,
                                 "--name", name, "--state-dir",
                                 (dir_ / ("agent-" + name)).string()},
        dir_ / ("agent-" + name + ".log"));
    EXPECT_TRUE(agent->started());
    return agent;
  }

  size_t CountGpus(const std::string& query = "") {
    auto r = Get("/api/v1/gpus?limit=1000" + query);
    if (r.result_int() != 200) return 0;
    return Json(r).at("items").as_array().size();
  }

  bj::object Node(const std::string& id) { return Json(Get("/api/v1/nodes/" + id)).as_object(); }

  RunResult Cli(std::vector<std::string> args) {
    return RunToCompletion(
        "hangar", std::move(args), dir_,
        {"HANGAR_URL=" + Url(), "HANGAR_TOKEN=" + admin_key_, "HOME=" + dir_.string()});
  }
};

TEST_F(FleetE2eTest, AgentRegistersEightSimulatedH100sAndTheCliShowsThem) {
  auto agent = StartAgent("sim-node-1", "8xH100-80GB", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 8; })) << agent->Log();

  auto nodes = Json(Get("/api/v1/nodes")).at("items").as_array();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].at("name").as_string(), "sim-node-1");
  EXPECT_EQ(nodes[0].at("state").as_string(), "ready");
  EXPECT_EQ(nodes[0].at("gpu_count").as_int64(), 8);

  auto gpus = Json(Get("/api/v1/gpus?sort=index")).at("items").as_array();
  EXPECT_EQ(gpus[0].at("index").as_int64(), 0);
  EXPECT_EQ(gpus[7].at("index").as_int64(), 7);
  EXPECT_EQ(gpus[0].at("product_name").as_string(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpus[0].at("memory_mib").as_int64(), 81559);
  EXPECT_EQ(gpus[0].at("state").as_string(), "ready");
  EXPECT_TRUE(std::string(gpus[0].at("uuid").as_string()).starts_with("GPU-"));

  auto json = Cli({"gpus", "list", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto listed = bj::parse(json.output.substr(json.output.find('['))).as_array();
  EXPECT_EQ(listed.size(), 8u);

  auto table = Cli({"gpus", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("H100"), std::string::npos);
  EXPECT_EQ(std::count(table.output.begin(), table.output.end(), '\n'), 9);  // header + 8

  auto yaml = Cli({"nodes", "list", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.output;
  EXPECT_NE(yaml.output.find("name: sim-node-1"), std::string::npos) << yaml.output;

  std::string gpu_id(gpus[3].at("id").as_string());
  auto get = Cli({"gpus", "get", gpu_id, "-o", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find(gpu_id), std::string::npos);
}

TEST_F(FleetE2eTest, CliCordonsAndReportsErrorsWithExitCodes) {
  auto agent = StartAgent("sim-node-1", "2xA100-80GB", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 2; })) << agent->Log();
  std::string node_id(Json(Get("/api/v1/nodes")).at("items").as_array()[0].at("id").as_string());

  auto cordon = Cli({"nodes", "cordon", node_id});
  ASSERT_EQ(cordon.exit_code, 0) << cordon.output;
  EXPECT_TRUE(Node(node_id).at("cordoned").as_bool());
  ASSERT_EQ(Cli({"nodes", "uncordon", node_id}).exit_code, 0);
  EXPECT_FALSE(Node(node_id).at("cordoned").as_bool());

  auto missing = Cli({"nodes", "get", "node_01jd3x00000000000000000000"});
  EXPECT_EQ(missing.exit_code, 4) << missing.output;
  EXPECT_NE(missing.output.find("Not found"), std::string::npos) << missing.output;
  auto bad_key =
      RunToCompletion("hangar", {"gpus", "list"}, dir_,
                      {"HANGAR_URL=" + Url(), "HANGAR_TOKEN=hgr_bad", "HOME=" + dir_.string()});
  EXPECT_EQ(bad_key.exit_code, 3) << bad_key.output;
  EXPECT_NE(bad_key.output.find("Hint"), std::string::npos) << bad_key.output;
  auto unreachable = RunToCompletion(
      "hangar", {"gpus", "list"}, dir_,
      {"HANGAR_URL=http://127.0.0.1:1", "HANGAR_TOKEN=" + admin_key_, "HOME=" + dir_.string()});
  EXPECT_EQ(unreachable.exit_code, 6) << unreachable.output;
}

TEST_F(FleetE2eTest, ListsPaginateWithCursorsAndLinkHeaders) {
  auto agent = StartAgent("sim-node-1", "8xH100-80GB", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 8; })) << agent->Log();
  std::set<std::string> seen;
  std::string target = "/api/v1/gpus?limit=3&sort=-index";
  int pages = 0;
  int64_t last_index = 100;
  while (!target.empty()) {
    auto r = Get(target);
    ASSERT_EQ(r.result_int(), 200u) << r.body();
    auto body = Json(r).as_object();
    for (const auto& g : body.at("items").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(g.at("id").as_string())).second);
      EXPECT_LT(g.at("index").as_int64(), last_index);
      last_index = g.at("index").as_int64();
    }
    ++pages;
    std::string link(r[bhttp::field::link]);
    if (body.at("next_page_token").is_null()) {
      EXPECT_TRUE(link.empty());
      target.clear();
    } else {
      ASSERT_TRUE(link.starts_with("</api/v1/gpus?")) << link;
      EXPECT_NE(link.find("rel=\"next\""), std::string::npos);
      target = link.substr(1, link.find('>') - 1);
    }
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(CountGpus("&state=ready"), 8u);
  EXPECT_EQ(CountGpus("&state=unhealthy"), 0u);
}

TEST_F(FleetE2eTest, PatchHonoursIfMatchAndMergePatchLabels) {
  auto agent = StartAgent("sim-node-1", "1xL4", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 1; })) << agent->Log();
  // Stop heartbeats and wait for the node to turn unreachable, after which nothing but this test
  // changes it, so the ETag stays put (reading it earlier raced the unreachable transition).
  agent->Signal(SIGTERM);
  ASSERT_EQ(agent->Wait(), 0) << agent->Log();
  auto node_id =
      std::string(Json(Get("/api/v1/nodes")).at("items").as_array()[0].at("id").as_string());
  ASSERT_TRUE(WaitFor([&] { return Node(node_id).at("state").as_string() == "unreachable"; }));
  auto node = Node(node_id);
  std::string path = "/api/v1/nodes/" + std::string(node.at("id").as_string());
  std::string etag(node.at("etag").as_string());

  auto patched = Client().Send(verb::patch, path, admin_key_,
                               R"({"labels":{"zone":"eu-1","rack":"r7"},"cordoned":true})",
                               {{"If-Match", etag}}, "application/merge-patch+json");
  ASSERT_EQ(patched.result_int(), 200u) << patched.body();
  EXPECT_EQ(Json(patched).at("labels").at("zone").as_string(), "eu-1");
  EXPECT_NE(patched[bhttp::field::etag], etag);

  auto stale = Client().Send(verb::patch, path, admin_key_, R"({"cordoned":false})",
                             {{"If-Match", etag}}, "application/merge-patch+json");
  EXPECT_EQ(stale.result_int(), 412u) << stale.body();
  EXPECT_TRUE(Node(std::string(node.at("id").as_string())).at("cordoned").as_bool());

  auto remove = Client().Send(verb::patch, path, admin_key_, R"({"labels":{"rack":null}})", {},
                              "application/merge-patch+json");
  ASSERT_EQ(remove.result_int(), 200u);
  EXPECT_FALSE(Json(remove).at("labels").as_object().contains("rack"));
  auto filtered = Json(Get("/api/v1/nodes?cordoned=true")).at("items").as_array();
  EXPECT_EQ(filtered.size(), 1u);
}

TEST_F(FleetE2eTest, SilentNodeTurnsUnreachableAndRecoversWhenTheAgentReturns) {
  std::string token = CreateJoinToken();
  auto agent = StartAgent("sim-node-1", "2xH100-80GB", token);
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 2; })) << agent->Log();
  std::string node_id(Json(Get("/api/v1/nodes")).at("items").as_array()[0].at("id").as_string());

  agent->Signal(SIGKILL);
  agent->Wait();
  ASSERT_TRUE(WaitFor([&] { return Node(node_id).at("state").as_string() == "unreachable"; }))
      << hangard_->Log();
  EXPECT_EQ(CountGpus("&state=unreachable"), 2u);

  // The restarted agent reuses its saved credential: same node, no new registration.
  auto again = StartAgent("sim-node-1", "2xH100-80GB", token);
  ASSERT_TRUE(WaitFor([&] { return Node(node_id).at("state").as_string() == "ready"; }))
      << again->Log();
  EXPECT_EQ(CountGpus("&state=ready"), 2u);
  EXPECT_EQ(Json(Get("/api/v1/nodes")).at("items").as_array().size(), 1u);

  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(), 0) << again->Log();
}

TEST_F(FleetE2eTest, ADiscoveredGpuTypeCanBePricedWithTheCli) {
  auto agent = StartAgent("sim-node-1", "1xL40S", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 1; })) << agent->Log();
  auto type = Json(Get("/api/v1/gpu-types")).at("items").as_array().at(0).as_object();
  EXPECT_EQ(type.at("hourly_price_micros").as_int64(), 0);
  std::string id(type.at("id").as_string());
  auto updated = Cli(
      {"gpu-types", "update", id, "--name", "L40S-48GB", "--hourly-price", "1.19", "-o", "json"});
  ASSERT_EQ(updated.exit_code, 0) << updated.output;
  auto after = Json(Get("/api/v1/gpu-types/" + id)).as_object();
  EXPECT_EQ(after.at("name").as_string(), "L40S-48GB");
  EXPECT_EQ(after.at("hourly_price_micros").as_int64(), 1'190'000);
  EXPECT_EQ(CountGpus("&gpu_type=L40S-48GB"), 1u);
  auto bad = Client().Send(verb::patch, "/api/v1/gpu-types/" + id, admin_key_,
                           R"({"hourly_price_micros":"free"})", {}, "application/merge-patch+json");
  EXPECT_EQ(bad.result_int(), 422u) << bad.body();
  EXPECT_EQ(Json(Get("/api/v1/gpu-types/" + id)).at("hourly_price_micros").as_int64(), 1'190'000);
}

TEST_F(FleetE2eTest, EveryChangeIsAnEventInTheOrganisationsLog) {
  auto agent = StartAgent("sim-node-1", "2xA10", CreateJoinToken());
  ASSERT_TRUE(WaitFor([&] { return CountGpus() == 2; })) << agent->Log();
  std::string node_id(Json(Get("/api/v1/nodes")).at("items").as_array()[0].at("id").as_string());
  ASSERT_EQ(Cli({"nodes", "cordon", node_id}).exit_code, 0);

  auto events = Json(Get("/api/v1/events?limit=100")).at("items").as_array();
  std::vector<std::string> types;
  for (const auto& e : events) types.emplace_back(e.at("type").as_string());
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), "hangar.node.cordoned");  // newest first
  for (const char* expected :
       {"hangar.organisation.created", "hangar.join_token.created", "hangar.node.registered",
        "hangar.gpu.added", "hangar.gpu_type.discovered"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), expected), types.end()) << expected;
  }
  const auto& cordoned = events[0].as_object();
  EXPECT_EQ(cordoned.at("specversion").as_string(), "1.0");
  EXPECT_EQ(cordoned.at("subject").as_string(), node_id);
  EXPECT_TRUE(cordoned.at("data").at("cordoned").as_bool());  // the object after the change

  auto about_node = Json(Get("/api/v1/events?subject=" + node_id)).at("items").as_array();
  for (const auto& e : about_node) EXPECT_EQ(e.at("subject").as_string(), node_id);
  auto cli = Cli({"events", "list", "--type", "hangar.gpu.added", "-o", "json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(bj::parse(cli.output.substr(cli.output.find('['))).as_array().size(), 2u);
  EXPECT_EQ(Get("/api/v1/events?sort=type").result_int(), 422u);
}

TEST_F(FleetE2eTest, JoinTokensCanBeListedAndRevoked) {
  std::string token = CreateJoinToken();
  auto list = Json(Get("/api/v1/nodes/join-tokens")).at("items").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].at("token").is_null());  // the secret is never shown again
  std::string id(list[0].at("id").as_string());
  std::string path = "/api/v1/nodes/join-tokens/" + id;
  auto stale = Client().Send(verb::delete_, path, admin_key_, "", {{"If-Match", "\"999\""}});
  EXPECT_EQ(stale.result_int(), 412u);
  std::string etag(list[0].at("etag").as_string());
  auto deleted = Client().Send(verb::delete_, path, admin_key_, "", {{"If-Match", etag}});
  EXPECT_EQ(deleted.result_int(), 204u);
  EXPECT_EQ(Client().Send(verb::delete_, path, admin_key_).result_int(), 404u);
  auto refused = Client().Send(verb::post, "/api/v1/nodes/register", token,
                               R"({"name":"n","hostname":"h","agent_version":"1","gpus":[]})");
  EXPECT_EQ(refused.result_int(), 401u) << refused.body();
  EXPECT_EQ(Json(Get("/api/v1/nodes")).at("items").as_array().size(), 0u);
}

TEST_F(FleetE2eTest, NodeCredentialsCannotReadTheInventory) {
  std::string token = CreateJoinToken();
  auto reg = Client().Send(verb::post, "/api/v1/nodes/register", token,
                           R"({"name":"n1","hostname":"h","agent_version":"1","gpus":[]})");
  ASSERT_EQ(reg.result_int(), 201u) << reg.body();
  std::string credential(Json(reg).at("credential").as_string());
  auto r = Client().Send(verb::get, "/api/v1/gpus", credential);
  EXPECT_EQ(r.result_int(), 403u) << r.body();
}

}  // namespace
}  // namespace hangar::testing
