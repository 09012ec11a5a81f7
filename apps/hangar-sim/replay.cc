// The event-driven replay. See replay.h for the loop and docs/simulator.md for the metrics.
#include "replay.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <tuple>

#include "metrics.h"
#include "scheduling/fragmentation.h"
#include "scheduling/placement.h"
#include "scheduling/scheduler.h"

namespace hangar::sim {
namespace {

using scheduling::Allocation;
using scheduling::Workload;

constexpr Timestamp kStart{};  // virtual time 0
constexpr double kMicrosPerHour = 3.6e9;

// A job's life:
//
//   kFuture --submit--> kPending --placed--> kRunning --completion--> kDone
//                         ^   |                 |  \--preempt, requeue--> kPending
//                         |   +--never fits--> kRejected
//                         |                     +--preempt, checkpoint--> kStopping
//                         +--------------stop (grace over)-------------------/
//
// Invariants: kPending: `slot` indexes Input::pending; kRunning and kStopping: `slot` indexes
// Input::running. A completion or stop event is current only while its epoch equals the job's.
enum class Phase : uint8_t { kFuture, kPending, kRunning, kStopping, kDone, kRejected };

struct JobState {
  Phase phase = Phase::kFuture;
  uint32_t slot = 0;
  uint32_t epoch = 0;
  Micros remaining{0};  // work left for the next run
  Micros run{0};        // length of the current run
  Micros waited{0};
  Timestamp pending_since;
  Timestamp started_at;
  Timestamp finished_at;
  bool killed = false;  // the current run ends at the run-time limit, short of the work left
};

enum class EventKind : uint8_t { kComplete, kStop, kWake };

struct Event {
  int64_t t = 0;  // microseconds of virtual time
  EventKind kind = EventKind::kWake;
  uint32_t job = 0;
  uint32_t epoch = 0;
  bool operator>(const Event& o) const {
    return std::tie(t, kind, job, epoch) > std::tie(o.t, o.kind, o.job, o.epoch);
  }
};

bool NeverFits(scheduling::ReasonCode code) {
  return code == scheduling::ReasonCode::kNoFeasibleNode ||
         code == scheduling::ReasonCode::kInvalidRequest;
}

Distribution Summarise(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return Distribution{Mean(values), Percentile(values, 50), Percentile(values, 95),
                      Percentile(values, 99), Percentile(values, 99.9)};
}

class Simulation {
 public:
  Simulation(const JobSet& set, const scheduling::ClusterSnapshot& cluster,
             const ReplayPolicy& policy, const ReplayOptions& options)
      : set_(set), policy_(policy), options_(options), state_(set.jobs.size()) {
    input_.cluster = cluster;
    input_.options = policy.options;
    for (const scheduling::Node& node : cluster.nodes) {
      for (const scheduling::Gpu& gpu : node.gpus) {
        if (gpu.healthy && !gpu.mig && gpu.free_milli > 0 &&
            gpu.free_milli < scheduling::kWholeGpu) {
          partial_free_ += gpu.free_milli;
        }
      }
    }
    if (policy.fragmentation_aware) {
      std::vector<scheduling::Request> requests;
      requests.reserve(set.jobs.size());
      for (const auto& job : set.jobs) requests.push_back(job.request);
      input_.options.packing_mix = std::make_shared<scheduling::WorkloadMix>(
          scheduling::WorkloadMix::FromRequests(requests));
    }
    capacity_ = scheduling::MeasureCapacity(cluster).total_milli;
    const size_t tenants = std::max<size_t>(set.tenants.size(), 1);
    guarantee_ = capacity_ / static_cast<int64_t>(tenants);
    input_.queues.push_back(scheduling::Queue{.id = "root"});
    for (size_t i = 0; i < tenants; ++i) {
      scheduling::Queue q{.id = i < set.tenants.size() ? set.tenants[i] : "default"};
      if (policy.quotas) {
        q.guaranteed_milli = guarantee_;
        q.limit_milli = std::llround(options.burst_limit_fraction * static_cast<double>(capacity_));
      }
      input_.queues.push_back(std::move(q));
    }
    held_.assign(tenants, 0);
    demand_.assign(tenants, 0);
    over_quota_.assign(tenants, 0);
    for (size_t j = 0; j < set.jobs.size(); ++j) state_[j].remaining = set.jobs[j].duration;
    if (!set.jobs.empty()) {
      window_begin_ = set.jobs.front().submit.count();
      window_end_ = set.jobs.back().submit.count();
    }
  }

