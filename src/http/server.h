// The HTTP/1.1 server core: accepts connections, reads requests with limits and timeouts, runs
// the application's RequestHandler on a worker pool and writes its responses (gzip, keep-alive,
// access log), whole or streamed. Routing, middleware and the Error -> status mapping live in
// module `gateway`.
//
// Main types:
//   RequestHandler  the application seam: Handle() for parsed requests, HandleTransportError()
//                   for requests the server refused (431, 413, 414, 400).
//   Reply           what Handle() answers: a whole Response, or a response head and the
//                   StreamSource of its body.
//   StreamSource    produces a streamed body (Server-Sent Events) piece by piece.
//   ServerOptions   limits, timeouts and thread counts.
//   Server          owns the io_context (io threads), the worker pool and the listener.
//
// Threads: io threads (Run) only do socket I/O and parsing; every call into the RequestHandler
// and every StreamSource::Next, gzip compression and payload preparation happen on the worker
// pool, so a handler may block (database calls) without stalling other connections. One request
// at a time per connection, so responses keep request order.
//
// Streams: the head is written at once (chunked transfer coding on HTTP/1.1; on HTTP/1.0 the
// body simply ends with the connection), then the server alternates between calling Next on a
// worker and writing what it returned, as one chunk. When Next has nothing to send, the stream
// waits on the io thread, holding no worker, until the source wakes it or the wait Next asked
// for ends. The stream ends when Next says so, when the client closes the connection (noticed
// at once: the server keeps a read pending), when a write takes longer than write_timeout (a
// client that stopped reading), or at Stop() (the body is terminated at once). The connection
// is closed after a stream. A streamed response is not gzipped, and the access log line is
// written once, when the stream ends, with its duration and size.
//
// Thread-safety: Start, Run and StopOnSignals are called once each, from one thread, in the
// order Start, [StopOnSignals], Run. Stop may be called from any thread, any number of times.
// RequestHandler methods are called concurrently from several worker threads.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "http/gzip.h"

namespace hangar::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// What the server knows about the other end of a connection.
struct PeerInfo {
  std::string remote_address;  // "127.0.0.1:54321", "[::1]:54321"
};

// The producer of a streamed response body. The server calls Start once, then Next until the
// body ends; it owns the source (shared with whatever the handler kept) and releases it when the
// stream ends, on an io thread, so the destructor must not block.
class StreamSource {
 public:
  virtual ~StreamSource() = default;

  // What one call of Next produced.
  struct Piece {
    std::string data;  // bytes to send now, as one chunk; may be empty
    bool end = false;  // the body is complete after `data`
    // When `data` is empty and the body continues: call Next again after this long at the
    // latest (sooner when woken). A source sends its own keep-alives by returning data then.
    std::chrono::milliseconds wait{15'000};
  };

  // Called once, on a worker thread, before the first Next. `wake` makes the server call Next
  // again soon; it may be called from any thread, at any time (also after the stream ended,
  // when it does nothing), is cheap and never blocks, so a source can hand it to a notifier.
  virtual void Start(std::function<void()> wake) { (void)wake; }

  // Produces the next piece of the body. Called on a worker thread, never concurrently with
  // itself; may block briefly (a database read) but should not wait for data to appear: return
  // an empty piece and rely on `wake` or Piece::wait instead, so waiting streams hold no worker.
  // An exception is a bug: the server logs it and closes the connection.
  virtual Piece Next() = 0;
};

// A handler's answer: a whole response, or, when `stream` is set, the head of a streamed one
// (status and header fields; its body is ignored) whose body `stream` produces.
struct Reply {
  Reply() = default;
  Reply(Response whole) : response(std::move(whole)) {}  // NOLINT(google-explicit-constructor)
  Reply(Response head, std::shared_ptr<StreamSource> source)
      : response(std::move(head)), stream(std::move(source)) {}

