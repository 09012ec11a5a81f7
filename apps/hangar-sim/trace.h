// The Alibaba GPU-cluster trace (`openb_pod_list_*.csv` from alibaba/clusterdata,
// cluster-trace-gpu-v2023), read into one plain struct per pod for hangar-sim. The column meanings
// are documented in /work/shared/traces/README.md and docs/simulator.md.
//
// The reader is strict: the header must name the eleven columns in order, and a row with a wrong
// field count, a non-numeric or out-of-range number, an unknown QoS or phase, or times out of
// order is an error that names its line. A simulator that silently skipped rows would report
// figures for a workload nobody asked for.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hangar::sim {

enum class Qos : uint8_t { kLatencySensitive, kBestEffort, kBurstable, kGuaranteed };
enum class PodPhase : uint8_t { kRunning, kSucceeded, kFailed, kPending };

// The trace's spelling ("LS", "BE", "Burstable", "Guaranteed"; "Running", ...).
std::string_view QosName(Qos qos);
std::string_view PodPhaseName(PodPhase phase);

// One row of the trace. Units are the trace's: milli-cores, MiB, milli-GPUs per GPU, seconds
// since the start of the trace.
struct TracePod {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t num_gpu = 0;    // 0 for CPU-only pods
  int32_t gpu_milli = 0;  // per GPU: 0 when num_gpu is 0, below 1000 only when num_gpu is 1
  std::vector<std::string> gpu_spec;  // allowed GPU models; empty: any
  Qos qos = Qos::kLatencySensitive;
  PodPhase phase = PodPhase::kRunning;
  int64_t creation_time = 0;
  int64_t deletion_time = 0;
  std::optional<int64_t> scheduled_time;  // absent for pods that never ran (Pending)

  // GPU requested in total, in milli-GPUs (num_gpu x gpu_milli): what the packing protocol adds
  // up against cluster capacity.
  int64_t TotalGpuMilli() const { return static_cast<int64_t>(num_gpu) * gpu_milli; }
};

// The fields of one CSV line, split on every `separator`. The formats hangar-sim reads have no
// quoting; a caller that meets a quote rejects the line.
std::vector<std::string_view> SplitFields(std::string_view line, char separator = ',');

// Parses the whole text of a trace file. `source` names it in error messages ("trace.csv:17:
// ..."). A final newline is optional; CRLF line ends are accepted. Errors: kMalformed, naming
// the line number (1-based, the header is line 1).
Result<std::vector<TracePod>> ParseTrace(std::string_view text, std::string_view source = "trace");

// Reads and parses the file at `path`. Errors: kNotFound when it cannot be opened, else as
// ParseTrace.
Result<std::vector<TracePod>> ReadTrace(const std::string& path);

}  // namespace hangar::sim
