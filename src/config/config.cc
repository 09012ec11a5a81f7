#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

namespace hangar::config {

namespace {

using Setter = std::function<bool(DaemonConfig&, const std::string&)>;

bool SetInt(int64_t& out, const std::string& v, int64_t min, int64_t max) {
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || ptr != v.data() + v.size() || x < min || x > max) return false;
  out = x;
  return true;
}
Setter IntSetter(int DaemonConfig::*member, int64_t min, int64_t max) {
  return [=](DaemonConfig& c, const std::string& v) {
    int64_t x;
    if (!SetInt(x, v, min, max)) return false;
    c.*member = static_cast<int>(x);
    return true;
  };
}
Setter Int64Setter(int64_t DaemonConfig::*member, int64_t min, int64_t max) {
  return [=](DaemonConfig& c, const std::string& v) { return SetInt(c.*member, v, min, max); };
}
Setter StringSetter(std::string DaemonConfig::*member) {
  return [=](DaemonConfig& c, const std::string& v) {
    c.*member = v;
    return true;
  };
}
Setter DurationSetter(Micros DaemonConfig::*member) {
  return [=](DaemonConfig& c, const std::string& v) {
    auto d = ParseDuration(v);
    if (!d || d->count() <= 0) return false;
    c.*member = *d;
    return true;
  };
}

Setter BoolSetter(bool DaemonConfig::*member) {
  return [=](DaemonConfig& c, const std::string& v) {
    if (v != "true" && v != "false") return false;
    c.*member = v == "true";
    return true;
  };
}
Setter EnumSetter(std::string DaemonConfig::*member, std::vector<std::string> allowed) {
  return [=](DaemonConfig& c, const std::string& v) {
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) return false;
    c.*member = v;
    return true;
  };
}

struct SettingSpec {
  Setter set;
  std::string help;
};

