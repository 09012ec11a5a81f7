// The CLI's OAuth 2.0 client (internal to src/cli/): the device authorization grant (RFC 8628)
// for `hangar login`, the refresh token grant (RFC 6749 section 6) and token revocation
// (RFC 7009), against hangard's /oauth endpoints, as the public client "hangar-cli".
//
// Requests are application/x-www-form-urlencoded and carry no bearer token; answers are JSON,
// errors RFC 6749 section 5.2 bodies such as {"error":"invalid_grant"} (usually HTTP 400).
//
// Thread-safety: plain functions over one ApiClient.
#pragma once

#include <boost/describe.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "client/api_client.h"
#include "common/clock.h"

namespace hangar::cli::oauth {

inline constexpr std::string_view kClientId = "hangar-cli";
inline constexpr std::string_view kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";

// RFC 8628 section 3.2.
struct DeviceAuthorization {
  std::string device_code;
  std::string user_code;
  std::string verification_uri;
  std::optional<std::string> verification_uri_complete;
  std::optional<int64_t> expires_in;  // seconds; required by the RFC, 900 assumed if absent
  std::optional<int64_t> interval;    // seconds between polls; default 5
};
BOOST_DESCRIBE_STRUCT(DeviceAuthorization, (),
                      (device_code, user_code, verification_uri, verification_uri_complete,
                       expires_in, interval))

// RFC 6749 section 5.1.
struct TokenResponse {
  std::string access_token;
  std::optional<std::string> token_type;  // "Bearer" (any case)
  std::optional<int64_t> expires_in;      // seconds
  std::optional<std::string> refresh_token;
  std::optional<std::string> scope;
};
BOOST_DESCRIBE_STRUCT(TokenResponse, (),
                      (access_token, token_type, expires_in, refresh_token, scope))

// RFC 6749 section 5.2.
struct ErrorResponse {
  std::string error;
  std::optional<std::string> error_description;
  std::optional<std::string> error_uri;
};
BOOST_DESCRIBE_STRUCT(ErrorResponse, (), (error, error_description, error_uri))

// {"error": "..."} bodies; nullopt for anything else.
std::optional<ErrorResponse> ParseErrorResponse(std::string_view body);

// Why an OAuth call failed: what to show (and the exit code) plus the RFC error code, empty
// when the failure was not an OAuth error response (transport, problem+json, bad JSON).
struct Failure {
  client::ApiError error;
  std::string code;
};
template <typename T>
using OAuthResult = std::expected<T, Failure>;

// POST /oauth/device_authorization client_id=hangar-cli&scope=`scope`.
OAuthResult<DeviceAuthorization> StartDeviceAuthorization(client::ApiClient& c,
                                                          std::string_view scope);

// Polls POST /oauth/token (the device_code grant) every `interval` seconds (sleeping first)
// until the user approves: authorization_pending keeps polling, slow_down adds 5 seconds to the
// interval (RFC 8628 section 3.5); access_denied, expired_token (or the code's lifetime passing on
// `clock`) and any other error end it.
OAuthResult<TokenResponse> PollDeviceToken(client::ApiClient& c, const DeviceAuthorization& auth,
                                           const Clock& clock,
                                           const std::function<void(std::chrono::seconds)>& sleep);

// POST /oauth/token grant_type=refresh_token. invalid_grant (the refresh token expired, was
// revoked or already used) is kUnauthenticated with a hint to run `hangar login`.
OAuthResult<TokenResponse> Refresh(client::ApiClient& c, const std::string& refresh_token);

// POST /oauth/revoke token=`token`&token_type_hint=refresh_token. 200 whether or not the token
// was still valid (RFC 7009 section 2.2).
OAuthResult<void> RevokeRefreshToken(client::ApiClient& c, const std::string& token);

}  // namespace hangar::cli::oauth
