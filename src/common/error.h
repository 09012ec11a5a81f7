// Error and Result: the one way fallible functions report failure in Hangar.
//
// Every fallible function returns Result<T> = std::expected<T, Error>. An Error carries a
// canonical code, a human message, optional field violations (JSON pointers into the request),
// and an optional hint that tells the caller what to do next. Exactly one place (http/problem.cc)
// maps an Error to an HTTP status and a problem+json body; nothing else decides statuses.
//
// Thread-safety: value types, no shared state.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hangar {

// Canonical error codes. The comment after each names the HTTP status http/problem.cc uses.
enum class ErrorCode {
  kMalformed,             // 400: the request cannot be parsed (bad JSON, bad query syntax)
  kInvalidArgument,       // 422: parsed, but a field is wrong (type, range, unknown field)
  kUnauthenticated,       // 401
  kPermissionDenied,      // 403
  kNotFound,              // 404: also for another tenant's objects
  kMethodNotAllowed,      // 405
  kAlreadyExists,         // 409: duplicate name or key
  kConflict,              // 409: state machine conflict, concurrent duplicate request
  kPreconditionFailed,    // 412: If-Match mismatch
  kPayloadTooLarge,       // 413
  kUriTooLong,            // 414
  kUnsupportedMediaType,  // 415
  kHeadersTooLarge,       // 431
  kResourceExhausted,     // 429: a quota (GPUs, budget) is used up
  kRateLimited,           // 429: too many requests; retry after the Retry-After delay
  kUnavailable,           // 503: a dependency is down; retry later
  kInternal,              // 500: a bug or an unexpected failure; details are logged, not returned
};

// The stable snake_case name of a code, used in logs and problem `type` URIs.
std::string_view ErrorCodeName(ErrorCode code);

// One violated field: `pointer` is an RFC 6901 JSON pointer ("/gpu/count") or, for query and
// path parameters, the parameter name prefixed with its location ("query:limit", "path:id").
struct FieldViolation {
  std::string pointer;
  std::string detail;
};

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldViolation>& violations() const { return violations_; }
  const std::string& hint() const { return hint_; }

  // Builders, so call sites read as one expression:
  //   return Error::Invalid("limit must be 1..1000").Field("query:limit", "must be <= 1000");
  Error&& Field(std::string pointer, std::string detail) && {
    violations_.push_back({std::move(pointer), std::move(detail)});
    return std::move(*this);
  }
  Error&& Hint(std::string hint) && {
    hint_ = std::move(hint);
    return std::move(*this);
  }
  void AddField(std::string pointer, std::string detail) {
    violations_.push_back({std::move(pointer), std::move(detail)});
  }

  // Shorthands for the common codes.
  static Error Malformed(std::string m) { return {ErrorCode::kMalformed, std::move(m)}; }
  static Error Invalid(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error Conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
  static Error Unauthenticated(std::string m) {
    return {ErrorCode::kUnauthenticated, std::move(m)};
  }
  static Error PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  // "code: message" for logs.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<FieldViolation> violations_;
  std::string hint_;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline Status Ok() { return {}; }

}  // namespace hangar

// HANGAR_TRY(expr): evaluates a Result-returning expression and returns its error from the
// enclosing function if it failed. HANGAR_ASSIGN_OR_RETURN(lhs, expr) also binds the value.
#define HANGAR_CONCAT_INNER_(a, b) a##b
#define HANGAR_CONCAT_(a, b) HANGAR_CONCAT_INNER_(a, b)
#define HANGAR_TRY(expr)                                             \
  do {                                                               \
    if (auto hangar_try_result_ = (expr); !hangar_try_result_) {     \
      return std::unexpected(std::move(hangar_try_result_).error()); \
    }                                                                \
  } while (false)
#define HANGAR_ASSIGN_OR_RETURN(lhs, expr)                                               \
  auto HANGAR_CONCAT_(hangar_result_, __LINE__) = (expr);                                \
  if (!HANGAR_CONCAT_(hangar_result_, __LINE__)) {                                       \
    return std::unexpected(std::move(HANGAR_CONCAT_(hangar_result_, __LINE__)).error()); \
  }                                                                                      \
  lhs = std::move(*HANGAR_CONCAT_(hangar_result_, __LINE__))

// HANGAR_CHECK(cond, msg): an invariant of the program, never of its input. Aborts with the
// message and location when false.
#define HANGAR_CHECK(cond, msg)                                                   \
  do {                                                                            \
    if (!(cond)) ::hangar::internal::CheckFailed(#cond, msg, __FILE__, __LINE__); \
  } while (false)

namespace hangar::internal {
[[noreturn]] void CheckFailed(const char* cond, std::string_view msg, const char* file, int line);
}  // namespace hangar::internal
