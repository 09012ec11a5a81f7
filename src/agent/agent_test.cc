#include "agent/agent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "agent/gpu_health.h"
#include "agent/simulated_probe.h"
#include "client/test_server.h"

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using hangar::testing::TestServer;
using namespace std::chrono_literals;

constexpr const char* kNodeId = "node_01jd3xk5m7q8r9s0t1v2w3x4y5";

// A fake hangard that implements register and heartbeat, with knobs for failures.
struct FakeHangard {
  std::mutex mu;
  int registrations = 0;   // guarded by mu
  int heartbeats = 0;      // guarded by mu
  std::string credential;  // the valid credential, guarded by mu
  std::string last_idempotency_key;
  api::RegisterNodeRequest last_register;
  api::HeartbeatRequest last_heartbeat;
  int fail_heartbeats_with_503 = 0;  // the next N heartbeats answer 503
  bool revoke_next_heartbeat = false;

  TestServer::Response Handle(const TestServer::Request& req) {
    std::lock_guard lock(mu);
    std::string auth(req[boost::beast::http::field::authorization]);
    if (req.target() == "/api/v1/nodes/register") {
      if (auth != "Bearer join-secret") return Problem(401, "Unauthenticated");
      auto body = json::ParseAs<api::RegisterNodeRequest>(req.body());
      if (!body) return Problem(422, "Invalid argument");
      last_register = *body;
      last_idempotency_key = std::string(req["Idempotency-Key"]);
      ++registrations;
      credential = "hgr_cred_" + std::to_string(registrations);
      api::RegisterNodeResponse res{.node = {.id = kNodeId, .name = body->name},
                                    .credential = credential,
                                    .heartbeat_interval_seconds = 30};
      return TestServer::Json(201, json::Serialize(res));
    }
    if (req.target() == std::string("/api/v1/nodes/") + kNodeId + "/heartbeat") {
      if (auth != "Bearer " + credential) return Problem(401, "Unauthenticated");
      if (revoke_next_heartbeat) {
        revoke_next_heartbeat = false;
        credential = "revoked";
        return Problem(401, "Unauthenticated");
      }
      if (fail_heartbeats_with_503 > 0) {
        --fail_heartbeats_with_503;
        return Problem(503, "Unavailable");
      }
      auto body = json::ParseAs<api::HeartbeatRequest>(req.body());
      if (!body) return Problem(422, "Invalid");
      last_heartbeat = *body;
      ++heartbeats;
      api::HeartbeatResponse res{.node = {.id = kNodeId}, .heartbeat_interval_seconds = 30};
      return TestServer::Json(200, json::Serialize(res));
    }
    return Problem(404, "Not found");
  }

  static TestServer::Response Problem(int status, std::string title) {
    api::Problem p{.title = std::move(title), .status = status};
    return TestServer::Json(status, json::Serialize(p), "application/problem+json");
  }

  template <typename F>
  bool WaitUntil(F condition) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (condition()) return true;
      }
      std::this_thread::yield();
    }
    return false;
  }
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-agent-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    state_dir_ = tmpl;
    auto probe = SimulatedProbe::Create("2xH100-80GB", "gpu-01", clock_);
    ASSERT_TRUE(probe.has_value());
    probe_ = std::move(*probe);
    auto client = client::ApiClient::Create({.base_url = server_.url(), .timeout = 5s});
    ASSERT_TRUE(client.has_value());
    client_ = std::move(*client);
  }
  void TearDown() override { fs::remove_all(state_dir_); }

  AgentOptions Options() {
    return AgentOptions{.server_url = server_.url(),
                        .join_token = "join-secret",
                        .name = "gpu-01",
                        .hostname = "gpu-01.example",
                        .labels = {{"zone", "a"}},
                        .state_dir = state_dir_,
                        .heartbeat_interval_override = 1ms,
                        .backoff_initial = 1ms,
                        .backoff_max = 2ms,
                        .seed = 42};
  }

  // Starts the agent on a thread; the future holds Run()'s result.
  std::future<Status> Start(Agent& agent) {
    return std::async(std::launch::async, [&agent] { return agent.Run(); });
  }

  FakeHangard hangard_;
  TestServer server_{[this](const TestServer::Request& r) { return hangard_.Handle(r); }};
  FakeClock clock_{FromUnixMicros(1'700'000'000'000'000)};
  fs::path state_dir_;
  std::unique_ptr<GpuProbe> probe_;
  std::unique_ptr<client::ApiClient> client_;
  StopSignal stop_;
};

TEST_F(AgentTest, RegistersSavesStateAndHeartbeatsUntilStopped) {
  Agent agent(Options(), *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.heartbeats >= 3; }));
  stop_.Stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  Status result = done.get();
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(agent.stats().registrations.load(), 1);
  EXPECT_EQ(hangard_.last_register.name, "gpu-01");
  EXPECT_EQ(hangard_.last_register.hostname, "gpu-01.example");
  EXPECT_EQ(hangard_.last_register.gpus.size(), 2u);
  EXPECT_EQ(hangard_.last_register.labels->at("zone"), "a");
  EXPECT_FALSE(hangard_.last_idempotency_key.empty());
  auto state = LoadState(state_dir_);
  ASSERT_TRUE(state.has_value() && state->has_value());
  EXPECT_EQ((*state)->node_id, kNodeId);
  EXPECT_EQ((*state)->credential, "hgr_cred_1");
}

