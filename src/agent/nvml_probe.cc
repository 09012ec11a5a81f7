#include "agent/nvml_probe.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace hangar::agent {

namespace {

// ---- The subset of nvml.h this probe uses (NVML's public, stable C ABI) ----------------------
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
using nvmlEventSet_t = struct nvmlEventSet_st*;
using nvmlDeviceArchitecture_t = unsigned int;
using nvmlEnableState_t = int;  // NVML_FEATURE_DISABLED = 0, NVML_FEATURE_ENABLED = 1
struct nvmlMemory_t {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
};
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of time a kernel was executing over the last sample period
  unsigned int memory;  // percent of time device memory was read or written
};
// nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 and nvmlDeviceGetNvLinkRemotePciInfo_v2 fill it.
struct nvmlPciInfo_t {
  char busIdLegacy[16];  // NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];  // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE: "00000000:17:00.0"
};
struct nvmlEventData_t {
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;  // the Xid, for nvmlEventTypeXidCriticalError
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_TIMEOUT = 10;
constexpr nvmlReturn_t NVML_ERROR_GPU_IS_LOST = 15;
constexpr unsigned int NVML_TEMPERATURE_GPU = 0;
constexpr unsigned int NVML_CLOCK_SM = 1;
constexpr unsigned int NVML_MEMORY_ERROR_TYPE_CORRECTED = 0;
constexpr unsigned int NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1;
constexpr unsigned int NVML_VOLATILE_ECC = 0;
constexpr unsigned int NVML_DEVICE_MIG_ENABLE = 1;
constexpr nvmlEnableState_t NVML_FEATURE_ENABLED = 1;
constexpr unsigned int NVML_NVLINK_MAX_LINKS = 18;
constexpr unsigned long long nvmlEventTypeXidCriticalError = 0x8;
constexpr unsigned int kDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
constexpr unsigned int kDeviceNameBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned int kDeviceUuidBufferSize = 96;     // NVML_DEVICE_UUID_V2_BUFFER_SIZE
// Bounds one Sample()'s draining of the event set, should the driver flood it.
constexpr int kMaxEventsPerSample = 1024;

}  // namespace

struct NvmlProbe::Api {
  nvmlReturn_t (*Init)();
  nvmlReturn_t (*Shutdown)();
  const char* (*ErrorString)(nvmlReturn_t);
  nvmlReturn_t (*SystemGetDriverVersion)(char*, unsigned int);
  nvmlReturn_t (*SystemGetCudaDriverVersion)(int*);
  nvmlReturn_t (*DeviceGetCount)(unsigned int*);
  nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*DeviceGetCudaComputeCapability)(nvmlDevice_t, int*, int*);
  nvmlReturn_t (*DeviceGetArchitecture)(nvmlDevice_t, nvmlDeviceArchitecture_t*);
  // Optional, so an old driver without them still gives an inventory: metrics read 0,
  // topology fields are left out.
  nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, unsigned int, unsigned int*) = nullptr;
  nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*DeviceGetClockInfo)(nvmlDevice_t, unsigned int, unsigned int*) = nullptr;
  nvmlReturn_t (*DeviceGetTotalEccErrors)(nvmlDevice_t, unsigned int, unsigned int,
                                          unsigned long long*) = nullptr;
  nvmlReturn_t (*DeviceGetThrottleReasons)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*DeviceGetMigMode)(nvmlDevice_t, unsigned int*, unsigned int*) = nullptr;
  nvmlReturn_t (*DeviceGetNvLinkState)(nvmlDevice_t, unsigned int, nvmlEnableState_t*) = nullptr;
  nvmlReturn_t (*DeviceGetNvLinkRemotePciInfo)(nvmlDevice_t, unsigned int,
                                               nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*EventSetCreate)(nvmlEventSet_t*) = nullptr;
  nvmlReturn_t (*EventSetFree)(nvmlEventSet_t) = nullptr;
  nvmlReturn_t (*DeviceRegisterEvents)(nvmlDevice_t, unsigned long long, nvmlEventSet_t) = nullptr;
  nvmlReturn_t (*EventSetWait)(nvmlEventSet_t, nvmlEventData_t*, unsigned int) = nullptr;

  std::string Describe(nvmlReturn_t rc) const {
    const char* s = ErrorString ? ErrorString(rc) : nullptr;
    return (s ? std::string(s) : "NVML error") + " (" + std::to_string(rc) + ")";
  }
};

