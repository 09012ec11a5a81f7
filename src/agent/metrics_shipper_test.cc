#include "agent/metrics_shipper.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent/gpu_health.h"
#include "agent/simulated_probe.h"
#include "client/test_server.h"

namespace hangar::agent {
namespace {

using hangar::testing::TestServer;
using namespace std::chrono_literals;

constexpr int64_t kStartMicros = 1'700'000'000'000'000;
const AgentState kIdentity{
    .server_url = "", .node_id = "node_m1", .node_name = "gpu-01", .credential = "hgr_node_secret"};

// A fake hangard's metrics endpoint: records every batch; can be down or refuse.
struct MetricsServer {
  std::mutex mu;
  std::vector<api::MetricBatchRequest> batches;  // guarded by mu
  std::vector<std::string> targets;              // guarded by mu
  std::vector<std::string> authorizations;       // guarded by mu
  int status = 200;                              // guarded by mu: what to answer
  size_t max_points = 1'000'000;                 // guarded by mu: more in a batch is a 413

  TestServer::Response Handle(const TestServer::Request& req) {
    std::lock_guard lock(mu);
    if (status != 200) {
      api::Problem p{.title = "nope", .status = status};
      return TestServer::Json(status, json::Serialize(p), "application/problem+json");
    }
    auto body = json::ParseAs<api::MetricBatchRequest>(req.body());
    if (!body) return TestServer::Json(422, "{}");
    int64_t points = 0;
    for (const auto& g : body->gpus) points += static_cast<int64_t>(g.points.size());
    if (static_cast<size_t>(points) > max_points) {
      api::Problem p{.title = "Payload too large", .status = 413};
      return TestServer::Json(413, json::Serialize(p), "application/problem+json");
    }
    batches.push_back(*body);
    targets.emplace_back(req.target());
    authorizations.emplace_back(req[boost::beast::http::field::authorization]);
    return TestServer::Json(200, json::Serialize(api::MetricBatchResponse{.accepted = points}));
  }
  std::vector<api::MetricBatchRequest> Batches() {
    std::lock_guard lock(mu);
    return batches;
  }
  std::vector<std::string> Targets() {
    std::lock_guard lock(mu);
    return targets;
  }
  std::vector<std::string> Authorizations() {
    std::lock_guard lock(mu);
    return authorizations;
  }
  void Set(int s) {
    std::lock_guard lock(mu);
    status = s;
  }
  // Every point received for `uuid`, in arrival order.
  std::vector<api::GpuMetricPoint> Points(const std::string& uuid) {
    std::lock_guard lock(mu);
    std::vector<api::GpuMetricPoint> out;
    for (const auto& b : batches) {
      for (const auto& g : b.gpus) {
        if (g.uuid == uuid) out.insert(out.end(), g.points.begin(), g.points.end());
      }
    }
    return out;
  }
};

class MetricsShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto probe = SimulatedProbe::Create("2xH100-80GB", "gpu-01", clock_);
    ASSERT_TRUE(probe.has_value());
    probe_ = std::move(*probe);
    monitor_ = std::make_unique<GpuHealthMonitor>(*probe_);
    auto client = client::ApiClient::Create({.base_url = server_.url(), .timeout = 5s});
    ASSERT_TRUE(client.has_value());
    client_ = std::move(*client);
    uuid0_ = SimulatedGpuUuid("gpu-01", 0);
    uuid1_ = SimulatedGpuUuid("gpu-01", 1);
  }

  std::unique_ptr<MetricsShipper> Shipper(ShipperOptions options = {}) {
    auto shipper = std::make_unique<MetricsShipper>(options, *monitor_, clock_);
    shipper->SetIdentity(kIdentity);
    return shipper;
  }
  // Takes `n` samples one second apart.
  void Sample(MetricsShipper& shipper, int n) {
    for (int i = 0; i < n; ++i) {
      shipper.SampleOnce();
      clock_.Advance(1s);
    }
  }
  static int64_t T(int second) { return kStartMicros / 1000 + second * 1000; }
  static std::vector<int64_t> Times(const std::vector<api::GpuMetricPoint>& points) {
    std::vector<int64_t> out;
    for (const auto& p : points) out.push_back(p.t);
    return out;
  }

  FakeClock clock_{FromUnixMicros(kStartMicros)};
  std::unique_ptr<SimulatedProbe> probe_;
  std::unique_ptr<GpuHealthMonitor> monitor_;  // over probe_, as the agent shares it
  MetricsServer metrics_;
  TestServer server_{[this](const TestServer::Request& r) { return metrics_.Handle(r); }};
  std::unique_ptr<client::ApiClient> client_;
  std::string uuid0_, uuid1_;
};

