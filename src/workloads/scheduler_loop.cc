#include "workloads/scheduler_loop.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <unordered_map>

#include "common/json_codec.h"
#include "scheduling/scheduler.h"
#include "store/quota_repos.h"
#include "store/read_all.h"
#include "store/repos.h"
#include "store/reservation_repos.h"
#include "store/snapshot_repos.h"
#include "workloads/gpu_topology.h"
#include "workloads/instance_service.h"
#include "workloads/job_spec.h"
#include "workloads/queue_standing.h"
#include "workloads/reservation_service.h"
#include "workloads/run_lifecycle.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using JobState = store::WorkloadState;
namespace sch = scheduling;

// The label every node carries with its own id (not a user label: users cannot set it).
constexpr const char kNodeIdLabel[] = "hangar.dev/node-id";
// The fair-share queue of reservation holders and of work running inside a reservation: under
// the root, without limits, since a reservation's GPUs are charged to its project as a whole
// (its project's and team's quota shrink by them while it is active).
constexpr const char kReservationQueue[] = "reservations";
// Holders set GPUs aside before anything else: above every priority class.
constexpr int32_t kHolderPriority = 1 << 30;

// One organisation's view for a pass, and the maps back from the core's indexes to records.
struct OrgSnapshot {
  OrgId org;
  sch::Input input;
  std::vector<store::WorkloadRecord> pending;      // parallel to input.pending
  std::vector<store::WorkloadRecord> running;      // parallel to input.running
  std::vector<std::vector<int64_t>> gpu_index_of;  // [node][position] -> the GPU's index
  // Metering: the catalogue's price per GPU type, and each GPU's type ("node/index" -> name).
  std::unordered_map<std::string, std::pair<int64_t, std::string>> prices;
  std::unordered_map<std::string, std::string> gpu_type_of;
  // Advance reservations active now; per reservation, the GPUs still set aside for it (a lost
  // node or GPU, or one taken by other work, drops out) and whether that differs from the store.
  std::vector<store::ReservationRecord> reservations;
  std::vector<std::vector<api::ReservedGpu>> still_reserved;
  std::vector<bool> reserved_changed;
  // Parallel to input.pending: for a holder (one missing GPU of a reservation), the
  // reservation's index in `reservations`; -1 for real work.
  std::vector<int32_t> holder_of;
  // Why waiting work that names a reservation outside its window waits (by workload id).
  std::unordered_map<std::string, api::JobQueueInfo> outside_window;
  // Overage: whether some queue has an overage grace or an over_limit_since (then the pass runs
  // even with nothing pending, since running work may have to give GPUs back), and the scopes
  // whose recorded over_limit_since no queue of this pass covers (no work left: within).
  bool watch_overage = false;
  std::vector<std::string> stale_overage;
  // Running work to move off its node: the node is draining, or one of its GPUs turned
  // unhealthy. Stopped with `reason` and requeued (jobs) or placed again (instances).
  struct ToMove {
    std::string id;
    std::string reason;
    std::string message;
  };
  std::vector<ToMove> to_move;
};

// Which running work must leave its node now (see OrgSnapshot::to_move).
std::vector<OrgSnapshot::ToMove> WorkToMove(const std::vector<store::WorkloadRecord>& workloads,
                                            const std::vector<store::NodeRecord>& nodes,
                                            const std::vector<store::GpuRecord>& gpus,
                                            bool requeue_on_unhealthy_gpu, Timestamp now) {
  std::unordered_map<std::string, const store::NodeRecord*> node_of;
  for (const auto& n : nodes) node_of[n.id.str()] = &n;
  std::unordered_map<std::string, const store::GpuRecord*> unhealthy;  // "node/index"
  for (const auto& g : gpus) {
    if (g.state == api::GpuState::unhealthy) {
      unhealthy[g.node_id.str() + "/" + std::to_string(g.index)] = &g;
    }
  }
  std::vector<OrgSnapshot::ToMove> out;
  for (const auto& w : workloads) {
    if ((w.state != JobState::scheduled && w.state != JobState::running) || !w.node_id) continue;
    auto n = node_of.find(w.node_id->str());
    if (n == node_of.end()) continue;
    const store::NodeRecord& node = *n->second;
    if (node.drain_requested_at) {
      auto spec = SpecOf(w);
      bool preemptible = spec && spec->preemption.value_or(api::PreemptionPolicy::requeue) !=
                                     api::PreemptionPolicy::never;
      bool deadline_passed = node.drain_deadline && now >= *node.drain_deadline;
      if (preemptible || deadline_passed) {
        out.push_back({w.id, "node_drained",
                       "its node " + node.name + " is being drained" +
                           (preemptible ? "" : " and the drain's timeout passed") +
                           ": stopping to run elsewhere"});
      }
      continue;
    }
    if (!requeue_on_unhealthy_gpu) continue;
    for (int64_t index : w.gpu_indexes) {
      auto g = unhealthy.find(w.node_id->str() + "/" + std::to_string(index));
      if (g == unhealthy.end()) continue;
      std::string why;
      for (const auto& r : g->second->health_reasons) why += (why.empty() ? "" : ", ") + r;
      out.push_back({w.id, "gpu_unhealthy",
                     "GPU " + std::to_string(index) + " of node " + node.name +
                         " turned unhealthy" + (why.empty() ? "" : " (" + why + ")") +
                         ": stopping to run elsewhere"});
      break;
    }
  }
  return out;
}