  Result<ReplayResult> Run() {
    const auto wall_start = std::chrono::steady_clock::now();
    size_t next = 0;
    const auto& jobs = set_.jobs;
    if (window_end_ <= window_begin_) window_end_ = -1;  // all at once: measure the whole run
    while (next < jobs.size() || !events_.empty()) {
      int64_t t = INT64_MAX;
      if (next < jobs.size()) t = jobs[next].submit.count();
      if (!events_.empty()) t = std::min(t, events_.top().t);
      Advance(t);
      bool capacity_or_time = false;  // anything but arrivals happened at t
      while (!events_.empty() && events_.top().t == t) {
        Event e = events_.top();
        events_.pop();
        capacity_or_time = true;
        Handle(e, t);
      }
      const size_t pending_before = input_.pending.size();
      while (next < jobs.size() && jobs[next].submit.count() == t) Arrive(next++, t);
      ++instants_;
      if (capacity_or_time || input_.pending.size() > pending_before) {
        need_pass_ = need_pass_ || capacity_or_time || !ArrivalsCannotStart(pending_before);
      }
      const int64_t interval = options_.pass_interval.count();
      if (need_pass_ && !input_.pending.empty() && interval > 0 && t % interval != 0) {
        const int64_t tick = (t / interval + 1) * interval;  // batch until the next tick
        if (tick != last_wake_) {
          events_.push(Event{tick, EventKind::kWake, 0, 0});
          last_wake_ = tick;
        }
      } else if (need_pass_ && !input_.pending.empty()) {
        HANGAR_TRY(RunPasses(t));
        need_pass_ = false;
      } else if (input_.pending.empty()) {
        need_pass_ = false;
      } else {
        ++skipped_;
      }
      if (!input_.pending.empty()) {
        UpdateFitFlag();
      } else {
        fit_ = false;
      }
      steps_.push_back(Step{t, static_cast<uint32_t>(input_.pending.size()), allocated_});
    }
    if (window_end_ < 0) window_end_ = last_t_;
    return Finish(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());
  }

 private:
  struct Step {
    int64_t t;
    uint32_t pending;
    int64_t allocated;
  };

  Workload MakeWorkload(uint32_t j) const {
    const Job& job = set_.jobs[j];
    Workload w;
    w.id = job.id;
    w.queue = job.tenant + 1;
    w.priority = job.priority;
    w.submitted_at = kStart + job.submit;
    w.run_time_limit =
        policy_.exact_run_times ? std::optional<Micros>(job.duration) : job.run_time_limit;
    w.request = job.request;
    if (options_.checkpoint_grace) {
      w.preemption = scheduling::PreemptionPolicy::kCheckpoint;
      w.checkpoint_grace = *options_.checkpoint_grace;
    }
    if (job.deadline) w.deadline = w.submitted_at + *job.deadline;
    return w;
  }

  int64_t Milli(uint32_t j) const { return set_.jobs[j].request.TotalGpuMilli(); }
  uint32_t Tenant(uint32_t j) const { return set_.jobs[j].tenant; }

  // Integrates the metrics over [last_t_, t) and decays the fair-share usage.
  void Advance(int64_t t) {
    if (t <= last_t_) {
      last_t_ = std::max(last_t_, t);
      return;
    }
    const Micros elapsed(t - last_t_);
    for (size_t i = 0; i < held_.size(); ++i) {
      auto& usage = input_.queues[i + 1].decayed_usage;
      usage = scheduling::DecayUsage(usage, elapsed, options_.half_life) +
              static_cast<double>(held_[i]) / 1000.0 * static_cast<double>(elapsed.count()) /
                  kMicrosPerHour;
    }
    int64_t a = std::max(last_t_, window_begin_);
    int64_t b = window_end_ < 0 ? t : std::min(t, window_end_);
    if (b > a) Integrate(a, b);
    last_t_ = t;
  }

  // Free shares on partly used GPUs (0 < free < 1000) of the GPUs `slices` touch: what only
  // shared-GPU requests can use. Kept current across Apply and Release for the fragmentation
  // figure without a scan of the cluster per instant.
  int64_t PartialFree(const std::vector<scheduling::Allocation::Slice>& slices) const {
    int64_t sum = 0;
    for (const auto& slice : slices) {
      const scheduling::Node& node = input_.cluster.nodes[slice.node];
      for (uint16_t g : slice.gpus) {
        const scheduling::Gpu& gpu = node.gpus[g];
        if (gpu.healthy && !gpu.mig && gpu.free_milli > 0 &&
            gpu.free_milli < scheduling::kWholeGpu) {
          sum += gpu.free_milli;
        }
      }
    }
    return sum;
  }

