#include "monitoring/metric_hub.h"

#include <gtest/gtest.h>

#include "fleet/fleet_service.h"
#include "identity/api_keys.h"
#include "identity/authenticator.h"
#include "store/temp_store.h"

namespace hangar::monitoring {
namespace {

api::AgentGpu H100(int index, std::string uuid) {
  return api::AgentGpu{.index = index,
                       .uuid = std::move(uuid),
                       .product_name = "NVIDIA H100 80GB HBM3",
                       .vendor = "nvidia",
                       .architecture = "hopper",
                       .memory_mib = 81559,
                       .driver_version = "550.54.15",
                       .cuda_version = "12.4",
                       .compute_capability = "9.0",
                       .healthy = true};
}

// 2026-11-23T10:00:00Z: a whole hour, so minutes and hours line up with hand-computed values.
constexpr int64_t kStartMs = 1'795'428'000'000;

class MetricHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto temp = store::TempSqliteStore::Open(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(temp.has_value()) << temp.error().ToString();
    temp_.emplace(std::move(*temp));
    store_ = &temp_->store();
    auth_ = std::make_unique<identity::Authenticator>(*store_, clock_);
    fleet_ = std::make_unique<fleet::FleetService>(*store_, clock_, *auth_, fleet::FleetOptions{});
    auto key = identity::BootstrapFirstOrganisation(*store_, clock_,
                                                    [](const std::string&) { return Ok(); });
    ASSERT_TRUE(key.has_value() && key->has_value());
    auto admin = *auth_->Authenticate(**key);
    auto token = fleet_->CreateJoinToken(admin, {});
    auto reg = fleet_->RegisterNode(token->secret, {.name = "gpu-01",
                                                    .hostname = "gpu-01",
                                                    .agent_version = "1",
                                                    .labels = std::nullopt,
                                                    .gpus = {H100(0, "GPU-a"), H100(1, "GPU-b")}});
    ASSERT_TRUE(reg.has_value()) << reg.error().ToString();
    org_ = reg->node.org_id;
    node_ = reg->node.id;
    auto gpus = fleet_->ListGpus(admin, {});
    for (const auto& g : gpus->items) gpu_id_[g.uuid] = g.id.str();
    hub_ = std::make_unique<MetricHub>(*store_, clock_, holders_);
  }

  // One point per second for `seconds` seconds from `start_ms`, utilisation from `util(i)`.
  static api::GpuMetricSeries Series(std::string uuid, int64_t start_ms, int seconds,
                                     double (*util)(int)) {
    api::GpuMetricSeries s{.uuid = std::move(uuid)};
    for (int i = 0; i < seconds; ++i) {
      s.points.push_back({.t = start_ms + i * 1000LL,
                          .utilization = util(i),
                          .memory_used_mib = 1000 + i,
                          .temperature_c = 40,
                          .power_watts = 100,
                          .sm_clock_mhz = 1980});
    }
    return s;
  }

  Result<api::MetricSeries> Ask(Scope scope, const std::string& id, std::string_view metric,
                                int64_t from_ms, int64_t to_ms, int64_t step) {
    return hub_->Query({.scope = scope,
                        .scope_id = id,
                        .metric = *MetricIndex(metric),
                        .from = FromUnixMicros(from_ms * 1000),
                        .to = FromUnixMicros(to_ms * 1000),
                        .step_seconds = step});
  }

