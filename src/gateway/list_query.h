// Turns a list request's query string into a validated store::ListQuery, using the resource's
// ListSpec: `limit` (1..1000, default 50), `page_token`, `sort=-created_at,name`,
// `created_after`/`created_before` (RFC 3339), and equality filters on documented fields.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "store/repos.h"

namespace hangar::gateway {

inline constexpr int64_t kDefaultPageSize = 50;
inline constexpr int64_t kMaxPageSize = 1000;

// Query parameters every list accepts besides the spec's filter fields.
const std::vector<std::string>& CommonListParameters();

// kInvalidArgument naming "query:NAME" for each bad parameter; unknown parameters are rejected
// by the gateway before this runs.
Result<store::ListQuery> ParseListQuery(
    const std::vector<std::pair<std::string, std::string>>& query, const store::ListSpec& spec);

}  // namespace hangar::gateway
