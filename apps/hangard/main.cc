// hangard: the Hangar control plane. Composition root only: read the configuration, build the
// components in dependency order (store -> identity -> services -> gateway -> server), run until
// SIGINT/SIGTERM, shut down cleanly.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/crypto.h"
#include "common/logging.h"
#include "config/config.h"
#include "fleet/fleet_service.h"
#include "gateway/gateway.h"
#include "gateway/static_files.h"
#include "http/server.h"
#include "identity/authenticator.h"
#include "monitoring/alert_service.h"
#include "monitoring/metric_hub.h"
#include "monitoring/metrics_service.h"
#include "monitoring/monitoring_loop.h"
#include "routes/routes.h"
#include "store/repos.h"
#include "store/store.h"
#include "telemetry/hangard_metrics.h"
#include "workloads/job_service.h"
#include "workloads/scheduler_loop.h"

extern char** environ;

namespace hangar {
namespace {

namespace fs = std::filesystem;

int Fail(const Error& error) {
  std::cerr << "hangard: " << error.message() << "\n";
  for (const auto& v : error.violations())
    std::cerr << "  " << v.pointer << ": " << v.detail << "\n";
  if (!error.hint().empty()) std::cerr << "hint: " << error.hint() << "\n";
  return 2;
}

// Writes `content` to `path` durably with mode 0600 from the first byte: a temporary file,
// fsync, rename, fsync of the directory.
Status WriteSecretFile(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return std::unexpected(Error::Internal("cannot create " + tmp.string()));
  std::string data = content + "\n";
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) return std::unexpected(Error::Internal("cannot write " + path.string()));
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Ok();
}

// 32 random bytes, base64url, in a 0600 file: created on first start, read afterwards.
Result<std::string> LoadOrCreateServerSecret(const fs::path& path) {
  if (fs::exists(path)) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    auto secret = Base64UrlDecode(text);
    if (!secret || secret->size() != 32) {
      return std::unexpected(Error::Invalid(path.string() + " is not a Hangar server secret")
                                 .Hint("restore the original file; a new one cannot open the "
                                       "signing keys sealed with the old one"));
    }
    return *secret;
  }
  std::string secret = RandomBytes(32);
  HANGAR_TRY(WriteSecretFile(path, Base64UrlEncode(secret)));
  spdlog::info("created the server secret {}", fs::absolute(path).string());
  return secret;
}

fs::path DefaultWebDir(const char* argv0) {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = fs::absolute(argv0);
  return exe.parent_path().parent_path() / "share" / "web";
}

// Periodic control-loop work until Stop(): marks silent nodes unreachable, purges expired
// idempotency keys. Runs on its own thread; the store calls block.
class Reconciler {
 public:
  Reconciler(fleet::FleetService& fleet, identity::TokenService& tokens, store::Store& store,
             const Clock& clock, Micros tick)
      : fleet_(fleet), tokens_(tokens), store_(store), clock_(clock), tick_(tick) {}
  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    Timestamp next_purge = clock_.Now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      if (auto r = fleet_.MarkUnreachableNodes(); !r) {
        spdlog::warn("reconciler: {}", r.error().ToString());
      }
      if (clock_.Now() >= next_purge) {
        auto cutoff = clock_.Now() - std::chrono::hours(24);
        (void)store_.Write([&](store::Tx& tx) -> Status {
          auto purged = store::PurgeIdempotencyKeys(tx, cutoff);
          if (!purged) return std::unexpected(purged.error());
          return Ok();
        });
        // Signing keys rotate on their schedule; checked hourly, cheap when not due.
        if (Status s = tokens_.RotateSigningKeyIfDue(); !s) {
          spdlog::warn("reconciler: signing key rotation: {}", s.error().ToString());
        }
        next_purge = clock_.Now() + std::chrono::hours(1);
      }
      lock.lock();
      wake_.wait_for(lock, tick_, [this] { return stopping_; });
    }
  }

  fleet::FleetService& fleet_;
  identity::TokenService& tokens_;
  store::Store& store_;
  const Clock& clock_;
  const Micros tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

