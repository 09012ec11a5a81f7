// The work hangar-sim replays in virtual time (replay.h): a list of jobs, each with a submit
// time, an actual run time, a request, a tenant and the hints a scheduler sees (priority,
// run-time limit, deadline). Three sources produce it:
//   - the Alibaba openb trace (FromTrace), tenants derived from `qos` and a hash of the pod name;
//   - hangar-sim's own CSV format (ParseJobsCsv, documented in docs/simulator.md);
//   - the synthetic generator (workload_gen.h).
// and three transformations prepare it for a run: ScaleToLoad (compress or stretch arrivals to an
// offered load), ApplyRunTimeLimitRule (which jobs declare a limit), ApplyDeadlineRule.
//
// Times are microseconds from the start of the workload (virtual time), like the core's Micros.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "scheduling/model.h"
#include "trace.h"

namespace hangar::sim {

struct Job {
  std::string id;
  Micros submit{0};    // since the start of the workload
  Micros duration{0};  // what it actually runs for, if never stopped (> 0)
  scheduling::Request request;
  uint32_t tenant = 0;  // index into JobSet::tenants
  int32_t priority = 0;
  std::optional<Micros> run_time_limit;  // declared to the scheduler; a run stops at it
  std::optional<Micros> deadline;        // relative to submit: should have finished by then
};

struct JobSet {
  std::vector<Job> jobs;             // sorted by submit time, then id
  std::vector<std::string> tenants;  // index -> name
  // Input rows that are not jobs, by cause (FromTrace): pods that never ran (no scheduled_time),
  // pods with a zero run time, and CPU-only pods (the replay is about GPUs).
  int64_t dropped_never_ran = 0;
  int64_t dropped_zero_duration = 0;
  int64_t dropped_cpu_only = 0;
  int64_t capped_durations = 0;  // run times cut to the --max-duration cap
};

// 32-bit FNV-1a of `text`: the stable hash behind tenants and the limit and deadline rules.
uint32_t Fnv1a(std::string_view text);

// Number of hash buckets per QoS class in FromTrace's tenant rule.
inline constexpr uint32_t kTenantBucketsPerQos = 4;

// Jobs from trace pods. A pod becomes a job when it ran (scheduled_time present), for
// deletion_time - scheduled_time seconds (> 0), and asks for a GPU; the others are counted in
// JobSet::dropped_*. Submit time: creation_time minus the earliest creation_time kept. Request:
// one node, num_gpu GPUs of gpu_milli (1000 when num_gpu > 1), the pod's CPU and memory, its
// gpu_spec models as allowed types. Tenant: "<qos>-<b>" with b = Fnv1a(name) % 4, sixteen tenants
// in QoS order (LS, BE, Burstable, Guaranteed), present even when empty. Priority 0, no limit, no
// deadline. `max_duration` > 0 caps run times (counted in capped_durations). Errors:
// kInvalidArgument when gpu_spec names a model the cluster lacks.
Result<JobSet> FromTrace(std::span<const TracePod> pods, const scheduling::ClusterSnapshot& cluster,
                         Micros max_duration = Micros{0});

// hangar-sim's job CSV (docs/simulator.md, "Job CSV"): the header
//   id,submit_s,duration_s,gpus,gpu_milli,nodes,tenant,priority,limit_s,deadline_s
// then one job per line. Lines starting with '#' are comments. limit_s and deadline_s may be
// empty (unknown limit, no deadline); deadline_s is absolute (seconds since the start, like
// submit_s), at or after submit_s; one before submit_s + duration_s is accepted and simply missed.
// Tenants are numbered in order of first appearance. Errors: kMalformed naming the source, the
// line (1-based, header = 1) and the field, for a wrong header, field count, a number that is not
// an integer or is out of range, a share of several GPUs, an empty or duplicate id.
Result<JobSet> ParseJobsCsv(std::string_view text, std::string_view source = "jobs");
Result<JobSet> ReadJobsCsv(const std::string& path);

// Offered load: GPU-time requested (sum of total GPU share x duration) per unit of time between
// the first and the last submit, divided by `capacity_milli`. nullopt with fewer than two
// distinct submit times.
std::optional<double> OfferedLoad(const JobSet& set, int64_t capacity_milli);

// Multiplies every inter-arrival time by one factor so that OfferedLoad == `load`, keeping the
// first submit time; returns the factor (below 1: arrivals compressed). Errors: kInvalidArgument
// when load <= 0 or the set has fewer than two distinct submit times.
Result<double> ScaleToLoad(JobSet& set, int64_t capacity_milli, double load);

// The run-time limit rule: a job with no limit declares one when Fnv1a(id + "#limit") % 1000 <
// known_permille, the actual duration rounded up to the next whole hour; the others stay unknown.
// Limits already set (the CSV's) are kept.
void ApplyRunTimeLimitRule(JobSet& set, int known_permille);

// Every job declares its exact duration as its limit (the oracle that shortest-job-first "with
// known run times" assumes).
void MakeRunTimesExact(JobSet& set);

// The deadline rule: a job with no deadline gets one when Fnv1a(id + "#deadline") % 1000 <
// permille, at submit + 2 x duration + 30 minutes.
void ApplyDeadlineRule(JobSet& set, int permille);

// Sorts jobs by submit time, then id (the order the replay consumes them in).
void SortBySubmit(JobSet& set);

}  // namespace hangar::sim
