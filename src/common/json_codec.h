// Strict JSON <-> C++ conversion for the API's request and response types.
//
// API types are plain structs described with BOOST_DESCRIBE_STRUCT; enums with
// BOOST_DESCRIBE_ENUM. From that one description we get encoding, strict decoding and (in
// http/openapi.h) the OpenAPI schema, so the documented shape cannot drift from the real one.
//
// Decoding rules (the API's contract for request bodies):
//   - a member of type std::optional<T> may be absent or null; every other member is required;
//   - unknown members are rejected;
//   - numbers must fit the member's type exactly (no silent truncation, no strings for numbers);
//   - enums are their lowercase names as strings.
// Every violation is collected with its JSON pointer, so one response names every bad field.
//
// Thread-safety: stateless templates.
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"

namespace hangar::json {

namespace bj = boost::json;

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsStringMap : std::false_type {};
template <typename T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

template <typename T>
constexpr bool kIsDescribedStruct =
    boost::describe::has_describe_members<T>::value&& std::is_class_v<T>;
template <typename T>
constexpr bool kIsDescribedEnum = boost::describe::has_describe_enumerators<T>::value;

// The lowercase name of a described enum value.
template <typename E>
std::string_view EnumName(E value) {
  return boost::describe::enum_to_string(value, "unknown");
}
template <typename E>
std::optional<E> EnumFromName(std::string_view name) {
  std::optional<E> out;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (!out && name == d.name) out = d.value;
  });
  return out;
}
// "a, b, c": the accepted names of an enum, for error messages and schemas.
template <typename E>
std::string EnumNames() {
  std::string out;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (!out.empty()) out += ", ";
    out += d.name;
  });
  return out;
}

// ---- Encoding ------------------------------------------------------------------------------

template <typename T>
bj::value Encode(const T& value);

template <typename T>
void EncodeInto(bj::value& out, const T& value) {
  if constexpr (IsOptional<T>::value) {
    if (value) {
      EncodeInto(out, *value);
    } else {
      out = nullptr;
    }
  } else if constexpr (std::is_same_v<T, bj::value>) {
    out = value;
  } else if constexpr (std::is_same_v<T, bj::object>) {
    out = value;
  } else if constexpr (std::is_same_v<T, bool>) {
    out = value;
  } else if constexpr (std::is_integral_v<T>) {
    out = static_cast<int64_t>(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    out = static_cast<double>(value);
  } else if constexpr (std::is_convertible_v<T, std::string_view>) {
    out = std::string_view(value);
  } else if constexpr (kIsDescribedEnum<T>) {
    out = EnumName(value);
  } else if constexpr (IsVector<T>::value) {
    auto& arr = out.emplace_array();
    arr.reserve(value.size());
    for (const auto& item : value) {
      arr.emplace_back(nullptr);
      EncodeInto(arr.back(), item);
    }
  } else if constexpr (IsStringMap<T>::value) {
    auto& obj = out.emplace_object();
    for (const auto& [k, v] : value) EncodeInto(obj[k], v);
  } else if constexpr (kIsDescribedStruct<T>) {
    auto& obj = out.emplace_object();
    obj.reserve(boost::mp11::mp_size<
                boost::describe::describe_members<T, boost::describe::mod_public>>::value);
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) { EncodeInto(obj[d.name], value.*d.pointer); });
  } else {
    static_assert(sizeof(T) == 0, "type has no JSON encoding");
  }
}

template <typename T>
bj::value Encode(const T& value) {
  bj::value out;
  EncodeInto(out, value);
  return out;
}

// ---- Decoding ------------------------------------------------------------------------------

// Collects violations while decoding one document.
class DecodeContext {
 public:
  void Fail(const std::string& pointer, std::string detail) {
    error_.AddField(pointer.empty() ? "/" : pointer, std::move(detail));
    failed_ = true;
  }
  bool failed() const { return failed_; }
  Error TakeError() && { return std::move(error_); }

 private:
  Error error_ = Error::Invalid("the request body does not match the expected schema");
  bool failed_ = false;
};

std::string EscapePointerToken(std::string_view token);
std::string_view KindName(const bj::value& v);

template <typename T>
void DecodeInto(const bj::value& in, T& out, const std::string& ptr, DecodeContext& ctx);

