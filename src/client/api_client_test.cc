#include "client/api_client.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <thread>

#include "client/test_server.h"

namespace hangar::client {
namespace {

using testing::TestServer;

std::unique_ptr<ApiClient> NewClient(const std::string& url, std::string token = "tok") {
  auto client = ApiClient::Create(
      {.base_url = url, .token = std::move(token), .timeout = std::chrono::milliseconds(5000)});
  EXPECT_TRUE(client.has_value()) << client.error().ToString();
  return std::move(*client);
}

TEST(ApiClientTest, JsonRoundTripWithBearerToken) {
  std::string seen_auth, seen_body, seen_target, seen_content_type;
  TestServer server([&](const TestServer::Request& req) {
    seen_auth = std::string(req[boost::beast::http::field::authorization]);
    seen_body = req.body();
    seen_target = std::string(req.target());
    seen_content_type = std::string(req[boost::beast::http::field::content_type]);
    return TestServer::Json(201, R"({"id":"jtok_1","description":"d","expires_at":"x","uses":0,
      "token":"secret","created_at":"c","updated_at":"u","etag":"e","links":{},
      "field_from_the_future":1})");
  });
  auto client = NewClient(server.url() + "/");
  auto res = client->Post<api::JoinToken>(
      "/api/v1/nodes/join-tokens",
      api::CreateJoinTokenRequest{.description = "d", .ttl_seconds = 60});
  ASSERT_TRUE(res.has_value()) << res.error().error.ToString();
  EXPECT_EQ(res->id, "jtok_1");
  EXPECT_EQ(res->token, "secret");
  EXPECT_EQ(seen_auth, "Bearer tok");
  EXPECT_EQ(seen_target, "/api/v1/nodes/join-tokens");
  EXPECT_EQ(seen_content_type, "application/json");
  EXPECT_EQ(seen_body, R"({"description":"d","ttl_seconds":60})");
}

TEST(ApiClientTest, MergePatchLeavesOutUnsetMembers) {
  std::string seen_body, seen_content_type;
  TestServer server([&](const TestServer::Request& req) {
    seen_body = req.body();
    seen_content_type = std::string(req[boost::beast::http::field::content_type]);
    return TestServer::Json(200, json::Serialize(api::Node{.id = "node_1"}));
  });
  auto client = NewClient(server.url());
  api::UpdateNodeRequest patch;
  patch.labels =
      std::map<std::string, std::optional<std::string>>{{"old", std::nullopt}, {"zone", "a"}};
  auto res = client->Patch<api::Node>("/api/v1/nodes/node_1", patch);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(seen_content_type, "application/merge-patch+json");
  EXPECT_EQ(seen_body, R"({"labels":{"old":null,"zone":"a"}})");
}

TEST(ApiClientTest, ProblemIsParsed) {
  TestServer server([](const TestServer::Request&) {
    return TestServer::Json(422, R"({"type":"https://hangar.dev/problems/invalid_argument",
      "title":"Invalid argument","status":422,"detail":"bad name","instance":"/api/v1/gpu-types",
      "request_id":"req_1","hint":"fix it","errors":[{"pointer":"/name","detail":"too long"}]})",
                            "application/problem+json");
  });
  auto client = NewClient(server.url());
  auto res = client->Get<api::GpuTypeList>("/api/v1/gpu-types");
  ASSERT_FALSE(res.has_value());
  const ApiError& err = res.error();
  EXPECT_EQ(err.http_status, 422);
  EXPECT_EQ(err.error.code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(err.problem.has_value());
  EXPECT_EQ(err.problem->title, "Invalid argument");
  EXPECT_EQ(err.problem->request_id, "req_1");
  EXPECT_EQ(err.problem->hint, "fix it");
  ASSERT_EQ(err.error.violations().size(), 1u);
  EXPECT_EQ(err.error.violations()[0].pointer, "/name");
  EXPECT_EQ(err.error.hint(), "fix it");
}