  void Integrate(int64_t a, int64_t b) {
    const double dt = static_cast<double>(b - a);
    measured_ += dt;
    allocated_integral_ += static_cast<double>(allocated_) * dt;
    free_integral_ += static_cast<double>(capacity_ - allocated_) * dt;
    partial_free_integral_ += static_cast<double>(partial_free_) * dt;
    if (!input_.pending.empty()) {
      waiting_ += dt;
      idle_waiting_ += static_cast<double>(capacity_ - allocated_) * dt;
      if (fit_) idle_fit_ += static_cast<double>(capacity_ - allocated_) * dt;
    }
    for (size_t i = 0; i < held_.size(); ++i) {
      if (held_[i] > guarantee_) {
        over_quota_[i] += dt;
        borrowed_integral_ += static_cast<double>(held_[i] - guarantee_) * dt;
      }
    }
    // Fairness windows of fairness_window each, from the start of the measurement window.
    const int64_t width = std::max<int64_t>(options_.fairness_window.count(), 1);
    const size_t tenants = held_.size();
    while (a < b) {
      const auto w = static_cast<size_t>((a - window_begin_) / width);
      const int64_t end = std::min(b, window_begin_ + static_cast<int64_t>(w + 1) * width);
      if (received_.size() < (w + 1) * tenants) {
        received_.resize((w + 1) * tenants, 0);
        demanded_.resize((w + 1) * tenants, 0);
        window_capacity_.resize(w + 1, 0);
      }
      const double d = static_cast<double>(end - a);
      window_capacity_[w] += static_cast<double>(capacity_) * d;
      for (size_t i = 0; i < tenants; ++i) {
        received_[w * tenants + i] += static_cast<double>(held_[i]) * d;
        demanded_[w * tenants + i] += static_cast<double>(demand_[i]) * d;
      }
      a = end;
    }
  }

  void Arrive(uint32_t j, int64_t t) {
    JobState& s = state_[j];
    s.phase = Phase::kPending;
    s.pending_since = kStart + Micros(t);
    s.slot = static_cast<uint32_t>(input_.pending.size());
    input_.pending.push_back(MakeWorkload(j));
    pending_job_.push_back(j);
    demand_[Tenant(j)] += Milli(j);
  }

  void Handle(const Event& e, int64_t t) {
    if (e.kind == EventKind::kWake) return;  // its only job is the pass that follows
    JobState& s = state_[e.job];
    if (s.epoch != e.epoch || (s.phase != Phase::kRunning && s.phase != Phase::kStopping)) return;
    const uint32_t slot = s.slot;
    Allocation& a = input_.running[slot];
    Stop(e.job, a);
    if (e.kind == EventKind::kComplete) {
      s.phase = Phase::kDone;
      s.finished_at = kStart + Micros(t);
      if (s.killed) ++killed_;
      demand_[Tenant(e.job)] -= Milli(e.job);
    } else {  // a checkpointing victim stops: what it ran is kept
      s.remaining -= Micros(t) - s.started_at.time_since_epoch();
      Requeue(e.job, std::move(a.workload), t);
    }
    RemoveRunning({slot});
  }

  // Gives back the capacity a running job holds.
  void Stop(uint32_t j, const Allocation& a) {
    partial_free_ -= PartialFree(a.slices);
    scheduling::Release(input_.cluster, a.slices, a.workload.request);
    partial_free_ += PartialFree(a.slices);
    allocated_ -= Milli(j);
    held_[Tenant(j)] -= Milli(j);
    ++state_[j].epoch;  // any completion or stop event still queued is stale now
  }

  void Requeue(uint32_t j, Workload w, int64_t t) {
    JobState& s = state_[j];
    s.phase = Phase::kPending;
    s.pending_since = kStart + Micros(t);
    s.slot = static_cast<uint32_t>(input_.pending.size());
    input_.pending.push_back(std::move(w));
    pending_job_.push_back(j);
  }

  Result<void> RunPasses(int64_t t) {
    for (int pass = 0; pass < options_.max_passes_per_instant; ++pass) {
      input_.now = kStart + Micros(t);
      const auto start = std::chrono::steady_clock::now();
      scheduling::Decisions d = scheduling::Schedule(input_);
      schedule_seconds_ +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++passes_;
      if (d.wake_at && *d.wake_at > input_.now) {
        const int64_t wake = (*d.wake_at - kStart).count();
        if (wake != last_wake_) {
          events_.push(Event{wake, EventKind::kWake, 0, 0});
          last_wake_ = wake;
        }
      }
      HANGAR_ASSIGN_OR_RETURN(bool freed, Apply(d, t));
      if (!freed || input_.pending.empty()) break;
    }
    return {};
  }