// What the placed GPUs cost per hour (a share pays its share) and in which currency.
std::pair<int64_t, std::string> PriceOf(const OrgSnapshot& s, const std::string& node,
                                        const std::vector<int64_t>& gpu_indexes,
                                        int32_t gpu_milli) {
  int64_t total = 0;
  std::string currency;
  for (int64_t index : gpu_indexes) {
    auto type = s.gpu_type_of.find(node + "/" + std::to_string(index));
    if (type == s.gpu_type_of.end()) continue;
    auto price = s.prices.find(type->second);
    if (price == s.prices.end()) continue;
    total += price->second.first * gpu_milli / 1000;
    if (currency.empty()) currency = price->second.second;
  }
  return {total, currency};
}

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(OrgSnapshot& s) : s_(s) {}

  uint32_t Intern(const std::string& text) {
    auto [it, added] =
        strings_.try_emplace(text, static_cast<uint32_t>(s_.input.cluster.strings.size()));
    if (added) s_.input.cluster.strings.push_back(text);
    return it->second;
  }
  uint16_t TypeIndex(const std::string& name) {
    auto [it, added] =
        types_.try_emplace(name, static_cast<uint16_t>(s_.input.cluster.gpu_types.size()));
    if (added) s_.input.cluster.gpu_types.push_back(name);
    return it->second;
  }
  void SetQuotas(std::vector<store::QuotaRecord> quotas) {
    for (auto& q : quotas) quotas_.emplace(q.scope_id, std::move(q));
  }
  // The reservations active now. Call before any queue is made: their GPUs come off their
  // project's and team's quota.
  void SetReservations(std::vector<store::ReservationRecord> active) {
    s_.reservations = std::move(active);
    s_.still_reserved.assign(s_.reservations.size(), {});
    s_.reserved_changed.assign(s_.reservations.size(), false);
    for (size_t i = 0; i < s_.reservations.size(); ++i) {
      const auto& r = s_.reservations[i];
      reservation_index_[r.id] = i;
      reserved_milli_[r.project_id.str()] += r.gpus * 1000;
      reserved_milli_[r.team_id.str()] += r.gpus * 1000;
    }
  }
  const store::ReservationRecord* ActiveReservation(const std::string& id) const {
    auto it = reservation_index_.find(id);
    return it == reservation_index_.end() ? nullptr : &s_.reservations[it->second];
  }

  uint32_t ReservationQueue() {
    auto& queues = s_.input.queues;
    if (queues.empty()) queues.push_back(sch::Queue{.id = "root"});
    auto [it, added] = queue_index_.try_emplace(kReservationQueue, queues.size());
    if (added) queues.push_back(sch::Queue{.id = kReservationQueue, .parent = 0});
    return static_cast<uint32_t>(it->second);
  }

  // Gives the GPUs still set aside for each active reservation a type of their own
  // ("H100-80GB@rsv_…"), which only work naming the reservation asks for. A GPU drops out when
  // its node is gone, unschedulable or it is unhealthy, or when other work holds it. Call after
  // AddNodes and before any workload is added.
  void SetAside(const std::vector<store::WorkloadRecord>& workloads) {
    if (s_.reservations.empty()) return;
    std::unordered_map<std::string, std::string> held_by;  // "node/index" -> its reservation
    for (const auto& w : workloads) {
      if (!store::HoldsGpus(w.state) || !w.node_id) continue;
      auto spec = SpecOf(w);
      std::string in = spec && spec->reservation ? *spec->reservation : "";
      for (int64_t index : w.gpu_indexes) {
        held_by[w.node_id->str() + "/" + std::to_string(index)] = in;
      }
    }
    std::set<std::string> claimed;
    for (size_t i = 0; i < s_.reservations.size(); ++i) {
      const auto& r = s_.reservations[i];
      uint16_t own_type = TypeIndex(ReservedGpuType(r));
      for (const auto& g : r.reserved_gpus) {
        std::string key = g.node_id + "/" + std::to_string(g.index);
        sch::Gpu* gpu = FindGpu(g.node_id, g.index);
        auto holder = held_by.find(key);
        bool usable =
            gpu != nullptr && gpu->healthy && s_.input.cluster.gpu_types[gpu->type] == r.gpu_type &&
            (holder == held_by.end() || holder->second == r.id) && claimed.insert(key).second;
        if (!usable) continue;
        gpu->type = own_type;
        s_.still_reserved[i].push_back(g);
      }
      s_.reserved_changed[i] = s_.still_reserved[i].size() != r.reserved_gpus.size();
    }
  }

  // One holder per GPU each active reservation still misses: top priority, never preempted,
  // any GPU of the reservation's type. A placed holder's GPU is set aside from then on.
  void AddHolders() {
    for (size_t i = 0; i < s_.reservations.size(); ++i) {
      const auto& r = s_.reservations[i];
      auto missing = r.gpus - static_cast<int64_t>(s_.still_reserved[i].size());
      for (int64_t k = 0; k < missing; ++k) {
        sch::Workload holder{.id = r.id + "#" + std::to_string(k),
                             .queue = ReservationQueue(),
                             .priority = kHolderPriority,
                             .submitted_at = r.start_at,
                             .preemption = sch::PreemptionPolicy::kNever};
        holder.request.gpu_types.push_back(TypeIndex(r.gpu_type));
        s_.input.pending.push_back(std::move(holder));
        s_.pending.push_back(store::WorkloadRecord{.id = r.id, .kind = "reservation"});
        s_.holder_of.push_back(static_cast<int32_t>(i));
      }
    }
  }

  // The leaf of the fair-share tree that work `user` (its created_by) runs in `project` is
  // charged to: the project's queue, or, when the project's quota has a per-user limit, a queue
  // of the user under it with that limit ("usr_… in proj_…", as reasons name it).
  uint32_t QueueOf(const TeamId& team, const ProjectId& project, const std::string& user) {
    auto& queues = s_.input.queues;
    if (queues.empty()) queues.push_back(sch::Queue{.id = "root"});
    auto team_it = queue_index_.find(team.str());
    if (team_it == queue_index_.end()) {
      queues.push_back(WithQuota(sch::Queue{.id = team.str(), .parent = 0}));
      team_it = queue_index_.emplace(team.str(), queues.size() - 1).first;
    }
    auto project_it = queue_index_.find(project.str());
    if (project_it == queue_index_.end()) {
      queues.push_back(WithQuota(
          sch::Queue{.id = project.str(), .parent = static_cast<uint32_t>(team_it->second)}));
      project_it = queue_index_.emplace(project.str(), queues.size() - 1).first;
    }
    auto quota = quotas_.find(project.str());
    if (user.empty() || quota == quotas_.end() || !quota->second.gpu_limit_per_user) {
      return static_cast<uint32_t>(project_it->second);
    }
    std::string id = user + " in " + project.str();
    auto user_it = queue_index_.find(id);
    if (user_it == queue_index_.end()) {
      queues.push_back(sch::Queue{.id = id,
                                  .parent = static_cast<uint32_t>(project_it->second),
                                  .limit_milli = *quota->second.gpu_limit_per_user * 1000});
      user_it = queue_index_.emplace(id, queues.size() - 1).first;
    }
    return static_cast<uint32_t>(user_it->second);
  }

  // Call after every workload is added: what the pass needs to know about overage.
  void NoteOverage() {
    for (const sch::Queue& q : s_.input.queues) {
      s_.watch_overage = s_.watch_overage || q.overage_grace || q.over_limit_since;
    }
    for (const auto& [scope, quota] : quotas_) {
      if (quota.over_limit_since && !queue_index_.contains(scope)) {
        s_.stale_overage.push_back(scope);
      }
    }
  }

  void AddNodes(const std::vector<store::NodeRecord>& nodes,
                const std::vector<store::GpuRecord>& gpus) {
    std::map<std::string, std::vector<const store::GpuRecord*>> by_node;
    for (const auto& g : gpus) by_node[g.node_id.str()].push_back(&g);
    for (const auto& n : nodes) {
      node_index_[n.id.str()] = static_cast<uint32_t>(s_.input.cluster.nodes.size());
      sch::Node node{.id = n.id.str(),
                     // Nodes do not report CPU and memory yet: requests for them are not limited.
                     .cpu_milli_free = INT64_MAX / 4,
                     .memory_mib_free = INT64_MAX / 4,
                     .schedulable = n.state == api::NodeState::ready && !n.cordoned};
      for (const auto& [k, v] : n.labels) node.labels.push_back({Intern(k), Intern(v)});
      // Every node carries its id as a label, so work can be pinned to one (a migration).
      node.labels.push_back({Intern(kNodeIdLabel), Intern(n.id.str())});
      // A taint is an affinity group the node always "runs": work that does not tolerate it
      // gets that group as anti-affinity (WorkloadOf), so the core keeps it off the node.
      for (const auto& taint : n.taints) {
        uint32_t group = Intern("taint:" + taint.key + "=" + taint.value.value_or(""));
        node.groups.push_back(group);
        if (std::none_of(taint_groups_.begin(), taint_groups_.end(),
                         [&](const auto& tg) { return tg.first == group; })) {
          taint_groups_.emplace_back(group, taint);
        }
      }
      auto& list = by_node[n.id.str()];
      std::sort(list.begin(), list.end(),
                [](const auto* a, const auto* b) { return a->index < b->index; });
      std::vector<int64_t> indexes;
      std::vector<uint8_t> domains = NvlinkDomains(list);
      for (size_t i = 0; i < list.size(); ++i) {
        const store::GpuRecord* g = list[i];
        node.gpus.push_back(sch::Gpu{
            .type = TypeIndex(g->gpu_type_name.empty() ? g->product_name : g->gpu_type_name),
            .memory_mib = static_cast<int32_t>(g->memory_mib),
            .healthy = g->state == api::GpuState::ready,
            .mig = g->mig_enabled,
            .nvlink_domain = domains[i]});
        indexes.push_back(g->index);
        if (auto cuda = ParseCudaVersion(g->cuda_version)) {
          node.cuda_version = std::max(node.cuda_version, *cuda);
        }
      }
      s_.gpu_index_of.push_back(std::move(indexes));
      s_.input.cluster.nodes.push_back(std::move(node));
    }
    real_types_.clear();
    for (size_t t = 0; t < s_.input.cluster.gpu_types.size(); ++t) {
      real_types_.push_back(static_cast<uint16_t>(t));
    }
  }

  sch::Workload WorkloadOf(const store::WorkloadRecord& r, const api::SubmitJobRequest& spec) {
    // Inside an active reservation: its own queue and only its GPUs.
    const store::ReservationRecord* inside =
        spec.reservation ? ActiveReservation(*spec.reservation) : nullptr;
    sch::Workload w{.id = r.id,
                    .queue = inside != nullptr ? ReservationQueue()
                                               : QueueOf(r.team_id, r.project_id, r.created_by),
                    .priority = PriorityValue(r.priority_class),
                    .submitted_at = r.created_at};
    if (spec.time_limit_seconds) w.run_time_limit = std::chrono::seconds(*spec.time_limit_seconds);
    const api::JobResources res = spec.resources.value_or(api::JobResources{});
    int64_t gpus = res.gpus.value_or(1);
    w.request.gpus_per_node = static_cast<int32_t>(gpus);
    w.request.gpu_milli = gpus == 0 ? 0 : static_cast<int32_t>(res.gpu_milli.value_or(1000));
    if (res.gpu_type) w.request.gpu_types.push_back(TypeIndex(*res.gpu_type));
    w.request.min_gpu_memory_mib = static_cast<int32_t>(res.min_gpu_memory_mib.value_or(0));
    if (res.min_cuda_version) {
      w.request.min_cuda_version = ParseCudaVersion(*res.min_cuda_version).value_or(0);
    }
    if (inside != nullptr) {
      w.request.gpu_types = {TypeIndex(ReservedGpuType(*inside))};
    } else if (!s_.reservations.empty() && gpus > 0 && w.request.gpu_types.empty()) {
      // "Any type" means any type of the fleet, not a reservation's set-aside GPUs.
      w.request.gpu_types = real_types_;
    }
    w.request.cpu_milli = res.cpu_milli.value_or(0);
    w.request.memory_mib = res.memory_mib.value_or(0);
    for (const auto& [k, v] : spec.node_selector.value_or(api::Labels{})) {
      w.request.required_labels.push_back({Intern(k), Intern(v)});
    }
    for (const auto& [group, taint] : taint_groups_) {
      if (!api::Tolerates(spec.tolerations.value_or(std::vector<api::Toleration>{}), taint)) {
        w.request.anti_affinity.push_back(group);
      }
    }
    if (r.kind == "instance") {
      if (auto pinned = SettingsOf(r).pinned_node) {
        w.request.required_labels.push_back({Intern(kNodeIdLabel), Intern(*pinned)});
      }
    }
    switch (spec.preemption.value_or(api::PreemptionPolicy::requeue)) {
      case api::PreemptionPolicy::never:
        w.preemption = sch::PreemptionPolicy::kNever;
        break;
      case api::PreemptionPolicy::requeue:
        w.preemption = sch::PreemptionPolicy::kRequeue;
        break;
      case api::PreemptionPolicy::checkpoint:
        w.preemption = sch::PreemptionPolicy::kCheckpoint;
        break;
    }
    w.checkpoint_grace = std::chrono::seconds(spec.checkpoint_grace_seconds.value_or(0));
    w.held = r.state == JobState::held;
    if (spec.start_after) w.not_before = ParseRfc3339(*spec.start_after);
    if (spec.deadline) w.deadline = ParseRfc3339(*spec.deadline);
    for (const auto& d : spec.dependencies.value_or(std::vector<api::JobDependency>{})) {
      sch::Dependency dep{.on = d.job};
      switch (d.condition.value_or(api::DependencyCondition::after_ok)) {
        case api::DependencyCondition::after_ok:
          dep.condition = sch::Dependency::Condition::kAfterOk;
          break;
        case api::DependencyCondition::after_any:
          dep.condition = sch::Dependency::Condition::kAfterAny;
          break;
        case api::DependencyCondition::after_failure:
          dep.condition = sch::Dependency::Condition::kAfterFailure;
          break;
      }
      w.dependencies.push_back(std::move(dep));
    }
    return w;
  }

  // Takes the run's GPUs off the free capacity; false when its node or GPUs are unknown.
  bool AddRunning(const store::WorkloadRecord& r, const api::SubmitJobRequest& spec) {
    if (!r.node_id) return false;
    auto it = node_index_.find(r.node_id->str());
    if (it == node_index_.end()) return false;
    uint32_t node = it->second;
    sch::Allocation a{.workload = WorkloadOf(r, spec),
                      .started_at = r.started_at.value_or(r.scheduled_at.value_or(r.created_at)),
                      .terminating = r.state == JobState::stopping};
    sch::Allocation::Slice slice{.node = node, .gpu_milli = a.workload.request.gpu_milli};
    const auto& indexes = s_.gpu_index_of[node];
    for (int64_t gpu : r.gpu_indexes) {
      auto pos = std::find(indexes.begin(), indexes.end(), gpu);
      if (pos == indexes.end()) return false;
      auto p = static_cast<uint16_t>(pos - indexes.begin());
      slice.gpus.push_back(p);
      auto& g = s_.input.cluster.nodes[node].gpus[p];
      g.free_milli = std::max(0, g.free_milli - slice.gpu_milli);
    }
    a.slices.push_back(std::move(slice));
    s_.input.running.push_back(std::move(a));
    s_.running.push_back(r);
    return true;
  }

 private:
  // The fair-share node `queue` with its scope's quota (guarantee, limit, weight, overage grace),
  // if it has one, less what its active reservations hold.
  sch::Queue WithQuota(sch::Queue queue) const {
    auto it = quotas_.find(queue.id);
    if (it == quotas_.end()) return queue;
    int64_t reserved = 0;
    if (auto r = reserved_milli_.find(queue.id); r != reserved_milli_.end()) reserved = r->second;
    queue.guaranteed_milli = std::max<int64_t>(0, it->second.gpus * 1000 - reserved);
    if (it->second.gpu_limit) {
      queue.limit_milli = std::max<int64_t>(0, *it->second.gpu_limit * 1000 - reserved);
    }
    queue.weight = static_cast<double>(it->second.weight);
    if (it->second.overage_grace_seconds) {
      queue.overage_grace = std::chrono::seconds(*it->second.overage_grace_seconds);
    }
    queue.over_limit_since = it->second.over_limit_since;
    return queue;
  }

  sch::Gpu* FindGpu(const std::string& node_id, int64_t index) {
    auto node = node_index_.find(node_id);
    if (node == node_index_.end()) return nullptr;
    auto& n = s_.input.cluster.nodes[node->second];
    if (!n.schedulable) return nullptr;
    const auto& indexes = s_.gpu_index_of[node->second];
    auto pos = std::find(indexes.begin(), indexes.end(), index);
    if (pos == indexes.end()) return nullptr;
    return &n.gpus[pos - indexes.begin()];
  }

  OrgSnapshot& s_;
  std::unordered_map<std::string, store::QuotaRecord> quotas_;
  std::unordered_map<std::string, uint32_t> strings_;
  // Node taints in this snapshot, by the affinity group standing for each (AddNodes).
  std::vector<std::pair<uint32_t, api::NodeTaint>> taint_groups_;
  std::unordered_map<std::string, uint16_t> types_;
  std::unordered_map<std::string, size_t> queue_index_;
  std::unordered_map<std::string, uint32_t> node_index_;
  std::unordered_map<std::string, size_t> reservation_index_;
  std::unordered_map<std::string, int64_t> reserved_milli_;  // scope id -> milli-GPUs reserved
  std::vector<uint16_t> real_types_;                         // the fleet's own GPU types
};

