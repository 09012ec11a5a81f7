// Alert repositories: alert rules (/api/v1/alert-rules) and the alerts they raised
// (/api/v1/alerts). Same rules as store/repos.h: functions run in the caller's transaction and
// take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/alert_types.h"
#include "store/repos.h"

namespace hangar::store {

struct AlertRuleRecord {
  std::string id;  // "arule_…"
  OrgId org_id;
  std::string name;
  std::string description;
  std::string metric;
  std::string op;
  double threshold = 0;
  int64_t duration_seconds = 0;
  std::string scope;  // gpu, allocated_gpu, node
  api::AlertSelector selector;
  std::string severity;
  bool enabled = true;
  bool builtin = false;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct AlertRecord {
  std::string id;  // "alert_…"
  OrgId org_id;
  std::string rule_id;
  std::string rule_name;
  std::string subject;
  api::AlertState state = api::AlertState::pending;
  std::string severity;
  double value = 0;
  std::string message;
  Timestamp started_at;
  std::optional<Timestamp> fired_at;
  std::optional<Timestamp> resolved_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// Rules: filter by name, metric, scope, enabled; sort by name or created_at.
const ListSpec& AlertRuleListSpec();
// Alerts: filter by state, rule_id, subject, severity; sort by created_at or updated_at.
const ListSpec& AlertListSpec();

Status InsertAlertRule(Tx& tx, const AlertRuleRecord& r);
Result<std::optional<AlertRuleRecord>> GetAlertRule(Tx& tx, const OrgId& org, std::string_view id);
Result<Page<AlertRuleRecord>> ListAlertRules(Tx& tx, const OrgId& org, const ListQuery& query);
// Every rule of every organisation (the evaluator's view; rules are few).
Result<std::vector<AlertRuleRecord>> ListAllAlertRules(Tx& tx);
// kPreconditionFailed when the version moved.
Status UpdateAlertRule(Tx& tx, const AlertRuleRecord& r);
Result<bool> DeleteAlertRule(Tx& tx, const OrgId& org, std::string_view id);

Status InsertAlert(Tx& tx, const AlertRecord& a);
Status UpdateAlert(Tx& tx, const AlertRecord& a);
Result<std::optional<AlertRecord>> GetAlert(Tx& tx, const OrgId& org, std::string_view id);
Result<Page<AlertRecord>> ListAlerts(Tx& tx, const OrgId& org, const ListQuery& query);
// Pending and firing alerts of every organisation.
Result<std::vector<AlertRecord>> ListOpenAlerts(Tx& tx);

}  // namespace hangar::store

namespace hangar::store {
// Organisations that have at least one node (the alert evaluator's organisations).
Result<std::vector<OrgId>> ListOrgsWithNodes(Tx& tx);
}  // namespace hangar::store