const std::map<std::string, SettingSpec>& Specs() {
  static const std::map<std::string, SettingSpec> kSpecs = {
      {"listen",
       {[](DaemonConfig& c, const std::string& v) {
          if (!ParseListen(v)) return false;
          c.listen = v;
          return true;
        },
        "HOST:PORT to listen on (port 0 picks a free port)"}},
      {"port_file",
       {StringSetter(&DaemonConfig::port_file), "file to write the bound HOST:PORT to"}},
      {"data_dir",
       {StringSetter(&DaemonConfig::data_dir), "directory for the SQLite file and the admin key"}},
      {"database",
       {[](DaemonConfig& c, const std::string& v) {
          if (!v.starts_with("sqlite:") && !v.starts_with("postgres://") &&
              !v.starts_with("postgresql://")) {
            return false;
          }
          c.database = v;
          return true;
        },
        "sqlite:PATH or postgres://USER@HOST:PORT/DB"}},
      {"web_dir", {StringSetter(&DaemonConfig::web_dir), "directory with the docs page assets"}},
      {"public_url",
       {StringSetter(&DaemonConfig::public_url),
        "the URL users reach hangard at (invitation links, OAuth issuer)"}},
      {"audit",
       {[](DaemonConfig& c, const std::string& v) {
          if (v != "true" && v != "false") return false;
          c.audit = v == "true";
          return true;
        },
        "append audit records (true or false)"}},
      {"auth.secret_file",
       {StringSetter(&DaemonConfig::auth_secret_file),
        "the server secret sealing OAuth signing keys (the same file on every replica)"}},
      {"instances.snapshot_dir",
       {StringSetter(&DaemonConfig::snapshot_dir),
        "where snapshot archives are kept (replicas must share it); default <data_dir>/snapshots"}},
      {"clock_start",
       {[](DaemonConfig& c, const std::string& v) {
          if (!ParseRfc3339(v)) return false;
          c.clock_start = v;
          return true;
        },
        "for tests and demos: the server's clock starts at this RFC 3339 time and runs at the "
        "normal rate (cron schedules, leases and metering follow it); default: the wall clock"}},
      {"auth.cache_ttl",
       {DurationSetter(&DaemonConfig::auth_cache_ttl),
        "how long a replica may serve a revoked key or changed role from its cache"}},
      {"log.format",
       {[](DaemonConfig& c, const std::string& v) {
          if (v != "text" && v != "json") return false;
          c.log_format = v;
          return true;
        },
        "text or json"}},
      {"log.level",
       {[](DaemonConfig& c, const std::string& v) {
          static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};
          if (!kLevels.contains(v)) return false;
          c.log_level = v;
          return true;
        },
        "trace, debug, info, warn, error, critical or off"}},
      {"http.io_threads",
       {IntSetter(&DaemonConfig::io_threads, 0, 256), "io threads (0: one per core)"}},
      {"http.worker_threads",
       {IntSetter(&DaemonConfig::worker_threads, 0, 1024), "handler threads (0: auto)"}},
      {"http.max_body_bytes",
       {Int64Setter(&DaemonConfig::max_body_bytes, 1024, 1LL << 30), "largest request body"}},
      {"http.max_header_bytes",
       {Int64Setter(&DaemonConfig::max_header_bytes, 1024, 1 << 20),
        "largest request header block"}},
      {"http.request_timeout",
       {DurationSetter(&DaemonConfig::request_timeout), "time to receive a whole request"}},
      {"http.idle_timeout",
       {DurationSetter(&DaemonConfig::idle_timeout), "idle keep-alive connection lifetime"}},
      {"http.shutdown_grace",
       {DurationSetter(&DaemonConfig::shutdown_grace), "time in-flight requests get at shutdown"}},
      {"http.cors_allowed_origins",
       {[](DaemonConfig& c, const std::string& v) {
          c.cors_allowed_origins.clear();
          size_t pos = 0;
          while (pos < v.size()) {
            size_t end = v.find(',', pos);
            if (end == std::string::npos) end = v.size();
            std::string origin = v.substr(pos, end - pos);
            if (!origin.empty()) c.cors_allowed_origins.push_back(origin);
            pos = end + 1;
          }
          return true;
        },
        "comma-separated origins allowed by CORS (* for any)"}},
      {"rate_limit.per_key",
       {IntSetter(&DaemonConfig::rate_limit_per_key, 0, 1'000'000),
        "requests per second per API key (0: no limit)"}},
      {"rate_limit.per_key_burst",
       {IntSetter(&DaemonConfig::rate_limit_per_key_burst, 1, 10'000'000),
        "requests an API key may send at once"}},
      {"rate_limit.per_user",
       {IntSetter(&DaemonConfig::rate_limit_per_user, 0, 1'000'000),
        "requests per second per user or service account, over all its keys (0: no limit)"}},
      {"rate_limit.per_user_burst",
       {IntSetter(&DaemonConfig::rate_limit_per_user_burst, 1, 10'000'000),
        "requests a user or service account may send at once"}},
      {"rate_limit.per_team",
       {IntSetter(&DaemonConfig::rate_limit_per_team, 0, 1'000'000),
        "requests per second addressed to one team (0: no limit); organisations may override"}},
      {"rate_limit.per_team_burst",
       {IntSetter(&DaemonConfig::rate_limit_per_team_burst, 1, 10'000'000),
        "requests addressed to one team at once"}},
      {"rate_limit.per_project",
       {IntSetter(&DaemonConfig::rate_limit_per_project, 0, 1'000'000),
        "requests per second addressed to one project (0: no limit); organisations may override"}},
      {"rate_limit.per_project_burst",
       {IntSetter(&DaemonConfig::rate_limit_per_project_burst, 1, 10'000'000),
        "requests addressed to one project at once"}},
      {"rate_limit.per_address",
       {IntSetter(&DaemonConfig::rate_limit_per_address, 0, 1'000'000),
        "requests per second per client address without a valid key (0: no limit)"}},
      {"rate_limit.per_address_burst",
       {IntSetter(&DaemonConfig::rate_limit_per_address_burst, 1, 10'000'000),
        "requests a client address may send at once"}},
      {"db.pool_size",
       {IntSetter(&DaemonConfig::db_pool_size, 1, 256), "database connections for reads"}},
      {"fleet.heartbeat_interval",
       {DurationSetter(&DaemonConfig::heartbeat_interval), "how often agents report"}},
      {"fleet.node_unreachable_after",
       {DurationSetter(&DaemonConfig::node_unreachable_after),
        "silence after which a node is unreachable"}},
      {"metrics.raw_retention",
       {DurationSetter(&DaemonConfig::metrics_raw_retention),
        "how long every GPU sample is kept in memory (finest resolution)"}},
      {"metrics.minute_retention",
       {DurationSetter(&DaemonConfig::metrics_minute_retention),
        "how long 1-minute GPU metric roll-ups are kept"}},
      {"metrics.hour_retention",
       {DurationSetter(&DaemonConfig::metrics_hour_retention),
        "how long 1-hour GPU metric roll-ups are kept"}},
      {"metrics.tick",
       {DurationSetter(&DaemonConfig::monitoring_tick),
        "how often metric roll-ups are flushed and alert rules evaluated"}},
      {"fleet.auto_cordon_unhealthy",
       {BoolSetter(&DaemonConfig::auto_cordon_unhealthy),
        "cordon a node when one of its GPUs turns unhealthy"}},
      {"fleet.unhealthy_gpu_policy",
       {EnumSetter(&DaemonConfig::unhealthy_gpu_policy, {"requeue", "keep"}),
        "work on a GPU that turns unhealthy: requeue (stop it, requeue jobs) or keep"}},
      {"instances.default_lifetime",
       {DurationSetter(&DaemonConfig::instance_default_lifetime),
        "an instance's lease when the request names none"}},
      {"instances.min_lifetime",
       {DurationSetter(&DaemonConfig::instance_min_lifetime),
        "the shortest lease one may ask for"}},
      {"instances.max_lease",
       {DurationSetter(&DaemonConfig::instance_max_lease),
        "the longest lease, extensions included, from the instance's start"}},
      {"instances.expiry_warning",
       {DurationSetter(&DaemonConfig::instance_expiry_warning),
        "how long before a lease ends the hangar.instance.expiring event goes out"}},
      {"dev",
       {[](DaemonConfig& c, const std::string& v) {
          if (v != "true" && v != "false") return false;
          c.dev = v == "true";
          return true;
        },
        "development mode: error bodies carry internal detail"}},
  };
  return kSpecs;
}