  // Applies one pass's decisions; true when a requeue freed capacity at `t`.
  Result<bool> Apply(scheduling::Decisions& d, int64_t t) {
    auto fail = [t](std::string_view why) {
      return std::unexpected(Error::Internal(
          fmt::format("at virtual time {:.6f} s: inconsistent decision: {}", t / 1e6, why)));
    };
    const size_t pending = input_.pending.size();
    const size_t running = input_.running.size();
    std::vector<char> taken(pending, 0);
    std::vector<uint32_t> remove_pending;
    std::vector<Allocation> started;
    std::vector<uint32_t> started_jobs;
    for (scheduling::Placement& p : d.placements) {
      if (p.workload >= pending || taken[p.workload]) return fail("placement index");
      taken[p.workload] = 1;
      const uint32_t j = pending_job_[p.workload];
      Allocation a;
      a.workload = std::move(input_.pending[p.workload]);
      a.slices = std::move(p.slices);
      a.started_at = kStart + Micros(t);
      a.borrowed = p.borrowed;
      partial_free_ -= PartialFree(a.slices);
      scheduling::Apply(input_.cluster, a.slices, a.workload.request);
      partial_free_ += PartialFree(a.slices);
      JobState& s = state_[j];
      s.waited += Micros(t) - s.pending_since.time_since_epoch();
      s.started_at = a.started_at;
      s.phase = Phase::kRunning;
      s.run = s.remaining;
      s.killed = false;
      if (a.workload.run_time_limit && *a.workload.run_time_limit < s.run) {
        s.run = *a.workload.run_time_limit;
        s.killed = true;
      }
      events_.push(Event{t + s.run.count(), EventKind::kComplete, j, s.epoch});
      allocated_ += Milli(j);
      held_[Tenant(j)] += Milli(j);
      remove_pending.push_back(p.workload);
      started.push_back(std::move(a));
      started_jobs.push_back(j);
    }
    for (const auto& [index, reason] : d.waiting) {
      if (index >= pending) return fail("waiting index");
      if (!NeverFits(reason.code) || taken[index]) continue;
      taken[index] = 1;
      const uint32_t j = pending_job_[index];
      state_[j].phase = Phase::kRejected;
      demand_[Tenant(j)] -= Milli(j);
      ++rejected_;
      remove_pending.push_back(index);
    }
    RemovePending(std::move(remove_pending));

    bool freed = false;
    std::vector<char> victim(running, 0);
    std::vector<uint32_t> remove_running;
    for (const scheduling::Preemption& pr : d.preemptions) {
      if (pr.running >= running) return fail("preemption index");
      Allocation& a = input_.running[pr.running];
      if (victim[pr.running] || a.terminating) continue;
      victim[pr.running] = 1;
      const uint32_t j = running_job_[pr.running];
      JobState& s = state_[j];
      ++preemptions_;
      const Micros ran = Micros(t) - s.started_at.time_since_epoch();
      if (pr.policy == scheduling::PreemptionPolicy::kCheckpoint && pr.grace.count() > 0) {
        a.terminating = true;
        const int64_t stop_at = t + pr.grace.count();
        if (t + (s.run - ran).count() <= stop_at) continue;  // it completes before the grace ends
        ++s.epoch;
        s.phase = Phase::kStopping;
        events_.push(Event{stop_at, EventKind::kStop, j, s.epoch});
        continue;
      }
      Stop(j, a);
      if (pr.policy == scheduling::PreemptionPolicy::kCheckpoint) {
        s.remaining -= ran;  // checkpointed at once (no grace): the work so far is kept
      } else {
        lost_milli_micros_ += static_cast<double>(Milli(j)) * static_cast<double>(ran.count());
      }
      Requeue(j, std::move(a.workload), t);
      remove_running.push_back(pr.running);
      freed = true;
    }
    RemoveRunning(std::move(remove_running));
    for (size_t k = 0; k < started.size(); ++k) {
      state_[started_jobs[k]].slot = static_cast<uint32_t>(input_.running.size());
      input_.running.push_back(std::move(started[k]));
      running_job_.push_back(started_jobs[k]);
    }
    return freed;
  }

