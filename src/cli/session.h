// What every `hangar` command shares (internal to src/cli/): the global flags, the Session that
// connects to hangard (refreshing an expired OAuth access token first) and maps failures to exit
// codes, and the helpers commands use to list, render and report.
//
// Commands are registered on a CLI::App by the Add*Commands functions below; a subcommand's
// callback only stores an `action`, which RunCli runs after parsing succeeded.
//
// Thread-safety: one Session per invocation, used on the calling thread.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "cli/config.h"
#include "cli/output.h"
#include "client/api_client.h"

namespace hangar::cli {

// Options shared by every command.
struct Globals {
  ConnectionFlags connection;
  std::string config;
  std::string output = "table";
};

// The state one invocation needs, built lazily: config commands need no server.
class Session {
 public:
  Session(const Globals& g, std::ostream& out, std::ostream& err, const Env& env, const CliIo& io);

  // kToken: send the resolved token (refreshing it first when it is an expired OAuth access
  // token). kNone: send no token (public routes such as accepting an invitation).
  enum class Auth { kToken, kNone };

  // Connects and runs `fn(client, format)`, which returns the text to print; maps every failure
  // to an exit code. A 401 answered to an OAuth access token from the config file is retried
  // once after refreshing the token.
  template <typename F>
  int WithClient(F fn, Auth auth = Auth::kToken) {
    auto format = ParseOutputFormat(g_.output);
    if (!format) return Usage(format.error());
    auto conn = Resolve();
    if (!conn) return Usage(conn.error());
    bool refreshed = false;
    if (auth == Auth::kNone) {
      conn->token.clear();
      conn->token_context.clear();
    } else {
      auto r = RefreshIfNeeded(*conn, /*force=*/false);
      if (!r) return Fail(r.error());
      refreshed = *r;
    }
    auto client = NewClient(conn->url, conn->token);
    if (!client) return Usage(client.error());
    client::ApiResult<std::string> res = fn(**client, *format);
    if (!res && res.error().http_status == 401 && !refreshed && !conn->token_context.empty()) {
      auto r = RefreshIfNeeded(*conn, /*force=*/true);
      if (!r) return Fail(r.error());
      if (*r) {
        client = NewClient(conn->url, conn->token);
        if (!client) return Usage(client.error());
        res = fn(**client, *format);
      }
    }
    if (!res) return Fail(res.error());
    out_ << *res;
    return kExitOk;
  }

  // Prints a local error; kExitUsage (kExitError for kUnavailable: a file could not be written).
  int Usage(const Error& e);
  // Prints an API error; its exit code.
  int Fail(const client::ApiError& e);

  // The config file's path (--config, HANGAR_CONFIG, ~/.config/hangar/config.yaml).
  std::filesystem::path config_path() const;
  // Loads the config and applies the connection precedence (config.h).
  Result<Connection> Resolve() const;
  // A client for `url` sending `token` (none when empty).
  Result<std::unique_ptr<client::ApiClient>> NewClient(const std::string& url,
                                                       const std::string& token) const;

  // When `conn`'s token came from a context that holds a refresh token, and the access token has
  // expired (or `force`, after a 401), trades the refresh token for a new pair at the context's
  // server, stores both (the refresh token rotates) and updates `conn`. true when conn.token
  // changed. Serialised with other hangar processes through ConfigLock; a token another process
  // refreshed meanwhile is picked up instead of refreshing again. A refresh token the server
  // rejects (invalid_grant) is forgotten and the error says to run `hangar login`.
  client::ApiResult<bool> RefreshIfNeeded(Connection& conn, bool force);

  // Reads standard input to its end (--api-key-stdin, --password-stdin).
  std::string ReadStdin();
  // Asks for a secret on the terminal with echo off.
  Result<std::string> ReadSecret(std::string_view prompt);

