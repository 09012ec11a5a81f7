// Monitoring commands: the alerts hangard raises and the rules that raise them, and the metric
// history of GPUs, nodes, projects and teams.
//
//   alerts list                                 GET /api/v1/alerts
//   alerts rules list|get|create|update|delete  /api/v1/alert-rules
//   metrics gpu|node|project|team ID            GET
//   /api/v1/{gpus|nodes|projects|teams}/{id}/metrics
//
// Rule, node, project and team arguments take an id or a name (resolved with ?name=). Flags are
// checked here before anything is sent, so a typo in --op or --for gets a local message and exit
// code 2 rather than a 422 (docs/cli.md, "Monitoring"; the alerting model: api/alert_types.h).
#include <memory>

#include "cli/session.h"

namespace hangar::cli {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

namespace {

const std::string kAlerts = "/api/v1/alerts";
const std::string kRules = "/api/v1/alert-rules";

// Alert rule ids are "arule_<ULID>" (common/ids.h); anything else is a rule's name.
constexpr std::string_view kRuleIdPrefix = "arule";

ApiResult<std::string> RulePath(ApiClient& c, const std::string& name_or_id) {
  HANGAR_ASSIGN_OR_RETURN_API(
      auto id, ResolveId<api::AlertRuleList>(c, kRules, kRuleIdPrefix, "alert rule", name_or_id));
  return kRules + "/" + UrlEncode(id);
}

// --op: the comparison as the API takes it, or its word (gt, ge, lt, le, eq, ne), which needs
// no shell quoting.
Result<std::string> ParseOp(const std::string& text) {
  static const std::pair<std::string_view, std::string_view> kOps[] = {
      {">", "gt"}, {">=", "ge"}, {"<", "lt"}, {"<=", "le"}, {"==", "eq"}, {"!=", "ne"}};
  for (auto [symbol, word] : kOps) {
    if (text == symbol || text == word) return std::string(symbol);
  }
  return std::unexpected(
      Error::Invalid("--op '" + text + "' is not a comparison")
          .Hint("use one of >, >=, <, <=, ==, != (quoted) or gt, ge, lt, le, eq, ne"));
}

// --for: how long the condition must hold before the alert fires: 0 (at once) up to 24h.
Result<int64_t> ParseForDuration(const std::string& text) {
  std::string_view digits = text;
  if (!digits.empty() && std::string_view("smhd").find(digits.back()) != std::string_view::npos) {
    digits.remove_suffix(1);
  }
  if (!digits.empty() && digits.find_first_not_of('0') == std::string_view::npos) return 0;
  auto seconds = ParseDurationSeconds(text);
  if (!seconds || *seconds > 86400) {
    return std::unexpected(Error::Invalid("--for '" + text + "' is not a duration from 0 to 24h")
                               .Hint("use e.g. 0, 90s, 5m, 1h"));
  }
  return *seconds;
}

// Checks `value` against the choices the API accepts, with a message naming them all.
Status CheckChoice(const std::string& value, std::string_view flag,
                   const std::vector<std::string_view>& choices) {
  std::string names;
  for (auto choice : choices) {
    if (value == choice) return {};
    names += (names.empty() ? "" : ", ") + std::string(choice);
  }
  return std::unexpected(
      Error::Invalid(std::string(flag) + " '" + value + "' is not one of " + names));
}

const std::vector<std::string_view> kSeverities = {"info", "warning", "critical"};

void AddAlertList(CLI::App& alerts, Session& s, Action& action) {
  struct ListFlags {
    std::string state, rule, subject;
    int64_t limit = 0;
  };
  auto f = std::make_shared<ListFlags>();
  auto* list = alerts.add_subcommand("list", "alerts: pending, firing and resolved");
  list->add_option("--state", f->state, "only alerts in this state")
      ->check(CLI::IsMember({"pending", "firing", "resolved"}));
  list->add_option("--rule", f->rule, "only alerts of this rule (name or id)");
  list->add_option("--subject", f->subject, "only alerts about this GPU or node id");
  list->add_option("--limit", f->limit, "show at most N alerts");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        std::string rule_id;
        if (!f->rule.empty()) {
          HANGAR_ASSIGN_OR_RETURN_API(
              rule_id,
              ResolveId<api::AlertRuleList>(c, kRules, kRuleIdPrefix, "alert rule", f->rule));
        }
        std::string q =
            Param("state", f->state) + Param("rule_id", rule_id) + Param("subject", f->subject);
        return Rendered(ListAll<api::AlertList>(c, kAlerts, q, f->limit), format);
      });
    };
  });
}

