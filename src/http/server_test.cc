// Tests of the HTTP server core over real loopback sockets (port 0), and of gzip.h.
//
// The server runs with one io thread (the thread that calls Run), so "the handler ran off the
// io threads" is a comparison of thread ids. Clients are plain Beast over a private
// io_context, each wait bounded by a deadline; nothing sleeps to wait for a condition.
#include "http/server.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/gzip.h"
#include "http/sse.h"

namespace hangar::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kDeadline{5000};  // generous: only a broken server takes this long

std::string Gunzip(std::string_view input) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  }
  inflateEnd(&stream);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}

std::string JsonBody(size_t size) {
  std::string body = "[";
  while (body.size() + 40 < size) body += R"({"id":"gpu_0123","state":"available"},)";
  body += "0]";
  return body;
}

// The test's side of a streamed response: what the stream's source sends next, and what the
// server did with the source.
struct StreamControl {
  std::mutex mu;
  std::condition_variable cv;
  std::string pending;                // sent by the next Next; guarded by mu
  bool finished = false;              // Next ends the body once pending is sent; guarded by mu
  bool flood = false;                 // Next always returns 64 KiB (a client that never reads)
  bool destroyed = false;             // the server released the source; guarded by mu
  int nexts = 0;                      // Next calls; guarded by mu
  std::function<void()> wake;         // from Start; guarded by mu
  std::set<std::thread::id> threads;  // where Start and Next ran; guarded by mu

  void Push(std::string data, bool finish = false) {
    std::function<void()> wake_fn;
    {
      std::lock_guard lock(mu);
      pending += data;
      finished |= finish;
      wake_fn = wake;
    }
    if (wake_fn) wake_fn();
  }
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kDeadline, [&] { return pred(); });
  }
};

