#include "cli/oauth.h"

#include <algorithm>
#include <cctype>

namespace hangar::cli::oauth {

namespace {

using client::ApiError;
using client::HttpResponse;
using Fields = std::vector<std::pair<std::string, std::string>>;

Failure Plain(ApiError e) { return Failure{std::move(e), ""}; }

// The Failure for an OAuth error response: the errors the CLI can explain get a message and a
// hint of their own (and no HTTP status, so the exit code follows their canonical code).
Failure FromOAuthError(const ErrorResponse& e, int status, std::string_view endpoint) {
  std::string description = e.error_description.value_or("");
  auto with_description = [&](std::string message) {
    return description.empty() ? message : message + " (" + description + ")";
  };
  if (e.error == "invalid_grant" && endpoint == "refresh") {
    return {
        ApiError::FromError(Error::Unauthenticated(
                                with_description("your login session has expired or was revoked"))
                                .Hint("run `hangar login` to sign in again")),
        e.error};
  }
  if (e.error == "access_denied") {
    return {ApiError::FromError(
                Error::PermissionDenied(with_description("the sign-in request was denied"))),
            e.error};
  }
  if (e.error == "expired_token") {
    return {ApiError::FromError(
                Error::Unauthenticated(
                    with_description("the code expired before the sign-in was confirmed"))
                    .Hint("run `hangar login` again and confirm the code sooner")),
            e.error};
  }
  std::string message = "OAuth error " + e.error;
  if (!description.empty()) message += ": " + description;
  return {ApiError{Error(client::ErrorCodeForHttpStatus(status), message), status, std::nullopt},
          e.error};
}

// Sends the form and decodes a 2xx answer as T; any other answer is a Failure.
template <typename T>
OAuthResult<T> Exchange(client::ApiClient& c, const std::string& target, const Fields& fields,
                        std::string_view endpoint) {
  auto res = c.PostForm(target, fields);
  if (!res) return std::unexpected(Plain(ApiError::FromError(std::move(res).error())));
  if (res->status < 200 || res->status >= 300) {
    if (auto e = ParseErrorResponse(res->body)) {
      return std::unexpected(FromOAuthError(*e, res->status, endpoint));
    }
    return std::unexpected(Plain(client::ApiErrorFromResponse(*res)));
  }
  auto decoded = client::DecodeResponse<T>(res->body);
  if (!decoded) return std::unexpected(Plain(ApiError::FromError(std::move(decoded).error())));
  return std::move(*decoded);
}

Status CheckTokenType(const TokenResponse& t) {
  if (!t.token_type) return Ok();
  std::string type = *t.token_type;
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  if (type == "bearer") return Ok();
  return std::unexpected(Error::Internal("the server issued a token of type '" + *t.token_type +
                                         "'; hangar only uses Bearer tokens"));
}

OAuthResult<TokenResponse> Checked(OAuthResult<TokenResponse> res) {
  if (!res) return res;
  if (auto ok = CheckTokenType(*res); !ok) {
    return std::unexpected(Plain(ApiError::FromError(std::move(ok).error())));
  }
  if (res->access_token.empty()) {
    return std::unexpected(
        Plain(ApiError::FromError(Error::Internal("the server issued an empty access token"))));
  }
  return res;
}

}  // namespace

std::optional<ErrorResponse> ParseErrorResponse(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc || !doc->is_object()) return std::nullopt;
  const auto& obj = doc->get_object();
  const auto* error = obj.if_contains("error");
  if (!error || !error->is_string() || error->get_string().empty()) return std::nullopt;
  ErrorResponse out;
  out.error = std::string(error->get_string());
  if (const auto* d = obj.if_contains("error_description"); d && d->is_string()) {
    out.error_description = std::string(d->get_string());
  }
  if (const auto* u = obj.if_contains("error_uri"); u && u->is_string()) {
    out.error_uri = std::string(u->get_string());
  }
  return out;
}

OAuthResult<DeviceAuthorization> StartDeviceAuthorization(client::ApiClient& c,
                                                          std::string_view scope) {
  auto res = Exchange<DeviceAuthorization>(
      c, "/oauth/device_authorization",
      {{"client_id", std::string(kClientId)}, {"scope", std::string(scope)}}, "device");
  if (res && (res->device_code.empty() || res->user_code.empty())) {
    return std::unexpected(Plain(ApiError::FromError(
        Error::Internal("the server's device authorization has no device or user code"))));
  }
  return res;
}

OAuthResult<TokenResponse> PollDeviceToken(client::ApiClient& c, const DeviceAuthorization& auth,
                                           const Clock& clock,
                                           const std::function<void(std::chrono::seconds)>& sleep) {
  std::chrono::seconds interval(std::max<int64_t>(1, auth.interval.value_or(5)));
  Timestamp deadline = clock.Now() + std::chrono::seconds(auth.expires_in.value_or(900));
  Fields fields{{"grant_type", std::string(kDeviceCodeGrant)},
                {"device_code", auth.device_code},
                {"client_id", std::string(kClientId)}};
  for (;;) {
    sleep(interval);
    if (clock.Now() >= deadline) {
      return std::unexpected(FromOAuthError({.error = "expired_token"}, 400, "device"));
    }
    auto res = Exchange<TokenResponse>(c, "/oauth/token", fields, "device");
    if (res) return Checked(std::move(res));
    if (res.error().code == "authorization_pending") continue;
    if (res.error().code == "slow_down") {
      interval += std::chrono::seconds(5);
      continue;
    }
    return res;
  }
}

OAuthResult<TokenResponse> Refresh(client::ApiClient& c, const std::string& refresh_token) {
  return Checked(Exchange<TokenResponse>(c, "/oauth/token",
                                         {{"grant_type", "refresh_token"},
                                          {"refresh_token", refresh_token},
                                          {"client_id", std::string(kClientId)}},
                                         "refresh"));
}

OAuthResult<void> RevokeRefreshToken(client::ApiClient& c, const std::string& token) {
  auto res = c.PostForm("/oauth/revoke", {{"token", token},
                                          {"token_type_hint", "refresh_token"},
                                          {"client_id", std::string(kClientId)}});
  if (!res) return std::unexpected(Plain(ApiError::FromError(std::move(res).error())));
  if (res->status >= 200 && res->status < 300) return {};
  if (auto e = ParseErrorResponse(res->body)) {
    return std::unexpected(FromOAuthError(*e, res->status, "revoke"));
  }
  return std::unexpected(Plain(client::ApiErrorFromResponse(*res)));
}

}  // namespace hangar::cli::oauth
