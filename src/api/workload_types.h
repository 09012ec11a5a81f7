// The public API's types for workloads: batch jobs, GPU instances, their logs, and the agent's
// side of running them (assignments and reports). Conventions as in api/types.h: Boost.Describe
// structs that common/json_codec.h encodes and strictly decodes and the OpenAPI document is derived
// from.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// ---- Job states --------------------------------------------------------------------------------
//
// workloads/job_service.h draws the machine and names every transition:
//
//   pending <-> held        pending -> scheduled -> running -> succeeded | failed
//   scheduled | running -> stopping -> cancelled | failed | pending (preempted, requeued)
//
BOOST_DEFINE_ENUM_CLASS(JobState, pending, held, scheduled, running, stopping, succeeded, failed,
                        cancelled)
// Priority classes, lowest first. Higher classes are scheduled first and may preempt lower ones
// whose preemption policy allows it.
BOOST_DEFINE_ENUM_CLASS(PriorityClass, low, normal, high)
// What happens to a running job that higher-priority or entitled work needs the GPUs of:
// `never` (it is not preemptible), `requeue` (stopped and queued again), `checkpoint` (sent
// SIGTERM, given checkpoint_grace_seconds, then requeued).
BOOST_DEFINE_ENUM_CLASS(PreemptionPolicy, never, requeue, checkpoint)
// What happens to a job whose node stops answering: queued again, or failed.
BOOST_DEFINE_ENUM_CLASS(NodeLossPolicy, requeue, fail)
// A dependency's condition on the other job's outcome (Slurm's afterok / afterany / afternotok).
BOOST_DEFINE_ENUM_CLASS(DependencyCondition, after_ok, after_any, after_failure)

// What a job needs to run. Defaults: one whole GPU of any type, on one node.
struct JobResources {
  std::optional<int64_t> gpus;          // GPUs on the node, 0..64 (0: a CPU-only job)
  std::optional<std::string> gpu_type;  // a catalogue name ("H100-80GB"); any type when absent
  std::optional<int64_t> gpu_milli;     // a share of one GPU, 1..1000 milli-GPUs (gpus must be 1)
  std::optional<int64_t> min_gpu_memory_mib;
  std::optional<std::string> min_cuda_version;  // "12.2": the node's driver must support it
  std::optional<int64_t> cpu_milli;             // CPU, in thousandths of a core
  std::optional<int64_t> memory_mib;
};
BOOST_DESCRIBE_STRUCT(JobResources, (),
                      (gpus, gpu_type, gpu_milli, min_gpu_memory_mib, min_cuda_version, cpu_milli,
                       memory_mib))

struct JobDependency {
  std::string job;                               // "job_…", in the same organisation
  std::optional<DependencyCondition> condition;  // default after_ok
};
BOOST_DESCRIBE_STRUCT(JobDependency, (), (job, condition))

// POST /api/v1/jobs
struct SubmitJobRequest {
  std::string project;                     // a project id ("proj_…") or name
  std::optional<std::string> name;         // a label for people; defaults to the command's name
  std::vector<std::string> command;        // argv; run without a shell (use ["sh", "-c", "…"])
  std::optional<Labels> environment;       // added to the job's environment
  std::optional<std::string> working_dir;  // on the node; default: a fresh per-job directory
  std::optional<JobResources> resources;
  std::optional<Labels> node_selector;              // labels the node must have
  std::optional<PriorityClass> priority_class;      // default normal
  std::optional<int64_t> time_limit_seconds;        // stopped (failed) when it runs longer
  std::optional<std::string> deadline;              // RFC 3339: scheduled earliest-deadline first
  std::optional<std::string> start_after;           // RFC 3339: not started before
  std::optional<PreemptionPolicy> preemption;       // default requeue
  std::optional<int64_t> checkpoint_grace_seconds;  // for preemption=checkpoint and stops
  std::optional<int64_t> retries;                   // failed attempts retried, 0..10
  std::optional<NodeLossPolicy> on_node_loss;       // default requeue
  std::optional<std::vector<JobDependency>> dependencies;
  std::optional<bool> hold;           // submitted held: not started until released
  std::optional<int64_t> array_size;  // 1..1000 similar jobs, HANGAR_ARRAY_INDEX=0..n-1
  // An advance reservation ("rsv_…") of the project: runs only on its GPUs, during its window.
  std::optional<std::string> reservation;
  // The node taints this work accepts; a tainted node runs only work that tolerates its taints.
  std::optional<std::vector<Toleration>> tolerations;
};
BOOST_DESCRIBE_STRUCT(SubmitJobRequest, (),
                      (project, name, command, environment, working_dir, resources, node_selector,
                       priority_class, time_limit_seconds, deadline, start_after, preemption,
                       checkpoint_grace_seconds, retries, on_node_loss, dependencies, hold,
                       array_size, reservation, tolerations))

