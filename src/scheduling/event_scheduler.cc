// The event-driven scheduler. See event_scheduler.h.
#include "scheduling/event_scheduler.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <queue>
#include <set>
#include <unordered_map>
#include <utility>

#include "scheduling/quota_tree.h"

namespace hangar::scheduling {
namespace {

constexpr int64_t kNoLimit = INT64_MAX;  // a run-time limit that is not known
constexpr Timestamp kForever = Timestamp::max();

void AppendBytes(std::string& key, const void* data, size_t size) {
  key.append(static_cast<const char*>(data), size);
}

// What makes two requests fit or fail alike (Schedule's ShapeKey without the reservation
// count); nullopt for required affinity, which a placement can make satisfiable.
std::optional<std::string> ShapeKey(const Request& r) {
  if (!r.affinity.empty()) return std::nullopt;
  std::string k;
  k.reserve(96);
  const int64_t scalars[] = {r.gpus_per_node,
                             r.gpu_milli,
                             r.nodes,
                             r.mig_slices,
                             r.min_gpu_memory_mib,
                             r.min_cuda_version,
                             r.cpu_milli,
                             r.memory_mib,
                             r.group,
                             r.topology_key ? int64_t{*r.topology_key} : -1,
                             static_cast<int64_t>(r.gpu_types.size()),
                             static_cast<int64_t>(r.required_labels.size()),
                             static_cast<int64_t>(r.anti_affinity.size())};
  AppendBytes(k, scalars, sizeof scalars);
  AppendBytes(k, r.gpu_types.data(), r.gpu_types.size() * sizeof(uint16_t));
  AppendBytes(k, r.required_labels.data(), r.required_labels.size() * sizeof(Label));
  AppendBytes(k, r.anti_affinity.data(), r.anti_affinity.size() * sizeof(uint32_t));
  return k;
}

// Takes one slice off a node copy (the reserved nodes' expected state).
void TakeSlice(Node& node, const Allocation::Slice& s, const Request& r) {
  for (uint16_t g : s.gpus) {
    Gpu& gpu = node.gpus[g];
    if (r.mig_slices > 0) {
      gpu.mig_free &= static_cast<uint8_t>(~(((1u << r.mig_slices) - 1) << s.mig_start));
      gpu.free_milli -= r.SliceMilli();
    } else {
      gpu.free_milli -= s.gpu_milli;
    }
  }
  node.cpu_milli_free -= r.cpu_milli;
  node.memory_mib_free -= r.memory_mib;
}

bool CapacityBlocked(ReasonCode code) {
  return code == ReasonCode::kInsufficientGpus || code == ReasonCode::kGangIncomplete;
}

}  // namespace

class EventScheduler::Impl {
 public:
  explicit Impl(const Input& input);

  EventDecisions Start(Timestamp now);
  Result<EventDecisions> Submit(Workload w, Timestamp now);
  Result<EventDecisions> Complete(std::string_view id, Timestamp now, Finished::Outcome outcome);
  Result<EventDecisions> Cancel(std::string_view id, Timestamp now);
  EventDecisions Resync(std::vector<Queue> queues, Timestamp now);

  const ClusterSnapshot& cluster() const { return placer_.cluster(); }
  size_t pending_count() const { return pending_ids_.size(); }
  size_t parked_count() const { return parked_.size(); }
  size_t running_count() const { return running_ids_.size(); }
  int64_t usage(uint32_t q) const { return q < usage_.size() ? usage_[q] : 0; }
  std::optional<HeldReservation> reservation() const;
  std::vector<std::string> PendingInOrder() const;

 private:
  // A pending workload in the order. Slots are reused; `live` says whether this one is in use.
  struct Job {
    Workload w;
    int64_t key[4] = {0, 0, 0, 0};  // priority desc, urgency, fair-share position, submit time
    uint32_t cls = 0;
    int64_t limit = kNoLimit;  // run-time limit in microseconds
    bool live = false;
  };
  // Schedule's order over job slots; the id breaks ties (a total order).
  struct OrderLess {
    const Impl* impl;
    bool operator()(uint32_t a, uint32_t b) const { return impl->Ahead(a, b); }
  };
  // Pending jobs of one shape in one leaf queue: they pass or fail quota and placement alike.
  struct Class {
    uint32_t shape = 0;
    uint32_t queue = 0;
    int64_t milli = 0;
    std::set<uint32_t, OrderLess> jobs;
    std::multiset<int64_t> limits;  // the jobs' run-time limits (kNoLimit: none)
  };
  // Classes by their first job in order.
  struct HeadLess {
    const Impl* impl;
    bool operator()(uint32_t a, uint32_t b) const {
      return impl->Ahead(*impl->classes_[a].jobs.begin(), *impl->classes_[b].jobs.begin());
    }
  };
  struct Shape {
    Request request;
    std::set<std::pair<int64_t, uint32_t>> by_limit;  // pending jobs with a limit: (limit, slot)
    bool feasible = true;  // enough nodes could ever hold it (else kNoFeasibleNode, forever)
    int64_t pending = 0;   // pending jobs of this shape
  };
  struct Run {
    Workload w;
    Slices slices;
    int64_t end = kNoLimit;  // expected end (unix micros); kNoLimit: unknown
    bool live = false;
  };
  // The EASY reservation: `future` holds the reserved nodes as expected at `start`, with the
  // reservation taken. Other nodes cannot be over-committed at `start` by work that fits now.
  struct Held {
    uint32_t job = 0;
    Timestamp start;
    Slices slices;
    std::vector<std::pair<uint32_t, Node>> future;
  };

  bool Ahead(uint32_t a, uint32_t b) const {
    const Job& x = jobs_[a];
    const Job& y = jobs_[b];
    for (int i = 0; i < 4; ++i) {
      if (x.key[i] != y.key[i]) return x.key[i] < y.key[i];
    }
    return x.w.id < y.w.id;
  }

