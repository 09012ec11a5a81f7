#include "cli/config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hangar::cli {

namespace fs = std::filesystem;

Env ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

fs::path ConfigPath(const std::string& flag, const Env& env) {
  if (!flag.empty()) return flag;
  if (auto v = env("HANGAR_CONFIG")) return *v;
  std::string home = env("HOME").value_or(".");
  return fs::path(home) / ".config" / "hangar" / "config.yaml";
}

Result<CliConfig> LoadConfig(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return CliConfig{};
  CliConfig config;
  try {
    YAML::Node root = YAML::LoadFile(path.string());
    if (root.IsNull()) return config;
    if (!root.IsMap())
      throw YAML::Exception(YAML::Mark::null_mark(), "the top level must be a map");
    if (root["current-context"]) config.current_context = root["current-context"].as<std::string>();
    if (const auto& contexts = root["contexts"]) {
      for (const auto& kv : contexts) {
        Context c;
        if (kv.second["url"]) c.url = kv.second["url"].as<std::string>();
        if (kv.second["token"]) c.token = kv.second["token"].as<std::string>();
        if (kv.second["refresh-token"]) {
          c.refresh_token = kv.second["refresh-token"].as<std::string>();
        }
        if (kv.second["token-expires-at"]) {
          std::string text = kv.second["token-expires-at"].as<std::string>();
          c.token_expires_at = ParseRfc3339(text);
          if (!c.token_expires_at) {
            throw YAML::Exception(kv.second["token-expires-at"].Mark(),
                                  "token-expires-at is not an RFC 3339 time: " + text);
          }
        }
        config.contexts[kv.first.as<std::string>()] = std::move(c);
      }
    }
  } catch (const YAML::Exception& e) {
    return std::unexpected(Error::Invalid("cannot read config " + path.string() + ": " + e.what())
                               .Hint("fix or delete the file; `hangar config set-context` "
                                     "rewrites it"));
  }
  return config;
}

Status SaveConfig(const fs::path& path, const CliConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "current-context" << YAML::Value << config.current_context;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, c] : config.contexts) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "url" << YAML::Value << c.url;
    out << YAML::Key << "token" << YAML::Value << c.token;
    if (!c.refresh_token.empty()) {
      out << YAML::Key << "refresh-token" << YAML::Value << c.refresh_token;
    }
    if (c.token_expires_at) {
      out << YAML::Key << "token-expires-at" << YAML::Value << YAML::DoubleQuoted
          << FormatRfc3339(*c.token_expires_at);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap;
  std::string text = std::string(out.c_str()) + "\n";

  auto io_error = [&](const std::string& what, const fs::path& p) {
    return std::unexpected(
        Error::Unavailable(what + " " + p.string() + ": " + std::strerror(errno)));
  };
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  // Created 0600 from the start: the file holds API tokens.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok) return io_error("cannot write", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot replace", path);
  return Ok();
}

ConfigLock::ConfigLock(const fs::path& config_path) {
  std::error_code ec;
  if (config_path.has_parent_path()) fs::create_directories(config_path.parent_path(), ec);
  fs::path lock = config_path;
  lock += ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  // Best effort: without a lock file (read-only directory) the CLI still works, unserialised.
  if (fd_ >= 0) {
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
}

ConfigLock::~ConfigLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

Result<Connection> ResolveConnection(const ConnectionFlags& flags, const Env& env,
                                     const CliConfig& config) {
  const Context* context = nullptr;
  if (auto it = config.contexts.find(config.current_context); it != config.contexts.end()) {
    context = &it->second;
  }
  Connection c;
  if (!flags.url.empty()) {
    c.url = flags.url;
  } else if (auto v = env("HANGAR_URL")) {
    c.url = *v;
  } else if (context) {
    c.url = context->url;
  }
  if (c.url.empty()) {
    return std::unexpected(
        Error::Invalid("no server URL configured")
            .Hint("pass --url, set HANGAR_URL, or run `hangar config set-context local --url "
                  "http://localhost:8080 --token ...`"));
  }
  if (!flags.token.empty()) {
    c.token = flags.token;
  } else if (!flags.token_file.empty()) {
    std::ifstream in(flags.token_file);
    if (!in) {
      return std::unexpected(Error::Invalid("cannot read --token-file " + flags.token_file + ": " +
                                            std::strerror(errno)));
    }
    std::getline(in, c.token);
    while (!c.token.empty() && std::isspace(static_cast<unsigned char>(c.token.back()))) {
      c.token.pop_back();
    }
  } else if (auto v = env("HANGAR_TOKEN")) {
    c.token = *v;
  } else if (context) {
    c.token = context->token;
    c.token_context = config.current_context;
  }
  return c;
}

}  // namespace hangar::cli