// Where a scope (the work's project, then its team) stands in fair share: what it holds now
// against its quota. A scope below its guarantee is entitled to more than it holds.
struct FairShareStanding {
  std::string scope_id;  // proj_… or team_…
  double gpus_in_use = 0;
  double gpus_guaranteed = 0;
  std::optional<double> gpu_limit;
  double weight = 1;
};
BOOST_DESCRIBE_STRUCT(FairShareStanding, (),
                      (scope_id, gpus_in_use, gpus_guaranteed, gpu_limit, weight))

// Capacity another scope holds beyond its own guarantee (borrowed) while this work's scope is
// below its guarantee: what preemption reclaims for it first.
struct BorrowedCapacity {
  std::string scope_id;
  double gpus = 0;
};
BOOST_DESCRIBE_STRUCT(BorrowedCapacity, (), (scope_id, gpus))

// Why a job is not running yet, from the scheduler's last pass.
struct JobQueueInfo {
  std::string reason;   // a code: insufficient_gpus, quota_exceeded, held, dependency_pending…
  std::string message;  // the same in words, with hints
  std::optional<int64_t> position;             // 1-based place in the organisation's queue
  std::optional<std::string> estimated_start;  // RFC 3339, when a reservation predicts it
  std::string evaluated_at;                    // when the scheduler last looked
  std::vector<FairShareStanding> fair_share;   // its project, then its team
  std::vector<BorrowedCapacity> borrowed_by;   // who borrows what it is entitled to
};
BOOST_DESCRIBE_STRUCT(JobQueueInfo, (),
                      (reason, message, position, estimated_start, evaluated_at, fair_share,
                       borrowed_by))

struct Job {
  std::string id;
  std::string project_id;
  std::string name;
  JobState state = JobState::pending;
  std::vector<std::string> command;
  Labels environment;
  std::string working_dir;
  JobResources resources;
  Labels node_selector;
  std::vector<Toleration> tolerations;
  PriorityClass priority_class = PriorityClass::normal;
  std::optional<int64_t> time_limit_seconds;
  std::optional<std::string> deadline;
  std::optional<std::string> start_after;
  PreemptionPolicy preemption = PreemptionPolicy::requeue;
  int64_t checkpoint_grace_seconds = 0;
  int64_t retries = 0;
  NodeLossPolicy on_node_loss = NodeLossPolicy::requeue;
  std::vector<JobDependency> dependencies;
  std::optional<std::string> reservation;
  std::optional<std::string> array_id;  // the first job of its array
  std::optional<int64_t> array_index;
  int64_t attempt = 0;  // 1 once first started; grows on each retry or requeue
  std::optional<std::string> node_id;
  std::vector<int64_t> gpu_indexes;  // on the node, as CUDA_VISIBLE_DEVICES lists them
  int64_t hourly_price_micros = 0;   // while placed: what its GPUs cost per hour
  int64_t cost_micros = 0;           // accrued so far, over every attempt
  std::string currency;
  double gpu_seconds = 0;  // GPU time held so far (a share counts its share)
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  std::string state_reason;  // a code: why it is in this state (preempted, time_limit, node_lost…)
  std::string state_message;          // the same in words
  std::optional<JobQueueInfo> queue;  // pending and held jobs: why they wait
  std::string created_by;
  std::optional<std::string> scheduled_at;
  std::optional<std::string> started_at;
  std::optional<std::string> finished_at;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Job, (),
                      (id, project_id, name, state, command, environment, working_dir, resources,
                       node_selector, tolerations, priority_class, time_limit_seconds, deadline,
                       start_after, preemption, checkpoint_grace_seconds, retries, on_node_loss,
                       dependencies, reservation, array_id, array_index, attempt, node_id,
                       gpu_indexes, hourly_price_micros, cost_micros, currency, gpu_seconds,
                       exit_code, signal, state_reason, state_message, queue, created_by,
                       scheduled_at, started_at, finished_at, created_at, updated_at, etag, links))

