#include "monitoring/alert_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>

#include "common/json_codec.h"
#include "store/read_all.h"
#include "store/repos.h"

namespace hangar::monitoring {
namespace {

constexpr std::string_view kGpuMetrics[] = {"utilization",  "memory_used_mib", "temperature_c",
                                            "power_watts",  "sm_clock_mhz",    "ecc_dbe_total",
                                            "gpu_unhealthy"};
constexpr std::string_view kOps[] = {">", ">=", "<", "<=", "==", "!="};
constexpr std::string_view kSeverities[] = {"info", "warning", "critical"};
// A sample older than this is no data: a silent GPU is not an idle one.
constexpr auto kFresh = std::chrono::minutes(2);

template <size_t N>
bool OneOf(std::string_view v, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

bool Holds(double value, std::string_view op, double threshold) {
  if (op == ">") return value > threshold;
  if (op == ">=") return value >= threshold;
  if (op == "<") return value < threshold;
  if (op == "<=") return value <= threshold;
  if (op == "==") return value == threshold;
  return value != threshold;
}

std::string LinkTo(std::string_view collection, const std::string& id) {
  return "/api/v1/" + std::string(collection) + "/" + id;
}

void CheckRuleFields(Error& e, std::string_view metric, std::string_view scope, std::string_view op,
                     double threshold, int64_t duration, std::string_view severity) {
  if (scope != "gpu" && scope != "allocated_gpu" && scope != "node") {
    e.AddField("/scope", "must be gpu, allocated_gpu or node");
  } else if (scope == "node" ? metric != "node_unreachable" : !OneOf(metric, kGpuMetrics)) {
    e.AddField("/metric", scope == "node"
                              ? "a node rule watches node_unreachable"
                              : "must be one of utilization, memory_used_mib, temperature_c, "
                                "power_watts, sm_clock_mhz, ecc_dbe_total, gpu_unhealthy");
  }
  if (!OneOf(op, kOps)) e.AddField("/op", "must be one of >, >=, <, <=, ==, !=");
  if (!std::isfinite(threshold)) e.AddField("/threshold", "must be a finite number");
  if (duration < 0 || duration > 86400) e.AddField("/duration_seconds", "must be 0..86400");
  if (!OneOf(severity, kSeverities)) e.AddField("/severity", "must be info, warning or critical");
}

void CheckSelector(Error& e, const api::AlertSelector& s) {
  if (s.gpu_type && (s.gpu_type->empty() || s.gpu_type->size() > 64)) {
    e.AddField("/selector/gpu_type", "must be 1..64 characters");
  }
  if (s.node_labels && s.node_labels->size() > 16) {
    e.AddField("/selector/node_labels", "at most 16 labels");
  }
}

Error NotFoundRule(const std::string& id) {
  return Error::NotFound("alert rule " + id + " not found");
}

struct Builtin {
  std::string_view name, description, metric, op;
  double threshold;
  int64_t duration;
  std::string_view scope, severity;
};
constexpr Builtin kBuiltins[] = {
    {"gpu-overheating", "A GPU ran at 85 C or hotter for a minute.", "temperature_c", ">=", 85, 60,
     "gpu", "critical"},
    {"gpu-ecc-errors", "A GPU reported uncorrectable (double-bit) ECC errors.", "ecc_dbe_total",
     ">", 0, 0, "gpu", "critical"},
    {"gpu-unhealthy",
     "A GPU failed the agent's health checks (Xid, fell off the bus, ECC, thermal).",
     "gpu_unhealthy", "==", 1, 0, "gpu", "critical"},
    {"node-unreachable", "A node stopped heartbeating.", "node_unreachable", "==", 1, 0, "node",
     "critical"},
    {"gpu-allocated-idle",
     "A GPU held by a workload stayed under 5 % utilisation for 30 minutes: paid for, unused.",
     "utilization", "<", 5, 1800, "allocated_gpu", "warning"},
};

}  // namespace

api::AlertRule ToApi(const store::AlertRuleRecord& r) {
  return api::AlertRule{.id = r.id,
                        .name = r.name,
                        .description = r.description,
                        .metric = r.metric,
                        .op = r.op,
                        .threshold = r.threshold,
                        .duration_seconds = r.duration_seconds,
                        .scope = r.scope,
                        .selector = r.selector,
                        .severity = r.severity,
                        .enabled = r.enabled,
                        .builtin = r.builtin,
                        .created_at = FormatRfc3339(r.created_at),
                        .updated_at = FormatRfc3339(r.updated_at),
                        .etag = api::ETagOf(r.version),
                        .links = {{"self", LinkTo("alert-rules", r.id)},
                                  {"alerts", "/api/v1/alerts?rule_id=" + r.id}}};
}

api::Alert ToApi(const store::AlertRecord& a) {
  auto opt = [](const std::optional<Timestamp>& t) {
    return t ? std::optional<std::string>(FormatRfc3339(*t)) : std::nullopt;
  };
  return api::Alert{
      .id = a.id,
      .rule_id = a.rule_id,
      .rule_name = a.rule_name,
      .subject = a.subject,
      .state = a.state,
      .severity = a.severity,
      .value = a.value,
      .message = a.message,
      .started_at = FormatRfc3339(a.started_at),
      .fired_at = opt(a.fired_at),
      .resolved_at = opt(a.resolved_at),
      .updated_at = FormatRfc3339(a.updated_at),
      .etag = api::ETagOf(a.version),
      .links = {{"self", LinkTo("alerts", a.id)},
                {"rule", LinkTo("alert-rules", a.rule_id)},
                {"subject", LinkTo(a.subject.starts_with("node_") ? "nodes" : "gpus", a.subject)}}};
}

AlertService::AlertService(store::Store& store, const Clock& clock, MetricHub& hub,
                           const workloads::GpuHolders& holders)
    : store_(store), clock_(clock), hub_(hub), holders_(holders) {}

Result<store::AlertRuleRecord> AlertService::CreateRule(const identity::Principal& who,
                                                        const api::CreateAlertRuleRequest& r) {
  Error invalid = Error::Invalid("the alert rule is not valid");
  if (r.name.empty() || r.name.size() > 63 ||
      !std::all_of(r.name.begin(), r.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    invalid.AddField("/name", "must be 1..63 characters of [A-Za-z0-9._-]");
  }
  if (r.description && r.description->size() > 1024) {
    invalid.AddField("/description", "at most 1024 characters");
  }
  std::string severity = r.severity.value_or("warning");
  CheckRuleFields(invalid, r.metric, r.scope, r.op, r.threshold, r.duration_seconds, severity);
  if (r.selector) CheckSelector(invalid, *r.selector);
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  Timestamp now = clock_.Now();
  store::AlertRuleRecord rule{.id = AlertRuleId::Generate(clock_).str(),
                              .org_id = who.org_id,
                              .name = r.name,
                              .description = r.description.value_or(""),
                              .metric = r.metric,
                              .op = r.op,
                              .threshold = r.threshold,
                              .duration_seconds = r.duration_seconds,
                              .scope = r.scope,
                              .selector = r.selector.value_or(api::AlertSelector{}),
                              .severity = severity,
                              .enabled = r.enabled.value_or(true),
                              .created_at = now,
                              .updated_at = now};
  Status written = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::InsertAlertRule(tx, rule));
    return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock_),
                                                     .org_id = who.org_id,
                                                     .type = "hangar.alert_rule.created",
                                                     .source = "/api/v1/alert-rules",
                                                     .subject = rule.id,
                                                     .time = now,
                                                     .data_json = json::Serialize(ToApi(rule)),
                                                     .actor = who.ActorId()});
  });
  if (!written && written.error().code() == ErrorCode::kAlreadyExists) {
    return std::unexpected(Error::AlreadyExists("an alert rule named " + r.name + " exists")
                               .Field("/name", "is taken"));
  }
  HANGAR_TRY(written);
  return rule;
}

