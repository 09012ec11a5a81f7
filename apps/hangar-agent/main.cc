// hangar-agent: the node agent's composition root. Parses flags, sets up logging, builds the GPU
// probe (behind its health monitor), the API client, the metrics shipper, the workload runner
// and the agent loop, and runs them until SIGINT/SIGTERM. With --nodes N > 1 it runs the load
// mode (agent/simulated_fleet.h) instead.
#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/cgroups.h"
#include "agent/executor.h"
#include "agent/gpu_health.h"
#include "agent/gpu_probe.h"
#include "agent/metrics_shipper.h"
#include "agent/simulated_fleet.h"
#include "agent/state.h"
#include "agent/workload_runner.h"
#include "client/api_client.h"
#include "common/clock.h"
#include "common/json_codec.h"
#include "common/logging.h"

namespace {

int Fail(const hangar::Error& e) {
  std::cerr << "hangar-agent: " << e.message() << "\n";
  for (const auto& v : e.violations()) std::cerr << "  - " << v.pointer << ": " << v.detail << "\n";
  if (!e.hint().empty()) std::cerr << "Hint: " << e.hint() << "\n";
  return 1;
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hangar;
  CLI::App app{"hangar-agent: registers this host's GPUs with hangard and keeps them reported"};
  std::string server, join_token, join_token_file, simulate, name, state_dir, log_format = "text",
                                                                              log_level = "info";
  std::vector<std::string> labels;
  std::string cgroups_mode = "auto", cgroup_parent, simulate_faults;
  bool probe_only = false;
  int nodes = 1;
  double sample_period_s = 1, flush_period_s = 5;
  std::optional<size_t> metrics_buffer;
  app.set_version_flag("--version", std::string("hangar-agent ") + HANGAR_VERSION);
  app.add_option("--server", server, "hangard base URL, e.g. http://hangard:8080")
      ->envname("HANGAR_SERVER");
  app.add_option("--join-token", join_token, "join token for the first registration")
      ->envname("HANGAR_JOIN_TOKEN");
  app.add_option("--join-token-file", join_token_file, "read the join token from this file");
  app.add_option("--simulate", simulate,
                 "simulate GPUs instead of using NVML, e.g. 8xH100-80GB or 2xA100-80GB,4xL4");
  app.add_option("--name", name, "node name (default: the hostname)");
  app.add_option("--label", labels, "node label k=v (repeatable)");
  app.add_option("--state-dir", state_dir,
                 "where the node id and credential are kept (default "
                 "~/.local/state/hangar-agent)");
  app.add_option("--log-format", log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
  app.add_option("--cgroups", cgroups_mode,
                 "auto: each run in a cgroup with its CPU and memory limits where the host allows; "
                 "off: never")
      ->check(CLI::IsMember({"auto", "off"}));
  app.add_option("--cgroup-parent", cgroup_parent,
                 "cgroup under which runs' cgroups are made, e.g. /hangar (default: the agent's "
                 "own cgroup)");
  app.add_flag("--probe-only", probe_only, "print the GPU inventory and metrics as JSON and exit");
  app.add_option("--simulate-faults", simulate_faults,
                 "with --simulate: a JSON file of GPU faults, re-read when it changes, e.g. "
                 "{\"0\": [\"ecc\"], \"3\": [\"fell_off_bus\", \"overheating\"]}");
  const std::map<std::string, double> kSeconds{{"ms", 0.001}, {"s", 1}, {"m", 60}};
  app.add_option("--sample-period", sample_period_s, "how often GPUs are sampled (default 1s)")
      ->transform(CLI::AsNumberWithUnit(kSeconds))
      ->check(CLI::Range(0.01, 3600.0));
  app.add_option("--metrics-flush", flush_period_s,
                 "how often buffered GPU metrics are sent to hangard (default 5s)")
      ->transform(CLI::AsNumberWithUnit(kSeconds))
      ->check(CLI::Range(0.01, 3600.0));
  app.add_option("--metrics-buffer", metrics_buffer,
                 "GPU metric points kept while hangard is unreachable, oldest dropped first "
                 "(default 36000; per node and 1200 in load mode)")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  app.add_option("--nodes", nodes,
                 "load mode: simulate this many nodes (<name>-00001...) from one process; "
                 "needs --simulate")
      ->check(CLI::Range(1, 100'000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (auto s = SetUpLogging({.format = log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                             .level = log_level});
      !s) {
    return Fail(s.error());
  }
  if (name.empty()) name = Hostname();
  SystemClock clock;

  if (probe_only) {
    // No runs to measure: simulated GPUs report idle.
    auto probe = agent::NewGpuProbe(
        {.simulate = simulate, .node_name = name, .simulated_faults_file = simulate_faults}, clock);
    if (!probe) return Fail(probe.error());
    // Sampled first, so the inventory carries the health checks' verdict on that sample.
    agent::GpuHealthMonitor monitor(**probe);
    auto samples = monitor.Sample();
    auto gpus = monitor.Inventory();
    if (!gpus) return Fail(gpus.error());
    boost::json::object out;
    out["probe"] = monitor.name();
    out["gpus"] = json::Encode(*gpus);
    boost::json::array metrics;
    if (samples) {
      for (const auto& s : *samples) {
        boost::json::array xids;
        for (const auto& x : s.xids) {
          xids.push_back({{"t", FormatRfc3339(x.at)}, {"xid", x.xid}});
        }
        metrics.push_back(boost::json::object{{"index", s.index},
                                              {"uuid", s.uuid},
                                              {"lost", s.lost},
                                              {"utilization_percent", s.utilization_percent},
                                              {"memory_used_mib", s.memory_used_mib},
                                              {"temperature_c", s.temperature_c},
                                              {"power_milliwatts", s.power_milliwatts},
                                              {"sm_clock_mhz", s.sm_clock_mhz},
                                              {"ecc_sbe_total", s.ecc_sbe_total},
                                              {"ecc_dbe_total", s.ecc_dbe_total},
                                              {"throttle_reasons", s.throttle_reasons},
                                              {"xids", std::move(xids)},
                                              {"simulated", s.simulated}});
      }
    } else {
      spdlog::warn("{} probe: {}", monitor.name(), samples.error().ToString());
    }
    out["metrics"] = std::move(metrics);
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }

  if (server.empty()) {
    return Fail(Error::Invalid("no server given").Hint("pass --server URL or set HANGAR_SERVER"));
  }
  std::filesystem::path state_path =
      state_dir.empty() ? agent::DefaultStateDir() : std::filesystem::path(state_dir);
  if (!join_token_file.empty()) {
    std::ifstream in(join_token_file);
    if (!in) return Fail(Error::Invalid("cannot read --join-token-file " + join_token_file));
    std::getline(in, join_token);
    while (!join_token.empty() && std::isspace(static_cast<unsigned char>(join_token.back()))) {
      join_token.pop_back();
    }
  }
  api::Labels label_map;
  for (const auto& kv : labels) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(Error::Invalid("bad --label '" + kv + "'").Hint("use --label key=value"));
    }
    label_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto seconds = [](double s) {
    return std::chrono::microseconds(static_cast<int64_t>(s * 1'000'000));
  };
  agent::ShipperOptions shipper_options{.sample_period = seconds(sample_period_s),
                                        .flush_period = seconds(flush_period_s)};
  if (metrics_buffer) shipper_options.buffer_points = *metrics_buffer;
  if (nodes > 1 && simulate.empty()) {
    return Fail(Error::Invalid("--nodes needs --simulate")
                    .Hint("e.g. --simulate 8xH100-80GB --nodes 1250"));
  }

  // SIGINT/SIGTERM are blocked in every thread and taken synchronously by one waiter thread,
  // which asks the agent to stop; SIGUSR1 lets main end that thread when the agent exits first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  agent::StopSignal stop;
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR1) spdlog::info("received {}, stopping", strsignal(sig));
    stop.Stop();
  });
  auto end_signal_waiter = [&] {
    pthread_kill(signal_waiter.native_handle(), SIGUSR1);
    signal_waiter.join();
  };

  if (nodes > 1) {
    // Load mode: many simulated nodes, no workloads (agent/simulated_fleet.h).
    if (!metrics_buffer) shipper_options.buffer_points = 1200;
    auto fleet = agent::SimulatedFleet::Create(
        {.server_url = server,
         .join_token = join_token,
         .name_prefix = name,
         .nodes = nodes,
         .simulate = simulate,
         .state_dir = state_path,
         .labels = std::move(label_map),
         .fault_file = simulate_faults.empty()
                           ? std::nullopt
                           : std::optional<std::filesystem::path>(simulate_faults),
         .shipper = shipper_options,
         .seed = std::random_device{}()},
        clock);
    if (!fleet) {
      end_signal_waiter();
      return Fail(fleet.error());
    }
    Status result = (*fleet)->Run(stop);
    end_signal_waiter();
    if (!result) return Fail(result.error());
    return 0;
  }

  // Workloads run under <state dir>/workloads and survive an agent restart (Executor::Recover);
  // instances' workspaces live under <state dir>/workspaces, kept across their runs.
  // Each run in a cgroup of its own with its limits, where the host allows: said once here.
  auto cgroups =
      agent::CgroupManager::Create({.enabled = cgroups_mode != "off", .parent = cgroup_parent});
  if (cgroups->enforced()) {
    spdlog::info("cgroups: per-run CPU and memory limits are enforced with {}",
                 cgroups->description());
  } else {
    spdlog::warn("cgroups: {}", cgroups->description());
  }
  agent::Executor executor(state_path / "workloads", clock, cgroups.get());
  // Simulated GPUs measure the processes the executor placed on them.
  auto probe = agent::NewGpuProbe({.simulate = simulate,
                                   .node_name = name,
                                   .placements = &executor,
                                   .simulated_faults_file = simulate_faults},
                                  clock);
  if (!probe) {
    end_signal_waiter();
    return Fail(probe.error());
  }
  // The heartbeat loop and the metrics sampler share the probe through the health monitor.
  agent::GpuHealthMonitor monitor(**probe);
  client::ClientOptions client_options{.base_url = server,
                                       .timeout = std::chrono::seconds(10),
                                       .user_agent = std::string("hangar-agent/") + HANGAR_VERSION};
  auto client = client::ApiClient::Create(client_options);
  if (!client) {
    end_signal_waiter();
    return Fail(client.error());
  }
  agent::MetricsShipper shipper(shipper_options, monitor, clock);

  agent::WorkloadRunner runner({.server_url = server, .workspaces_root = state_path / "workspaces"},
                               executor, clock);
  if (Status s = runner.Start(); !s) {
    end_signal_waiter();
    return Fail(s.error());
  }

  agent::AgentOptions options{
      .server_url = server,
      .join_token = join_token.empty() ? std::nullopt : std::optional<std::string>(join_token),
      .name = name,
      .hostname = Hostname(),
      .labels = std::move(label_map),
      .state_dir = state_path,
      .seed = std::random_device{}(),
      .on_identity = [&runner, &shipper](const auto& identity) {
        runner.SetIdentity(identity);
        shipper.SetIdentity(identity);
      }};
  spdlog::info("hangar-agent {} starting: node {}, server {}, {} GPU probe", HANGAR_VERSION, name,
               server, (*probe)->name());
  agent::Agent agent(std::move(options), **client, monitor, clock, stop);
  // A GPU whose health changes is reported at once, not at the next heartbeat.
  monitor.OnHealthChange([&agent] { agent.RequestHeartbeat(); });
  if (Status s = shipper.Start(client_options); !s) {
    runner.Stop();
    end_signal_waiter();
    return Fail(s.error());
  }
  Status result = agent.Run();
  shipper.Stop();
  runner.Stop();
  end_signal_waiter();
  if (!result) return Fail(result.error());
  return 0;
}
