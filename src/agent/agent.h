// Agent: the node agent's main loop — register this host with hangard, then heartbeat its GPU
// inventory until told to stop.
//
//                       saved state for this server?
//   start ──────────────────────┬────────────── yes ─────────────┐
//                               no                               v
//                               v            201          +-------------+
//                        +-------------+ ---------------> | heartbeating | <-+ 200: wait interval
//                        | registering |   (save state)   +-------------+ --+
//                        +-------------+ <--------------- 401/404: credential revoked (clear
//                          |        ^       state; only with a join token, else exit with error)
//     401/403/4xx: exit ---+        |
//     with error                    +-- transport error / 5xx / 429: back off, retry
//
//   Transitions: Register() for registering -> heartbeating, Heartbeat() for each beat,
//   HandleRevoked() for heartbeating -> registering. In every state Stop() ends Run() with Ok at
//   the next wait or between calls (an in-flight HTTP call is bounded by the client's timeout).
//   RequestHeartbeat() (GPU health changed) cuts the wait between beats short.
//
// The loop is made of steps: Step() registers or heartbeats once and says how long to wait
// before the next. Run() drives them on one thread with its own client; the load mode
// (simulated_fleet.h) drives the steps of many agents from a small thread pool instead.
//
// Invariants: in `heartbeating` a node id and credential are known and saved in the state dir;
// transport failures never end the loop, they back off exponentially (capped, with jitter);
// one registration sequence reuses one Idempotency-Key so a retried POST cannot register twice.
//
// Thread-safety: Run() or Step() on one thread at a time; RequestHeartbeat() and stats() from
// any thread; StopSignal::Stop() from any thread (a signal handler thread, a test).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "agent/gpu_probe.h"
#include "agent/state.h"
#include "api/types.h"
#include "client/api_client.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::agent {

// An interruptible wait: Stop() wakes every WaitFor at once and makes later ones return
// immediately.
class StopSignal {
 public:
  void Stop();
  bool stopped() const;
  // Waits `d` (real time). False when stopped before or during the wait.
  bool WaitFor(std::chrono::microseconds d);
  // Waits `d` or until `until()` is true (checked under the signal's lock at the start and after
  // each Notify()). False when stopped before or during the wait.
  bool WaitFor(std::chrono::microseconds d, const std::function<bool()>& until);
  // Wakes every WaitFor so it checks its `until` again. Set what `until` reads before calling.
  void Notify();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
};

struct AgentOptions {
  std::string server_url;
  std::optional<std::string> join_token;  // needed to register (first start, or re-register)
  std::string name;                       // node name (default: hostname)
  std::string hostname;
  api::Labels labels;
  std::filesystem::path state_dir;
  std::string agent_version = HANGAR_VERSION;
  // Used when the server does not say (heartbeat_interval_seconds == 0).
  std::chrono::microseconds default_heartbeat_interval = std::chrono::seconds(15);
  // Overrides the server's interval; for tests and debugging.
  std::optional<std::chrono::microseconds> heartbeat_interval_override;
  std::chrono::microseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::microseconds backoff_max = std::chrono::seconds(60);
  uint64_t seed = 0;  // for backoff jitter
  // Called (on the agent's thread) whenever the node's identity is known or lost: after
  // resuming saved state, after registering, and with nullopt when the credential was revoked.
  // The workload runner uses it to talk to the server as this node.
  std::function<void(const std::optional<AgentState>&)> on_identity;
};

// What the loop has done so far, for tests and logs. Atomic so other threads may watch.
struct AgentStats {
  std::atomic<int> registrations{0};
  std::atomic<int> heartbeats{0};
  std::atomic<int> failures{0};  // transport errors, 5xx and 429 answers
};

class Agent {
 public:
  // An agent for Run(). `client`, `probe`, `clock` and `stop` must outlive the agent.
  Agent(AgentOptions options, client::ApiClient& client, GpuProbe& probe, const Clock& clock,
        StopSignal& stop);
  // An agent driven by Step() alone (the load mode). `probe` and `clock` must outlive it.
  Agent(AgentOptions options, GpuProbe& probe, const Clock& clock);

  // Runs until `stop` fires (Ok) or a fatal error: an invalid join token, a revoked credential
  // without a join token to re-register, an unwritable state dir. Only for an agent made with a
  // client and a StopSignal.
  Status Run();

  // One step of the state machine over `client`: on the first call, resume the saved state;
  // then register or heartbeat once (or handle a revoked credential). Returns how long to wait
  // before the next step: the rest of the heartbeat interval, or a backoff delay after a
  // failure. Errors are fatal, as for Run().
  Result<std::chrono::microseconds> Step(client::ApiClient& client);

  // Makes the next heartbeat due now (GPU health changed). From any thread; Run() wakes up.
  void RequestHeartbeat();
  bool heartbeat_requested() const { return heartbeat_requested_.load(); }

  // May be read from any thread.
  const AgentStats& stats() const { return stats_; }

 private:
  enum class Outcome { kContinue, kRetry, kRevoked };

  Status Resume();
  Result<Outcome> Register(client::ApiClient& client);
  Result<Outcome> Heartbeat(client::ApiClient& client);
  Status HandleRevoked();
  std::vector<api::AgentGpu> CurrentInventory();
  // The next backoff delay (counting the failure).
  std::chrono::microseconds BackOff();
  std::chrono::microseconds Interval(int64_t server_seconds) const;

  AgentOptions options_;
  client::ApiClient* client_;  // null: driven by Step() only
  GpuProbe& probe_;
  const Clock& clock_;
  StopSignal* stop_;  // null: driven by Step() only
  bool resumed_ = false;
  std::atomic<bool> heartbeat_requested_{false};
  std::optional<AgentState> state_;
  std::string idempotency_key_;  // of the registration in progress
  std::chrono::microseconds interval_;
  int consecutive_failures_ = 0;
  std::vector<api::AgentGpu> last_inventory_;
  std::mt19937_64 rng_;
  AgentStats stats_;
};

}  // namespace hangar::agent