Result<store::AlertRuleRecord> AlertService::GetRule(const identity::Principal& who,
                                                     const std::string& id) {
  std::optional<store::AlertRuleRecord> rule;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(rule, store::GetAlertRule(tx, who.org_id, id));
    return Ok();
  }));
  if (!rule) return std::unexpected(NotFoundRule(id));
  return std::move(*rule);
}

Result<store::Page<store::AlertRuleRecord>> AlertService::ListRules(const identity::Principal& who,
                                                                    const store::ListQuery& query) {
  HANGAR_TRY(EnsureBuiltins(who.org_id));
  store::Page<store::AlertRuleRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListAlertRules(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Result<store::AlertRuleRecord> AlertService::UpdateRule(const identity::Principal& who,
                                                        const std::string& id,
                                                        const api::UpdateAlertRuleRequest& patch,
                                                        std::optional<int64_t> if_match_version) {
  std::optional<store::AlertRuleRecord> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto rule, store::GetAlertRule(tx, who.org_id, id));
    if (!rule) return std::unexpected(NotFoundRule(id));
    if (if_match_version && *if_match_version != rule->version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "the alert rule changed since it was read")
              .Hint("GET it again and retry with its current ETag in If-Match"));
    }
    store::AlertRuleRecord updated = *rule;
    if (patch.description) updated.description = *patch.description;
    if (patch.op) updated.op = *patch.op;
    if (patch.threshold) updated.threshold = *patch.threshold;
    if (patch.duration_seconds) updated.duration_seconds = *patch.duration_seconds;
    if (patch.selector) updated.selector = *patch.selector;
    if (patch.severity) updated.severity = *patch.severity;
    if (patch.enabled) updated.enabled = *patch.enabled;
    Error invalid = Error::Invalid("the alert rule update is not valid");
    CheckRuleFields(invalid, updated.metric, updated.scope, updated.op, updated.threshold,
                    updated.duration_seconds, updated.severity);
    CheckSelector(invalid, updated.selector);
    if (updated.description.size() > 1024) {
      invalid.AddField("/description", "at most 1024 characters");
    }
    if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateAlertRule(tx, updated));
    updated.version += 1;
    HANGAR_TRY(
        store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock_),
                                                  .org_id = who.org_id,
                                                  .type = "hangar.alert_rule.updated",
                                                  .source = "/api/v1/alert-rules",
                                                  .subject = updated.id,
                                                  .time = now,
                                                  .data_json = json::Serialize(ToApi(updated)),
                                                  .actor = who.ActorId()}));
    result = std::move(updated);
    return Ok();
  }));
  return std::move(*result);
}