  uint32_t QueueOf(const Workload& w) const { return w.queue < tree_.size() ? w.queue : 0u; }
  void ComputeTree();
  void ComputeBudgets(Timestamp now);
  void ComputeKey(Job& j, Timestamp now) const;
  // The first queue on `q`'s path whose limit `milli` more would break (or, borrowing off, whose
  // guarantee), -1 when none; `borrows`: it would go beyond a guarantee.
  int QuotaBlock(uint32_t q, int64_t milli, bool& borrows) const;
  Reason QuotaReason(int blocker, int64_t milli) const;
  std::optional<Reason> Gate(const Workload& w, Timestamp now) const;

  uint32_t ShapeOf(const Request& r);
  uint32_t ClassOf(uint32_t shape, uint32_t queue, int64_t milli);
  uint32_t AddPending(Workload w, Timestamp now);
  Workload RemovePending(uint32_t slot);
  void AddRunning(Workload w, Slices slices, Timestamp started);

  // Placement with the cheap pre-test, and with the reservation when `binding`.
  bool MayFit(const Request& r) const;
  std::expected<Slices, Reason> TryPlace(const Request& r) const;
  std::expected<Slices, Reason> PlaceFor(const Request& r, bool binding);
  std::expected<Slices, Reason> PlaceAvoiding(const Request& r);
  bool Compatible(const Slices& slices, const Request& r) const;
  std::optional<Held> Reserve(uint32_t slot, Timestamp now);
  void Rereserve(Timestamp now);

  void Pin(const Run& run, int delta) {
    if (run.end != kNoLimit) return;
    for (const auto& s : run.slices) {
      for (uint16_t g : s.gpus)
        pinned_[s.node][g] = static_cast<uint16_t>(pinned_[s.node][g] + delta);
    }
  }
  bool MayEverFit(const Request& r) const;
  void ApplyCapacity(const Slices& slices, const Request& r);
  void ReleaseCapacity(const Slices& slices, const Request& r);
  void Unrecord(uint32_t node);
  void Record(uint32_t node);

  void StartJob(uint32_t slot, Slices slices, bool borrows, Timestamp now, EventDecisions& out);
  Reason Decide(uint32_t slot, Timestamp now, EventDecisions& out);
  void Walk(Timestamp now, EventDecisions& out);
  std::optional<Reason> Admit(Workload w, Timestamp now, EventDecisions* decide_into);
  void ReleaseDue(Timestamp now, EventDecisions* decide_into);
  void WakeDependents(const std::string& id, Timestamp now, EventDecisions* decide_into);
  void StopRunning(uint32_t run, Finished::Outcome outcome);

  Options opt_;
  bool easy_ = false;
  std::vector<Queue> tree_;
  std::vector<std::vector<uint32_t>> paths_;
  std::vector<uint32_t> fair_;
  std::vector<int64_t> usage_;
  std::vector<bool> budget_blocked_;

  Placer placer_;
  std::vector<int32_t> idle_hist_;   // schedulable nodes by idle GPU count
  std::vector<int32_t> share_hist_;  // GPUs of schedulable nodes by free share (1..1000)

  std::vector<Job> jobs_;
  std::vector<uint32_t> free_jobs_;
  std::unordered_map<std::string, uint32_t> pending_ids_;
  std::vector<Class> classes_;
  std::unordered_map<uint64_t, uint32_t> class_ids_;
  std::set<uint32_t, HeadLess> heads_{HeadLess{this}};  // non-empty classes
  std::vector<Shape> shapes_;
  std::unordered_map<std::string, uint32_t> shape_ids_;
  int64_t live_shapes_ = 0;  // shapes with pending jobs

  std::vector<Run> runs_;
  std::vector<uint32_t> free_runs_;
  std::unordered_map<std::string, uint32_t> running_ids_;
  std::set<std::pair<int64_t, uint32_t>> by_end_;  // running work with an expected end
  // Per node and GPU: running work without a run-time limit on it (such a GPU never frees in a
  // reservation's timeline).
  std::vector<std::vector<uint16_t>> pinned_;

  std::optional<Held> held_;

  std::unordered_map<std::string, Workload> parked_;
  std::priority_queue<std::pair<int64_t, std::string>, std::vector<std::pair<int64_t, std::string>>,
                      std::greater<>>
      not_before_;
  std::unordered_map<std::string, std::vector<std::string>> waiters_;  // dependency -> parked
  std::unordered_map<std::string, Finished::Outcome> finished_;