TEST_F(MetricsShipperTest, BatchesArriveWithTheRightShape) {
  auto shipper = Shipper();
  Sample(*shipper, 3);
  EXPECT_EQ(shipper->buffered(), 6u);
  EXPECT_EQ(shipper->Flush(*client_), 5s);
  ASSERT_EQ(metrics_.Batches().size(), 1u);
  EXPECT_EQ(metrics_.Targets()[0], "/api/v1/nodes/node_m1/metrics");
  EXPECT_EQ(metrics_.Authorizations()[0], "Bearer hgr_node_secret");
  const api::MetricBatchRequest batch = metrics_.Batches()[0];
  EXPECT_EQ(batch.dropped_samples, 0);
  EXPECT_EQ(batch.sample_period_ms, 1000);
  ASSERT_EQ(batch.gpus.size(), 2u);
  EXPECT_EQ(batch.gpus[0].uuid, uuid0_);
  EXPECT_EQ(batch.gpus[1].uuid, uuid1_);
  EXPECT_FALSE(batch.gpus[0].xids.has_value());
  EXPECT_EQ(Times(batch.gpus[0].points), (std::vector<int64_t>{T(0), T(1), T(2)}));
  const api::GpuMetricPoint& p = batch.gpus[1].points[0];
  EXPECT_EQ(p.utilization, 0);
  EXPECT_EQ(p.temperature_c, 32);
  EXPECT_EQ(p.power_watts, 70);  // an idle H100
  EXPECT_EQ(p.sm_clock_mhz, 345);
  EXPECT_EQ(p.throttle_reasons, static_cast<int64_t>(kThrottleGpuIdle));
  EXPECT_EQ(shipper->buffered(), 0u);
  EXPECT_EQ(shipper->stats().points_sent.load(), 6);
  EXPECT_EQ(shipper->stats().batches_sent.load(), 1);
  EXPECT_EQ(shipper->stats().samples.load(), 3);

  EXPECT_EQ(shipper->Flush(*client_), 5s);  // nothing new: nothing sent
  EXPECT_EQ(metrics_.Batches().size(), 1u);
}

TEST_F(MetricsShipperTest, NothingIsSentWithoutAnIdentity) {
  auto shipper = Shipper();
  shipper->SetIdentity(std::nullopt);
  Sample(*shipper, 2);
  shipper->Flush(*client_);
  EXPECT_TRUE(metrics_.Batches().empty());
  EXPECT_EQ(shipper->buffered(), 4u);
  shipper->SetIdentity(kIdentity);
  shipper->Flush(*client_);
  EXPECT_EQ(metrics_.Points(uuid0_).size(), 2u);
}

TEST_F(MetricsShipperTest, ServerDownBuffersThenDeliversEverythingInOrderInChunks) {
  auto shipper = Shipper({.max_points_per_batch = 4});
  metrics_.Set(503);
  Sample(*shipper, 5);
  EXPECT_EQ(shipper->Flush(*client_), 5s);  // first failure: the normal period
  Sample(*shipper, 2);
  EXPECT_EQ(shipper->Flush(*client_), 10s);  // then backing off
  metrics_.Set(429);
  EXPECT_EQ(shipper->Flush(*client_), 20s);
  EXPECT_EQ(shipper->stats().failures.load(), 3);
  EXPECT_EQ(shipper->buffered(), 14u);
  Sample(*shipper, 3);

  metrics_.Set(200);
  EXPECT_EQ(shipper->Flush(*client_), 5s);
  std::vector<int64_t> all;
  for (int i = 0; i < 10; ++i) all.push_back(T(i));
  EXPECT_EQ(Times(metrics_.Points(uuid0_)), all);
  EXPECT_EQ(Times(metrics_.Points(uuid1_)), all);
  EXPECT_EQ(metrics_.Batches().size(), 5u);  // 20 points, 4 a batch
  for (const auto& b : metrics_.Batches()) {
    size_t n = 0;
    for (const auto& g : b.gpus) n += g.points.size();
    EXPECT_LE(n, 4u);
  }
  EXPECT_EQ(shipper->buffered(), 0u);
  EXPECT_EQ(shipper->stats().points_sent.load(), 20);
  EXPECT_EQ(shipper->stats().points_dropped.load(), 0);
}