std::string_view NvmlArchitectureName(unsigned int arch) {
  // NVML_DEVICE_ARCH_* in nvml.h.
  switch (arch) {
    case 2:
      return "kepler";
    case 3:
      return "maxwell";
    case 4:
      return "pascal";
    case 5:
      return "volta";
    case 6:
      return "turing";
    case 7:
      return "ampere";
    case 8:
      return "ada";
    case 9:
      return "hopper";
    case 10:
      return "blackwell";
    default:
      return "unknown";
  }
}

std::string NvmlCudaVersionString(int version) {
  // NVML_CUDA_DRIVER_VERSION_MAJOR/MINOR: 12040 -> 12.4.
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

namespace {
template <typename F>
bool Resolve(void* handle, const char* symbol, F& fn) {
  fn = reinterpret_cast<F>(dlsym(handle, symbol));
  return fn != nullptr;
}
}  // namespace

Result<std::unique_ptr<NvmlProbe>> NvmlProbe::Create(const std::string& library,
                                                     const Clock& clock) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return std::unexpected(Error::Unavailable("NVML not found (" + library + "): use --simulate")
                               .Hint(std::string("dlopen: ") + (why ? why : "unknown error") +
                                     "; install the NVIDIA driver or run with --simulate "
                                     "8xH100-80GB"));
  }
  auto api = std::make_unique<Api>();
  const char* missing = nullptr;
  auto need = [&](const char* symbol, auto& fn) {
    if (!missing && !Resolve(handle, symbol, fn)) missing = symbol;
  };
  need("nvmlInit_v2", api->Init);
  need("nvmlShutdown", api->Shutdown);
  need("nvmlErrorString", api->ErrorString);
  need("nvmlSystemGetDriverVersion", api->SystemGetDriverVersion);
  need("nvmlSystemGetCudaDriverVersion_v2", api->SystemGetCudaDriverVersion);
  need("nvmlDeviceGetCount_v2", api->DeviceGetCount);
  need("nvmlDeviceGetHandleByIndex_v2", api->DeviceGetHandleByIndex);
  need("nvmlDeviceGetName", api->DeviceGetName);
  need("nvmlDeviceGetUUID", api->DeviceGetUUID);
  need("nvmlDeviceGetMemoryInfo", api->DeviceGetMemoryInfo);
  need("nvmlDeviceGetCudaComputeCapability", api->DeviceGetCudaComputeCapability);
  need("nvmlDeviceGetArchitecture", api->DeviceGetArchitecture);
  if (missing) {
    dlclose(handle);
    return std::unexpected(Error::Unavailable(std::string("NVML in ") + library + " lacks " +
                                              missing + ": the driver is too old")
                               .Hint("upgrade the NVIDIA driver or use --simulate"));
  }
  Resolve(handle, "nvmlDeviceGetUtilizationRates", api->DeviceGetUtilizationRates);
  Resolve(handle, "nvmlDeviceGetTemperature", api->DeviceGetTemperature);
  Resolve(handle, "nvmlDeviceGetPowerUsage", api->DeviceGetPowerUsage);
  Resolve(handle, "nvmlDeviceGetClockInfo", api->DeviceGetClockInfo);
  Resolve(handle, "nvmlDeviceGetTotalEccErrors", api->DeviceGetTotalEccErrors);
  // Renamed "clocks event reasons" in CUDA 12.2 drivers; the old name remains as an alias.
  if (!Resolve(handle, "nvmlDeviceGetCurrentClocksEventReasons", api->DeviceGetThrottleReasons)) {
    Resolve(handle, "nvmlDeviceGetCurrentClocksThrottleReasons", api->DeviceGetThrottleReasons);
  }
  Resolve(handle, "nvmlDeviceGetPciInfo_v3", api->DeviceGetPciInfo);
  Resolve(handle, "nvmlDeviceGetMigMode", api->DeviceGetMigMode);
  Resolve(handle, "nvmlDeviceGetNvLinkState", api->DeviceGetNvLinkState);
  Resolve(handle, "nvmlDeviceGetNvLinkRemotePciInfo_v2", api->DeviceGetNvLinkRemotePciInfo);
  // The event API is used only when all of it is there.
  if (!Resolve(handle, "nvmlEventSetCreate", api->EventSetCreate) ||
      !Resolve(handle, "nvmlEventSetFree", api->EventSetFree) ||
      !Resolve(handle, "nvmlDeviceRegisterEvents", api->DeviceRegisterEvents) ||
      !Resolve(handle, "nvmlEventSetWait_v2", api->EventSetWait)) {
    api->EventSetCreate = nullptr;
  }
  if (nvmlReturn_t rc = api->Init(); rc != NVML_SUCCESS) {
    std::string why = api->Describe(rc);
    dlclose(handle);
    return std::unexpected(Error::Unavailable("NVML failed to initialise: " + why)
                               .Hint("check that the NVIDIA driver is loaded (nvidia-smi)"));
  }
  auto probe = std::unique_ptr<NvmlProbe>(new NvmlProbe(handle, std::move(api), clock));
  probe->SetUpXidEvents();
  return probe;
}

