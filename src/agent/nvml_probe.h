// NvmlProbe: GPU inventory and metrics from NVIDIA's management library (NVML).
//
// libnvidia-ml.so.1 ships with the driver, not with the CUDA toolkit, and is absent on hosts
// without NVIDIA GPUs, so the agent has no link-time dependency on it: the library is opened with
// dlopen at run time and the few entry points used are resolved with dlsym, declared here from
// NVML's public API (nvml.h). A missing library is kUnavailable with a hint to use --simulate.
//
// Thread-safety: NVML itself is thread-safe, but an NvmlProbe is meant for one thread (the agent
// loop). The library is initialised in Create and shut down in the destructor.
#pragma once

#include <memory>
#include <string>
#include <string_view>

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

  void* handle_;  // from dlopen; closed in the destructor after nvmlShutdown
  std::unique_ptr<Api> api_;
  const Clock& clock_;
};

}  // namespace hangar::agent