TEST_F(MetricsShipperTest, UnreachableServerKeepsThePoints) {
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto dead = client::ApiClient::Create({.base_url = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(dead.has_value());
  auto shipper = Shipper();
  Sample(*shipper, 2);
  shipper->Flush(**dead);
  EXPECT_EQ(shipper->stats().failures.load(), 1);
  EXPECT_EQ(shipper->buffered(), 4u);
  shipper->Flush(*client_);
  EXPECT_EQ(Times(metrics_.Points(uuid1_)), (std::vector<int64_t>{T(0), T(1)}));
}

TEST_F(MetricsShipperTest, FullBufferDropsTheOldestAndReportsHowMany) {
  auto shipper = Shipper({.buffer_points = 6});
  metrics_.Set(503);
  Sample(*shipper, 5);  // 10 points into room for 6
  shipper->Flush(*client_);
  EXPECT_EQ(shipper->buffered(), 6u);
  EXPECT_EQ(shipper->stats().points_dropped.load(), 4);
  metrics_.Set(200);
  shipper->Flush(*client_);
  ASSERT_EQ(metrics_.Batches().size(), 1u);
  EXPECT_EQ(metrics_.Batches()[0].dropped_samples, 4);
  EXPECT_EQ(Times(metrics_.Points(uuid0_)), (std::vector<int64_t>{T(2), T(3), T(4)}));
  EXPECT_EQ(Times(metrics_.Points(uuid1_)), (std::vector<int64_t>{T(2), T(3), T(4)}));
  // The count is cumulative: later batches carry it too.
  Sample(*shipper, 1);
  shipper->Flush(*client_);
  EXPECT_EQ(metrics_.Batches().back().dropped_samples, 4);
}

TEST_F(MetricsShipperTest, RefusedBatchIsDroppedNotRetried) {
  auto shipper = Shipper({.max_points_per_batch = 4});
  Sample(*shipper, 3);  // 6 points: a batch of 4, then 2
  metrics_.Set(422);
  shipper->Flush(*client_);
  EXPECT_EQ(shipper->stats().points_rejected.load(), 4);
  EXPECT_EQ(shipper->buffered(), 2u);
  metrics_.Set(200);
  shipper->Flush(*client_);
  EXPECT_EQ(Times(metrics_.Points(uuid1_)), (std::vector<int64_t>{T(2)}));
}

TEST_F(MetricsShipperTest, TooLargeBatchIsSplitNotDropped) {
  auto shipper = Shipper({.max_points_per_batch = 8});
  Sample(*shipper, 4);  // 8 points
  {
    std::lock_guard lock(metrics_.mu);
    metrics_.max_points = 3;  // answers 413 above 3 points
  }
  shipper->Flush(*client_);
  EXPECT_EQ(shipper->buffered(), 0u);
  EXPECT_EQ(shipper->stats().points_rejected.load(), 0);
  EXPECT_EQ(shipper->stats().points_sent.load(), 8);
  EXPECT_EQ(Times(metrics_.Points(uuid0_)), (std::vector<int64_t>{T(0), T(1), T(2), T(3)}));
}

TEST_F(MetricsShipperTest, RejectedCredentialKeepsThePointsForTheNextIdentity) {
  auto shipper = Shipper();
  Sample(*shipper, 2);
  metrics_.Set(401);
  shipper->Flush(*client_);
  EXPECT_EQ(shipper->buffered(), 4u);
  metrics_.Set(200);
  shipper->SetIdentity(AgentState{.node_id = "node_m2", .credential = "hgr_new"});
  shipper->Flush(*client_);
  ASSERT_EQ(metrics_.Batches().size(), 1u);
  EXPECT_EQ(metrics_.Targets()[0], "/api/v1/nodes/node_m2/metrics");
  EXPECT_EQ(metrics_.Authorizations()[0], "Bearer hgr_new");
}

TEST_F(MetricsShipperTest, XidsRideAlongOnceAndLostGpusSendNoPoints) {
  auto shipper = Shipper();
  Sample(*shipper, 1);
  ASSERT_TRUE(probe_->InjectFault(0, SimulatedFault::kEcc).has_value());
  ASSERT_TRUE(probe_->InjectFault(1, SimulatedFault::kFellOffBus).has_value());
  Sample(*shipper, 2);
  shipper->Flush(*client_);
  ASSERT_EQ(metrics_.Batches().size(), 1u);
  const auto gpus = metrics_.Batches()[0].gpus;
  ASSERT_EQ(gpus.size(), 2u);
  ASSERT_TRUE(gpus[0].xids.has_value());
  ASSERT_EQ(gpus[0].xids->size(), 1u);
  EXPECT_EQ((*gpus[0].xids)[0].xid, 48);
  EXPECT_EQ((*gpus[0].xids)[0].t, T(1));
  EXPECT_EQ(gpus[0].points.back().ecc_dbe_total, 1);
  ASSERT_TRUE(gpus[1].xids.has_value());
  EXPECT_EQ((*gpus[1].xids)[0].xid, 79);
  EXPECT_EQ(Times(gpus[1].points), std::vector<int64_t>{T(0)});  // none while lost
  Sample(*shipper, 1);
  shipper->Flush(*client_);
  auto last = metrics_.Batches().back();
  for (const auto& g : last.gpus) EXPECT_FALSE(g.xids.has_value());
}

TEST_F(MetricsShipperTest, ThreadsSampleAndShipUntilStopped) {
  SystemClock real;
  auto probe = SimulatedProbe::Create("2xL4", "gpu-02", real);
  ASSERT_TRUE(probe.has_value());
  GpuHealthMonitor monitor(**probe);
  MetricsShipper shipper({.sample_period = 5ms, .flush_period = 20ms}, monitor, real);
  shipper.SetIdentity(kIdentity);
  ASSERT_TRUE(shipper.Start({.base_url = server_.url(), .timeout = 5s}).has_value());
  std::string uuid = SimulatedGpuUuid("gpu-02", 1);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (metrics_.Points(uuid).size() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  shipper.Stop();
  auto points = metrics_.Points(uuid);
  ASSERT_GE(points.size(), 10u);
  for (size_t i = 1; i < points.size(); ++i) EXPECT_GE(points[i].t, points[i - 1].t);
  EXPECT_GE(shipper.stats().batches_sent.load(), 1);
}

}  // namespace
}  // namespace hangar::agent
