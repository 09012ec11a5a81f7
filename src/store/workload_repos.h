// Typed repositories for workloads (jobs and instances) and their output. Same rules as
// store/repos.h: functions run in the caller's transaction, lookups by id take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/workload_types.h"
#include "store/repos.h"

namespace hangar::store {

// Where a stored workload stands: the union of the job and instance machines (their public
// enums, api::JobState and api::InstanceState, share these names). The run mechanics —
// pending -> scheduled -> running -> stopping — are common; held, succeeded and cancelled are
// jobs' own; awaiting_approval, stopped and terminated are instances'.
BOOST_DEFINE_ENUM_CLASS(WorkloadState, pending, held, awaiting_approval, scheduled, running,
                        stopping, succeeded, failed, cancelled, stopped, terminated)

// True while the workload holds GPUs on a node (and accrues cost).
inline bool HoldsGpus(WorkloadState s) {
  return s == WorkloadState::scheduled || s == WorkloadState::running ||
         s == WorkloadState::stopping;
}

// One workload as stored. `spec_json` is the submitted request (api::SubmitJobRequest as
// normalised by the service) and never changes; the rest is where the workload stands.
struct WorkloadRecord {
  std::string id;  // "job_…" or "inst_…"
  OrgId org_id;
  std::string kind = "job";  // "job" | "instance"
  ProjectId project_id;
  TeamId team_id;
  std::string name;
  WorkloadState state = WorkloadState::pending;
  api::PriorityClass priority_class = api::PriorityClass::normal;
  std::string spec_json;
  std::optional<std::string> array_id;
  std::optional<int64_t> array_index;
  int64_t attempt = 0;   // runs started so far (each placement starts a new one)
  int64_t failures = 0;  // runs that failed: retried while failures <= retries
  std::optional<NodeId> node_id;
  std::vector<int64_t> gpu_indexes;
  std::string desired = "run";  // "run" | "stop": what the node's agent should do
  std::string stop_reason;  // why it is being stopped: cancelled, preempted, time_limit, requeue
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  std::string state_reason;
  std::string state_message;
  std::string created_by;
  std::optional<Timestamp> scheduled_at;
  std::optional<Timestamp> started_at;
  std::optional<Timestamp> finished_at;
  std::optional<Timestamp> stop_requested_at;
  // Metering: while placed, the GPUs cost hourly_price_micros (set at placement from the
  // catalogue); cost_micros and gpu_milli_seconds hold what was accrued up to billed_until.
  int64_t hourly_price_micros = 0;
  std::string currency;
  int64_t cost_micros = 0;
  int64_t gpu_milli_seconds = 0;
  std::optional<Timestamp> billed_until;
  // Instances: the lease's end and when the expiry warning went out; settings_json holds the
  // instance-only settings (api::InstanceSettings).
  std::optional<Timestamp> expires_at;
  std::optional<Timestamp> expiry_warned_at;
  std::string settings_json = "{}";
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct OutputRecord {
  int64_t seq = 0;
  std::string workload_id;
  int64_t attempt = 0;
  std::string stream;
  int64_t byte_offset = 0;  // where the chunk starts and ends in the run's raw output
  int64_t byte_end = 0;
  std::string text;  // that output as valid UTF-8
  Timestamp time;
};

// Jobs: filter by state, project_id, node_id, name, priority_class, array_id; sort by
// created_at or name.
const ListSpec& JobListSpec();

// Instances: filter by state, project_id, node_id, name; sort by created_at or name.
const ListSpec& InstanceListSpec();

Status InsertWorkload(Tx& tx, const WorkloadRecord& w);
Result<std::optional<WorkloadRecord>> GetWorkload(Tx& tx, const OrgId& org, std::string_view id);
Result<Page<WorkloadRecord>> ListJobs(Tx& tx, const OrgId& org, const ListQuery& query);
Result<Page<WorkloadRecord>> ListInstances(Tx& tx, const OrgId& org, const ListQuery& query);
// Writes every mutable field if the stored version is w.version, and stores version + 1.
// kPreconditionFailed when it changed since read; kNotFound when absent.
Status UpdateWorkload(Tx& tx, const WorkloadRecord& w);
// Every organisation's workloads that wait for capacity or hold it (pending, scheduled,
// running, stopping), by organisation then id: the scheduler's input. Held workloads are left
// out: they wait for a release, not for the scheduler.
Result<std::vector<WorkloadRecord>> ListActiveWorkloads(Tx& tx);
// One organisation's workloads that wait for capacity or hold it (as above).
Result<std::vector<WorkloadRecord>> ListOrgActiveWorkloads(Tx& tx, const OrgId& org);
// The workloads placed on `node` that are not finished (scheduled, running, stopping): the
// node's assignments.
Result<std::vector<WorkloadRecord>> ListNodeWorkloads(Tx& tx, const OrgId& org, const NodeId& node);
// Every organisation's unfinished workloads placed on a node that is now unreachable.
Result<std::vector<WorkloadRecord>> ListWorkloadsOnUnreachableNodes(Tx& tx);
// Running workloads (every organisation) that started before `started_before`: candidates
// for their time limit.
Result<std::vector<WorkloadRecord>> ListRunningStartedBefore(Tx& tx, Timestamp started_before);

// Running instances (every organisation) whose lease ends before `before`: candidates for
// the expiry warning and, once expired, the stop.
Result<std::vector<WorkloadRecord>> ListInstancesExpiringBefore(Tx& tx, Timestamp before);

// Appends a run's output unless the stream's stored end is already at or past chunk.byte_end (a
// repeated upload). Returns the raw bytes newly stored (0 for a repeat).
Result<int64_t> AppendOutput(Tx& tx, const OrgId& org, const OutputRecord& chunk);
// A workload's output with seq > after, oldest first, at most `limit` chunks.
Result<std::vector<OutputRecord>> ReadOutput(Tx& tx, const OrgId& org, std::string_view workload_id,
                                             int64_t after, int64_t limit);

}  // namespace hangar::store
