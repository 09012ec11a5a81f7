// One scheduling pass. See scheduler.h.
#include "scheduling/scheduler.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>

#include "scheduling/fragmentation.h"
#include "scheduling/placement.h"
#include "scheduling/quota_tree.h"

namespace hangar::scheduling {
namespace {

constexpr Timestamp kForever = Timestamp::max();

std::string Time(Timestamp t) { return FormatRfc3339(t); }

// Requests with the same shape fit or fail alike; within a pass capacity only shrinks and
// reservations only add, so a shape that failed once fails again and is not searched for twice.
// Required affinity is the exception (a placement can make it satisfiable), so it is not
// memoised. Shapes are compared field by field; the hash only picks the bucket.
struct Shape {
  const Request* request;
  size_t reservations;  // how many reservations constrain it (they depend on its end)
};

bool SameShape(const Shape& x, const Shape& y) {
  const Request& a = *x.request;
  const Request& b = *y.request;
  return x.reservations == y.reservations && a.gpus_per_node == b.gpus_per_node &&
         a.gpu_milli == b.gpu_milli && a.nodes == b.nodes && a.mig_slices == b.mig_slices &&
         a.min_gpu_memory_mib == b.min_gpu_memory_mib && a.min_cuda_version == b.min_cuda_version &&
         a.cpu_milli == b.cpu_milli && a.memory_mib == b.memory_mib && a.group == b.group &&
         a.topology_key == b.topology_key && a.gpu_types == b.gpu_types &&
         a.required_labels == b.required_labels && a.anti_affinity == b.anti_affinity;
}

uint64_t HashShape(const Shape& shape) {
  const Request& r = *shape.request;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields that decide the fit
  auto mix = [&h](int64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ static_cast<uint8_t>(v)) * 1099511628211ull;
  };
  for (int64_t v :
       {int64_t{r.gpus_per_node}, int64_t{r.gpu_milli}, int64_t{r.nodes}, int64_t{r.mig_slices},
        int64_t{r.min_gpu_memory_mib}, int64_t{r.min_cuda_version}, r.cpu_milli, r.memory_mib,
        static_cast<int64_t>(shape.reservations)}) {
    mix(v);
  }
  for (uint16_t t : r.gpu_types) mix(t);
  for (const Label& l : r.required_labels) mix((int64_t{l.key} << 32) | l.value);
  return h;
}

struct ShapeHash {
  size_t operator()(const Shape& s) const { return HashShape(s); }
};
struct ShapeEqual {
  bool operator()(const Shape& a, const Shape& b) const { return SameShape(a, b); }
};

// Whether `slices` fit exactly where they are on `cluster` (for the state at a reservation).
bool FitsInPlace(const ClusterSnapshot& cluster, const Slices& slices, const Request& r) {
  return std::all_of(slices.begin(), slices.end(), [&](const Allocation::Slice& s) {
    return SliceFitsInPlace(cluster.nodes[s.node], s, r);
  });
}

// One pass over the pending work, with its working state.
class Pass {
 public:
  explicit Pass(const Input& input);
  Decisions Run();

 private:
  // Capacity expected to free at `end`: running work, and work started in this pass.
  struct Ending {
    Timestamp end;
    const Slices* slices;
    const Request* request;
  };
  // A reservation: `future` is the cluster as expected at `start`, with the reservation taken.
  struct Held {
    uint32_t workload;
    Timestamp start;
    Slices slices;
    std::vector<bool> on_node;
    Placer future;
  };
  struct Started {
    Slices slices;
    Request request;
    Timestamp end;
  };

  void ComputeOrder();
  std::optional<Reason> Gate(const Workload& w);
  std::optional<Reason> DependencyGate(const Workload& w);
  std::optional<Reason> BudgetGate(uint32_t queue);
  std::optional<Reason> QuotaGate(uint32_t index, bool& borrows);
  // Where `w` can start now without delaying a reservation, or why not.
  std::expected<Slices, Reason> PlaceNow(uint32_t index, std::optional<uint64_t>& memo_key);
  void Start(uint32_t index, Slices slices, bool borrows, Timestamp end);
  void Reserve(uint32_t index);
  bool TryPreemption(uint32_t index, bool borrows);
  void ReclaimOverage();
  std::string Hint(const Request& r);
  uint32_t QueueOf(const Workload& w) const { return w.queue < tree_.size() ? w.queue : 0u; }
  void WakeAt(Timestamp t) {
    if (t > in_.now && (!out_.wake_at || t < *out_.wake_at)) out_.wake_at = t;
  }

