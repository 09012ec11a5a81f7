#include "cli/cli.h"

#include <CLI/CLI.hpp>

#include "cli/log_commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "client/api_client.h"

namespace hangar::cli {

using client::ApiResult;

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Env& env,
           const CliIo& io) {
  Globals g;
  Session s(g, out, err, env, io);
  Action action;

  CLI::App app{"hangar: the command line for the Hangar GPU platform"};
  app.require_subcommand(1);
  app.add_option("--url", g.connection.url, "hangard URL (env HANGAR_URL)");
  app.add_option("--token", g.connection.token, "API token (env HANGAR_TOKEN)");
  app.add_option("--token-file", g.connection.token_file, "read the API token from this file");
  app.add_option("--config", g.config,
                 "config file (env HANGAR_CONFIG, default ~/.config/hangar/config.yaml)");
  app.add_option("-o,--output", g.output, "table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  for (auto* opt : app.get_options()) opt->configurable(false);
  app.fallthrough();

  // ---- version
  app.add_subcommand("version", "print the CLI version")->callback([&] {
    action = [&] {
      out << "hangar " << HANGAR_VERSION << "\n";
      return int(kExitOk);
    };
  });

  AddFleetCommands(app, s, action);
  AddMonitoringCommands(app, s, action);

  // ---- gpu-types
  auto* types = app.add_subcommand("gpu-types", "the GPU type catalogue")->require_subcommand(1);
  struct {
    int64_t limit = 0;
    api::CreateGpuTypeRequest req;
    std::string price, currency;
  } tf;
  auto* types_list = types->add_subcommand("list", "list GPU types");
  types_list->add_option("--limit", tf.limit, "show at most N types");
  types_list->callback([&] {
    action = [&] {
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::GpuTypeList>(c, "/api/v1/gpu-types", "", tf.limit), f);
      });
    };
  });
  auto* types_create = types->add_subcommand("create", "add a GPU type to the catalogue");
  types_create->add_option("--name", tf.req.name, "catalogue name, e.g. H100-80GB")->required();
  types_create->add_option("--vendor", tf.req.vendor, "e.g. nvidia")->required();
  types_create->add_option("--architecture", tf.req.architecture, "e.g. hopper")->required();
  types_create
      ->add_option("--product-name", tf.req.product_name,
                   "the driver's product name, e.g. \"NVIDIA H100 80GB HBM3\"")
      ->required();
  types_create->add_option("--memory-mib", tf.req.memory_mib, "memory in MiB")->required();
  types_create->add_option("--compute-capability", tf.req.compute_capability, "e.g. 9.0")
      ->required();
  types_create->add_option("--hourly-price", tf.price, "price of one GPU-hour, e.g. 2.49")
      ->required();
  types_create->add_option("--currency", tf.currency, "ISO 4217 code (server default USD)");
  types_create->callback([&] {
    action = [&]() -> int {
      auto micros = ParsePriceMicros(tf.price);
      if (!micros) return s.Usage(micros.error());
      tf.req.hourly_price_micros = *micros;
      if (!tf.currency.empty()) tf.req.currency = tf.currency;
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) {
        return Rendered(c.Post<api::GpuType>("/api/v1/gpu-types", tf.req), f);
      });
    };
  });

  struct {
    std::string id, name, price, currency;
  } tu;
  auto* types_update =
      types->add_subcommand("update", "rename a GPU type or set its price (e.g. a discovered one)");
  types_update->add_option("id", tu.id, "GPU type id (gput_…)")->required();
  types_update->add_option("--name", tu.name, "new catalogue name");
  types_update->add_option("--hourly-price", tu.price, "price of one GPU-hour, e.g. 2.49");
  types_update->add_option("--currency", tu.currency, "ISO 4217 code");
  types_update->callback([&] {
    action = [&]() -> int {
      api::UpdateGpuTypeRequest patch;
      if (!tu.name.empty()) patch.name = tu.name;
      if (!tu.currency.empty()) patch.currency = tu.currency;
      if (!tu.price.empty()) {
        auto micros = ParsePriceMicros(tu.price);
        if (!micros) return s.Usage(micros.error());
        patch.hourly_price_micros = *micros;
      }
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) {
        return Rendered(
            c.Patch<api::GpuType>("/api/v1/gpu-types/" + client::UrlEncode(tu.id), patch), f);
      });
    };
  });

  // ---- events
  auto* events = app.add_subcommand("events", "the organisation's event log (audit trail)")
                     ->require_subcommand(1);
  struct {
    int64_t limit = 50;
    std::string type, subject;
  } ef;
  auto* events_list = events->add_subcommand("list", "recent events, newest first");
  events_list->add_option("--limit", ef.limit, "show at most N events (default 50)");
  events_list->add_option("--type", ef.type, "only this type, e.g. hangar.node.unreachable");
  events_list->add_option("--subject", ef.subject, "only events about this object id");
  events_list->callback([&] {
    action = [&] {
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) {
        std::string q = Param("type", ef.type) + Param("subject", ef.subject);
        return Rendered(ListAll<api::EventList>(c, "/api/v1/events", q, ef.limit), f);
      });
    };
  });

  // ---- join-tokens
  auto* tokens = app.add_subcommand("join-tokens", "tokens that let agents register nodes")
                     ->require_subcommand(1);
  struct {
    int64_t limit = 0;
    std::string description, ttl, id;
    bool quiet = false;
  } jf;
  auto* tokens_create = tokens->add_subcommand("create", "create a join token (shown once)");
  tokens_create->add_option("--description", jf.description, "what the token is for");
  tokens_create->add_option("--ttl", jf.ttl, "lifetime: 90s, 30m, 24h, 7d (server default 24h)");
  tokens_create->add_flag("-q,--quiet", jf.quiet, "print only the token");
  tokens_create->callback([&] {
    action = [&]() -> int {
      api::CreateJoinTokenRequest req;
      if (!jf.description.empty()) req.description = jf.description;
      if (!jf.ttl.empty()) {
        auto ttl = ParseDurationSeconds(jf.ttl);
        if (!ttl) return s.Usage(ttl.error());
        req.ttl_seconds = *ttl;
      }
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto token,
                                    c.Post<api::JoinToken>("/api/v1/nodes/join-tokens", req));
        if (jf.quiet) return token.token.value_or("") + "\n";
        std::string text = RenderOne(token, f);
        if (f == OutputFormat::kTable) {
          text += "\nToken (shown only once): " + token.token.value_or("") +
                  "\nStart an agent with: hangar-agent --server URL --join-token " +
                  token.token.value_or("") + "\n";
        }
        return text;
      });
    };
  });
  auto* tokens_list = tokens->add_subcommand("list", "list join tokens (secrets are not shown)");
  tokens_list->add_option("--limit", jf.limit, "show at most N tokens");
  tokens_list->callback([&] {
    action = [&] {
      return s.WithClient([&](client::ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::JoinTokenList>(c, "/api/v1/nodes/join-tokens", "", jf.limit),
                        f);
      });
    };
  });
  auto* tokens_delete = tokens->add_subcommand("delete", "revoke a join token");
  tokens_delete->add_option("ID", jf.id)->required();
  tokens_delete->callback([&] {
    action = [&] {
      return s.WithClient([&](client::ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        auto res = c.Delete("/api/v1/nodes/join-tokens/" + client::UrlEncode(jf.id));
        if (!res) return std::unexpected(std::move(res).error());
        return Msg("join token " + jf.id + " deleted");
      });
    };
  });

  AddIdentityCommands(app, s, action);
  AddJobCommands(app, s, action);
  AddScheduleCommands(app, s, action);
  AddReservationCommands(app, s, action);
  AddInstanceCommands(app, s, action);
  AddApprovalCommands(app, s, action);
  AddLogCommands(app, s, action);
  AddAuthCommands(app, s, action);

  // ---- config
  auto* config = app.add_subcommand("config", "named server contexts in the config file")
                     ->require_subcommand(1);
  struct {
    std::string name, url, token;
  } cf;
  auto edit_config = [&](auto change) -> int {
    auto path = ConfigPath(g.config, env);
    ConfigLock lock(path);
    auto cfg = LoadConfig(path);
    if (!cfg) return s.Usage(cfg.error());
    if (auto st = change(*cfg); st != kExitOk) return st;
    if (auto saved = SaveConfig(path, *cfg); !saved) return s.Usage(saved.error());
    return int(kExitOk);
  };
  auto* set_context = config->add_subcommand("set-context",
                                             "create or update a context and "
                                             "make it current");
  set_context->add_option("NAME", cf.name)->required();
  set_context->add_option("--url", cf.url, "hangard URL");
  set_context->add_option("--token", cf.token, "API token");
  set_context->callback([&] {
    action = [&] {
      return edit_config([&](CliConfig& c) {
        Context& ctx = c.contexts[cf.name];
        if (!cf.url.empty()) ctx.url = cf.url;
        if (!cf.token.empty()) {
          // A token set by hand replaces a login session: its refresh token is not for it.
          ctx.token = cf.token;
          ctx.refresh_token.clear();
          ctx.token_expires_at.reset();
        }
        c.current_context = cf.name;
        out << "context " << cf.name << " set and current\n";
        return int(kExitOk);
      });
    };
  });
  auto* use_context = config->add_subcommand("use-context", "switch the current context");
  use_context->add_option("NAME", cf.name)->required();
  use_context->callback([&] {
    action = [&] {
      return edit_config([&](CliConfig& c) -> int {
        if (!c.contexts.contains(cf.name)) {
          err << "Error: no context named '" << cf.name
              << "'\nHint: see `hangar config "
                 "get-contexts`\n";
          return kExitNotFound;
        }
        c.current_context = cf.name;
        out << "switched to context " << cf.name << "\n";
        return int(kExitOk);
      });
    };
  });
  config->add_subcommand("get-contexts", "list contexts")->callback([&] {
    action = [&]() -> int {
      auto cfg = LoadConfig(ConfigPath(g.config, env));
      if (!cfg) return s.Usage(cfg.error());
      std::vector<std::vector<std::string>> rows;
      for (const auto& [name, c] : cfg->contexts) {
        rows.push_back({name == cfg->current_context ? "*" : "", name, c.url});
      }
      out << RenderTable({"CURRENT", "NAME", "URL"}, rows);
      return int(kExitOk);
    };
  });
  config->add_subcommand("current-context", "print the current context")->callback([&] {
    action = [&]() -> int {
      auto cfg = LoadConfig(ConfigPath(g.config, env));
      if (!cfg) return s.Usage(cfg.error());
      if (cfg->current_context.empty()) {
        err << "Error: no current context\nHint: run `hangar config set-context NAME --url "
               "URL --token TOKEN`\n";
        return kExitNotFound;
      }
      out << cfg->current_context << "\n";
      return int(kExitOk);
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);  // prints the help of the subcommand that asked for it
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    // Help for the failing subcommand is printed by CLI11's own exit(); keep it short here.
    err << "Error: " << e.what() << "\nRun with --help for usage.\n";
    return kExitUsage;
  }
  if (!action) return kExitUsage;
  return action();
}

}  // namespace hangar::cli