  // Swap-removes slots, highest first, so each moved element comes from past every slot still
  // to remove; the moved job's slot follows it.
  template <typename T>
  void RemoveSlots(std::vector<T>& items, std::vector<uint32_t>& jobs,
                   std::vector<uint32_t> slots) {
    std::sort(slots.begin(), slots.end(), std::greater<>());
    for (uint32_t i : slots) {
      const size_t last = items.size() - 1;
      if (i != last) {
        items[i] = std::move(items[last]);
        jobs[i] = jobs[last];
        state_[jobs[i]].slot = i;
      }
      items.pop_back();
      jobs.pop_back();
    }
  }
  void RemovePending(std::vector<uint32_t> slots) {
    RemoveSlots(input_.pending, pending_job_, std::move(slots));
  }
  void RemoveRunning(std::vector<uint32_t> slots) {
    RemoveSlots(input_.running, running_job_, std::move(slots));
  }

  // Whether a pass after an instant with only arrivals (pending[pending_before..]) provably cannot
  // change anything, so it is skipped. Only without preemption: then a pass can only start work,
  // work already pending did not start at the last pass and capacity has not grown since, so only
  // the new arrivals could start; under strict FIFO (Backfill::kNone) they queue behind the
  // waiting work, and otherwise they need their GPUs free (CPU, memory and quotas can only make
  // that harder).
  bool ArrivalsCannotStart(size_t pending_before) {
    if (policy_.options.preemption || !options_.skip_passes) return false;
    if (policy_.options.ordering == scheduling::Ordering::kFifo &&
        policy_.options.backfill == scheduling::Backfill::kNone && pending_before > 0) {
      return true;
    }
    FreeGpus free = MeasureFreeGpus();
    for (size_t i = pending_before; i < input_.pending.size(); ++i) {
      if (free.Fits(input_.pending[i].request)) return false;
    }
    return true;
  }

  // Free GPUs in the shape the fit checks need: the largest free share of one GPU, and for each
  // g the number of nodes with at least g idle GPUs.
  struct FreeGpus {
    int32_t best_share = 0;
    std::vector<int64_t> nodes_with{0, 0};
    bool Fits(const scheduling::Request& r) const {
      if (r.gpus_per_node <= 0) return true;
      if (r.gpus_per_node == 1 && r.SliceMilli() < scheduling::kWholeGpu && r.nodes == 1) {
        return best_share >= r.SliceMilli();
      }
      return static_cast<size_t>(r.gpus_per_node) < nodes_with.size() &&
             nodes_with[static_cast<size_t>(r.gpus_per_node)] >= r.nodes;
    }
  };

  FreeGpus MeasureFreeGpus() const {
    FreeGpus free;
    if (allocated_ >= capacity_) return free;
    for (const scheduling::Node& node : input_.cluster.nodes) {
      if (!node.schedulable) continue;
      size_t idle = 0;
      for (const scheduling::Gpu& gpu : node.gpus) {
        if (!gpu.healthy || gpu.mig) continue;
        free.best_share = std::max(free.best_share, gpu.free_milli);
        if (gpu.free_milli == scheduling::kWholeGpu) ++idle;
      }
      if (free.nodes_with.size() <= idle) free.nodes_with.resize(idle + 1, 0);
      ++free.nodes_with[idle];
    }
    for (size_t g = free.nodes_with.size() - 1; g > 0; --g) {
      free.nodes_with[g - 1] += free.nodes_with[g];
    }
    return free;
  }

  // Whether some waiting job could start on the free capacity now: its GPUs, GPU types, CPU and
  // memory fit (scheduling::Place), whatever the policy's order, quotas and reservations say. A
  // cheap GPU-count check rules most jobs out first, and at most kMaxFitChecks distinct request
  // shapes are placed per instant.
  void UpdateFitFlag() {
    fit_ = false;
    if (allocated_ >= capacity_) return;
    FreeGpus free = MeasureFreeGpus();
    constexpr size_t kMaxFitChecks = 16;
    std::vector<const scheduling::Request*> checked;
    auto same = [](const scheduling::Request& a, const scheduling::Request& b) {
      return a.gpus_per_node == b.gpus_per_node && a.gpu_milli == b.gpu_milli &&
             a.nodes == b.nodes && a.cpu_milli == b.cpu_milli && a.memory_mib == b.memory_mib &&
             a.gpu_types == b.gpu_types;
    };
    for (const Workload& w : input_.pending) {
      if (w.request.gpus_per_node == 0 || !free.Fits(w.request)) continue;
      if (std::any_of(checked.begin(), checked.end(),
                      [&](const scheduling::Request* r) { return same(*r, w.request); })) {
        continue;
      }
      if (scheduling::Place(input_.cluster, w.request)) {
        fit_ = true;
        return;
      }
      checked.push_back(&w.request);
      if (checked.size() >= kMaxFitChecks) return;
    }
  }