std::string DescribePlacement(const OrgSnapshot& s, const sch::Placement& p) {
  std::string out;
  for (const auto& slice : p.slices) {
    out += "placed on " + s.input.cluster.nodes[slice.node].id;
    if (!slice.gpus.empty()) {
      out += " GPU";
      out += slice.gpus.size() > 1 ? "s " : " ";
      for (size_t i = 0; i < slice.gpus.size(); ++i) {
        if (i > 0) out += ",";
        out += std::to_string(s.gpu_index_of[slice.node][slice.gpus[i]]);
      }
    }
  }
  if (p.borrowed) out += " (borrowing idle capacity beyond its project's guarantee)";
  if (p.backfilled) out += " (backfilled: it ends before the reserved work needs the GPUs)";
  return out;
}

}  // namespace

SchedulerLoop::SchedulerLoop(store::Store& store, const Clock& clock, JobService& jobs,
                             InstanceService* instances, ScheduleService* schedules,
                             NodeSignals& signals, QueueBoard& board, SchedulerLoopOptions options)
    : store_(store),
      clock_(clock),
      jobs_(jobs),
      instances_(instances),
      schedules_(schedules),
      signals_(signals),
      board_(board),
      options_(std::move(options)) {}

SchedulerLoop::~SchedulerLoop() { Stop(); }