  std::optional<store::TempSqliteStore> temp_;
  FakeClock clock_{FromUnixMicros(kStartMs * 1000)};
  store::Store* store_ = nullptr;
  std::unique_ptr<identity::Authenticator> auth_;
  std::unique_ptr<fleet::FleetService> fleet_;
  workloads::GpuHolders holders_;
  std::unique_ptr<MetricHub> hub_;
  OrgId org_;
  NodeId node_;
  std::map<std::string, std::string> gpu_id_;
};

TEST_F(MetricHubTest, MinuteAndHourRollupsMatchHandComputedValues) {
  // GPU-a: minute 0 ramps 0..59 %, minute 1 holds 90 %. GPU-b: minute 0 at 10 %.
  // The project holds GPU-a only.
  holders_.Publish(org_.str(),
                   {{workloads::GpuHolders::GpuKey(node_.str(), 0),
                     {.workload_id = "job_x", .project_id = "proj_p", .team_id = "team_t"}}});
  api::MetricBatchRequest batch;
  batch.gpus.push_back(Series("GPU-a", kStartMs, 60, [](int i) { return double(i); }));
  batch.gpus.push_back(Series("GPU-b", kStartMs, 60, [](int) { return 10.0; }));
  clock_.Advance(std::chrono::seconds(60));
  auto r = hub_->Ingest(org_, node_, batch);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->accepted, 120);
  api::MetricBatchRequest second;
  second.gpus.push_back(Series("GPU-a", kStartMs + 60'000, 60, [](int) { return 90.0; }));
  clock_.Advance(std::chrono::seconds(60 + 11));
  ASSERT_TRUE(hub_->Ingest(org_, node_, second).has_value());
  ASSERT_TRUE(hub_->Flush());  // both minutes closed more than the grace ago: written

  // The raw samples are gone from this range's answer once the step asks for minutes.
  auto gpu = Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs + 120'000, 60);
  ASSERT_TRUE(gpu.has_value()) << gpu.error().ToString();
  EXPECT_EQ(gpu->resolution, "1m");
  ASSERT_EQ(gpu->points.size(), 2u);
  EXPECT_DOUBLE_EQ(gpu->points[0].min, 0);
  EXPECT_DOUBLE_EQ(gpu->points[0].max, 59);
  EXPECT_DOUBLE_EQ(gpu->points[0].avg, 29.5);  // (0 + … + 59) / 60
  EXPECT_EQ(gpu->points[0].samples, 60);
  EXPECT_DOUBLE_EQ(gpu->points[0].gpus, 1.0);
  EXPECT_DOUBLE_EQ(gpu->points[1].avg, 90);
  EXPECT_EQ(gpu->points[0].t, "2026-11-23T10:00:00Z");

  // The node: both GPUs' samples together in minute 0 (avg (1770 + 600) / 120), two GPUs.
  auto node = Ask(Scope::kNode, node_.str(), "utilization", kStartMs, kStartMs + 60'000, 60);
  ASSERT_TRUE(node.has_value());
  ASSERT_EQ(node->points.size(), 1u);
  EXPECT_DOUBLE_EQ(node->points[0].avg, (1770.0 + 600.0) / 120.0);
  EXPECT_DOUBLE_EQ(node->points[0].max, 59);
  EXPECT_DOUBLE_EQ(node->points[0].gpus, 2.0);

  // The project and team see GPU-a only.
  auto project = Ask(Scope::kProject, "proj_p", "utilization", kStartMs, kStartMs + 120'000, 60);
  ASSERT_TRUE(project.has_value());
  ASSERT_EQ(project->points.size(), 2u);
  EXPECT_DOUBLE_EQ(project->points[0].avg, 29.5);
  auto team = Ask(Scope::kTeam, "team_t", "memory_used_mib", kStartMs, kStartMs + 60'000, 60);
  ASSERT_TRUE(team.has_value());
  ASSERT_EQ(team->points.size(), 1u);
  EXPECT_DOUBLE_EQ(team->points[0].min, 1000);
  EXPECT_DOUBLE_EQ(team->points[0].max, 1059);

  // The hour: 120 samples of GPU-a, mean (1770 + 5400) / 120; asked with a 1 h step.
  auto hour =
      Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs + 3'600'000, 3600);
  ASSERT_TRUE(hour.has_value());
  EXPECT_EQ(hour->resolution, "1h");
  ASSERT_EQ(hour->points.size(), 1u);
  EXPECT_DOUBLE_EQ(hour->points[0].avg, (1770.0 + 5400.0) / 120.0);
  EXPECT_EQ(hour->points[0].samples, 120);
  // Older than the minute retention: answered from the 1-hour rows.
  clock_.Advance(std::chrono::hours(49));
  auto old = Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs + 3'600'000, 0);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->resolution, "1h");
  ASSERT_EQ(old->points.size(), 1u);
  EXPECT_DOUBLE_EQ(old->points[0].avg, (1770.0 + 5400.0) / 120.0);
  EXPECT_DOUBLE_EQ(old->points[0].min, 0);
  EXPECT_DOUBLE_EQ(old->points[0].max, 90);
}

TEST_F(MetricHubTest, LateSamplesMergeIntoTheirFlushedBucket) {
  api::MetricBatchRequest first;
  first.gpus.push_back(Series("GPU-a", kStartMs, 30, [](int) { return 20.0; }));
  clock_.Advance(std::chrono::seconds(120));
  ASSERT_TRUE(hub_->Ingest(org_, node_, first).has_value());
  ASSERT_TRUE(hub_->Flush());
  // The second half of the same minute arrives late (an agent that was cut off).
  api::MetricBatchRequest late;
  late.gpus.push_back(Series("GPU-a", kStartMs + 30'000, 30, [](int) { return 80.0; }));
  ASSERT_TRUE(hub_->Ingest(org_, node_, late).has_value());
  ASSERT_TRUE(hub_->Flush());
  auto q = Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs + 60'000, 60);
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->points.size(), 1u);
  EXPECT_EQ(q->points[0].samples, 60);
  EXPECT_DOUBLE_EQ(q->points[0].avg, 50);
  EXPECT_DOUBLE_EQ(q->points[0].min, 20);
  EXPECT_DOUBLE_EQ(q->points[0].max, 80);
}

TEST_F(MetricHubTest, RecentSamplesAreAnsweredRawAndUnflushedMinutesAreVisible) {
  api::MetricBatchRequest batch;
  batch.gpus.push_back(Series("GPU-b", kStartMs, 20, [](int i) { return i % 2 ? 100.0 : 0.0; }));
  clock_.Advance(std::chrono::seconds(20));
  ASSERT_TRUE(hub_->Ingest(org_, node_, batch).has_value());
  auto raw = Ask(Scope::kGpu, gpu_id_["GPU-b"], "utilization", kStartMs, kStartMs + 20'000, 10);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->resolution, "raw");
  ASSERT_EQ(raw->points.size(), 2u);
  EXPECT_DOUBLE_EQ(raw->points[0].avg, 50);
  EXPECT_EQ(raw->points[0].samples, 10);
  // Not flushed yet, but a minute query sees the open bucket.
  auto minute = Ask(Scope::kGpu, gpu_id_["GPU-b"], "utilization", kStartMs, kStartMs + 60'000, 60);
  ASSERT_TRUE(minute.has_value());
  ASSERT_EQ(minute->points.size(), 1u);
  EXPECT_EQ(minute->points[0].samples, 20);
  // Unknown GPUs and samples from too long ago are ignored, not stored.
  api::MetricBatchRequest odd;
  odd.gpus.push_back(Series("GPU-zzz", kStartMs, 2, [](int) { return 1.0; }));
  odd.gpus.push_back(Series("GPU-a", kStartMs - 49LL * 3600 * 1000, 2, [](int) { return 1.0; }));
  auto r = hub_->Ingest(org_, node_, odd);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->accepted, 0);
  EXPECT_EQ(r->ignored, 4);
  // A batch sent again (its answer was lost) is not counted twice.
  auto again = hub_->Ingest(org_, node_, batch);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->accepted, 0);
  EXPECT_EQ(again->ignored, 20);
  minute = Ask(Scope::kGpu, gpu_id_["GPU-b"], "utilization", kStartMs, kStartMs + 60'000, 60);
  EXPECT_EQ(minute->points[0].samples, 20);
}

TEST_F(MetricHubTest, BadBatchesAndQueriesNameTheField) {
  api::MetricBatchRequest batch;
  batch.gpus.push_back(Series("GPU-a", kStartMs, 2, [](int) { return 101.0; }));
  auto r = hub_->Ingest(org_, node_, batch);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().violations().at(0).pointer, "/gpus/0/points/0/utilization");
  batch.gpus[0].points.clear();
  batch.sample_period_ms = 5;
  EXPECT_EQ(hub_->Ingest(org_, node_, batch).error().violations().at(0).pointer,
            "/sample_period_ms");

  auto backwards = Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs - 1, 60);
  ASSERT_FALSE(backwards.has_value());
  EXPECT_EQ(backwards.error().violations().at(0).pointer, "query:from");
  auto too_fine =
      Ask(Scope::kGpu, gpu_id_["GPU-a"], "utilization", kStartMs, kStartMs + 30LL * 86400'000, 60);
  ASSERT_FALSE(too_fine.has_value());
  EXPECT_EQ(too_fine.error().violations().at(0).pointer, "query:step");
}

TEST_F(MetricHubTest, PrometheusSeriesUseDcgmNames) {
  api::MetricBatchRequest batch;
  batch.gpus.push_back(Series("GPU-a", kStartMs, 1, [](int) { return 42.0; }));
  ASSERT_TRUE(hub_->Ingest(org_, node_, batch).has_value());
  std::string out;
  hub_->WritePrometheus(out);
  EXPECT_NE(out.find("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"), std::string::npos);
  EXPECT_NE(out.find("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",device=\"nvidia0\","
                     "model_name=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-01\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("} 42\n"), std::string::npos);
  EXPECT_NE(out.find("DCGM_FI_DEV_FB_FREE{"), std::string::npos);
  // GPU-b has no sample yet: no series for it.
  EXPECT_EQ(out.find("UUID=\"GPU-b\""), std::string::npos);
}

}  // namespace
}  // namespace hangar::monitoring
