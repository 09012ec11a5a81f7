// `hangar login` and `hangar logout`: an API key verified with GET /api/v1/whoami, or the OAuth
// 2.0 device authorization grant (RFC 8628, cli/oauth.h); the credentials go into a context of the
// config file (config.h), which stays mode 0600.
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/oauth.h"
#include "cli/session.h"

namespace hangar::cli {

namespace {

using client::ApiClient;
using client::ApiError;
using client::ApiResult;

std::string Trim(std::string text) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!text.empty() && space(text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && space(text[start])) ++start;
  return text.substr(start);
}

// Where login stores credentials: --context, else the current context, else "default".
std::string ContextName(const std::string& flag, const CliConfig& config) {
  if (!flag.empty()) return flag;
  return config.current_context.empty() ? "default" : config.current_context;
}

// The server to sign in to: --url, else HANGAR_URL, else the context's URL.
Result<std::string> LoginUrl(const Session& s, const CliConfig& config, const std::string& name) {
  if (!s.globals().connection.url.empty()) return s.globals().connection.url;
  if (auto v = s.env()("HANGAR_URL")) return *v;
  if (auto it = config.contexts.find(name);
      it != config.contexts.end() && !it->second.url.empty()) {
    return it->second.url;
  }
  return std::unexpected(Error::Invalid("no server URL configured for context '" + name + "'")
                             .Hint("pass --url, e.g. `hangar --url http://localhost:8080 login`"));
}

// "Logged in as NAME (user user_1) in organisation ORG; credentials stored in context CTX."
std::string LoggedIn(const api::WhoAmI& me, const std::string& context) {
  std::string who = me.name.empty() ? me.principal_id : me.name;
  std::string text = "Logged in as " + who + " (" + me.principal_type;
  if (!me.principal_id.empty() && me.principal_id != who) text += " " + me.principal_id;
  text += ")";
  if (!me.organization_name.empty()) text += " in organisation " + me.organization_name;
  return text + "; credentials stored in context " + context + ".\n";
}

// Stores `change` into context `name` under the config lock and makes it current.
Status StoreContext(const std::filesystem::path& path, const std::string& name,
                    const std::function<void(Context&)>& change) {
  ConfigLock lock(path);
  HANGAR_ASSIGN_OR_RETURN(auto config, LoadConfig(path));
  change(config.contexts[name]);
  config.current_context = name;
  return SaveConfig(path, config);
}

struct LoginFlags {
  bool key_stdin = false;
  std::string key_file;
  std::string context;
};

int LoginWithApiKey(Session& s, const LoginFlags& lf, const std::string& name,
                    const std::string& url) {
  std::string key;
  if (lf.key_stdin) {
    key = Trim(s.ReadStdin());
  } else {
    std::ifstream in(lf.key_file);
    if (!in) return s.Usage(Error::Invalid("cannot read --api-key-file " + lf.key_file));
    std::stringstream text;
    text << in.rdbuf();
    key = Trim(text.str());
  }
  if (key.empty()) return s.Usage(Error::Invalid("no API key given: the input is empty"));
  if (key.find_first_of(" \t\r\n") != std::string::npos) {
    return s.Usage(Error::Invalid("the API key must be a single word with no spaces"));
  }
  auto client = s.NewClient(url, key);
  if (!client) return s.Usage(client.error());
  auto me = (*client)->Get<api::WhoAmI>("/api/v1/whoami");
  if (!me) return s.Fail(me.error());  // not stored: a key the server rejects is useless
  auto saved = StoreContext(s.config_path(), name, [&](Context& ctx) {
    ctx.url = url;
    ctx.token = key;
    ctx.refresh_token.clear();
    ctx.token_expires_at.reset();
  });
  if (!saved) return s.Usage(saved.error());
  s.out() << LoggedIn(*me, name);
  return kExitOk;
}

int LoginWithDeviceFlow(Session& s, const std::string& name, const std::string& url) {
  auto client = s.NewClient(url, "");
  if (!client) return s.Usage(client.error());
  auto auth = oauth::StartDeviceAuthorization(**client, "*");
  if (!auth) return s.Fail(auth.error().error);
  s.out() << "Open " << auth->verification_uri_complete.value_or(auth->verification_uri)
          << " and confirm code " << auth->user_code << "\n";
  if (!auth->verification_uri_complete) {
    s.out() << "(enter the code there when asked)\n";
  }
  s.out() << "Waiting for confirmation..." << std::endl;
  auto tokens = oauth::PollDeviceToken(**client, *auth, s.clock(),
                                       [&s](std::chrono::seconds d) { s.Sleep(d); });
  if (!tokens) return s.Fail(tokens.error().error);
  Timestamp now = s.clock().Now();
  auto saved = StoreContext(s.config_path(), name, [&](Context& ctx) {
    ctx.url = url;
    ctx.token = tokens->access_token;
    ctx.refresh_token = tokens->refresh_token.value_or("");
    ctx.token_expires_at.reset();
    if (tokens->expires_in) ctx.token_expires_at = now + std::chrono::seconds(*tokens->expires_in);
  });
  if (!saved) return s.Usage(saved.error());
  auto me = s.NewClient(url, tokens->access_token);
  if (!me) return s.Usage(me.error());
  auto who = (*me)->Get<api::WhoAmI>("/api/v1/whoami");
  if (!who) {
    s.out() << "Logged in; credentials stored in context " << name << ".\n";
    s.err() << "Warning: could not ask the server who you are:\n" << RenderError(who.error());
    return kExitOk;
  }
  s.out() << LoggedIn(*who, name);
  return kExitOk;
}

}  // namespace

