// Test support: a plain Boost.Beast HTTP/1.1 client that returns the whole response (status,
// every header, body), and can send raw bytes for malformed-request tests.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <utility>
#include <vector>

namespace hangar::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

using Response = bhttp::response<bhttp::string_body>;

class HttpClient {
 public:
  explicit HttpClient(std::string host_port) {
    auto colon = host_port.rfind(':');
    host_ = host_port.substr(0, colon);
    port_ = host_port.substr(colon + 1);
  }

  // One request on a fresh connection.
  Response Send(bhttp::verb method, const std::string& target, const std::string& token = {},
                const std::string& body = {},
                std::vector<std::pair<std::string, std::string>> headers = {},
                std::string content_type = "application/json") {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::resolver(io).resolve(host_, port_));
    stream.expires_after(std::chrono::seconds(30));
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, host_);
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, content_type);
      req.body() = body;
    }
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(stream, buffer, parser);
    return parser.release();
  }

  // Writes `raw` bytes and reads one response; "" when the server closed without one.
  std::string SendRaw(const std::string& raw) {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::resolver(io).resolve(host_, port_));
    stream.expires_after(std::chrono::seconds(30));
    boost::system::error_code ec;
    boost::asio::write(stream, boost::asio::buffer(raw), ec);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res, ec);
    if (ec) return "";
    std::ostringstream out;
    out << res;
    return out.str();
  }

 private:
  std::string host_;
  std::string port_;
};

}  // namespace hangar::testing