  ReplayResult Finish(double wall_seconds) {
    ReplayResult r;
    r.policy = policy_.name;
    r.jobs = static_cast<int64_t>(set_.jobs.size());
    std::vector<double> jct;
    std::vector<double> wait;
    int64_t last_finish = 0;
    for (size_t j = 0; j < set_.jobs.size(); ++j) {
      const Job& job = set_.jobs[j];
      const JobState& s = state_[j];
      if (job.deadline) ++r.deadline_jobs;
      if (s.phase != Phase::kDone) {
        if (s.phase == Phase::kPending) ++r.never_started;
        if (job.deadline) ++r.deadline_missed;
        continue;
      }
      ++r.completed;
      const Micros end = s.finished_at.time_since_epoch();
      last_finish = std::max<int64_t>(last_finish, end.count());
      jct.push_back(static_cast<double>((end - job.submit).count()) / 1e6);
      wait.push_back(static_cast<double>(s.waited.count()) / 1e6);
      if (job.deadline && end > job.submit + *job.deadline) ++r.deadline_missed;
    }
    r.rejected = rejected_;
    r.killed_at_limit = killed_;
    r.jct = Summarise(std::move(jct));
    r.wait = Summarise(std::move(wait));
    if (!set_.jobs.empty()) {
      r.makespan_s = static_cast<double>(last_finish - set_.jobs.front().submit.count()) / 1e6;
    }
    const double cap = static_cast<double>(capacity_);
    if (measured_ > 0 && cap > 0) {
      r.gpu_allocation = allocated_integral_ / (cap * measured_);
      r.waiting_fraction = waiting_ / measured_;
      double over = 0;
      for (double o : over_quota_) over += o;
      r.tenant_time_over_quota = over / (measured_ * static_cast<double>(over_quota_.size()));
    }
    if (waiting_ > 0 && cap > 0) {
      r.idle_while_waiting = idle_waiting_ / (cap * waiting_);
      r.idle_while_fit = idle_fit_ / (cap * waiting_);
    }
    if (free_integral_ > 0) r.fragmented_free = partial_free_integral_ / free_integral_;
    if (allocated_integral_ > 0) r.borrowed_gpu_time = borrowed_integral_ / allocated_integral_;
    r.jain = Fairness();
    r.preemptions = preemptions_;
    r.lost_gpu_hours = lost_milli_micros_ / 1000.0 / kMicrosPerHour;
    r.instants = instants_;
    r.passes = passes_;
    r.skipped_passes = skipped_;
    r.schedule_seconds = schedule_seconds_;
    r.wall_seconds = wall_seconds;
    r.series = Series();
    return r;
  }

  // Jain's index over tenants with demand of x_i = received_i / entitled_i, both summed over the
  // fairness windows; entitled = max-min water-filling of the window's capacity over demands.
  double Fairness() const {
    const size_t tenants = held_.size();
    std::vector<double> received(tenants, 0);
    std::vector<double> entitled(tenants, 0);
    for (size_t w = 0; w < window_capacity_.size(); ++w) {
      std::span<const double> demands(&demanded_[w * tenants], tenants);
      std::vector<double> share = WaterFill(demands, window_capacity_[w]);
      for (size_t i = 0; i < tenants; ++i) {
        received[i] += received_[w * tenants + i];
        entitled[i] += share[i];
      }
    }
    std::vector<double> x;
    for (size_t i = 0; i < tenants; ++i) {
      if (entitled[i] > 0) x.push_back(received[i] / entitled[i]);
    }
    return JainIndex(x);
  }

