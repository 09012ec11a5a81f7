// TestServer: a tiny HTTP/1.1 server on 127.0.0.1:0 for tests of the client, the agent and the
// CLI. Each request is answered by a handler the test supplies; keep-alive is honoured so tests
// can observe connection reuse.
//
// Thread-safety: the server runs on its own thread; the handler is called on that thread, one
// request at a time, so handlers only need to synchronise with the test's thread.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <thread>

namespace hangar::testing {

class TestServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Handler = std::function<Response(const Request&)>;

  explicit TestServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(ioc_, Accept(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int connections_accepted() const { return connections_accepted_.load(); }

  // A JSON response with `status`.
  static Response Json(int status, std::string body,
                       std::string content_type = "application/json") {
    Response res{static_cast<boost::beast::http::status>(status), 11};
    res.set(boost::beast::http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
  }

 private:
  boost::asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      ++connections_accepted_;
      boost::asio::co_spawn(ioc_, Session(std::move(socket)), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      Request req;
      auto [ec, n] = co_await http::async_read(socket, buffer, req,
                                               boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      Response res = handler_(req);
      res.version(11);
      res.keep_alive(req.keep_alive() && res.keep_alive());
      res.prepare_payload();
      bool keep_alive = res.keep_alive();
      auto [wec, wn] = co_await http::async_write(
          socket, res, boost::asio::as_tuple(boost::asio::use_awaitable));
      if (wec || !keep_alive) {
        boost::system::error_code ignored;
        socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        co_return;
      }
    }
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> connections_accepted_{0};
  std::thread thread_;
};

}  // namespace hangar::testing
