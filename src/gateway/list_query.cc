#include "gateway/list_query.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "common/clock.h"

namespace hangar::gateway {

const std::vector<std::string>& CommonListParameters() {
  static const std::vector<std::string> kParams = {"limit", "page_token", "sort", "created_after",
                                                   "created_before"};
  return kParams;
}

namespace {
std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}
}  // namespace

Result<store::ListQuery> ParseListQuery(
    const std::vector<std::pair<std::string, std::string>>& query, const store::ListSpec& spec) {
  store::ListQuery out;
  Error e = Error::Invalid("the list parameters are not valid");
  std::set<std::string> seen;
  for (const auto& [name, value] : query) {
    std::string where = "query:" + name;
    if (!seen.insert(name).second) {
      e.AddField(where, "may be given once");
      continue;
    }
    if (name == "limit") {
      auto v = ParseInt(value);
      if (!v || *v < 1 || *v > kMaxPageSize) {
        e.AddField(where, "must be an integer between 1 and " + std::to_string(kMaxPageSize));
      } else {
        out.limit = *v;
      }
    } else if (name == "page_token") {
      if (value.empty() || value.size() > 4096) {
        e.AddField(where, "is invalid or belongs to another query");
      }
      out.page_token = value;
    } else if (name == "sort") {
      std::set<std::string> keys;
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t end = value.find(',', pos);
        if (end == std::string::npos) end = value.size();
        std::string key = value.substr(pos, end - pos);
        bool desc = !key.empty() && key[0] == '-';
        if (desc) key.erase(0, 1);
        const store::ListField* field = spec.Find(key);
        if (field == nullptr || !field->sortable) {
          std::string sortable;
          for (const auto& f : spec.fields) {
            if (f.sortable) sortable += (sortable.empty() ? "" : ", ") + f.name;
          }
          e.AddField(where, "cannot sort by '" + key + "'; sortable fields: " + sortable);
        } else if (!keys.insert(key).second) {
          e.AddField(where, "names '" + key + "' twice");
        } else {
          out.sort.push_back({key, desc});
        }
        pos = end + 1;
      }
    } else if (name == "created_after" || name == "created_before") {
      auto t = ParseRfc3339(value);
      if (!t) {
        e.AddField(where, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z");
      } else if (name == "created_after") {
        out.created_after = t;
      } else {
        out.created_before = t;
      }
    } else if (const store::ListField* field = spec.Find(name); field && field->filterable) {
      switch (field->type) {
        case store::FieldType::kText:
          if (!field->allowed_values.empty() &&
              std::find(field->allowed_values.begin(), field->allowed_values.end(), value) ==
                  field->allowed_values.end()) {
            std::string names;
            for (const auto& v : field->allowed_values) names += (names.empty() ? "" : ", ") + v;
            e.AddField(where, "must be one of: " + names);
          } else {
            out.equals.emplace_back(name, value);
          }
          break;
        case store::FieldType::kInt:
          if (auto v = ParseInt(value)) {
            out.equals.emplace_back(name, *v);
          } else {
            e.AddField(where, "must be an integer");
          }
          break;
        case store::FieldType::kBool:
          if (value == "true" || value == "false") {
            out.equals.emplace_back(name, int64_t{value == "true"});
          } else {
            e.AddField(where, "must be true or false");
          }
          break;
        case store::FieldType::kTime:
          if (auto t = ParseRfc3339(value)) {
            out.equals.emplace_back(name, ToUnixMicros(*t));
          } else {
            e.AddField(where, "must be an RFC 3339 time");
          }
          break;
      }
    } else {
      e.AddField(where, "is not a parameter of this list");
    }
  }
  if (!e.violations().empty()) return std::unexpected(std::move(e));
  return out;
}

}  // namespace hangar::gateway