NvmlProbe::NvmlProbe(void* handle, std::unique_ptr<Api> api, const Clock& clock)
    : handle_(handle), api_(std::move(api)), clock_(clock) {}

NvmlProbe::~NvmlProbe() {
  if (event_set_) api_->EventSetFree(static_cast<nvmlEventSet_t>(event_set_));
  api_->Shutdown();
  dlclose(handle_);
}

void NvmlProbe::SetUpXidEvents() {
  if (!api_->EventSetCreate) {
    spdlog::info("NVML has no event API: Xid errors are not reported");
    return;
  }
  nvmlEventSet_t set = nullptr;
  if (nvmlReturn_t rc = api_->EventSetCreate(&set); rc != NVML_SUCCESS) {
    spdlog::warn("nvmlEventSetCreate failed: {}; Xid errors are not reported", api_->Describe(rc));
    return;
  }
  event_set_ = set;
  unsigned int count = 0;
  if (api_->DeviceGetCount(&count) != NVML_SUCCESS) return;
  registered_devices_.assign(count, nullptr);
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (api_->DeviceGetHandleByIndex(i, &dev) != NVML_SUCCESS) continue;
    registered_devices_[i] = dev;
    if (nvmlReturn_t rc = api_->DeviceRegisterEvents(dev, nvmlEventTypeXidCriticalError, set);
        rc != NVML_SUCCESS) {
      // Not supported on some boards (and under some virtualisation): that GPU reports no Xids.
      spdlog::warn("GPU {}: nvmlDeviceRegisterEvents failed: {}; its Xid errors are not reported",
                   i, api_->Describe(rc));
    }
  }
}

