// hangard's own metric families, defined in one place so that every name, label and bucket
// layout is listed once (docs/operations.md "Metrics" describes them for operators).
//
//   HttpMetrics       the gateway: requests by method, route pattern and status; latency;
//                     requests in flight
//   StoreMetrics      the store: transaction latency and failures by kind and backend
//   SchedulerMetrics  the scheduler loop: pass time; waiting and running workloads
//   HangardMetrics    all of the above plus hangar_build_info and the process collector
//
// Labels are bounded by construction: `route` is a route pattern ("/api/v1/jobs/{id}", or
// "other" when nothing matched), `method` an HTTP method name, `code` a status code, `kind`
// read|write, `backend` sqlite|postgres.
//
// Thread-safety: the structs are immutable after construction; the series they point to are
// updated atomically from any thread (telemetry/metrics.h).
#pragma once

#include <string_view>

#include "telemetry/metrics.h"

namespace hangar::telemetry {

struct HttpMetrics {
  explicit HttpMetrics(Registry& registry);

  Family<Counter>& requests;    // hangar_http_requests_total{method,route,code}
  Family<Histogram>& duration;  // hangar_http_request_duration_seconds{method,route}
  Gauge& in_flight;             // hangar_http_requests_in_flight
};

struct StoreMetrics {
  explicit StoreMetrics(Registry& registry);

  // hangar_store_transaction_duration_seconds{kind,backend}: a Read() or Write() call as its
  // caller waits for it (pool or group-commit queue, statements, commit).
  Family<Histogram>& transaction_duration;
  // hangar_store_transaction_errors_total{kind,backend}: calls that failed unavailable or
  // internal (database down or busy, engine errors); not-found and conflict answers are not
  // failures of the store.
  Family<Counter>& transaction_errors;
};

// The scheduler loop updates these itself:
//   { telemetry::ScopedTimer timer(&metrics.pass_duration); RunPass(); }
//   metrics.waiting_workloads.Set(waiting); metrics.running_workloads.Set(running);
struct SchedulerMetrics {
  explicit SchedulerMetrics(Registry& registry);

  Histogram& pass_duration;  // hangar_scheduler_pass_duration_seconds
  Gauge& waiting_workloads;  // hangar_queue_waiting_workloads: queued, not yet placed
  Gauge& running_workloads;  // hangar_queue_running_workloads: placed and not yet finished
};

struct HangardMetrics {
  // Registers every family above, hangar_build_info{version="<version>"} 1, and the process
  // collector (telemetry/process_metrics.h).
  HangardMetrics(Registry& registry, std::string_view version);

  HttpMetrics http;
  StoreMetrics store;
  SchedulerMetrics scheduler;
};

}  // namespace hangar::telemetry