void Flatten(const YAML::Node& node, const std::string& prefix, std::vector<SettingValue>& out,
             const std::string& source, std::vector<std::string>& unknown) {
  for (const auto& kv : node) {
    std::string key =
        prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    if (kv.second.IsMap()) {
      Flatten(kv.second, key, out, source, unknown);
    } else if (kv.second.IsSequence()) {
      std::string joined;
      for (const auto& item : kv.second)
        joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      if (!Specs().contains(key)) unknown.push_back(key);
      out.push_back({key, joined, source});
    } else {
      if (!Specs().contains(key)) unknown.push_back(key);
      out.push_back({key, kv.second.IsNull() ? "" : kv.second.as<std::string>(), source});
    }
  }
}

}  // namespace

const std::vector<std::string>& SettingNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& [name, spec] : Specs()) names.push_back(name);
    return names;
  }();
  return kNames;
}

bool IsBooleanSetting(std::string_view setting) { return setting == "dev"; }

std::string EnvNameOf(std::string_view setting) {
  std::string out = "HANGAR_";
  for (char c : setting) out += (c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

std::string FlagNameOf(std::string_view setting) {
  std::string out = "--";
  for (char c : setting) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

std::optional<Micros> ParseDuration(std::string_view text) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data() || n < 0) return std::nullopt;
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  // A year is plenty for any setting, and keeps the multiplication below from overflowing.
  constexpr int64_t kMaxMicros = 366LL * 86'400'000'000;
  int64_t scale = unit == "ms"  ? 1000
                  : unit == "s" ? 1'000'000
                  : unit == "m" ? 60'000'000
                  : unit == "h" ? 3'600'000'000
                  : unit == "d" ? 86'400'000'000
                                : 0;
  if (scale == 0 || n > kMaxMicros / scale) return std::nullopt;
  return Micros(n * scale);
}

std::optional<std::pair<std::string, uint16_t>> ParseListen(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return std::nullopt;
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<std::vector<SettingValue>> ReadYamlFile(const std::filesystem::path& path) {
  std::string source = "config file " + path.string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    return std::unexpected(Error::Invalid(source + " cannot be read: " + e.what())
                               .Field("config", "must be a readable YAML file"));
  }
  std::vector<SettingValue> out;
  if (root.IsNull()) return out;
  if (!root.IsMap()) {
    return std::unexpected(Error::Invalid(source + " must be a YAML mapping of settings"));
  }
  std::vector<std::string> unknown;
  try {
    Flatten(root, "", out, source, unknown);
  } catch (const YAML::Exception& e) {
    return std::unexpected(Error::Invalid(source + ": " + e.what()));
  }
  if (!unknown.empty()) {
    Error e = Error::Invalid(source + " has unknown setting '" + unknown.front() + "'");
    for (const auto& key : unknown) e.AddField(key, "is not a setting");
    return std::unexpected(std::move(e).Hint("run hangard --help for the list of settings"));
  }
  return out;
}

std::vector<SettingValue> ReadEnvironment(char** environ) {
  std::vector<SettingValue> out;
  for (const auto& name : SettingNames()) {
    std::string env = EnvNameOf(name);
    for (char** e = environ; e && *e; ++e) {
      std::string_view entry(*e);
      if (entry.size() > env.size() && entry.substr(0, env.size()) == env &&
          entry[env.size()] == '=') {
        out.push_back({name, std::string(entry.substr(env.size() + 1)), "environment " + env});
      }
    }
  }
  return out;
}

Result<DaemonConfig> BuildConfig(const std::vector<SettingValue>& values) {
  DaemonConfig config;
  for (const auto& v : values) {
    auto it = Specs().find(v.name);
    if (it == Specs().end()) {
      return std::unexpected(Error::Invalid("unknown setting '" + v.name + "' from " + v.source)
                                 .Field(v.name, "is not a setting"));
    }
    if (!it->second.set(config, v.value)) {
      return std::unexpected(Error::Invalid("bad value '" + v.value + "' for setting " + v.name +
                                            " (from " + v.source + ")")
                                 .Field(v.name, "expected " + it->second.help));
    }
  }
  if (config.database.empty()) {
    config.database = "sqlite:" + (std::filesystem::path(config.data_dir) / "hangar.db").string();
  }
  if (config.instance_min_lifetime > config.instance_default_lifetime ||
      config.instance_default_lifetime > config.instance_max_lease) {
    return std::unexpected(
        Error::Invalid("instance lifetimes must satisfy min_lifetime <= default_lifetime <= "
                       "max_lease")
            .Field("instances.default_lifetime", "must be between min_lifetime and max_lease"));
  }
  if (config.node_unreachable_after <= config.heartbeat_interval) {
    return std::unexpected(
        Error::Invalid("fleet.node_unreachable_after must be longer than fleet.heartbeat_interval")
            .Field("fleet.node_unreachable_after", "must exceed fleet.heartbeat_interval"));
  }
  return config;
}

}  // namespace hangar::config