Result<std::vector<api::AgentGpu>> NvmlProbe::Inventory() {
  char driver[kDriverVersionBufferSize] = {};
  if (nvmlReturn_t rc = api_->SystemGetDriverVersion(driver, sizeof driver); rc != NVML_SUCCESS) {
    return std::unexpected(Error::Unavailable("nvmlSystemGetDriverVersion: " + api_->Describe(rc)));
  }
  int cuda = 0;
  if (nvmlReturn_t rc = api_->SystemGetCudaDriverVersion(&cuda); rc != NVML_SUCCESS) {
    return std::unexpected(
        Error::Unavailable("nvmlSystemGetCudaDriverVersion_v2: " + api_->Describe(rc)));
  }
  unsigned int count = 0;
  if (nvmlReturn_t rc = api_->DeviceGetCount(&count); rc != NVML_SUCCESS) {
    return std::unexpected(Error::Unavailable("nvmlDeviceGetCount_v2: " + api_->Describe(rc)));
  }
  std::vector<api::AgentGpu> gpus;
  gpus.reserve(count);
  for (unsigned int i = 0; i < count; ++i) {
    api::AgentGpu gpu{.index = i,
                      .vendor = "nvidia",
                      .driver_version = driver,
                      .cuda_version = NvmlCudaVersionString(cuda),
                      .healthy = true};
    // A device whose queries fail (fallen off the bus, in a bad state) is still reported, as
    // unhealthy, so the server can take it out of service instead of losing track of it.
    bool lost = false;
    bool failed = false;
    auto fail = [&](const char* what, nvmlReturn_t rc) {
      spdlog::warn("GPU {}: {} failed: {}", i, what, api_->Describe(rc));
      (rc == NVML_ERROR_GPU_IS_LOST ? lost : failed) = true;
    };
    auto finish = [&] {
      std::vector<std::string> reasons;
      if (lost) reasons.push_back("fell_off_bus");
      if (failed) reasons.push_back("probe_failed");
      if (!reasons.empty()) {
        gpu.healthy = false;
        gpu.health_reasons = std::move(reasons);
      }
      gpus.push_back(std::move(gpu));
    };
    nvmlDevice_t dev = nullptr;
    if (nvmlReturn_t rc = api_->DeviceGetHandleByIndex(i, &dev); rc != NVML_SUCCESS) {
      fail("nvmlDeviceGetHandleByIndex_v2", rc);
      finish();
      continue;
    }
    char name[kDeviceNameBufferSize] = {};
    if (nvmlReturn_t rc = api_->DeviceGetName(dev, name, sizeof name); rc == NVML_SUCCESS) {
      gpu.product_name = name;
    } else {
      fail("nvmlDeviceGetName", rc);
    }
    char uuid[kDeviceUuidBufferSize] = {};
    if (nvmlReturn_t rc = api_->DeviceGetUUID(dev, uuid, sizeof uuid); rc == NVML_SUCCESS) {
      gpu.uuid = uuid;
    } else {
      fail("nvmlDeviceGetUUID", rc);
    }
    nvmlMemory_t memory{};
    if (nvmlReturn_t rc = api_->DeviceGetMemoryInfo(dev, &memory); rc == NVML_SUCCESS) {
      gpu.memory_mib = static_cast<int64_t>(memory.total / (1024 * 1024));
    } else {
      fail("nvmlDeviceGetMemoryInfo", rc);
    }
    int major = 0, minor = 0;
    if (nvmlReturn_t rc = api_->DeviceGetCudaComputeCapability(dev, &major, &minor);
        rc == NVML_SUCCESS) {
      gpu.compute_capability = std::to_string(major) + "." + std::to_string(minor);
    } else {
      fail("nvmlDeviceGetCudaComputeCapability", rc);
    }
    nvmlDeviceArchitecture_t arch = 0;
    if (nvmlReturn_t rc = api_->DeviceGetArchitecture(dev, &arch); rc == NVML_SUCCESS) {
      gpu.architecture = std::string(NvmlArchitectureName(arch));
    } else {
      // Not fatal for health: older drivers do not know newer architectures.
      spdlog::debug("GPU {}: nvmlDeviceGetArchitecture failed: {}", i, api_->Describe(rc));
      lost |= rc == NVML_ERROR_GPU_IS_LOST;
      gpu.architecture = "unknown";
    }
    // Topology: optional. A query the device does not support leaves its field out.
    if (api_->DeviceGetPciInfo) {
      nvmlPciInfo_t pci{};
      nvmlReturn_t rc = api_->DeviceGetPciInfo(dev, &pci);
      if (rc == NVML_SUCCESS) gpu.pci_bus_id = std::string(pci.busId, strnlen(pci.busId, 32));
      lost |= rc == NVML_ERROR_GPU_IS_LOST;
    }
    if (api_->DeviceGetMigMode) {
      unsigned int current = 0, pending = 0;
      nvmlReturn_t rc = api_->DeviceGetMigMode(dev, &current, &pending);
      // NOT_SUPPORTED on GPUs without MIG: they are not in MIG mode.
      gpu.mig_enabled = rc == NVML_SUCCESS && current == NVML_DEVICE_MIG_ENABLE;
      lost |= rc == NVML_ERROR_GPU_IS_LOST;
    }
    if (api_->DeviceGetNvLinkState && api_->DeviceGetNvLinkRemotePciInfo) {
      // The distinct far ends of the active links (on NVSwitch systems, the switches).
      std::set<std::string> peers;
      for (unsigned int link = 0; link < NVML_NVLINK_MAX_LINKS; ++link) {
        nvmlEnableState_t active = 0;
        // Links past the device's count answer NOT_SUPPORTED or INVALID_ARGUMENT.
        if (api_->DeviceGetNvLinkState(dev, link, &active) != NVML_SUCCESS ||
            active != NVML_FEATURE_ENABLED) {
          continue;
        }
        nvmlPciInfo_t remote{};
        if (api_->DeviceGetNvLinkRemotePciInfo(dev, link, &remote) == NVML_SUCCESS) {
          peers.insert(std::string(remote.busId, strnlen(remote.busId, 32)));
        }
      }
      gpu.nvlink_peers = std::vector<std::string>(peers.begin(), peers.end());
    }
    finish();
  }
  return gpus;
}

