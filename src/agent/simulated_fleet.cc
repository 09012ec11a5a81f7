#include "agent/simulated_fleet.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace hangar::agent {

using std::chrono::microseconds;

namespace {
constexpr int kMaxNodes = 100'000;
// Registrations start spread over at most this long (5 ms apart below it).
constexpr auto kRegistrationSpread = std::chrono::seconds(10);
constexpr auto kRegistrationGap = std::chrono::milliseconds(5);
}  // namespace

Result<std::unique_ptr<SimulatedFleet>> SimulatedFleet::Create(FleetOptions options,
                                                               const Clock& clock) {
  if (options.nodes < 1 || options.nodes > kMaxNodes) {
    return std::unexpected(Error::Invalid("--nodes must be 1.." + std::to_string(kMaxNodes)));
  }
  if (options.workers < 1) return std::unexpected(Error::Invalid("workers must be at least 1"));
  HANGAR_TRY(ParseSimulationSpec(options.simulate));
  std::unique_ptr<SimulatedFleet> fleet(new SimulatedFleet(std::move(options), clock));
  const FleetOptions& o = fleet->options_;
  for (int i = 0; i < o.nodes; ++i) {
    auto node = std::make_unique<Node>();
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "-%05d", i + 1);
    node->name = o.name_prefix + suffix;
    HANGAR_ASSIGN_OR_RETURN(node->probe,
                            SimulatedProbe::CreateWithSyntheticLoad(o.simulate, node->name, clock));
    if (o.fault_file) node->probe->WatchFaultFile(*o.fault_file);
    node->monitor = std::make_unique<GpuHealthMonitor>(*node->probe, o.health);
    node->shipper = std::make_unique<MetricsShipper>(o.shipper, *node->monitor, clock);
    Node* raw = node.get();
    AgentOptions agent_options{
        .server_url = o.server_url,
        .join_token = o.join_token.empty() ? std::nullopt : std::optional(o.join_token),
        .name = node->name,
        .hostname = node->name,
        .labels = o.labels,
        .state_dir = o.state_dir / node->name,
        .heartbeat_interval_override = o.heartbeat_interval_override,
        .seed = o.seed + static_cast<uint64_t>(i),
        .on_identity =
            [raw](const std::optional<AgentState>& identity) {
              raw->registered = identity.has_value();
              raw->shipper->SetIdentity(identity);
            },
    };
    node->agent = std::make_unique<Agent>(std::move(agent_options), *node->monitor, clock);
    // Runs on the sampler thread: the node's next agent step becomes due now.
    size_t index = fleet->nodes_.size();
    SimulatedFleet* self = fleet.get();
    node->monitor->OnHealthChange([raw, self, index] {
      raw->agent->RequestHeartbeat();
      self->Wake(index);
    });
    fleet->nodes_.push_back(std::move(node));
  }
  return fleet;
}

SimulatedFleet::SimulatedFleet(FleetOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

SimulatedFleet::~SimulatedFleet() = default;

FleetProgress SimulatedFleet::progress() const {
  FleetProgress p;
  for (const auto& n : nodes_) {
    p.registered += n->registered ? 1 : 0;
    p.heartbeats += n->agent->stats().heartbeats;
    p.agent_failures += n->agent->stats().failures;
    p.points_sent += n->shipper->stats().points_sent;
    p.points_dropped += n->shipper->stats().points_dropped;
    p.batches_sent += n->shipper->stats().batches_sent;
  }
  return p;
}

void SimulatedFleet::Schedule(size_t i, SteadyTime at) {
  Node& node = *nodes_[i];
  ++node.generation;  // any older entry of this node is now stale
  bool earliest = queue_.empty() || at < queue_.top().at;
  queue_.push({at, i, node.generation});
  if (earliest) due_changed_.notify_one();
}

void SimulatedFleet::Wake(size_t i) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (nodes_[i]->held) {
    nodes_[i]->wake = true;  // its worker puts it back due now
  } else {
    Schedule(i, std::chrono::steady_clock::now());
  }
}

Result<SimulatedFleet::SteadyTime> SimulatedFleet::RunDue(Node& node, client::ApiClient& client) {
  SteadyTime now = std::chrono::steady_clock::now();
  if (now >= node.next_step || node.agent->heartbeat_requested()) {
    HANGAR_ASSIGN_OR_RETURN(microseconds wait, node.agent->Step(client));
    node.next_step = std::chrono::steady_clock::now() + wait;
  }
  if (now >= node.next_flush) {
    node.next_flush = std::chrono::steady_clock::now() + node.shipper->Flush(client);
  }
  return std::min(node.next_step, node.next_flush);
}

