// LogSearch: full-text search across a project's logs — the output of its jobs and instances
// (GET /api/v1/logs). The index is the store's (store/log_repos.h); this is the authorisation
// around it.
//
// Authorisation: at the project's scope, jobs:read lets the caller search its jobs' output and
// instances:read its instances'; a project in another organisation, or one where the caller
// holds neither, is a 404, as if it did not exist.
//
// Thread-safety: thread-safe; calls block on the store (use worker threads).
#pragma once

#include <optional>
#include <string>

#include "common/error.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/log_repos.h"

namespace hangar::workloads {

struct LogSearchQuery {
  std::string project;              // id or name
  std::string query;                // words, all of which must appear
  std::optional<std::string> kind;  // "job" or "instance": only that kind's output
  int64_t limit = 50;
  std::string page_token;
};

class LogSearch {
 public:
  LogSearch(store::Store& store, identity::Authorizer& authorizer)
      : store_(store), authorizer_(authorizer) {}

  // The matching chunks, newest first. kInvalidArgument naming query:q for a query without a
  // word, query:kind for an unknown kind; kNotFound for a project the caller cannot see.
  Result<store::Page<store::OutputMatch>> Search(const identity::Principal& who,
                                                 const LogSearchQuery& query);

 private:
  store::Store& store_;
  identity::Authorizer& authorizer_;
};

}  // namespace hangar::workloads