void SchedulerLoop::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SchedulerLoop::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SchedulerLoop::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void SchedulerLoop::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    woken_ = false;
    lock.unlock();
    if (auto r = RunOnce(); !r) spdlog::warn("scheduler: {}", r.error().ToString());
    lock.lock();
    // Real time: the loop paces itself on the wall clock; what it decides uses clock_.
    Micros wait = options_.tick;
    if (wake_at_) {
      wait = std::min(
          wait, std::max(Micros(0), std::chrono::duration_cast<Micros>(*wake_at_ - clock_.Now())));
    }
    wake_.wait_for(lock, wait, [this] { return stopping_ || woken_; });
  }
}

Result<PassSummary> SchedulerLoop::RunOnce() {
  telemetry::ScopedTimer timed(options_.metrics ? &options_.metrics->pass_duration : nullptr);
  PassSummary summary;
  if (auto r = jobs_.HandleLostNodes(); !r)
    spdlog::warn("scheduler: lost nodes: {}", r.error().ToString());
  if (auto r = jobs_.EnforceTimeLimits(); !r) {
    spdlog::warn("scheduler: time limits: {}", r.error().ToString());
  }
  if (instances_ != nullptr) {
    if (auto r = instances_->EnforceLeases(); !r) {
      spdlog::warn("scheduler: instance leases: {}", r.error().ToString());
    }
  }
  // Before placement, so a run's job is placed in this same pass.
  if (schedules_ != nullptr) {
    if (auto r = schedules_->RunDue(); !r) {
      spdlog::warn("scheduler: schedules: {}", r.error().ToString());
    }
  }

  Timestamp now = clock_.Now();
  std::vector<OrgSnapshot> snapshots;
  std::optional<Timestamp> reservation_change;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    snapshots.clear();
    HANGAR_ASSIGN_OR_RETURN(auto unfinished, store::ListActiveWorkloads(tx));
    std::map<std::string, std::vector<store::WorkloadRecord>> by_org;
    for (auto& w : unfinished) by_org[w.org_id.str()].push_back(std::move(w));
    HANGAR_ASSIGN_OR_RETURN(auto active_reservations, store::ListReservationsActiveAt(tx, now));
    std::map<std::string, std::vector<store::ReservationRecord>> reservations_by_org;
    for (auto& r : active_reservations) {
      by_org[r.org_id.str()];  // an organisation with an active reservation gets a pass
      reservations_by_org[r.org_id.str()].push_back(std::move(r));
    }
    HANGAR_ASSIGN_OR_RETURN(reservation_change, store::NextReservationChange(tx, now));
    // An organisation with a scope recorded over its limit gets a pass, to clear it.
    HANGAR_ASSIGN_OR_RETURN(auto over_limit, store::ListOrgsOverQuotaLimit(tx));
    for (const auto& org : over_limit) by_org[org.str()];
    for (auto& [org_text, workloads] : by_org) {
      OrgId org = OrgId::FromTrusted(org_text);
      OrgSnapshot& s = snapshots.emplace_back();
      s.org = org;
      s.input.now = now;
      s.input.options = options_.scheduling;
      SnapshotBuilder builder(s);
      HANGAR_ASSIGN_OR_RETURN(auto quotas, store::ListQuotas(tx, org));
      builder.SetQuotas(std::move(quotas));
      builder.SetReservations(std::move(reservations_by_org[org_text]));
      HANGAR_ASSIGN_OR_RETURN(auto nodes,
                              store::ReadAll<store::NodeRecord>(tx, org, store::ListNodes));
      HANGAR_ASSIGN_OR_RETURN(auto gpus,
                              store::ReadAll<store::GpuRecord>(tx, org, store::ListGpus));
      builder.AddNodes(nodes, gpus);
      s.to_move = WorkToMove(workloads, nodes, gpus, options_.requeue_on_unhealthy_gpu, now);
      builder.SetAside(workloads);
      HANGAR_ASSIGN_OR_RETURN(auto types,
                              store::ReadAll<store::GpuTypeRecord>(tx, org, store::ListGpuTypes));
      for (const auto& t : types) s.prices[t.name] = {t.hourly_price_micros, t.currency};
      for (const auto& g : gpus) {
        s.gpu_type_of[g.node_id.str() + "/" + std::to_string(g.index)] =
            g.gpu_type_name.empty() ? g.product_name : g.gpu_type_name;
      }
      std::set<std::string> unfinished_ids;
      for (const auto& w : workloads) unfinished_ids.insert(w.id);
      // Reservations named by waiting work outside their window (read once each).
      std::map<std::string, std::optional<store::ReservationRecord>> inactive;
      auto outside_window = [&](const std::string& id) -> Result<std::optional<api::JobQueueInfo>> {
        if (builder.ActiveReservation(id) != nullptr) return std::nullopt;
        auto it = inactive.find(id);
        if (it == inactive.end()) {
          HANGAR_ASSIGN_OR_RETURN(auto r, store::GetReservation(tx, org, id));
          it = inactive.emplace(id, std::move(r)).first;
        }
        const auto& r = it->second;
        api::JobQueueInfo info{.evaluated_at = FormatRfc3339(now)};
        if (r && !r->cancelled_at && now < r->start_at) {
          info.reason = "reservation_not_started";
          info.message =
              "waits for its reservation " + id + ", which starts at " + FormatRfc3339(r->start_at);
          info.estimated_start = FormatRfc3339(r->start_at);
        } else {
          info.reason = "reservation_ended";
          info.message = "its reservation " + id +
                         (r && r->cancelled_at ? " was cancelled"
                                               : " ended" + (r ? " at " + FormatRfc3339(r->end_at)
                                                               : std::string())) +
                         ": cancel it, or submit it again without the reservation";
        }
        return info;
      };
      std::set<std::string> outside;  // dependencies on finished work
      for (const auto& w : workloads) {
        auto spec = SpecOf(w);
        if (!spec) {
          spdlog::error("scheduler: job {} has an unreadable spec; skipped", w.id);
          continue;
        }
        if (w.state == JobState::pending || w.state == JobState::held) {
          if (w.kind == "instance") {
            // An instance that starts from a snapshot waits until the snapshot is saved.
            auto restore = SettingsOf(w).restore_snapshot;
            if (restore) {
              HANGAR_ASSIGN_OR_RETURN(auto snap, store::GetSnapshot(tx, org, *restore));
              if (!snap || snap->state != api::SnapshotState::ready) continue;
            }
          }
          s.input.pending.push_back(builder.WorkloadOf(w, *spec));
          s.pending.push_back(w);
          s.holder_of.push_back(-1);
          if (spec->reservation) {
            HANGAR_ASSIGN_OR_RETURN(auto waits, outside_window(*spec->reservation));
            if (waits) {
              // Kept in the pass (others may depend on it) but not started.
              s.input.pending.back().held = true;
              if (w.state == JobState::pending) s.outside_window[w.id] = std::move(*waits);
            }
          }
          for (const auto& d : s.input.pending.back().dependencies) {
            if (!unfinished_ids.contains(d.on)) outside.insert(d.on);
          }
        } else if (!builder.AddRunning(w, *spec)) {
          spdlog::warn("scheduler: job {} holds GPUs its node no longer reports", w.id);
        }
      }
      for (const auto& id : outside) {
        HANGAR_ASSIGN_OR_RETURN(auto other, store::GetWorkload(tx, org, id));
        if (!other) continue;
        if (other->state == JobState::held) {
          // Held work is not read for the pass; one that others depend on is, so they wait
          // for it rather than being told it is unknown.
          if (auto spec = SpecOf(*other)) {
            s.input.pending.push_back(builder.WorkloadOf(*other, *spec));
            s.pending.push_back(std::move(*other));
            s.holder_of.push_back(-1);
          }
          continue;
        }
        sch::Finished f{.id = id};
        if (other->state == JobState::succeeded) {
          f.outcome = sch::Finished::Outcome::kSucceeded;
        } else if (other->state == JobState::failed) {
          f.outcome = sch::Finished::Outcome::kFailed;
        } else if (other->state == JobState::cancelled) {
          f.outcome = sch::Finished::Outcome::kCancelled;
        } else {
          continue;
        }
        s.input.finished.push_back(std::move(f));
      }
      builder.AddHolders();
      builder.NoteOverage();
      // The store keeps no "borrowed" flag: derive it, so quota reclaim can find its victims.
      MarkBorrowed(s.input);
    }
    return Ok();
  }));

  if (options_.metrics) {
    size_t waiting = 0, running = 0;
    for (const OrgSnapshot& s : snapshots) {
      for (int32_t holder : s.holder_of) waiting += holder < 0 ? 1 : 0;
      running += s.running.size();
    }
    options_.metrics->waiting_workloads.Set(static_cast<double>(waiting));
    options_.metrics->running_workloads.Set(static_cast<double>(running));
  }
  if (options_.holders) {
    for (const OrgSnapshot& s : snapshots) {
      GpuHolders::Entries holders;
      for (const store::WorkloadRecord& r : s.running) {
        for (int64_t gpu : r.gpu_indexes) {
          holders[GpuHolders::GpuKey(r.node_id->str(), gpu)] = {
              .workload_id = r.id, .project_id = r.project_id.str(), .team_id = r.team_id.str()};
        }
      }
      options_.holders->Publish(s.org.str(), std::move(holders));
    }
  }

  // A reservation's window opening or closing changes what may run.
  std::optional<Timestamp> next_wake = reservation_change;
  for (OrgSnapshot& s : snapshots) {
    bool rebind = std::find(s.reserved_changed.begin(), s.reserved_changed.end(), true) !=
                  s.reserved_changed.end();
    sch::Decisions decisions;
    if (!s.pending.empty() || s.watch_overage) decisions = sch::Schedule(s.input);
    if (decisions.wake_at && (!next_wake || *decisions.wake_at < *next_wake)) {
      next_wake = decisions.wake_at;
    }
    bool overage_changes = !decisions.preemptions.empty() || !decisions.overage_started.empty() ||
                           !decisions.overage_ended.empty() || !s.stale_overage.empty();
    if (s.pending.empty() && !rebind && !overage_changes && s.to_move.empty()) {
      board_.Publish(s.org.str(), {});
      continue;
    }
    std::set<std::string> rung;
    int placed = 0, preempted = 0, conflicts = 0, set_aside = 0;
    Status applied = store_.Write([&](store::Tx& tx) -> Status {
      rung.clear();
      placed = preempted = conflicts = set_aside = 0;
      // GPUs placed holders got, by reservation (index into s.reservations).
      std::map<size_t, std::vector<api::ReservedGpu>> got;
      for (const auto& p : decisions.placements) {
        const store::WorkloadRecord& snap = s.pending[p.workload];
        if (int32_t holder = s.holder_of[p.workload]; holder >= 0) {
          const auto& slice = p.slices.front();
          for (uint16_t pos : slice.gpus) {
            got[static_cast<size_t>(holder)].push_back(
                api::ReservedGpu{.node_id = s.input.cluster.nodes[slice.node].id,
                                 .index = s.gpu_index_of[slice.node][pos]});
          }
          continue;
        }
        HANGAR_ASSIGN_OR_RETURN(auto current, store::GetWorkload(tx, s.org, snap.id));
        if (!current || current->version != snap.version || current->state != JobState::pending) {
          ++conflicts;
          continue;
        }
        store::WorkloadRecord& r = *current;
        const auto& slice = p.slices.front();
        r.node_id = NodeId::FromTrusted(s.input.cluster.nodes[slice.node].id);
        r.gpu_indexes.clear();
        for (uint16_t pos : slice.gpus) r.gpu_indexes.push_back(s.gpu_index_of[slice.node][pos]);
        std::tie(r.hourly_price_micros, r.currency) = PriceOf(
            s, r.node_id->str(), r.gpu_indexes, s.input.pending[p.workload].request.gpu_milli);
        ++r.attempt;
        r.scheduled_at = now;
        r.desired = "run";
        r.exit_code.reset();
        r.signal.reset();
        HANGAR_TRY(TransitionWorkload(tx, r, JobState::scheduled, "scheduled",
                                      DescribePlacement(s, p), now, ""));
        rung.insert(r.node_id->str());
        ++placed;
      }
      for (const auto& move : s.to_move) {
        HANGAR_ASSIGN_OR_RETURN(auto current, store::GetWorkload(tx, s.org, move.id));
        if (!current ||
            (current->state != JobState::scheduled && current->state != JobState::running)) {
          continue;
        }
        HANGAR_TRY(RequestStop(tx, *current, move.reason, move.message, now, ""));
        if (current->node_id) rung.insert(current->node_id->str());
        ++preempted;
      }
      for (const auto& pre : decisions.preemptions) {
        const store::WorkloadRecord& snap = s.running[pre.running];
        HANGAR_ASSIGN_OR_RETURN(auto current, store::GetWorkload(tx, s.org, snap.id));
        if (!current ||
            (current->state != JobState::scheduled && current->state != JobState::running)) {
          continue;
        }
        store::WorkloadRecord& r = *current;
        r.desired = "stop";
        r.stop_reason = "preempted";
        r.stop_requested_at = now;
        std::string message = pre.over_limit ? "preempted: " + pre.reason.message
                                             : "preempted for " + s.pending[pre.for_workload].id +
                                                   ": " + pre.reason.message;
        HANGAR_TRY(TransitionWorkload(tx, r, JobState::stopping, "preempted", message, now, ""));
        if (r.node_id) rung.insert(r.node_id->str());
        ++preempted;
      }
      // Overage: when each scope went over its limit (its grace starts), and those within again.
      for (uint32_t q : decisions.overage_started) {
        HANGAR_TRY(store::SetQuotaOverLimitSince(tx, s.org, s.input.queues[q].id, now));
      }
      for (uint32_t q : decisions.overage_ended) {
        HANGAR_TRY(store::SetQuotaOverLimitSince(tx, s.org, s.input.queues[q].id, std::nullopt));
      }
      for (const auto& scope : s.stale_overage) {
        HANGAR_TRY(store::SetQuotaOverLimitSince(tx, s.org, scope, std::nullopt));
      }
      for (size_t i = 0; i < s.reservations.size(); ++i) {
        auto more = got.find(i);
        if (!s.reserved_changed[i] && more == got.end()) continue;
        HANGAR_ASSIGN_OR_RETURN(auto current,
                                store::GetReservation(tx, s.org, s.reservations[i].id));
        if (!current || current->version != s.reservations[i].version || current->cancelled_at) {
          ++conflicts;
          continue;
        }
        current->reserved_gpus = s.still_reserved[i];
        if (more != got.end()) {
          current->reserved_gpus.insert(current->reserved_gpus.end(), more->second.begin(),
                                        more->second.end());
          set_aside += static_cast<int>(more->second.size());
        }
        current->updated_at = now;
        HANGAR_TRY(store::UpdateReservation(tx, *current));
      }
      return Ok();
    });
    if (!applied) return std::unexpected(applied.error());
    for (const auto& node : rung) signals_.Ring(node);
    summary.placed += placed;
    summary.preempted += preempted;
    summary.conflicts += conflicts;
    summary.waiting += static_cast<int>(decisions.waiting.size());
    // GPUs just set aside take their reservation's work in the very next pass.
    if (set_aside > 0) next_wake = now;

    QueueBoard::Entries entries;
    const QueueStandings standings(s.input);
    std::unordered_map<uint32_t, std::pair<std::vector<api::FairShareStanding>,
                                           std::vector<api::BorrowedCapacity>>>
        standing_of;
    std::unordered_map<uint32_t, Timestamp> estimates;
    for (const auto& res : decisions.reservations) estimates[res.workload] = res.start;
    int64_t position = 0;
    std::string evaluated = FormatRfc3339(now);
    for (const auto& [index, reason] : decisions.waiting) {
      if (int32_t holder = s.holder_of[index]; holder >= 0) {
        // A reservation still setting GPUs aside: why its first missing GPU waits.
        entries.try_emplace(s.reservations[static_cast<size_t>(holder)].id,
                            api::JobQueueInfo{.reason = std::string(sch::ReasonName(reason.code)),
                                              .message = reason.message,
                                              .evaluated_at = evaluated});
        continue;
      }
      if (auto outside = s.outside_window.find(s.pending[index].id);
          outside != s.outside_window.end()) {
        entries.emplace(outside->first, std::move(outside->second));
        continue;
      }
      api::JobQueueInfo info{.reason = std::string(sch::ReasonName(reason.code)),
                             .message = reason.message,
                             .evaluated_at = evaluated};
      if (s.pending[index].state == JobState::pending) info.position = ++position;
      if (auto it = estimates.find(index); it != estimates.end()) {
        info.estimated_start = FormatRfc3339(it->second);
      }
      // The same for all the waiting work of a queue: computed once per queue.
      uint32_t queue = s.input.pending[index].queue;
      auto [standing, added] = standing_of.try_emplace(queue);
      if (added) {
        standing->second = {standings.StandingOf(queue), standings.BorrowersAgainst(queue)};
      }
      info.fair_share = standing->second.first;
      info.borrowed_by = standing->second.second;
      entries.emplace(s.pending[index].id, std::move(info));
    }
    board_.Publish(s.org.str(), std::move(entries));
  }
  {
    std::lock_guard lock(mutex_);
    wake_at_ = next_wake;
  }
  return summary;
}

}  // namespace hangar::workloads
