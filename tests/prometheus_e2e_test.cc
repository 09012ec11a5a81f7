// GET /metrics end to end: a real hangard (SQLite, or PostgreSQL when HANGAR_IT_BACKEND says so)
// answers API requests, then its scrape is checked by `promtool check metrics` (the parser and
// linter Prometheus ships) and read for hangard's own series: request counts by route pattern,
// latency histograms, store transaction timings, scheduler and queue families, process metrics
// and build info. With an agent simulating two H100s, the scrape must still pass promtool, and
// the per-GPU DCGM_FI_* series must name the agent's node and GPUs.
#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

class PrometheusTest : public WorkloadFixture {
 protected:
  Response Scrape() { return Client().Send(bhttp::verb::get, "/metrics"); }

  // The value of the sample written exactly as `series` (name and labels), if present.
  static std::optional<double> Sample(const std::string& body, const std::string& series) {
    std::istringstream lines(body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
        double value = 0;
        const char* begin = line.data() + series.size() + 1;
        auto [end, ec] = std::from_chars(begin, line.data() + line.size(), value);
        if (ec == std::errc()) return value;
      }
    }
    return std::nullopt;
  }

  // promtool's verdict on `body`: its exit code and everything it printed.
  struct PromtoolVerdict {
    int exit_code = -1;
    std::string output;
  };
  std::optional<PromtoolVerdict> Promtool(const std::string& body) {
    std::string promtool = FindOnPath("promtool");
    if (promtool.empty()) return std::nullopt;
    static int scrape = 0;
    auto file = dir_ / ("scrape-" + std::to_string(++scrape) + ".prom");
    std::ofstream(file) << body;
    // promtool reads the exposition from stdin; RunToCompletion's stdin is /dev/null.
    auto run = RunToCompletion(
        "/bin/sh", {"-c", "exec '" + promtool + "' check metrics < '" + file.string() + "'"}, dir_);
    return PromtoolVerdict{run.exit_code, run.output};
  }

  std::string backend() const { return database_url_.empty() ? "sqlite" : "postgres"; }
};

constexpr const char* kNoPromtool =
    "promtool is not installed (Debian package prometheus; scripts/install-deps.sh --test)";