void AddRuleCreate(CLI::App& rules, Session& s, Action& action) {
  struct CreateFlags {
    api::CreateAlertRuleRequest req;
    std::string op, duration = "0", gpu_type, severity, description;
    std::vector<std::string> node_labels;
    bool disabled = false;
  };
  auto f = std::make_shared<CreateFlags>();
  f->req.scope = "gpu";
  auto* create = rules.add_subcommand(
      "create", "watch a metric: alert when METRIC OP THRESHOLD holds for --for");
  create->add_option("--name", f->req.name, "unique in the organisation")->required();
  create
      ->add_option("--metric", f->req.metric,
                   "utilization, memory_used_mib, temperature_c, power_watts, sm_clock_mhz, "
                   "ecc_dbe_total, gpu_unhealthy, node_unreachable")
      ->required();
  create->add_option("--op", f->op, ">, >=, <, <=, ==, != (or gt, ge, lt, le, eq, ne)")->required();
  create->add_option("--threshold", f->req.threshold, "the value compared with")->required();
  create->add_option("--for", f->duration,
                     "how long the condition must hold before it fires: 0 (default), 5m, 1h");
  create->add_option("--scope", f->req.scope,
                     "gpu (default), allocated_gpu (GPUs some workload holds) or node");
  create->add_option("--gpu-type", f->gpu_type, "only GPUs of this type");
  create->add_option("--node-label", f->node_labels, "only GPUs or nodes with this label: k=v");
  create->add_option("--severity", f->severity, "info, warning (server default) or critical");
  create->add_option("--description", f->description, "what it means and what to do");
  create->add_flag("--disabled", f->disabled, "create it switched off");
  create->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::CreateAlertRuleRequest req = f->req;
      auto op = ParseOp(f->op);
      if (!op) return s.Usage(op.error());
      req.op = *op;
      auto duration = ParseForDuration(f->duration);
      if (!duration) return s.Usage(duration.error());
      req.duration_seconds = *duration;
      if (auto ok = CheckChoice(req.scope, "--scope", {"gpu", "allocated_gpu", "node"}); !ok) {
        return s.Usage(ok.error());
      }
      if (!f->severity.empty()) {
        if (auto ok = CheckChoice(f->severity, "--severity", kSeverities); !ok) {
          return s.Usage(ok.error());
        }
        req.severity = f->severity;
      }
      if (!f->gpu_type.empty() || !f->node_labels.empty()) {
        api::AlertSelector selector;
        if (!f->gpu_type.empty()) selector.gpu_type = f->gpu_type;
        if (!f->node_labels.empty()) {
          auto labels = ParsePairs(f->node_labels, "--node-label");
          if (!labels) return s.Usage(labels.error());
          selector.node_labels = std::move(*labels);
        }
        req.selector = std::move(selector);
      }
      if (!f->description.empty()) req.description = f->description;
      if (f->disabled) req.enabled = false;
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::AlertRule>(kRules, req), format);
      });
    };
  });
}

void AddRuleUpdate(CLI::App& rules, Session& s, Action& action) {
  struct UpdateFlags {
    std::string rule, op, duration, severity, description;
    double threshold = 0;
    bool enable = false, disable = false;
  };
  auto f = std::make_shared<UpdateFlags>();
  auto* update =
      rules.add_subcommand("update", "change a rule's condition, severity or switch it on or off");
  update->add_option("RULE", f->rule, "rule name or id")->required();
  auto* threshold = update->add_option("--threshold", f->threshold, "the value compared with");
  update->add_option("--op", f->op, ">, >=, <, <=, ==, != (or gt, ge, lt, le, eq, ne)");
  update->add_option("--for", f->duration, "how long the condition must hold: 0, 5m, 1h");
  update->add_option("--severity", f->severity, "info, warning or critical");
  update->add_option("--description", f->description, "what it means and what to do");
  auto* enable = update->add_flag("--enable", f->enable, "switch it on");
  update->add_flag("--disable", f->disable, "switch it off")->excludes(enable);
  update->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::UpdateAlertRuleRequest patch;
      if (threshold->count() > 0) patch.threshold = f->threshold;
      if (!f->op.empty()) {
        auto op = ParseOp(f->op);
        if (!op) return s.Usage(op.error());
        patch.op = *op;
      }
      if (!f->duration.empty()) {
        auto duration = ParseForDuration(f->duration);
        if (!duration) return s.Usage(duration.error());
        patch.duration_seconds = *duration;
      }
      if (!f->severity.empty()) {
        if (auto ok = CheckChoice(f->severity, "--severity", kSeverities); !ok) {
          return s.Usage(ok.error());
        }
        patch.severity = f->severity;
      }
      if (!f->description.empty()) patch.description = f->description;
      if (f->enable) patch.enabled = true;
      if (f->disable) patch.enabled = false;
      if (json::Encode(patch) == json::Encode(api::UpdateAlertRuleRequest{})) {
        return s.Usage(Error::Invalid("nothing to change")
                           .Hint("give --threshold, --op, --for, --severity, --description, "
                                 "--enable or --disable"));
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, RulePath(c, f->rule));
        return Rendered(c.Patch<api::AlertRule>(path, patch), format);
      });
    };
  });
}