  // The step function of (pending, allocation) averaged over chart_points equal buckets.
  std::vector<SeriesPoint> Series() const {
    int64_t end = options_.chart_end ? options_.chart_end->count() : 0;
    if (end <= 0) {
      const int64_t last_submit = set_.jobs.empty() ? 0 : set_.jobs.back().submit.count();
      end = last_submit > 0 ? 2 * last_submit : last_t_;
    }
    const size_t n = std::max<size_t>(options_.chart_points, 1);
    std::vector<SeriesPoint> points(n);
    if (end <= 0) return points;
    const double width = static_cast<double>(end) / static_cast<double>(n);
    std::vector<double> pending(n, 0);
    std::vector<double> allocated(n, 0);
    for (size_t k = 0; k < steps_.size(); ++k) {
      double a = static_cast<double>(steps_[k].t);
      double b =
          k + 1 < steps_.size() ? static_cast<double>(steps_[k + 1].t) : static_cast<double>(end);
      b = std::min(b, static_cast<double>(end));
      while (a < b) {
        const auto bucket = std::min(static_cast<size_t>(a / width), n - 1);
        const double bucket_end = std::min(b, width * static_cast<double>(bucket + 1));
        const double d = std::max(bucket_end - a, 0.0);
        pending[bucket] += steps_[k].pending * d;
        allocated[bucket] += static_cast<double>(steps_[k].allocated) * d;
        if (bucket_end <= a) break;
        a = bucket_end;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      points[i].t_s = width * static_cast<double>(i + 1) / 1e6;
      points[i].pending = pending[i] / width;
      points[i].allocation =
          capacity_ > 0 ? allocated[i] / width / static_cast<double>(capacity_) : 0;
    }
    return points;
  }

  const JobSet& set_;
  const ReplayPolicy& policy_;
  const ReplayOptions& options_;
  std::vector<JobState> state_;
  scheduling::Input input_;
  std::vector<uint32_t> pending_job_;  // Input::pending slot -> job
  std::vector<uint32_t> running_job_;  // Input::running slot -> job
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  int64_t last_wake_ = -1;

  int64_t capacity_ = 0;
  int64_t guarantee_ = 0;  // each tenant's nominal share, for the quota metrics
  int64_t allocated_ = 0;
  std::vector<int64_t> held_;    // per tenant: GPU share running (or stopping)
  std::vector<int64_t> demand_;  // per tenant: held + pending requests
  bool fit_ = false;
  int64_t partial_free_ = 0;  // see PartialFree
  double free_integral_ = 0;
  double partial_free_integral_ = 0;

  int64_t last_t_ = 0;
  int64_t window_begin_ = 0;
  int64_t window_end_ = 0;  // -1: until the end of the run
  double measured_ = 0;
  double allocated_integral_ = 0;
  double waiting_ = 0;
  double idle_waiting_ = 0;
  double idle_fit_ = 0;
  double borrowed_integral_ = 0;
  std::vector<double> over_quota_;
  std::vector<double> received_;  // [window x tenant]
  std::vector<double> demanded_;
  std::vector<double> window_capacity_;
  std::vector<Step> steps_;

  int64_t rejected_ = 0;
  int64_t killed_ = 0;
  int64_t preemptions_ = 0;
  double lost_milli_micros_ = 0;
  int64_t instants_ = 0;
  int64_t passes_ = 0;
  int64_t skipped_ = 0;
  bool need_pass_ = false;  // something happened that a pass has not yet seen
  double schedule_seconds_ = 0;
};

std::string Json(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{}", v);
}

}  // namespace

Result<ReplayPolicy> ParseReplayPolicy(std::string_view full_name) {
  using scheduling::Backfill;
  using scheduling::Ordering;
  // A base policy, then optional "+modifier"s for ablations: "hangar+no-preemption".
  std::string_view name = full_name.substr(0, full_name.find('+'));
  ReplayPolicy p;
  p.name = std::string(full_name);
  if (name == "fifo") {
    p.options.ordering = Ordering::kFifo;
    p.options.backfill = Backfill::kNone;
    p.options.preemption = false;
  } else if (name == "fifo-easy") {
    p.options.ordering = Ordering::kFifo;
    p.options.backfill = Backfill::kEasy;
    p.options.preemption = false;
  } else if (name == "sjf") {
    p.options.ordering = Ordering::kShortestFirst;
    p.options.backfill = Backfill::kGreedy;
    p.options.preemption = false;
    p.exact_run_times = true;
  } else if (name == "hangar") {
    p.quotas = true;
  } else {
    return std::unexpected(Error::Invalid(
        fmt::format("unknown policy \"{}\": expected fifo, fifo-easy, sjf or hangar", name)));
  }
  for (size_t at = full_name.find('+'); at != std::string_view::npos;) {
    size_t next = full_name.find('+', at + 1);
    std::string_view modifier = full_name.substr(
        at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
    if (modifier == "no-preemption") {
      p.options.preemption = false;
    } else if (modifier == "no-quotas") {
      p.quotas = false;
    } else if (modifier == "fgd") {
      p.fragmentation_aware = true;
    } else if (modifier == "greedy") {
      p.options.backfill = Backfill::kGreedy;
    } else if (modifier == "fifo-order") {
      p.options.ordering = Ordering::kFifo;
    } else if (modifier.starts_with("reservations=") && modifier.size() > 13 &&
               modifier.substr(13).find_first_not_of("0123456789") == std::string_view::npos) {
      p.options.reservations = std::stoi(std::string(modifier.substr(13)));
    } else {
      return std::unexpected(Error::Invalid(fmt::format(
          "unknown policy modifier \"{}\" in \"{}\": expected no-preemption, no-quotas, fgd, "
          "greedy, fifo-order or reservations=N",
          modifier, full_name)));
    }
    at = next;
  }
  return p;
}

Result<ReplayResult> Replay(const JobSet& set, const scheduling::ClusterSnapshot& cluster,
                            const ReplayPolicy& policy, const ReplayOptions& options) {
  Simulation sim(set, cluster, policy, options);
  return sim.Run();
}

std::string FormatReplayTables(const std::vector<ReplayResult>& results) {
  std::string out;
  out +=
      "| policy | jobs | done | rejected | never started | JCT mean s | JCT p50 | JCT p95 | JCT "
      "p99 | wait mean s | wait p50 | wait p95 | wait p99 | wait p99.9 | makespan h |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ReplayResult& r : results) {
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.1f} | {:.1f} | {:.1f} | "
        "{:.1f} | {:.1f} | {:.2f} |\n",
        r.policy, r.jobs, r.completed, r.rejected, r.never_started, r.jct.mean, r.jct.p50,
        r.jct.p95, r.jct.p99, r.wait.mean, r.wait.p50, r.wait.p95, r.wait.p99, r.wait.p999,
        r.makespan_s / 3600);
  }
  out +=
      "\n| policy | GPU alloc | time waiting | idle while waiting | idle while one fits | "
      "fragmented free | Jain | tenant-time over quota | borrowed GPU-time | deadlines missed | "
      "preemptions | lost GPU-h | killed at limit | passes | Schedule s | wall s |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ReplayResult& r : results) {
    out += fmt::format(
        "| {} | {:.2f} % | {:.1f} % | {:.2f} % | {:.2f} % | {:.2f} % | {:.3f} | {:.1f} % | "
        "{:.1f} % | {}/{} | {} | {:.1f} | {} | {} | {:.2f} | {:.2f} |\n",
        r.policy, r.gpu_allocation * 100, r.waiting_fraction * 100, r.idle_while_waiting * 100,
        r.idle_while_fit * 100, r.fragmented_free * 100, r.jain, r.tenant_time_over_quota * 100,
        r.borrowed_gpu_time * 100, r.deadline_missed, r.deadline_jobs, r.preemptions,
        r.lost_gpu_hours, r.killed_at_limit, r.passes, r.schedule_seconds, r.wall_seconds);
  }
  return out;
}

