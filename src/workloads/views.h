// Views: workload records rendered as the public API's objects (api/workload_types.h). Shared
// by the REST handlers and event payloads, so an event's `data` is what GET returns.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>

#include "api/workload_types.h"
#include "store/snapshot_repos.h"
#include "store/workload_repos.h"

namespace hangar::workloads {

// The stored spec of a workload (written by the service, so a failure is a corrupt row).
Result<api::SubmitJobRequest> SpecOf(const store::WorkloadRecord& record);

// The job as the API shows it at `now` (its cost so far counts the GPUs it holds until then).
api::Job ToApiJob(const store::WorkloadRecord& record, const api::SubmitJobRequest& spec,
                  Timestamp now, std::optional<api::JobQueueInfo> queue = std::nullopt);
// As above, decoding the spec; a corrupt spec renders the job without it.
api::Job ToApiJob(const store::WorkloadRecord& record, Timestamp now,
                  std::optional<api::JobQueueInfo> queue = std::nullopt);

// The stored instance-only settings (defaults when unreadable).
api::InstanceSettings SettingsOf(const store::WorkloadRecord& record);

// An instance as GET shows it at `now` (cost so far counts the open segment).
api::Instance ToApiInstance(const store::WorkloadRecord& record, Timestamp now,
                            std::optional<api::JobQueueInfo> queue = std::nullopt);

api::JobState JobStateOf(store::WorkloadState state);
api::InstanceState InstanceStateOf(store::WorkloadState state);

api::LogLine ToApi(const store::OutputRecord& record);
api::Snapshot ToApiSnapshot(const store::SnapshotRecord& record);

}  // namespace hangar::workloads
