// A stand-in for libnvidia-ml.so.1 with canned answers, for NvmlProbe's tests on hosts without
// a GPU. It exports NVML's C entry points with nvml.h's signatures and struct layouts.
//
// Three devices:
//   0  "NVIDIA H100 80GB HBM3", busy, 5 corrected and 1 uncorrected ECC error, SW power cap,
//      NVLinks 0..2 active (two to GPU 1, one to an NVSwitch), Xid 48 pending in the event set;
//   1  "NVIDIA H100 80GB HBM3", idle, MIG on, NVLinks 0..1 active to GPU 0;
//   2  fallen off the bus: its handle is returned, every query on it answers GPU_IS_LOST, and an
//      Xid 79 is pending.
// Built three ways (CMake compile definitions):
//   FAKE_NVML_OMIT_UUID      leaves out nvmlDeviceGetUUID, a required symbol;
//   FAKE_NVML_REQUIRED_ONLY  leaves out every optional symbol (metrics, topology, events).
#include <cstring>

extern "C" {

struct nvmlDevice_st {
  int index;
};
struct nvmlEventSet_st {
  int unused;
};
using nvmlReturn_t = int;
using nvmlDevice_t = nvmlDevice_st*;
using nvmlEventSet_t = nvmlEventSet_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlUtilization_t {
  unsigned int gpu, memory;
};
struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};
struct nvmlEventData_t {
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

}  // extern "C"

namespace {

constexpr nvmlReturn_t kSuccess = 0;
constexpr nvmlReturn_t kInvalidArgument = 2;
constexpr nvmlReturn_t kNotSupported = 3;
constexpr nvmlReturn_t kTimeout = 10;
constexpr nvmlReturn_t kGpuIsLost = 15;
constexpr unsigned long long kMiB = 1024 * 1024;

nvmlDevice_st devices[3] = {{0}, {1}, {2}};

bool Lost(nvmlDevice_t d) { return d == &devices[2]; }
int Index(nvmlDevice_t d) { return d->index; }

}  // namespace

#define FAKE_NVML_EXPORT extern "C" __attribute__((visibility("default")))

FAKE_NVML_EXPORT nvmlReturn_t nvmlInit_v2() { return kSuccess; }
FAKE_NVML_EXPORT nvmlReturn_t nvmlShutdown() { return kSuccess; }
FAKE_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t rc) {
  return rc == kGpuIsLost ? "GPU is lost" : "fake NVML error";
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* out, unsigned int size) {
  std::strncpy(out, "999.1.2", size);
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  *version = 12080;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = 3;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* dev) {
  if (index >= 3) return kInvalidArgument;
  *dev = &devices[index];
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char* out, unsigned int size) {
  if (Lost(dev)) return kGpuIsLost;
  std::strncpy(out, "NVIDIA H100 80GB HBM3", size);
  return kSuccess;
}
#ifndef FAKE_NVML_OMIT_UUID
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char* out, unsigned int size) {
  if (Lost(dev)) return kGpuIsLost;
  const char* uuids[] = {"GPU-00000000-fake-0000-0000-000000000000",
                         "GPU-11111111-fake-1111-1111-111111111111"};
  std::strncpy(out, uuids[Index(dev)], size);
  return kSuccess;
}
#endif
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t* memory) {
  if (Lost(dev)) return kGpuIsLost;
  memory->total = 81559 * kMiB;
  memory->used = Index(dev) == 0 ? 40000 * kMiB : 0;
  memory->free = memory->total - memory->used;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t dev, int* major,
                                                                 int* minor) {
  if (Lost(dev)) return kGpuIsLost;
  *major = 9;
  *minor = 0;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t dev, unsigned int* arch) {
  if (Lost(dev)) return kGpuIsLost;
  *arch = 9;  // hopper
  return kSuccess;
}

#ifndef FAKE_NVML_REQUIRED_ONLY
namespace {

nvmlEventSet_st event_set = {0};
int events_delivered = 0;

void SetBusId(nvmlPciInfo_t* pci, const char* bus_id) {
  std::memset(pci, 0, sizeof *pci);
  std::strncpy(pci->busId, bus_id, sizeof pci->busId - 1);
  std::strncpy(pci->busIdLegacy, bus_id + 4, sizeof pci->busIdLegacy - 1);
}

}  // namespace

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev,
                                                            nvmlUtilization_t* util) {
  if (Lost(dev)) return kGpuIsLost;
  util->gpu = Index(dev) == 0 ? 87 : 0;
  util->memory = Index(dev) == 0 ? 40 : 0;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, unsigned int,
                                                       unsigned int* temp) {
  if (Lost(dev)) return kGpuIsLost;
  *temp = Index(dev) == 0 ? 65 : 40;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int* mw) {
  if (Lost(dev)) return kGpuIsLost;
  *mw = Index(dev) == 0 ? 350000 : 70000;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, unsigned int type,
                                                     unsigned int* mhz) {
  if (Lost(dev)) return kGpuIsLost;
  if (type != 1) return kNotSupported;  // only NVML_CLOCK_SM is asked for
  *mhz = Index(dev) == 0 ? 1980 : 345;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t dev, unsigned int type,
                                                          unsigned int counter,
                                                          unsigned long long* count) {
  if (Lost(dev)) return kGpuIsLost;
  if (counter != 0) return kInvalidArgument;  // the probe reads the volatile counters
  *count = Index(dev) != 0 ? 0 : type == 0 ? 5 : 1;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t dev,
                                                                        unsigned long long* r) {
  if (Lost(dev)) return kGpuIsLost;
  *r = Index(dev) == 0 ? 0x4 : 0x1;  // SW power cap; idle
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t* pci) {
  if (Lost(dev)) return kGpuIsLost;
  SetBusId(pci, Index(dev) == 0 ? "00000000:18:00.0" : "00000000:2A:00.0");
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int* current,
                                                   unsigned int* pending) {
  if (Lost(dev)) return kGpuIsLost;
  *current = *pending = Index(dev) == 1 ? 1 : 0;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t dev, unsigned int link,
                                                       int* active) {
  if (Lost(dev)) return kGpuIsLost;
  if (link >= 4) return kInvalidArgument;
  *active = Index(dev) == 0 ? link <= 2 : link <= 1;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t dev,
                                                                  unsigned int link,
                                                                  nvmlPciInfo_t* pci) {
  if (Lost(dev)) return kGpuIsLost;
  if (Index(dev) == 1) {
    SetBusId(pci, "00000000:18:00.0");
  } else {
    SetBusId(pci, link == 2 ? "00000000:C1:00.0" : "00000000:2A:00.0");
  }
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t* set) {
  *set = &event_set;
  return kSuccess;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t) { return kSuccess; }
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t, unsigned long long types,
                                                       nvmlEventSet_t) {
  return types == 0x8 ? kSuccess : kNotSupported;
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t, nvmlEventData_t* data,
                                                  unsigned int timeout_ms) {
  if (timeout_ms != 0) return kInvalidArgument;  // the probe must never block
  if (events_delivered >= 2) return kTimeout;
  std::memset(data, 0, sizeof *data);
  data->device = events_delivered == 0 ? &devices[0] : &devices[2];
  data->eventType = 0x8;
  data->eventData = events_delivered == 0 ? 48 : 79;
  ++events_delivered;
  return kSuccess;
}
#endif
