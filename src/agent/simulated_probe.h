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
//   - temperature, power and the SM clock follow utilisation (idle: 32 C, a tenth of the board
//     power, 345 MHz and the GpuIdle throttle reason; busy: up to 77 C, the board power and the
//     model's boost clock).
// Without a placement source (`hangar-agent --probe-only`) every GPU is idle. With synthetic load
// (CreateWithSyntheticLoad, the agent's load mode) utilisation is a deterministic pseudo-random
// pattern instead: in each 10-minute slot a number of the node's GPUs, drawn from a hash of the
// node name and the slot, runs at 70..100% with 55..90% of its memory used; the rest idle.
//
// The inventory adds PCI bus ids derived from the index ("00000000:<index + 1>:00.0"), MIG off,
// and, for the SXM models that have NVLink (H100, H200, A100), every other GPU of the same model
// on the node as an NVLink peer.
//
// Faults (simulated_faults.h) change what a GPU reports while they are active:
//   - ecc: once when it becomes active, the uncorrected (double-bit) counter rises by one and
//     Xid 48 is raised; while active, the corrected (single-bit) counter rises by one per sample.
//     The counters are never lowered (like NVML's volatile counters until the driver reloads);
//   - fell_off_bus: Sample() marks the GPU `lost` with no metrics, Inventory() reports it
//     unhealthy with reason "fell_off_bus", and Xid 79 is raised once when it becomes active;
//   - overheating: the temperature is at least 92 C, the SW and HW thermal slowdown throttle
//     reasons are set and the SM clock drops to 60% of what the load would give.
// Clearing a fault stops these effects; the agent's health checks (gpu_health.h) may still
// latch what the fault caused (ECC errors, Xids) until the agent restarts.
//
// Thread-safety: not thread-safe (Sample keeps each run's previous CPU time and the faults).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_probe.h"
#include "agent/process_usage.h"
#include "agent/simulated_faults.h"
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
  int64_t boost_clock_mhz;  // maximum SM clock, reached under load
  bool nvlink;              // SXM boards whose GPUs are joined by NVLink
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

  // GPUs busy with the synthetic pattern described above, for the load mode (no workloads run).
  static Result<std::unique_ptr<SimulatedProbe>> CreateWithSyntheticLoad(std::string_view spec,
                                                                         std::string_view node_name,
                                                                         const Clock& clock);

  Result<std::vector<api::AgentGpu>> Inventory() override;
  Result<std::vector<GpuSample>> Sample() override;
  std::string_view name() const override { return "simulated"; }

  // Makes GPU `index` show `fault` from the next Sample() on (no effect when already active).
  // kInvalidArgument when there is no such GPU.
  Status InjectFault(int64_t index, SimulatedFault fault);
  // Makes the active faults exactly `faults`; indexes the node does not have are ignored.
  void SetFaults(const SimulatedFaults& faults);
  void ClearFaults() { SetFaults({}); }
  // Reads the faults from `file` before every Sample(), when it changed (simulated_faults.h).
  void WatchFaultFile(std::filesystem::path file);

 private:
  SimulatedProbe(std::vector<api::AgentGpu> gpus, std::vector<const SimulatedModel*> models,
                 std::string_view node_name, const Clock& clock, WorkloadPlacements* placements,
                 std::unique_ptr<ProcessUsageSource> usage);

  // Busy cores and resident bytes per GPU from the placed runs.
  Status MeasurePlacedRuns(Timestamp now, std::vector<double>& cores,
                           std::vector<double>& rss_bytes);
  // Utilisation (0..100) and memory used (MiB) of GPU `i` under the synthetic load.
  std::pair<double, int64_t> SyntheticLoad(size_t i, Timestamp now) const;

  // What the faults did to one GPU.
  struct FaultState {
    std::set<SimulatedFault> active;
    int64_t ecc_sbe_total = 0;
    int64_t ecc_dbe_total = 0;
    std::vector<int64_t> pending_xids;  // raised, not yet reported by Sample()
  };

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
  uint64_t load_seed_ = 0;                        // from the node name
  bool synthetic_load_ = false;
  std::vector<FaultState> faults_;  // parallel to gpus_
  std::string node_name_;
  std::optional<SimulatedFaultFile> fault_file_;
};

}  // namespace hangar::agent
