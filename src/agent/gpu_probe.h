// GpuProbe: the seam between the node agent and the GPUs of its host.
//
// Two implementations sit behind it: NVML (nvml_probe.h, the real thing, loaded at run time with
// dlopen so the agent runs on hosts without a driver) and a simulator (simulated_probe.h) that
// reports plausible, deterministic GPUs for development and tests, whose metrics come from the
// processes the agent placed on them. `Inventory` is what the agent registers and heartbeats;
// `Sample` returns live metrics (utilisation, memory used, temperature, power), which the agent
// logs at debug level with each heartbeat and later issues ship to the server in metric batches.
//
// Thread-safety: a GpuProbe is used from one thread (the agent loop); implementations need not be
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/workload_placements.h"
#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::agent {

// Live metrics of one GPU at one instant.
struct GpuSample {
  int64_t index = 0;
  std::string uuid;
  Timestamp at;
  int64_t utilization_percent = 0;  // 0..100, share of time a kernel was running
  int64_t memory_used_mib = 0;
  int64_t temperature_c = 0;
  int64_t power_milliwatts = 0;
  bool simulated = false;  // true when the values come from the simulator
};

class GpuProbe {
 public:
  virtual ~GpuProbe() = default;

  // The GPUs of this host in device-index order. kUnavailable when the driver cannot be queried
  // at all; a single GPU that fails its queries is reported with healthy = false instead.
  virtual Result<std::vector<api::AgentGpu>> Inventory() = 0;

  // Current metrics of every GPU, in the order of Inventory(). A metric a device does not
  // support is reported as 0.
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
};

// The simulator when `options.simulate` is set, NVML otherwise. kInvalidArgument for a bad spec;
// kUnavailable when NVML cannot be loaded or initialised.
Result<std::unique_ptr<GpuProbe>> NewGpuProbe(const ProbeOptions& options, const Clock& clock);

}  // namespace hangar::agent