template <typename T>
void DecodeInto(const bj::value& in, T& out, const std::string& ptr, DecodeContext& ctx) {
  if constexpr (IsOptional<T>::value) {
    if (in.is_null()) {
      out.reset();
    } else {
      typename T::value_type inner{};
      DecodeInto(in, inner, ptr, ctx);
      out = std::move(inner);
    }
  } else if constexpr (std::is_same_v<T, bj::value>) {
    out = in;
  } else if constexpr (std::is_same_v<T, bj::object>) {
    if (!in.is_object())
      return ctx.Fail(ptr, "must be an object, not " + std::string(KindName(in)));
    out = in.get_object();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!in.is_bool()) return ctx.Fail(ptr, "must be a boolean, not " + std::string(KindName(in)));
    out = in.get_bool();
  } else if constexpr (std::is_integral_v<T>) {
    int64_t v = 0;
    if (in.is_int64()) {
      v = in.get_int64();
    } else if (in.is_uint64() && in.get_uint64() <= uint64_t(std::numeric_limits<int64_t>::max())) {
      v = static_cast<int64_t>(in.get_uint64());
    } else if (in.is_double() && std::abs(in.get_double()) < 9.2e18 &&
               in.get_double() == static_cast<double>(int64_t(in.get_double()))) {
      // 1e3 is an integer; 1e300 is not representable (and casting it would be undefined).
      v = int64_t(in.get_double());
    } else {
      return ctx.Fail(ptr, "must be an integer, not " + std::string(KindName(in)));
    }
    if (v < int64_t(std::numeric_limits<T>::min()) ||
        (v > 0 && uint64_t(v) > uint64_t(std::numeric_limits<T>::max()))) {
      return ctx.Fail(ptr, "integer out of range");
    }
    out = static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!in.is_number()) return ctx.Fail(ptr, "must be a number, not " + std::string(KindName(in)));
    out = static_cast<T>(in.to_number<double>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!in.is_string()) return ctx.Fail(ptr, "must be a string, not " + std::string(KindName(in)));
    out.assign(in.get_string().data(), in.get_string().size());
  } else if constexpr (kIsDescribedEnum<T>) {
    std::optional<T> v;
    if (in.is_string()) v = EnumFromName<T>(in.get_string());
    if (!v) return ctx.Fail(ptr, "must be one of: " + EnumNames<T>());
    out = *v;
  } else if constexpr (IsVector<T>::value) {
    if (!in.is_array()) return ctx.Fail(ptr, "must be an array, not " + std::string(KindName(in)));
    const auto& arr = in.get_array();
    out.clear();
    out.resize(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      DecodeInto(arr[i], out[i], ptr + "/" + std::to_string(i), ctx);
    }
  } else if constexpr (IsStringMap<T>::value) {
    if (!in.is_object())
      return ctx.Fail(ptr, "must be an object, not " + std::string(KindName(in)));
    out.clear();
    for (const auto& kv : in.get_object()) {
      DecodeInto(kv.value(), out[std::string(kv.key())], ptr + "/" + EscapePointerToken(kv.key()),
                 ctx);
    }
  } else if constexpr (kIsDescribedStruct<T>) {
    if (!in.is_object())
      return ctx.Fail(ptr, "must be an object, not " + std::string(KindName(in)));
    const auto& obj = in.get_object();
    using Members = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<Members>([&](auto d) {
      using M = std::remove_cvref_t<decltype(out.*d.pointer)>;
      std::string child = ptr + "/" + d.name;
      if (const auto* v = obj.if_contains(d.name)) {
        DecodeInto(*v, out.*d.pointer, child, ctx);
      } else if constexpr (!IsOptional<M>::value) {
        ctx.Fail(child, "is required");
      }
    });
    for (const auto& kv : obj) {
      bool known = false;
      boost::mp11::mp_for_each<Members>([&](auto d) { known |= (kv.key() == d.name); });
      if (!known) ctx.Fail(ptr + "/" + EscapePointerToken(kv.key()), "is not a known field");
    }
  } else {
    static_assert(sizeof(T) == 0, "type has no JSON decoding");
  }
}

// Decodes `in` as a T under the strict rules above. The error is kInvalidArgument with one
// FieldViolation per problem.
template <typename T>
Result<T> Decode(const bj::value& in) {
  T out{};
  DecodeContext ctx;
  DecodeInto(in, out, "", ctx);
  if (ctx.failed()) return std::unexpected(std::move(ctx).TakeError());
  return out;
}

// Parses a JSON text. kMalformed (400) naming the byte offset when it is not JSON.
Result<bj::value> Parse(std::string_view text);

// Parses then decodes.
template <typename T>
Result<T> ParseAs(std::string_view text) {
  HANGAR_ASSIGN_OR_RETURN(auto doc, Parse(text));
  return Decode<T>(doc);
}

// ---- Direct serialisation -------------------------------------------------------------------
//
// Writes the same JSON that Encode() + boost::json::serialize would, straight into a string:
// no intermediate value tree, so responses (hot: every GET) cost one pass and few allocations.

// Appends `text` as a JSON string literal (quotes, escapes for ", \ and control characters).
void AppendJsonString(std::string& out, std::string_view text);
// The same escaping without the surrounding quotes (for text embedded in a JSON template).
void AppendJsonEscaped(std::string& out, std::string_view text);
void AppendJsonNumber(std::string& out, int64_t value);
void AppendJsonNumber(std::string& out, double value);

template <typename T>
void WriteJson(std::string& out, const T& value) {
  if constexpr (IsOptional<T>::value) {
    if (value) {
      WriteJson(out, *value);
    } else {
      out += "null";
    }
  } else if constexpr (std::is_same_v<T, bj::value> || std::is_same_v<T, bj::object>) {
    out += bj::serialize(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_integral_v<T>) {
    AppendJsonNumber(out, static_cast<int64_t>(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    AppendJsonNumber(out, static_cast<double>(value));
  } else if constexpr (std::is_convertible_v<T, std::string_view>) {
    AppendJsonString(out, std::string_view(value));
  } else if constexpr (kIsDescribedEnum<T>) {
    AppendJsonString(out, EnumName(value));
  } else if constexpr (IsVector<T>::value) {
    out += '[';
    bool first = true;
    for (const auto& item : value) {
      if (!first) out += ',';
      first = false;
      WriteJson(out, item);
    }
    out += ']';
  } else if constexpr (IsStringMap<T>::value) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : value) {
      if (!first) out += ',';
      first = false;
      AppendJsonString(out, k);
      out += ':';
      WriteJson(out, v);
    }
    out += '}';
  } else if constexpr (kIsDescribedStruct<T>) {
    out += '{';
    bool first = true;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) {
          if (!first) out += ',';
          first = false;
          AppendJsonString(out, d.name);
          out += ':';
          WriteJson(out, value.*d.pointer);
        });
    out += '}';
  } else {
    static_assert(sizeof(T) == 0, "type has no JSON encoding");
  }
}

// Compact serialisation.
template <typename T>
std::string Serialize(const T& value) {
  std::string out;
  out.reserve(256);
  WriteJson(out, value);
  return out;
}

}  // namespace hangar::json
