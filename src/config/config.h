// hangard's configuration: one struct, filled from a YAML file, then environment variables,
// then command-line flags (each later source overrides the earlier ones).
//
// Every setting has one name used in all three places: YAML key `log.level`, environment
// variable `HANGAR_LOG_LEVEL`, flag `--log-level`. Unknown YAML keys and bad values stop
// start-up with an error that names the setting and its source.
//
// Thread-safety: plain data; parse once at start-up.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace hangar::config {

struct DaemonConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string port_file;                  // where to write the bound HOST:PORT
  std::string data_dir = ".hangar";       // SQLite file, admin key file
  std::string database;                   // default: sqlite:<data_dir>/hangar.db
  std::string web_dir;                    // default: <exe dir>/../share/web
  std::string public_url;                 // how users reach hangard (links, OAuth issuer);
                                          // default: http://<listen address>
  bool audit = true;                      // append audit records for writes, denials, failures
  Micros auth_cache_ttl = std::chrono::seconds(10);  // how long revocations take on replicas
  std::string auth_secret_file;  // seals OAuth signing keys; default <data_dir>/server-secret
  std::string snapshot_dir;      // instance snapshot archives; default <data_dir>/snapshots
  std::string clock_start;       // RFC 3339: the server's clock starts there (tests, demos); empty:
                                 // the wall clock
  std::string log_format = "text";  // text | json
  std::string log_level = "info";
  int io_threads = 0;      // 0: one per core
  int worker_threads = 0;  // 0: max(4, 2 x cores)
  int db_pool_size = 8;
  int64_t max_body_bytes = 1 << 20;
  int64_t max_header_bytes = 16 << 10;
  Micros request_timeout = std::chrono::seconds(10);
  Micros idle_timeout = std::chrono::seconds(60);
  Micros shutdown_grace = std::chrono::seconds(10);
  Micros heartbeat_interval = std::chrono::seconds(10);
  Micros node_unreachable_after = std::chrono::seconds(40);
  // Fleet monitoring: how long each resolution of GPU metrics is kept, and health policy.
  Micros metrics_raw_retention = std::chrono::minutes(10);
  Micros metrics_minute_retention = std::chrono::hours(48);
  Micros metrics_hour_retention = std::chrono::hours(24 * 90);
  Micros monitoring_tick = std::chrono::seconds(5);  // metric flushes and alert evaluation
  bool auto_cordon_unhealthy = true;
  // What happens to work on a GPU that turns unhealthy: "requeue" (stop it; jobs go back to the
  // queue, instances restart elsewhere) or "keep" (let it run; no new work lands there).
  std::string unhealthy_gpu_policy = "requeue";
  // Instance leases (policy for every organisation).
  Micros instance_default_lifetime = std::chrono::hours(8);
  Micros instance_min_lifetime = std::chrono::seconds(60);
  Micros instance_max_lease = std::chrono::hours(24 * 30);
  Micros instance_expiry_warning = std::chrono::minutes(15);
  std::vector<std::string> cors_allowed_origins;
  // Token buckets: requests per second and burst, per API key and per client address
  // (anonymous and failed requests). A rate of 0 turns that limit off.
  int rate_limit_per_key = 100;
  int rate_limit_per_key_burst = 200;
  int rate_limit_per_user = 200;  // all keys and tokens of one user or service account
  int rate_limit_per_user_burst = 400;
  int rate_limit_per_team = 1000;  // requests addressed to one team (path id or filter)
  int rate_limit_per_team_burst = 2000;
  int rate_limit_per_project = 500;  // requests addressed to one project
  int rate_limit_per_project_burst = 1000;
  int rate_limit_per_address = 20;
  int rate_limit_per_address_burst = 40;
  bool dev = false;
};

// One configurable setting: its canonical dotted name and how to apply a textual value.
struct SettingValue {
  std::string name;  // "log.level"
  std::string value;
  std::string source;  // "config file /etc/hangar.yaml", "environment HANGAR_LOG_LEVEL", "flag"
};

// The names of every setting, for flags and help ("listen", "log.level", ...).
const std::vector<std::string>& SettingNames();
// True for on/off settings (`dev`), which are bare flags on the command line.
bool IsBooleanSetting(std::string_view setting);
// "log.level" -> "HANGAR_LOG_LEVEL"; "log.level" -> "--log-level".
std::string EnvNameOf(std::string_view setting);
std::string FlagNameOf(std::string_view setting);

// Reads `path` as YAML (nested maps; lists for cors.allowed_origins) into setting values.
// kInvalidArgument naming an unknown key or a malformed file.
Result<std::vector<SettingValue>> ReadYamlFile(const std::filesystem::path& path);
// HANGAR_* variables from `environ` that name settings.
std::vector<SettingValue> ReadEnvironment(char** environ);

// Applies values in order (later wins). kInvalidArgument naming the setting and its source for a
// bad value; then checks the combination (e.g. listen parses).
Result<DaemonConfig> BuildConfig(const std::vector<SettingValue>& values);

// "10s", "250ms", "2m", "1h", "1d".
std::optional<Micros> ParseDuration(std::string_view text);
// "127.0.0.1:8080" / "[::1]:0" / ":8080" -> host, port.
std::optional<std::pair<std::string, uint16_t>> ParseListen(std::string_view text);

}  // namespace hangar::config