  Response response;
  std::shared_ptr<StreamSource> stream;
};

// Implemented by the application (router + middleware, module gateway).
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;

  // Produces the response to a complete request. Called on a worker thread (never an io
  // thread); may block. `request` may be modified (the handler owns it until it returns).
  // The server then fills in what the handler left out: Content-Length, the Connection header
  // mirroring the request's keep-alive, the HTTP version of the request, gzip when the client
  // accepts it. For a streamed reply it sets the version, the chunked coding and
  // `Connection: close`, and drops any Content-Length. Exceptions are a bug: the server logs
  // them and closes the connection.
  virtual Reply Handle(Request& request, const PeerInfo& peer) = 0;

  // The response for a request the server refused before handling it: kHeadersTooLarge (the
  // header block exceeded header_limit), kUriTooLong (target longer than target_limit),
  // kPayloadTooLarge (declared or received body beyond body_limit), kMalformed (unparseable).
  // `partial` has method, target and headers when they were read, else nullptr. The server
  // writes the response with `Connection: close` and closes. Called on a worker thread.
  virtual Response HandleTransportError(const Error& error, const Request* partial) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";   // an IPv4/IPv6 literal, or "localhost"
  uint16_t port = 0;                // 0: pick a free port
  int io_threads = 0;               // 0: one per core (std::thread::hardware_concurrency)
  int worker_threads = 0;           // 0: max(4, 2 * cores); handlers run here
  size_t header_limit = 16 * 1024;  // request line + header fields -> 431
  size_t body_limit = 1024 * 1024;  // -> 413
  size_t target_limit = 8 * 1024;   // request-target length -> 414
  // To receive a whole request once its first byte arrived (defeats slowloris).
  std::chrono::milliseconds request_timeout{10'000};
  // A keep-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // To write one response, or one piece of a stream; a client that stops reading is
  // disconnected after it. A stream may last any time as long as each write completes.
  std::chrono::milliseconds write_timeout{10'000};
  // After Stop(): how long in-flight requests may take before their connections are cut.
  std::chrono::milliseconds shutdown_grace{10'000};
  size_t gzip_min_bytes = 1024;
  int gzip_level = kDefaultGzipLevel;  // zlib 1 (fastest) .. 9 (smallest)
  bool access_log = true;              // one spdlog info line per request
  // Called once when Stop() begins (any thread): lets long-running handlers (long polls)
  // return early so the drain does not wait for them. Must not block.
  std::function<void()> on_stop;
};

// The worker pool's size when ServerOptions::worker_threads is 0: max(4, 2 * cores).
int DefaultWorkerThreads();

class Server {
 public:
  // `handler` must outlive the Server.
  Server(ServerOptions options, RequestHandler& handler);
  // Stops (if running), waits for handlers still running on the worker pool, then releases
  // every connection. Call after Run() has returned (or when it was never called), from a
  // thread that is not one of this server's io or worker threads.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts listening (SO_REUSEADDR). Returns the bound address "host:port" with the
  // real port when port 0 was given. kInvalidArgument for a host that is not an IP literal or
  // "localhost"; kUnavailable when the address cannot be bound (port taken, no permission),
  // the message naming the address. Call once, before Run().
  Result<std::string> Start();

  // Runs the io threads (io_threads - 1 new ones plus the caller) and returns after Stop() has
  // drained every connection, or shutdown_grace after Stop() at the latest. Call once, after
  // Start().
  void Run();

  // Graceful stop; thread-safe, idempotent, returns at once. Stops accepting; requests already
  // being read or handled finish and their responses are written with `Connection: close`;
  // idle keep-alive connections close at once; streams end (their bodies terminated) as soon
  // as the Next in progress, if any, returns; shutdown_grace after the call, whatever is
  // still open is closed and Run() returns.
  void Stop();

  // Installs SIGINT/SIGTERM handling on the server's io_context that calls Stop() (hangard).
  // Call before Run().
  void StopOnSignals();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hangar::http
