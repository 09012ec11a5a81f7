// OAuth 2.0 routes: discovery, JWKS, the token, device, revocation and introspection endpoints,
// and the plain server-rendered pages where people sign in (authorisation code), approve a
// device (`hangar login`) and accept an invitation.
//
// The token endpoints answer RFC 6749 §5.2 errors ({"error", "error_description"}), not
// problem+json: OAuth clients of every language expect that shape there. The HTML pages are
// deliberately small: no scripts, a strict Content-Security-Policy, no framing, no caching.
#include <boost/url.hpp>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "common/markup.h"
#include "identity/views.h"
#include "routes/routes.h"

namespace hangar::routes {

using gateway::Access;
using gateway::Authorize;
using gateway::JsonResponse;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;
using identity::TokenService;

namespace {

http::Response Html(const RequestContext& ctx, unsigned status, std::string_view title,
                    std::string_view body) {
  http::Response r{static_cast<http::bhttp::status>(status), ctx.request().version()};
  r.set(http::bhttp::field::content_type, "text/html; charset=utf-8");
  r.set(http::bhttp::field::cache_control, "no-store");
  r.set("Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors "
        "'none'");
  r.set("X-Frame-Options", "DENY");
  r.set("Referrer-Policy", "no-referrer");
  r.body() = std::string("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">") +
             "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
             EscapeMarkup(title) + " · Hangar</title><style>" +
             "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 "
             "1rem;color:#222}label{display:block;margin:.8rem 0 .2rem}input{width:100%;"
             "padding:.5rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem}"
             ".error{color:#b00020}.code{font-size:1.6rem;letter-spacing:.2rem}</style></head>"
             "<body><h1>" +
             EscapeMarkup(title) + "</h1>" + std::string(body) + "</body></html>";
  r.prepare_payload();
  return r;
}

std::string Hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + EscapeMarkup(name) + "\" value=\"" +
         EscapeMarkup(value) + "\">";
}

std::string CredentialFields(std::string_view org = "", std::string_view email = "") {
  return "<label for=\"organization\">Organisation</label><input id=\"organization\" "
         "name=\"organization\" required autocomplete=\"organization\" value=\"" +
         EscapeMarkup(org) +
         "\"><label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" "
         "required autocomplete=\"username\" value=\"" +
         EscapeMarkup(email) +
         "\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" "
         "type=\"password\" required autocomplete=\"current-password\">";
}

std::string Get(const std::map<std::string, std::string>& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

std::map<std::string, std::string> QueryMap(const RequestContext& ctx) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : ctx.query()) out[k] = v;
  return out;
}

identity::RequestOrigin OriginOf(const RequestContext& ctx) {
  return {ctx.client_address(), std::string(ctx.request()[http::bhttp::field::user_agent]),
          ctx.request_id()};
}

http::Response OAuthJson(const RequestContext& ctx, unsigned status, std::string body) {
  http::Response r = gateway::MakeJsonResponse(ctx, status, std::move(body), {});
  r.set(http::bhttp::field::cache_control, "no-store");
  r.set(http::bhttp::field::pragma, "no-cache");
  return r;
}

http::Response OAuthErrorResponse(const RequestContext& ctx, const identity::OAuthError& e) {
  http::Response r =
      OAuthJson(ctx, e.status, json::Serialize(api::OAuthErrorBody{e.error, e.description}));
  if (e.status == 401) r.set(http::bhttp::field::www_authenticate, "Basic realm=\"hangar\"");
  return r;
}

http::Response TokenJson(const RequestContext& ctx, const identity::TokenResponse& t) {
  api::TokenResponseBody body{.access_token = t.access_token,
                              .token_type = t.token_type,
                              .expires_in = t.expires_in,
                              .scope = t.scope};
  if (!t.refresh_token.empty()) body.refresh_token = t.refresh_token;
  return OAuthJson(ctx, 200, json::Serialize(body));
}

// client_secret_basic: "Authorization: Basic base64(id:secret)" (RFC 6749 §2.3.1).
std::optional<std::pair<std::string, std::string>> BasicCredentials(const RequestContext& ctx) {
  auto it = ctx.request().find(http::bhttp::field::authorization);
  if (it == ctx.request().end()) return std::nullopt;
  std::string_view value = it->value();
  if (!value.starts_with("Basic ")) return std::nullopt;
  std::string b64(value.substr(6));
  std::replace(b64.begin(), b64.end(), '+', '-');
  std::replace(b64.begin(), b64.end(), '/', '_');
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  auto decoded = Base64UrlDecode(b64);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto unescape = [](std::string s) {
    auto pct = boost::urls::make_pct_string_view(s);
    return pct ? pct->decode() : s;
  };
  return std::pair{unescape(decoded->substr(0, colon)), unescape(decoded->substr(colon + 1))};
}

// The authorisation page: the request's parameters travel in hidden fields to the POST.
std::string AuthorizeForm(const std::map<std::string, std::string>& params, std::string_view error,
                          std::string_view org = "", std::string_view email = "") {
  std::string client = Get(params, "client_id");
  std::string html = "<p>Sign in to let <b>" + EscapeMarkup(client) + "</b> act for you";
  std::string scope = Get(params, "scope");
  html += scope.empty() || scope == "*"
              ? std::string(" with all your permissions.</p>")
              : " with the permissions <code>" + EscapeMarkup(scope) + "</code>.</p>";
  if (!error.empty()) html += "<p class=\"error\">" + EscapeMarkup(error) + "</p>";
  html += "<form method=\"post\" action=\"/oauth/authorize\">";
  for (const char* name : {"response_type", "client_id", "redirect_uri", "code_challenge",
                           "code_challenge_method", "scope", "state"}) {
    html += Hidden(name, Get(params, name));
  }
  html += CredentialFields(org, email) + "<button type=\"submit\">Sign in</button></form>";
  return html;
}

std::string DeviceForm(std::string_view user_code, std::string_view error,
                       std::string_view org = "", std::string_view email = "") {
  std::string html =
      "<p>Check that this code matches the one your terminal shows, then sign in to approve "
      "it.</p>";
  if (!error.empty()) html += "<p class=\"error\">" + EscapeMarkup(error) + "</p>";
  html +=
      "<form method=\"post\" action=\"/oauth/device\"><label for=\"user_code\">Code</label>"
      "<input id=\"user_code\" name=\"user_code\" class=\"code\" required value=\"" +
      EscapeMarkup(user_code) + "\">" + CredentialFields(org, email) +
      "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button> "
      "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>";
  return html;
}

std::string InvitationForm(std::string_view token, std::string_view error) {
  std::string html =
      "<p>Choose a password of at least 12 characters to activate your account."
      " A passphrase of several words is best.</p>";
  if (!error.empty()) html += "<p class=\"error\">" + EscapeMarkup(error) + "</p>";
  html += "<form method=\"post\" action=\"/login\">" + Hidden("invitation", token) +
          "<label for=\"password\">New password</label><input id=\"password\" name=\"password\" "
          "type=\"password\" required minlength=\"12\" autocomplete=\"new-password\">"
          "<button type=\"submit\">Activate</button></form>";
  return html;
}

std::string ErrorText(const Error& e) {
  std::string text = e.message();
  for (const auto& v : e.violations()) text += "; " + v.pointer + " " + v.detail;
  if (!e.hint().empty()) text += ". " + e.hint();
  return text;
}

}  // namespace

