// GpuProbe: the seam between the node agent and the GPUs of its host.
//
// Two implementations sit behind it: NVML (nvml_probe.h, the real thing, loaded at run time with
// dlopen so the agent runs on hosts without a driver) and a simulator (simulated_probe.h) that
// reports plausible, deterministic GPUs for development and tests, whose metrics come from the
// processes the agent placed on them. `Inventory` is what the agent registers and heartbeats;
// `Sample` returns live metrics (utilisation, memory, temperature, power, SM clock, ECC counters,
// throttle reasons, Xid events), which the MetricsShipper (metrics_shipper.h) ships to the server
// and the GpuHealthMonitor (gpu_health.h) turns into the inventory's health.
//
// Thread-safety: implementations need not be thread-safe. Where two threads share a probe (the
// heartbeat loop and the metrics sampler), they share it through a GpuHealthMonitor, which
// serialises every call.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/workload_placements.h"
#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::agent {

// NVML's clocks-event ("throttle") reasons, nvmlClocksEventReason* in nvml.h: the bits of
// GpuSample::throttle_reasons.
inline constexpr uint64_t kThrottleGpuIdle = 0x1;
inline constexpr uint64_t kThrottleApplicationsClocksSetting = 0x2;
inline constexpr uint64_t kThrottleSwPowerCap = 0x4;
inline constexpr uint64_t kThrottleHwSlowdown = 0x8;
inline constexpr uint64_t kThrottleSyncBoost = 0x10;
inline constexpr uint64_t kThrottleSwThermalSlowdown = 0x20;
inline constexpr uint64_t kThrottleHwThermalSlowdown = 0x40;
inline constexpr uint64_t kThrottleHwPowerBrakeSlowdown = 0x80;

// An Xid: an error the driver reported for a GPU (NVML's XidCriticalError event).
struct GpuXid {
  Timestamp at;
  int64_t xid = 0;
};

// Live metrics of one GPU at one instant.
struct GpuSample {
  int64_t index = 0;
  std::string uuid;
  Timestamp at;
  int64_t utilization_percent = 0;  // 0..100, share of time a kernel was running
  int64_t memory_used_mib = 0;
  int64_t temperature_c = 0;
  int64_t power_milliwatts = 0;
  int64_t sm_clock_mhz = 0;
  // ECC errors since the driver loaded (NVML's volatile aggregate counters).
  int64_t ecc_sbe_total = 0;      // corrected (single-bit)
  int64_t ecc_dbe_total = 0;      // uncorrected (double-bit)
  uint64_t throttle_reasons = 0;  // kThrottle* bits
  // Xid events raised since the previous Sample(), oldest first. Reported once each.
  std::vector<GpuXid> xids;
  // The GPU fell off the bus (NVML_ERROR_GPU_IS_LOST): the metrics above are absent (0) and
  // only a reset of the node brings it back.
  bool lost = false;
  bool simulated = false;  // true when the values come from the simulator
};

class GpuProbe {
 public:
  virtual ~GpuProbe() = default;

  // The GPUs of this host in device-index order. kUnavailable when the driver cannot be queried
  // at all; a single GPU that fails its queries is reported with healthy = false instead.
  virtual Result<std::vector<api::AgentGpu>> Inventory() = 0;

  // Current metrics of every GPU, in the order of Inventory(). A metric a device does not
  // support is reported as 0. Xid events are drained: each is in exactly one Sample().
  virtual Result<std::vector<GpuSample>> Sample() = 0;

  // "nvml" or "simulated", for logs.
  virtual std::string_view name() const = 0;
};

struct ProbeOptions {
  // Empty: use NVML. Otherwise a simulator spec ("8xH100-80GB", "2xA100-80GB,4xL4").
  std::string simulate;
  // Seeds the simulated UUIDs, so a restarted agent reports the same GPUs.
  std::string node_name;
  // The simulator: what runs on which GPU, measured for its metrics (the Executor). Null: every
  // simulated GPU is idle. Must outlive the probe. NVML measures the hardware instead.
  WorkloadPlacements* placements = nullptr;
  // Where NVML is loaded from; tests point this at a file that does not exist.
  std::string nvml_library = "libnvidia-ml.so.1";
  // The simulator only: faults to show, re-read when the file changes (simulated_faults.h).
  std::filesystem::path simulated_faults_file;
};

// The simulator when `options.simulate` is set, NVML otherwise. kInvalidArgument for a bad spec,
// or a fault file without the simulator; kUnavailable when NVML cannot be loaded or initialised.
Result<std::unique_ptr<GpuProbe>> NewGpuProbe(const ProbeOptions& options, const Clock& clock);

}  // namespace hangar::agent
