// JSON Schema (OpenAPI 3.1 dialect) derived from the same Boost.Describe descriptions that
// common/json_codec.h encodes and decodes, so the published schema is the wire format.
//
// Described structs become named components (`#/components/schemas/Gpu`); members of type
// std::optional are not required and are nullable; every other member is required.
//
// Thread-safety: a SchemaRegistry is used by one thread while the document is built.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "common/json_codec.h"

namespace hangar::gateway {

namespace bj = boost::json;

// The unqualified name of T, from the compiler's function signature ("hangar::api::Gpu" ->
// "Gpu").
template <typename T>
constexpr std::string_view TypeName() {
  std::string_view f = __PRETTY_FUNCTION__;  // "... [with T = hangar::api::Gpu; ...]"
  auto start = f.find("T = ") + 4;
  auto end = f.find_first_of(";]", start);
  std::string_view full = f.substr(start, end - start);
  auto colon = full.rfind("::");
  return colon == std::string_view::npos ? full : full.substr(colon + 2);
}

class SchemaRegistry {
 public:
  template <typename T>
  bj::value SchemaOf();

  // The components/schemas object collected so far.
  const bj::object& components() const { return components_; }

 private:
  template <typename T>
  bj::value StructSchema();

  bj::object components_;
};

// A deferred schema: routes keep these and the OpenAPI builder calls them with its registry.
using SchemaFn = std::function<bj::value(SchemaRegistry&)>;

template <typename T>
SchemaFn Schema() {
  return [](SchemaRegistry& registry) { return registry.SchemaOf<T>(); };
}

template <typename T>
bj::value SchemaRegistry::SchemaOf() {
  using json::IsOptional, json::IsVector, json::IsStringMap;
  if constexpr (IsOptional<T>::value) {
    bj::value inner = SchemaOf<typename T::value_type>();
    return bj::object{{"anyOf", bj::array{inner, bj::object{{"type", "null"}}}}};
  } else if constexpr (std::is_same_v<T, bj::value>) {
    return bj::object{};
  } else if constexpr (std::is_same_v<T, bj::object>) {
    return bj::object{{"type", "object"}};
  } else if constexpr (std::is_same_v<T, bool>) {
    return bj::object{{"type", "boolean"}};
  } else if constexpr (std::is_integral_v<T>) {
    return bj::object{{"type", "integer"}, {"format", sizeof(T) == 8 ? "int64" : "int32"}};
  } else if constexpr (std::is_floating_point_v<T>) {
    return bj::object{{"type", "number"}};
  } else if constexpr (std::is_same_v<T, std::string>) {
    return bj::object{{"type", "string"}};
  } else if constexpr (json::kIsDescribedEnum<T>) {
    bj::array values;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
        [&](auto d) { values.emplace_back(d.name); });
    return bj::object{{"type", "string"}, {"enum", std::move(values)}};
  } else if constexpr (IsVector<T>::value) {
    return bj::object{{"type", "array"}, {"items", SchemaOf<typename T::value_type>()}};
  } else if constexpr (IsStringMap<T>::value) {
    return bj::object{{"type", "object"},
                      {"additionalProperties", SchemaOf<typename T::mapped_type>()}};
  } else if constexpr (json::kIsDescribedStruct<T>) {
    std::string name(TypeName<T>());
    if (!components_.contains(name)) {
      components_[name] = bj::object{};  // reserve first: recursive types terminate
      components_[name] = StructSchema<T>();
    }
    return bj::object{{"$ref", "#/components/schemas/" + name}};
  } else {
    static_assert(sizeof(T) == 0, "type has no schema");
  }
}

template <typename T>
bj::value SchemaRegistry::StructSchema() {
  bj::object properties;
  bj::array required;
  boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
      [&](auto d) {
        using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
        bj::value schema = SchemaOf<M>();
        std::string_view name = d.name;
        // Times are RFC 3339 strings named *_at throughout the API.
        if (name.ends_with("_at") && schema.is_object() && schema.as_object().contains("type")) {
          schema.as_object()["format"] = "date-time";
        }
        properties[name] = std::move(schema);
        if (!json::IsOptional<M>::value) required.emplace_back(name);
      });
  bj::object out{
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) out["required"] = std::move(required);
  return out;
}

}  // namespace hangar::gateway