void AddOAuthRoutes(gateway::Router& router, TokenService& tokens,
                    identity::DirectoryService& directory) {
  // ---- Discovery ----
  router.Add(Route{.method = verb::get,
                   .path = "/.well-known/openid-configuration",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     return gateway::MakeJsonResponse(
                         ctx, 200, boost::json::serialize(tokens.Discovery()), {});
                   },
                   .operation_id = "getOpenIdConfiguration",
                   .summary = "Authorisation server metadata (RFC 8414 / OpenID discovery)",
                   .tag = "OAuth"});
  router.Add(Route{.method = verb::get,
                   .path = "/.well-known/oauth-authorization-server",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     return gateway::MakeJsonResponse(
                         ctx, 200, boost::json::serialize(tokens.Discovery()), {});
                   },
                   .operation_id = "getOAuthServerMetadata",
                   .summary = "Authorisation server metadata (RFC 8414)",
                   .tag = "OAuth"});
  router.Add(Route{.method = verb::get,
                   .path = "/.well-known/jwks.json",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto jwks, tokens.Jwks());
                     http::Response r =
                         gateway::MakeJsonResponse(ctx, 200, boost::json::serialize(jwks), {});
                     r.set(http::bhttp::field::content_type, "application/jwk-set+json");
                     r.set(http::bhttp::field::cache_control, "max-age=300");
                     return r;
                   },
                   .operation_id = "getJwks",
                   .summary = "The public keys that verify access tokens (JWKS)",
                   .tag = "OAuth",
                   .response_content_type = "application/jwk-set+json"});

  // ---- Token endpoints ----
  router.Add(Route{
      .method = verb::post,
      .path = "/oauth/token",
      .access = Access::kPublic,
      .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
        auto form = ctx.FormBody();
        if (!form) {
          return OAuthErrorResponse(ctx, {"invalid_request", form.error().message()});
        }
        std::string grant = Get(*form, "grant_type");
        std::string client_id = Get(*form, "client_id");
        std::string client_secret = Get(*form, "client_secret");
        if (auto basic = BasicCredentials(ctx)) {
          client_id = basic->first;
          client_secret = basic->second;
        }
        identity::OAuthResult<identity::TokenResponse> result;
        if (grant == "authorization_code") {
          result = tokens.ExchangeCode(Get(*form, "code"), client_id, Get(*form, "redirect_uri"),
                                       Get(*form, "code_verifier"));
        } else if (grant == "refresh_token") {
          result = tokens.Refresh(Get(*form, "refresh_token"), client_id);
        } else if (grant == "client_credentials") {
          result = tokens.ClientCredentials(client_id, client_secret, Get(*form, "scope"),
                                            ctx.client_address());
        } else if (grant == "urn:ietf:params:oauth:grant-type:device_code") {
          result = tokens.PollDevice(Get(*form, "device_code"), client_id);
        } else {
          result = std::unexpected(identity::OAuthError{
              "unsupported_grant_type",
              "grant_type must be authorization_code, refresh_token, client_credentials or "
              "urn:ietf:params:oauth:grant-type:device_code"});
        }
        if (!result) return OAuthErrorResponse(ctx, result.error());
        return TokenJson(ctx, *result);
      },
      .operation_id = "oauthToken",
      .summary = "Exchange a grant for an access token (RFC 6749 §3.2)",
      .tag = "OAuth",
      .request_body = Schema<api::TokenRequest>(),
      .content_types = {"application/x-www-form-urlencoded"},
      .response_body = Schema<api::TokenResponseBody>(),
      .idempotent_post = false});
  router.Add(
      Route{.method = verb::post,
            .path = "/oauth/device_authorization",
            .access = Access::kPublic,
            .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
              auto form = ctx.FormBody();
              if (!form)
                return OAuthErrorResponse(ctx, {"invalid_request", form.error().message()});
              auto started =
                  tokens.StartDeviceAuthorization(Get(*form, "client_id"), Get(*form, "scope"));
              if (!started) return OAuthErrorResponse(ctx, started.error());
              return OAuthJson(
                  ctx, 200,
                  json::Serialize(api::DeviceAuthorizationResponse{
                      started->device_code, started->user_code, started->verification_uri,
                      started->verification_uri_complete, started->expires_in, started->interval}));
            },
            .operation_id = "oauthDeviceAuthorization",
            .summary = "Start a device sign-in (RFC 8628): hangar login on a headless machine",
            .tag = "OAuth",
            .request_body = Schema<api::DeviceAuthorizationRequest>(),
            .content_types = {"application/x-www-form-urlencoded"},
            .response_body = Schema<api::DeviceAuthorizationResponse>(),
            .idempotent_post = false});
  router.Add(Route{.method = verb::post,
                   .path = "/oauth/revoke",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     auto form = ctx.FormBody();
                     if (!form)
                       return OAuthErrorResponse(ctx, {"invalid_request", form.error().message()});
                     HANGAR_TRY(tokens.Revoke(Get(*form, "token")));
                     return OAuthJson(ctx, 200, "{}");
                   },
                   .operation_id = "oauthRevoke",
                   .summary =
                       "Revoke an access or refresh token (RFC 7009; a refresh token revokes its "
                       "family)",
                   .tag = "OAuth",
                   .request_body = Schema<api::TokenRevocationRequest>(),
                   .content_types = {"application/x-www-form-urlencoded"},
                   .idempotent_post = false});
  router.Add(Route{.method = verb::post,
                   .path = "/oauth/introspect",
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     auto form = ctx.FormBody();
                     if (!form) return std::unexpected(form.error());
                     HANGAR_ASSIGN_OR_RETURN(
                         auto info, tokens.Introspect(Get(*form, "token"), ctx.principal()));
                     api::IntrospectionResponse body{.active = info.active};
                     if (info.active) {
                       body.scope = info.scope;
                       body.client_id = info.client_id;
                       body.sub = info.sub;
                       if (!info.jti.empty()) body.jti = info.jti;
                       body.tenant = info.tenant;
                       body.token_type = info.token_type;
                       body.iss = info.iss;
                       if (!info.aud.empty()) body.aud = info.aud;
                       body.exp = info.exp;
                       body.iat = info.iat;
                     }
                     return OAuthJson(ctx, 200, json::Serialize(body));
                   },
                   .authorize = Authorize::kSelf,
                   .operation_id = "oauthIntrospect",
                   .summary = "Introspect a token of your organisation (RFC 7662)",
                   .tag = "OAuth",
                   .request_body = Schema<api::IntrospectionRequest>(),
                   .content_types = {"application/x-www-form-urlencoded"},
                   .response_body = Schema<api::IntrospectionResponse>(),
                   .idempotent_post = false});

  // ---- Pages ----
  router.Add(Route{.method = verb::get,
                   .path = "/oauth/authorize",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     auto params = QueryMap(ctx);
                     if (Status s = tokens.ValidateAuthorizeRequest(
                             Get(params, "response_type"), Get(params, "client_id"),
                             Get(params, "redirect_uri"), Get(params, "code_challenge"),
                             Get(params, "code_challenge_method"), Get(params, "scope"));
                         !s) {
                       // Never redirect to an unchecked redirect_uri (RFC 6749 §4.1.2.1): show the
                       // error.
                       return Html(
                           ctx, 400, "Cannot sign in",
                           "<p class=\"error\">" + EscapeMarkup(ErrorText(s.error())) + "</p>");
                     }
                     return Html(ctx, 200, "Sign in", AuthorizeForm(params, ""));
                   },
                   .operation_id = "oauthAuthorizePage",
                   .summary = "The sign-in page of the authorisation code grant",
                   .tag = "OAuth",
                   .response_content_type = "text/html",
                   .hidden = true,
                   .any_query = true});
  router.Add(Route{.method = verb::post,
                   .path = "/oauth/authorize",
                   .access = Access::kPublic,
                   .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
                     HANGAR_ASSIGN_OR_RETURN(auto form, ctx.FormBody());
                     if (Status s = tokens.ValidateAuthorizeRequest(
                             Get(form, "response_type"), Get(form, "client_id"),
                             Get(form, "redirect_uri"), Get(form, "code_challenge"),
                             Get(form, "code_challenge_method"), Get(form, "scope"));
                         !s) {
                       return Html(
                           ctx, 400, "Cannot sign in",
                           "<p class=\"error\">" + EscapeMarkup(ErrorText(s.error())) + "</p>");
                     }
                     auto user = tokens.SignIn(Get(form, "organization"), Get(form, "email"),
                                               Get(form, "password"), OriginOf(ctx));
                     if (!user) {
                       return Html(ctx, 401, "Sign in",
                                   AuthorizeForm(form, ErrorText(user.error()),
                                                 Get(form, "organization"), Get(form, "email")));
                     }
                     HANGAR_ASSIGN_OR_RETURN(
                         auto code, tokens.IssueAuthorizationCode(
                                        *user, Get(form, "client_id"), Get(form, "redirect_uri"),
                                        Get(form, "code_challenge"), Get(form, "scope")));
                     boost::urls::url target(Get(form, "redirect_uri"));
                     target.params().set("code", code);
                     if (!Get(form, "state").empty())
                       target.params().set("state", Get(form, "state"));
                     http::Response r{http::bhttp::status::see_other, ctx.request().version()};
                     r.set(http::bhttp::field::location, target.buffer());
                     r.set(http::bhttp::field::cache_control, "no-store");
                     r.prepare_payload();
                     return r;
                   },
                   .operation_id = "oauthAuthorizeSubmit",
                   .summary = "Sign in and return to the client with an authorisation code",
                   .tag = "OAuth",
                   .request_body = Schema<api::DeviceAuthorizationRequest>(),
                   .content_types = {"application/x-www-form-urlencoded"},
                   .success_status = 303,
                   .idempotent_post = false,
                   .hidden = true});
  router.Add(Route{.method = verb::get,
                   .path = "/oauth/device",
                   .access = Access::kPublic,
                   .handler = [](RequestContext& ctx) -> Result<http::Response> {
                     auto params = QueryMap(ctx);
                     return Html(ctx, 200, "Approve a device",
                                 DeviceForm(Get(params, "user_code"), ""));
                   },
                   .operation_id = "oauthDevicePage",
                   .summary = "The page where a user approves hangar login",
                   .tag = "OAuth",
                   .response_content_type = "text/html",
                   .hidden = true,
                   .any_query = true});
  router.Add(Route{
      .method = verb::post,
      .path = "/oauth/device",
      .access = Access::kPublic,
      .handler = [&tokens](RequestContext& ctx) -> Result<http::Response> {
        HANGAR_ASSIGN_OR_RETURN(auto form, ctx.FormBody());
        auto user = tokens.SignIn(Get(form, "organization"), Get(form, "email"),
                                  Get(form, "password"), OriginOf(ctx));
        if (!user) {
          return Html(ctx, 401, "Approve a device",
                      DeviceForm(Get(form, "user_code"), ErrorText(user.error()),
                                 Get(form, "organization"), Get(form, "email")));
        }
        bool approve = Get(form, "decision") != "deny";
        if (Status s = tokens.DecideDevice(Get(form, "user_code"), *user, approve); !s) {
          return Html(ctx, 400, "Approve a device",
                      DeviceForm(Get(form, "user_code"), ErrorText(s.error()),
                                 Get(form, "organization"), Get(form, "email")));
        }
        return Html(ctx, 200, approve ? "Device approved" : "Device denied",
                    approve ? "<p>You are signed in on the device. You can close this window.</p>"
                            : "<p>The device was not signed in.</p>");
      },
      .operation_id = "oauthDeviceSubmit",
      .summary = "Approve or deny a device sign-in",
      .tag = "OAuth",
      .request_body = Schema<api::DeviceAuthorizationRequest>(),
      .content_types = {"application/x-www-form-urlencoded"},
      .idempotent_post = false,
      .hidden = true});
  router.Add(Route{.method = verb::get,
                   .path = "/login",
                   .access = Access::kPublic,
                   .handler = [](RequestContext& ctx) -> Result<http::Response> {
                     auto params = QueryMap(ctx);
                     std::string invitation = Get(params, "invitation");
                     if (invitation.empty()) {
                       return Html(ctx, 200, "Hangar",
                                   "<p>Sign in from the portal, or run <code>hangar login</code> "
                                   "in a terminal.</p>");
                     }
                     return Html(ctx, 200, "Activate your account", InvitationForm(invitation, ""));
                   },
                   .operation_id = "loginPage",
                   .summary = "The invitation page: choose a password",
                   .tag = "OAuth",
                   .response_content_type = "text/html",
                   .hidden = true,
                   .any_query = true});
  router.Add(
      Route{.method = verb::post,
            .path = "/login",
            .access = Access::kPublic,
            .handler = [&directory](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto form, ctx.FormBody());
              auto user = directory.AcceptInvitation(
                  {.token = Get(form, "invitation"), .password = Get(form, "password")});
              if (!user) {
                return Html(ctx, 422, "Activate your account",
                            InvitationForm(Get(form, "invitation"), ErrorText(user.error())));
              }
              return Html(ctx, 200, "Account active",
                          "<p>Welcome, " + EscapeMarkup(user->email) +
                              ". Run <code>hangar login</code> or sign in from the portal.</p>");
            },
            .operation_id = "loginSubmit",
            .summary = "Accept an invitation from the page",
            .tag = "OAuth",
            .request_body = Schema<api::AcceptInvitationRequest>(),
            .content_types = {"application/x-www-form-urlencoded"},
            .idempotent_post = false,
            .hidden = true});
}

}  // namespace hangar::routes