int Run(int argc, char** argv) {
  CLI::App app{"hangard — the Hangar control plane"};
  app.set_version_flag("--version", std::string("hangard ") + HANGAR_VERSION);
  std::string config_file;
  app.add_option("-c,--config", config_file, "YAML configuration file")->envname("HANGAR_CONFIG");
  // Every setting is also a flag; flags override the environment, which overrides the file.
  std::map<std::string, std::string> flag_values;
  for (const auto& name : config::SettingNames()) {
    std::string flag = config::FlagNameOf(name);
    std::string help = "setting " + name + " (env " + config::EnvNameOf(name) + ")";
    if (config::IsBooleanSetting(name)) {
      // `--dev` alone means true; `--dev=false` is accepted too.
      app.add_flag(flag + "{true}", flag_values[name], help);
    } else {
      app.add_option(flag, flag_values[name], help);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  std::vector<config::SettingValue> values;
  if (!config_file.empty()) {
    auto from_file = config::ReadYamlFile(config_file);
    if (!from_file) return Fail(from_file.error());
    values = std::move(*from_file);
  }
  for (auto& v : config::ReadEnvironment(environ)) values.push_back(std::move(v));
  for (const auto& name : config::SettingNames()) {
    if (app.get_option(config::FlagNameOf(name))->count() > 0) {
      values.push_back({name, flag_values[name], "flag " + config::FlagNameOf(name)});
    }
  }
  auto cfg = config::BuildConfig(values);
  if (!cfg) return Fail(cfg.error());

  if (auto s = SetUpLogging(
          {cfg->log_format == "json" ? LogFormat::kJson : LogFormat::kText, cfg->log_level});
      !s) {
    return Fail(s.error());
  }

  // The wall clock, or (tests, demos) one that starts at `clock_start` and runs at its rate.
  SystemClock wall_clock;
  std::optional<OffsetClock> offset_clock;
  if (!cfg->clock_start.empty()) {
    offset_clock.emplace(*ParseRfc3339(cfg->clock_start));
    spdlog::warn("clock_start: the server's clock starts at {}, not at the wall clock's time",
                 cfg->clock_start);
  }
  const Clock& clock = offset_clock ? static_cast<const Clock&>(*offset_clock) : wall_clock;
  std::error_code ec;
  // A directory we create holds the admin key: private from the start. One the user names that
  // already exists is left as it is.
  bool created = fs::create_directories(cfg->data_dir, ec);
  if (ec) {
    return Fail(Error::Invalid("cannot create data_dir " + cfg->data_dir + ": " + ec.message())
                    .Field("data_dir", "must be a writable directory"));
  }
  if (created) ::chmod(cfg->data_dir.c_str(), 0700);

  // ---- Prometheus metrics (GET /metrics): hangard's own families, filled by the components
  // they are handed to; modules with per-object series add collectors to metrics_registry.
  telemetry::Registry metrics_registry;
  telemetry::HangardMetrics hangard_metrics(metrics_registry, HANGAR_VERSION);
  // ---- end of metrics

  auto store = store::OpenStore(
      {.url = cfg->database, .pool_size = cfg->db_pool_size, .metrics = &hangard_metrics.store});
  if (!store) return Fail(store.error());
  spdlog::info("store: {} ready",
               cfg->database.starts_with("sqlite:") ? cfg->database : std::string("postgresql"));

  fs::path key_file = fs::path(cfg->data_dir) / "admin-api-key";
  auto bootstrap = identity::BootstrapFirstOrganisation(
      **store, clock, [&](const std::string& key) { return WriteSecretFile(key_file, key); });
  if (!bootstrap) return Fail(bootstrap.error());
  if (*bootstrap) {
    spdlog::info("first start: created organisation 'default'; admin API key written to {}",
                 fs::absolute(key_file).string());
  } else if (fs::exists(key_file)) {
    spdlog::info("admin API key: {}", fs::absolute(key_file).string());
  }

  identity::Authenticator authenticator(**store, clock, cfg->auth_cache_ttl);
  identity::Authorizer authorizer(**store, clock, cfg->auth_cache_ttl);
  std::string public_url = cfg->public_url;
  if (public_url.empty()) public_url = "http://" + cfg->listen;
  identity::DirectoryService directory(**store, clock, authorizer, authenticator,
                                       {.public_url = public_url});
  identity::AccessService access(**store, clock, authorizer, authenticator);
  // The server secret seals the OAuth signing keys in the store; replicas share the file.
  fs::path secret_file = cfg->auth_secret_file.empty() ? fs::path(cfg->data_dir) / "server-secret"
                                                       : fs::path(cfg->auth_secret_file);
  auto server_secret = LoadOrCreateServerSecret(secret_file);
  if (!server_secret) return Fail(server_secret.error());
  identity::TokenService tokens(**store, clock, authenticator, *server_secret, public_url,
                                {.cache_ttl = cfg->auth_cache_ttl});
  if (Status s = tokens.RotateSigningKeyIfDue(); !s) return Fail(s.error());
  fleet::FleetService fleet(**store, clock, authenticator,
                            {.heartbeat_interval = cfg->heartbeat_interval,
                             .node_unreachable_after = cfg->node_unreachable_after,
                             .auto_cordon_unhealthy = cfg->auto_cordon_unhealthy});

  // Workloads: the scheduler loop wakes on submits and run ends; agents long-poll for their
  // assignments and are woken through the node signals.
  // Each waiting long poll holds a worker thread: at most half of them may wait, so requests
  // always have workers left. Agents beyond that poll once a second.
  int workers = cfg->worker_threads > 0 ? cfg->worker_threads : http::DefaultWorkerThreads();
  workloads::NodeSignals node_signals(std::max(1, workers / 2));
  workloads::QueueBoard queue_board;
  workloads::OutputBell output_bell;  // wakes the followers of a workload's logs
  workloads::SchedulerLoop* scheduler_ptr = nullptr;
  workloads::JobService jobs(
      **store, clock, authorizer, node_signals, queue_board,
      [&] {
        if (scheduler_ptr != nullptr) scheduler_ptr->Wake();
      },
      {}, &output_bell);
  workloads::InstanceService instances(**store, clock, authorizer, node_signals, queue_board,
                                       [&] {
                                         if (scheduler_ptr != nullptr) scheduler_ptr->Wake();
                                       },
                                       {.default_lifetime = cfg->instance_default_lifetime,
                                        .min_lifetime = cfg->instance_min_lifetime,
                                        .max_lease = cfg->instance_max_lease,
                                        .expiry_warning = cfg->instance_expiry_warning});
  workloads::ScheduleService schedules(**store, clock, authorizer, jobs, [&] {
    if (scheduler_ptr != nullptr) scheduler_ptr->Wake();
  });
  // Fleet monitoring: the GPUs' samples and roll-ups, charged to the project whose work holds
  // each GPU as the scheduler loop's last pass saw it.
  workloads::GpuHolders gpu_holders;
  monitoring::MetricHub metric_hub(**store, clock, gpu_holders,
                                   {.raw_retention = cfg->metrics_raw_retention,
                                    .minute_retention = cfg->metrics_minute_retention,
                                    .hour_retention = cfg->metrics_hour_retention});
  monitoring::MetricsService metrics(**store, clock, authorizer, metric_hub, gpu_holders);
  monitoring::AlertService alerts(**store, clock, metric_hub, gpu_holders);
  // /metrics: every GPU's latest sample under DCGM-exporter names, and the ingest counters.
  metrics_registry.AddCollector([&metric_hub](std::string& out) {
    metric_hub.WritePrometheus(out);
    auto c = metric_hub.counters();
    using telemetry::MetricType;
    telemetry::AppendHeader(out, "hangar_gpu_metric_points_accepted_total",
                            "GPU samples taken in from agents.", MetricType::kCounter);
    telemetry::AppendSample(out, "hangar_gpu_metric_points_accepted_total", {},
                            static_cast<double>(c.points_accepted));
    telemetry::AppendHeader(out, "hangar_gpu_metric_points_ignored_total",
                            "GPU samples ignored: unknown GPU, or too old or too new.",
                            MetricType::kCounter);
    telemetry::AppendSample(out, "hangar_gpu_metric_points_ignored_total", {},
                            static_cast<double>(c.points_ignored));
    telemetry::AppendHeader(out, "hangar_gpu_metric_agent_dropped_total",
                            "GPU samples agents dropped while hangard was unreachable.",
                            MetricType::kCounter);
    telemetry::AppendSample(out, "hangar_gpu_metric_agent_dropped_total", {},
                            static_cast<double>(c.agent_dropped));
    telemetry::AppendHeader(out, "hangar_gpu_metric_open_buckets",
                            "1-minute metric buckets not yet written to the store.",
                            MetricType::kGauge);
    telemetry::AppendSample(out, "hangar_gpu_metric_open_buckets", {},
                            static_cast<double>(c.pending_buckets));
  });
  workloads::SchedulerLoop scheduler(
      **store, clock, jobs, &instances, &schedules, node_signals, queue_board,
      {.holders = &gpu_holders,
       .requeue_on_unhealthy_gpu = cfg->unhealthy_gpu_policy == "requeue",
       .metrics = &hangard_metrics.scheduler});
  scheduler_ptr = &scheduler;
  workloads::SnapshotFiles snapshot_files(cfg->snapshot_dir.empty()
                                              ? fs::path(cfg->data_dir) / "snapshots"
                                              : fs::path(cfg->snapshot_dir));
  if (auto ready = snapshot_files.Init(); !ready) return Fail(ready.error());
  workloads::SnapshotService snapshots(**store, clock, authorizer, node_signals, snapshot_files,
                                       [&] { scheduler.Wake(); });

  gateway::Router router;
  events::EventService events(**store);
  routes::AddFleetRoutes(router, fleet);
  routes::AddMetricRoutes(router, metrics);
  routes::AddAlertRoutes(router, alerts);
  routes::AddWorkloadRoutes(router, jobs);
  routes::AddScheduleRoutes(router, schedules);
  routes::AddInstanceRoutes(router, instances);
  routes::AddSnapshotRoutes(router, instances, snapshots);
  workloads::ApprovalService approvals(**store, clock, authorizer, [&] { scheduler.Wake(); });
  routes::AddApprovalRoutes(router, approvals);
  workloads::LogSearch log_search(**store, authorizer);
  routes::AddLogRoutes(router, jobs, instances, output_bell, log_search);
  workloads::QuotaService quotas(**store, clock, authorizer, [&] { scheduler.Wake(); });
  routes::AddQuotaRoutes(router, quotas);
  workloads::ReservationService reservations(**store, clock, authorizer, queue_board,
                                             [&] { scheduler.Wake(); });
  routes::AddReservationRoutes(router, reservations);
  routes::AddEventRoutes(router, events);
  routes::AddIdentityRoutes(router, directory, access, clock);
  routes::AddOAuthRoutes(router, tokens, directory);
  fs::path web_dir = cfg->web_dir.empty() ? DefaultWebDir(argv[0]) : fs::path(cfg->web_dir);
  std::shared_ptr<const gateway::StaticFiles> docs;
  if (auto loaded = gateway::StaticFiles::Load(web_dir / "docs"); loaded) {
    docs = std::make_shared<const gateway::StaticFiles>(std::move(*loaded));
  } else {
    spdlog::warn("no docs page: {} (build with the web assets, or set web_dir)",
                 loaded.error().message());
  }
  routes::AddPrometheusRoute(router, metrics_registry);
  routes::AddSystemRoutes(router, **store, docs, HANGAR_VERSION);

  gateway::Gateway gateway(
      router, authenticator, authorizer, &tokens, **store, clock,
      {.cors_allowed_origins = cfg->cors_allowed_origins,
       .dev_mode = cfg->dev,
       .per_key = {"per-key", static_cast<double>(cfg->rate_limit_per_key),
                   cfg->rate_limit_per_key_burst},
       .per_user = {"per-user", static_cast<double>(cfg->rate_limit_per_user),
                    cfg->rate_limit_per_user_burst},
       .per_team = {"per-team", static_cast<double>(cfg->rate_limit_per_team),
                    cfg->rate_limit_per_team_burst},
       .per_project = {"per-project", static_cast<double>(cfg->rate_limit_per_project),
                       cfg->rate_limit_per_project_burst},
       .per_address = {"per-address", static_cast<double>(cfg->rate_limit_per_address),
                       cfg->rate_limit_per_address_burst},
       .audit = cfg->audit,
       .org_settings_ttl = cfg->auth_cache_ttl,
       .metrics = &hangard_metrics.http});
  auto listen = config::ParseListen(cfg->listen);
  http::Server server(
      {.host = listen->first,
       .port = listen->second,
       .io_threads = cfg->io_threads,
       .worker_threads = cfg->worker_threads,
       .header_limit = static_cast<size_t>(cfg->max_header_bytes),
       .body_limit = static_cast<size_t>(cfg->max_body_bytes),
       .request_timeout =
           std::chrono::duration_cast<std::chrono::milliseconds>(cfg->request_timeout),
       .idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg->idle_timeout),
       .shutdown_grace = std::chrono::duration_cast<std::chrono::milliseconds>(cfg->shutdown_grace),
       .on_stop = [&node_signals] { node_signals.Shutdown(); }},
      gateway);
  auto bound = server.Start();
  if (!bound) return Fail(bound.error());
  if (cfg->public_url.empty()) {
    directory.SetPublicUrl("http://" + *bound);
    tokens.SetIssuer("http://" + *bound);
  }
  spdlog::info("hangard {} listening on http://{} (API /api/v1, docs /docs)", HANGAR_VERSION,
               *bound);

  Micros tick = std::min(cfg->heartbeat_interval, cfg->node_unreachable_after / 4);
  Reconciler reconciler(fleet, tokens, **store, clock, tick);
  reconciler.Start();
  // Alert rules are evaluated on the monitoring loop's tick, after each metric flush.
  monitoring::MonitoringLoop monitoring_loop(metric_hub, cfg->monitoring_tick,
                                             {[&alerts]() -> Status {
                                               HANGAR_TRY(alerts.Evaluate());
                                               return Ok();
                                             }});
  monitoring_loop.Start();
  scheduler.Start();
  server.StopOnSignals();
  // Written last: whoever waits for the port file (scripts, tests) may signal us at once.
  if (!cfg->port_file.empty()) {
    std::ofstream(cfg->port_file) << *bound << "\n";
  }
  server.Run();
  scheduler.Stop();
  monitoring_loop.Stop();
  reconciler.Stop();
  spdlog::info("hangard stopped");
  return 0;
}

}  // namespace
}  // namespace hangar

int main(int argc, char** argv) { return hangar::Run(argc, argv); }
