// Helpers shared by the typed repositories (repos.cc, identity_repos.cc): row-mapping
// utilities and the one implementation of filtered, sorted, keyset-paginated lists. Internal to
// store/: nothing outside it includes this header.
//
// Thread-safety: stateless functions over the caller's Tx.
#pragma once

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <initializer_list>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "store/repos.h"
#include "store/status_of.h"

namespace hangar::store::detail {

namespace bj = boost::json;

inline Error CorruptRow(std::string_view what) {
  return Error::Internal("stored " + std::string(what) + " cannot be read");
}

template <typename E>
Result<E> ParseEnum(const std::string& name, std::string_view what) {
  if (auto v = json::EnumFromName<E>(name)) return *v;
  return std::unexpected(CorruptRow(what));
}

// Runs a query expected to return at most one row and maps it.
template <typename T, typename Parse>
Result<std::optional<T>> QueryOne(Tx& tx, std::string_view sql, std::span<const SqlValue> params,
                                  Parse parse) {
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  if (rows.empty()) return std::optional<T>();
  HANGAR_ASSIGN_OR_RETURN(T value, parse(rows.front()));
  return std::optional<T>(std::move(value));
}

template <typename T, typename Parse>
Result<std::vector<T>> QueryAll(Tx& tx, std::string_view sql, std::span<const SqlValue> params,
                                Parse parse) {
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  std::vector<T> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    HANGAR_ASSIGN_OR_RETURN(T value, parse(r));
    out.push_back(std::move(value));
  }
  return out;
}

inline std::string Concat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

// After an optimistic UPDATE changed nothing: absent or changed since read?
inline Status UpdateMissed(Tx& tx, std::string_view table, std::string_view noun,
                           const std::string& org, const std::string& id) {
  std::string sql = Concat({"SELECT 1 FROM ", table, " WHERE org_id = $1 AND id = $2"});
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, {org, id}));
  if (rows.empty()) return std::unexpected(Error::NotFound(std::string(noun) + " not found"));
  return std::unexpected(
      Error(ErrorCode::kPreconditionFailed, std::string(noun) + " changed since it was read")
          .Hint("read it again and retry with the new etag"));
}

// ---- Lists -------------------------------------------------------------------------------------

// How one list resource maps onto SQL.
struct ListTable {
  const ListSpec* spec;
  std::string_view select;      // "SELECT cols"
  std::string_view from;        // " FROM table alias [JOIN …]"
  std::string_view org_column;  // "n.org_id"
  std::string_view id_column;   // "n.id"
  std::string_view created_column;
  std::vector<std::pair<std::string_view, std::string_view>> columns;  // API field -> SQL
  std::string_view condition = {};  // a constant SQL condition every row must meet, if any

  std::string_view Column(std::string_view field) const {
    if (field == "id") return id_column;
    for (const auto& [f, c] : columns) {
      if (f == field) return c;
    }
    return {};
  }
};

inline Error BadPageToken() {
  return Error::Invalid("page_token is invalid or belongs to another query")
      .Field("query:page_token",
             "pass the next_page_token of the previous page, with the same filters and sort");
}

inline bool IsTextField(const ListSpec& spec, std::string_view field) {
  if (field == "id") return true;
  const ListField* f = spec.Find(field);
  return f != nullptr && f->type == FieldType::kText;
}

inline std::string SqlValueKey(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "n:";
  if (const auto* i = std::get_if<int64_t>(&v)) return "i:" + std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return "d:" + fmt::format("{}", *d);
  return "s:" + std::get<std::string>(v);
}

// A fingerprint of everything that selects rows, so a token cannot be replayed on another query.
inline std::string FilterHash(const ListQuery& q) {
  std::vector<std::string> parts;
  for (const auto& [field, value] : q.equals) parts.push_back(field + "=" + SqlValueKey(value));
  std::sort(parts.begin(), parts.end());
  std::string canon;
  for (const auto& p : parts) canon += std::to_string(p.size()) + ":" + p + ";";
  if (q.created_after) canon += "after=" + std::to_string(ToUnixMicros(*q.created_after)) + ";";
  if (q.created_before) canon += "before=" + std::to_string(ToUnixMicros(*q.created_before));
  return Sha256Hex(canon).substr(0, 16);
}

