#include "gateway/problem.h"

#include <gtest/gtest.h>

#include "common/json_codec.h"

namespace hangar::gateway {
namespace {

TEST(ProblemTest, EveryCodeHasTheDocumentedStatus) {
  EXPECT_EQ(HttpStatusOf(ErrorCode::kMalformed), 400u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kInvalidArgument), 422u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kUnauthenticated), 401u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kNotFound), 404u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kPreconditionFailed), 412u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kHeadersTooLarge), 431u);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kUnavailable), 503u);
}

TEST(ProblemTest, BodyCarriesFieldsHintAndRequestId) {
  Error e = Error::Invalid("bad gpu").Field("/gpu/count", "must be <= 64").Hint("use fewer");
  http::Response r = ProblemResponse(e, {.instance = "/api/v1/x", .request_id = "req_1"});
  EXPECT_EQ(r.result_int(), 422u);
  EXPECT_EQ(r[http::bhttp::field::content_type], "application/problem+json");
  auto body = json::Parse(r.body());
  ASSERT_TRUE(body.has_value());
  const auto& o = body->as_object();
  EXPECT_EQ(o.at("type").as_string(), "https://hangar.dev/problems/invalid-argument");
  EXPECT_EQ(o.at("status").as_int64(), 422);
  EXPECT_EQ(o.at("request_id").as_string(), "req_1");
  EXPECT_EQ(o.at("hint").as_string(), "use fewer");
  EXPECT_EQ(o.at("errors").as_array()[0].as_object().at("pointer").as_string(), "/gpu/count");
}

TEST(ProblemTest, InternalErrorsDoNotLeakOutsideDevMode) {
  Error e = Error::Internal("SELECT secret FROM x failed");
  auto prod = ProblemResponse(e, {.instance = "/", .request_id = "r"});
  EXPECT_EQ(prod.body().find("secret"), std::string::npos);
  auto dev = ProblemResponse(e, {.instance = "/", .request_id = "r", .dev_mode = true});
  EXPECT_NE(dev.body().find("secret"), std::string::npos);
}

TEST(ProblemTest, UnauthenticatedAsksForBearer) {
  auto r = ProblemResponse(Error::Unauthenticated("no key"), {.instance = "/", .request_id = "r"});
  EXPECT_EQ(r[http::bhttp::field::www_authenticate], R"(Bearer realm="hangar")");
}

}  // namespace
}  // namespace hangar::gateway
