// SimulatedProbe: GPUs that do not exist, for development machines, demos and tests.
//
// A spec such as "8xH100-80GB" or "2xA100-80GB,4xL4" names models from a table of real public
// specifications (product name, memory as the driver reports it, compute capability,
// architecture, board power). UUIDs are derived from the node name and device index, so a
// restarted agent reports the same GPUs and the server keeps their identity. The driver version
// "550.54.15" and CUDA version "12.4" are SIMULATED values, as are all metrics from Sample():
// utilisation follows a slow seeded wave plus noise and temperature and power follow
// utilisation, driven by the injected Clock.
//
// Thread-safety: not thread-safe (Sample advances a random generator).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_probe.h"

namespace hangar::agent {

// One model the simulator knows, with its real public specifications.
struct SimulatedModel {
  std::string_view name;          // the spec name: "H100-80GB"
  std::string_view product_name;  // what NVML reports: "NVIDIA H100 80GB HBM3"
  int64_t memory_mib;             // total memory as NVML reports it
  std::string_view compute_capability;
  std::string_view architecture;
  int64_t max_power_watts;  // board power limit, for simulated power draw
};

// The simulator's model table.
std::span<const SimulatedModel> SimulatedModels();

struct SimulatedGroup {
  const SimulatedModel* model;
  int count;
};

// Parses "8xH100-80GB,4xL4" (a bare model means one GPU; model names are case-insensitive;
// counts 1..64). kInvalidArgument naming the bad part and listing the known models.
Result<std::vector<SimulatedGroup>> ParseSimulationSpec(std::string_view spec);

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" derived from SHA-256 of node name and index.
std::string SimulatedGpuUuid(std::string_view node_name, int64_t index);

constexpr std::string_view kSimulatedDriverVersion = "550.54.15";
constexpr std::string_view kSimulatedCudaVersion = "12.4";

class SimulatedProbe final : public GpuProbe {
 public:
  // kInvalidArgument for a bad spec. `clock` must outlive the probe.
  static Result<std::unique_ptr<SimulatedProbe>> Create(std::string_view spec,
                                                        std::string_view node_name,
                                                        const Clock& clock);

  Result<std::vector<api::AgentGpu>> Inventory() override;
  Result<std::vector<GpuSample>> Sample() override;
  std::string_view name() const override { return "simulated"; }

 private:
  SimulatedProbe(std::vector<api::AgentGpu> gpus, std::vector<const SimulatedModel*> models,
                 uint64_t seed, const Clock& clock);

  std::vector<api::AgentGpu> gpus_;
  std::vector<const SimulatedModel*> models_;  // parallel to gpus_
  std::mt19937_64 rng_;
  std::vector<double> phase_;  // per GPU, so GPUs do not move in lock-step
  const Clock& clock_;
};

}  // namespace hangar::agent
