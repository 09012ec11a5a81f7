// The time-based replay: jobs (workload.h) arrive at their submit times on a simulated cluster,
// scheduling::Schedule decides in virtual time, jobs run for their actual durations, and the
// run is measured (queueing delay, JCT, allocation, fairness, preemptions, idle GPUs while work
// waits). docs/simulator.md defines every metric for users.
//
// The loop, one virtual instant at a time:
//
//   next instant t = min(next submit, next event in the heap)
//     |  Advance(t): integrate the metrics and decay each queue's usage over [last, t)
//     v
//   handle everything at t:  arrival   -> pending
//                            completion-> capacity released, job done
//                            stop      -> a checkpointing victim's capacity released, requeued
//                            wake      -> nothing (Decisions::wake_at asked for a pass)
//     |  if anything is pending: Schedule(Input) and apply its decisions; repeat (at most
//     v  ReplayOptions::max_passes_per_instant) while a requeue freed capacity at t
//   record the series point
//
// One scheduling::Input lives for the whole run and is mutated in place: pending and running
// lists, the cluster's free capacity (scheduling::Apply / Release), the queues' decayed usage,
// and `now`. Jobs without a usable decision never block the loop: one the core says can never
// fit (kNoFeasibleNode, kInvalidRequest) is rejected; work still pending when no event is left is
// reported as never started.
//
// Thread-safety: Replay is a pure function of its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "scheduling/model.h"
#include "workload.h"

namespace hangar::sim {

// A scheduling policy to compare: the core's options, and what the policy is told.
struct ReplayPolicy {
  std::string name;
  scheduling::Options options;
  bool exact_run_times = false;  // every job declares its exact duration (the SJF oracle)
  bool quotas = false;           // the scheduler sees guarantees and burst limits
  // Placement minimises fragmentation against the mix of the job set's request shapes (the
  // shapes a site would learn from its own history) instead of plain best fit.
  bool fragmentation_aware = false;
};

// "fifo": kFifo, no backfill, no preemption. "fifo-easy": kFifo, EASY backfill, no preemption.
// "sjf": kShortestFirst, greedy backfill, no preemption, exact run times. "hangar": the core's
// defaults (kFairShare, EASY, preemption) with the quota tree. Modifiers after '+' change one
// part, for ablations: no-preemption, no-quotas, fgd (fragmentation-aware placement), greedy,
// fifo-order, reservations=N ("hangar+no-preemption+fgd").
// Errors: kInvalidArgument.
Result<ReplayPolicy> ParseReplayPolicy(std::string_view name);

struct ReplayOptions {
  Micros half_life = std::chrono::hours(24 * 7);   // of the fair-share usage
  Micros fairness_window = std::chrono::hours(1);  // Jain's index entitlement window
  // Each tenant's burst limit as a fraction of cluster capacity (policies with quotas).
  double burst_limit_fraction = 1.0;
  // Set: jobs are preempted by checkpoint with this grace; unset: requeued (restart from 0).
  std::optional<Micros> checkpoint_grace;
  int max_passes_per_instant = 4;
  // Skip a pass after an instant with only arrivals when it provably cannot start or stop
  // anything (no preemption, and no new arrival's GPUs are free; see replay.cc). Exact: the
  // results are the same with and without.
  bool skip_passes = true;
  // Above 0: passes run only at multiples of this (virtual time), like a scheduler's cycle
  // (Slurm's sched_interval, Volcano's schedule period); events in between wait for the next
  // tick. 0: a pass after every instant that needs one (exact event-driven).
  Micros pass_interval{0};
  size_t chart_points = 400;
  // The chart's time range [0, chart_end]; unset: twice the last submit time (or the end of the
  // run when everything is submitted at once).
  std::optional<Micros> chart_end;
};

// Seconds.
struct Distribution {
  double mean = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  double p999 = 0;
};

// One chart bucket: time-weighted means over [t_s - width, t_s).
struct SeriesPoint {
  double t_s = 0;
  double pending = 0;     // jobs waiting
  double allocation = 0;  // allocated GPU share / capacity
};

struct ReplayResult {
  std::string policy;
  int64_t jobs = 0;
  int64_t completed = 0;
  int64_t rejected = 0;         // the core said it could never fit
  int64_t never_started = 0;    // still pending when nothing was left to happen
  int64_t killed_at_limit = 0;  // ran into its run-time limit before its duration
  // Time-weighted over the measurement window (first to last submit; the whole run when all
  // jobs arrive at once).
  double gpu_allocation = 0;          // allocated / capacity
  double waiting_fraction = 0;        // of the window, with at least one job waiting
  double idle_while_waiting = 0;      // mean idle share of capacity over the times a job waits
  double idle_while_fit = 0;          // ... and a waiting job could start on the free capacity
  double fragmented_free = 0;         // free capacity on partly used GPUs / all free capacity
  double tenant_time_over_quota = 0;  // mean over tenants of the window share above guarantee
  double borrowed_gpu_time = 0;       // GPU-time held above the holder's guarantee / all GPU-time
  double jain = 1;        // over tenants: GPU-time received / max-min entitled (per window, summed)
  Distribution jct;       // completed jobs: finish - submit
  Distribution wait;      // completed jobs: total time pending (every wait, requeues included)
  double makespan_s = 0;  // last finish - first submit
  int64_t deadline_jobs = 0;
  int64_t deadline_missed = 0;  // finished after the deadline, or never finished
  int64_t preemptions = 0;
  double lost_gpu_hours = 0;    // work thrown away by requeue preemptions
  int64_t instants = 0;         // distinct virtual times handled
  int64_t passes = 0;           // Schedule calls
  int64_t skipped_passes = 0;   // instants with pending work where no pass could change anything
  double schedule_seconds = 0;  // wall time inside Schedule
  double wall_seconds = 0;      // wall time of the whole replay
  std::vector<SeriesPoint> series;
};

// Replays `set` on `cluster` (idle at the start) under `policy`. Errors: kInternal when the
// core returns an inconsistent decision (an index out of range, a workload placed twice), naming
// the virtual time.
Result<ReplayResult> Replay(const JobSet& set, const scheduling::ClusterSnapshot& cluster,
                            const ReplayPolicy& policy, const ReplayOptions& options);

// The results as Markdown tables (one row per policy).
std::string FormatReplayTables(const std::vector<ReplayResult>& results);

// The results as a JSON document: {"context": <context, verbatim JSON object>, "policies": [...]}
// with every ReplayResult field except the series.
std::string FormatReplayJson(const std::vector<ReplayResult>& results, std::string_view context);

}  // namespace hangar::sim
