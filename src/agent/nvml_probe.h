// NvmlProbe: GPU inventory and metrics from NVIDIA's management library (NVML).
//
// libnvidia-ml.so.1 ships with the driver, not with the CUDA toolkit, and is absent on hosts
// without NVIDIA GPUs, so the agent has no link-time dependency on it: the library is opened with
// dlopen at run time and the few entry points used are resolved with dlsym, declared here from
// NVML's public API (nvml.h). A missing library is kUnavailable with a hint to use --simulate.
//
// Entry points are resolved once, in Create. The inventory's (name, UUID, memory, ...) are
// required: a library without one is kUnavailable naming it. Everything else is optional, so an
// older driver still works: a missing metric symbol reads 0, a missing topology symbol leaves
// the field out (pci_bus_id, mig_enabled, nvlink_peers), and without the event API no Xids are
// reported. A device whose query answers NVML_ERROR_GPU_IS_LOST has fallen off the bus: its
// inventory entry is unhealthy with reason "fell_off_bus" and its samples are `lost`.
//
// Xid events come from one NVML event set made in Create, with every device registered for
// critical Xid errors; Sample() drains it without waiting.
//
// Thread-safety: NVML itself is thread-safe, but an NvmlProbe is meant for one thread (the agent
// loop). The library is initialised in Create and shut down in the destructor.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_probe.h"

namespace hangar::agent {

// NVML's nvmlDeviceArchitecture_t values -> our lowercase names ("hopper"); "unknown" otherwise.
std::string_view NvmlArchitectureName(unsigned int arch);

// "12.4" from NVML's integer CUDA driver version (12040).
std::string NvmlCudaVersionString(int version);

class NvmlProbe final : public GpuProbe {
 public:
  // Loads `library` (normally "libnvidia-ml.so.1") and calls nvmlInit_v2. kUnavailable when the
  // library cannot be loaded, lacks a required symbol, or fails to initialise. `clock` stamps
  // samples and must outlive the probe.
  static Result<std::unique_ptr<NvmlProbe>> Create(const std::string& library, const Clock& clock);
  ~NvmlProbe() override;

  Result<std::vector<api::AgentGpu>> Inventory() override;
  Result<std::vector<GpuSample>> Sample() override;
  std::string_view name() const override { return "nvml"; }

 private:
  struct Api;  // the resolved entry points
  NvmlProbe(void* handle, std::unique_ptr<Api> api, const Clock& clock);

  // Registers every device for Xid events; without the event API (or on failure) no Xids.
  void SetUpXidEvents();
  // The Xid events waiting in the event set, by device index (`count` devices), stamped `now`.
  std::vector<std::vector<GpuXid>> DrainXids(size_t count, Timestamp now);

  void* handle_;  // from dlopen; closed in the destructor after nvmlShutdown
  std::unique_ptr<Api> api_;
  const Clock& clock_;
  void* event_set_ = nullptr;              // nvmlEventSet_t; null: no Xid events
  std::vector<void*> registered_devices_;  // nvmlDevice_t by index, for events' devices
};

}  // namespace hangar::agent
