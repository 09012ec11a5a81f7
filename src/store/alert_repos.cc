// Alert repositories (see alert_repos.h).
#include "store/alert_repos.h"

#include "common/json_codec.h"
#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kRuleSelect =
    "SELECT r.id, r.org_id, r.name, r.description, r.metric, r.op, r.threshold,"
    " r.duration_seconds, r.scope, r.selector, r.severity, r.enabled, r.builtin, r.version,"
    " r.created_at, r.updated_at";
constexpr std::string_view kRuleFrom = " FROM alert_rules r";

Result<AlertRuleRecord> RuleFromRow(const Row& row) {
  AlertRuleRecord r{.id = row.Text(0),
                    .org_id = OrgId::FromTrusted(row.Text(1)),
                    .name = row.Text(2),
                    .description = row.Text(3),
                    .metric = row.Text(4),
                    .op = row.Text(5),
                    .threshold = row.Real(6),
                    .duration_seconds = row.Int(7),
                    .scope = row.Text(8)};
  auto selector = json::ParseAs<api::AlertSelector>(row.Text(9));
  if (!selector) return std::unexpected(CorruptRow("alert rule " + r.id + " selector"));
  r.selector = std::move(*selector);
  r.severity = row.Text(10);
  r.enabled = row.Int(11) != 0;
  r.builtin = row.Int(12) != 0;
  r.version = row.Int(13);
  r.created_at = row.Time(14);
  r.updated_at = row.Time(15);
  return r;
}

const ListTable& RuleTable() {
  static const ListTable t{&AlertRuleListSpec(),
                           kRuleSelect,
                           kRuleFrom,
                           "r.org_id",
                           "r.id",
                           "r.created_at",
                           {{"name", "r.name"},
                            {"metric", "r.metric"},
                            {"scope", "r.scope"},
                            {"created_at", "r.created_at"}}};
  return t;
}

constexpr std::string_view kAlertSelect =
    "SELECT a.id, a.org_id, a.rule_id, a.rule_name, a.subject, a.state, a.severity, a.value,"
    " a.message, a.started_at, a.fired_at, a.resolved_at, a.version, a.created_at, a.updated_at";
constexpr std::string_view kAlertFrom = " FROM alerts a";

Result<AlertRecord> AlertFromRow(const Row& row) {
  AlertRecord a{.id = row.Text(0),
                .org_id = OrgId::FromTrusted(row.Text(1)),
                .rule_id = row.Text(2),
                .rule_name = row.Text(3),
                .subject = row.Text(4)};
  HANGAR_ASSIGN_OR_RETURN(a.state, ParseEnum<api::AlertState>(row.Text(5), "alert state"));
  a.severity = row.Text(6);
  a.value = row.Real(7);
  a.message = row.Text(8);
  a.started_at = row.Time(9);
  a.fired_at = row.OptTime(10);
  a.resolved_at = row.OptTime(11);
  a.version = row.Int(12);
  a.created_at = row.Time(13);
  a.updated_at = row.Time(14);
  return a;
}

const ListTable& AlertTable() {
  static const ListTable t{&AlertListSpec(),
                           kAlertSelect,
                           kAlertFrom,
                           "a.org_id",
                           "a.id",
                           "a.created_at",
                           {{"state", "a.state"},
                            {"rule_id", "a.rule_id"},
                            {"subject", "a.subject"},
                            {"severity", "a.severity"},
                            {"created_at", "a.created_at"},
                            {"updated_at", "a.updated_at"}}};
  return t;
}

SqlValue OptTime(const std::optional<Timestamp>& t) {
  return t ? SqlValue(ToUnixMicros(*t)) : Null();
}

}  // namespace

const ListSpec& AlertRuleListSpec() {
  static const ListSpec spec{
      "alert rules",
      {
          Field("name", FieldType::kText, true, true, "The rule's name."),
          Field("metric", FieldType::kText, true, false, "The metric it watches."),
          Field("scope", FieldType::kText, true, false, "gpu, allocated_gpu or node."),
          Field("created_at", FieldType::kTime, false, true, "When it was created."),
      },
  };
  return spec;
}

const ListSpec& AlertListSpec() {
  static const ListSpec spec{
      "alerts",
      {
          EnumField<api::AlertState>("state", false, "pending, firing or resolved."),
          Field("rule_id", FieldType::kText, true, false, "The rule that raised it."),
          Field("subject", FieldType::kText, true, false, "The GPU or node it is about."),
          Field("severity", FieldType::kText, true, false, "info, warning or critical."),
          Field("created_at", FieldType::kTime, false, true, "When it was raised."),
          Field("updated_at", FieldType::kTime, false, true, "When its state last changed."),
      },
  };
  return spec;
}