  const Input& in_;
  const Options& opt_;
  std::vector<Queue> tree_;
  std::vector<std::vector<uint32_t>> paths_;
  std::vector<int64_t> usage_;
  std::vector<bool> budget_blocked_;
  std::vector<uint32_t> order_;
  Placer placer_;
  Decisions out_;
  std::vector<Held> held_;
  std::vector<Started> started_;
  std::vector<bool> victim_;   // per running allocation: chosen for preemption in this pass
  std::vector<bool> claimed_;  // per running allocation: terminating capacity already promised
  int preemptors_ = 0;
  std::optional<uint32_t> head_blocked_;  // Backfill::kNone: the first capacity-blocked work
  // What the pass loop needs of each pending workload, gathered in one sequential sweep: the
  // loop visits workloads in priority order, all over memory, and at 100,000 workloads reading
  // each one's request there costs more in cache misses than the decisions themselves.
  struct Brief {
    uint32_t queue = 0;
    uint32_t shape = 0;  // kUnshaped: not memoised
    int64_t milli = 0;   // GPU shares it would charge
    Timestamp end;       // when it would end if started now (kForever: no limit)
    bool gated = false;  // needs Gate: invalid, held, a start time, or dependencies
  };
  static constexpr uint32_t kUnshaped = UINT32_MAX;
  std::vector<Brief> brief_;
  std::vector<bool> queue_budget_blocked_;  // the queue or an ancestor is past its budget
  // Failed shapes by (shape id << 8 | reservations binding it).
  std::unordered_map<uint64_t, Reason> failed_shapes_;
  // Dependencies: every id the pass knows, and its state.
  enum class Known : uint8_t { kUnknown, kPending, kRunning, kSucceeded, kFailed, kCancelled };
  std::unordered_map<std::string_view, Known> known_;
};

Pass::Pass(const Input& input)
    : in_(input),
      opt_(input.options),
      tree_(input.queues.empty() ? std::vector<Queue>{Queue{.id = "root"}} : input.queues),
      placer_(input.options.packing_mix ? Placer(input.cluster, *input.options.packing_mix)
                                        : Placer(input.cluster)),
      victim_(input.running.size(), false),
      claimed_(input.running.size(), false) {
  paths_.resize(tree_.size());
  for (uint32_t q = 0; q < tree_.size(); ++q) paths_[q] = PathToRoot(tree_, q);

  // What running work holds, per queue and up the tree.
  usage_.assign(tree_.size(), 0);
  for (const Allocation& a : in_.running) {
    for (uint32_t q : paths_[QueueOf(a.workload)]) usage_[q] += a.workload.request.TotalGpuMilli();
  }

  // Budgets: used up and past the grace period blocks new work below the queue.
  budget_blocked_.assign(tree_.size(), false);
  for (uint32_t q = 0; q < tree_.size(); ++q) {
    const Queue& queue = tree_[q];
    if (!queue.budget_gpu_hours || queue.used_gpu_hours < *queue.budget_gpu_hours) continue;
    if (!queue.over_budget_since) {
      out_.budgets_exhausted.push_back(q);  // the grace period starts now
      WakeAt(in_.now + opt_.budget_grace);
    } else if (in_.now - *queue.over_budget_since >= opt_.budget_grace) {
      budget_blocked_[q] = true;
    } else {
      WakeAt(*queue.over_budget_since + opt_.budget_grace);
    }
  }

  queue_budget_blocked_.assign(tree_.size(), false);
  for (uint32_t q = 0; q < tree_.size(); ++q) {
    for (uint32_t a : paths_[q])
      queue_budget_blocked_[q] = queue_budget_blocked_[q] || budget_blocked_[a];
  }

  // Dependencies: the state of each workload some pending work depends on.
  for (const Workload& w : in_.pending) {
    for (const Dependency& d : w.dependencies) known_.emplace(d.on, Known::kUnknown);
  }
  if (!known_.empty()) {
    auto note = [&](std::string_view id, Known state) {
      if (auto it = known_.find(id); it != known_.end()) it->second = state;
    };
    for (const Finished& f : in_.finished) {
      note(f.id, f.outcome == Finished::Outcome::kSucceeded ? Known::kSucceeded
                 : f.outcome == Finished::Outcome::kFailed  ? Known::kFailed
                                                            : Known::kCancelled);
    }
    for (const Allocation& a : in_.running) note(a.workload.id, Known::kRunning);
    for (const Workload& w : in_.pending) note(w.id, Known::kPending);
  }
}

// Priority, then deadline urgency, then fair share, then age, then id (kFairShare); or the
// baselines' simpler orders. Sort keys are computed once: comparing workloads directly would
// chase pointers 100,000 x log times.
void Pass::ComputeOrder() {
  struct Key {
    int64_t a, b, c, d;
    uint32_t index;
  };
  std::vector<uint32_t> fair = FairTreePositions(tree_, paths_);
  std::vector<Key> keys(in_.pending.size());
  brief_.resize(in_.pending.size());
  std::unordered_map<Shape, uint32_t, ShapeHash, ShapeEqual> shape_ids;
  for (uint32_t i = 0; i < in_.pending.size(); ++i) {
    const Workload& w = in_.pending[i];
    Brief& b = brief_[i];
    b.queue = QueueOf(w);
    b.milli = w.request.TotalGpuMilli();
    b.end = w.run_time_limit ? in_.now + *w.run_time_limit : kForever;
    b.gated = w.held || w.not_before || !w.dependencies.empty() || CheckRequest(w.request);
    b.shape = w.request.affinity.empty()
                  ? shape_ids.try_emplace(Shape{&w.request, 0}, shape_ids.size()).first->second
                  : kUnshaped;
    int64_t submitted = ToUnixMicros(w.submitted_at);
    Key& k = keys[i];
    k.index = i;
    switch (opt_.ordering) {
      case Ordering::kFifo:
        k = {submitted, 0, 0, 0, i};
        break;
      case Ordering::kShortestFirst:
        k = {w.run_time_limit ? w.run_time_limit->count() : INT64_MAX, submitted, 0, 0, i};
        break;
      case Ordering::kFairShare: {
        // Urgent deadlines (latest start within the boost window) go first, earliest first.
        int64_t urgency = INT64_MAX;
        if (w.deadline) {
          Timestamp latest_start = *w.deadline - w.run_time_limit.value_or(Micros{0});
          if (latest_start - in_.now <= opt_.deadline_boost) urgency = ToUnixMicros(*w.deadline);
        }
        k = {-int64_t{w.priority}, urgency, fair[QueueOf(w)], submitted, i};
        break;
      }
    }
  }
  std::sort(keys.begin(), keys.end(), [&](const Key& x, const Key& y) {
    if (x.a != y.a) return x.a < y.a;
    if (x.b != y.b) return x.b < y.b;
    if (x.c != y.c) return x.c < y.c;
    if (x.d != y.d) return x.d < y.d;
    return in_.pending[x.index].id < in_.pending[y.index].id;
  });
  order_.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) order_[i] = keys[i].index;
}