  // Per-walk memos, valid when equal to walk_: the shape failed (without / with the reservation
  // binding), a reservation was tried for it.
  uint32_t walk_ = 0;
  std::vector<uint32_t> failed_, failed_binding_, reserve_tried_;
};

EventScheduler::Impl::Impl(const Input& input)
    : opt_(input.options),
      easy_(input.options.backfill == Backfill::kEasy && input.options.reservations > 0),
      tree_(input.queues.empty() ? std::vector<Queue>{Queue{.id = "root"}} : input.queues),
      placer_(input.cluster) {
  ComputeTree();
  ComputeBudgets(input.now);
  size_t max_gpus = 0;
  for (const Node& n : placer_.cluster().nodes) max_gpus = std::max(max_gpus, n.gpus.size());
  idle_hist_.assign(max_gpus + 1, 0);
  share_hist_.assign(kWholeGpu + 1, 0);
  for (uint32_t n = 0; n < placer_.cluster().nodes.size(); ++n) Record(n);
  for (const Node& n : placer_.cluster().nodes) pinned_.emplace_back(n.gpus.size(), 0);

  for (const Finished& f : input.finished) finished_[f.id] = f.outcome;
  for (const Allocation& a : input.running) {
    for (uint32_t q : paths_[QueueOf(a.workload)]) usage_[q] += a.workload.request.TotalGpuMilli();
    AddRunning(a.workload, a.slices, a.started_at);
    if (a.terminating) {  // its capacity frees now (as Schedule's timeline)
      uint32_t r = running_ids_.at(a.workload.id);
      Pin(runs_[r], -1);
      by_end_.erase({runs_[r].end, r});
      runs_[r].end = ToUnixMicros(input.now);
      by_end_.insert({runs_[r].end, r});
    }
  }
  for (const Workload& w : input.pending) Admit(w, input.now, nullptr);
}

void EventScheduler::Impl::ComputeTree() {
  paths_.assign(tree_.size(), {});
  for (uint32_t q = 0; q < tree_.size(); ++q) paths_[q] = PathToRoot(tree_, q);
  fair_ = FairTreePositions(tree_, paths_);
  usage_.assign(tree_.size(), 0);
  budget_blocked_.assign(tree_.size(), false);
}

// A queue over its GPU-hour budget for longer than the grace period blocks new work below it.
void EventScheduler::Impl::ComputeBudgets(Timestamp now) {
  for (uint32_t q = 0; q < tree_.size(); ++q) {
    const Queue& queue = tree_[q];
    budget_blocked_[q] =
        queue.budget_gpu_hours && queue.used_gpu_hours >= *queue.budget_gpu_hours &&
        queue.over_budget_since && now - *queue.over_budget_since >= opt_.budget_grace;
  }
}

void EventScheduler::Impl::ComputeKey(Job& j, Timestamp now) const {
  const Workload& w = j.w;
  int64_t submitted = ToUnixMicros(w.submitted_at);
  switch (opt_.ordering) {
    case Ordering::kFifo:
      j.key[0] = submitted, j.key[1] = j.key[2] = j.key[3] = 0;
      break;
    case Ordering::kShortestFirst:
      j.key[0] = w.run_time_limit ? w.run_time_limit->count() : INT64_MAX;
      j.key[1] = submitted, j.key[2] = j.key[3] = 0;
      break;
    case Ordering::kFairShare: {
      int64_t urgency = INT64_MAX;
      if (w.deadline) {
        Timestamp latest_start = *w.deadline - w.run_time_limit.value_or(Micros{0});
        if (latest_start - now <= opt_.deadline_boost) urgency = ToUnixMicros(*w.deadline);
      }
      j.key[0] = -int64_t{w.priority};
      j.key[1] = urgency;
      j.key[2] = fair_[QueueOf(w)];
      j.key[3] = submitted;
      break;
    }
  }
}

int EventScheduler::Impl::QuotaBlock(uint32_t q, int64_t milli, bool& borrows) const {
  borrows = false;
  int lender = -1;
  for (uint32_t a : paths_[q]) {
    const Queue& queue = tree_[a];
    if (queue.limit_milli && usage_[a] + milli > *queue.limit_milli) return static_cast<int>(a);
    if (a != 0 && queue.guaranteed_milli > 0 && usage_[a] + milli > queue.guaranteed_milli &&
        !borrows) {
      borrows = true;
      lender = static_cast<int>(a);
    }
  }
  if (borrows && !opt_.allow_borrowing) return lender;
  return -1;
}

Reason EventScheduler::Impl::QuotaReason(int blocker, int64_t milli) const {
  const Queue& q = tree_[blocker];
  if (q.limit_milli && usage_[blocker] + milli > *q.limit_milli) {
    return Reason{ReasonCode::kQuotaExceeded,
                  "queue " + q.id + " is at its limit: " + FormatGpus(usage_[blocker]) + " of " +
                      FormatGpus(*q.limit_milli) + " GPUs in use, this needs " + FormatGpus(milli)};
  }
  return Reason{ReasonCode::kQuotaExceeded, "queue " + q.id + " would exceed its guaranteed " +
                                                FormatGpus(q.guaranteed_milli) +
                                                " GPUs and borrowing is off"};
}

// Holds, start times, dependencies and budgets (Schedule's Gate, less the request check).
std::optional<Reason> EventScheduler::Impl::Gate(const Workload& w, Timestamp now) const {
  if (w.held) return Reason{ReasonCode::kHeld, "held; release it to let it start"};
  if (w.not_before && *w.not_before > now) {
    return Reason{ReasonCode::kStartTimeInFuture,
                  "starts no earlier than " + FormatRfc3339(*w.not_before)};
  }
  for (const Dependency& dep : w.dependencies) {
    if (pending_ids_.contains(dep.on) || running_ids_.contains(dep.on) ||
        parked_.contains(dep.on)) {
      return Reason{ReasonCode::kDependencyPending, "waiting for " + dep.on + " to finish"};
    }
    auto it = finished_.find(dep.on);
    if (it == finished_.end()) {
      return Reason{ReasonCode::kDependencyNeverSatisfied,
                    "depends on " + dep.on + ", which is not known"};
    }
    bool ok = it->second == Finished::Outcome::kSucceeded;
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
  for (uint32_t q : paths_[QueueOf(w)]) {
    if (budget_blocked_[q]) {
      return Reason{ReasonCode::kBudgetExhausted,
                    "queue " + tree_[q].id + " used its GPU-hour budget"};
    }
  }
  return std::nullopt;
}

uint32_t EventScheduler::Impl::ShapeOf(const Request& r) {
  std::optional<std::string> key = ShapeKey(r);
  if (key) {
    if (auto it = shape_ids_.find(*key); it != shape_ids_.end()) return it->second;
  }
  auto id = static_cast<uint32_t>(shapes_.size());
  Shape shape{.request = r};
  size_t could = 0;
  for (const Node& node : placer_.cluster().nodes) {
    could += NodeCouldEverFit(placer_.cluster(), node, r);
  }
  shape.feasible = could >= static_cast<size_t>(std::max(1, r.nodes));
  shapes_.push_back(std::move(shape));
  failed_.push_back(0), failed_binding_.push_back(0), reserve_tried_.push_back(0);
  if (key) shape_ids_.emplace(std::move(*key), id);
  return id;
}

uint32_t EventScheduler::Impl::ClassOf(uint32_t shape, uint32_t queue, int64_t milli) {
  uint64_t key = uint64_t{shape} << 32 | queue;
  if (auto it = class_ids_.find(key); it != class_ids_.end()) return it->second;
  auto id = static_cast<uint32_t>(classes_.size());
  classes_.push_back(
      Class{shape, queue, milli, std::set<uint32_t, OrderLess>(OrderLess{this}), {}});
  class_ids_.emplace(key, id);
  return id;
}

uint32_t EventScheduler::Impl::AddPending(Workload w, Timestamp now) {
  uint32_t slot;
  if (!free_jobs_.empty()) {
    slot = free_jobs_.back();
    free_jobs_.pop_back();
  } else {
    slot = static_cast<uint32_t>(jobs_.size());
    jobs_.emplace_back();
  }
  Job& j = jobs_[slot];
  j.w = std::move(w);
  j.live = true;
  j.limit = j.w.run_time_limit ? j.w.run_time_limit->count() : kNoLimit;
  ComputeKey(j, now);
  uint32_t shape = ShapeOf(j.w.request);
  if (shapes_[shape].pending++ == 0) ++live_shapes_;
  j.cls = ClassOf(shape, QueueOf(j.w), j.w.request.TotalGpuMilli());
  Class& c = classes_[j.cls];
  bool new_head = c.jobs.empty() || Ahead(slot, *c.jobs.begin());
  if (new_head && !c.jobs.empty()) heads_.erase(j.cls);
  c.jobs.insert(slot);
  if (new_head) heads_.insert(j.cls);
  c.limits.insert(j.limit);
  if (j.limit != kNoLimit) shapes_[shape].by_limit.insert({j.limit, slot});
  pending_ids_.emplace(j.w.id, slot);
  return slot;
}

Workload EventScheduler::Impl::RemovePending(uint32_t slot) {
  Job& j = jobs_[slot];
  Class& c = classes_[j.cls];
  bool was_head = *c.jobs.begin() == slot;
  if (was_head) heads_.erase(j.cls);
  c.jobs.erase(slot);
  if (was_head && !c.jobs.empty()) heads_.insert(j.cls);
  c.limits.erase(c.limits.find(j.limit));
  if (j.limit != kNoLimit) shapes_[c.shape].by_limit.erase({j.limit, slot});
  if (--shapes_[c.shape].pending == 0) --live_shapes_;
  pending_ids_.erase(j.w.id);
  if (held_ && held_->job == slot) held_.reset();
  j.live = false;
  free_jobs_.push_back(slot);
  return std::move(j.w);
}

void EventScheduler::Impl::AddRunning(Workload w, Slices slices, Timestamp started) {
  uint32_t r;
  if (!free_runs_.empty()) {
    r = free_runs_.back();
    free_runs_.pop_back();
  } else {
    r = static_cast<uint32_t>(runs_.size());
    runs_.emplace_back();
  }
  Run& run = runs_[r];
  run.end = w.run_time_limit ? ToUnixMicros(started + *w.run_time_limit) : kNoLimit;
  run.w = std::move(w);
  run.slices = std::move(slices);
  run.live = true;
  if (run.end != kNoLimit) by_end_.insert({run.end, r});
  Pin(run, +1);
  running_ids_.emplace(run.w.id, r);
}

// ---- Capacity --------------------------------------------------------------------------------

void EventScheduler::Impl::Unrecord(uint32_t n) {
  const Node& node = placer_.cluster().nodes[n];
  if (!node.schedulable) return;
  int idle = 0;
  for (const Gpu& g : node.gpus) {
    if (!g.healthy) continue;
    idle += g.free_milli == kWholeGpu;
    if (g.free_milli > 0) --share_hist_[std::min(g.free_milli, kWholeGpu)];
  }
  --idle_hist_[idle];
}

void EventScheduler::Impl::Record(uint32_t n) {
  const Node& node = placer_.cluster().nodes[n];
  if (!node.schedulable) return;
  int idle = 0;
  for (const Gpu& g : node.gpus) {
    if (!g.healthy) continue;
    idle += g.free_milli == kWholeGpu;
    if (g.free_milli > 0) ++share_hist_[std::min(g.free_milli, kWholeGpu)];
  }
  ++idle_hist_[idle];
}

void EventScheduler::Impl::ApplyCapacity(const Slices& slices, const Request& r) {
  for (const auto& s : slices) Unrecord(s.node);
  placer_.Apply(slices, r);
  for (const auto& s : slices) Record(s.node);
}

void EventScheduler::Impl::ReleaseCapacity(const Slices& slices, const Request& r) {
  for (const auto& s : slices) Unrecord(s.node);
  placer_.Release(slices, r);
  for (const auto& s : slices) Record(s.node);
}

// A necessary condition for Place to succeed, from the histograms (GPU type, memory, labels and
// CPU are not looked at): enough nodes with enough idle GPUs, or a GPU with enough share free.
bool EventScheduler::Impl::MayFit(const Request& r) const {
  if (r.mig_slices > 0 || r.gpus_per_node <= 0) return true;
  if (r.gpu_milli < kWholeGpu) {
    int64_t gpus = 0;
    for (int m = std::max(r.gpu_milli, 1); m <= kWholeGpu && gpus < r.nodes; ++m) {
      gpus += share_hist_[m];
    }
    return gpus >= r.nodes;
  }
  int64_t nodes = 0;
  for (size_t k = static_cast<size_t>(r.gpus_per_node); k < idle_hist_.size(); ++k) {
    nodes += idle_hist_[k];
  }
  return nodes >= r.nodes;
}

std::expected<Slices, Reason> EventScheduler::Impl::TryPlace(const Request& r) const {
  if (!MayFit(r)) {
    return std::unexpected(
        r.nodes > 1 ? Reason{ReasonCode::kGangIncomplete,
                             "not enough nodes free at once; the gang starts whole"}
                    : Reason{ReasonCode::kInsufficientGpus, "no node has the capacity free now"});
  }
  return placer_.Place(r);
}

// A necessary condition for a reservation of whole GPUs: enough nodes with enough GPUs that no
// work without a run-time limit holds.
bool EventScheduler::Impl::MayEverFit(const Request& r) const {
  if (r.mig_slices > 0 || r.gpus_per_node <= 0 || r.gpu_milli < kWholeGpu) return true;
  int nodes = 0;
  const auto& all = placer_.cluster().nodes;
  for (uint32_t n = 0; n < all.size() && nodes < r.nodes; ++n) {
    if (!all[n].schedulable) continue;
    int gpus = 0;
    for (uint16_t g = 0; g < all[n].gpus.size(); ++g) {
      gpus += all[n].gpus[g].healthy && pinned_[n][g] == 0;
    }
    nodes += gpus >= r.gpus_per_node;
  }
  return nodes >= r.nodes;
}

bool EventScheduler::Impl::Compatible(const Slices& slices, const Request& r) const {
  for (const auto& s : slices) {
    for (const auto& [n, node] : held_->future) {
      if (n == s.node && !SliceFitsInPlace(node, s, r)) return false;
    }
  }
  return true;
}

// Place away from the reserved nodes: they are filled for the search (Apply and Release are
// exact inverses), which costs one Place instead of PlaceWithin's copy of the cluster. CPU-only
// and MIG requests (which a full node might still take) use PlaceWithin.
std::expected<Slices, Reason> EventScheduler::Impl::PlaceAvoiding(const Request& r) {
  const ClusterSnapshot& c = placer_.cluster();
  bool exact = r.gpus_per_node > 0 && r.mig_slices == 0;
  for (const auto& [n, node] : held_->future) {
    for (const Gpu& g : c.nodes[n].gpus) exact = exact && !g.mig;
  }
  if (!exact) {
    std::vector<bool> allowed(c.nodes.size(), true);
    for (const auto& [n, node] : held_->future) allowed[n] = false;
    return placer_.PlaceWithin(r, allowed);
  }
  std::vector<std::pair<Slices, Request>> fill;
  for (const auto& [n, node] : held_->future) {
    const Node& now = c.nodes[n];
    for (uint16_t g = 0; g < now.gpus.size(); ++g) {
      if (now.gpus[g].free_milli <= 0) continue;
      Request share{.gpus_per_node = 1, .gpu_milli = now.gpus[g].free_milli};
      fill.emplace_back(Slices{Allocation::Slice{n, {g}, now.gpus[g].free_milli}}, share);
    }
  }
  for (const auto& [s, req] : fill) placer_.Apply(s, req);
  auto placed = placer_.Place(r);
  for (auto it = fill.rbegin(); it != fill.rend(); ++it) placer_.Release(it->first, it->second);
  return placed;
}

std::expected<Slices, Reason> EventScheduler::Impl::PlaceFor(const Request& r, bool binding) {
  auto placed = TryPlace(r);
  if (!placed || !binding || Compatible(*placed, r)) return placed;
  if (auto elsewhere = PlaceAvoiding(r)) return elsewhere;
  return std::unexpected(Reason{ReasonCode::kReservedForOther,
                                "fits now, but would delay " + jobs_[held_->job].w.id +
                                    ", reserved to start by " + FormatRfc3339(held_->start)});
}

// EASY's reservation, as Schedule's Reserve: the earliest end of running work after which the
// job fits, found by releasing running work in order of its expected end and binary-searching
// the shortest prefix. The search moves the live placer back and forth (exact inverses) and
// leaves it as it was; only the reserved nodes are copied.
std::optional<EventScheduler::Impl::Held> EventScheduler::Impl::Reserve(uint32_t slot,
                                                                        Timestamp now) {
  const Request& r = jobs_[slot].w.request;
  if (r.mig_slices > 0 || !MayEverFit(r)) return std::nullopt;
  std::vector<uint32_t> timeline;
  timeline.reserve(by_end_.size());
  for (const auto& [end, run] : by_end_) timeline.push_back(run);
  auto end_of = [&](size_t i) { return std::max(runs_[timeline[i]].end, ToUnixMicros(now)); };
  size_t released = 0;
  auto move_to = [&](size_t prefix) {
    for (; released < prefix; ++released) {
      const Run& run = runs_[timeline[released]];
      placer_.Release(run.slices, run.w.request);
    }
    for (; released > prefix; --released) {
      const Run& run = runs_[timeline[released - 1]];
      placer_.Apply(run.slices, run.w.request);
    }
  };
  std::optional<Held> held;
  // Galloping: prefixes of 1, 2, 4, ... until it fits, so the search costs about twice the
  // prefix it needs, not the whole timeline.
  size_t lo = 0, hi = std::min<size_t>(1, timeline.size());
  move_to(hi);
  bool fits = placer_.Place(r).has_value();
  while (!fits && hi < timeline.size()) {
    lo = hi;
    hi = std::min(hi * 2, timeline.size());
    move_to(hi);
    fits = placer_.Place(r).has_value();
  }
  if (fits) {
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      move_to(mid);
      (placer_.Place(r) ? hi : lo) = mid;
    }
    while (hi < timeline.size() && hi > 0 && end_of(hi) == end_of(hi - 1)) ++hi;
    move_to(hi);
    if (auto slices = placer_.Place(r)) {
      held = Held{slot, hi == 0 ? now : FromUnixMicros(end_of(hi - 1)), *slices, {}};
      for (const auto& s : *slices) {
        held->future.emplace_back(s.node, placer_.cluster().nodes[s.node]);
        TakeSlice(held->future.back().second, s, r);
      }
    }
  }
  move_to(0);
  return held;
}

// The reserved job's reservation after capacity it counted on was taken.
void EventScheduler::Impl::Rereserve(Timestamp now) {
  uint32_t slot = held_->job;
  held_.reset();
  held_ = Reserve(slot, now);
}

// ---- Decisions -------------------------------------------------------------------------------

void EventScheduler::Impl::StartJob(uint32_t slot, Slices slices, bool borrows, Timestamp now,
                                    EventDecisions& out) {
  const Request& r = jobs_[slot].w.request;
  ApplyCapacity(slices, r);
  Timestamp end = jobs_[slot].limit == kNoLimit ? kForever : now + Micros{jobs_[slot].limit};
  bool backfilled = held_ && held_->job != slot;
  if (backfilled && end > held_->start) {  // still running at the reservation's start
    for (const auto& s : slices) {
      for (auto& [n, node] : held_->future) {
        if (n == s.node) TakeSlice(node, s, r);
      }
    }
  }
  for (uint32_t q : paths_[classes_[jobs_[slot].cls].queue]) usage_[q] += r.TotalGpuMilli();
  out.started.push_back(StartedWork{jobs_[slot].w.id, slices, borrows, backfilled});
  AddRunning(RemovePending(slot), std::move(slices), now);
}

// One job just admitted to a settled state: start it now if it fits without delaying the
// reservation, or say why it waits.
Reason EventScheduler::Impl::Decide(uint32_t slot, Timestamp now, EventDecisions& out) {
  const Class& c = classes_[jobs_[slot].cls];
  const Shape& shape = shapes_[c.shape];
  const Request& r = jobs_[slot].w.request;
  bool borrows = false;
  if (int blocker = QuotaBlock(c.queue, c.milli, borrows); blocker >= 0) {
    return QuotaReason(blocker, c.milli);
  }
  if (!shape.feasible) return placer_.Place(r).error();  // its kNoFeasibleNode message
  Timestamp end = jobs_[slot].limit == kNoLimit ? kForever : now + Micros{jobs_[slot].limit};
  if (held_ && Ahead(slot, held_->job)) {
    // Ahead of the reserved job: as in a full pass, it goes before the reservation exists.
    auto placed = TryPlace(r);
    if (placed) {
      bool delays = end > held_->start && !Compatible(*placed, r);
      Slices slices = *placed;
      std::optional<Held> keep = std::move(held_);
      held_.reset();  // not backfilled: it is ahead
      StartJob(slot, std::move(slices), borrows, now, out);
      held_ = std::move(keep);
      if (held_) {
        if (delays) {
          Rereserve(now);
        } else if (end > held_->start) {
          for (const auto& s : out.started.back().slices) {
            for (auto& [n, node] : held_->future) {
              if (n == s.node) TakeSlice(node, s, r);
            }
          }
        }
      }
      return {};
    }
    if (easy_ && CapacityBlocked(placed.error().code)) {
      if (auto held = Reserve(slot, now)) held_ = std::move(held);
    }
    return placed.error();
  }
  bool binding = held_ && end > held_->start;
  auto placed = PlaceFor(r, binding);
  if (placed) {
    StartJob(slot, std::move(*placed), borrows, now, out);
    return {};
  }
  if (easy_ && !held_ && CapacityBlocked(placed.error().code)) held_ = Reserve(slot, now);
  return placed.error();
}

// Everything pending, in order, on the current capacity (see the header). The memo and the
// class drops rest on two facts of one walk: capacity only shrinks and usage only grows.
void EventScheduler::Impl::Walk(Timestamp now, EventDecisions& out) {
  held_.reset();
  ++walk_;
  enum State : uint8_t { kIdle, kActive, kDeferred, kDropped };
  std::vector<State> state(classes_.size(), kIdle);
  std::vector<std::set<uint32_t, OrderLess>::iterator> cursor(classes_.size());
  // Classes not visited yet, by their heads: they join the merge one by one, so a walk that
  // ends early (every shape failed) never looks at most classes.
  std::vector<uint32_t> unvisited(heads_.begin(), heads_.end());
  size_t next_unvisited = 0;
  std::vector<uint32_t> deferred;
  int64_t failed = 0;
  // A min-heap of (head job, class) by Schedule's order.
  std::vector<std::pair<uint32_t, uint32_t>> heap;
  auto later = [this](const auto& a, const auto& b) { return Ahead(b.first, a.first); };
  auto push = [&](uint32_t c) {
    if (cursor[c] == classes_[c].jobs.end()) return;
    heap.emplace_back(*cursor[c], c);
    std::push_heap(heap.begin(), heap.end(), later);
  };
  const int64_t now_us = ToUnixMicros(now);
  // Once a shape fails with the reservation binding, only its jobs that end before the
  // reservation starts may still start. When they are few (sparse), they are listed per class
  // from the shape's by-limit index, so classes jump to them instead of scanning every job.
  constexpr size_t kSparse = 256;
  std::vector<uint8_t> sparse(shapes_.size(), 0);
  std::unordered_map<uint32_t, std::pair<std::vector<uint32_t>, size_t>> candidates;
  auto list_candidates = [&](uint32_t shape) {
    const int64_t until = ToUnixMicros(held_->start) - now_us;
    const auto& by_limit = shapes_[shape].by_limit;
    size_t count = 0;
    for (auto c = by_limit.begin(); c != by_limit.end() && c->first <= until && count <= kSparse;
         ++c) {
      ++count;
    }
    if (count > kSparse) return;
    sparse[shape] = 1;
    std::vector<uint32_t> touched;
    for (auto c = by_limit.begin(); c != by_limit.end() && c->first <= until; ++c) {
      auto& list = candidates[jobs_[c->second].cls].first;
      if (list.empty()) touched.push_back(jobs_[c->second].cls);
      list.push_back(c->second);
    }
    for (uint32_t cls : touched) {
      auto& list = candidates[cls].first;
      std::sort(list.begin(), list.end(), [this](uint32_t a, uint32_t b) { return Ahead(a, b); });
    }
  };
  for (int phase = 0; phase < 2; ++phase) {
    heap.clear();
    if (phase == 1) {
      for (uint32_t c : deferred) push(c);
    }
    while (failed < live_shapes_) {
      uint32_t c;
      if (phase == 0 && next_unvisited < unvisited.size() &&
          (heap.empty() ||
           Ahead(*classes_[unvisited[next_unvisited]].jobs.begin(), heap.front().first))) {
        c = unvisited[next_unvisited++];
        cursor[c] = classes_[c].jobs.begin();
        state[c] = kActive;
      } else if (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        c = heap.back().second;
        heap.pop_back();
      } else {
        break;
      }
      Class& cls = classes_[c];
      auto& it = cursor[c];
      if (failed_[cls.shape] == walk_) {
        state[c] = kDropped;
        continue;
      }
      bool borrows = false;
      if (QuotaBlock(cls.queue, cls.milli, borrows) >= 0) {
        state[c] = kDropped;
        continue;
      }
      if (borrows && phase == 0) {
        state[c] = kDeferred;
        deferred.push_back(c);
        continue;
      }
      uint32_t slot = *it;
      auto ends_after = [&](uint32_t s) {
        return jobs_[s].limit == kNoLimit || now_us + jobs_[s].limit > ToUnixMicros(held_->start);
      };
      bool binding = held_ && ends_after(slot);
      if (binding && failed_binding_[cls.shape] == walk_) {
        // Only work that ends before the reservation starts may still start in this class.
        if (*cls.limits.begin() == kNoLimit ||
            now_us + *cls.limits.begin() > ToUnixMicros(held_->start)) {
          state[c] = kDropped;
          continue;
        }
        if (sparse[cls.shape]) {
          auto& [list, pos] = candidates[c];
          while (pos < list.size() && (!jobs_[list[pos]].live || !Ahead(slot, list[pos]))) ++pos;
          if (pos == list.size()) {
            state[c] = kDropped;
            continue;
          }
          it = cls.jobs.find(list[pos]);
        } else {
          do ++it;
          while (it != cls.jobs.end() && ends_after(*it));
        }
        push(c);
        continue;
      }
      const Shape& shape = shapes_[cls.shape];
      std::expected<Slices, Reason> placed =
          shape.feasible ? PlaceFor(jobs_[slot].w.request, binding)
                         : std::unexpected(Reason{ReasonCode::kNoFeasibleNode, {}});
      if (placed) {
        auto next = std::next(it);
        StartJob(slot, std::move(*placed), borrows, now, out);
        it = next;
        push(c);
        continue;
      }
      ReasonCode code = placed.error().code;
      if (code == ReasonCode::kReservedForOther) {
        failed_binding_[cls.shape] = walk_;
        list_candidates(cls.shape);
        ++it;
        push(c);
        continue;
      }
      failed_[cls.shape] = walk_;
      ++failed;
      if (easy_ && !held_ && CapacityBlocked(code) && reserve_tried_[cls.shape] != walk_) {
        reserve_tried_[cls.shape] = walk_;
        held_ = Reserve(slot, now);
      }
      state[c] = kDropped;
    }
  }
}

// New or unparked work: parked behind a gate, or filed in the order (and decided when
// `decide_into` is given). Returns why it waits (nullopt: it started, or is filed undecided).
std::optional<Reason> EventScheduler::Impl::Admit(Workload w, Timestamp now,
                                                  EventDecisions* decide_into) {
  if (auto why = Gate(w, now)) {
    if (why->code == ReasonCode::kStartTimeInFuture) {
      not_before_.emplace(ToUnixMicros(*w.not_before), w.id);
    } else if (why->code == ReasonCode::kDependencyPending) {
      for (const Dependency& dep : w.dependencies) waiters_[dep.on].push_back(w.id);
    }
    std::string id = w.id;
    parked_.insert_or_assign(std::move(id), std::move(w));
    return why;
  }
  uint32_t slot = AddPending(std::move(w), now);
  if (!decide_into) return std::nullopt;
  Reason why = Decide(slot, now, *decide_into);
  if (why.code == ReasonCode::kNone) return std::nullopt;
  return why;
}

// Parked work whose start time has come.
void EventScheduler::Impl::ReleaseDue(Timestamp now, EventDecisions* decide_into) {
  const int64_t now_us = ToUnixMicros(now);
  while (!not_before_.empty() && not_before_.top().first <= now_us) {
    std::string id = not_before_.top().second;
    not_before_.pop();
    auto it = parked_.find(id);
    if (it == parked_.end()) continue;
    Workload w = std::move(it->second);
    parked_.erase(it);
    Admit(std::move(w), now, decide_into);
  }
}

void EventScheduler::Impl::WakeDependents(const std::string& id, Timestamp now,
                                          EventDecisions* decide_into) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  std::vector<std::string> waiting = std::move(it->second);
  waiters_.erase(it);
  for (const std::string& w_id : waiting) {
    auto p = parked_.find(w_id);
    if (p == parked_.end()) continue;
    Workload w = std::move(p->second);
    parked_.erase(p);
    Admit(std::move(w), now, decide_into);  // parks it again if another dependency waits
  }
}

