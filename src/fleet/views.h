// Views: storage records rendered as the public API's objects (api/types.h), with RFC 3339
// times, ETags and hypermedia links. Shared by the REST handlers and by event payloads, so an
// event's `data` is exactly what GET returns.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "api/types.h"
#include "store/repos.h"

namespace hangar::fleet {

using api::ETagOf;

api::GpuType ToApi(const store::GpuTypeRecord& record);
api::Node ToApi(const store::NodeRecord& record);
api::Gpu ToApi(const store::GpuRecord& record);
api::JoinToken ToApi(const store::JoinTokenRecord& record);

}  // namespace hangar::fleet