std::optional<Reason> Pass::DependencyGate(const Workload& w) {
  for (const Dependency& dep : w.dependencies) {
    auto it = known_.find(dep.on);
    if (it == known_.end() || it->second == Known::kUnknown) {
      return Reason{ReasonCode::kDependencyNeverSatisfied,
                    "depends on " + dep.on + ", which is not known"};
    }
    Known state = it->second;
    if (state == Known::kPending || state == Known::kRunning) {
      return Reason{ReasonCode::kDependencyPending,
                    "waiting for " + dep.on + " to finish (" +
                        (state == Known::kPending ? "pending" : "running") + ")"};
    }
    bool ok = state == Known::kSucceeded;
    bool satisfied = dep.condition == Dependency::Condition::kAfterAny ||
                     (dep.condition == Dependency::Condition::kAfterOk && ok) ||
                     (dep.condition == Dependency::Condition::kAfterFailure && !ok);
    if (!satisfied) {
      return Reason{
          ReasonCode::kDependencyNeverSatisfied,
          "depends on " + dep.on +
              (ok ? " failing, but it succeeded" : " succeeding, but it failed or was cancelled")};
    }
  }
  return std::nullopt;
}

// Holds, start times, dependencies and budgets: what keeps work out before capacity matters.
std::optional<Reason> Pass::Gate(const Workload& w) {
  if (auto invalid = CheckRequest(w.request)) return invalid;
  if (w.held) return Reason{ReasonCode::kHeld, "held; release it to let it start"};
  if (w.not_before && *w.not_before > in_.now) {
    WakeAt(*w.not_before);
    return Reason{ReasonCode::kStartTimeInFuture, "starts no earlier than " + Time(*w.not_before)};
  }
  if (!w.dependencies.empty()) {
    if (auto why = DependencyGate(w)) return why;
  }
  return std::nullopt;
}

std::optional<Reason> Pass::BudgetGate(uint32_t queue) {
  if (!queue_budget_blocked_[queue]) return std::nullopt;
  for (uint32_t q : paths_[queue]) {
    if (budget_blocked_[q]) {
      const Queue& queue = tree_[q];
      return Reason{ReasonCode::kBudgetExhausted,
                    "queue " + queue.id + " used its GPU-hour budget (" +
                        std::to_string(static_cast<int64_t>(queue.used_gpu_hours)) + " of " +
                        std::to_string(static_cast<int64_t>(*queue.budget_gpu_hours)) + ")"};
    }
  }
  return std::nullopt;
}

// Burst limits up the tree; whether it would borrow beyond a guarantee.
std::optional<Reason> Pass::QuotaGate(uint32_t index, bool& borrows) {
  const int64_t milli = brief_[index].milli;
  borrows = false;
  uint32_t lender = 0;  // the first queue whose guarantee this would exceed
  for (uint32_t a : paths_[brief_[index].queue]) {
    const Queue& q = tree_[a];
    if (q.limit_milli && usage_[a] + milli > *q.limit_milli) {
      return Reason{ReasonCode::kQuotaExceeded,
                    "queue " + q.id + " is at its limit: " + FormatGpus(usage_[a]) + " of " +
                        FormatGpus(*q.limit_milli) + " GPUs in use, this needs " +
                        FormatGpus(milli)};
    }
    // Queues with a guarantee lend and borrow; the root's capacity is the cluster's.
    if (a != 0 && q.guaranteed_milli > 0 && usage_[a] + milli > q.guaranteed_milli && !borrows) {
      borrows = true;
      lender = a;
    }
  }
  if (borrows && !opt_.allow_borrowing) {
    const Queue& q = tree_[lender];
    return Reason{ReasonCode::kQuotaExceeded, "queue " + q.id + " would exceed its guaranteed " +
                                                  FormatGpus(q.guaranteed_milli) +
                                                  " GPUs and borrowing is off"};
  }
  return std::nullopt;
}

