#include "workloads/log_search.h"

#include <algorithm>
#include <cctype>

#include "store/identity_repos.h"

namespace hangar::workloads {

Result<store::Page<store::OutputMatch>> LogSearch::Search(const identity::Principal& who,
                                                          const LogSearchQuery& q) {
  const bool has_word = std::any_of(q.query.begin(), q.query.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || (c & 0x80) != 0;
  });
  if (!has_word) {
    return std::unexpected(Error::Invalid("the search has no word to look for")
                               .Field("query:q", "must contain at least one letter or digit"));
  }
  if (q.kind && *q.kind != "job" && *q.kind != "instance") {
    return std::unexpected(
        Error::Invalid("kind is not valid").Field("query:kind", "must be job or instance"));
  }
  Error not_found = Error::NotFound("project " + q.project + " not found")
                        .Hint("name a project you can read: hangar projects list");
  std::optional<store::ProjectRecord> project;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::FindProject(tx, who.org_id, q.project));
    return Ok();
  }));
  if (!project) return std::unexpected(not_found);
  const auto scope = identity::ResourceScope::Project(who.org_id, project->team_id, project->id);
  store::OutputSearch search{.org = who.org_id,
                             .project = project->id,
                             .query = q.query,
                             .limit = q.limit,
                             .page_token = q.page_token};
  for (auto [kind, permission] :
       {std::pair{"job", "jobs:read"}, std::pair{"instance", "instances:read"}}) {
    if (q.kind && *q.kind != kind) continue;
    HANGAR_ASSIGN_OR_RETURN(auto decision, authorizer_.Check(who, permission, scope));
    if (decision.allowed) search.kinds.emplace_back(kind);
  }
  if (search.kinds.empty()) return std::unexpected(not_found);
  store::Page<store::OutputMatch> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::SearchOutput(tx, search));
    return Ok();
  }));
  return page;
}

}  // namespace hangar::workloads