void AddAuthCommands(CLI::App& app, Session& s, Action& action) {
  auto lf = std::make_shared<LoginFlags>();
  auto* login = app.add_subcommand(
      "login", "sign in: in the browser (OAuth device flow), or with an API key (--api-key-stdin)");
  auto* key_stdin =
      login->add_flag("--api-key-stdin", lf->key_stdin, "read an API key from standard input");
  login->add_option("--api-key-file", lf->key_file, "read an API key from this file")
      ->excludes(key_stdin);
  login->add_option("--context", lf->context,
                    "store the credentials in this context (default: the current one, or "
                    "\"default\") and make it current");
  login->callback([&s, &action, lf] {
    action = [&s, lf]() -> int {
      auto config = LoadConfig(s.config_path());
      if (!config) return s.Usage(config.error());
      std::string name = ContextName(lf->context, *config);
      auto url = LoginUrl(s, *config, name);
      if (!url) return s.Usage(url.error());
      if (lf->key_stdin || !lf->key_file.empty()) return LoginWithApiKey(s, *lf, name, *url);
      return LoginWithDeviceFlow(s, name, *url);
    };
  });

  auto logout_context = std::make_shared<std::string>();
  auto* logout = app.add_subcommand(
      "logout", "revoke the login session's refresh token and forget the stored credentials");
  logout->add_option("--context", *logout_context, "the context (default: the current one)");
  logout->callback([&s, &action, logout_context] {
    action = [&s, logout_context]() -> int {
      auto path = s.config_path();
      ConfigLock lock(path);
      auto config = LoadConfig(path);
      if (!config) return s.Usage(config.error());
      std::string name = logout_context->empty() ? config->current_context : *logout_context;
      auto it = config->contexts.find(name);
      if (it == config->contexts.end() ||
          (it->second.token.empty() && it->second.refresh_token.empty())) {
        s.out() << "Not logged in" << (name.empty() ? "" : " (context " + name + ")") << ".\n";
        return kExitOk;
      }
      Context& ctx = it->second;
      std::optional<ApiError> revoke_error;
      bool api_key = ctx.refresh_token.empty();
      if (!api_key) {
        auto client = s.NewClient(ctx.url, "");
        if (!client) {
          revoke_error = ApiError::FromError(client.error());
        } else if (auto r = oauth::RevokeRefreshToken(**client, ctx.refresh_token); !r) {
          revoke_error = std::move(r).error().error;
        }
      }
      // Forgotten locally whatever the server said: the user asked to be signed out here.
      ctx.token.clear();
      ctx.refresh_token.clear();
      ctx.token_expires_at.reset();
      if (auto saved = SaveConfig(path, *config); !saved) return s.Usage(saved.error());
      if (revoke_error) {
        s.err() << "Warning: the credentials of context " << name
                << " were forgotten here, but the server could not revoke the session; it "
                   "stays valid until it expires.\n"
                << RenderError(*revoke_error);
        return ExitCodeFor(*revoke_error);
      }
      s.out() << "Logged out of context " << name << ".\n";
      if (api_key) {
        s.out() << "The API key itself still works: revoke it with `hangar api-keys revoke "
                   "ID` if it should not.\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace hangar::cli
