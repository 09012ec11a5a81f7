// RunLifecycle: the run mechanics jobs and instances share — moving a stored workload between
// states with its event, stopping a placed run, putting it back in the queue, ending it — and
// metering: the GPU time and cost a workload accrues while it holds GPUs.
//
// Each kind draws its own machine (job_service.h, instance_service.h); both go through
// TransitionWorkload, so every change of state commits with its `hangar.<kind>.<state>` event
// and every release of GPUs closes the workload's metering segment.
//
// Thread-safety: plain functions over the caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/error.h"
#include "store/store.h"
#include "store/workload_repos.h"

namespace hangar::workloads {

// Moves `record` to `state` (setting reason, message and updated_at), writes it, and appends the
// `hangar.<kind>.<state>` event whose data is the workload as GET shows it. Leaving the states
// that hold GPUs accrues the segment's cost first (see Accrue).
Status TransitionWorkload(store::Tx& tx, store::WorkloadRecord& record, store::WorkloadState state,
                          std::string reason, std::string message, Timestamp now,
                          const std::string& actor);

// Asks the node's agent to stop the run (desired=stop) and moves to stopping.
Status RequestStop(store::Tx& tx, store::WorkloadRecord& record, std::string reason,
                   std::string message, Timestamp now, const std::string& actor);

// Releases the placement and queues the workload again (the next run may land elsewhere).
Status BackToQueue(store::Tx& tx, store::WorkloadRecord& record, std::string reason,
                   std::string message, Timestamp now, const std::string& actor);

// Ends the workload in `state` (finished_at = now).
Status FinishRun(store::Tx& tx, store::WorkloadRecord& record, store::WorkloadState state,
                 std::string reason, std::string message, Timestamp now, const std::string& actor);

// How one run ended, as the agent reported it.
struct RunEnd {
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  bool lost = false;  // the agent could not tell (restarted, and the process was gone)
  std::string message;
};
// "exited with code 3", "killed by signal 9".
std::string DescribeExit(const std::optional<int64_t>& code, const std::optional<int64_t>& sig);

// Adds the GPU time and cost from the segment's start (billed_until) to `now` to the record's
// totals and moves billed_until to `now`. A no-op unless the workload holds GPUs.
void Accrue(store::WorkloadRecord& record, Timestamp now);

// Totals as of `now`, counting the open segment, without changing the record.
struct Metered {
  int64_t cost_micros = 0;
  int64_t gpu_milli_seconds = 0;
};
Metered MeteredAt(const store::WorkloadRecord& record, Timestamp now);

// "<workload id>-a<attempt>" and back.
std::string RunIdOf(const store::WorkloadRecord& record);
std::optional<std::pair<std::string, int64_t>> ParseRunId(std::string_view run_id);

}  // namespace hangar::workloads