void EventScheduler::Impl::StopRunning(uint32_t r, Finished::Outcome outcome) {
  Run& run = runs_[r];
  ReleaseCapacity(run.slices, run.w.request);
  for (uint32_t q : paths_[QueueOf(run.w)]) usage_[q] -= run.w.request.TotalGpuMilli();
  if (run.end != kNoLimit) by_end_.erase({run.end, r});
  Pin(run, -1);
  running_ids_.erase(run.w.id);
  finished_[run.w.id] = outcome;
  run.live = false;
  run.w = Workload{};
  run.slices.clear();
  free_runs_.push_back(r);
}

// ---- Events ----------------------------------------------------------------------------------

EventDecisions EventScheduler::Impl::Start(Timestamp now) {
  EventDecisions out;
  ReleaseDue(now, nullptr);
  Walk(now, out);
  return out;
}

Result<EventDecisions> EventScheduler::Impl::Submit(Workload w, Timestamp now) {
  if (pending_ids_.contains(w.id) || running_ids_.contains(w.id) || parked_.contains(w.id)) {
    return std::unexpected(Error::AlreadyExists("workload " + w.id + " is already known"));
  }
  if (auto invalid = CheckRequest(w.request))
    return std::unexpected(Error::Invalid(invalid->message));
  EventDecisions out;
  ReleaseDue(now, &out);
  if (auto why = Admit(std::move(w), now, &out)) out.reason = std::move(*why);
  return out;
}

