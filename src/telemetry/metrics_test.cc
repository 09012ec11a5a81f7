#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "telemetry/hangard_metrics.h"

namespace hangar::telemetry {
namespace {

TEST(MetricsTest, CounterWithLabelsIsExposedWithHelpTypeAndSortedSeries) {
  Registry registry;
  auto& requests = registry.AddCounter("http_requests_total", "Requests.", {"method", "code"});
  requests.WithLabels({"POST", "201"}).Increment();
  requests.WithLabels({"GET", "200"}).Increment(2);
  requests.WithLabels({"GET", "200"}).Increment();
  EXPECT_EQ(registry.Text(),
            "# HELP http_requests_total Requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",code=\"201\"} 1\n");
}

TEST(MetricsTest, GaugeWithoutLabelsIsExposedBeforeItsFirstUpdate) {
  Registry registry;
  auto& in_flight = registry.AddGauge("in_flight", "Now.").WithLabels({});
  EXPECT_EQ(registry.Text(), "# HELP in_flight Now.\n# TYPE in_flight gauge\nin_flight 0\n");
  in_flight.Increment();
  in_flight.Increment();
  in_flight.Decrement();
  in_flight.Add(0.25);
  EXPECT_EQ(registry.Text(), "# HELP in_flight Now.\n# TYPE in_flight gauge\nin_flight 1.25\n");
}

TEST(MetricsTest, HistogramHasCumulativeBucketsInfSumAndCount) {
  Registry registry;
  auto& latency = registry.AddHistogram("latency_seconds", "Latency.", {"route"}, {0.005, 0.1, 1});
  auto& jobs = latency.WithLabels({"/api/v1/jobs/{id}"});
  jobs.Observe(0.00390625);  // 2^-8: binary fractions keep the sum exact
  jobs.Observe(0.005);       // on a bound: counted in that bucket (le = less or equal)
  jobs.Observe(0.5);
  jobs.Observe(3);
  EXPECT_EQ(registry.Text(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/api/v1/jobs/{id}\",le=\"0.005\"} 2\n"
            "latency_seconds_bucket{route=\"/api/v1/jobs/{id}\",le=\"0.1\"} 2\n"
            "latency_seconds_bucket{route=\"/api/v1/jobs/{id}\",le=\"1\"} 3\n"
            "latency_seconds_bucket{route=\"/api/v1/jobs/{id}\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{route=\"/api/v1/jobs/{id}\"} 3.50890625\n"
            "latency_seconds_count{route=\"/api/v1/jobs/{id}\"} 4\n");
}

TEST(MetricsTest, UnlabelledHistogramPutsLeAloneInBraces) {
  Registry registry;
  registry.AddHistogram("pass_seconds", "Pass.", {}, {1}).WithLabels({}).Observe(2);
  EXPECT_EQ(registry.Text(),
            "# HELP pass_seconds Pass.\n"
            "# TYPE pass_seconds histogram\n"
            "pass_seconds_bucket{le=\"1\"} 0\n"
            "pass_seconds_bucket{le=\"+Inf\"} 1\n"
            "pass_seconds_sum 2\n"
            "pass_seconds_count 1\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddGauge("weird", "Help with \\ and\nnewline.", {"text"})
      .WithLabels({"a \"quoted\" \\ back\nslash"})
      .Set(1);
  EXPECT_EQ(registry.Text(),
            "# HELP weird Help with \\\\ and\\nnewline.\n"
            "# TYPE weird gauge\n"
            "weird{text=\"a \\\"quoted\\\" \\\\ back\\nslash\"} 1\n");
}

TEST(MetricsTest, SpecialValuesUseTheFormatsSpelling) {
  std::string out;
  AppendValue(out, std::numeric_limits<double>::infinity());
  out += ' ';
  AppendValue(out, -std::numeric_limits<double>::infinity());
  out += ' ';
  AppendValue(out, std::nan(""));
  out += ' ';
  AppendValue(out, 1e21);
  out += ' ';
  AppendValue(out, 123456789);
  EXPECT_EQ(out, "+Inf -Inf NaN 1e+21 123456789");
}

TEST(MetricsTest, LabelledFamilyWithoutSeriesIsOmitted) {
  Registry registry;
  registry.AddCounter("errors_total", "Errors.", {"kind"});
  EXPECT_EQ(registry.Text(), "");
}

TEST(MetricsTest, CollectorsAppendAfterTheFamilies) {
  Registry registry;
  registry.AddCounter("a_total", "A.").WithLabels({}).Increment();
  registry.AddCollector([](std::string& out) {
    AppendHeader(out, "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", MetricType::kGauge);
    AppendSample(out, "DCGM_FI_DEV_GPU_UTIL",
                 {{"gpu", "0"},
                  {"UUID", "GPU-1"},
                  {"Hostname", "node-a"},
                  {"modelName", "NVIDIA H100 80GB HBM3"}},
                 87);
  });
  EXPECT_EQ(registry.Text(),
            "# HELP a_total A.\n"
            "# TYPE a_total counter\n"
            "a_total 1\n"
            "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).\n"
            "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
            "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-1\",Hostname=\"node-a\","
            "modelName=\"NVIDIA H100 80GB HBM3\"} 87\n");
}

TEST(MetricsTest, CountersNeverGoDown) {
  Registry registry;
  auto& c = registry.AddCounter("c_total", "C.").WithLabels({});
  c.Increment(2);
  c.Increment(-1);
  EXPECT_EQ(c.Value(), 2);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  auto& requests = registry.AddCounter("r_total", "R.", {"route"});
  auto& latency = registry.AddHistogram("l_seconds", "L.", {"route"}, {0.5});
  constexpr int kThreads = 8, kPerThread = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string route = "/r" + std::to_string(t % 2);
      for (int i = 0; i < kPerThread; ++i) {
        requests.WithLabels({route}).Increment();
        latency.WithLabels({route}).Observe(i % 2 == 0 ? 0.1 : 1.0);
        if (i % 1000 == 0) (void)registry.Text();  // scrapes race with updates
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(requests.WithLabels({"/r0"}).Value() + requests.WithLabels({"/r1"}).Value(),
            kThreads * kPerThread);
  auto snapshot = latency.WithLabels({"/r0"}).Read();
  EXPECT_EQ(snapshot.count, kThreads / 2 * kPerThread);
  EXPECT_EQ(snapshot.cumulative[0], kThreads / 2 * kPerThread / 2);
}

TEST(MetricsTest, ScopedTimerObservesOnceAndToleratesNull) {
  Registry registry;
  auto& h = registry.AddHistogram("t_seconds", "T.", {}, {60}).WithLabels({});
  { ScopedTimer timer(&h); }
  { ScopedTimer timer(nullptr); }
  auto snapshot = h.Read();
  EXPECT_EQ(snapshot.count, 1u);
  EXPECT_EQ(snapshot.cumulative[0], 1u);
}

TEST(MetricsDeathTest, MisuseIsAProgrammingError) {
  Registry registry;
  registry.AddGauge("g", "G.", {"a"});
  EXPECT_DEATH(registry.AddGauge("g", "again"), "registered twice");
  EXPECT_DEATH(registry.AddCounter("requests", "R."), "_total");
  EXPECT_DEATH(registry.AddGauge("bad-name", "B."), "invalid metric name");
  EXPECT_DEATH(registry.AddHistogram("h", "H.", {"le"}, {1}), "reserved");
  EXPECT_DEATH(registry.AddHistogram("h2", "H.", {}, {2, 1}), "increasing");
  auto& labelled = registry.AddGauge("l", "L.", {"a", "b"});
  EXPECT_DEATH(labelled.WithLabels({"only-one"}), "takes 2 labels");
}

TEST(HangardMetricsTest, RegistersEveryFamilyAndBuildInfo) {
  Registry registry;
  HangardMetrics metrics(registry, "1.2.3");
  metrics.http.requests.WithLabels({"GET", "/healthz", "200"}).Increment();
  metrics.scheduler.waiting_workloads.Set(4);
  std::string text = registry.Text();
  for (const char* expected :
       {"hangar_build_info{version=\"1.2.3\"} 1\n",
        "hangar_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"} 1\n",
        "hangar_http_requests_in_flight 0\n", "hangar_scheduler_pass_duration_seconds_count 0\n",
        "hangar_queue_waiting_workloads 4\n", "hangar_queue_running_workloads 0\n",
        "# TYPE process_cpu_seconds_total counter\n", "# TYPE process_open_fds gauge\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace hangar::telemetry