void SimulatedFleet::WorkLoop(client::ApiClient& client, StopSignal& stop) {
  std::unique_lock lock(mu_);
  for (;;) {
    due_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Due due = queue_.top();
    Node& node = *nodes_[due.node];
    if (due.generation != node.generation) {
      queue_.pop();  // superseded by a newer entry
      continue;
    }
    if (due.at > std::chrono::steady_clock::now()) {
      // Woken when stopping or when an earlier time is pushed.
      due_changed_.wait_until(lock, due.at);
      continue;
    }
    queue_.pop();
    node.held = true;
    lock.unlock();
    auto next = RunDue(node, client);
    lock.lock();
    node.held = false;
    if (!next) {
      if (!fatal_) fatal_ = next.error();
      stopping_ = true;
      failed_ = true;
      due_changed_.notify_all();
      sampler_wake_.notify_all();
      lock.unlock();
      stop.Notify();  // Run() waits on `stop`; never take its lock while holding mu_
      return;
    }
    Schedule(due.node, node.wake ? std::chrono::steady_clock::now() : *next);
    node.wake = false;
  }
}

void SimulatedFleet::SampleLoop() {
  const auto period = options_.shipper.sample_period;
  const auto n = static_cast<int64_t>(nodes_.size());
  SteadyTime round_start = std::chrono::steady_clock::now();
  for (;;) {
    for (int64_t i = 0; i < n; ++i) {
      SteadyTime due = round_start + period * i / n;
      {
        std::unique_lock lock(mu_);
        if (sampler_wake_.wait_until(lock, due, [this] { return stopping_; })) return;
      }
      nodes_[static_cast<size_t>(i)]->shipper->SampleOnce();
    }
    round_start += period;
    SteadyTime now = std::chrono::steady_clock::now();
    if (round_start + period < now) {
      // More than a period behind (an overloaded host): skip ahead rather than sample in bursts.
      spdlog::warn("load mode: sampling {} nodes takes longer than the sample period", n);
      round_start = now;
    }
  }
}

Status SimulatedFleet::Run(StopSignal& stop, std::chrono::seconds progress_every) {
  std::vector<std::unique_ptr<client::ApiClient>> clients;
  for (int w = 0; w < options_.workers; ++w) {
    HANGAR_ASSIGN_OR_RETURN(auto client,
                            client::ApiClient::Create({.base_url = options_.server_url,
                                                       .timeout = options_.timeout,
                                                       .user_agent = std::string("hangar-agent/") +
                                                                     HANGAR_VERSION + " (load)"}));
    clients.push_back(std::move(client));
  }
  SteadyTime start = std::chrono::steady_clock::now();
  auto n = static_cast<int64_t>(nodes_.size());
  auto gap = std::min<microseconds>(kRegistrationGap, microseconds(kRegistrationSpread) / n);
  {
    std::lock_guard lock(mu_);
    for (int64_t i = 0; i < n; ++i) {
      Node& node = *nodes_[static_cast<size_t>(i)];
      node.next_step = start + gap * i;
      node.next_flush = start + options_.shipper.flush_period * (i + 1) / n;
      Schedule(static_cast<size_t>(i), std::min(node.next_step, node.next_flush));
    }
  }
  spdlog::info("load mode: {} simulated nodes of {} against {} with {} connections", nodes_.size(),
               options_.simulate, options_.server_url, options_.workers);
  std::thread sampler([this] { SampleLoop(); });
  std::vector<std::thread> workers;
  for (auto& client : clients) {
    workers.emplace_back([this, &client, &stop] { WorkLoop(*client, stop); });
  }
  auto failed = [this] { return failed_.load(); };
  while (stop.WaitFor(progress_every, failed) && !failed()) {
    FleetProgress p = progress();
    spdlog::info(
        "load mode: {}/{} nodes registered, {} heartbeats, {} metric points sent, {} "
        "dropped",
        p.registered, nodes_.size(), p.heartbeats, p.points_sent, p.points_dropped);
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  due_changed_.notify_all();
  sampler_wake_.notify_all();
  for (auto& client : clients) client->Abort();
  for (auto& w : workers) w.join();
  sampler.join();
  std::lock_guard lock(mu_);
  if (fatal_) return std::unexpected(*fatal_);
  spdlog::info("load mode stopped");
  return Ok();
}

}  // namespace hangar::agent
