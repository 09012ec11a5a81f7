#include "workloads/views.h"

#include "common/json_codec.h"

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

api::Job ToApiJob(const store::WorkloadRecord& r, const api::SubmitJobRequest& spec,
                  std::optional<api::JobQueueInfo> queue) {
  std::string self = "/api/v1/jobs/" + r.id;
  api::Job job{.id = r.id,
               .project_id = r.project_id.str(),
               .name = r.name,
               .state = r.state,
               .command = spec.command,
               .environment = spec.environment.value_or(api::Labels{}),
               .working_dir = spec.working_dir.value_or(""),
               .resources = spec.resources.value_or(api::JobResources{}),
               .node_selector = spec.node_selector.value_or(api::Labels{}),
               .priority_class = r.priority_class,
               .time_limit_seconds = spec.time_limit_seconds,
               .deadline = spec.deadline,
               .start_after = spec.start_after,
               .preemption = spec.preemption.value_or(api::PreemptionPolicy::requeue),
               .checkpoint_grace_seconds = spec.checkpoint_grace_seconds.value_or(0),
               .retries = spec.retries.value_or(0),
               .on_node_loss = spec.on_node_loss.value_or(api::NodeLossPolicy::requeue),
               .dependencies = spec.dependencies.value_or(std::vector<api::JobDependency>{}),
               .array_id = r.array_id,
               .array_index = r.array_index,
               .attempt = r.attempt,
               .node_id = r.node_id ? std::optional<std::string>(r.node_id->str()) : std::nullopt,
               .gpu_indexes = r.gpu_indexes,
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

api::Job ToApiJob(const store::WorkloadRecord& r, std::optional<api::JobQueueInfo> queue) {
  auto spec = SpecOf(r);
  return ToApiJob(r, spec ? *spec : api::SubmitJobRequest{}, std::move(queue));
}

api::LogLine ToApi(const store::OutputRecord& r) {
  return api::LogLine{.seq = r.seq,
                      .stream = r.stream,
                      .attempt = r.attempt,
                      .time = FormatRfc3339(r.time),
                      .text = r.text};
}

}  // namespace hangar::workloads
