// The public API's types for searching logs (GET /api/v1/logs). A workload's own output pages
// and its follow stream use api::LogLine and api::LogPage (api/workload_types.h). Conventions
// as in api/types.h.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// One chunk of output that matched a search, and whose it is.
struct LogMatch {
  std::string workload_id;  // "job_…" or "inst_…"
  std::string kind;         // job | instance
  std::string workload_name;
  int64_t seq = 0;     // the chunk's sequence number in the workload's logs (?after=seq-1 reads it)
  std::string stream;  // stdout | stderr
  int64_t attempt = 0;
  std::string time;  // when the server received it
  std::string text;
  Links links;  // workload, logs
};
BOOST_DESCRIBE_STRUCT(LogMatch, (),
                      (workload_id, kind, workload_name, seq, stream, attempt, time, text, links))

// Newest match first.
struct LogMatchList {
  std::vector<LogMatch> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(LogMatchList, (), (items, next_page_token))

}  // namespace hangar::api
