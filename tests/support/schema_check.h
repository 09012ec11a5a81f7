// Test support: checks a JSON value against the JSON Schema subset that hangard's OpenAPI
// document uses ($ref, type, properties, required, additionalProperties, items, enum, anyOf,
// format date-time), so tests can assert that responses match the published document.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"

namespace hangar::testing {

namespace bj = boost::json;

class SchemaChecker {
 public:
  explicit SchemaChecker(const bj::object& openapi)
      : schemas_(openapi.at("components").at("schemas").as_object()) {}

  // Every mismatch as "pointer: problem"; empty when `value` conforms.
  std::vector<std::string> Check(const bj::value& value, const bj::value& schema) const {
    std::vector<std::string> errors;
    Walk(value, schema, "", errors);
    return errors;
  }

 private:
  static bool HasType(const bj::value& v, std::string_view type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_int64() || v.is_uint64();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_bool();
    if (type == "null") return v.is_null();
    return false;
  }

  void Walk(const bj::value& v, const bj::value& schema_value, const std::string& at,
            std::vector<std::string>& errors) const {
    const auto& schema = schema_value.as_object();
    if (auto* ref = schema.if_contains("$ref")) {
      std::string name(ref->as_string());
      name = name.substr(name.rfind('/') + 1);
      return Walk(v, schemas_.at(name), at, errors);
    }
    if (auto* any = schema.if_contains("anyOf")) {
      for (const auto& option : any->as_array()) {
        std::vector<std::string> sub;
        Walk(v, option, at, sub);
        if (sub.empty()) return;
      }
      errors.push_back(at + ": matches no anyOf option");
      return;
    }
    if (auto* type = schema.if_contains("type")) {
      bool ok = false;
      if (type->is_string()) {
        ok = HasType(v, type->as_string());
      } else {
        for (const auto& t : type->as_array()) ok |= HasType(v, t.as_string());
      }
      if (!ok) {
        errors.push_back(at + ": wrong type, expected " + bj::serialize(*type));
        return;
      }
    }
    if (auto* values = schema.if_contains("enum")) {
      bool found = false;
      for (const auto& e : values->as_array()) found |= (e == v);
      if (!found) errors.push_back(at + ": not one of " + bj::serialize(*values));
    }
    if (auto* format = schema.if_contains("format"); format && format->as_string() == "date-time" &&
                                                     v.is_string() &&
                                                     !ParseRfc3339(v.as_string())) {
      errors.push_back(at + ": not an RFC 3339 date-time");
    }
    if (v.is_object()) {
      const auto& obj = v.as_object();
      const bj::object* props = nullptr;
      if (auto* p = schema.if_contains("properties")) props = &p->as_object();
      if (auto* req = schema.if_contains("required")) {
        for (const auto& name : req->as_array()) {
          if (!obj.contains(name.as_string())) {
            errors.push_back(at + "/" + std::string(name.as_string()) + ": missing");
          }
        }
      }
      for (const auto& kv : obj) {
        std::string child = at + "/" + std::string(kv.key());
        if (props && props->contains(kv.key())) {
          Walk(kv.value(), props->at(kv.key()), child, errors);
        } else if (auto* extra = schema.if_contains("additionalProperties")) {
          if (extra->is_bool() && !extra->as_bool()) {
            errors.push_back(child + ": not in the schema");
          } else if (extra->is_object()) {
            Walk(kv.value(), *extra, child, errors);
          }
        }
      }
    }
    if (v.is_array()) {
      if (auto* items = schema.if_contains("items")) {
        const auto& arr = v.as_array();
        for (size_t i = 0; i < arr.size(); ++i) {
          Walk(arr[i], *items, at + "/" + std::to_string(i), errors);
        }
      }
    }
  }

  const bj::object& schemas_;
};

}  // namespace hangar::testing