std::expected<Slices, Reason> Pass::PlaceNow(uint32_t index, std::optional<uint64_t>& memo_key) {
  const Brief& brief = brief_[index];
  // The reservations this work would still be running at.
  std::vector<const Held*> binding;
  for (const Held& h : held_) {
    if (h.start < brief.end) binding.push_back(&h);
  }
  if (brief.shape != kUnshaped) memo_key = uint64_t{brief.shape} << 8 | binding.size();
  if (memo_key) {
    if (auto it = failed_shapes_.find(*memo_key); it != failed_shapes_.end()) {
      return std::unexpected(it->second);
    }
  }
  const Workload& w = in_.pending[index];
  auto placed = placer_.Place(w.request);
  if (!placed || binding.empty()) return placed;
  auto compatible = [&](const Slices& slices) {
    return std::all_of(binding.begin(), binding.end(), [&](const Held* h) {
      return FitsInPlace(h->future.cluster(), slices, w.request);
    });
  };
  if (compatible(*placed)) return placed;
  // Away from the reserved nodes nothing can delay a reservation: there the capacity at its
  // start is what is free now plus what frees before it.
  std::vector<bool> allowed(in_.cluster.nodes.size(), true);
  for (const Held* h : binding) {
    for (size_t n = 0; n < allowed.size(); ++n) allowed[n] = allowed[n] && !h->on_node[n];
  }
  auto elsewhere = placer_.PlaceWithin(w.request, allowed);
  if (elsewhere) return elsewhere;
  const Held& first = *binding.front();
  return std::unexpected(Reason{
      ReasonCode::kReservedForOther,
      "fits now, but would delay " + in_.pending[first.workload].id + ", reserved to start by " +
          Time(first.start) +
          (w.run_time_limit ? ""
                            : "; a run-time limit would let it start ahead if it ends by then")});
}

void Pass::Start(uint32_t index, Slices slices, bool borrows, Timestamp end) {
  const Workload& w = in_.pending[index];
  placer_.Apply(slices, w.request);
  for (Held& h : held_) {
    if (h.start < end) h.future.Apply(slices, w.request);  // still running at its start
  }
  for (uint32_t q : paths_[QueueOf(w)]) usage_[q] += w.request.TotalGpuMilli();
  if (end != kForever) started_.push_back(Started{slices, w.request, end});
  out_.placements.push_back(Placement{index, std::move(slices), borrows, !held_.empty()});
}

// EASY backfill's reservation: the earliest time at which running work (by its run-time limits)
// will have freed enough for this workload, on the cluster as it is after this pass's placements
// and earlier reservations. Found by releasing work in order of its end and binary-searching the
// shortest prefix after which the workload fits; Release and Apply are exact inverses, so the
// search moves back and forth on one copy.
void Pass::Reserve(uint32_t index) {
  const Workload& w = in_.pending[index];
  if (w.request.mig_slices > 0) return;  // MIG bitmaps cannot go below empty; no reservations
  std::vector<Ending> timeline;
  for (const Allocation& a : in_.running) {
    if (a.terminating) {
      timeline.push_back(Ending{in_.now, &a.slices, &a.workload.request});
    } else if (auto end = a.ExpectedEnd()) {
      timeline.push_back(Ending{std::max(*end, in_.now), &a.slices, &a.workload.request});
    }
  }
  for (const Started& s : started_) timeline.push_back(Ending{s.end, &s.slices, &s.request});
  for (const Held& h : held_) {  // earlier reservations run from their start for their limit
    const Workload& reserved = in_.pending[h.workload];
    if (reserved.run_time_limit) {
      timeline.push_back(Ending{h.start + *reserved.run_time_limit, &h.slices, &reserved.request});
    }
  }
  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const Ending& a, const Ending& b) { return a.end < b.end; });

  Placer at = placer_;
  for (const Held& h : held_) at.Apply(h.slices, in_.pending[h.workload].request);
  size_t released = 0;
  auto move_to = [&](size_t prefix) {
    for (; released < prefix; ++released)
      at.Release(*timeline[released].slices, *timeline[released].request);
    for (; released > prefix; --released) {
      at.Apply(*timeline[released - 1].slices, *timeline[released - 1].request);
    }
  };
  move_to(timeline.size());
  if (!at.Place(w.request)) return;     // waits on work without a run-time limit: no reservation
  size_t lo = 0, hi = timeline.size();  // fits after releasing hi; not after lo (it blocked)
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    move_to(mid);
    (at.Place(w.request) ? hi : lo) = mid;
  }
  // Everything that ends at the same time as the last one needed is free then too.
  while (hi < timeline.size() && timeline[hi].end == timeline[hi - 1].end) ++hi;
  move_to(hi);
  auto slices = at.Place(w.request);
  if (!slices) return;
  Held held{index, hi == 0 ? in_.now : timeline[hi - 1].end, *slices,
            std::vector<bool>(in_.cluster.nodes.size(), false), std::move(at)};
  for (const auto& s : *slices) held.on_node[s.node] = true;
  held.future.Apply(*slices, w.request);
  out_.reservations.push_back(Reservation{index, held.start, *slices});
  held_.push_back(std::move(held));
}