Status InsertAlertRule(Tx& tx, const AlertRuleRecord& r) {
  return StatusOf(tx.Exec(
      "INSERT INTO alert_rules (id, org_id, name, description, metric, op, threshold,"
      " duration_seconds, scope, selector, severity, enabled, builtin, version, created_at,"
      " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15)",
      {r.id, r.org_id.str(), r.name, r.description, r.metric, r.op, r.threshold, r.duration_seconds,
       r.scope, json::Serialize(r.selector), r.severity, int64_t{r.enabled ? 1 : 0},
       int64_t{r.builtin ? 1 : 0}, ToUnixMicros(r.created_at), ToUnixMicros(r.updated_at)}));
}

Result<std::optional<AlertRuleRecord>> GetAlertRule(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kRuleSelect, kRuleFrom, " WHERE r.org_id = $1 AND r.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<AlertRuleRecord>(tx, sql, params, RuleFromRow);
}

Result<Page<AlertRuleRecord>> ListAlertRules(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<AlertRuleRecord>(tx, RuleTable(), org, query, RuleFromRow);
}

Result<std::vector<AlertRuleRecord>> ListAllAlertRules(Tx& tx) {
  static const std::string sql = Concat({kRuleSelect, kRuleFrom, " ORDER BY r.org_id, r.id"});
  return QueryAll<AlertRuleRecord>(tx, sql, {}, RuleFromRow);
}

Status UpdateAlertRule(Tx& tx, const AlertRuleRecord& r) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE alert_rules SET description = $3, op = $4, threshold = $5,"
              " duration_seconds = $6, selector = $7, severity = $8, enabled = $9,"
              " updated_at = $10, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $11",
              {r.org_id.str(), r.id, r.description, r.op, r.threshold, r.duration_seconds,
               json::Serialize(r.selector), r.severity, int64_t{r.enabled ? 1 : 0},
               ToUnixMicros(r.updated_at), r.version}));
  if (changed == 0) return UpdateMissed(tx, "alert_rules", "alert rule", r.org_id.str(), r.id);
  return Ok();
}

Result<bool> DeleteAlertRule(Tx& tx, const OrgId& org, std::string_view id) {
  HANGAR_ASSIGN_OR_RETURN(int64_t n,
                          tx.Exec("DELETE FROM alert_rules WHERE org_id = $1 AND id = $2",
                                  {org.str(), std::string(id)}));
  return n > 0;
}

Status InsertAlert(Tx& tx, const AlertRecord& a) {
  return StatusOf(
      tx.Exec("INSERT INTO alerts (id, org_id, rule_id, rule_name, subject, state, severity, value,"
              " message, started_at, fired_at, resolved_at, version, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14)",
              {a.id, a.org_id.str(), a.rule_id, a.rule_name, a.subject,
               std::string(json::EnumName(a.state)), a.severity, a.value, a.message,
               ToUnixMicros(a.started_at), OptTime(a.fired_at), OptTime(a.resolved_at),
               ToUnixMicros(a.created_at), ToUnixMicros(a.updated_at)}));
}

Status UpdateAlert(Tx& tx, const AlertRecord& a) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec(
          "UPDATE alerts SET state = $3, value = $4, message = $5, fired_at = $6,"
          " resolved_at = $7, updated_at = $8, version = version + 1"
          " WHERE org_id = $1 AND id = $2 AND version = $9",
          {a.org_id.str(), a.id, std::string(json::EnumName(a.state)), a.value, a.message,
           OptTime(a.fired_at), OptTime(a.resolved_at), ToUnixMicros(a.updated_at), a.version}));
  if (changed == 0) return UpdateMissed(tx, "alerts", "alert", a.org_id.str(), a.id);
  return Ok();
}

Result<std::optional<AlertRecord>> GetAlert(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kAlertSelect, kAlertFrom, " WHERE a.org_id = $1 AND a.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<AlertRecord>(tx, sql, params, AlertFromRow);
}

Result<Page<AlertRecord>> ListAlerts(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<AlertRecord>(tx, AlertTable(), org, query, AlertFromRow);
}

Result<std::vector<AlertRecord>> ListOpenAlerts(Tx& tx) {
  static const std::string sql =
      Concat({kAlertSelect, kAlertFrom,
              " WHERE a.state IN ('pending', 'firing') ORDER BY a.org_id, a.id"});
  return QueryAll<AlertRecord>(tx, sql, {}, AlertFromRow);
}

}  // namespace hangar::store

namespace hangar::store {
Result<std::vector<OrgId>> ListOrgsWithNodes(Tx& tx) {
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT DISTINCT org_id FROM nodes ORDER BY org_id"));
  std::vector<OrgId> out;
  for (const auto& r : rows) out.push_back(OrgId::FromTrusted(r.Text(0)));
  return out;
}
}  // namespace hangar::store