TEST_F(PrometheusTest, ScrapePassesPromtoolAndCountsRequestsByRoutePattern) {
  ASSERT_EQ(Get("/api/v1/gpus").result_int(), 200u);
  // A well-formed but unknown node id: counted under the route's pattern, not the raw path.
  const std::string unknown_node = "/api/v1/nodes/node_01" + std::string(24, 'z');
  EXPECT_EQ(Get(unknown_node).result_int(), 404u);
  EXPECT_EQ(Get("/no/such/route").result_int(), 404u);

  Response scrape = Scrape();  // no credentials: /metrics is public
  ASSERT_EQ(scrape.result_int(), 200u) << scrape.body();
  EXPECT_EQ(scrape[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = scrape.body();

  auto verdict = Promtool(body);
  if (!verdict) GTEST_SKIP() << kNoPromtool;
  // Exit 0 and silence: promtool prints parse errors (exit 1) and lint problems (exit 3, e.g. a
  // counter without _total or a family without HELP); hangard's own families have none.
  EXPECT_EQ(verdict->exit_code, 0) << verdict->output << "\n" << body;
  EXPECT_EQ(verdict->output, "") << body;

  EXPECT_EQ(
      Sample(body, R"(hangar_http_requests_total{method="GET",route="/api/v1/gpus",code="200"})"),
      1);
  EXPECT_EQ(
      Sample(body,
             R"(hangar_http_requests_total{method="GET",route="/api/v1/nodes/{id}",code="404"})"),
      1);
  EXPECT_EQ(Sample(body, R"(hangar_http_requests_total{method="GET",route="other",code="404"})"),
            1);
  EXPECT_EQ(body.find("node_01zzzz"), std::string::npos) << "raw paths must not become labels";
  EXPECT_EQ(body.find("/no/such/route"), std::string::npos);
  EXPECT_EQ(
      Sample(body,
             R"(hangar_http_request_duration_seconds_count{method="GET",route="/api/v1/gpus"})"),
      1);
  EXPECT_EQ(
      Sample(
          body,
          R"(hangar_http_request_duration_seconds_bucket{method="GET",route="/api/v1/gpus",le="+Inf"})"),
      1);
  EXPECT_EQ(Sample(body, "hangar_http_requests_in_flight"), 1);  // the scrape itself
  EXPECT_GT(
      Sample(body, R"(hangar_store_transaction_duration_seconds_count{kind="read",backend=")" +
                       backend() + R"("})")
          .value_or(0),
      0);
  EXPECT_GT(
      Sample(body, R"(hangar_store_transaction_duration_seconds_count{kind="write",backend=")" +
                       backend() + R"("})")
          .value_or(0),
      0);
  EXPECT_EQ(Sample(body, R"(hangar_store_transaction_errors_total{kind="write",backend=")" +
                             backend() + R"("})"),
            0);
  EXPECT_TRUE(Sample(body, "hangar_scheduler_pass_duration_seconds_count")) << body;
  EXPECT_TRUE(Sample(body, "hangar_queue_waiting_workloads")) << body;
  EXPECT_TRUE(Sample(body, "hangar_queue_running_workloads")) << body;
  EXPECT_NE(body.find("\nhangar_build_info{version=\""), std::string::npos) << body;
  EXPECT_GT(Sample(body, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GT(Sample(body, "process_open_fds").value_or(0), 0);
  EXPECT_GT(Sample(body, "process_start_time_seconds").value_or(0), 1.6e9);
  EXPECT_TRUE(Sample(body, "process_cpu_seconds_total")) << body;

  // Counters only go up, by exactly the requests made.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Get("/api/v1/gpus").result_int(), 200u);
  std::string again = Scrape().body();
  EXPECT_EQ(
      Sample(again, R"(hangar_http_requests_total{method="GET",route="/api/v1/gpus",code="200"})"),
      4);
  EXPECT_EQ(
      Sample(again, R"(hangar_http_requests_total{method="GET",route="/metrics",code="200"})"), 1);
}

TEST_F(PrometheusTest, MetricsRouteIsPublicTextAndDocumented) {
  auto doc = Json(Client().Send(bhttp::verb::get, "/api/v1/openapi.json")).as_object();
  const auto& op = doc.at("paths").at("/metrics").at("get").as_object();
  EXPECT_TRUE(op.at("security").as_array().empty());
  EXPECT_TRUE(op.at("responses").at("200").at("content").as_object().contains("text/plain"));
  // The gateway's checks apply as to every route.
  EXPECT_EQ(Client().Send(bhttp::verb::post, "/metrics").result_int(), 405u);
  EXPECT_EQ(Client().Send(bhttp::verb::get, "/metrics?x=1").result_int(), 400u);
}

// With an agent simulating two H100s, the scrape carries DCGM-exporter-named per-GPU series
// naming this node's host and GPUs, and still passes promtool with no finding at all (hangard
// exports DCGM's modelName label as model_name for that; docs/monitoring.md).
TEST_F(PrometheusTest, GpuSeriesOfASimulatedNodePassPromtool) {
  auto agent = StartAgent("node-a", "2xH100-80GB");
  // The agent ships its first samples within a flush period (5 s). Polled gently: anonymous
  // scrapes share the per-address rate limit.
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    Response scrape = Scrape();
    ASSERT_EQ(scrape.result_int(), 200u) << scrape.body();
    body = scrape.body();
    if (body.find("\nDCGM_FI_DEV_GPU_UTIL{") != std::string::npos &&
        body.find(R"(gpu="1")") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_NE(body.find("\nDCGM_FI_DEV_GPU_UTIL{"), std::string::npos) << agent->Log();
  EXPECT_NE(body.find("\n# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(Hostname="node-a")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(gpu="0")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(gpu="1")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(UUID="GPU-)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(model_name="NVIDIA H100 80GB HBM3")"), std::string::npos) << body;
  EXPECT_NE(body.find("\nhangar_gpu_metric_points_accepted_total "), std::string::npos) << body;
  auto verdict = Promtool(body);
  if (!verdict) GTEST_SKIP() << kNoPromtool;
  EXPECT_EQ(verdict->exit_code, 0) << verdict->output;
  EXPECT_EQ(verdict->output, "");
}

}  // namespace
}  // namespace hangar::testing