// Preemption for a workload blocked on capacity: first, capacity already being freed by work
// that is terminating; then the cheapest set of victims, chosen node by node like
// kube-scheduler (release candidates cheapest first until it fits, then give back every victim
// it can do without, most expensive first). A victim is running work that may be preempted and
// either has a lower priority, or borrowed capacity while this workload is within its queue's
// guarantee (quota reclaim).
bool Pass::TryPreemption(uint32_t index, bool borrows) {
  const Workload& w = in_.pending[index];
  const auto& running = in_.running;

  // 1. Terminating work not yet promised to other blocked work (work preempted in this pass
  // for overage is promised to no one either).
  std::vector<uint32_t> terminating;
  for (uint32_t r = 0; r < running.size(); ++r) {
    if ((running[r].terminating || victim_[r]) && !claimed_[r]) terminating.push_back(r);
  }
  if (!terminating.empty()) {
    for (uint32_t r : terminating) placer_.Release(running[r].slices, running[r].workload.request);
    auto fits = placer_.Place(w.request);
    if (fits) placer_.Apply(*fits, w.request);  // held for it, as below
    for (uint32_t r : terminating) placer_.Apply(running[r].slices, running[r].workload.request);
    if (fits) {
      std::vector<bool> on_node(in_.cluster.nodes.size(), false);
      for (const auto& s : *fits) on_node[s.node] = true;
      for (uint32_t r : terminating) {
        for (const auto& s : running[r].slices) claimed_[r] = claimed_[r] || on_node[s.node];
      }
      out_.waiting.emplace_back(
          index, Reason{ReasonCode::kPreempting, "starts when preempted work has stopped"});
      return true;
    }
  }

  // 2. Candidates, cheapest first: lower priority, borrowed, least work lost.
  struct Candidate {
    uint32_t running;
    int32_t priority;
    bool borrowed;
    double lost;  // GPU-seconds of work lost (none when it checkpoints)
    bool by_priority;
  };
  std::vector<Candidate> candidates;
  for (uint32_t r = 0; r < running.size(); ++r) {
    const Allocation& a = running[r];
    if (victim_[r] || a.terminating || a.workload.preemption == PreemptionPolicy::kNever) continue;
    bool by_priority = a.workload.priority < w.priority;
    bool by_reclaim = !borrows && a.borrowed && a.workload.queue != w.queue;
    if (!by_priority && !by_reclaim) continue;
    double lost = a.workload.preemption == PreemptionPolicy::kCheckpoint
                      ? 0.0
                      : static_cast<double>(a.workload.request.TotalGpuMilli()) / kWholeGpu *
                            std::chrono::duration<double>(in_.now - a.started_at).count();
    candidates.push_back(
        Candidate{r, a.workload.priority, a.borrowed, std::max(lost, 0.0), by_priority});
  }
  if (candidates.empty()) return false;
  auto cheaper = [](const Candidate& x, const Candidate& y) {
    if (x.priority != y.priority) return x.priority < y.priority;
    if (x.borrowed != y.borrowed) return x.borrowed;
    if (x.lost != y.lost) return x.lost < y.lost;
    return x.running < y.running;
  };
  std::sort(candidates.begin(), candidates.end(), cheaper);

  struct Cost {
    int32_t max_priority = INT32_MIN;
    int not_borrowed = 0;
    double lost = 0;
    size_t count = 0;
    auto operator<=>(const Cost&) const = default;
  };
  auto cost_of = [&](const std::vector<Candidate>& set) {
    Cost c;
    for (const Candidate& v : set) {
      c.max_priority = std::max(c.max_priority, v.priority);
      c.not_borrowed += !v.borrowed;
      c.lost += v.lost;
    }
    c.count = set.size();
    return c;
  };
  auto release = [&](const Candidate& v) {
    placer_.Release(running[v.running].slices, running[v.running].workload.request);
  };
  auto apply = [&](const Candidate& v) {
    placer_.Apply(running[v.running].slices, running[v.running].workload.request);
  };
  // Releases candidates in order until `fits`, then gives back those it can do without. Leaves
  // the placer as it found it; returns the victims, or nothing when even all would not do.
  auto minimal_set = [&](const std::vector<Candidate>& in_order,
                         auto fits) -> std::optional<std::vector<Candidate>> {
    std::vector<Candidate> chosen;
    bool enough = false;
    for (const Candidate& v : in_order) {
      release(v);
      chosen.push_back(v);
      if ((enough = fits())) break;
    }
    if (!enough) {
      for (const Candidate& v : chosen) apply(v);
      return std::nullopt;
    }
    std::vector<Candidate> kept;
    for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {
      apply(*it);
      if (fits()) continue;  // reprieved: it keeps running
      release(*it);
      kept.push_back(*it);
    }
    for (const Candidate& v : kept) apply(v);
    std::reverse(kept.begin(), kept.end());
    return kept;
  };

  std::optional<std::vector<Candidate>> best;
  if (w.request.nodes == 1) {
    // Node by node: victims there (a victim gang frees its other nodes too, which is harmless).
    std::vector<std::vector<Candidate>> by_node(in_.cluster.nodes.size());
    for (const Candidate& v : candidates) {
      for (const auto& s : running[v.running].slices) {
        auto& here = by_node[s.node];
        if (here.empty() || here.back().running != v.running) here.push_back(v);
      }
    }
    // Whether the node could hold the request with every candidate there gone: counted in
    // GPUs, shares, CPU and memory, without touching the placer (most nodes fail this).
    const Request& r = w.request;
    auto could_free_enough = [&](uint32_t n) {
      const Node& node = placer_.cluster().nodes[n];
      int64_t cpu = node.cpu_milli_free, memory = node.memory_mib_free;
      std::vector<int32_t> free(node.gpus.size());
      for (size_t g = 0; g < node.gpus.size(); ++g) free[g] = node.gpus[g].free_milli;
      for (const Candidate& v : by_node[n]) {
        const Allocation& a = running[v.running];
        for (const auto& slice : a.slices) {
          if (slice.node != n) continue;
          cpu += a.workload.request.cpu_milli;
          memory += a.workload.request.memory_mib;
          for (uint16_t g : slice.gpus) free[g] += slice.gpu_milli;
        }
      }
      if (cpu < r.cpu_milli || memory < r.memory_mib) return false;
      int32_t whole = 0, best_share = 0;
      for (int32_t f : free) {
        whole += f >= kWholeGpu;
        best_share = std::max(best_share, f);
      }
      return r.gpus_per_node == 0 ||
             (r.SliceMilli() < kWholeGpu ? best_share >= r.SliceMilli() : whole >= r.gpus_per_node);
    };
    std::vector<bool> only(in_.cluster.nodes.size(), false);
    for (uint32_t n = 0; n < by_node.size(); ++n) {
      if (by_node[n].empty() || !could_free_enough(n) ||
          !NodeCouldEverFit(placer_.cluster(), placer_.cluster().nodes[n], w.request)) {
        continue;
      }
      only[n] = true;
      auto set =
          minimal_set(by_node[n], [&] { return placer_.PlaceWithin(w.request, only).has_value(); });
      only[n] = false;
      if (set && (!best || cost_of(*set) < cost_of(*best))) best = std::move(set);
    }
  } else {
    best = minimal_set(candidates, [&] { return placer_.Place(w.request).has_value(); });
  }
  if (!best) return false;

  // Hold what it will use, so that nothing else this pass takes the free part of it: with the
  // victims released its placement is taken, then the victims (still running until they stop)
  // are put back. Capacity both use goes below zero, which no request fits.
  for (const Candidate& v : *best) release(v);
  if (auto slices = placer_.Place(w.request)) placer_.Apply(*slices, w.request);
  for (const Candidate& v : *best) apply(v);

  for (const Candidate& v : *best) {
    const Allocation& a = running[v.running];
    victim_[v.running] = true;
    claimed_[v.running] = true;
    bool checkpoint = a.workload.preemption == PreemptionPolicy::kCheckpoint;
    out_.preemptions.push_back(Preemption{
        v.running, index, checkpoint ? PreemptionPolicy::kCheckpoint : PreemptionPolicy::kRequeue,
        checkpoint ? a.workload.checkpoint_grace : Micros{0},
        v.by_priority
            ? Reason{ReasonCode::kPreempting, "preempted by " + w.id + " of higher priority (" +
                                                  std::to_string(w.priority) + " > " +
                                                  std::to_string(a.workload.priority) + ")"}
            : Reason{ReasonCode::kPreempting, "borrowed capacity reclaimed for " + w.id +
                                                  ", within its queue's guarantee"}});
  }
  out_.waiting.emplace_back(
      index, Reason{ReasonCode::kPreempting, "preempting " + std::to_string(best->size()) +
                                                 " workload(s); starts when they have stopped"});
  return true;
}

