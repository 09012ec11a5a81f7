// How the CLI shows things: aligned tables per resource, JSON (the API objects as the server
// sent them; a list is a JSON array of its items) and YAML (the same tree), plus the exact
// decimal and duration parsers its flags need, and the rendering of API errors.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/alert_types.h"
#include "api/approval_types.h"
#include "api/identity_types.h"
#include "api/metric_types.h"
#include "api/reservation_types.h"
#include "api/schedule_types.h"
#include "api/types.h"
#include "api/workload_types.h"
#include "client/api_client.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// "table", "json", "yaml"; kInvalidArgument otherwise.
Result<OutputFormat> ParseOutputFormat(std::string_view text);

// Left-aligned columns separated by three spaces; every line ends with "\n".
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// YAML for a JSON tree (block style; strings quoted when YAML would misread them).
std::string ToYaml(const boost::json::value& value);

// Renders resources in `format`. A table has one row per item.
std::string Render(const std::vector<api::Gpu>& items, OutputFormat format);
// Nodes: ID, NAME, STATE, CORDONED ("yes: <reason>", "draining: N running"), GPUS, LABELS,
// TAINTS (only when some node has one), LAST HEARTBEAT.
std::string Render(const std::vector<api::Node>& items, OutputFormat format);
std::string Render(const std::vector<api::GpuType>& items, OutputFormat format);
std::string Render(const std::vector<api::JoinToken>& items, OutputFormat format);
std::string Render(const std::vector<api::Event>& items, OutputFormat format);
std::string Render(const std::vector<api::Organization>& items, OutputFormat format);
std::string Render(const std::vector<api::Team>& items, OutputFormat format);
std::string Render(const std::vector<api::Project>& items, OutputFormat format);
std::string Render(const std::vector<api::User>& items, OutputFormat format);
std::string Render(const std::vector<api::ServiceAccount>& items, OutputFormat format);
std::string Render(const std::vector<api::ApiKey>& items, OutputFormat format);
std::string Render(const std::vector<api::Role>& items, OutputFormat format);
std::string Render(const std::vector<api::Permission>& items, OutputFormat format);
std::string Render(const std::vector<api::RoleBinding>& items, OutputFormat format);
std::string Render(const std::vector<api::AccessReviewEntry>& items, OutputFormat format);
std::string Render(const std::vector<api::WhoAmI>& items, OutputFormat format);
// Jobs: ID, NAME, STATE, GPUS, NODE, EXIT, REASON (why it waits or ended), CREATED.
std::string Render(const std::vector<api::Job>& items, OutputFormat format);
// Instances: ID, NAME, STATE, GPUS, NODE, EXPIRES, COST (so far), REASON, CREATED.
std::string Render(const std::vector<api::Instance>& items, OutputFormat format);
// Dry-run estimates: FITS, NOW, PER HOUR, LIFETIME COST, EXPECTED START, BLOCKED BY.
std::string Render(const std::vector<api::InstanceEstimate>& items, OutputFormat format);
// Quotas: SCOPE, NAME, GUARANTEED, LIMIT, PER USER, WEIGHT, IN USE, PENDING.
std::string Render(const std::vector<api::Quota>& items, OutputFormat format);
std::string Render(const std::vector<api::Snapshot>& items, OutputFormat format);
std::string Render(const std::vector<api::Approval>& items, OutputFormat format);
std::string Render(const std::vector<api::ApprovalPolicy>& items, OutputFormat format);
// Schedules: NEXT RUN ("suspended" while suspended) and the latest run's RESULT (with its job).
std::string Render(const std::vector<api::Schedule>& items, OutputFormat format);
// Reservations: TYPE, GPUS (set aside / booked while active), START, END, STATE, IN USE.
std::string Render(const std::vector<api::Reservation>& items, OutputFormat format);
// The calendar: one row per GPU type and slot: TYPE, FROM, TO, RESERVED, FREE (of capacity),
// RESERVATIONS (those the caller may read).
std::string Render(const std::vector<api::ReservationCalendar>& items, OutputFormat format);
// Alert rules: NAME, METRIC, CONDITION ("> 90 for 5m"), SCOPE, SELECTOR, SEVERITY, ENABLED,
// BUILT-IN, ID.
std::string Render(const std::vector<api::AlertRule>& items, OutputFormat format);
// Alerts: STATE, SEVERITY, RULE, SUBJECT, VALUE, SINCE (when it entered its state), MESSAGE.
std::string Render(const std::vector<api::Alert>& items, OutputFormat format);
// Metric history: per series a header line (metric, unit, scope, range, step, resolution), then
// TIME, MIN, AVG, MAX, SAMPLES, and GPUS (mean GPUs reporting) for node, project and team series.
std::string Render(const std::vector<api::MetricSeries>& items, OutputFormat format);
// One frame of `hangar gpus top`: a totals line (GPUs, busy = held by some workload, mean
// utilisation of the GPUs that reported a sample, unhealthy, unreachable) stamped `as_of`, then
// one row per GPU sorted by node and index: NODE, GPU, TYPE, STATE, UTIL (bar and percent),
// MEM (GiB used/total), TEMP C, POWER W, SM MHz, PROJECT/WORKLOAD. A GPU without a sample shows
// "-" for its readings.
std::string RenderGpuTop(std::vector<api::GpuLive> gpus, std::string_view as_of);
// Audit records (events of type hangar.audit.*): TIME, ACTOR, OUTCOME, METHOD, PATH, STATUS from
// each record's data; JSON and YAML as the events themselves.
std::string RenderAudit(const std::vector<api::Event>& items, OutputFormat format);
// One object as YAML for kYaml, else as JSON (for objects that have no table of their own).
template <typename T>
std::string RenderTree(const T& item, OutputFormat format) {
  boost::json::value v = json::Encode(item);
  return format == OutputFormat::kYaml ? ToYaml(v) : boost::json::serialize(v) + "\n";
}
// One object: JSON/YAML as an object (not an array); a table as one row.
template <typename T>
std::string RenderOne(const T& item, OutputFormat format) {
  if (format == OutputFormat::kTable) return Render(std::vector<T>{item}, format);
  return RenderTree(item, format);
}

