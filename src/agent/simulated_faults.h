// Simulated GPU faults: the failures a SimulatedProbe can be told to show, so the health checks,
// the server's reaction and dashboards can be exercised without broken hardware.
//
// Faults are set per GPU index, either in code (SimulatedProbe::InjectFault / ClearFaults) or from
// a JSON file the agent re-reads whenever its modification time or size changes
// (`hangar-agent --simulate-faults FILE`):
//
//   {"0": ["ecc"], "3": ["fell_off_bus", "overheating"]}   GPU index -> the faults it has now
//   {"sim-00007/2": ["overheating"]}                       GPU 2 of node sim-00007 only (load mode)
//   {}                                                      no faults
//
// A key "N" applies to GPU N of every node the agent simulates; "NODE/N" only to that node. The
// file states the whole set of active faults: a fault left out of a newer version is cleared.
// What each fault does is described in simulated_probe.h.
//
// Thread-safety: the functions are pure; a SimulatedFaultFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hangar::agent {

enum class SimulatedFault {
  kEcc,          // "ecc": uncorrectable memory errors
  kFellOffBus,   // "fell_off_bus": the GPU stops answering
  kOverheating,  // "overheating": thermal slowdown
};

// The fault's name in the fault file ("ecc", "fell_off_bus", "overheating").
std::string_view SimulatedFaultName(SimulatedFault fault);
std::optional<SimulatedFault> SimulatedFaultFromName(std::string_view name);

// Active faults by GPU index.
using SimulatedFaults = std::map<int64_t, std::set<SimulatedFault>>;

// The faults the fault file's JSON gives node `node_name`. kInvalidArgument for JSON that is not
// an object of GPU keys to arrays of fault names, naming the bad member.
Result<SimulatedFaults> ParseSimulatedFaults(std::string_view json_text,
                                             std::string_view node_name);

// A fault file, read again only when it changed.
class SimulatedFaultFile {
 public:
  explicit SimulatedFaultFile(std::filesystem::path path) : path_(std::move(path)) {}

  // The faults for `node_name` when the file changed since the previous call (the first call
  // reads it if it exists); nullopt when it did not change. A file that was removed clears every
  // fault (an empty map). A file that cannot be read or parsed is logged once per change and
  // leaves the faults as they were (nullopt).
  std::optional<SimulatedFaults> Poll(std::string_view node_name);

  const std::filesystem::path& path() const { return path_; }

 private:
  struct Version {
    std::filesystem::file_time_type mtime;
    uintmax_t size = 0;
    bool operator==(const Version&) const = default;
  };
  std::filesystem::path path_;
  std::optional<Version> seen_;  // of the version last read; nullopt: absent (or never read)
  bool polled_ = false;
};

}  // namespace hangar::agent