template <typename T, typename Parse>
Result<Page<T>> RunList(Tx& tx, const ListTable& table, const OrgId& org, const ListQuery& q,
                        Parse parse) {
  const ListSpec& spec = *table.spec;
  if (q.limit < 1 || q.limit > 1000) {
    return std::unexpected(
        Error::Invalid("limit is out of range").Field("query:limit", "must be 1..1000"));
  }
  std::vector<SqlValue> params;
  auto param = [&](SqlValue v) {
    params.push_back(std::move(v));
    return "$" + std::to_string(params.size());
  };

  // A table without an organisation column (organisations themselves) lists every row.
  std::string where = table.org_column.empty()
                          ? std::string(" WHERE 1 = 1")
                          : Concat({" WHERE ", table.org_column, " = "}) + param(org.str());
  if (!table.condition.empty()) where += Concat({" AND ", table.condition});
  for (const auto& [field, value] : q.equals) {
    const ListField* f = spec.Find(field);
    std::string_view column = table.Column(field);
    if (f == nullptr || !f->filterable || column.empty()) {
      return std::unexpected(Error::Invalid("unknown filter")
                                 .Field("query:" + field, "is not a filter of " + spec.resource));
    }
    bool want_text = f->type == FieldType::kText;
    if (want_text != std::holds_alternative<std::string>(value) ||
        (!want_text && !std::holds_alternative<int64_t>(value))) {
      return std::unexpected(
          Error::Invalid("filter has the wrong type")
              .Field("query:" + field, want_text ? "must be text" : "must be an integer"));
    }
    where += Concat({" AND ", column, " = "}) + param(value);
  }
  if (q.created_after) {
    where += Concat({" AND ", table.created_column, " > "}) + param(ToUnixMicros(*q.created_after));
  }
  if (q.created_before) {
    where +=
        Concat({" AND ", table.created_column, " < "}) + param(ToUnixMicros(*q.created_before));
  }

  std::vector<SortKey> sort = q.sort;
  if (sort.empty()) sort.push_back({spec.default_sort, false});
  std::string sort_spec;
  for (const SortKey& k : sort) {
    const ListField* f = spec.Find(k.field);
    if (f == nullptr || !f->sortable || table.Column(k.field).empty()) {
      return std::unexpected(
          Error::Invalid("unknown sort field")
              .Field("query:sort", k.field + " is not a sort field of " + spec.resource));
    }
  }
  // The id breaks ties, so the order is total and keyset pagination neither skips nor repeats.
  sort.push_back({"id", sort.back().descending});
  for (const SortKey& k : sort) sort_spec += (k.descending ? "-" : "+") + k.field + ",";
  const std::string filter_hash = FilterHash(q);

  if (!q.page_token.empty()) {
    auto decoded = Base64UrlDecode(q.page_token);
    if (!decoded) return std::unexpected(BadPageToken());
    boost::system::error_code ec;
    bj::value doc = bj::parse(*decoded, ec);
    const bj::object* obj = ec ? nullptr : doc.if_object();
    auto member = [&](std::string_view name) -> const bj::value* {
      return obj != nullptr ? obj->if_contains(name) : nullptr;
    };
    const bj::value* sv = member("s");
    const bj::value* fv = member("f");
    const bj::value* kv = member("k");
    const bj::string* s = sv != nullptr ? sv->if_string() : nullptr;
    const bj::string* fh = fv != nullptr ? fv->if_string() : nullptr;
    const bj::array* keys = kv != nullptr ? kv->if_array() : nullptr;
    if (s == nullptr || fh == nullptr || keys == nullptr || *s != sort_spec || *fh != filter_hash ||
        keys->size() != sort.size()) {
      return std::unexpected(BadPageToken());
    }
    std::vector<SqlValue> last;
    for (size_t i = 0; i < sort.size(); ++i) {
      const bj::value& v = (*keys)[i];
      if (IsTextField(spec, sort[i].field) && v.is_string()) {
        last.emplace_back(std::string(v.get_string()));
      } else if (!IsTextField(spec, sort[i].field) && v.is_int64()) {
        last.emplace_back(v.get_int64());
      } else {
        return std::unexpected(BadPageToken());
      }
    }
    // Rows strictly after the last one in the sort order, written as the expanded OR form so
    // that each key may have its own direction: (a > x) OR (a = x AND b < y) OR …
    std::string keyset;
    for (size_t i = 0; i < sort.size(); ++i) {
      keyset += i == 0 ? "(" : " OR (";
      for (size_t j = 0; j < i; ++j) {
        keyset += Concat({table.Column(sort[j].field), " = "}) + param(last[j]) + " AND ";
      }
      keyset += Concat({table.Column(sort[i].field), sort[i].descending ? " < " : " > "}) +
                param(last[i]) + ")";
    }
    where += " AND (" + keyset + ")";
  }

  std::string sql(table.select);
  for (const SortKey& k : sort) sql += Concat({", ", table.Column(k.field)});
  sql += table.from;
  sql += where;
  sql += " ORDER BY ";
  for (size_t i = 0; i < sort.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += Concat({table.Column(sort[i].field), sort[i].descending ? " DESC" : " ASC"});
  }
  sql += " LIMIT " + param(q.limit + 1);

  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  Page<T> page;
  bool more = static_cast<int64_t>(rows.size()) > q.limit;
  if (more) rows.erase(rows.begin() + q.limit, rows.end());
  page.items.reserve(rows.size());
  for (const Row& r : rows) {
    HANGAR_ASSIGN_OR_RETURN(T item, parse(r));
    page.items.push_back(std::move(item));
  }
  if (more) {
    const Row& r = rows.back();
    bj::array keys;
    size_t base = r.size() - sort.size();
    for (size_t i = 0; i < sort.size(); ++i) {
      const SqlValue& v = r.values()[base + i];
      if (const auto* n = std::get_if<int64_t>(&v)) {
        keys.emplace_back(*n);
      } else if (const auto* t = std::get_if<std::string>(&v)) {
        keys.emplace_back(bj::string_view(*t));
      } else {
        return std::unexpected(CorruptRow("sort key"));
      }
    }
    bj::object token;
    token["s"] = sort_spec;
    token["f"] = filter_hash;
    token["k"] = std::move(keys);
    page.next_page_token = Base64UrlEncode(bj::serialize(token));
  }
  return page;
}

inline ListField Field(std::string name, FieldType type, bool filterable, bool sortable,
                       std::string description) {
  return ListField{std::move(name), type, filterable, sortable, std::move(description), {}};
}

// A text field whose values are the names of a described enum (states).
template <typename E>
ListField EnumField(std::string name, bool sortable, std::string description) {
  ListField field =
      Field(std::move(name), FieldType::kText, true, sortable, std::move(description));
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>(
      [&](auto d) { field.allowed_values.emplace_back(d.name); });
  return field;
}

// A page of one organisation's events matching the SQL `condition` (a constant, never caller
// text), filtered by the query's equality filters on the columns named in `filters_allowed`.
Result<Page<EventRecord>> ListEventsWhere(Tx& tx, const OrgId& org, const ListQuery& q,
                                          std::string_view condition,
                                          std::initializer_list<std::string_view> filters_allowed);

}  // namespace hangar::store::detail
