// The one mapping from Error to HTTP: status codes and RFC 9457 problem+json bodies.
//
// Every error response of hangard is built here, so statuses, `type` URIs and the body shape are
// the same for every route and middleware. Internal errors never expose their message to
// clients (it is logged with the request id instead) unless development mode is on.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "common/error.h"
#include "http/server.h"

namespace hangar::gateway {

unsigned HttpStatusOf(ErrorCode code);

struct ProblemContext {
  std::string_view instance;  // the request path
  std::string_view request_id;
  unsigned http_version = 11;
  bool dev_mode = false;  // include internal error messages
};

http::Response ProblemResponse(const Error& error, const ProblemContext& context);

}  // namespace hangar::gateway
