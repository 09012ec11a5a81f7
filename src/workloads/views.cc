#include "workloads/views.h"

#include "common/json_codec.h"
#include "workloads/run_lifecycle.h"

namespace hangar::workloads {

namespace {
std::optional<std::string> OptTime(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return FormatRfc3339(*t);
}
}  // namespace

Result<api::SubmitJobRequest> SpecOf(const store::WorkloadRecord& record) {
  auto spec = json::ParseAs<api::SubmitJobRequest>(record.spec_json);
  if (!spec) return std::unexpected(Error::Internal("stored job spec cannot be read"));
  return spec;
}

api::Job ToApiJob(const store::WorkloadRecord& r, const api::SubmitJobRequest& spec, Timestamp now,
                  std::optional<api::JobQueueInfo> queue) {
  std::string self = "/api/v1/jobs/" + r.id;
  Metered metered = MeteredAt(r, now);
  bool placed = store::HoldsGpus(r.state);
  api::Job job{.id = r.id,
               .project_id = r.project_id.str(),
               .name = r.name,
               .state = JobStateOf(r.state),
               .command = spec.command,
               .environment = spec.environment.value_or(api::Labels{}),
               .working_dir = spec.working_dir.value_or(""),
               .resources = spec.resources.value_or(api::JobResources{}),
               .node_selector = spec.node_selector.value_or(api::Labels{}),
               .tolerations = spec.tolerations.value_or(std::vector<api::Toleration>{}),
               .priority_class = r.priority_class,
               .time_limit_seconds = spec.time_limit_seconds,
               .deadline = spec.deadline,
               .start_after = spec.start_after,
               .preemption = spec.preemption.value_or(api::PreemptionPolicy::requeue),
               .checkpoint_grace_seconds = spec.checkpoint_grace_seconds.value_or(0),
               .retries = spec.retries.value_or(0),
               .on_node_loss = spec.on_node_loss.value_or(api::NodeLossPolicy::requeue),
               .dependencies = spec.dependencies.value_or(std::vector<api::JobDependency>{}),
               .reservation = spec.reservation,
               .array_id = r.array_id,
               .array_index = r.array_index,
               .attempt = r.attempt,
               .node_id = r.node_id ? std::optional<std::string>(r.node_id->str()) : std::nullopt,
               .gpu_indexes = r.gpu_indexes,
               .hourly_price_micros = placed ? r.hourly_price_micros : 0,
               .cost_micros = metered.cost_micros,
               .currency = r.currency,
               .gpu_seconds = static_cast<double>(metered.gpu_milli_seconds) / 1000.0,
               .exit_code = r.exit_code,
               .signal = r.signal,
               .state_reason = r.state_reason,
               .state_message = r.state_message,
               .queue = std::move(queue),
               .created_by = r.created_by,
               .scheduled_at = OptTime(r.scheduled_at),
               .started_at = OptTime(r.started_at),
               .finished_at = OptTime(r.finished_at),
               .created_at = FormatRfc3339(r.created_at),
               .updated_at = FormatRfc3339(r.updated_at),
               .etag = api::ETagOf(r.version),
               .links = {{"self", self},
                         {"project", "/api/v1/projects/" + r.project_id.str()},
                         {"logs", self + "/logs"}}};
  if (r.node_id) job.links["node"] = "/api/v1/nodes/" + r.node_id->str();
  return job;
}

api::Job ToApiJob(const store::WorkloadRecord& r, Timestamp now,
                  std::optional<api::JobQueueInfo> queue) {
  auto spec = SpecOf(r);
  return ToApiJob(r, spec ? *spec : api::SubmitJobRequest{}, now, std::move(queue));
}

api::JobState JobStateOf(store::WorkloadState state) {
  // The job states are a subset of the stored ones, under the same names.
  auto parsed = json::EnumFromName<api::JobState>(json::EnumName(state));
  return parsed.value_or(api::JobState::failed);
}

api::InstanceState InstanceStateOf(store::WorkloadState state) {
  auto parsed = json::EnumFromName<api::InstanceState>(json::EnumName(state));
  return parsed.value_or(api::InstanceState::failed);
}

api::InstanceSettings SettingsOf(const store::WorkloadRecord& record) {
  auto settings = json::ParseAs<api::InstanceSettings>(record.settings_json);
  return settings ? *settings : api::InstanceSettings{};
}

api::Instance ToApiInstance(const store::WorkloadRecord& r, Timestamp now,
                            std::optional<api::JobQueueInfo> queue) {
  auto spec_or = SpecOf(r);
  api::SubmitJobRequest spec = spec_or ? *spec_or : api::SubmitJobRequest{};
  Metered metered = MeteredAt(r, now);
  std::string self = "/api/v1/instances/" + r.id;
  bool placed = store::HoldsGpus(r.state);
  api::InstanceSettings settings = SettingsOf(r);
  api::Instance out{
      .id = r.id,
      .project_id = r.project_id.str(),
      .name = r.name,
      .state = InstanceStateOf(r.state),
      .resources = spec.resources.value_or(api::JobResources{}),
      .node_selector = spec.node_selector.value_or(api::Labels{}),
      .tolerations = spec.tolerations.value_or(std::vector<api::Toleration>{}),
      .command = spec.command,
      .environment = spec.environment.value_or(api::Labels{}),
      .priority_class = r.priority_class,
      .preemption = spec.preemption.value_or(api::PreemptionPolicy::never),
      .start_after = spec.start_after,
      .reservation = spec.reservation,
      .max_lifetime_seconds = settings.max_lifetime_seconds,
      .expires_at = r.state == store::WorkloadState::running ? OptTime(r.expires_at) : std::nullopt,
      .node_id = placed && r.node_id ? std::optional<std::string>(r.node_id->str()) : std::nullopt,
      .gpu_indexes = placed ? r.gpu_indexes : std::vector<int64_t>{},
      .hourly_price_micros = placed ? r.hourly_price_micros : 0,
      .cost_micros = metered.cost_micros,
      .currency = r.currency,
      .gpu_seconds = static_cast<double>(metered.gpu_milli_seconds) / 1000.0,
      .starts = r.attempt,
      .state_reason = r.state_reason,
      .state_message = r.state_message,
      .queue = std::move(queue),
      .workspace_node_id = settings.workspace_node,
      .restore_snapshot_id = settings.restore_snapshot,
      .migrating_to_node_id = settings.migration_node,
      .created_by = r.created_by,
      .scheduled_at = OptTime(r.scheduled_at),
      .started_at = OptTime(r.started_at),
      .stopped_at = OptTime(r.finished_at),
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = api::ETagOf(r.version),
      .links = {{"self", self},
                {"project", "/api/v1/projects/" + r.project_id.str()},
                {"logs", self + "/logs"}}};
  if (out.node_id) out.links["node"] = "/api/v1/nodes/" + *out.node_id;
  return out;
}

api::LogLine ToApi(const store::OutputRecord& r) {
  return api::LogLine{.seq = r.seq,
                      .stream = r.stream,
                      .attempt = r.attempt,
                      .time = FormatRfc3339(r.time),
                      .text = r.text};
}

api::Snapshot ToApiSnapshot(const store::SnapshotRecord& r) {
  std::string self = "/api/v1/snapshots/" + r.id;
  return api::Snapshot{.id = r.id,
                       .project_id = r.project_id.str(),
                       .name = r.name,
                       .instance_id = r.instance_id,
                       .node_id = r.node_id.str(),
                       .purpose = r.purpose,
                       .state = r.state,
                       .state_message = r.state_message,
                       .size_bytes = r.size_bytes,
                       .sha256 = r.sha256,
                       .created_by = r.created_by,
                       .ready_at = OptTime(r.ready_at),
                       .created_at = FormatRfc3339(r.created_at),
                       .updated_at = FormatRfc3339(r.updated_at),
                       .etag = api::ETagOf(r.version),
                       .links = {{"self", self},
                                 {"project", "/api/v1/projects/" + r.project_id.str()},
                                 {"instance", "/api/v1/instances/" + r.instance_id},
                                 {"node", "/api/v1/nodes/" + r.node_id.str()}}};
}

}  // namespace hangar::workloads