std::vector<std::vector<GpuXid>> NvmlProbe::DrainXids(size_t count, Timestamp now) {
  std::vector<std::vector<GpuXid>> out(count);
  if (!event_set_) return out;
  for (int n = 0; n < kMaxEventsPerSample; ++n) {
    nvmlEventData_t data{};
    nvmlReturn_t rc = api_->EventSetWait(static_cast<nvmlEventSet_t>(event_set_), &data, 0);
    if (rc != NVML_SUCCESS) {
      if (rc != NVML_ERROR_TIMEOUT) spdlog::debug("nvmlEventSetWait_v2: {}", api_->Describe(rc));
      break;
    }
    if (!(data.eventType & nvmlEventTypeXidCriticalError)) continue;
    auto it = std::find(registered_devices_.begin(), registered_devices_.end(),
                        static_cast<void*>(data.device));
    if (it == registered_devices_.end()) continue;
    size_t index = static_cast<size_t>(it - registered_devices_.begin());
    spdlog::warn("GPU {}: Xid {}", index, data.eventData);
    if (index < out.size()) {
      out[index].push_back({.at = now, .xid = static_cast<int64_t>(data.eventData)});
    }
  }
  return out;
}

Result<std::vector<GpuSample>> NvmlProbe::Sample() {
  unsigned int count = 0;
  if (nvmlReturn_t rc = api_->DeviceGetCount(&count); rc != NVML_SUCCESS) {
    return std::unexpected(Error::Unavailable("nvmlDeviceGetCount_v2: " + api_->Describe(rc)));
  }
  Timestamp now = clock_.Now();
  std::vector<std::vector<GpuXid>> xids = DrainXids(count, now);
  std::vector<GpuSample> out;
  for (unsigned int i = 0; i < count; ++i) {
    GpuSample s{.index = i, .at = now, .xids = std::move(xids[i])};
    // Every query may be the one that finds the GPU gone.
    auto ok = [&](nvmlReturn_t rc) {
      s.lost |= rc == NVML_ERROR_GPU_IS_LOST;
      return rc == NVML_SUCCESS;
    };
    nvmlDevice_t dev = nullptr;
    if (!ok(api_->DeviceGetHandleByIndex(i, &dev))) {
      out.push_back(std::move(s));
      continue;
    }
    char uuid[kDeviceUuidBufferSize] = {};
    if (ok(api_->DeviceGetUUID(dev, uuid, sizeof uuid))) s.uuid = uuid;
    nvmlUtilization_t util{};
    if (api_->DeviceGetUtilizationRates && ok(api_->DeviceGetUtilizationRates(dev, &util))) {
      s.utilization_percent = util.gpu;
    }
    nvmlMemory_t memory{};
    if (ok(api_->DeviceGetMemoryInfo(dev, &memory))) {
      s.memory_used_mib = static_cast<int64_t>(memory.used / (1024 * 1024));
    }
    unsigned int temp = 0;
    if (api_->DeviceGetTemperature &&
        ok(api_->DeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &temp))) {
      s.temperature_c = temp;
    }
    unsigned int milliwatts = 0;
    if (api_->DeviceGetPowerUsage && ok(api_->DeviceGetPowerUsage(dev, &milliwatts))) {
      s.power_milliwatts = milliwatts;
    }
    unsigned int sm_mhz = 0;
    if (api_->DeviceGetClockInfo && ok(api_->DeviceGetClockInfo(dev, NVML_CLOCK_SM, &sm_mhz))) {
      s.sm_clock_mhz = sm_mhz;
    }
    if (api_->DeviceGetTotalEccErrors) {
      // NOT_SUPPORTED where ECC is off or absent (most non-datacentre boards): 0.
      unsigned long long errors = 0;
      if (ok(api_->DeviceGetTotalEccErrors(dev, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC,
                                           &errors))) {
        s.ecc_sbe_total = static_cast<int64_t>(errors);
      }
      errors = 0;
      if (ok(api_->DeviceGetTotalEccErrors(dev, NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                                           NVML_VOLATILE_ECC, &errors))) {
        s.ecc_dbe_total = static_cast<int64_t>(errors);
      }
    }
    unsigned long long reasons = 0;
    if (api_->DeviceGetThrottleReasons && ok(api_->DeviceGetThrottleReasons(dev, &reasons))) {
      s.throttle_reasons = reasons;
    }
    if (s.lost) {
      // What a lost GPU answered is not to be trusted: report it without metrics.
      s = GpuSample{.index = i, .uuid = s.uuid, .at = now, .xids = std::move(s.xids), .lost = true};
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace hangar::agent
