// AlertService: alert rules and the evaluator that turns them into alerts.
//
// Per rule and subject (a GPU or node the rule's scope and selector match), each Evaluate():
//
//      condition holds                 held for duration_seconds
//   (none) ──────────────> pending ──────────────────────────────> firing
//                             │                                      │
//                             └──── condition no longer holds ───────┴──> resolved
//
// A rule with duration 0 fires at once. Every transition is written with its event
// (hangar.alert.pending|firing|resolved) in one transaction per evaluation. A subject without a
// fresh sample (none for 2 minutes) does not satisfy a metric condition: no data is not idle.
//
// Built-in rules, created for each organisation on its first evaluation (tunable, not
// deletable): gpu-overheating (temperature_c >= 85 for 1 min), gpu-ecc-errors (ecc_dbe_total
// > 0), gpu-unhealthy (the agent's health checks failed), node-unreachable, and
// gpu-allocated-idle (utilization < 5 % for 30 min on a GPU some workload holds — the signal
// idle auto-stop will use).
//
// Authorisation: rules and alerts are organisation objects (alert-rules:*, alerts:read at
// organisation scope, checked by the gateway).
//
// Thread-safety: every method may be called from any thread; Evaluate is serialised.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "api/alert_types.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "monitoring/metric_hub.h"
#include "store/alert_repos.h"
#include "store/store.h"
#include "workloads/gpu_holders.h"

namespace hangar::monitoring {

api::AlertRule ToApi(const store::AlertRuleRecord& r);
api::Alert ToApi(const store::AlertRecord& a);

class AlertService {
 public:
  AlertService(store::Store& store, const Clock& clock, MetricHub& hub,
               const workloads::GpuHolders& holders);

  Result<store::AlertRuleRecord> CreateRule(const identity::Principal& who,
                                            const api::CreateAlertRuleRequest& request);
  Result<store::AlertRuleRecord> GetRule(const identity::Principal& who, const std::string& id);
  Result<store::Page<store::AlertRuleRecord>> ListRules(const identity::Principal& who,
                                                        const store::ListQuery& query);
  Result<store::AlertRuleRecord> UpdateRule(const identity::Principal& who, const std::string& id,
                                            const api::UpdateAlertRuleRequest& patch,
                                            std::optional<int64_t> if_match_version);
  // Built-in rules cannot be deleted (409); disable them instead. Open alerts of a deleted rule
  // are resolved.
  Status DeleteRule(const identity::Principal& who, const std::string& id);

  Result<store::AlertRecord> GetAlert(const identity::Principal& who, const std::string& id);
  Result<store::Page<store::AlertRecord>> ListAlerts(const identity::Principal& who,
                                                     const store::ListQuery& query);

  // One evaluation of every enabled rule of every organisation with nodes. Returns the number
  // of alert transitions written.
  Result<int> Evaluate();

 private:
  Status EnsureBuiltins(const OrgId& org);

  store::Store& store_;
  const Clock& clock_;
  MetricHub& hub_;
  const workloads::GpuHolders& holders_;
  std::mutex evaluate_mutex_;
  std::map<std::string, bool> builtins_ensured_;  // by org; guarded by evaluate_mutex_
};

}  // namespace hangar::monitoring
