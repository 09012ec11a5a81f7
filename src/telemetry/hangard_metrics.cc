// hangard's metric families. See hangard_metrics.h.
#include "telemetry/hangard_metrics.h"

#include "telemetry/process_metrics.h"

namespace hangar::telemetry {
namespace {

// Most API requests take well under a millisecond to a few milliseconds; the tail (group
// commits, long lists, slow disks) reaches seconds. Long polls and streams answer their head
// quickly and are not timed beyond it.
const std::vector<double> kHttpSecondsBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
// A read on a warm SQLite connection takes tens of microseconds; an fsync'd commit milliseconds.
const std::vector<double> kStoreSecondsBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
// A pass over a small queue is sub-millisecond; 10,000 pending jobs take tens of milliseconds
// (bench/scheduler_bench.cc).
const std::vector<double> kSchedulerSecondsBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

HttpMetrics::HttpMetrics(Registry& registry)
    : requests(registry.AddCounter("hangar_http_requests_total",
                                   "HTTP requests answered, by method, route pattern and status "
                                   "code.",
                                   {"method", "route", "code"})),
      duration(registry.AddHistogram("hangar_http_request_duration_seconds",
                                     "Time from receiving a request to its response head, by "
                                     "method and route pattern.",
                                     {"method", "route"}, kHttpSecondsBuckets)),
      in_flight(
          registry.AddGauge("hangar_http_requests_in_flight", "HTTP requests being handled now.")
              .WithLabels({})) {}

StoreMetrics::StoreMetrics(Registry& registry)
    : transaction_duration(registry.AddHistogram(
          "hangar_store_transaction_duration_seconds",
          "Store transactions as their callers wait for them, by kind (read, write) and backend.",
          {"kind", "backend"}, kStoreSecondsBuckets)),
      transaction_errors(registry.AddCounter(
          "hangar_store_transaction_errors_total",
          "Store transactions that failed because the database was unavailable or failed.",
          {"kind", "backend"})) {}

SchedulerMetrics::SchedulerMetrics(Registry& registry)
    : pass_duration(registry
                        .AddHistogram("hangar_scheduler_pass_duration_seconds",
                                      "Time one scheduling pass takes.", {},
                                      kSchedulerSecondsBuckets)
                        .WithLabels({})),
      waiting_workloads(
          registry
              .AddGauge("hangar_queue_waiting_workloads", "Workloads queued and not yet placed.")
              .WithLabels({})),
      running_workloads(
          registry
              .AddGauge("hangar_queue_running_workloads", "Workloads placed and not yet finished.")
              .WithLabels({})) {}

HangardMetrics::HangardMetrics(Registry& registry, std::string_view version)
    : http(registry), store(registry), scheduler(registry) {
  registry
      .AddGauge("hangar_build_info", "Always 1; the labels name the running build.", {"version"})
      .WithLabels({version})
      .Set(1);
  AddProcessCollector(registry);
}

}  // namespace hangar::telemetry