// Overage: a queue with an overage grace whose running work (less what is already
// terminating) holds more than its limit. The first pass that sees it reports it
// (overage_started); once the grace has passed since then, its preemptible running work is
// preempted, lowest priority first, then youngest, just until it is within its limit again.
// Deeper queues go first, so that reclaim in a project also counts for its team. A queue back
// within its limit is reported (overage_ended). Costs one scan of the queues when none has a
// grace.
void Pass::ReclaimOverage() {
  bool any = std::any_of(tree_.begin(), tree_.end(), [](const Queue& q) {
    return q.overage_grace.has_value() || q.over_limit_since.has_value();
  });
  if (!any) return;
  const auto& running = in_.running;
  std::vector<int64_t> held(tree_.size(), 0);  // by work not already terminating
  for (const Allocation& a : running) {
    if (a.terminating) continue;
    for (uint32_t q : paths_[QueueOf(a.workload)]) held[q] += a.workload.request.TotalGpuMilli();
  }
  std::vector<uint32_t> due;
  for (uint32_t q = 0; q < tree_.size(); ++q) {
    const Queue& queue = tree_[q];
    bool over = queue.overage_grace && queue.limit_milli && held[q] > *queue.limit_milli;
    if (!over) {
      if (queue.over_limit_since) out_.overage_ended.push_back(q);
      continue;
    }
    if (!queue.over_limit_since) out_.overage_started.push_back(q);
    Timestamp grace_end = queue.over_limit_since.value_or(in_.now) + *queue.overage_grace;
    if (in_.now < grace_end) {
      WakeAt(grace_end);
    } else {
      due.push_back(q);
    }
  }
  std::stable_sort(due.begin(), due.end(),
                   [&](uint32_t a, uint32_t b) { return paths_[a].size() > paths_[b].size(); });
  for (uint32_t q : due) {
    const Queue& queue = tree_[q];
    const int64_t limit = *queue.limit_milli;
    if (held[q] <= limit) continue;  // a deeper queue's reclaim was enough
    std::vector<uint32_t> candidates;
    for (uint32_t r = 0; r < running.size(); ++r) {
      const Allocation& a = running[r];
      if (victim_[r] || a.terminating || a.workload.preemption == PreemptionPolicy::kNever) {
        continue;
      }
      const auto& path = paths_[QueueOf(a.workload)];
      if (std::find(path.begin(), path.end(), q) != path.end()) candidates.push_back(r);
    }
    std::sort(candidates.begin(), candidates.end(), [&](uint32_t x, uint32_t y) {
      const Allocation& a = running[x];
      const Allocation& b = running[y];
      if (a.workload.priority != b.workload.priority) {
        return a.workload.priority < b.workload.priority;
      }
      if (a.started_at != b.started_at) return a.started_at > b.started_at;  // youngest first
      return x < y;
    });
    // Cheapest first until within the limit, then give back every victim it can do without,
    // most expensive first.
    auto milli = [&](uint32_t r) { return running[r].workload.request.TotalGpuMilli(); };
    int64_t over = held[q] - limit;
    std::vector<uint32_t> chosen;
    for (uint32_t r : candidates) {
      if (over <= 0) break;
      chosen.push_back(r);
      over -= milli(r);
    }
    std::vector<uint32_t> victims;
    for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {
      if (over + milli(*it) <= 0) {
        over += milli(*it);  // reprieved: it keeps running
      } else {
        victims.push_back(*it);
      }
    }
    std::string why =
        "queue " + queue.id +
        " has been over its GPU limit for longer than the grace period: " + FormatGpus(held[q]) +
        " GPUs in use, its limit is " + FormatGpus(limit) + " (over since " +
        Time(queue.over_limit_since.value_or(in_.now)) + ")";
    for (auto it = victims.rbegin(); it != victims.rend(); ++it) {
      const Allocation& a = running[*it];
      victim_[*it] = true;
      for (uint32_t up : paths_[QueueOf(a.workload)]) held[up] -= milli(*it);
      bool checkpoint = a.workload.preemption == PreemptionPolicy::kCheckpoint;
      out_.preemptions.push_back(Preemption{
          .running = *it,
          .policy = checkpoint ? PreemptionPolicy::kCheckpoint : PreemptionPolicy::kRequeue,
          .grace = checkpoint ? a.workload.checkpoint_grace : Micros{0},
          .reason = Reason{ReasonCode::kPreempting, why},
          .over_limit = q});
    }
  }
}

