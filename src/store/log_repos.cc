// Log search (see log_repos.h). The one place engine-specific SQL differs: FTS5's MATCH on
// SQLite, @@ plainto_tsquery on PostgreSQL.
#include "store/log_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

// An FTS5 query that means what plainto_tsquery means: every word, ANDed. Each word is quoted
// (a quote inside doubled) so that nothing the caller types is FTS5 syntax (OR, NEAR, *, ^).
std::string Fts5Query(std::string_view query) {
  std::string out;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && std::isspace(static_cast<unsigned char>(query[i]))) ++i;
    size_t start = i;
    while (i < query.size() && !std::isspace(static_cast<unsigned char>(query[i]))) ++i;
    if (i == start) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : query.substr(start, i - start)) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

// Binds page tokens to the search they came from.
std::string SearchHash(const OutputSearch& s) {
  std::string kinds;
  for (const auto& k : s.kinds) kinds += k + ",";
  return Sha256Hex(s.project.str() + "\n" + s.query + "\n" + kinds).substr(0, 16);
}

}  // namespace

Result<Page<OutputMatch>> SearchOutput(Tx& tx, const OutputSearch& search) {
  const bool pg = tx.dialect() == Dialect::kPostgres;
  const std::string hash = SearchHash(search);
  std::vector<SqlValue> params = {pg ? search.query : Fts5Query(search.query), search.org.str(),
                                  search.project.str()};
  auto param = [&](SqlValue v) {
    params.push_back(std::move(v));
    return "$" + std::to_string(params.size());
  };
  std::string sql =
      "SELECT o.seq, o.workload_id, o.attempt, o.stream, o.byte_offset, o.byte_end, o.text,"
      " o.time, w.kind, w.name";
  sql += pg ? " FROM workload_output o"
            : " FROM workload_output_fts JOIN workload_output o"
              " ON o.seq = workload_output_fts.rowid";
  sql += " JOIN workloads w ON w.id = o.workload_id AND w.org_id = o.org_id";
  sql += pg ? " WHERE o.text_search @@ plainto_tsquery('simple', $1)"
            : " WHERE workload_output_fts MATCH $1";
  sql += " AND o.org_id = $2 AND w.project_id = $3 AND w.kind IN (";
  for (size_t i = 0; i < search.kinds.size(); ++i) {
    sql += (i == 0 ? "" : ", ") + param(search.kinds[i]);
  }
  sql += ")";
  if (!search.page_token.empty()) {
    auto decoded = Base64UrlDecode(search.page_token);
    boost::system::error_code ec;
    bj::value doc = decoded ? bj::parse(*decoded, ec) : bj::value();
    const bj::object* token = decoded && !ec ? doc.if_object() : nullptr;
    const bj::value* f = token != nullptr ? token->if_contains("f") : nullptr;
    const bj::value* k = token != nullptr ? token->if_contains("k") : nullptr;
    if (f == nullptr || !f->is_string() || f->get_string() != hash || k == nullptr ||
        !k->is_int64()) {
      return std::unexpected(BadPageToken());
    }
    sql += " AND o.seq < " + param(k->get_int64());
  }
  sql += " ORDER BY o.seq DESC LIMIT " + param(search.limit + 1);

  HANGAR_ASSIGN_OR_RETURN(
      auto matches, QueryAll<OutputMatch>(tx, sql, params, [](const Row& r) {
        return Result<OutputMatch>(OutputMatch{.chunk = OutputRecord{.seq = r.Int(0),
                                                                     .workload_id = r.Text(1),
                                                                     .attempt = r.Int(2),
                                                                     .stream = r.Text(3),
                                                                     .byte_offset = r.Int(4),
                                                                     .byte_end = r.Int(5),
                                                                     .text = r.Text(6),
                                                                     .time = r.Time(7)},
                                               .kind = r.Text(8),
                                               .workload_name = r.Text(9)});
      }));
  Page<OutputMatch> page;
  if (static_cast<int64_t>(matches.size()) > search.limit) {
    matches.resize(static_cast<size_t>(search.limit));
    bj::object token{{"f", hash}, {"k", matches.back().chunk.seq}};
    page.next_page_token = Base64UrlEncode(bj::serialize(token));
  }
  page.items = std::move(matches);
  return page;
}

}  // namespace hangar::store
