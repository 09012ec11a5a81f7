#include "agent/gpu_probe.h"

#include "agent/nvml_probe.h"
#include "agent/simulated_probe.h"

namespace hangar::agent {

Result<std::unique_ptr<GpuProbe>> NewGpuProbe(const ProbeOptions& options, const Clock& clock) {
  if (!options.simulate.empty()) {
    HANGAR_ASSIGN_OR_RETURN(auto probe, SimulatedProbe::Create(options.simulate, options.node_name,
                                                               clock, options.placements));
    if (!options.simulated_faults_file.empty()) {
      probe->WatchFaultFile(options.simulated_faults_file);
    }
    return std::unique_ptr<GpuProbe>(std::move(probe));
  }
  if (!options.simulated_faults_file.empty()) {
    return std::unexpected(Error::Invalid("simulated faults need simulated GPUs")
                               .Hint("pass --simulate with --simulate-faults"));
  }
  HANGAR_ASSIGN_OR_RETURN(auto probe, NvmlProbe::Create(options.nvml_library, clock));
  return std::unique_ptr<GpuProbe>(std::move(probe));
}

}  // namespace hangar::agent
