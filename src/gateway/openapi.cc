#include "gateway/openapi.h"

#include "api/types.h"
#include "gateway/list_query.h"

namespace hangar::gateway {

namespace {

bj::object Param(std::string_view name, std::string_view in, bj::object schema,
                 std::string_view description, bool required) {
  return bj::object{{"name", name},
                    {"in", in},
                    {"required", required},
                    {"description", description},
                    {"schema", std::move(schema)}};
}

bj::object StringSchema() { return bj::object{{"type", "string"}}; }

bj::object FieldSchema(const store::ListField& f) {
  switch (f.type) {
    case store::FieldType::kInt:
      return bj::object{{"type", "integer"}};
    case store::FieldType::kBool:
      return bj::object{{"type", "boolean"}};
    case store::FieldType::kTime:
      return bj::object{{"type", "string"}, {"format", "date-time"}};
    case store::FieldType::kText:
      break;
  }
  if (!f.allowed_values.empty()) {
    bj::array values;
    for (const auto& v : f.allowed_values) values.emplace_back(v);
    return bj::object{{"type", "string"}, {"enum", std::move(values)}};
  }
  return StringSchema();
}

bj::array ListParameters(const store::ListSpec& spec) {
  bj::array params;
  params.push_back(Param("limit", "query",
                         bj::object{{"type", "integer"},
                                    {"minimum", 1},
                                    {"maximum", kMaxPageSize},
                                    {"default", kDefaultPageSize}},
                         "Page size.", false));
  params.push_back(Param("page_token", "query", StringSchema(),
                         "`next_page_token` from the previous page (also in the Link header).",
                         false));
  std::string sortable;
  for (const auto& f : spec.fields) {
    if (f.sortable) sortable += (sortable.empty() ? "" : ", ") + f.name;
  }
  if (!sortable.empty()) {  // a list with a fixed order (events) takes no sort parameter
    params.push_back(Param("sort", "query", StringSchema(),
                           "Comma-separated fields, `-` for descending. Sortable: " + sortable +
                               ". Default: " + spec.default_sort + ".",
                           false));
  }
  params.push_back(Param("created_after", "query",
                         bj::object{{"type", "string"}, {"format", "date-time"}},
                         "Only objects created after this time.", false));
  params.push_back(Param("created_before", "query",
                         bj::object{{"type", "string"}, {"format", "date-time"}},
                         "Only objects created before this time.", false));
  for (const auto& f : spec.fields) {
    if (f.filterable)
      params.push_back(Param(f.name, "query", FieldSchema(f), f.description, false));
  }
  return params;
}

bj::object ProblemResponseObject(SchemaRegistry& registry, std::string_view description) {
  return bj::object{
      {"description", description},
      {"content", bj::object{{"application/problem+json",
                              bj::object{{"schema", registry.SchemaOf<api::Problem>()}}}}}};
}

}  // namespace

bj::object BuildOpenApi(const Router& router, const ApiInfo& info) {
  SchemaRegistry registry;
  bj::object paths;
  for (const Route& route : router.routes()) {
    if (route.hidden) continue;
    bj::object op;
    op["operationId"] = route.operation_id;
    op["summary"] = route.summary;
    op["tags"] = bj::array{bj::value(route.tag)};
    if (route.access == Access::kApiKey) {
      // The permission each operation needs, machine-readable and in words.
      std::string where = route.authorize == Authorize::kOrganization ? "at organisation scope"
                          : route.authorize == Authorize::kObject
                              ? "on the object (a binding on its team or project suffices)"
                              : "when acting on another principal's objects (your own need none)";
      if (!route.permission.empty()) {
        op["x-hangar-permission"] = route.permission;
        op["description"] = "Requires permission `" + route.permission + "` " + where + ".";
      } else {
        op["description"] = "Any authenticated caller, acting on itself.";
      }
    }
    if (route.access == Access::kPublic) {
      op["security"] = bj::array{};
    } else if (route.access == Access::kJoinToken) {
      op["security"] = bj::array{bj::object{{"joinToken", bj::array{}}}};
    }
    bj::array params;
    size_t pos = 0;
    while ((pos = route.path.find('{', pos)) != std::string::npos) {
      size_t end = route.path.find('}', pos);
      params.push_back(Param(route.path.substr(pos + 1, end - pos - 1), "path", StringSchema(),
                             "The object's id.", true));
      pos = end;
    }
    if (route.list != nullptr) {
      for (auto& p : ListParameters(*route.list)) params.push_back(std::move(p));
    }
    for (const auto& f : route.query_params) {
      params.push_back(Param(f.name, "query", FieldSchema(f), f.description, false));
    }
    if (route.method == verb::post && route.idempotent_post) {
      params.push_back(Param("Idempotency-Key", "header", StringSchema(),
                             "Repeat a POST safely: the same key and body within 24 h replays "
                             "the first response.",
                             false));
    }
    if (route.method == verb::patch || route.method == verb::delete_) {
      params.push_back(Param("If-Match", "header", StringSchema(),
                             "The object's ETag; the change applies only if it still matches "
                             "(412 otherwise).",
                             false));
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (route.request_body) {
      bj::object content;
      bj::value schema = route.request_body(registry);
      for (const auto& type : route.content_types) content[type] = bj::object{{"schema", schema}};
      op["requestBody"] = bj::object{{"required", true}, {"content", std::move(content)}};
    }
    bj::object responses;
    bj::object ok{{"description", route.summary}};
    if (route.response_body) {
      ok["content"] = bj::object{
          {route.response_content_type, bj::object{{"schema", route.response_body(registry)}}}};
    }
    responses[std::to_string(route.success_status)] = std::move(ok);
    responses["default"] = ProblemResponseObject(registry, "An RFC 9457 problem.");
    op["responses"] = std::move(responses);

    std::string method(http::bhttp::to_string(route.method));
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    auto& item = paths[route.path];
    if (!item.is_object()) item = bj::object{};
    item.as_object()[method] = std::move(op);
  }
  bj::object components{
      {"schemas", registry.components()},
      {"securitySchemes",
       bj::object{{"apiKey", bj::object{{"type", "http"},
                                        {"scheme", "bearer"},
                                        {"description", "An API key, hgr_…"}}},
                  {"joinToken", bj::object{{"type", "http"},
                                           {"scheme", "bearer"},
                                           {"description", "A node join token, hgj_…"}}}}}};
  return bj::object{
      {"openapi", "3.1.0"},
      {"info",
       bj::object{{"title", info.title},
                  {"version", info.version},
                  {"description", info.description},
                  {"license", bj::object{{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}}}}},
      {"servers", bj::array{bj::object{{"url", "/"}}}},
      {"security", bj::array{bj::object{{"apiKey", bj::array{}}}}},
      {"tags", bj::array{bj::object{{"name", "GPUs"}}, bj::object{{"name", "Nodes"}},
                         bj::object{{"name", "GPU types"}}, bj::object{{"name", "Agents"}},
                         bj::object{{"name", "Events"}}, bj::object{{"name", "System"}}}},
      {"paths", std::move(paths)},
      {"components", std::move(components)}};
}

}  // namespace hangar::gateway