std::string FormatReplayJson(const std::vector<ReplayResult>& results, std::string_view context) {
  std::string out = fmt::format("{{\"context\": {}, \"policies\": [", context);
  for (size_t i = 0; i < results.size(); ++i) {
    const ReplayResult& r = results[i];
    auto dist = [](const Distribution& d) {
      return fmt::format(R"({{"mean": {}, "p50": {}, "p95": {}, "p99": {}, "p999": {}}})",
                         Json(d.mean), Json(d.p50), Json(d.p95), Json(d.p99), Json(d.p999));
    };
    out += fmt::format(
        R"({}{{"policy": "{}", "jobs": {}, "completed": {}, "rejected": {}, "never_started": {}, )"
        R"("killed_at_limit": {}, "gpu_allocation": {}, "waiting_fraction": {}, )"
        R"("idle_while_waiting": {}, "idle_while_fit": {}, "fragmented_free": {}, )"
        R"("tenant_time_over_quota": {}, )"
        R"("borrowed_gpu_time": {}, "jain": {}, "jct_s": {}, "wait_s": {}, "makespan_s": {}, )"
        R"("deadline_jobs": {}, "deadline_missed": {}, "preemptions": {}, "lost_gpu_hours": {}, )"
        R"("instants": {}, "passes": {}, "skipped_passes": {}, "schedule_seconds": {}, )"
        R"("wall_seconds": {}}})",
        i == 0 ? "" : ", ", r.policy, r.jobs, r.completed, r.rejected, r.never_started,
        r.killed_at_limit, Json(r.gpu_allocation), Json(r.waiting_fraction),
        Json(r.idle_while_waiting), Json(r.idle_while_fit), Json(r.fragmented_free),
        Json(r.tenant_time_over_quota), Json(r.borrowed_gpu_time), Json(r.jain), dist(r.jct),
        dist(r.wait), Json(r.makespan_s), r.deadline_jobs, r.deadline_missed, r.preemptions,
        Json(r.lost_gpu_hours), r.instants, r.passes, r.skipped_passes, Json(r.schedule_seconds),
        Json(r.wall_seconds));
  }
  out += "]}\n";
  return out;
}

}  // namespace hangar::sim
