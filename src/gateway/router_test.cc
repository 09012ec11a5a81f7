#include "gateway/router.h"

#include <gtest/gtest.h>

namespace hangar::gateway {
namespace {

Handler Named(std::string name) {
  return [name](RequestContext&) -> Result<http::Response> {
    http::Response r;
    r.body() = name;
    return r;
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Route{.method = verb::get,
                      .path = "/api/v1/nodes/{id}",
                      .handler = Named("get"),
                      .permission = "nodes:read"});
    router_.Add(Route{.method = verb::patch,
                      .path = "/api/v1/nodes/{id}",
                      .handler = Named("patch"),
                      .permission = "nodes:read"});
    router_.Add(Route{.method = verb::get,
                      .path = "/api/v1/nodes/join-tokens",
                      .handler = Named("tokens"),
                      .permission = "nodes:read"});
    router_.Add(Route{.method = verb::post,
                      .path = "/api/v1/nodes/{id}/heartbeat",
                      .handler = Named("beat"),
                      .permission = "nodes:read"});
  }
  Router router_;
};

TEST_F(RouterTest, MatchesParametersAndPrefersLiteralSegments) {
  auto m = router_.Match(verb::get, "/api/v1/nodes/node_1");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->path, "/api/v1/nodes/{id}");
  EXPECT_EQ(m->params.at("id"), "node_1");
  auto literal = router_.Match(verb::get, "/api/v1/nodes/join-tokens");
  ASSERT_TRUE(literal.has_value());
  EXPECT_EQ(literal->route->path, "/api/v1/nodes/join-tokens");
  EXPECT_TRUE(router_.Match(verb::post, "/api/v1/nodes/x/heartbeat").has_value());
}

TEST_F(RouterTest, HeadMatchesGet) {
  EXPECT_TRUE(router_.Match(verb::head, "/api/v1/nodes/x").has_value());
}

TEST_F(RouterTest, UnknownPathIsNotFoundAndWrongMethodListsAllowed) {
  auto missing = router_.Match(verb::get, "/api/v1/nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::vector<std::string> allowed;
  auto wrong = router_.Match(verb::delete_, "/api/v1/nodes/x", &allowed);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(allowed, (std::vector<std::string>{"GET", "PATCH"}));
}

TEST(RequestContextTest, IfMatchParsesQuotedVersionsAndRejectsOthers) {
  http::Request request{verb::patch, "/x", 11};
  RequestContext ctx(request, "req", "/x", {});
  EXPECT_EQ(*ctx.IfMatchVersion(), std::nullopt);
  request.set(http::bhttp::field::if_match, "\"7\"");
  EXPECT_EQ(*ctx.IfMatchVersion(), 7);
  request.set(http::bhttp::field::if_match, "*");
  EXPECT_EQ(*ctx.IfMatchVersion(), std::nullopt);
  request.set(http::bhttp::field::if_match, "W/\"x\"");
  ASSERT_FALSE(ctx.IfMatchVersion().has_value());
  EXPECT_EQ(ctx.IfMatchVersion().error().code(), ErrorCode::kPreconditionFailed);
}

TEST(RequestContextTest, NextPageLinkKeepsFiltersAndReplacesToken) {
  http::Request request{verb::get, "/api/v1/gpus", 11};
  RequestContext ctx(request, "req", "/api/v1/gpus",
                     {{"state", "ready"}, {"page_token", "old"}, {"sort", "-index"}});
  EXPECT_EQ(NextPageLink(ctx, "n3xt"), "/api/v1/gpus?state=ready&sort=-index&page_token=n3xt");
}

TEST(RouterDeathTest, AnAuthenticatedRouteWithoutAPermissionIsRefused) {
  // Default deny is enforced when the table is built, not discovered in production.
  Router router;
  EXPECT_DEATH(router.Add(Route{.method = verb::get, .path = "/api/v1/open"}), "no permission");
  router.Add(Route{.method = verb::get, .path = "/api/v1/me", .authorize = Authorize::kSelf});
  router.Add(Route{.method = verb::get, .path = "/healthz", .access = Access::kPublic});
}

}  // namespace
}  // namespace hangar::gateway
