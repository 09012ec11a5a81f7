// GpuHealthMonitor: the agent's GPU health checks, and the one way into the GPU probe.
//
// It wraps a GpuProbe and is one itself. Every call is serialised with a mutex, so the heartbeat
// loop and the metrics sampler can share a probe that is not thread-safe. Each Sample() also
// feeds the health checks, and Inventory(), which registration and heartbeats carry, reports
// their result in each GPU's `healthy` and `health_reasons`:
//
//   reason              raised when a sample shows                      cleared
//   ecc_uncorrectable   an uncorrected ECC count above 0 (the volatile   never: latched
//                       counter, so errors since the driver loaded)
//   xid_<n>             a critical Xid n: 48 (DBE), 62, 63, 64 (row       never: latched
//                       remapping), 74 (NVLink), 79 (off the bus), 92,
//                       94, 95 (contained/uncontained ECC), 119, 120 (GSP)
//   fell_off_bus        the GPU lost (NVML_ERROR_GPU_IS_LOST)            when a sample shows it
//   back overheating         temperature >= the slowdown threshold (90 C)     at threshold - 5 C or
//   less
// Reasons the probe's own inventory gives (fell_off_bus, probe_failed) are kept as well. A GPU
// is healthy when it has no reason.
//
// Latched reasons last until the agent restarts: a GPU with uncorrectable memory errors or a
// fatal Xid needs a reset (of the GPU or the node), which also restarts the agent. Xids are
// events, seen once; an uncorrected ECC count stays above 0 until the driver reloads, so a
// restarted agent on an unreset GPU raises ecc_uncorrectable again.
//
// When any GPU's reasons change, the callback given to OnHealthChange runs (on the thread that
// called Sample, outside the lock), so the agent heartbeats at once instead of waiting out its
// interval.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/gpu_probe.h"

namespace hangar::agent {

// Xids that mean the GPU needs attention (NVIDIA's Xid catalogue: memory errors, fallen off the
// bus, NVLink and GSP failures), as opposed to application faults such as 13 or 31.
bool IsCriticalXid(int64_t xid);

struct HealthOptions {
  int64_t slowdown_temperature_c = 90;   // at or above: overheating
  int64_t temperature_hysteresis_c = 5;  // healthy again at slowdown - hysteresis or below
};

class GpuHealthMonitor final : public GpuProbe {
 public:
  // `probe` must outlive the monitor and is used only through it from now on.
  explicit GpuHealthMonitor(GpuProbe& probe, HealthOptions options = {});

  // The probe's inventory with the health checks' reasons added.
  Result<std::vector<api::AgentGpu>> Inventory() override;
  // The probe's samples, unchanged; they update the health checks first.
  Result<std::vector<GpuSample>> Sample() override;
  std::string_view name() const override { return probe_.name(); }

  // Called after a Sample() that changed any GPU's health. Set it before sampling starts.
  void OnHealthChange(std::function<void()> callback);

 private:
  struct GpuHealth {
    std::set<std::string> latched;  // ecc_uncorrectable, xid_<n>
    bool lost = false;
    bool overheating = false;
    std::vector<std::string> Reasons() const;
  };
  // Updates gpus_ from one GPU's sample; true when its reasons changed. Requires mu_.
  bool Observe(const GpuSample& sample);

  GpuProbe& probe_;
  const HealthOptions options_;
  std::mutex mu_;                      // serialises the probe; guards gpus_ and on_change_
  std::map<int64_t, GpuHealth> gpus_;  // by GPU index
  std::function<void()> on_change_;
};

}  // namespace hangar::agent