TEST_F(AgentTest, ResumesFromSavedStateWithoutRegistering) {
  ASSERT_TRUE(SaveState(state_dir_, {.server_url = server_.url(),
                                     .node_id = kNodeId,
                                     .node_name = "gpu-01",
                                     .credential = "hgr_saved"})
                  .has_value());
  hangard_.credential = "hgr_saved";
  AgentOptions options = Options();
  options.join_token.reset();
  Agent agent(options, *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.heartbeats >= 2; }));
  stop_.Stop();
  ASSERT_TRUE(done.get().has_value());
  EXPECT_EQ(hangard_.registrations, 0);
}

TEST_F(AgentTest, RevokedCredentialTriggersReRegistration) {
  Agent agent(Options(), *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.heartbeats >= 1; }));
  {
    std::lock_guard lock(hangard_.mu);
    hangard_.revoke_next_heartbeat = true;
  }
  ASSERT_TRUE(
      hangard_.WaitUntil([&] { return hangard_.registrations == 2 && hangard_.heartbeats >= 3; }));
  stop_.Stop();
  ASSERT_TRUE(done.get().has_value());
  EXPECT_EQ((*LoadState(state_dir_))->credential, "hgr_cred_2");
}

TEST_F(AgentTest, RevokedCredentialWithoutJoinTokenIsFatal) {
  ASSERT_TRUE(SaveState(state_dir_, {.server_url = server_.url(),
                                     .node_id = kNodeId,
                                     .node_name = "gpu-01",
                                     .credential = "hgr_stale"})
                  .has_value());
  hangard_.credential = "hgr_current";
  AgentOptions options = Options();
  options.join_token.reset();
  Agent agent(options, *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  Status result = done.get();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(result.error().hint().find("--join-token"), std::string::npos);
  EXPECT_FALSE(LoadState(state_dir_)->has_value());
}

TEST_F(AgentTest, BadJoinTokenIsFatal) {
  AgentOptions options = Options();
  options.join_token = "wrong";
  Agent agent(options, *client_, *probe_, clock_, stop_);
  Status result = agent.Run();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AgentTest, ServerErrorsBackOffAndKeepGoing) {
  hangard_.fail_heartbeats_with_503 = 3;
  Agent agent(Options(), *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.heartbeats >= 2; }));
  stop_.Stop();
  ASSERT_TRUE(done.get().has_value());
  EXPECT_EQ(agent.stats().failures.load(), 3);
}

TEST_F(AgentTest, UnreachableServerRetriesUntilStopped) {
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto client = client::ApiClient::Create({.base_url = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(client.has_value());
  Agent agent(Options(), **client, *probe_, clock_, stop_);
  auto done = Start(agent);
  // Poll with a deadline (no sleeps): the agent keeps retrying instead of giving up.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && agent.stats().failures.load() < 3) {
    ASSERT_NE(done.wait_for(0s), std::future_status::ready);
    std::this_thread::yield();
  }
  EXPECT_GE(agent.stats().failures.load(), 3);
  stop_.Stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(done.get().has_value());
}

TEST_F(AgentTest, StopInterruptsALongWait) {
  AgentOptions options = Options();
  options.heartbeat_interval_override = std::chrono::hours(1);
  Agent agent(options, *client_, *probe_, clock_, stop_);
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.registrations == 1; }));
  stop_.Stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(done.get().has_value());
}

TEST_F(AgentTest, GpuHealthChangeIsHeartbeatAtOnce) {
  auto* simulated = static_cast<SimulatedProbe*>(probe_.get());
  GpuHealthMonitor monitor(*simulated);
  AgentOptions options = Options();
  options.heartbeat_interval_override = std::chrono::hours(1);  // only a request can beat again
  Agent agent(options, *client_, monitor, clock_, stop_);
  monitor.OnHealthChange([&agent] { agent.RequestHeartbeat(); });
  auto done = Start(agent);
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.registrations == 1; }));
  EXPECT_TRUE(hangard_.last_register.gpus[1].healthy);

  ASSERT_TRUE(simulated->InjectFault(1, SimulatedFault::kOverheating).has_value());
  ASSERT_TRUE(monitor.Sample().has_value());  // as the metrics sampler would
  ASSERT_TRUE(hangard_.WaitUntil([&] { return hangard_.heartbeats == 1; }));
  {
    std::lock_guard lock(hangard_.mu);
    const auto& gpus = hangard_.last_heartbeat.gpus;
    ASSERT_EQ(gpus.size(), 2u);
    EXPECT_TRUE(gpus[0].healthy);
    EXPECT_FALSE(gpus[1].healthy);
    EXPECT_EQ(gpus[1].health_reasons, std::vector<std::string>{"overheating"});
  }
  stop_.Stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(done.get().has_value());
}

TEST_F(AgentTest, StepsWithoutALoopRegisterThenHeartbeat) {
  Agent agent(Options(), *probe_, clock_);
  auto first = agent.Step(*client_);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(*first, 1ms);  // the interval override
  EXPECT_EQ(agent.stats().registrations.load(), 1);
  ASSERT_TRUE(agent.Step(*client_).has_value());
  EXPECT_EQ(agent.stats().heartbeats.load(), 1);
  agent.RequestHeartbeat();
  EXPECT_TRUE(agent.heartbeat_requested());
  ASSERT_TRUE(agent.Step(*client_).has_value());
  EXPECT_FALSE(agent.heartbeat_requested());
}

}  // namespace
}  // namespace hangar::agent