class TestStream : public StreamSource {
 public:
  explicit TestStream(std::shared_ptr<StreamControl> control) : control_(std::move(control)) {}
  ~TestStream() override {
    std::lock_guard lock(control_->mu);
    control_->destroyed = true;
    control_->cv.notify_all();
  }
  void Start(std::function<void()> wake) override {
    std::lock_guard lock(control_->mu);
    control_->wake = std::move(wake);
    control_->threads.insert(std::this_thread::get_id());
    control_->cv.notify_all();
  }
  Piece Next() override {
    std::lock_guard lock(control_->mu);
    ++control_->nexts;
    control_->threads.insert(std::this_thread::get_id());
    control_->cv.notify_all();
    if (control_->flood) return Piece{.data = std::string(64 * 1024, 'x')};
    Piece piece{.data = std::move(control_->pending), .wait = milliseconds(60'000)};
    control_->pending.clear();
    piece.end = control_->finished;
    return piece;
  }

 private:
  std::shared_ptr<StreamControl> control_;
};

// A handler whose behaviour is chosen by the request target.
//   /block       waits until Release(); /throw throws; /json/N an N-byte JSON body;
//   /encoded     a large body already encoded "br"; /image a large image/png body;
//   /stream      a text/event-stream body from a TestStream (see stream());
//   anything else echoes "METHOD TARGET BODY" as text/plain.
class TestHandler : public RequestHandler {
 public:
  struct TransportError {
    ErrorCode code;
    bool had_partial;
  };

  Reply Handle(Request& request, const PeerInfo& peer) override {
    {
      std::lock_guard lock(mu_);
      handler_threads_.insert(std::this_thread::get_id());
      last_peer_ = peer.remote_address;
    }
    const std::string_view target = request.target();
    Response response{bhttp::status::ok, 11};
    response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    response.set("X-Request-Id", "req_test");
    if (target == "/block") {
      std::unique_lock lock(mu_);
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      response.body() = "unblocked";
    } else if (target == "/throw") {
      throw std::runtime_error("handler bug");
    } else if (target.starts_with("/json/")) {
      response.set(bhttp::field::content_type, "application/json");
      response.body() = JsonBody(std::stoul(std::string(target.substr(6))));
    } else if (target == "/encoded") {
      response.set(bhttp::field::content_type, "application/json");
      response.set(bhttp::field::content_encoding, "br");
      response.body() = JsonBody(4096);
    } else if (target == "/stream") {
      response.set(bhttp::field::content_type, "text/event-stream");
      response.body() = "ignored: a stream's body comes from its source";
      std::lock_guard lock(mu_);
      return Reply(std::move(response), std::make_shared<TestStream>(stream_));
    } else if (target == "/image") {
      response.set(bhttp::field::content_type, "image/png");
      response.body() = JsonBody(4096);
    } else {
      response.body() = fmt::format("{} {} {}", request.method_string(), target, request.body());
    }
    return response;
  }

  Response HandleTransportError(const Error& error, const Request* partial) override {
    {
      std::lock_guard lock(mu_);
      transport_errors_.push_back({error.code(), partial != nullptr});
    }
    bhttp::status status = bhttp::status::bad_request;
    switch (error.code()) {
      case ErrorCode::kHeadersTooLarge:
        status = bhttp::status::request_header_fields_too_large;
        break;
      case ErrorCode::kPayloadTooLarge:
        status = bhttp::status::payload_too_large;
        break;
      case ErrorCode::kUriTooLong:
        status = bhttp::status::uri_too_long;
        break;
      default:
        break;
    }
    Response response{status, 11};
    response.set(bhttp::field::content_type, "text/plain");
    response.body() = error.ToString();
    return response;
  }

  // Waits until `count` requests are blocked in /block.
  bool WaitBlocked(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return blocked_ >= count; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::set<std::thread::id> handler_threads() {
    std::lock_guard lock(mu_);
    return handler_threads_;
  }
  std::vector<TransportError> transport_errors() {
    std::lock_guard lock(mu_);
    return transport_errors_;
  }
  std::string last_peer() {
    std::lock_guard lock(mu_);
    return last_peer_;
  }
  // The control of the next /stream request's source.
  std::shared_ptr<StreamControl> stream() {
    std::lock_guard lock(mu_);
    return stream_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int blocked_ = 0;                                                            // guarded by mu_
  bool released_ = false;                                                      // guarded by mu_
  std::set<std::thread::id> handler_threads_;                                  // guarded by mu_
  std::vector<TransportError> transport_errors_;                               // guarded by mu_
  std::string last_peer_;                                                      // guarded by mu_
  std::shared_ptr<StreamControl> stream_ = std::make_shared<StreamControl>();  // guarded by mu_
};

using ClientResponse = bhttp::response<bhttp::string_body>;

// A blocking-style client whose every wait has a deadline.
class TestClient {
 public:
  explicit TestClient(const std::string& address) : socket_(ioc_) {
    const size_t colon = address.rfind(':');
    tcp::endpoint endpoint(asio::ip::make_address(address.substr(0, colon)),
                           static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    socket_.connect(endpoint);
  }

  void Send(std::string_view raw) { asio::write(socket_, asio::buffer(raw)); }

  // Reads raw bytes until what was read since the last call contains `needle`; what was read
  // (empty at the deadline or when the connection ended first).
  std::string ReadUntil(std::string_view needle, milliseconds deadline = kDeadline) {
    const auto until = SteadyClock::now() + deadline;
    for (;;) {
      const auto data = buffer_.data();
      std::string_view seen(static_cast<const char*>(data.data()), data.size());
      if (seen.find(needle) != std::string_view::npos) {
        std::string out(seen);
        buffer_.consume(buffer_.size());
        return out;
      }
      const auto now = SteadyClock::now();
      if (now >= until) return "";
      beast::error_code result;
      bool done = false;
      socket_.async_read_some(buffer_.prepare(4096), [&](beast::error_code ec, size_t n) {
        result = ec;
        buffer_.commit(n);
        done = true;
      });
      if (!RunUntil(done, std::chrono::duration_cast<milliseconds>(until - now)) || result) {
        return "";
      }
    }
  }

  void Close() { socket_.close(); }

  // One response, or the error that ended the read (asio::error::timed_out at the deadline).
  std::expected<ClientResponse, beast::error_code> Read(bool head = false,
                                                        milliseconds deadline = kDeadline) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(head);
    beast::error_code result;
    bool done = false;
    bhttp::async_read(socket_, buffer_, parser, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    if (!RunUntil(done, deadline)) return std::unexpected(asio::error::timed_out);
    if (result) return std::unexpected(result);
    return parser.release();
  }

  std::expected<ClientResponse, beast::error_code> Get(std::string_view target,
                                                       std::string_view extra_headers = "") {
    Send(fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", target, extra_headers));
    return Read();
  }

  // Waits for the server to close: eof (or reset) with no further bytes. Returns the error that
  // ended the read, asio::error::timed_out at the deadline, or `kUnexpectedData`.
  beast::error_code WaitClosed(milliseconds deadline = kDeadline) {
    if (buffer_.size() > 0) return asio::error::message_size;
    char byte;
    beast::error_code result;
    size_t received = 0;
    bool done = false;
    socket_.async_read_some(asio::buffer(&byte, 1), [&](beast::error_code ec, size_t n) {
      result = ec;
      received = n;
      done = true;
    });
    if (!RunUntil(done, deadline)) return asio::error::timed_out;
    if (received > 0) return asio::error::message_size;  // data, not a close
    return result;
  }

 private:
  bool RunUntil(const bool& done, milliseconds deadline) {
    ioc_.restart();
    ioc_.run_until(SteadyClock::now() + deadline);
    if (done) return true;
    socket_.cancel();
    ioc_.restart();
    ioc_.run();
    return false;
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

bool IsClosed(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

class ServerTest : public ::testing::Test {
 protected:
  // Starts a server with one io thread on the `run_thread_`.
  void StartServer(ServerOptions options = {}) {
    options.io_threads = 1;
    if (options.worker_threads == 0) options.worker_threads = 2;
    server_ = std::make_unique<Server>(std::move(options), handler_);
    Result<std::string> address = server_->Start();
    ASSERT_TRUE(address.has_value()) << address.error().ToString();
    address_ = *address;
    run_thread_ = std::thread([this] {
      server_->Run();
      run_returned_.set_value();
    });
  }

  bool WaitRunReturned() {
    return run_returned_future_.wait_for(kDeadline) == std::future_status::ready;
  }

  void TearDown() override {
    handler_.Release();
    if (server_) server_->Stop();
    if (run_thread_.joinable()) run_thread_.join();
    server_.reset();
  }

  TestHandler handler_;
  std::unique_ptr<Server> server_;
  std::string address_;
  std::thread run_thread_;
  std::promise<void> run_returned_;
  std::future<void> run_returned_future_ = run_returned_.get_future();
};

TEST_F(ServerTest, EchoesGetAndPost) {
  StartServer();
  TestClient client(address_);
  auto get = client.Get("/hello");
  ASSERT_TRUE(get.has_value()) << get.error().message();
  EXPECT_EQ(get->result(), bhttp::status::ok);
  EXPECT_EQ(get->body(), "GET /hello ");
  EXPECT_EQ((*get)[bhttp::field::content_length], std::to_string(get->body().size()));
  EXPECT_TRUE(get->keep_alive());

  client.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello");
  auto post = client.Read();
  ASSERT_TRUE(post.has_value()) << post.error().message();
  EXPECT_EQ(post->body(), "POST /echo hello");
  EXPECT_EQ(handler_.last_peer().rfind("127.0.0.1:", 0), 0u) << handler_.last_peer();
}

TEST_F(ServerTest, ReadsChunkedBody) {
  StartServer();
  TestClient client(address_);
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "POST /echo abcde");
}

TEST_F(ServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
  StartServer();
  TestClient client(address_);
  for (int i = 0; i < 5; ++i) {
    auto response = client.Get(fmt::format("/r{}", i));
    ASSERT_TRUE(response.has_value()) << response.error().message();
    EXPECT_EQ(response->body(), fmt::format("GET /r{} ", i));
    EXPECT_TRUE(response->keep_alive());
  }
  // Pipelined: two requests in one write come back in order.
  client.Send("GET /a HTTP/1.1\r\nHost: test\r\n\r\nGET /b HTTP/1.1\r\nHost: test\r\n\r\n");
  auto first = client.Read();
  auto second = client.Read();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->body(), "GET /a ");
  EXPECT_EQ(second->body(), "GET /b ");
}

TEST_F(ServerTest, ClosesHttp10ConnectionAfterResponse) {
  StartServer();
  TestClient client(address_);
  client.Send("GET /old HTTP/1.0\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->version(), 10);
  EXPECT_EQ(response->body(), "GET /old ");
  EXPECT_EQ((*response)[bhttp::field::connection], "close");
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
}

TEST_F(ServerTest, KeepsHttp10ConnectionThatAsksForKeepAlive) {
  StartServer();
  TestClient client(address_);
  for (int i = 0; i < 2; ++i) {
    client.Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << response.error().message();
    EXPECT_EQ(response->version(), 10);
    EXPECT_TRUE(response->keep_alive());
  }
}

TEST_F(ServerTest, ClosesWhenRequestAsksForClose) {
  StartServer();
  TestClient client(address_);
  auto response = client.Get("/bye", "Connection: close\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ((*response)[bhttp::field::connection], "close");
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
}

TEST_F(ServerTest, RefusesHugeHeadersWith431) {
  StartServer({.header_limit = 1024});
  TestClient client(address_);
  auto response = client.Get("/x", fmt::format("X-Big: {}\r\n", std::string(2000, 'a')));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->result(), bhttp::status::request_header_fields_too_large);
  EXPECT_EQ((*response)[bhttp::field::connection], "close");
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
  auto errors = handler_.transport_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kHeadersTooLarge);
  EXPECT_FALSE(errors[0].had_partial);
}

TEST_F(ServerTest, RefusesDeclaredOversizeBodyWith413WithoutReadingIt) {
  // A long request timeout: a server that waited for the body would answer only after it.
  StartServer({.body_limit = 1024, .request_timeout = milliseconds(60'000)});
  TestClient client(address_);
  const auto start = SteadyClock::now();
  client.Send("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100000000\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_LT(SteadyClock::now() - start, kDeadline);
  EXPECT_EQ(response->result(), bhttp::status::payload_too_large);
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
  auto errors = handler_.transport_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kPayloadTooLarge);
  EXPECT_TRUE(errors[0].had_partial);
}

TEST_F(ServerTest, RefusesOversizeChunkedBodyWith413) {
  StartServer({.body_limit = 16});
  TestClient client(address_);
  client.Send(
      "POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "20\r\n01234567890123456789012345678901\r\n0\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->result(), bhttp::status::payload_too_large);
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
}

TEST_F(ServerTest, RefusesLongTargetWith414) {
  StartServer({.header_limit = 4096, .target_limit = 100});
  {
    TestClient client(address_);
    auto response = client.Get("/" + std::string(200, 't'));
    ASSERT_TRUE(response.has_value()) << response.error().message();
    EXPECT_EQ(response->result(), bhttp::status::uri_too_long);
    EXPECT_TRUE(IsClosed(client.WaitClosed()));
  }
  {
    // Longer than the whole header limit: still 414, since the request line is at fault.
    TestClient client(address_);
    auto response = client.Get("/" + std::string(5000, 't'));
    ASSERT_TRUE(response.has_value()) << response.error().message();
    EXPECT_EQ(response->result(), bhttp::status::uri_too_long);
    EXPECT_TRUE(IsClosed(client.WaitClosed()));
  }
  auto errors = handler_.transport_errors();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code, ErrorCode::kUriTooLong);
  EXPECT_TRUE(errors[0].had_partial);
  EXPECT_EQ(errors[1].code, ErrorCode::kUriTooLong);
  EXPECT_FALSE(errors[1].had_partial);
}

TEST_F(ServerTest, RefusesGarbageWith400) {
  StartServer();
  TestClient client(address_);
  client.Send("\x01\x02 this is not http\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->result(), bhttp::status::bad_request);
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
  auto errors = handler_.transport_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kMalformed);
}

TEST_F(ServerTest, ClosesConnectionThatSendsHalfARequest) {
  StartServer({.request_timeout = milliseconds(200)});
  TestClient client(address_);
  const auto start = SteadyClock::now();
  client.Send("GET /slow HTTP/1.1\r\nHost: te");
  const beast::error_code ec = client.WaitClosed();
  EXPECT_TRUE(IsClosed(ec)) << ec.message();  // closed without a response
  EXPECT_GE(SteadyClock::now() - start, milliseconds(150));
  EXPECT_TRUE(handler_.transport_errors().empty());
}

TEST_F(ServerTest, ClosesIdleKeepAliveConnection) {
  StartServer({.idle_timeout = milliseconds(200)});
  TestClient client(address_);
  ASSERT_TRUE(client.Get("/once").has_value());
  const auto start = SteadyClock::now();
  const beast::error_code ec = client.WaitClosed();
  EXPECT_TRUE(IsClosed(ec)) << ec.message();
  EXPECT_GE(SteadyClock::now() - start, milliseconds(150));
}

TEST_F(ServerTest, GzipsLargeJsonWhenAccepted) {
  StartServer();
  TestClient client(address_);
  auto response = client.Get("/json/8192", "Accept-Encoding: br, gzip\r\n");
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ((*response)[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ((*response)[bhttp::field::vary], "Accept-Encoding");
  EXPECT_EQ((*response)[bhttp::field::content_length], std::to_string(response->body().size()));
  EXPECT_LT(response->body().size(), 8192u);
  EXPECT_EQ(Gunzip(response->body()), JsonBody(8192));
}

TEST_F(ServerTest, DoesNotGzipWhenRefusedSmallOrAlreadyEncoded) {
  StartServer();
  TestClient client(address_);
  auto refused = client.Get("/json/8192", "Accept-Encoding: gzip;q=0, identity\r\n");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->count(bhttp::field::content_encoding), 0u);
  EXPECT_EQ(refused->body(), JsonBody(8192));

  auto not_asked = client.Get("/json/8192");
  ASSERT_TRUE(not_asked.has_value());
  EXPECT_EQ(not_asked->count(bhttp::field::content_encoding), 0u);

  auto small = client.Get("/json/100", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->count(bhttp::field::content_encoding), 0u);
  EXPECT_EQ(small->body(), JsonBody(100));

  auto encoded = client.Get("/encoded", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ((*encoded)[bhttp::field::content_encoding], "br");
  EXPECT_EQ(encoded->body(), JsonBody(4096));

  auto image = client.Get("/image", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->count(bhttp::field::content_encoding), 0u);
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  StartServer();
  TestClient client(address_);
  client.Send("HEAD /json/4096 HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n");
  auto head = client.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_EQ((*head)[bhttp::field::content_length], std::to_string(JsonBody(4096).size()));
  EXPECT_TRUE(head->body().empty());
  // The connection is still in sync: no stray body bytes precede the next response.
  auto next = client.Get("/after");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "GET /after ");
}

TEST_F(ServerTest, AnswersExpectContinue) {
  StartServer();
  TestClient client(address_);
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  auto interim = client.Read();
  ASSERT_TRUE(interim.has_value()) << interim.error().message();
  EXPECT_EQ(interim->result(), bhttp::status::continue_);
  client.Send("abc");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "POST /echo abc");
}

TEST_F(ServerTest, RunsHandlersOffTheIoThread) {
  StartServer();
  TestClient blocked(address_);
  blocked.Send("GET /block HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_TRUE(handler_.WaitBlocked(1));
  // The only io thread is free while a handler blocks: another connection is served.
  TestClient other(address_);
  auto response = other.Get("/meanwhile");
  ASSERT_TRUE(response.has_value()) << response.error().message();
  handler_.Release();
  ASSERT_TRUE(blocked.Read().has_value());
  const auto threads = handler_.handler_threads();
  EXPECT_FALSE(threads.empty());
  EXPECT_EQ(threads.count(run_thread_.get_id()), 0u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST_F(ServerTest, SurvivesHandlerException) {
  StartServer();
  {
    TestClient client(address_);
    client.Send("GET /throw HTTP/1.1\r\nHost: test\r\n\r\n");
    auto response = client.Read();
    EXPECT_FALSE(response.has_value());
  }
  TestClient client(address_);
  auto response = client.Get("/still-up");
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "GET /still-up ");
}

TEST_F(ServerTest, StopFinishesInFlightRequestsAndClosesIdleOnes) {
  StartServer();
  TestClient idle(address_);
  ASSERT_TRUE(idle.Get("/warm").has_value());
  TestClient busy(address_);
  busy.Send("GET /block HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_TRUE(handler_.WaitBlocked(1));

  server_->Stop();
  const beast::error_code idle_closed = idle.WaitClosed();
  EXPECT_TRUE(IsClosed(idle_closed)) << idle_closed.message();
  handler_.Release();
  auto response = busy.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "unblocked");
  EXPECT_EQ((*response)[bhttp::field::connection], "close");
  EXPECT_TRUE(IsClosed(busy.WaitClosed()));
  EXPECT_TRUE(WaitRunReturned());
}

TEST_F(ServerTest, StopClosesWhatIsStillOpenAfterTheGrace) {
  StartServer({.shutdown_grace = milliseconds(200)});
  TestClient stuck(address_);
  stuck.Send("GET /block HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_TRUE(handler_.WaitBlocked(1));
  server_->Stop();
  EXPECT_TRUE(WaitRunReturned());  // while the handler is still blocked
  const beast::error_code ec = stuck.WaitClosed();
  EXPECT_TRUE(IsClosed(ec)) << ec.message();
}

TEST_F(ServerTest, StopBeforeAnyConnectionReturnsFromRun) {
  StartServer();
  server_->Stop();
  EXPECT_TRUE(WaitRunReturned());
}

TEST_F(ServerTest, StartOnTakenPortIsUnavailable) {
  StartServer();
  const std::string port = address_.substr(address_.rfind(':') + 1);
  TestHandler handler;
  Server second({.port = static_cast<uint16_t>(std::stoi(port))}, handler);
  Result<std::string> result = second.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message().find(address_), std::string::npos) << result.error().message();
}

TEST_F(ServerTest, StartWithBadHostIsInvalidArgument) {
  TestHandler handler;
  Server server({.host = "not an address"}, handler);
  Result<std::string> result = server.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ServerTest, StreamsChunksUntilTheSourceEndsThenCloses) {
  StartServer();
  auto control = handler_.stream();
  TestClient client(address_);
  client.Send("GET /stream HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n");
  std::string head = client.ReadUntil("\r\n\r\n");
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Encoding"), std::string::npos) << head;
  EXPECT_EQ(head.find("ignored"), std::string::npos) << head;

  // Each piece goes out as it is produced, as one chunk; a large one is not gzipped either.
  control->Push("data: one\n\n");
  EXPECT_NE(client.ReadUntil("data: one\n\n").find("b\r\ndata: one\n\n\r\n"), std::string::npos);
  const std::string big(4096, 'a');
  control->Push(big);
  EXPECT_NE(client.ReadUntil(big).find("1000\r\n" + big), std::string::npos);
  control->Push("bye", /*finish=*/true);
  EXPECT_NE(client.ReadUntil("0\r\n\r\n").find("3\r\nbye\r\n0\r\n\r\n"), std::string::npos);
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
  EXPECT_TRUE(control->WaitFor([&] { return control->destroyed; }));
  // Start and every Next ran on the workers, never on the io thread.
  std::lock_guard lock(control->mu);
  EXPECT_FALSE(control->threads.contains(run_thread_.get_id()));
}

TEST_F(ServerTest, AWaitingStreamHoldsNoWorkerAndWakesAtOnce) {
  StartServer({.worker_threads = 1});
  auto control = handler_.stream();
  TestClient streaming(address_);
  streaming.Send("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_FALSE(streaming.ReadUntil("\r\n\r\n").empty());
  ASSERT_TRUE(control->WaitFor([&] { return control->nexts >= 1; }));
  // The only worker is free while the stream waits (its source asked for 60 s).
  TestClient other(address_);
  auto response = other.Get("/still-served");
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "GET /still-served ");
  const auto pushed = SteadyClock::now();
  control->Push("event: output\ndata: {}\n\n");
  EXPECT_FALSE(streaming.ReadUntil("data: {}").empty());
  EXPECT_LT(SteadyClock::now() - pushed, milliseconds(2000));
}

TEST_F(ServerTest, HttpTenStreamIsUnchunkedAndEndsWithTheConnection) {
  StartServer();
  auto control = handler_.stream();
  control->Push("all of it", /*finish=*/true);
  TestClient client(address_);
  client.Send("GET /stream HTTP/1.0\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "all of it");
  EXPECT_EQ((*response)[bhttp::field::transfer_encoding], "");
}

TEST_F(ServerTest, AStreamEndsWhenItsClientCloses) {
  StartServer();
  auto control = handler_.stream();
  {
    TestClient client(address_);
    client.Send("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n");
    ASSERT_FALSE(client.ReadUntil("\r\n\r\n").empty());
    ASSERT_TRUE(control->WaitFor([&] { return control->nexts >= 1; }));
    client.Close();
  }
  // Noticed without a write: the source's 60 s wait is cut short.
  EXPECT_TRUE(control->WaitFor([&] { return control->destroyed; }));
}

TEST_F(ServerTest, AStreamWhoseClientStopsReadingIsCut) {
  StartServer({.write_timeout = milliseconds(300)});
  auto control = handler_.stream();
  control->flood = true;
  TestClient client(address_);
  client.Send("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n");
  // The client reads nothing: once the socket buffers fill, a write times out.
  EXPECT_TRUE(control->WaitFor([&] { return control->destroyed; }));
}

TEST_F(ServerTest, AHealthyStreamOutlivesTheWriteTimeout) {
  StartServer({.write_timeout = milliseconds(100)});
  auto control = handler_.stream();
  TestClient client(address_);
  client.Send("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n");
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(milliseconds(150));  // the stream idles past write_timeout
    control->Push("tick" + std::to_string(i));
    EXPECT_FALSE(client.ReadUntil("tick" + std::to_string(i)).empty()) << i;
  }
}

TEST_F(ServerTest, StopEndsStreamsPromptly) {
  StartServer({.shutdown_grace = milliseconds(30'000)});
  auto control = handler_.stream();
  TestClient client(address_);
  client.Send("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_FALSE(client.ReadUntil("\r\n\r\n").empty());
  ASSERT_TRUE(control->WaitFor([&] { return control->nexts >= 1; }));
  server_->Stop();
  // The body is terminated (the client can tell a clean end) and Run returns long before the
  // grace period.
  EXPECT_FALSE(client.ReadUntil("0\r\n\r\n").empty());
  EXPECT_TRUE(IsClosed(client.WaitClosed()));
  EXPECT_TRUE(WaitRunReturned());
}

TEST(SseTest, FormatsEventsWithOneDataLinePerLine) {
  EXPECT_EQ(SseEvent("7", "output", R"({"text":"a"})"),
            "id: 7\nevent: output\ndata: {\"text\":\"a\"}\n\n");
  EXPECT_EQ(SseEvent("", "", "one\ntwo\r\nthree\r"),
            "data: one\ndata: two\ndata: three\ndata: \n\n");
  EXPECT_EQ(SseEvent("1\n2", "end", ""), "id: 12\nevent: end\ndata: \n\n");
}

TEST(GzipTest, RoundTripsThroughZlibInflate) {
  for (size_t size : {0, 1, 100, 70'000, 1'000'000}) {
    std::string input;
    input.reserve(size);
    uint32_t state = 12345;  // seeded: part text, part noise
    while (input.size() < size) {
      state = state * 1103515245u + 12345u;
      input += (state >> 16) % 3 == 0 ? static_cast<char>(state >> 8) : 'a';
    }
    for (int level : {1, 6, 9}) {
      std::optional<std::string> compressed = GzipCompress(input, level);
      ASSERT_TRUE(compressed.has_value());
      EXPECT_EQ(Gunzip(*compressed), input) << "size " << size << " level " << level;
    }
  }
}

TEST(GzipTest, ShrinksRepetitiveText) {
  const std::string input = JsonBody(100'000);
  std::optional<std::string> compressed = GzipCompress(input);
  ASSERT_TRUE(compressed.has_value());
  EXPECT_LT(compressed->size(), input.size() / 5);
  // gzip magic bytes.
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
}

TEST(GzipTest, AcceptsGzipHonoursQValues) {
  struct Case {
    std::string_view header;
    bool accepts;
  };
  const Case cases[] = {
      {"gzip", true},
      {"gzip, deflate, br", true},
      {"br;q=1.0, gzip;q=0.8", true},
      {"GZIP;Q=0.5", true},
      {" gzip ; q=1.000 ", true},
      {"gzip;q=0.001", true},
      {"x-gzip", true},
      {"*", true},
      {"br, *;q=0.1", true},
      {"gzip;q=0", false},
      {"gzip; q=0.000", false},
      {"gzip;q=0, *", false},
      {"*;q=0", false},
      {"deflate, br", false},
      {"identity", false},
      {"", false},
      {"gzipx", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AcceptsGzip(c.header), c.accepts) << "'" << c.header << "'";
  }
}

}  // namespace
}  // namespace hangar::http
