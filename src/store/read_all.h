// ReadAll: every page of one of the repositories' list functions, for readers that need a
// whole organisation's set (the scheduler's snapshot, an instance estimate).
#pragma once

#include <vector>

#include "common/error.h"
#include "store/repos.h"

namespace hangar::store {

template <typename T, typename ListFn>
Result<std::vector<T>> ReadAll(Tx& tx, const OrgId& org, ListFn list) {
  std::vector<T> all;
  ListQuery q{.limit = 1000};
  while (true) {
    HANGAR_ASSIGN_OR_RETURN(auto page, list(tx, org, q));
    for (auto& item : page.items) all.push_back(std::move(item));
    if (page.next_page_token.empty()) break;
    q.page_token = page.next_page_token;
  }
  return all;
}

}  // namespace hangar::store
