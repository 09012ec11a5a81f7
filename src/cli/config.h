// The CLI's configuration: named contexts (a server URL and a token each) in a YAML file, and the
// rule that decides which URL and token a command uses.
//
//   current-context: local
//   contexts:
//     local: {url: http://localhost:8080, token: hgr_...}
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

#include "common/error.h"

namespace hangar::cli {

// Reads an environment variable; injected so tests do not touch the real environment.
using Env = std::function<std::optional<std::string>(std::string_view)>;
// The process environment.
Env ProcessEnv();

struct Context {
  std::string url;
  std::string token;
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

struct ConnectionFlags {
  std::string url;
  std::string token;
  std::string token_file;
};

struct Connection {
  std::string url;
  std::string token;
};

// Applies the precedence above. kInvalidArgument when no URL is configured anywhere or the
// token file cannot be read. An empty token is allowed (the server answers 401 with a hint).
Result<Connection> ResolveConnection(const ConnectionFlags& flags, const Env& env,
                                     const CliConfig& config);

}  // namespace hangar::cli