  const Globals& globals() const { return g_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const Env& env() const { return env_; }
  const Clock& clock() const { return *clock_; }
  void Sleep(std::chrono::seconds d) const { sleep_(d); }
  bool StdoutIsTerminal() const { return stdout_is_terminal_(); }

 private:
  const Globals& g_;
  std::ostream& out_;
  std::ostream& err_;
  const Env& env_;
  std::istream* in_;
  const Clock* clock_;
  std::function<void(std::chrono::seconds)> sleep_;
  std::function<Result<std::string>(std::string_view)> read_secret_;
  std::function<bool()> stdout_is_terminal_;
};

// Sets `action` from a subcommand's callback; see RunCli.
using Action = std::function<int()>;

// whoami, orgs, teams, projects, users, service-accounts, api-keys, roles, permissions,
// role-bindings, access-review, audit (identity_commands.cc).
void AddIdentityCommands(CLI::App& app, Session& s, Action& action);
// jobs submit|list|get|cancel|hold|release|requeue|logs (job_commands.cc).
void AddJobCommands(CLI::App& app, Session& s, Action& action);
// provision, instances create|list|get|start|stop|terminate|resize|extend|logs
// (instance_commands.cc).
void AddInstanceCommands(CLI::App& app, Session& s, Action& action);
// approvals list|get|approve|reject|policy (approval_commands.cc).
void AddApprovalCommands(CLI::App& app, Session& s, Action& action);
// schedules create|list|get|pause|resume|trigger|delete (schedule_commands.cc).
void AddScheduleCommands(CLI::App& app, Session& s, Action& action);
// reservations create|list|get|cancel|calendar (reservation_commands.cc).
void AddReservationCommands(CLI::App& app, Session& s, Action& action);
// login, logout (auth_commands.cc).
void AddAuthCommands(CLI::App& app, Session& s, Action& action);
// gpus list|get|top, nodes list|get|cordon|uncordon|drain|taint|label (fleet_commands.cc).
void AddFleetCommands(CLI::App& app, Session& s, Action& action);
// alerts list, alerts rules list|get|create|update|delete, metrics gpu|node|project|team
// (monitoring_commands.cc).
void AddMonitoringCommands(CLI::App& app, Session& s, Action& action);

// GET every page of a list (following next_page_token) up to `limit` items (0: all). `query` is
// "&k=v&k2=v2" (or empty).
template <typename List>
client::ApiResult<decltype(List::items)> ListAll(client::ApiClient& c, const std::string& path,
                                                 std::string query, int64_t limit) {
  decltype(List::items) items;
  std::optional<std::string> page_token;
  do {
    std::string q = query;
    if (limit > 0) q += "&limit=" + std::to_string(std::min<int64_t>(limit, 1000));
    if (page_token) q += "&page_token=" + client::UrlEncode(*page_token);
    std::string target = path + (q.empty() ? "" : "?" + q.substr(1));
    HANGAR_ASSIGN_OR_RETURN_API(List page, c.Get<List>(target));
    for (auto& item : page.items) {
      if (limit > 0 && static_cast<int64_t>(items.size()) >= limit) break;
      items.push_back(std::move(item));
    }
    page_token = page.next_page_token;
    if (page_token && page_token->empty()) page_token.reset();
  } while (page_token && (limit == 0 || static_cast<int64_t>(items.size()) < limit));
  return items;
}

// "&name=value" (value URL-encoded), or "" when `value` is empty.
inline std::string Param(const std::string& name, const std::string& value) {
  return value.empty() ? "" : "&" + name + "=" + client::UrlEncode(value);
}

// A result rendered in `f`: a vector as a list, anything else as one object.
template <typename T>
client::ApiResult<std::string> Rendered(client::ApiResult<T> res, OutputFormat f) {
  if (!res) return std::unexpected(std::move(res).error());
  if constexpr (json::IsVector<T>::value) {
    return Render(*res, f);
  } else {
    return RenderOne(*res, f);
  }
}

inline client::ApiResult<std::string> Msg(std::string text) { return text + "\n"; }

// Whether `text` has the shape of an API id: "<prefix>_" and a 26-character ULID body in
// lowercase Crockford base32 ("node_01jd3x…"). An empty `prefix` accepts any lowercase one. Used
// to tell ids from names in arguments that take either; a name of that shape is read as an id.
bool LooksLikeId(std::string_view text, std::string_view prefix);

// The id `text` stands for: `text` itself when LooksLikeId(text, prefix), else the id of the
// item of the list at `path` whose name is `text`, found with ?name= (checked again here, so a
// server that ignores the filter still gives the right answer). kNotFound (exit code 4) naming
// `noun` when no item has that name.
template <typename List>
client::ApiResult<std::string> ResolveId(client::ApiClient& c, const std::string& path,
                                         std::string_view prefix, std::string_view noun,
                                         const std::string& text) {
  if (LooksLikeId(text, prefix)) return text;
  HANGAR_ASSIGN_OR_RETURN_API(auto items, ListAll<List>(c, path, Param("name", text), 0));
  for (const auto& item : items) {
    if (item.name == text) return item.id;
  }
  return std::unexpected(client::ApiError::FromError(
      Error::NotFound("no " + std::string(noun) + " named '" + text + "'")
          .Hint("give the " + std::string(noun) + "'s id, or its name exactly as listed")));
}

}  // namespace hangar::cli
