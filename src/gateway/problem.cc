#include "gateway/problem.h"

#include <spdlog/spdlog.h>

#include "api/types.h"
#include "common/json_codec.h"

namespace hangar::gateway {

unsigned HttpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return 400;
    case ErrorCode::kInvalidArgument:
      return 422;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPreconditionFailed:
      return 412;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUriTooLong:
      return 414;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {
std::string_view TitleOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return "Malformed request";
    case ErrorCode::kInvalidArgument:
      return "Invalid request";
    case ErrorCode::kUnauthenticated:
      return "Authentication required";
    case ErrorCode::kPermissionDenied:
      return "Permission denied";
    case ErrorCode::kNotFound:
      return "Not found";
    case ErrorCode::kMethodNotAllowed:
      return "Method not allowed";
    case ErrorCode::kAlreadyExists:
      return "Already exists";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kPreconditionFailed:
      return "Precondition failed";
    case ErrorCode::kPayloadTooLarge:
      return "Request body too large";
    case ErrorCode::kUriTooLong:
      return "Request target too long";
    case ErrorCode::kUnsupportedMediaType:
      return "Unsupported media type";
    case ErrorCode::kHeadersTooLarge:
      return "Request headers too large";
    case ErrorCode::kResourceExhausted:
      return "Quota exceeded";
    case ErrorCode::kRateLimited:
      return "Too many requests";
    case ErrorCode::kUnavailable:
      return "Service unavailable";
    case ErrorCode::kInternal:
      return "Internal error";
  }
  return "Internal error";
}
}  // namespace

http::Response ProblemResponse(const Error& error, const ProblemContext& context) {
  unsigned status = HttpStatusOf(error.code());
  api::Problem problem;
  std::string slug(ErrorCodeName(error.code()));
  std::replace(slug.begin(), slug.end(), '_', '-');
  problem.type = "https://hangar.dev/problems/" + slug;
  problem.title = std::string(TitleOf(error.code()));
  problem.status = status;
  problem.instance = std::string(context.instance);
  problem.request_id = std::string(context.request_id);
  if (error.code() == ErrorCode::kInternal && !context.dev_mode) {
    spdlog::error("request {} failed: {}", context.request_id, error.ToString());
    problem.detail = "an unexpected error occurred; it has been logged with the request id";
    problem.hint = "retry later; if it persists, report the request id to your administrator";
  } else {
    problem.detail = error.message();
    if (!error.hint().empty()) problem.hint = error.hint();
    if (!error.violations().empty()) {
      problem.errors.emplace();
      for (const auto& v : error.violations()) problem.errors->push_back({v.pointer, v.detail});
    }
  }
  if (!problem.hint && error.code() == ErrorCode::kUnavailable) {
    problem.hint = "a dependency is unavailable; retry after the Retry-After delay";
  }
  http::Response response{static_cast<http::bhttp::status>(status), context.http_version};
  response.set(http::bhttp::field::content_type, "application/problem+json");
  response.set(http::bhttp::field::cache_control, "no-store");
  if (error.code() == ErrorCode::kUnauthenticated) {
    response.set(http::bhttp::field::www_authenticate, R"(Bearer realm="hangar")");
  }
  if (error.code() == ErrorCode::kUnavailable) response.set(http::bhttp::field::retry_after, "5");
  response.body() = json::Serialize(problem);
  response.prepare_payload();
  return response;
}

}  // namespace hangar::gateway
