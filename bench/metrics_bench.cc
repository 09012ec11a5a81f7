// The metrics registry: what the request path pays per request (one counter and one histogram
// series looked up and updated, as the gateway does), and what one `GET /metrics` scrape costs
// with every route's series present. Goals: well under a microsecond per request at 8 threads;
// a scrape of a fully populated registry in about a millisecond.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "telemetry/hangard_metrics.h"

namespace hangar::telemetry {
namespace {

// About as many route patterns as hangard serves.
std::vector<std::string> RoutePatterns(int count) {
  std::vector<std::string> routes;
  for (int i = 0; i < count; ++i)
    routes.push_back("/api/v1/resource" + std::to_string(i) + "/{id}");
  return routes;
}

// The gateway's per-request metrics work: each thread serves its own route, as requests to
// different routes do; the series already exist (the steady state).
void BM_RecordRequest(benchmark::State& state) {
  static Registry registry;
  static HttpMetrics metrics(registry);
  std::string route = "/api/v1/resource" + std::to_string(state.thread_index()) + "/{id}";
  for (auto _ : state) {
    metrics.in_flight.Increment();
    metrics.requests.WithLabels({"GET", route, "200"}).Increment();
    metrics.duration.WithLabels({"GET", route}).Observe(0.0007);
    metrics.in_flight.Decrement();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequest)->Threads(1)->Threads(8)->UseRealTime();

// The worst case: every thread on one route, so the same series' cache lines bounce.
void BM_RecordRequestSameRoute(benchmark::State& state) {
  static Registry registry;
  static HttpMetrics metrics(registry);
  for (auto _ : state) {
    metrics.requests.WithLabels({"GET", "/api/v1/jobs/{id}", "200"}).Increment();
    metrics.duration.WithLabels({"GET", "/api/v1/jobs/{id}"}).Observe(0.0007);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequestSameRoute)->Threads(1)->Threads(8)->UseRealTime();

// One scrape: hangard's families with `routes` route patterns, each seen with three status
// codes, plus the store, scheduler, build info and process collector.
void BM_Scrape(benchmark::State& state) {
  Registry registry;
  HangardMetrics metrics(registry, "0.1.0");
  for (const auto& route : RoutePatterns(static_cast<int>(state.range(0)))) {
    for (const char* code : {"200", "404", "422"}) {
      metrics.http.requests.WithLabels({"GET", route, code}).Increment();
    }
    metrics.http.duration.WithLabels({"GET", route}).Observe(0.002);
  }
  for (const char* kind : {"read", "write"}) {
    metrics.store.transaction_duration.WithLabels({kind, "sqlite"}).Observe(0.0001);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.Text();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape)->Arg(50)->Arg(150)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hangar::telemetry

BENCHMARK_MAIN();