// "2.49" -> 2490000 micro-units, exactly (no floating point). At most 6 decimals; no sign, no
// exponent. kInvalidArgument otherwise.
Result<int64_t> ParsePriceMicros(std::string_view text);
// 2490000 -> "2.49"; 2000000 -> "2.00".
std::string FormatPriceMicros(int64_t micros);

// "90s", "30m", "24h", "7d" or plain seconds -> seconds. kInvalidArgument otherwise.
Result<int64_t> ParseDurationSeconds(std::string_view text);
// 0 -> "0s", 90 -> "90s", 300 -> "5m", 7200 -> "2h", 172800 -> "2d": the largest unit that
// divides `seconds` exactly, as ParseDurationSeconds reads it back.
std::string FormatDurationSeconds(int64_t seconds);
// A number without noise: 90 -> "90", 97.25 -> "97.25", 0.3333 -> "0.33" (at most 2 decimals).
std::string FormatNumber(double value);
// A time flag (--start, --from, --to): an RFC 3339 time (returned as given), "now", or a
// duration from `now` into the future ("+2h") or the past ("-30m", "-2d"), returned as RFC 3339.
// "" stays "" (the server's default). kInvalidArgument naming `flag` otherwise.
Result<std::string> ParseTimeFlag(std::string_view text, std::string_view flag, Timestamp now);
// "KEY=VALUE" flags (--env, --selector) into a map; kInvalidArgument naming `flag` otherwise.
Result<api::Labels> ParsePairs(const std::vector<std::string>& pairs, std::string_view flag);

// The CLI's exit codes (docs/cli.md).
enum ExitCode {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitAuth = 3,         // 401, 403
  kExitNotFound = 4,     // 404
  kExitRejected = 5,     // other 4xx: conflict, precondition, validation
  kExitUnavailable = 6,  // unreachable or 5xx
};

int ExitCodeFor(const client::ApiError& error);

// "Error: <title> (HTTP <status>): <detail>", each field error, "Hint: …", "Request ID: …".
std::string RenderError(const client::ApiError& error);

}  // namespace hangar::cli
