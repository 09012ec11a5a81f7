// The OpenAPI 3.1 document of the public API, generated from the route table and the C++ types
// (gateway/schema.h) — never written by hand, so it cannot drift from what the server does.
//
// Thread-safety: pure function of the router (call after all routes are added).
#pragma once

#include <boost/json.hpp>
#include <string>

#include "gateway/router.h"

namespace hangar::gateway {

struct ApiInfo {
  std::string title = "Hangar API";
  std::string version;
  std::string description;
};

boost::json::object BuildOpenApi(const Router& router, const ApiInfo& info);

}  // namespace hangar::gateway