Result<EventDecisions> EventScheduler::Impl::Complete(std::string_view id, Timestamp now,
                                                      Finished::Outcome outcome) {
  auto it = running_ids_.find(std::string(id));
  if (it == running_ids_.end()) {
    return std::unexpected(Error::NotFound("workload " + std::string(id) + " is not running"));
  }
  std::string key = it->first;
  StopRunning(it->second, outcome);
  EventDecisions out;
  ReleaseDue(now, nullptr);
  WakeDependents(key, now, nullptr);
  Walk(now, out);
  return out;
}

Result<EventDecisions> EventScheduler::Impl::Cancel(std::string_view id, Timestamp now) {
  std::string key(id);
  if (running_ids_.contains(key)) return Complete(id, now, Finished::Outcome::kCancelled);
  EventDecisions out;
  if (auto p = parked_.find(key); p != parked_.end()) {
    parked_.erase(p);
  } else if (auto it = pending_ids_.find(key); it != pending_ids_.end()) {
    bool was_reserved = held_ && held_->job == it->second;
    RemovePending(it->second);
    if (was_reserved) Walk(now, out);  // what the reservation held back may start
  } else {
    return std::unexpected(Error::NotFound("workload " + key + " is not known"));
  }
  finished_[key] = Finished::Outcome::kCancelled;
  ReleaseDue(now, &out);
  WakeDependents(key, now, &out);
  return out;
}

