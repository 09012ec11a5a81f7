#include "cli/session.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <thread>

#include "cli/oauth.h"

namespace hangar::cli {

namespace {

using client::ApiError;

const SystemClock kSystemClock{};

// The terminal's settings while echo is off, restored if a signal ends the process meanwhile.
struct termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void RestoreTerminalAndReraise(int sig) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

Result<std::string> ReadSecretFromTerminal(std::string_view prompt, std::ostream& err) {
  if (!::isatty(STDIN_FILENO)) {
    return std::unexpected(
        Error::Invalid("cannot prompt for a password: standard input is not a terminal")
            .Hint("pipe it in with --password-stdin"));
  }
  err << prompt << std::flush;
  struct termios quiet;
  bool echo_off = ::tcgetattr(STDIN_FILENO, &g_saved_termios) == 0;
  struct sigaction restore {
  }, old_int{}, old_term{};
  if (echo_off) {
    quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore.sa_handler = RestoreTerminalAndReraise;
    ::sigaction(SIGINT, &restore, &old_int);
    ::sigaction(SIGTERM, &restore, &old_term);
    g_echo_off = 1;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (echo_off) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_echo_off = 0;
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
  }
  err << "\n";
  if (!ok) return std::unexpected(Error::Invalid("no password entered"));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

Session::Session(const Globals& g, std::ostream& out, std::ostream& err, const Env& env,
                 const CliIo& io)
    : g_(g),
      out_(out),
      err_(err),
      env_(env),
      in_(io.in ? io.in : &std::cin),
      clock_(io.clock ? io.clock : &kSystemClock),
      sleep_(io.sleep ? io.sleep : [](std::chrono::seconds d) { std::this_thread::sleep_for(d); }),
      read_secret_(
          io.read_secret
              ? io.read_secret
              : [&err](std::string_view prompt) { return ReadSecretFromTerminal(prompt, err); }),
      stdout_is_terminal_(io.stdout_is_terminal ? io.stdout_is_terminal
                                                : [] { return ::isatty(STDOUT_FILENO) == 1; }) {}

int Session::Usage(const Error& e) {
  err_ << RenderError(ApiError::FromError(e));
  return e.code() == ErrorCode::kUnavailable ? kExitError : kExitUsage;
}

int Session::Fail(const ApiError& e) {
  err_ << RenderError(e);
  return ExitCodeFor(e);
}

std::filesystem::path Session::config_path() const { return ConfigPath(g_.config, env_); }

Result<Connection> Session::Resolve() const {
  HANGAR_ASSIGN_OR_RETURN(auto config, LoadConfig(config_path()));
  return ResolveConnection(g_.connection, env_, config);
}

Result<std::unique_ptr<client::ApiClient>> Session::NewClient(const std::string& url,
                                                              const std::string& token) const {
  return client::ApiClient::Create(
      {.base_url = url, .token = token, .user_agent = std::string("hangar/") + HANGAR_VERSION});
}

client::ApiResult<bool> Session::RefreshIfNeeded(Connection& conn, bool force) {
  if (conn.token_context.empty()) return false;
  Timestamp now = clock_->Now();
  // A token that expires within the next 30 seconds would likely expire in flight.
  auto expired = [&](const Context& c) {
    return c.token.empty() ||
           (c.token_expires_at && now + std::chrono::seconds(30) >= *c.token_expires_at);
  };
  auto path = config_path();
  auto needs_refresh = [&](const CliConfig& config) {
    auto it = config.contexts.find(conn.token_context);
    return it != config.contexts.end() && !it->second.refresh_token.empty() &&
           (force || expired(it->second));
  };
  {
    // Without the lock first: most commands have nothing to refresh.
    auto config = LoadConfig(path);
    if (!config) return std::unexpected(ApiError::FromError(std::move(config).error()));
    if (!needs_refresh(*config)) return false;
  }
  ConfigLock lock(path);
  auto config = LoadConfig(path);
  if (!config) return std::unexpected(ApiError::FromError(std::move(config).error()));
  if (!needs_refresh(*config)) return false;
  Context& ctx = config->contexts.at(conn.token_context);
  if (!expired(ctx) && ctx.token != conn.token) {
    conn.token = ctx.token;  // another hangar process refreshed it meanwhile
    return true;
  }

  auto client = NewClient(ctx.url.empty() ? conn.url : ctx.url, "");
  if (!client) return std::unexpected(ApiError::FromError(std::move(client).error()));
  auto tokens = oauth::Refresh(**client, ctx.refresh_token);
  if (!tokens) {
    if (tokens.error().code == "invalid_grant") {
      // Dead for good: forget it, so later commands do not try it again.
      ctx.token.clear();
      ctx.refresh_token.clear();
      ctx.token_expires_at.reset();
      (void)SaveConfig(path, *config);
    }
    return std::unexpected(std::move(tokens).error().error);
  }
  ctx.token = tokens->access_token;
  if (tokens->refresh_token && !tokens->refresh_token->empty()) {
    ctx.refresh_token = *tokens->refresh_token;
  }
  ctx.token_expires_at.reset();
  if (tokens->expires_in) ctx.token_expires_at = now + std::chrono::seconds(*tokens->expires_in);
  if (auto saved = SaveConfig(path, *config); !saved) {
    // The old refresh token is spent: say so rather than losing the new one silently.
    return std::unexpected(ApiError::FromError(
        Error(saved.error().code(), "refreshed the access token but " + saved.error().message())
            .Hint("run `hangar login` again once the config file is writable")));
  }
  conn.token = ctx.token;
  return true;
}

std::string Session::ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(*in_), std::istreambuf_iterator<char>());
}

Result<std::string> Session::ReadSecret(std::string_view prompt) { return read_secret_(prompt); }

bool LooksLikeId(std::string_view text, std::string_view prefix) {
  size_t underscore = text.find('_');
  if (underscore == std::string_view::npos || underscore == 0) return false;
  std::string_view head = text.substr(0, underscore);
  std::string_view body = text.substr(underscore + 1);
  if (!prefix.empty() && head != prefix) return false;
  if (!std::all_of(head.begin(), head.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return false;
  }
  constexpr std::string_view kCrockford = "0123456789abcdefghjkmnpqrstvwxyz";
  return body.size() == 26 && body[0] <= '7' &&  // a ULID's top digit carries only 3 bits
         body.find_first_not_of(kCrockford) == std::string_view::npos;
}

}  // namespace hangar::cli
