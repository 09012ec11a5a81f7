// Metric types: GPU samples shipped by agents (POST /api/v1/nodes/{id}/metrics) and the metric
// history the API answers (GET /api/v1/gpus/{id}/metrics, /nodes/{id}/metrics,
// /projects/{id}/metrics, /teams/{id}/metrics).
//
// Agents sample every GPU once per sampling period (default 1 s) and ship the samples in batches.
// The batch is compact on purpose: at 10,000 GPUs sampled every second it is the largest stream
// hangard takes in, so timestamps are Unix milliseconds and each GPU's points share one header.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// One GPU at one instant. Counters (ECC) are cumulative since the driver loaded, as NVML reports
// them; a metric the device does not support is 0.
struct GpuMetricPoint {
  int64_t t = 0;                 // Unix milliseconds
  double utilization = 0;        // percent of time a kernel ran, 0..100 (DCGM_FI_DEV_GPU_UTIL)
  int64_t memory_used_mib = 0;   // framebuffer used (DCGM_FI_DEV_FB_USED)
  double temperature_c = 0;      // GPU die (DCGM_FI_DEV_GPU_TEMP)
  double power_watts = 0;        // board draw (DCGM_FI_DEV_POWER_USAGE)
  int64_t sm_clock_mhz = 0;      // (DCGM_FI_DEV_SM_CLOCK)
  int64_t ecc_sbe_total = 0;     // corrected (single-bit) errors, volatile aggregate
  int64_t ecc_dbe_total = 0;     // uncorrected (double-bit) errors, volatile aggregate
  int64_t throttle_reasons = 0;  // NVML clocks-event (throttle) reason bit mask
};
BOOST_DESCRIBE_STRUCT(GpuMetricPoint, (),
                      (t, utilization, memory_used_mib, temperature_c, power_watts, sm_clock_mhz,
                       ecc_sbe_total, ecc_dbe_total, throttle_reasons))

// An Xid-class event the driver raised for a GPU (NVML event set, or the simulator's faults).
struct GpuXidEvent {
  int64_t t = 0;  // Unix milliseconds
  int64_t xid = 0;
};
BOOST_DESCRIBE_STRUCT(GpuXidEvent, (), (t, xid))

// One GPU's points in a batch, oldest first.
struct GpuMetricSeries {
  std::string uuid;  // the GPU's UUID as inventoried
  std::vector<GpuMetricPoint> points;
  std::optional<std::vector<GpuXidEvent>> xids;
};
BOOST_DESCRIBE_STRUCT(GpuMetricSeries, (), (uuid, points, xids))

// POST /api/v1/nodes/{id}/metrics, authenticated with the node's credential.
struct MetricBatchRequest {
  std::vector<GpuMetricSeries> gpus;
  // Samples the agent dropped since it started because its buffer was full while the server was
  // unreachable (oldest first). Cumulative, so a lost batch does not lose the count.
  int64_t dropped_samples = 0;
  int64_t sample_period_ms = 1000;
};
BOOST_DESCRIBE_STRUCT(MetricBatchRequest, (), (gpus, dropped_samples, sample_period_ms))

struct MetricBatchResponse {
  int64_t accepted = 0;  // points stored
  int64_t ignored = 0;   // points for GPUs the node does not have, or too old to keep
};
BOOST_DESCRIBE_STRUCT(MetricBatchResponse, (), (accepted, ignored))

// ---- Metric history -----------------------------------------------------------------------------

// A bucket of a metric over [t, t + step): min, mean and max of the samples in it. For a node,
// project or team the samples of all its GPUs count together; `gpus` is then the mean number of
// GPUs reporting.
struct MetricBucket {
  std::string t;  // RFC 3339, the bucket's start
  double min = 0;
  double avg = 0;
  double max = 0;
  int64_t samples = 0;
  double gpus = 0;
};
BOOST_DESCRIBE_STRUCT(MetricBucket, (), (t, min, avg, max, samples, gpus))

// GET …/metrics?metric=utilization&from=…&to=…&step=60s
struct MetricSeries {
  std::string scope;     // "gpu", "node", "project" or "team"
  std::string scope_id;  // the object's id
  std::string metric;    // utilization, memory_used_mib, temperature_c, power_watts, sm_clock_mhz
  std::string unit;      // "percent", "MiB", "celsius", "watts", "MHz"
  std::string from;      // RFC 3339
  std::string to;        // RFC 3339
  int64_t step_seconds = 0;
  std::string resolution;            // where it was answered from: "raw", "1m" or "1h"
  std::vector<MetricBucket> points;  // buckets without samples are left out
};
BOOST_DESCRIBE_STRUCT(MetricSeries, (),
                      (scope, scope_id, metric, unit, from, to, step_seconds, resolution, points))

// The latest sample of one GPU, for `hangar gpus top` (GET /api/v1/gpus/live).
struct GpuLive {
  std::string gpu_id;
  std::string node_id;
  std::string node_name;
  int64_t index = 0;
  std::string gpu_type;
  GpuState state = GpuState::ready;
  std::optional<std::string> project_id;  // the project whose work holds it, if any
  std::optional<std::string> workload_id;
  std::optional<std::string> sampled_at;  // absent: no sample yet
  double utilization = 0;
  int64_t memory_used_mib = 0;
  int64_t memory_mib = 0;
  double temperature_c = 0;
  double power_watts = 0;
  int64_t sm_clock_mhz = 0;
  int64_t ecc_dbe_total = 0;
};
BOOST_DESCRIBE_STRUCT(GpuLive, (),
                      (gpu_id, node_id, node_name, index, gpu_type, state, project_id, workload_id,
                       sampled_at, utilization, memory_used_mib, memory_mib, temperature_c,
                       power_watts, sm_clock_mhz, ecc_dbe_total))

struct GpuLiveList {
  std::vector<GpuLive> items;
};
BOOST_DESCRIBE_STRUCT(GpuLiveList, (), (items))

}  // namespace hangar::api
