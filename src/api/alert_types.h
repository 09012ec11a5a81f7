// Alert types: alert rules (/api/v1/alert-rules) and the alerts they raise (/api/v1/alerts).
//
// A rule watches one metric of every GPU or node its selector matches; while the condition
// holds for a subject the alert is pending, once it has held for `duration_seconds` it fires,
// and when it stops holding it is resolved. Each change is an event (hangar.alert.pending,
// .firing, .resolved), like Prometheus alerting rules' `for:`.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

BOOST_DEFINE_ENUM_CLASS(AlertState, pending, firing, resolved)

// Which subjects a rule watches: all GPUs (or nodes) of the organisation, narrowed by GPU type
// or node labels.
struct AlertSelector {
  std::optional<std::string> gpu_type;
  std::optional<Labels> node_labels;
};
BOOST_DESCRIBE_STRUCT(AlertSelector, (), (gpu_type, node_labels))

// POST /api/v1/alert-rules
struct CreateAlertRuleRequest {
  std::string name;  // unique in the organisation
  std::optional<std::string> description;
  // GPU metrics: utilization, memory_used_mib, temperature_c, power_watts, sm_clock_mhz,
  // ecc_dbe_total, gpu_unhealthy (1 when the GPU is unhealthy). Node metric:
  // node_unreachable (1 when the node stopped heartbeating).
  std::string metric;
  std::string op;  // ">", ">=", "<", "<=", "==", "!="
  double threshold = 0;
  int64_t duration_seconds = 0;  // 0..86400: how long the condition must hold to fire
  // "gpu", or "allocated_gpu" (GPUs some workload holds: the allocated-but-idle signal), or
  // "node" (node metrics).
  std::string scope;
  std::optional<AlertSelector> selector;
  std::optional<std::string> severity;  // "info", "warning" (default), "critical"
  std::optional<bool> enabled;
};
BOOST_DESCRIBE_STRUCT(CreateAlertRuleRequest, (),
                      (name, description, metric, op, threshold, duration_seconds, scope, selector,
                       severity, enabled))

// PATCH /api/v1/alert-rules/{id} (JSON merge patch).
struct UpdateAlertRuleRequest {
  std::optional<std::string> description;
  std::optional<std::string> op;
  std::optional<double> threshold;
  std::optional<int64_t> duration_seconds;
  std::optional<AlertSelector> selector;
  std::optional<std::string> severity;
  std::optional<bool> enabled;
};
BOOST_DESCRIBE_STRUCT(UpdateAlertRuleRequest, (),
                      (description, op, threshold, duration_seconds, selector, severity, enabled))

struct AlertRule {
  std::string id;
  std::string name;
  std::string description;
  std::string metric;
  std::string op;
  double threshold = 0;
  int64_t duration_seconds = 0;
  std::string scope;
  AlertSelector selector;
  std::string severity;
  bool enabled = true;
  bool builtin = false;  // created with the organisation; may be tuned or disabled, not deleted
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(AlertRule, (),
                      (id, name, description, metric, op, threshold, duration_seconds, scope,
                       selector, severity, enabled, builtin, created_at, updated_at, etag, links))

struct AlertRuleList {
  std::vector<AlertRule> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(AlertRuleList, (), (items, next_page_token))

// One subject's alert under one rule, from its first pending moment to its resolution.
struct Alert {
  std::string id;
  std::string rule_id;
  std::string rule_name;
  std::string subject;  // gpu_… or node_…
  AlertState state = AlertState::pending;
  std::string severity;
  double value = 0;  // the metric's last value seen while the condition held
  std::string message;
  std::string started_at;  // the condition first held
  std::optional<std::string> fired_at;
  std::optional<std::string> resolved_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Alert, (),
                      (id, rule_id, rule_name, subject, state, severity, value, message, started_at,
                       fired_at, resolved_at, updated_at, etag, links))

struct AlertList {
  std::vector<Alert> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(AlertList, (), (items, next_page_token))

}  // namespace hangar::api