// What would fit if a constraint were dropped, for the people reading the reason.
std::string Pass::Hint(const Request& r) {
  const ClusterSnapshot& c = placer_.cluster();
  auto idle_of = [&](const Slices& slices) {  // idle GPUs on the nodes it would use
    int idle = 0;
    for (const auto& s : slices) {
      for (const Gpu& g : c.nodes[s.node].gpus) idle += g.free_milli == kWholeGpu && !g.mig;
    }
    return idle;
  };
  if (!r.required_labels.empty()) {
    Request relaxed = r;
    relaxed.required_labels.clear();
    if (auto slices = placer_.Place(relaxed)) {
      const Node& node = c.nodes[slices->front().node];
      std::string where;
      for (const Label& want : r.required_labels) {
        for (const Label& have : node.labels) {
          if (have.key == want.key && have.key < c.strings.size() &&
              have.value < c.strings.size()) {
            where += (where.empty() ? "" : ",") + c.strings[have.key] + "=" + c.strings[have.value];
          }
        }
      }
      return std::to_string(idle_of(*slices)) + " GPU(s) idle" +
             (where.empty() ? "" : " in " + where) + " would fit without the label constraint";
    }
  }
  if (!r.gpu_types.empty()) {
    Request relaxed = r;
    relaxed.gpu_types.clear();
    relaxed.min_gpu_memory_mib = 0;
    if (auto slices = placer_.Place(relaxed)) {
      const auto& s = slices->front();
      uint16_t type = c.nodes[s.node].gpus[s.gpus.empty() ? 0 : s.gpus.front()].type;
      return "it would fit now on " +
             (type < c.gpu_types.size() ? c.gpu_types[type] : std::string("other")) + " GPUs";
    }
  }
  return {};
}