Status AlertService::DeleteRule(const identity::Principal& who, const std::string& id) {
  return store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto rule, store::GetAlertRule(tx, who.org_id, id));
    if (!rule) return std::unexpected(NotFoundRule(id));
    if (rule->builtin) {
      return std::unexpected(Error::Conflict("built-in alert rules cannot be deleted")
                                 .Hint("disable it instead: PATCH {\"enabled\": false}"));
    }
    HANGAR_TRY(store::DeleteAlertRule(tx, who.org_id, id));
    return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock_),
                                                     .org_id = who.org_id,
                                                     .type = "hangar.alert_rule.deleted",
                                                     .source = "/api/v1/alert-rules",
                                                     .subject = id,
                                                     .time = clock_.Now(),
                                                     .data_json = json::Serialize(ToApi(*rule)),
                                                     .actor = who.ActorId()});
  });
}

Result<store::AlertRecord> AlertService::GetAlert(const identity::Principal& who,
                                                  const std::string& id) {
  std::optional<store::AlertRecord> alert;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(alert, store::GetAlert(tx, who.org_id, id));
    return Ok();
  }));
  if (!alert) return std::unexpected(Error::NotFound("alert " + id + " not found"));
  return std::move(*alert);
}

Result<store::Page<store::AlertRecord>> AlertService::ListAlerts(const identity::Principal& who,
                                                                 const store::ListQuery& query) {
  store::Page<store::AlertRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListAlerts(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Status AlertService::EnsureBuiltins(const OrgId& org) {
  {
    std::lock_guard lock(evaluate_mutex_);
    if (builtins_ensured_[org.str()]) return Ok();
  }
  Timestamp now = clock_.Now();
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    store::ListQuery by_name;
    for (const Builtin& b : kBuiltins) {
      by_name.equals = {{"name", std::string(b.name)}};
      HANGAR_ASSIGN_OR_RETURN(auto existing, store::ListAlertRules(tx, org, by_name));
      if (!existing.items.empty()) continue;
      HANGAR_TRY(store::InsertAlertRule(
          tx, store::AlertRuleRecord{.id = AlertRuleId::Generate(clock_).str(),
                                     .org_id = org,
                                     .name = std::string(b.name),
                                     .description = std::string(b.description),
                                     .metric = std::string(b.metric),
                                     .op = std::string(b.op),
                                     .threshold = b.threshold,
                                     .duration_seconds = b.duration,
                                     .scope = std::string(b.scope),
                                     .severity = std::string(b.severity),
                                     .enabled = true,
                                     .builtin = true,
                                     .created_at = now,
                                     .updated_at = now}));
    }
    return Ok();
  }));
  std::lock_guard lock(evaluate_mutex_);
  builtins_ensured_[org.str()] = true;
  return Ok();
}

