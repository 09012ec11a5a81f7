// SimulatedProbe: GPUs that do not exist, for development machines, demos and tests.
//
// A spec such as "8xH100-80GB" or "2xA100-80GB,4xL4" names models from a table of real public
// specifications (product name, memory as the driver reports it, compute capability,
// architecture, board power). UUIDs are derived from the node name and device index, so a
// restarted agent reports the same GPUs and the server keeps their identity. The driver version
// "550.54.15" and CUDA version "12.4" are SIMULATED values, as are all metrics from Sample().
//
// Metrics come from the processes placed on each GPU (the WorkloadPlacements seam, implemented
// by the Executor), measured with a ProcessUsageSource (/proc):
//   - a GPU no run holds reports 0% utilisation, 0 MiB used, idle temperature and power;
//   - a run's utilisation is the CPU time its process group used since the previous Sample(),
//     divided by the time between the two samples on the injected Clock: one busy core is
//     100%, a sleeping process 0%. It is spread evenly over the run's GPUs, summed over the
//     runs that share a GPU, and capped at 100%. A run's first sample is its baseline (0%);
//   - memory used is the group's resident memory, spread the same way, capped at the GPU's
//     total memory;
//   - temperature and power follow utilisation.
// Without a placement source (`hangar-agent --probe-only`) every GPU is idle.
//
// Thread-safety: not thread-safe (Sample keeps each run's previous CPU time).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_probe.h"
#include "agent/process_usage.h"
#include "agent/workload_placements.h"

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
  // kInvalidArgument for a bad spec. `clock` and `placements` (nullable: every GPU idle) must
  // outlive the probe. `usage` measures the placed processes; null: /proc.
  static Result<std::unique_ptr<SimulatedProbe>> Create(
      std::string_view spec, std::string_view node_name, const Clock& clock,
      WorkloadPlacements* placements = nullptr, std::unique_ptr<ProcessUsageSource> usage = {});

  Result<std::vector<api::AgentGpu>> Inventory() override;
  Result<std::vector<GpuSample>> Sample() override;
  std::string_view name() const override { return "simulated"; }

 private:
  SimulatedProbe(std::vector<api::AgentGpu> gpus, std::vector<const SimulatedModel*> models,
                 const Clock& clock, WorkloadPlacements* placements,
                 std::unique_ptr<ProcessUsageSource> usage);

  // What a run had used at the previous Sample(), to turn cumulative CPU time into a rate.
  struct RunBaseline {
    int pgid = 0;
    double cpu_seconds = 0;
    Timestamp at;
    double cores = 0;  // the rate last computed, reused when the clock has not moved
  };

  std::vector<api::AgentGpu> gpus_;
  std::vector<const SimulatedModel*> models_;  // parallel to gpus_
  const Clock& clock_;
  WorkloadPlacements* placements_;  // may be null
  std::unique_ptr<ProcessUsageSource> usage_;
  std::map<std::string, RunBaseline> baselines_;  // by run id; runs gone are dropped
};

}  // namespace hangar::agent
