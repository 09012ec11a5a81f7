// The CLI's configuration: named contexts (a server URL and a token each) in a YAML file, and the
// rule that decides which URL and token a command uses.
//
//   current-context: local
//   contexts:
//     local: {url: http://localhost:8080, token: hgr_...}
//     sso:                                   # after `hangar login` (OAuth device flow)
//       url: http://hangar.example.com
//       token: eyJ...                        # the access token
//       refresh-token: hrt_...
//       token-expires-at: "2026-11-22T18:31:00Z"
//
// refresh-token and token-expires-at are optional (files written before they existed still
// load); they are written only when set.
//
// Precedence, highest first: --url/--token (or --token-file) flags, HANGAR_URL/HANGAR_TOKEN,
// then the current context of the file (--config, HANGAR_CONFIG, ~/.config/hangar/config.yaml).
// The file holds secrets, so it is written with mode 0600.
//
// Thread-safety: plain functions; the environment is read through the injected Env.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/error.h"

namespace hangar::cli {

// Reads an environment variable; injected so tests do not touch the real environment.
using Env = std::function<std::optional<std::string>(std::string_view)>;
// The process environment.
Env ProcessEnv();

struct Context {
  std::string url;
  std::string token;          // an API key, or an OAuth access token
  std::string refresh_token;  // OAuth: trades for a new access token when `token` expires
  std::optional<Timestamp> token_expires_at;  // OAuth: when `token` expires; nullopt: unknown
};

struct CliConfig {
  std::string current_context;
  std::map<std::string, Context> contexts;
};

// --config, else $HANGAR_CONFIG, else $HOME/.config/hangar/config.yaml.
std::filesystem::path ConfigPath(const std::string& flag, const Env& env);

// A missing file is an empty config; a malformed one is kInvalidArgument naming the file.
Result<CliConfig> LoadConfig(const std::filesystem::path& path);
// Creates the parent directory and writes the file atomically with mode 0600.
Status SaveConfig(const std::filesystem::path& path, const CliConfig& config);

// Holds an exclusive lock (flock) on "<path>.lock" (mode 0600) for its lifetime, so that
// concurrent `hangar` processes do not both spend the same (single-use) refresh token, and one
// process's load-change-save does not lose another's.
class ConfigLock {
 public:
  explicit ConfigLock(const std::filesystem::path& config_path);
  ~ConfigLock();
  ConfigLock(const ConfigLock&) = delete;
  ConfigLock& operator=(const ConfigLock&) = delete;

 private:
  int fd_ = -1;
};

struct ConnectionFlags {
  std::string url;
  std::string token;
  std::string token_file;
};

struct Connection {
  std::string url;
  std::string token;
  // The context the token came from; empty when it came from a flag or the environment (then
  // it is never refreshed or rewritten).
  std::string token_context;
};

// Applies the precedence above. kInvalidArgument when no URL is configured anywhere or the
// token file cannot be read. An empty token is allowed (the server answers 401 with a hint).
Result<Connection> ResolveConnection(const ConnectionFlags& flags, const Env& env,
                                     const CliConfig& config);

}  // namespace hangar::cli