TEST(ApiClientTest, NonProblemErrorBodyStillGivesStatus) {
  TestServer server([](const TestServer::Request&) {
    return TestServer::Json(502, "bad gateway", "text/plain");
  });
  auto client = NewClient(server.url());
  auto res = client->Delete("/api/v1/nodes/join-tokens/jtok_1");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().http_status, 502);
  EXPECT_EQ(res.error().error.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(res.error().problem.has_value());
}

TEST(ApiClientTest, KeepAliveReusesOneConnection) {
  TestServer server([](const TestServer::Request&) {
    return TestServer::Json(200, R"({"items":[],"next_page_token":null})");
  });
  auto client = NewClient(server.url());
  for (int i = 0; i < 5; ++i) {
    auto res = client->Get<api::NodeList>("/api/v1/nodes");
    ASSERT_TRUE(res.has_value()) << res.error().error.ToString();
  }
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(ApiClientTest, ReconnectsWhenServerClosesConnection) {
  TestServer server([](const TestServer::Request&) {
    auto res = TestServer::Json(200, R"({"items":[]})");
    res.keep_alive(false);
    return res;
  });
  auto client = NewClient(server.url());
  for (int i = 0; i < 3; ++i) {
    auto res = client->Get<api::NodeList>("/api/v1/nodes");
    ASSERT_TRUE(res.has_value()) << res.error().error.ToString();
  }
  EXPECT_EQ(client->connections_opened(), 3);
}

TEST(ApiClientTest, AbortEndsTheCallInFlightAndEveryLaterOne) {
  // The server holds the request until the test lets it go, like a long poll.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> arrived = false;
  TestServer server([&](const TestServer::Request&) {
    arrived = true;
    released.wait_for(std::chrono::seconds(60));
    return TestServer::Json(200, R"({"items":[]})");
  });
  auto client = ApiClient::Create({.base_url = server.url(), .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(client.has_value());
  std::thread aborter([&] {
    while (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (*client)->Abort();
  });
  auto held = (*client)->Get<api::NodeList>("/api/v1/nodes");
  aborter.join();
  ASSERT_FALSE(held.has_value());
  EXPECT_EQ(held.error().error.code(), ErrorCode::kUnavailable);
  EXPECT_NE(held.error().error.message().find("aborted"), std::string::npos)
      << held.error().error.message();  // not "timed out": the call did not wait for the server
  auto later = (*client)->Get<api::NodeList>("/api/v1/nodes");
  ASSERT_FALSE(later.has_value());
  EXPECT_NE(later.error().error.message().find("aborted"), std::string::npos);
  release.set_value();
}

TEST(ApiClientTest, ConnectionRefusedIsUnavailable) {
  // Bind then close a port so nothing listens on it.
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto client = NewClient(url);
  auto res = client->Get<api::NodeList>("/api/v1/nodes");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().http_status, 0);
  EXPECT_EQ(res.error().error.code(), ErrorCode::kUnavailable);
  EXPECT_NE(res.error().error.message().find("cannot reach hangard at " + url), std::string::npos)
      << res.error().error.message();
}

TEST(ApiClientTest, RejectsBadAndTlsUrls) {
  auto tls = ApiClient::Create({.base_url = "https://example.com"});
  ASSERT_FALSE(tls.has_value());
  EXPECT_EQ(tls.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(tls.error().message().find("TLS not supported yet"), std::string::npos);
  EXPECT_FALSE(ApiClient::Create({.base_url = "localhost:8080"}).has_value());
  EXPECT_FALSE(ApiClient::Create({.base_url = "ftp://x"}).has_value());
}

TEST(ApiClientTest, UrlEncodeEscapesReservedCharacters) {
  EXPECT_EQ(UrlEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(UrlEncode("H100-80GB_x.y~"), "H100-80GB_x.y~");
}

}  // namespace
}  // namespace hangar::client
