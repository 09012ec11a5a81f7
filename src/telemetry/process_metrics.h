// Process metrics: the standard `process_*` families every Prometheus client library exports
// (names and meanings as in client_golang's process collector), read from /proc at each scrape.
//
//   process_cpu_seconds_total       user + system CPU time
//   process_resident_memory_bytes   resident set size
//   process_virtual_memory_bytes    virtual memory size
//   process_start_time_seconds      start time, seconds since the Unix epoch
//   process_open_fds                open file descriptors
//   process_max_fds                 the soft RLIMIT_NOFILE
//
// Linux only: where /proc cannot be read a scrape simply lacks the families it could not read.
//
// Thread-safety: the collector reads only the kernel's files; any thread may scrape.
#pragma once

#include <optional>
#include <string_view>

#include "telemetry/metrics.h"

namespace hangar::telemetry {

// Adds the process collector to `registry`.
void AddProcessCollector(Registry& registry);

// The fields of /proc/self/stat the collector reports, converted to seconds and bytes.
struct ProcStat {
  double cpu_seconds = 0;  // utime + stime
  double start_seconds_after_boot = 0;
  double virtual_memory_bytes = 0;
  double resident_memory_bytes = 0;
};

// Parses one /proc/<pid>/stat line (the command name may hold spaces and parentheses).
// nullopt when the line has too few fields.
std::optional<ProcStat> ParseProcStat(std::string_view line, double ticks_per_second,
                                      double page_size_bytes);

// The `btime` line of /proc/stat: the boot time, seconds since the Unix epoch.
std::optional<double> ParseBootTime(std::string_view proc_stat);

}  // namespace hangar::telemetry
