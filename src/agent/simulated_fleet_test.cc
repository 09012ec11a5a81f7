#include "agent/simulated_fleet.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <thread>

#include "client/test_server.h"

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using hangar::testing::TestServer;
using namespace std::chrono_literals;

// "sim-00003" -> a valid node id ending in 00003.
std::string NodeIdOf(const std::string& name) {
  return "node_01jd3xk5m7q8r9s0t1v2w" + name.substr(name.size() - 5);
}

// A fake hangard for many nodes named sim-NNNNN: node ids and credentials derive from the names.
struct FleetHangard {
  std::mutex mu;
  std::map<std::string, int> registrations;  // by name; guarded by mu
  std::map<std::string, int> heartbeats;     // by node id; guarded by mu
  std::map<std::string, int64_t> points;     // by node id; guarded by mu
  std::set<std::string> unhealthy;           // "<node id>/<index>" last heartbeated unhealthy

  TestServer::Response Handle(const TestServer::Request& req) {
    std::lock_guard lock(mu);
    std::string target(req.target());
    std::string auth(req[boost::beast::http::field::authorization]);
    if (target == "/api/v1/nodes/register") {
      if (auth != "Bearer join-secret") return Problem(401);
      auto body = json::ParseAs<api::RegisterNodeRequest>(req.body());
      if (!body) return Problem(422);
      ++registrations[body->name];
      api::RegisterNodeResponse res{.node = {.id = NodeIdOf(body->name), .name = body->name},
                                    .credential = "cred_" + body->name,
                                    .heartbeat_interval_seconds = 15};
      return TestServer::Json(201, json::Serialize(res));
    }
    const std::string prefix = "/api/v1/nodes/";
    if (target.rfind(prefix, 0) != 0) return Problem(404);
    std::string rest = target.substr(prefix.size());
    std::string id = rest.substr(0, rest.find('/'));
    std::string action = rest.substr(rest.find('/') + 1);
    std::string name = "sim-" + id.substr(id.size() - 5);
    if (auth != "Bearer cred_" + name) return Problem(401);
    if (action == "heartbeat") {
      auto body = json::ParseAs<api::HeartbeatRequest>(req.body());
      if (!body) return Problem(422);
      ++heartbeats[id];
      for (const auto& g : body->gpus) {
        std::string key = id + "/" + std::to_string(g.index);
        if (g.healthy) {
          unhealthy.erase(key);
        } else {
          unhealthy.insert(key);
        }
      }
      return TestServer::Json(200, json::Serialize(api::HeartbeatResponse{.node = {.id = id}}));
    }
    if (action == "metrics") {
      auto body = json::ParseAs<api::MetricBatchRequest>(req.body());
      if (!body) return Problem(422);
      for (const auto& g : body->gpus) points[id] += static_cast<int64_t>(g.points.size());
      return TestServer::Json(200, json::Serialize(api::MetricBatchResponse{}));
    }
    return Problem(404);
  }

  static TestServer::Response Problem(int status) {
    api::Problem p{.title = "problem", .status = status};
    return TestServer::Json(status, json::Serialize(p), "application/problem+json");
  }

  template <typename F>
  bool WaitUntil(F condition) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (condition()) return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
};

class SimulatedFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-fleet-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    state_dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(state_dir_); }

  FleetOptions Options() {
    return FleetOptions{.server_url = server_.url(),
                        .join_token = "join-secret",
                        .name_prefix = "sim",
                        .nodes = 5,
                        .simulate = "2xL4",
                        .state_dir = state_dir_,
                        .shipper = {.sample_period = 10ms, .flush_period = 30ms},
                        .workers = 2,
                        .timeout = 5s,
                        .seed = 7};
  }

  FleetHangard hangard_;
  TestServer server_{[this](const TestServer::Request& r) { return hangard_.Handle(r); }};
  SystemClock clock_;
  fs::path state_dir_;
};

TEST_F(SimulatedFleetTest, EveryNodeRegistersHeartbeatsAndShipsMetricsThenResumes) {
  auto fleet = SimulatedFleet::Create(Options(), clock_);
  ASSERT_TRUE(fleet.has_value()) << fleet.error().ToString();
  StopSignal stop;
  auto done = std::async(std::launch::async, [&] { return (*fleet)->Run(stop, 1s); });
  ASSERT_TRUE(hangard_.WaitUntil([&] {
    if (hangard_.registrations.size() < 5 || hangard_.points.size() < 5) return false;
    for (const auto& [id, n] : hangard_.points) {
      if (n < 10) return false;
    }
    return true;
  }));
  // A fault on one node's GPU is heartbeated promptly, although the interval is 15 s.
  ASSERT_TRUE((*fleet)->probe(2).InjectFault(1, SimulatedFault::kOverheating).has_value());
  EXPECT_TRUE(hangard_.WaitUntil(
      [&] { return hangard_.unhealthy.contains(NodeIdOf("sim-00003") + "/1"); }));
  stop.Stop();
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready);
  Status result = done.get();
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  FleetProgress progress = (*fleet)->progress();
  EXPECT_EQ(progress.registered, 5);
  EXPECT_GT(progress.points_sent, 0);
  for (const auto& [name, n] : hangard_.registrations) EXPECT_EQ(n, 1) << name;
  EXPECT_TRUE(hangard_.registrations.contains("sim-00001"));
  EXPECT_TRUE(hangard_.registrations.contains("sim-00005"));
  EXPECT_TRUE(fs::exists(state_dir_ / "sim-00004" / "node.json"));

  // A restarted fleet resumes as the same nodes, without registering again.
  std::map<std::string, int> beats_before;
  {
    std::lock_guard lock(hangard_.mu);
    beats_before = hangard_.heartbeats;
  }
  auto again = SimulatedFleet::Create(Options(), clock_);
  ASSERT_TRUE(again.has_value());
  StopSignal stop_again;
  auto done_again = std::async(std::launch::async, [&] { return (*again)->Run(stop_again, 1s); });
  ASSERT_TRUE(hangard_.WaitUntil([&] {
    for (int i = 1; i <= 5; ++i) {
      std::string id = NodeIdOf("sim-0000" + std::to_string(i));
      if (hangard_.heartbeats[id] <= beats_before[id]) return false;
    }
    return true;
  }));
  stop_again.Stop();
  ASSERT_EQ(done_again.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(done_again.get().has_value());
  std::lock_guard lock(hangard_.mu);
  for (const auto& [name, n] : hangard_.registrations) EXPECT_EQ(n, 1) << name;
}

TEST_F(SimulatedFleetTest, BadJoinTokenEndsTheRun) {
  FleetOptions options = Options();
  options.join_token = "wrong";
  auto fleet = SimulatedFleet::Create(options, clock_);
  ASSERT_TRUE(fleet.has_value());
  StopSignal stop;
  auto done = std::async(std::launch::async, [&] { return (*fleet)->Run(stop, 1s); });
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready);
  Status result = done.get();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(SimulatedFleetTest, RejectsBadOptions) {
  FleetOptions options = Options();
  options.nodes = 0;
  EXPECT_EQ(SimulatedFleet::Create(options, clock_).error().code(), ErrorCode::kInvalidArgument);
  options = Options();
  options.simulate = "8xB9000";
  EXPECT_EQ(SimulatedFleet::Create(options, clock_).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hangar::agent