Result<int> AlertService::Evaluate() {
  std::vector<OrgId> orgs;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(orgs, store::ListOrgsWithNodes(tx));
    return Ok();
  }));
  for (const auto& org : orgs) HANGAR_TRY(EnsureBuiltins(org));

  std::lock_guard serial(evaluate_mutex_);
  Timestamp now = clock_.Now();
  int64_t fresh_after_ms = ToUnixMicros(now - kFresh) / 1000;
  std::vector<store::AlertRuleRecord> rules;
  std::vector<store::AlertRecord> open;
  struct OrgFleet {
    std::vector<store::NodeRecord> nodes;
    std::vector<store::GpuRecord> gpus;
  };
  std::map<std::string, OrgFleet> fleets;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(rules, store::ListAllAlertRules(tx));
    HANGAR_ASSIGN_OR_RETURN(open, store::ListOpenAlerts(tx));
    for (const auto& org : orgs) {
      OrgFleet& f = fleets[org.str()];
      HANGAR_ASSIGN_OR_RETURN(f.nodes,
                              store::ReadAll<store::NodeRecord>(tx, org, store::ListNodes));
      HANGAR_ASSIGN_OR_RETURN(f.gpus, store::ReadAll<store::GpuRecord>(tx, org, store::ListGpus));
    }
    return Ok();
  }));
  std::map<std::string, store::AlertRecord*> open_by_key;  // rule_id|subject
  for (auto& a : open) open_by_key[a.rule_id + "|" + a.subject] = &a;
  std::map<std::string, std::map<std::string, GpuSnapshot>> samples;  // org -> gpu id -> snap
  for (const auto& org : orgs) {
    auto& m = samples[org.str()];
    for (auto& s : hub_.Gpus(org.str())) m.emplace(s.id.str(), std::move(s));
  }

  std::vector<store::AlertRecord> inserts, updates;
  std::set<std::string> still_holding;  // keys whose condition held this evaluation
  auto observe = [&](const store::AlertRuleRecord& rule, const std::string& subject, double value,
                     const std::string& where) {
    std::string key = rule.id + "|" + subject;
    still_holding.insert(key);
    std::string message = fmt::format("{}: {} is {} ({} {}) on {}", rule.name, rule.metric, value,
                                      rule.op, rule.threshold, where);
    auto it = open_by_key.find(key);
    if (it == open_by_key.end()) {
      bool fire_now = rule.duration_seconds == 0;
      inserts.push_back(
          store::AlertRecord{.id = AlertId::Generate(clock_).str(),
                             .org_id = rule.org_id,
                             .rule_id = rule.id,
                             .rule_name = rule.name,
                             .subject = subject,
                             .state = fire_now ? api::AlertState::firing : api::AlertState::pending,
                             .severity = rule.severity,
                             .value = value,
                             .message = message,
                             .started_at = now,
                             .fired_at = fire_now ? std::optional<Timestamp>(now) : std::nullopt,
                             .created_at = now,
                             .updated_at = now});
      return;
    }
    store::AlertRecord& a = *it->second;
    if (a.state == api::AlertState::pending &&
        now - a.started_at >= std::chrono::seconds(rule.duration_seconds)) {
      a.state = api::AlertState::firing;
      a.fired_at = now;
      a.value = value;
      a.message = message;
      a.updated_at = now;
      updates.push_back(a);
    }
  };

  for (const auto& rule : rules) {
    if (!rule.enabled || !fleets.contains(rule.org_id.str())) continue;
    const OrgFleet& fleet = fleets[rule.org_id.str()];
    std::map<std::string, const store::NodeRecord*> node_of;
    for (const auto& n : fleet.nodes) node_of[n.id.str()] = &n;
    auto labels_match = [&](const store::NodeRecord& n) {
      for (const auto& [k, v] : rule.selector.node_labels.value_or(api::Labels{})) {
        auto it = n.labels.find(k);
        if (it == n.labels.end() || it->second != v) return false;
      }
      return true;
    };
    if (rule.scope == "node") {
      for (const auto& n : fleet.nodes) {
        if (!labels_match(n)) continue;
        double value = n.state == api::NodeState::unreachable ? 1 : 0;
        if (Holds(value, rule.op, rule.threshold))
          observe(rule, n.id.str(), value, "node " + n.name);
      }
      continue;
    }
    auto holders = holders_.Of(rule.org_id.str());
    const auto& org_samples = samples[rule.org_id.str()];
    for (const auto& g : fleet.gpus) {
      auto n = node_of.find(g.node_id.str());
      if (n == node_of.end() || !labels_match(*n->second)) continue;
      if (rule.selector.gpu_type && *rule.selector.gpu_type != g.gpu_type_name) continue;
      const workloads::GpuHolder* holder = nullptr;
      if (auto h = holders->find(workloads::GpuHolders::GpuKey(g.node_id.str(), g.index));
          h != holders->end()) {
        holder = &h->second;
      }
      if (rule.scope == "allocated_gpu" && holder == nullptr) continue;
      std::optional<double> value;
      if (rule.metric == "gpu_unhealthy") {
        value = g.state == api::GpuState::unhealthy ? 1 : 0;
      } else if (auto s = org_samples.find(g.id.str()); s != org_samples.end() &&
                                                        s->second.latest &&
                                                        s->second.latest->t >= fresh_after_ms) {
        const api::GpuMetricPoint& p = *s->second.latest;
        if (rule.metric == "utilization") value = p.utilization;
        if (rule.metric == "memory_used_mib") value = static_cast<double>(p.memory_used_mib);
        if (rule.metric == "temperature_c") value = p.temperature_c;
        if (rule.metric == "power_watts") value = p.power_watts;
        if (rule.metric == "sm_clock_mhz") value = static_cast<double>(p.sm_clock_mhz);
        if (rule.metric == "ecc_dbe_total") value = static_cast<double>(p.ecc_dbe_total);
      }
      if (!value || !Holds(*value, rule.op, rule.threshold)) continue;
      std::string where = fmt::format("GPU {} of node {}", g.index, n->second->name);
      if (holder) where += " (held by " + holder->workload_id + ")";
      observe(rule, g.id.str(), *value, where);
    }
  }
  // Open alerts whose condition no longer holds (or whose rule is gone or disabled) resolve.
  for (auto& [key, a] : open_by_key) {
    if (still_holding.contains(key)) continue;
    a->state = api::AlertState::resolved;
    a->resolved_at = now;
    a->updated_at = now;
    updates.push_back(*a);
  }
  if (inserts.empty() && updates.empty()) return 0;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    auto emit = [&](const store::AlertRecord& a) {
      return store::AppendEvent(
          tx, store::EventRecord{.id = EventId::Generate(clock_),
                                 .org_id = a.org_id,
                                 .type = "hangar.alert." + std::string(json::EnumName(a.state)),
                                 .source = "/api/v1/alerts",
                                 .subject = a.id,
                                 .time = now,
                                 .data_json = json::Serialize(ToApi(a)),
                                 .actor = ""});
    };
    for (const auto& a : inserts) {
      HANGAR_TRY(store::InsertAlert(tx, a));
      HANGAR_TRY(emit(a));
    }
    for (const auto& a : updates) {
      HANGAR_TRY(store::UpdateAlert(tx, a));
      HANGAR_TRY(emit(a));
    }
    return Ok();
  }));
  for (const auto& a : inserts) {
    spdlog::info("alert {} {}: {}", a.rule_name, json::EnumName(a.state), a.message);
  }
  for (const auto& a : updates) {
    spdlog::info("alert {} {}: {}", a.rule_name, json::EnumName(a.state), a.message);
  }
  return static_cast<int>(inserts.size() + updates.size());
}

}  // namespace hangar::monitoring
