// ProcessUsage: how much CPU time and resident memory the processes of a process group use.
//
// The simulated GPUs derive their utilisation and memory from this (simulated_probe.h). The
// real source reads /proc: it scans the process directories once per call, keeps the processes
// whose process group (field 5 of /proc/<pid>/stat) is asked for, and sums their CPU time and
// resident set. CPU time counts utime + stime of each live member plus cutime + cstime, the time
// of the children a member has waited for, so a shell that runs many short commands one after
// another is measured as busy too. A member that exits takes its time with it (unless another
// member reaps it): callers that take differences must treat a decrease as no use.
//
// Thread-safety: the /proc source is stateless and may be used from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>

#include "common/error.h"

namespace hangar::agent {

struct ProcessGroupUsage {
  double cpu_seconds = 0;  // since the members started, see above
  int64_t rss_bytes = 0;   // resident memory of the live members
  int processes = 0;       // members found, zombies included
};

class ProcessUsageSource {
 public:
  virtual ~ProcessUsageSource() = default;

  // The usage of each process group in `pgids` that has at least one member; groups without
  // members are absent from the map. kUnavailable when the process table cannot be listed.
  virtual Result<std::map<int, ProcessGroupUsage>> Read(std::span<const int> pgids) = 0;
};

// Reads `proc_root` (/proc; tests point it at a directory of fake <pid>/stat files, read with
// the given clock-tick rate and page size). Processes that end while being read are skipped.
std::unique_ptr<ProcessUsageSource> NewProcUsageSource(std::filesystem::path proc_root = "/proc");
std::unique_ptr<ProcessUsageSource> NewProcUsageSource(std::filesystem::path proc_root,
                                                       int64_t clock_ticks_per_second,
                                                       int64_t page_size_bytes);

}  // namespace hangar::agent