EventDecisions EventScheduler::Impl::Resync(std::vector<Queue> queues, Timestamp now) {
  if (!queues.empty()) tree_ = std::move(queues);
  ComputeTree();
  ComputeBudgets(now);
  for (const Run& run : runs_) {
    if (!run.live) continue;
    for (uint32_t q : paths_[QueueOf(run.w)]) usage_[q] += run.w.request.TotalGpuMilli();
  }
  held_.reset();
  // Re-key the order: empty every class, then file each job again.
  heads_.clear();
  for (Class& c : classes_) c.jobs.clear();
  for (uint32_t slot = 0; slot < jobs_.size(); ++slot) {
    if (!jobs_[slot].live) continue;
    ComputeKey(jobs_[slot], now);
  }
  for (uint32_t slot = 0; slot < jobs_.size(); ++slot) {
    if (jobs_[slot].live) classes_[jobs_[slot].cls].jobs.insert(slot);
  }
  for (uint32_t c = 0; c < classes_.size(); ++c) {
    if (!classes_[c].jobs.empty()) heads_.insert(c);
  }
  // Pending work now behind a budget gate is parked; parked work is gated again.
  std::vector<uint32_t> to_park;
  for (const auto& [id, slot] : pending_ids_) {
    if (Gate(jobs_[slot].w, now)) to_park.push_back(slot);
  }
  std::sort(to_park.begin(), to_park.end());
  for (uint32_t slot : to_park) {
    std::string id = jobs_[slot].w.id;
    parked_.insert_or_assign(std::move(id), RemovePending(slot));
  }
  // One at a time, so that a dependency still parked reads as pending, not as unknown.
  std::vector<std::string> parked_ids;
  for (const auto& [id, w] : parked_) parked_ids.push_back(id);
  std::sort(parked_ids.begin(), parked_ids.end());
  waiters_.clear();
  not_before_ = {};
  for (const std::string& id : parked_ids) {
    Workload w = std::move(parked_.at(id));
    parked_.erase(id);
    Admit(std::move(w), now, nullptr);
  }
  EventDecisions out;
  Walk(now, out);
  return out;
}

