// Query parameter helpers shared by the route files: typed reads that fail with a problem
// naming the parameter, and the declarations that document a route's parameters in OpenAPI.
#pragma once

#include <charconv>
#include <string>
#include <string_view>

#include "gateway/router.h"
#include "store/repos.h"
#include "workloads/views.h"

namespace hangar::routes {

// An integer query parameter within [lo, hi]; `fallback` when absent.
inline Result<int64_t> IntParam(const gateway::RequestContext& ctx, std::string_view name,
                                int64_t fallback, int64_t lo, int64_t hi) {
  auto text = ctx.QueryValue(name);
  if (!text) return fallback;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v < lo || v > hi) {
    return std::unexpected(
        Error::Invalid(std::string(name) + " is not valid")
            .Field("query:" + std::string(name),
                   "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi)));
  }
  return v;
}

inline store::ListField QueryParam(std::string name, store::FieldType type,
                                   std::string description) {
  return store::ListField{std::move(name), type, true, false, std::move(description), {}};
}

// A boolean query parameter ("true" or "false"); `fallback` when absent.
inline Result<bool> BoolParam(const gateway::RequestContext& ctx, std::string_view name,
                              bool fallback) {
  auto text = ctx.QueryValue(name);
  if (!text) return fallback;
  if (*text == "true") return true;
  if (*text == "false") return false;
  return std::unexpected(Error::Invalid(std::string(name) + " is not valid")
                             .Field("query:" + std::string(name), "must be true or false"));
}

// A workload's output page (GET …/logs): ?after= and ?limit= read, `read(after, limit)` fetches
// the chunks, and next_after says where to read on.
template <typename ReadFn>
Result<http::Response> LogPageResponse(gateway::RequestContext& ctx, ReadFn read) {
  HANGAR_ASSIGN_OR_RETURN(int64_t after, IntParam(ctx, "after", 0, 0, INT64_MAX));
  HANGAR_ASSIGN_OR_RETURN(int64_t limit, IntParam(ctx, "limit", 1000, 1, 1000));
  HANGAR_ASSIGN_OR_RETURN(auto output, read(after, limit));
  api::LogPage page{.next_after = after};
  for (const auto& chunk : output) {
    page.items.push_back(workloads::ToApi(chunk));
    page.next_after = chunk.seq;
  }
  return gateway::JsonResponse(ctx, 200, page);
}

// The query parameters of a logs route, for OpenAPI.
inline std::vector<store::ListField> LogQueryParams() {
  return {QueryParam("after", store::FieldType::kInt,
                     "Only chunks after this sequence number (next_after)."),
          QueryParam("limit", store::FieldType::kInt,
                     "At most this many chunks (1..1000, default 1000).")};
}

}  // namespace hangar::routes