Decisions Pass::Run() {
  ReclaimOverage();
  ComputeOrder();
  const std::vector<Workload>& pending = in_.pending;
  for (uint32_t i = 0; i < pending.size(); ++i) {
    const Workload& w = pending[i];
    if (!w.deadline) continue;
    Timestamp finish = in_.now + w.run_time_limit.value_or(Micros{0});
    if (finish > *w.deadline) out_.deadline_infeasible.push_back(i);
  }
  std::sort(out_.deadline_infeasible.begin(), out_.deadline_infeasible.end());

  // Work within its queues' guarantees goes first (phase 0); work that would borrow idle
  // capacity gets what is left (phase 1), so borrowing never takes capacity a guaranteed
  // workload of the same pass could have had.
  std::vector<bool> decided(pending.size(), false);
  for (int phase = 0; phase < 2; ++phase) {
    for (uint32_t i : order_) {
      if (decided[i]) continue;
      const Workload& w = pending[i];
      auto wait = [&](Reason why) {
        out_.waiting.emplace_back(i, std::move(why));
        decided[i] = true;
      };
      const Brief& brief = brief_[i];
      if (brief.gated) {
        if (auto why = Gate(w)) {
          wait(std::move(*why));
          continue;
        }
      }
      if (auto why = BudgetGate(brief.queue)) {
        wait(std::move(*why));
        continue;
      }
      bool borrows = false;
      if (auto why = QuotaGate(i, borrows)) {
        wait(std::move(*why));
        continue;
      }
      if (borrows && phase == 0) continue;  // its turn comes in phase 1
      if (head_blocked_) {
        wait(Reason{ReasonCode::kBlockedBehind,
                    "strict order: waits behind " + pending[*head_blocked_].id});
        continue;
      }
      std::optional<uint64_t> memo_key;
      auto placed = PlaceNow(i, memo_key);
      decided[i] = true;
      if (placed) {
        Start(i, std::move(*placed), borrows, brief.end);
        continue;
      }
      Reason why = std::move(placed.error());
      if (memo_key) {
        auto [it, inserted] = failed_shapes_.try_emplace(*memo_key, why);
        if (inserted && why.code != ReasonCode::kReservedForOther) {
          if (std::string hint = Hint(w.request); !hint.empty()) {
            it->second.message += "; " + hint;
            why.message = it->second.message;
          }
        }
      }
      bool blocked_on_capacity =
          why.code == ReasonCode::kInsufficientGpus || why.code == ReasonCode::kGangIncomplete;
      if (blocked_on_capacity) {
        if (opt_.preemption && preemptors_ < opt_.max_preemptors_per_pass) {
          ++preemptors_;
          if (TryPreemption(i, borrows)) continue;
        }
        if (opt_.backfill == Backfill::kNone) {
          head_blocked_ = i;
        } else if (opt_.backfill == Backfill::kEasy &&
                   static_cast<int>(held_.size()) < opt_.reservations) {
          Reserve(i);
        }
      }
      out_.waiting.emplace_back(i, std::move(why));
    }
  }
  // Into index order: each index waits at most once, so a counting pass moves every reason
  // once instead of sorting 100,000 strings.
  std::vector<uint32_t> at(pending.size(), UINT32_MAX);
  for (uint32_t k = 0; k < out_.waiting.size(); ++k) at[out_.waiting[k].first] = k;
  std::vector<std::pair<uint32_t, Reason>> waiting;
  waiting.reserve(out_.waiting.size());
  for (uint32_t i = 0; i < pending.size(); ++i) {
    if (at[i] != UINT32_MAX) waiting.push_back(std::move(out_.waiting[at[i]]));
  }
  out_.waiting = std::move(waiting);
  return std::move(out_);
}

}  // namespace

Decisions Schedule(const ClusterSnapshot& cluster, const std::vector<Workload>& pending,
                   const std::vector<Allocation>& running, const std::vector<Queue>& queues,
                   Timestamp now, const Options& options) {
  return Schedule(Input{.cluster = cluster,
                        .pending = pending,
                        .running = running,
                        .queues = queues,
                        .now = now,
                        .options = options});
}

Decisions Schedule(const Input& input) { return Pass(input).Run(); }

}  // namespace hangar::scheduling
