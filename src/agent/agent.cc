#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/crypto.h"

namespace hangar::agent {

using std::chrono::microseconds;

void StopSignal::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

bool StopSignal::WaitFor(microseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_; });
}

bool StopSignal::WaitFor(microseconds d, const std::function<bool()>& until) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopped_ || until(); });
  return !stopped_;
}

void StopSignal::Notify() {
  // Taking the lock orders this after a waiter's check of `until`, so the wake is not lost.
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

Agent::Agent(AgentOptions options, client::ApiClient& client, GpuProbe& probe, const Clock& clock,
             StopSignal& stop)
    : options_(std::move(options)),
      client_(&client),
      probe_(probe),
      clock_(clock),
      stop_(&stop),
      interval_(options_.default_heartbeat_interval),
      rng_(options_.seed) {}

Agent::Agent(AgentOptions options, GpuProbe& probe, const Clock& clock)
    : options_(std::move(options)),
      client_(nullptr),
      probe_(probe),
      clock_(clock),
      stop_(nullptr),
      interval_(options_.default_heartbeat_interval),
      rng_(options_.seed) {}

void Agent::RequestHeartbeat() {
  heartbeat_requested_ = true;
  if (stop_) stop_->Notify();
}

microseconds Agent::Interval(int64_t server_seconds) const {
  if (options_.heartbeat_interval_override) return *options_.heartbeat_interval_override;
  if (server_seconds > 0) return std::chrono::seconds(server_seconds);
  return options_.default_heartbeat_interval;
}

microseconds Agent::BackOff() {
  ++stats_.failures;
  // Capped exponential backoff with "equal jitter": half the delay fixed, half random, so a
  // fleet that lost the server together does not return in lock-step.
  int shift = std::min(consecutive_failures_++, 20);
  microseconds delay =
      std::min(options_.backoff_max, options_.backoff_initial * (int64_t{1} << shift));
  std::uniform_int_distribution<int64_t> jitter(0, delay.count() / 2);
  microseconds wait(delay.count() - delay.count() / 2 + jitter(rng_));
  spdlog::info("{}: retrying in {} ms", options_.name, wait.count() / 1000);
  return wait;
}

std::vector<api::AgentGpu> Agent::CurrentInventory() {
  auto gpus = probe_.Inventory();
  if (gpus) {
    last_inventory_ = *gpus;
    return std::move(*gpus);
  }
  // Keep reporting the GPUs we knew, as unhealthy: the server then takes them out of service
  // instead of forgetting them.
  spdlog::warn("{} probe failed: {}; reporting the last known GPUs as unhealthy", probe_.name(),
               gpus.error().ToString());
  std::vector<api::AgentGpu> out = last_inventory_;
  for (auto& g : out) {
    g.healthy = false;
    g.health_reasons = std::vector<std::string>{"probe_failed"};
  }
  return out;
}

Result<Agent::Outcome> Agent::Register(client::ApiClient& client) {
  if (!options_.join_token || options_.join_token->empty()) {
    return std::unexpected(
        Error::Unauthenticated("this node is not registered and no join token was given")
            .Hint("create one with `hangar join-tokens create` and pass --join-token"));
  }
  if (idempotency_key_.empty()) idempotency_key_ = Base64UrlEncode(RandomBytes(16));
  api::RegisterNodeRequest req{.name = options_.name,
                               .hostname = options_.hostname,
                               .agent_version = options_.agent_version,
                               .labels = options_.labels.empty()
                                             ? std::nullopt
                                             : std::optional<api::Labels>(options_.labels),
                               .gpus = CurrentInventory()};
  auto res = client.Call<api::RegisterNodeResponse>(client::HttpRequest{
      .method = "POST",
      .target = "/api/v1/nodes/register",
      .body = json::Serialize(req),
      .headers = {{"Idempotency-Key", idempotency_key_}},
      .token = *options_.join_token,
  });
  if (!res) {
    const auto& err = res.error();
    if (err.http_status == 0 || err.http_status >= 500 || err.http_status == 429) {
      spdlog::warn("registration with {} failed: {}", options_.server_url, err.error.ToString());
      return Outcome::kRetry;
    }
    // The join token is bad or expired, or the request was rejected: retrying cannot help.
    return std::unexpected(Error(err.error.code(), "registration rejected: " + err.error.message())
                               .Hint(err.error.hint().empty()
                                         ? "check the join token (`hangar join-tokens list`)"
                                         : err.error.hint()));
  }
  idempotency_key_.clear();
  ++stats_.registrations;
  AgentState state{.server_url = options_.server_url,
                   .node_id = res->node.id,
                   .node_name = res->node.name,
                   .credential = res->credential};
  HANGAR_TRY(SaveState(options_.state_dir, state));
  state_ = std::move(state);
  if (options_.on_identity) options_.on_identity(state_);
  interval_ = Interval(res->heartbeat_interval_seconds);
  spdlog::info("registered as node {} ({}) with {} GPUs; heartbeat every {} s", state_->node_id,
               state_->node_name, req.gpus.size(), interval_.count() / 1'000'000.0);
  return Outcome::kContinue;
}

Result<Agent::Outcome> Agent::Heartbeat(client::ApiClient& client) {
  api::HeartbeatRequest req{.agent_version = options_.agent_version, .gpus = CurrentInventory()};
  auto res = client.Call<api::HeartbeatResponse>(client::HttpRequest{
      .method = "POST",
      .target = "/api/v1/nodes/" + client::UrlEncode(state_->node_id) + "/heartbeat",
      .body = json::Serialize(req),
      .token = state_->credential,
  });
  if (!res) {
    const auto& err = res.error();
    if (err.http_status == 401 || err.http_status == 404) {
      spdlog::warn("server rejected node {}'s credential (HTTP {}): {}", state_->node_id,
                   err.http_status, err.error.message());
      return Outcome::kRevoked;
    }
    spdlog::warn("heartbeat to {} failed: {}", options_.server_url, err.error.ToString());
    return Outcome::kRetry;
  }
  ++stats_.heartbeats;
  microseconds interval = Interval(res->heartbeat_interval_seconds);
  if (interval != interval_) {
    spdlog::info("heartbeat interval is now {} s", interval.count() / 1'000'000.0);
    interval_ = interval;
  }
  spdlog::debug("heartbeat ok: node {} is {}", res->node.id, json::EnumName(res->node.state));
  return Outcome::kContinue;
}

Status Agent::HandleRevoked() {
  HANGAR_TRY(ClearState(options_.state_dir));
  state_.reset();
  if (options_.on_identity) options_.on_identity(state_);
  if (!options_.join_token || options_.join_token->empty()) {
    return std::unexpected(
        Error::Unauthenticated("the server revoked this node's credential (it may have been "
                               "re-registered elsewhere or deleted)")
            .Hint("restart the agent with --join-token to register it again"));
  }
  spdlog::info("registering again with the join token");
  return Ok();
}

Status Agent::Resume() {
  resumed_ = true;
  HANGAR_ASSIGN_OR_RETURN(auto saved, LoadState(options_.state_dir));
  if (saved && saved->server_url == options_.server_url) {
    state_ = std::move(saved);
    if (options_.on_identity) options_.on_identity(state_);
    spdlog::info("resuming as node {} ({}) from {}", state_->node_id, state_->node_name,
                 options_.state_dir.string());
  } else if (saved) {
    spdlog::info("saved state is for {}, not {}: registering anew", saved->server_url,
                 options_.server_url);
  }
  return Ok();
}

Result<microseconds> Agent::Step(client::ApiClient& client) {
  if (!resumed_) HANGAR_TRY(Resume());
  // This step is the beat a health change asked for; one asked during it gets another.
  heartbeat_requested_ = false;
  Timestamp started = clock_.Now();
  Outcome outcome;
  if (!state_) {
    HANGAR_ASSIGN_OR_RETURN(outcome, Register(client));
  } else {
    HANGAR_ASSIGN_OR_RETURN(outcome, Heartbeat(client));
  }
  switch (outcome) {
    case Outcome::kRetry:
      return BackOff();
    case Outcome::kRevoked:
      consecutive_failures_ = 0;
      HANGAR_TRY(HandleRevoked());
      return microseconds(0);
    case Outcome::kContinue:
      break;
  }
  consecutive_failures_ = 0;
  // The next beat is due one interval after this one started, however long the call took.
  microseconds elapsed = std::chrono::duration_cast<microseconds>(clock_.Now() - started);
  return std::max(microseconds(0), interval_ - elapsed);
}

Status Agent::Run() {
  HANGAR_CHECK(client_ && stop_, "Agent::Run needs an agent made with a client and a StopSignal");
  while (!stop_->stopped()) {
    HANGAR_ASSIGN_OR_RETURN(microseconds wait, Step(*client_));
    if (!stop_->WaitFor(wait, [this] { return heartbeat_requested_.load(); })) break;
  }
  spdlog::info("agent stopped");
  return Ok();
}

}  // namespace hangar::agent
