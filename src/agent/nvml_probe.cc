#include "agent/nvml_probe.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

namespace hangar::agent {

namespace {

// ---- The subset of nvml.h this probe uses (NVML's public, stable C ABI) ----------------------
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
using nvmlDeviceArchitecture_t = unsigned int;
struct nvmlMemory_t {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
};
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of time a kernel was executing over the last sample period
  unsigned int memory;  // percent of time device memory was read or written
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr unsigned int NVML_TEMPERATURE_GPU = 0;
constexpr unsigned int kDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
constexpr unsigned int kDeviceNameBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned int kDeviceUuidBufferSize = 96;     // NVML_DEVICE_UUID_V2_BUFFER_SIZE

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
  // Metrics: optional, so an old driver without them still gives an inventory.
  nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, unsigned int, unsigned int*) = nullptr;
  nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned int*) = nullptr;

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
  if (nvmlReturn_t rc = api->Init(); rc != NVML_SUCCESS) {
    std::string why = api->Describe(rc);
    dlclose(handle);
    return std::unexpected(Error::Unavailable("NVML failed to initialise: " + why)
                               .Hint("check that the NVIDIA driver is loaded (nvidia-smi)"));
  }
  return std::unique_ptr<NvmlProbe>(new NvmlProbe(handle, std::move(api), clock));
}

NvmlProbe::NvmlProbe(void* handle, std::unique_ptr<Api> api, const Clock& clock)
    : handle_(handle), api_(std::move(api)), clock_(clock) {}

NvmlProbe::~NvmlProbe() {
  api_->Shutdown();
  dlclose(handle_);
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
    auto fail = [&](const char* what, nvmlReturn_t rc) {
      spdlog::warn("GPU {}: {} failed: {}", i, what, api_->Describe(rc));
      gpu.healthy = false;
    };
    nvmlDevice_t dev = nullptr;
    if (nvmlReturn_t rc = api_->DeviceGetHandleByIndex(i, &dev); rc != NVML_SUCCESS) {
      fail("nvmlDeviceGetHandleByIndex_v2", rc);
      gpus.push_back(std::move(gpu));
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
      gpu.architecture = "unknown";
    }
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

Result<std::vector<GpuSample>> NvmlProbe::Sample() {
  unsigned int count = 0;
  if (nvmlReturn_t rc = api_->DeviceGetCount(&count); rc != NVML_SUCCESS) {
    return std::unexpected(Error::Unavailable("nvmlDeviceGetCount_v2: " + api_->Describe(rc)));
  }
  Timestamp now = clock_.Now();
  std::vector<GpuSample> out;
  for (unsigned int i = 0; i < count; ++i) {
    GpuSample s{.index = i, .at = now};
    nvmlDevice_t dev = nullptr;
    if (api_->DeviceGetHandleByIndex(i, &dev) != NVML_SUCCESS) {
      out.push_back(std::move(s));
      continue;
    }
    char uuid[kDeviceUuidBufferSize] = {};
    if (api_->DeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS) s.uuid = uuid;
    nvmlUtilization_t util{};
    if (api_->DeviceGetUtilizationRates &&
        api_->DeviceGetUtilizationRates(dev, &util) == NVML_SUCCESS) {
      s.utilization_percent = util.gpu;
    }
    nvmlMemory_t memory{};
    if (api_->DeviceGetMemoryInfo(dev, &memory) == NVML_SUCCESS) {
      s.memory_used_mib = static_cast<int64_t>(memory.used / (1024 * 1024));
    }
    unsigned int temp = 0;
    if (api_->DeviceGetTemperature &&
        api_->DeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &temp) == NVML_SUCCESS) {
      s.temperature_c = temp;
    }
    unsigned int milliwatts = 0;
    if (api_->DeviceGetPowerUsage && api_->DeviceGetPowerUsage(dev, &milliwatts) == NVML_SUCCESS) {
      s.power_milliwatts = milliwatts;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace hangar::agent