struct JobList {
  std::vector<Job> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(JobList, (), (items, next_page_token))

// One chunk of a job's output.
struct LogLine {
  int64_t seq = 0;     // increasing per job: pass as ?after= to read on
  std::string stream;  // stdout | stderr
  int64_t attempt = 0;
  std::string time;  // when the server received it
  std::string text;
};
BOOST_DESCRIBE_STRUCT(LogLine, (), (seq, stream, attempt, time, text))

struct LogPage {
  std::vector<LogLine> items;
  int64_t next_after = 0;  // pass as ?after= for what follows
};
BOOST_DESCRIBE_STRUCT(LogPage, (), (items, next_after))

// ---- Instances ---------------------------------------------------------------------------------
//
// workloads/instance_service.h draws the machine:
//
//   pending -> scheduled -> running -> stopping -> stopped -> (start) pending ...
//   any but terminated -> terminate -> (stopping ->) terminated
//
BOOST_DEFINE_ENUM_CLASS(InstanceState, pending, awaiting_approval, scheduled, running, stopping,
                        stopped, failed, terminated)

// POST /api/v1/instances (and /api/v1/gpus/provision). An instance is an interactive GPU
// allocation: a session process holding the GPUs, with a workspace that outlives stops.
struct CreateInstanceRequest {
  std::string project;                              // a project id ("proj_…") or name
  std::optional<std::string> name;                  // default: "<gpu type or gpu>-<n>x"
  std::optional<JobResources> resources;            // default: one whole GPU of any type
  std::optional<Labels> node_selector;              // labels the node must have
  std::optional<std::string> start_after;           // RFC 3339: not started before (a future start)
  std::optional<int64_t> max_lifetime_seconds;      // the lease: 60 s .. 30 days, default 8 hours
  std::optional<std::vector<std::string>> command;  // the session; default sleeps until stopped
  std::optional<Labels> environment;
  std::optional<PriorityClass> priority_class;  // default normal
  std::optional<PreemptionPolicy> preemption;   // default never (interactive work)
  // A snapshot ("snap_…", or its name in the project) whose workspace the instance starts with.
  std::optional<std::string> snapshot;
  // An advance reservation ("rsv_…") of the project: runs only on its GPUs, during its window.
  std::optional<std::string> reservation;
  std::optional<std::vector<Toleration>> tolerations;  // node taints it accepts
};
BOOST_DESCRIBE_STRUCT(CreateInstanceRequest, (),
                      (project, name, resources, node_selector, start_after, max_lifetime_seconds,
                       command, environment, priority_class, preemption, snapshot, reservation,
                       tolerations))

// What is stored beside the run spec for an instance.
struct InstanceSettings {
  int64_t max_lifetime_seconds = 0;
  // The node whose disk holds the workspace (where the last run started).
  std::optional<std::string> workspace_node;
  // Restore this snapshot into the workspace before the next run (clone, migrate); cleared once
  // a run started with it.
  std::optional<std::string> restore_snapshot;
  // Place the next run on this node only (migrate); cleared once a run started there.
  std::optional<std::string> pinned_node;
  // A migration under way: the snapshot being taken and the node it moves to.
  std::optional<std::string> migration_snapshot;
  std::optional<std::string> migration_node;
};
BOOST_DESCRIBE_STRUCT(InstanceSettings, (),
                      (max_lifetime_seconds, workspace_node, restore_snapshot, pinned_node,
                       migration_snapshot, migration_node))

struct Instance {
  std::string id;
  std::string project_id;
  std::string name;
  InstanceState state = InstanceState::pending;
  JobResources resources;
  Labels node_selector;
  std::vector<Toleration> tolerations;
  std::vector<std::string> command;
  Labels environment;
  PriorityClass priority_class = PriorityClass::normal;
  PreemptionPolicy preemption = PreemptionPolicy::never;
  std::optional<std::string> start_after;
  std::optional<std::string> reservation;
  int64_t max_lifetime_seconds = 0;
  std::optional<std::string> expires_at;  // while running: when the lease ends (extend it)
  std::optional<std::string> node_id;
  std::vector<int64_t> gpu_indexes;
  int64_t hourly_price_micros = 0;  // while placed: what its GPUs cost per hour
  int64_t cost_micros = 0;          // accrued so far, over every start
  std::string currency;
  double gpu_seconds = 0;  // GPU time held so far
  int64_t starts = 0;      // how many times it was placed
  std::string state_reason;
  std::string state_message;
  std::optional<JobQueueInfo> queue;                // pending: why it waits
  std::optional<std::string> workspace_node_id;     // the node whose disk holds the workspace
  std::optional<std::string> restore_snapshot_id;   // restored into the workspace at next start
  std::optional<std::string> migrating_to_node_id;  // a migration under way
  std::string created_by;
  std::optional<std::string> scheduled_at;
  std::optional<std::string> started_at;
  std::optional<std::string> stopped_at;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Instance, (),
                      (id, project_id, name, state, resources, node_selector, tolerations, command,
                       environment, priority_class, preemption, start_after, reservation,
                       max_lifetime_seconds, expires_at, node_id, gpu_indexes, hourly_price_micros,
                       cost_micros, currency, gpu_seconds, starts, state_reason, state_message,
                       queue, workspace_node_id, restore_snapshot_id, migrating_to_node_id,
                       created_by, scheduled_at, started_at, stopped_at, created_at, updated_at,
                       etag, links))

// ---- Snapshots: an instance's workspace saved by the server --------------------------------

BOOST_DEFINE_ENUM_CLASS(SnapshotState, pending, ready, failed)

struct Snapshot {
  std::string id;
  std::string project_id;
  std::string name;
  std::string instance_id;  // whose workspace it holds
  std::string node_id;      // where it was taken
  std::string purpose;      // "user", "clone" or "migrate"
  SnapshotState state = SnapshotState::pending;
  std::string state_message;
  int64_t size_bytes = 0;  // of the archive (tar, gzip)
  std::string sha256;
  std::string created_by;
  std::optional<std::string> ready_at;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Snapshot, (),
                      (id, project_id, name, instance_id, node_id, purpose, state, state_message,
                       size_bytes, sha256, created_by, ready_at, created_at, updated_at, etag,
                       links))

struct SnapshotList {
  std::vector<Snapshot> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(SnapshotList, (), (items, next_page_token))

// POST /api/v1/instances/{id}/snapshot
struct CreateSnapshotRequest {
  std::optional<std::string> name;  // unique in the project; default "<instance>-<time>"
};
BOOST_DESCRIBE_STRUCT(CreateSnapshotRequest, (), (name))

// POST /api/v1/instances/{id}/clone: a new instance like this one, starting from a snapshot of
// its workspace (taken now) or from `snapshot`.
struct CloneInstanceRequest {
  std::optional<std::string> name;
  std::optional<std::string> snapshot;  // use this snapshot of the instance instead of a new one
  std::optional<int64_t> max_lifetime_seconds;
};
BOOST_DESCRIBE_STRUCT(CloneInstanceRequest, (), (name, snapshot, max_lifetime_seconds))

// POST /api/v1/instances/{id}/migrate: move a running instance to another node.
struct MigrateInstanceRequest {
  std::optional<std::string> node;  // a node id; default: the best other node with room now
};
BOOST_DESCRIBE_STRUCT(MigrateInstanceRequest, (), (node))

struct InstanceList {
  std::vector<Instance> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(InstanceList, (), (items, next_page_token))

// Why a request cannot start now (a dry run's findings).
struct Obstacle {
  std::string code;  // no_matching_gpus, insufficient_gpus, unknown_gpu_type…
  std::string message;
};
BOOST_DESCRIBE_STRUCT(Obstacle, (), (code, message))

// POST /api/v1/instances?dry_run=true: what would happen, creating nothing.
struct InstanceEstimate {
  bool feasible = false;       // some schedulable node could ever hold it
  bool available_now = false;  // free GPUs for it right now
  std::vector<Obstacle> blocked_by;
  int64_t matching_nodes = 0;        // schedulable nodes with enough matching GPUs in all
  int64_t hourly_price_micros = 0;   // for the cheapest matching GPUs
  int64_t lifetime_cost_micros = 0;  // hourly price × the requested lifetime
  std::string currency;
  std::optional<std::string> expected_start;  // RFC 3339: now, the start_at, or when running
                                              // work with an end frees enough GPUs
  std::optional<int64_t> expected_wait_seconds;
  CreateInstanceRequest request;  // as it would be created, defaults filled in
};
BOOST_DESCRIBE_STRUCT(InstanceEstimate, (),
                      (feasible, available_now, blocked_by, matching_nodes, hourly_price_micros,
                       lifetime_cost_micros, currency, expected_start, expected_wait_seconds,
                       request))

// POST /api/v1/instances/{id}/extend
struct ExtendInstanceRequest {
  int64_t seconds = 0;  // added to the lease, 60 s .. 30 days in all
};
BOOST_DESCRIBE_STRUCT(ExtendInstanceRequest, (), (seconds))

// POST /api/v1/instances/{id}/resize
struct ResizeInstanceRequest {
  int64_t gpus = 0;  // the new GPU count, 1..64
};
BOOST_DESCRIBE_STRUCT(ResizeInstanceRequest, (), (gpus))

// ---- Quotas ------------------------------------------------------------------------------------

// A team's or project's GPU quota and what it uses now. Scopes without a quota of their own show
// the defaults: no guarantee, no limit, weight 1.
struct Quota {
  std::string scope_type;  // "team" | "project"
  std::string scope_id;
  std::string scope_name;
  std::optional<std::string> team_id;  // a project's team
  int64_t gpus = 0;                    // guaranteed GPUs: idle ones may be borrowed by others
  std::optional<int64_t> gpu_limit;    // at most this many at once, borrowed or not
  // A project's only: at most this many at once for the work of one user or service account.
  std::optional<int64_t> gpu_limit_per_user;
  int64_t weight = 1;  // fair-share weight among its siblings
  // How long running work may stay over gpu_limit before the scheduler preempts it; null:
  // running work is never stopped for being over the limit.
  std::optional<int64_t> overage_grace_seconds;
  // Read-only: since when running work has held more than gpu_limit (RFC 3339); null when it
  // does not, or when there is no overage grace.
  std::optional<std::string> over_limit_since;
  double gpus_in_use = 0;   // held now by its workloads (a share counts its share)
  double gpus_pending = 0;  // asked for by its waiting workloads
  std::optional<std::string> updated_by;
  std::optional<std::string> updated_at;
  std::string etag;  // "0" until a quota is set
  Links links;
};
BOOST_DESCRIBE_STRUCT(Quota, (),
                      (scope_type, scope_id, scope_name, team_id, gpus, gpu_limit,
                       gpu_limit_per_user, weight, overage_grace_seconds, over_limit_since,
                       gpus_in_use, gpus_pending, updated_by, updated_at, etag, links))

struct QuotaList {
  std::vector<Quota> items;
};
BOOST_DESCRIBE_STRUCT(QuotaList, (), (items))

// PUT /api/v1/quotas/{scope_id}: replaces the scope's quota.
struct SetQuotaRequest {
  std::optional<int64_t> gpus;       // default 0
  std::optional<int64_t> gpu_limit;  // absent: no limit; at least gpus
  // A project only; absent: none. 1..gpu_limit.
  std::optional<int64_t> gpu_limit_per_user;
  std::optional<int64_t> weight;  // 1..1000, default 1
  // Absent: running work over the limit is never stopped. 0..604800 (0: reclaimed at once).
  std::optional<int64_t> overage_grace_seconds;
};
BOOST_DESCRIBE_STRUCT(SetQuotaRequest, (),
                      (gpus, gpu_limit, gpu_limit_per_user, weight, overage_grace_seconds))

// ---- Agent protocol: assignments and reports ---------------------------------------------------

// A snapshot to unpack into an instance's workspace before its run starts.
struct WorkspaceRestore {
  std::string snapshot_id;
  int64_t size_bytes = 0;
  std::string sha256;
};
BOOST_DESCRIBE_STRUCT(WorkspaceRestore, (), (snapshot_id, size_bytes, sha256))

// What the server wants a node to run (or stop). An assignment is identified by its
// `run_id` = "<workload id>-a<attempt>": a retried job is a new run, never a restart of the old.
struct Assignment {
  std::string run_id;
  std::string workload_id;
  int64_t attempt = 0;
  std::string desired;  // "run" or "stop"
  std::vector<std::string> command;
  Labels environment;
  std::string working_dir;
  std::vector<int64_t> gpu_indexes;
  int64_t stop_grace_seconds = 0;  // SIGTERM, then SIGKILL after this long
  // Instances: a directory kept on the node across runs (<state dir>/workspaces/<workspace>),
  // the run's working directory. Empty for jobs.
  std::string workspace;
  // Before the run starts: replace the workspace's content with this snapshot's, once.
  std::optional<WorkspaceRestore> restore;
  // The workload's CPU (thousandths of a core) and memory requests; the agent enforces them as
  // cgroup limits where the host allows. Absent: not limited.
  std::optional<int64_t> cpu_milli;
  std::optional<int64_t> memory_mib;
};
BOOST_DESCRIBE_STRUCT(Assignment, (),
                      (run_id, workload_id, attempt, desired, command, environment, working_dir,
                       gpu_indexes, stop_grace_seconds, workspace, restore, cpu_milli, memory_mib))

// A snapshot the node should take: archive the workspace and upload it.
struct SnapshotTask {
  std::string snapshot_id;
  std::string workspace;
};
BOOST_DESCRIBE_STRUCT(SnapshotTask, (), (snapshot_id, workspace))

// GET /api/v1/agent/nodes/{id}/assignments?wait_seconds=&known=
struct AssignmentList {
  std::vector<Assignment> items;
  std::vector<SnapshotTask> snapshots;
  std::string revision;  // pass back as ?known= to wait for the next change
};
BOOST_DESCRIBE_STRUCT(AssignmentList, (), (items, snapshots, revision))

// PUT /api/v1/agent/nodes/{id}/snapshots/{snapshot}/content?offset=N (body: archive bytes)
struct SnapshotUploadAnswer {
  int64_t received = 0;  // bytes the server holds: the next upload starts there
};
BOOST_DESCRIBE_STRUCT(SnapshotUploadAnswer, (), (received))

// POST /api/v1/agent/nodes/{id}/snapshots/{snapshot}/complete
struct CompleteSnapshotRequest {
  int64_t size_bytes = 0;
  std::string sha256;
};
BOOST_DESCRIBE_STRUCT(CompleteSnapshotRequest, (), (size_bytes, sha256))

// POST /api/v1/agent/nodes/{id}/snapshots/{snapshot}/fail
struct FailSnapshotRequest {
  std::string message;
};
BOOST_DESCRIBE_STRUCT(FailSnapshotRequest, (), (message))

// What happened to one run on the node.
struct RunReport {
  std::string run_id;
  std::string state;  // "running", "exited" or "lost"
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  std::optional<std::string> started_at;
  std::optional<std::string> ended_at;
  std::optional<std::string> message;
};
BOOST_DESCRIBE_STRUCT(RunReport, (),
                      (run_id, state, exit_code, signal, started_at, ended_at, message))

// Output the agent read from a run since its last upload.
struct RunOutput {
  std::string run_id;
  std::string stream;  // stdout | stderr
  int64_t offset = 0;  // where the chunk starts and ends in the raw stream, in bytes:
  int64_t end = 0;     // a repeated upload is stored once
  std::string text;    // the bytes as valid UTF-8 (invalid sequences and NUL replaced)
};
BOOST_DESCRIBE_STRUCT(RunOutput, (), (run_id, stream, offset, end, text))

// POST /api/v1/agent/nodes/{id}/reports
struct NodeReport {
  std::vector<RunReport> runs;
  std::vector<RunOutput> output;
};
BOOST_DESCRIBE_STRUCT(NodeReport, (), (runs, output))

struct NodeReportAnswer {
  // Finished runs the server has recorded (with their output): the agent may forget them.
  std::vector<std::string> forget;
};
BOOST_DESCRIBE_STRUCT(NodeReportAnswer, (), (forget))

}  // namespace hangar::api