std::optional<HeldReservation> EventScheduler::Impl::reservation() const {
  if (!held_) return std::nullopt;
  return HeldReservation{jobs_[held_->job].w.id, held_->start, held_->slices};
}

std::vector<std::string> EventScheduler::Impl::PendingInOrder() const {
  std::vector<uint32_t> slots;
  for (const auto& [id, slot] : pending_ids_) slots.push_back(slot);
  std::sort(slots.begin(), slots.end(), [this](uint32_t a, uint32_t b) { return Ahead(a, b); });
  std::vector<std::string> ids;
  for (uint32_t s : slots) ids.push_back(jobs_[s].w.id);
  return ids;
}

// ---- The public face -------------------------------------------------------------------------

EventScheduler::EventScheduler(const Input& input) : impl_(std::make_unique<Impl>(input)) {}
EventScheduler::~EventScheduler() = default;
EventScheduler::EventScheduler(EventScheduler&&) noexcept = default;
EventScheduler& EventScheduler::operator=(EventScheduler&&) noexcept = default;

EventDecisions EventScheduler::Start(Timestamp now) { return impl_->Start(now); }
Result<EventDecisions> EventScheduler::Submit(Workload workload, Timestamp now) {
  return impl_->Submit(std::move(workload), now);
}
Result<EventDecisions> EventScheduler::Complete(std::string_view id, Timestamp now,
                                                Finished::Outcome outcome) {
  return impl_->Complete(id, now, outcome);
}
Result<EventDecisions> EventScheduler::Cancel(std::string_view id, Timestamp now) {
  return impl_->Cancel(id, now);
}
EventDecisions EventScheduler::Resync(std::vector<Queue> queues, Timestamp now) {
  return impl_->Resync(std::move(queues), now);
}
const ClusterSnapshot& EventScheduler::cluster() const { return impl_->cluster(); }
size_t EventScheduler::pending_count() const { return impl_->pending_count(); }
size_t EventScheduler::parked_count() const { return impl_->parked_count(); }
size_t EventScheduler::running_count() const { return impl_->running_count(); }
int64_t EventScheduler::usage(uint32_t q) const { return impl_->usage(q); }
std::optional<HeldReservation> EventScheduler::reservation() const { return impl_->reservation(); }
std::vector<std::string> EventScheduler::PendingInOrder() const { return impl_->PendingInOrder(); }

}  // namespace hangar::scheduling
