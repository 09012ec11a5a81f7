// JobSpec: a submitted job request checked and completed with its defaults, as stored in
// workloads.spec. Validation names every field at fault (RFC 9457 `errors` pointers), so bad
// input is refused before anything is written.
//
// Thread-safety: plain functions.
#pragma once

#include <optional>
#include <string>

#include "api/workload_types.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::workloads {

inline constexpr int64_t kMaxGpusPerJob = 64;
inline constexpr int64_t kMaxArraySize = 1000;
inline constexpr int64_t kMaxRetries = 10;

// Checks `request` and fills in every default (resources, priority, policies), so the stored
// spec says exactly what the job asked for. kInvalidArgument naming each bad field. The
// project and the dependencies are checked against the store by the service.
Result<api::SubmitJobRequest> NormalizeJobRequest(api::SubmitJobRequest request, Timestamp now);

// The priority value the scheduler orders by: higher first.
int32_t PriorityValue(api::PriorityClass priority_class);

// "12.4" -> 12040 (the scheduler's encoding); nullopt when it is not MAJOR.MINOR.
std::optional<int32_t> ParseCudaVersion(std::string_view text);

}  // namespace hangar::workloads
