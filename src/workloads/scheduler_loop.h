// SchedulerLoop: the control loop that connects the pure scheduling core to the store and the
// agents. On every wake-up (a submit, a run ending, a release) or tick it
//   1. runs the reconciler steps (work on lost nodes, time limits, instance leases, due
//      schedules' runs),
//   2. reads each organisation's nodes, GPUs and unfinished workloads (one snapshot),
//   3. calls scheduling::Schedule,
//   4. applies the decisions in one transaction per organisation: placements (pending ->
//      scheduled, attempt + 1, priced from the catalogue for metering) and preemptions
//      (-> stopping),
//   5. rings the nodes whose assignments changed and publishes why the rest wait (reason,
//      queue position, estimated start) on the QueueBoard. Waiting is not a transition: a job's
//      state_reason keeps saying how it got into the queue (submitted, preempted, node_lost).
//
// A placement is applied only if the workload did not change since the snapshot (optimistic:
// its version); otherwise it is left for the next pass. Capacity is derived from the store on
// every pass, so a crash between passes loses nothing.
//
// Only one loop may run per database (the embedded default runs one; replicas over PostgreSQL
// will elect one with an advisory lock).
//
// Thread-safety: Start/Stop from one thread; Wake from any thread; RunOnce is for tests and
// must not run concurrently with the loop's thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "scheduling/model.h"
#include "store/store.h"
#include "telemetry/hangard_metrics.h"
#include "workloads/gpu_holders.h"
#include "workloads/instance_service.h"
#include "workloads/job_service.h"
#include "workloads/node_signals.h"
#include "workloads/queue_board.h"
#include "workloads/schedule_service.h"

namespace hangar::workloads {

struct SchedulerLoopOptions {
  Micros tick = std::chrono::seconds(1);  // the longest between passes
  scheduling::Options scheduling;         // backfill, preemption, ordering
  // Told after every pass which workload holds each GPU (fleet monitoring); may be null.
  GpuHolders* holders = nullptr;
  // Work on a GPU that turned unhealthy is stopped and requeued (true) or left to run (false).
  bool requeue_on_unhealthy_gpu = true;
  // Pass time and queue lengths for /metrics; may be null.
  telemetry::SchedulerMetrics* metrics = nullptr;
};

struct PassSummary {
  int placed = 0;
  int preempted = 0;
  int waiting = 0;
  int conflicts = 0;  // placements skipped because the workload changed meanwhile
};

class SchedulerLoop {
 public:
  // `instances` may be null (no lease enforcement), and `schedules` too (no recurring jobs),
  // for tests of jobs alone.
  SchedulerLoop(store::Store& store, const Clock& clock, JobService& jobs,
                InstanceService* instances, ScheduleService* schedules, NodeSignals& signals,
                QueueBoard& board, SchedulerLoopOptions options = {});
  ~SchedulerLoop();

  void Start();
  void Stop();
  // Asks for a pass soon (coalesced); never blocks.
  void Wake();

  // One pass over every organisation, including the reconciler steps.
  Result<PassSummary> RunOnce();

 private:
  void Loop();

  store::Store& store_;
  const Clock& clock_;
  JobService& jobs_;
  InstanceService* instances_;
  ScheduleService* schedules_;
  NodeSignals& signals_;
  QueueBoard& board_;
  const SchedulerLoopOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;                // guarded by mutex_
  bool stopping_ = false;             // guarded by mutex_
  std::optional<Timestamp> wake_at_;  // guarded by mutex_: the core's next time of interest
  std::thread thread_;
};

}  // namespace hangar::workloads
