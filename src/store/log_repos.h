// Full-text search over workloads' output (migration 8: FTS5 on SQLite, a tsvector column with
// a GIN index on PostgreSQL). Same rules as store/repos.h: functions run in the caller's
// transaction and are scoped by the OrgId.
//
// Matching: every word of the query must appear in the chunk, case-insensitively, as a whole
// word (no stemming, no prefixes); punctuation separates words. Results are newest first and
// keyset-paginated on the chunk's seq.
#pragma once

#include <string>
#include <vector>

#include "store/repos.h"
#include "store/workload_repos.h"

namespace hangar::store {

struct OutputSearch {
  OrgId org;
  ProjectId project;
  std::string query;               // the words to find; at least one word character
  std::vector<std::string> kinds;  // workload kinds to search: "job", "instance" (non-empty)
  int64_t limit = 50;              // 1..1000
  std::string page_token;          // from a previous page of the same search
};

struct OutputMatch {
  OutputRecord chunk;
  std::string kind;  // the workload's: job | instance
  std::string workload_name;
};

// kInvalidArgument naming query:page_token for a token of another search.
Result<Page<OutputMatch>> SearchOutput(Tx& tx, const OutputSearch& search);

}  // namespace hangar::store
