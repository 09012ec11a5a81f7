// WorkloadPlacements: the seam through which the simulated GPUs learn what runs on them.
//
// A simulated GPU has no hardware counters: its utilisation and memory come from the processes
// the agent placed on it (simulated_probe.h measures them with process_usage.h). The Executor
// implements this interface from the runs it supervises; tests implement it with a fixed list.
//
// Thread-safety: implementations must allow Placements() from any thread at any time (the GPU
// probe calls it from the agent loop while the workload runner starts and stops runs).
#pragma once

#include <string>
#include <vector>

namespace hangar::agent {

// One run on this node that holds GPUs.
struct GpuPlacement {
  std::string run_id;
  // The run's process group: its leader's pid. Every process the run starts stays in it unless
  // it moves itself to another group (setsid/setpgid), which the measurement then misses.
  int pgid = 0;
  std::vector<int> gpu_indexes;  // device indexes, as in CUDA_VISIBLE_DEVICES
};

class WorkloadPlacements {
 public:
  virtual ~WorkloadPlacements() = default;

  // The runs that are running or stopping and hold at least one GPU. Must not block for long.
  virtual std::vector<GpuPlacement> Placements() = 0;
};

}  // namespace hangar::agent