void AddRuleCommands(CLI::App& alerts, Session& s, Action& action) {
  auto* rules =
      alerts.add_subcommand("rules", "the rules that raise alerts")->require_subcommand(1);

  auto limit = std::make_shared<int64_t>(0);
  auto* list = rules->add_subcommand("list", "list alert rules (built-in ones included)");
  list->add_option("--limit", *limit, "show at most N rules");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(ListAll<api::AlertRuleList>(c, kRules, "", *limit), format);
      });
    };
  });

  auto get_rule = std::make_shared<std::string>();
  auto* get = rules->add_subcommand("get", "show one alert rule");
  get->add_option("RULE", *get_rule, "rule name or id")->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, RulePath(c, *get_rule));
        return Rendered(c.Get<api::AlertRule>(path), format);
      });
    };
  });

  AddRuleCreate(*rules, s, action);
  AddRuleUpdate(*rules, s, action);

  auto delete_rule = std::make_shared<std::string>();
  auto* remove = rules->add_subcommand(
      "delete", "delete an alert rule and its alerts (built-in rules can only be disabled)");
  remove->add_option("RULE", *delete_rule, "rule name or id")->required();
  remove->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, RulePath(c, *delete_rule));
        auto res = c.Delete(path);
        if (!res) return std::unexpected(std::move(res).error());
        return Msg("alert rule " + *delete_rule + " deleted");
      });
    };
  });
}

// ---- metrics
// -------------------------------------------------------------------------------------

struct MetricFlags {
  std::string id, metric = "utilization", from, to, step;
};

// Resolves the object a `metrics` subcommand names to its id.
using IdResolver = ApiResult<std::string> (*)(ApiClient&, const std::string&);

void AddMetricCommand(CLI::App& metrics, Session& s, Action& action, const std::string& noun,
                      const std::string& collection, IdResolver resolve) {
  auto f = std::make_shared<MetricFlags>();
  auto* cmd = metrics.add_subcommand(noun, "the metric history of a " +
                                               std::string(noun == "gpu" ? "GPU" : noun) +
                                               ": min, mean and max per step");
  cmd->add_option("ID", f->id, noun == "gpu" ? "GPU id" : noun + " id or name")->required();
  cmd->add_option("--metric", f->metric,
                  "utilization (default), memory_used_mib, temperature_c, power_watts, "
                  "sm_clock_mhz");
  cmd->add_option("--from", f->from,
                  "start: RFC 3339, now, or a duration ago: -1h, -30m, -2d (default: 1h before "
                  "--to)");
  cmd->add_option("--to", f->to, "end: RFC 3339, now or -DURATION (default now)");
  cmd->add_option("--step", f->step, "bucket width: 15s, 1m, 1h (default: the range / 300)");
  cmd->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      // Relative times are resolved here, on this machine's clock, so the server sees plain
      // RFC 3339 and the range printed in the header is the range that was asked for.
      Timestamp now = s.clock().Now();
      auto from = ParseTimeFlag(f->from, "--from", now);
      if (!from) return s.Usage(from.error());
      auto to = ParseTimeFlag(f->to, "--to", now);
      if (!to) return s.Usage(to.error());
      if (!f->step.empty()) {
        if (auto step = ParseDurationSeconds(f->step); !step) {
          return s.Usage(Error::Invalid("--step '" + f->step + "' is not a duration")
                             .Hint("use e.g. 15s, 1m, 1h"));
        }
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto id, resolve(c, f->id));
        std::string query = Param("metric", f->metric) + Param("from", *from) + Param("to", *to) +
                            Param("step", f->step);
        if (!query.empty()) query[0] = '?';
        return Rendered(c.Get<api::MetricSeries>("/api/v1/" + collection + "/" + UrlEncode(id) +
                                                 "/metrics" + query),
                        format);
      });
    };
  });
}

void AddMetricCommands(CLI::App& app, Session& s, Action& action) {
  auto* metrics = app.add_subcommand("metrics", "metric history of a GPU, node, project or team")
                      ->require_subcommand(1);
  AddMetricCommand(*metrics, s, action, "gpu", "gpus",
                   [](ApiClient&, const std::string& id) -> ApiResult<std::string> { return id; });
  AddMetricCommand(*metrics, s, action, "node", "nodes", [](ApiClient& c, const std::string& id) {
    return ResolveId<api::NodeList>(c, "/api/v1/nodes", "node", "node", id);
  });
  AddMetricCommand(
      *metrics, s, action, "project", "projects", [](ApiClient& c, const std::string& id) {
        return ResolveId<api::ProjectList>(c, "/api/v1/projects", "proj", "project", id);
      });
  AddMetricCommand(*metrics, s, action, "team", "teams", [](ApiClient& c, const std::string& id) {
    return ResolveId<api::TeamList>(c, "/api/v1/teams", "team", "team", id);
  });
}

}  // namespace

void AddMonitoringCommands(CLI::App& app, Session& s, Action& action) {
  auto* alerts =
      app.add_subcommand("alerts", "alerts raised by the monitoring rules")->require_subcommand(1);
  AddAlertList(*alerts, s, action);
  AddRuleCommands(*alerts, s, action);
  AddMetricCommands(app, s, action);
}

}  // namespace hangar::cli
