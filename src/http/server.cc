#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hangar::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Socket errors are expected (peers vanish, timeouts fire): completions return them as values
// instead of throwing, which also keeps exceptions off the hot path.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The first read of a request; a typical API request fits, and the buffer keeps this capacity
// across keep-alive requests.
constexpr size_t kMinReadSize = 4 * 1024;
constexpr size_t kMaxReadSize = 64 * 1024;
// A connection that once read a large body gives the memory back when it goes idle.
constexpr size_t kIdleBufferCapacity = 64 * 1024;
// After refusing a request, how long to discard what the client still sends before closing
// (see LingeringClose).
constexpr std::chrono::seconds kLingerTime{2};
// Back-off after a failed accept (out of descriptors), so the loop does not spin on the error.
constexpr std::chrono::milliseconds kAcceptBackoff{50};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using StreamHead = bhttp::response<bhttp::empty_body>;

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) {
    return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  }
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return !std::ranges::search(haystack, needle, [](char a, char b) {
            return Lower(a) == Lower(b);
          }).empty();
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && beast::iequals(s.substr(0, prefix.size()), prefix);
}

// Bodies worth compressing: text, JSON, JavaScript, CSS, SVG and other XML. Event streams are
// excluded because compressing them would buffer events.
bool IsCompressibleType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  if (StartsWithIgnoreCase(content_type, "text/")) {
    return !ContainsIgnoreCase(content_type, "event-stream");
  }
  return ContainsIgnoreCase(content_type, "json") ||
         ContainsIgnoreCase(content_type, "javascript") || ContainsIgnoreCase(content_type, "xml");
}

// Caches must key compressible responses by Accept-Encoding, whichever coding was chosen.
void AddVaryAcceptEncoding(Response& response) {
  auto it = response.find(bhttp::field::vary);
  if (it == response.end()) {
    response.set(bhttp::field::vary, "Accept-Encoding");
  } else if (!ContainsIgnoreCase(it->value(), "accept-encoding") && it->value() != "*") {
    response.set(bhttp::field::vary, fmt::format("{}, Accept-Encoding", it->value()));
  }
}

void MaybeGzip(const ServerOptions& options, const Request& request, Response& response) {
  if (response.body().size() < options.gzip_min_bytes ||
      response.find(bhttp::field::content_encoding) != response.end() ||
      !IsCompressibleType(response[bhttp::field::content_type])) {
    return;
  }
  AddVaryAcceptEncoding(response);
  auto accept = request.find(bhttp::field::accept_encoding);
  if (accept == request.end() || !AcceptsGzip(accept->value())) return;
  std::optional<std::string> compressed = GzipCompress(response.body(), options.gzip_level);
  if (!compressed || compressed->size() >= response.body().size()) return;
  response.body() = std::move(*compressed);
  response.set(bhttp::field::content_encoding, "gzip");
}

// Beast's keep_alive(false) only drops "keep-alive" from an HTTP/1.0 response; say "close"
// explicitly so every closing response announces it, whatever the version.
template <typename Message>
void SetKeepAlive(Message& response, bool keep_alive) {
  response.keep_alive(keep_alive);
  if (!keep_alive && response.version() < 11) response.set(bhttp::field::connection, "close");
}

bool IsBodilessStatus(unsigned status) { return status < 200 || status == 204 || status == 304; }

// Fills in what the handler left out. Runs on the worker thread, so compression and length
// computation stay off the io threads. `request` is null for a refused request nothing of which
// could be read.
void FinishResponse(const ServerOptions& options, const Request* request, Response& response,
                    bool keep_alive) {
  const bool handler_keeps_alive = response.keep_alive();
  const bool head = request != nullptr && request->method() == bhttp::verb::head;
  if (request != nullptr) response.version(request->version());
  if (IsBodilessStatus(response.result_int())) {
    response.body().clear();
  } else if (request != nullptr && !head) {
    MaybeGzip(options, *request, response);
  }
  response.prepare_payload();
  // HEAD: Content-Length describes the body a GET would get; none is sent.
  if (head) response.body().clear();
  SetKeepAlive(response, keep_alive && handler_keeps_alive);
}

// The head of a streamed response, from the handler's: the request's version, chunked on
// HTTP/1.1 (HTTP/1.0 has no chunks: the body ends when the connection closes), no length, and
// `Connection: close`, as the connection ends with the stream. Runs on the worker thread.
StreamHead MakeStreamHead(const Request& request, const Response& response) {
  StreamHead head(bhttp::response_header<>(response.base()));
  head.version(request.version());
  head.erase(bhttp::field::content_length);
  head.erase(bhttp::field::transfer_encoding);
  head.chunked(request.version() >= 11 && request.method() != bhttp::verb::head);
  SetKeepAlive(head, false);
  return head;
}

// Runs `fn` on `pool`, then resumes the awaiting coroutine on its own executor (the session's
// strand). An exception thrown by `fn` is rethrown in the coroutine.
template <typename Fn>
auto RunOnWorker(asio::thread_pool& pool, Fn fn) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
      [&pool](auto handler, Fn fn) {
        // Keeps the io_context's run() from returning while the handler is on the pool.
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(pool, [handler = std::move(handler), fn = std::move(fn),
                          work = std::move(work)]() mutable {
          std::exception_ptr error;
          try {
            fn();
          } catch (...) {
            error = std::current_exception();
          }
          auto executor = work.get_executor();
          asio::dispatch(executor, [handler = std::move(handler), error]() mutable {
            std::move(handler)(error);
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

int DefaultIoThreads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

int DefaultWorkerThreads() { return std::max(4, 2 * DefaultIoThreads()); }

// Owns the io_context, the worker pool, the listener and the set of live sessions.
//
// Shutdown, all on the control strand:
//   Stop() -> BeginDrain: close the listener, close idle sessions, arm the grace timer.
//   last session ends -> MaybeFinish: cancel the timer, stop the io_context (Run returns).
//   grace timer fires -> ForceClose: close every session's socket, stop the io_context.
class Server::Impl {
 public:
  class Session;

  Impl(ServerOptions options, RequestHandler& handler);
  ~Impl();

  Result<std::string> Start();
  void Run();
  void Stop();
  void StopOnSignals();

  // For sessions.
  const ServerOptions& options() const { return options_; }
  RequestHandler& handler() { return handler_; }
  asio::thread_pool& workers() { return workers_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  bool destroying() const { return destroying_.load(std::memory_order_acquire); }
  void Register(Session* session);
  void Unregister(Session* session);

 private:
  asio::awaitable<void> Accept();
  void BeginDrain();
  void MaybeFinish();
  void ForceClose();
  std::vector<std::shared_ptr<Session>> LiveSessions();
  void RunIoThread();

  const ServerOptions options_;
  const int io_threads_;
  RequestHandler& handler_;
  std::atomic<bool> stopping_{false};
  // Set by the destructor: sessions destroyed with the io_context must not post to it.
  std::atomic<bool> destroying_{false};

  std::mutex sessions_mu_;
  std::unordered_set<Session*> sessions_;  // guarded by sessions_mu_

  asio::io_context ioc_;
  // Serializes the listener, the grace timer, the signal set and the drain flags below.
  asio::strand<asio::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  asio::steady_timer grace_timer_;
  std::optional<asio::signal_set> signals_;
  bool draining_ = false;  // control_ only
  bool finished_ = false;  // control_ only

  // Declared last: joined first in the destructor, while the io_context can still take the
  // completions that handlers post back.
  asio::thread_pool workers_;
};

// One connection. Its coroutine runs on a strand of its own; the only other code that touches
// the stream is posted to that strand (CloseIfIdle, ForceClose).
//
// Per request:  [idle: wait for the first byte, idle_timeout]
//            -> read header and body, request_timeout from the first byte
//            -> refused (431/413/414/400): HandleTransportError on a worker, write, linger, close
//            -> else Handle on a worker, write (write_timeout), log; keep-alive -> loop, else
//            close.
//            -> a streamed reply: write the head, then Next on a worker / write a chunk / wait
//            for a wake, until the body ends, the client leaves or the server stops; close.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket)
      : server_(server), options_(server.options()), stream_(std::move(socket)) {
    beast::error_code ec;
    tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    peer_.remote_address = ec ? "unknown" : FormatEndpoint(remote);
  }
  ~Session() { server_.Unregister(this); }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Registers with the server and starts serving. Called on the control strand.
  void Start() {
    server_.Register(this);
    asio::co_spawn(
        stream_.get_executor(), [self = shared_from_this()] { return self->Run(); },
        asio::detached);
  }

  // Closes the connection if it is waiting for a request; one mid-request finishes it (its
  // response says Connection: close); a stream ends once its Next in progress returns. Any
  // thread.
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->stream_.cancel();
      self->wake_timer_.cancel();  // a waiting stream rechecks stopping()
    });
  }

  // Closes the connection whatever it is doing. Any thread.
  void ForceClose() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->stream_.close(); });
  }

 private:
  enum class ReadOutcome { kComplete, kRefused, kClose };

  asio::awaitable<void> Run() {
    try {
      co_await Serve();
    } catch (const std::exception& e) {
      spdlog::error("http: closing {} after an unexpected exception: {}", peer_.remote_address,
                    e.what());
    } catch (...) {
      spdlog::error("http: closing {} after an unexpected non-standard exception",
                    peer_.remote_address);
    }
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  asio::awaitable<void> Serve() {
    for (;;) {
      if (server_.stopping()) co_return;
      if (buffer_.size() == 0) {
        if (buffer_.capacity() > kIdleBufferCapacity) buffer_.shrink_to_fit();
        idle_ = true;
        stream_.expires_after(options_.idle_timeout);
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kMinReadSize), kNoThrow);
        idle_ = false;
        if (ec) co_return;  // peer closed, idle timeout, or Stop()
        buffer_.commit(n);
      }
      // One deadline for the whole request: a client trickling bytes cannot extend it.
      stream_.expires_after(options_.request_timeout);
      if (options_.access_log) started_ = SteadyClock::now();
      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(
          std::min<size_t>(options_.header_limit, std::numeric_limits<std::uint32_t>::max())));
      parser_->body_limit(options_.body_limit);

      switch (co_await ReadRequest()) {
        case ReadOutcome::kClose:
          co_return;
        case ReadOutcome::kRefused:
          co_await RespondToRefusal();
          co_return;
        case ReadOutcome::kComplete:
          break;
      }

      co_await RunOnWorker(server_.workers(), [this] {
        Request& request = parser_->get();
        Reply reply = server_.handler().Handle(request, peer_);
        response_ = std::move(reply.response);
        if (reply.stream) {
          source_ = std::move(reply.stream);
          stream_head_.emplace(MakeStreamHead(request, response_));
          source_->Start(MakeWake());
        } else {
          FinishResponse(options_, &request, response_, request.keep_alive());
        }
      });
      if (source_) {
        co_await Stream();
        co_return;
      }
      bool keep_alive = response_.keep_alive();
      if (keep_alive && server_.stopping()) {
        keep_alive = false;
        SetKeepAlive(response_, false);
      }
      stream_.expires_after(options_.write_timeout);
      auto [ec, written] = co_await bhttp::async_write(stream_, response_, kNoThrow);
      LogAccess(written, /*has_request=*/true);
      if (ec) co_return;
      if (!keep_alive) {
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        co_return;
      }
      // Release the request and response memory while the connection idles.
      parser_.reset();
      response_ = {};
    }
  }

  // The StreamSource's `wake`: counts the wake-up (so one that comes while Next runs is not
  // lost) and ends the stream's wait. Holds the session weakly: a wake after the stream ended,
  // or while the server is being destroyed, does nothing.
  std::function<void()> MakeWake() {
    return [weak = weak_from_this(), server = &server_] {
      auto self = weak.lock();
      if (!self || server->destroying()) return;
      self->wakes_.fetch_add(1, std::memory_order_acq_rel);
      asio::post(self->stream_.get_executor(), [self] { self->wake_timer_.cancel(); });
    };
  }

  // Writes the head of a streamed response, then alternates between the source's Next (on a
  // worker) and writing what it produced, until the body ends, the client leaves, a write
  // times out or the server stops. See the stream contract in server.h.
  asio::awaitable<void> Stream() {
    const bool chunked = stream_head_->chunked();
    const bool head_only = parser_->get().method() == bhttp::verb::head;
    size_t written = 0;
    bool writable = true;
    {
      bhttp::response_serializer<bhttp::empty_body> serializer(*stream_head_);
      stream_.expires_after(options_.write_timeout);
      auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, kNoThrow);
      written += n;
      writable = !ec;
    }
    if (writable && !head_only) {
      WatchForClose();
      for (;;) {
        if (server_.stopping() || peer_gone_) break;
        const uint64_t seen = wakes_.load(std::memory_order_acquire);
        StreamSource::Piece piece;
        co_await RunOnWorker(server_.workers(), [&] { piece = source_->Next(); });
        if (!piece.data.empty()) {
          stream_.expires_after(options_.write_timeout);
          auto [ec, n] =
              chunked ? co_await asio::async_write(
                            stream_, bhttp::make_chunk(asio::buffer(piece.data)), kNoThrow)
                      : co_await asio::async_write(stream_, asio::buffer(piece.data), kNoThrow);
          written += n;
          if (ec) {
            writable = false;
            break;
          }
        }
        if (piece.end) break;
        // More may be ready at once; else wait for a wake, the source's deadline, the client
        // leaving or Stop (each cancels the timer). A wake during Next shows in `wakes_`.
        if (!piece.data.empty() || wakes_.load(std::memory_order_acquire) != seen) continue;
        if (server_.stopping() || peer_gone_) break;
        wake_timer_.expires_after(piece.wait);
        co_await wake_timer_.async_wait(kNoThrow);
      }
    }
    if (writable && chunked && !head_only && !peer_gone_) {
      stream_.expires_after(options_.write_timeout);
      auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk_last(), kNoThrow);
      written += n;
    }
    source_.reset();
    LogAccess(written, /*has_request=*/true);
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // While a stream is written the client sends nothing, so a completed read is the client
  // closing (or resetting) the connection: the stream ends at once instead of at its next
  // write. Bytes it does send are discarded. Reads the socket directly, so the stream's write
  // timeouts do not apply to this read.
  void WatchForClose() {
    stream_.socket().async_read_some(
        asio::buffer(discard_), [self = shared_from_this()](const beast::error_code& ec, size_t) {
          if (!ec) {
            self->WatchForClose();
            return;
          }
          self->peer_gone_ = true;
          self->wake_timer_.cancel();
        });
  }

  // Reads one request into parser_, starting with what buffer_ holds. kRefused sets refusal_.
  asio::awaitable<ReadOutcome> ReadRequest() {
    auto& parser = *parser_;
    bool header_checked = false;
    for (;;) {
      while (buffer_.size() > 0 && !parser.is_done()) {
        beast::error_code ec;
        const size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) break;
        if (ec) co_return Refuse(ec);
        if (!header_checked && parser.is_header_done()) {
          header_checked = true;
          if (std::optional<Error> refusal = CheckHeader()) {
            refusal_.emplace(std::move(*refusal));
            refusal_has_header_ = true;
            co_return ReadOutcome::kRefused;
          }
          // The header was checked: from now on parse as much body as each read brings.
          parser.eager(true);
          if (!parser.is_done() && ExpectsContinue(parser.get())) {
            auto [write_ec, n] =
                co_await asio::async_write(stream_, asio::buffer(kContinue), kNoThrow);
            if (write_ec) co_return ReadOutcome::kClose;
          }
        }
        if (used == 0) break;
      }
      if (parser.is_done()) co_return ReadOutcome::kComplete;
      const size_t room = buffer_.capacity() - buffer_.size();
      auto [ec, n] = co_await stream_.async_read_some(
          buffer_.prepare(std::clamp(room, kMinReadSize, kMaxReadSize)), kNoThrow);
      // A request never ends at EOF, so EOF here is a client that gave up; a timeout is a
      // client too slow to send its request in request_timeout. Neither gets a response.
      if (ec) co_return ReadOutcome::kClose;
      buffer_.commit(n);
    }
  }

  static bool ExpectsContinue(const Request& request) {
    return request.version() >= 11 && beast::iequals(request[bhttp::field::expect], "100-continue");
  }

  // The limit the parser cannot check itself, applied as soon as the header is in. (The parser
  // refuses a declared Content-Length beyond body_limit when the header ends, so a large upload
  // is refused before any of its body is read.)
  std::optional<Error> CheckHeader() {
    if (parser_->get().target().size() > options_.target_limit) {
      return Error(ErrorCode::kUriTooLong,
                   fmt::format("request target exceeds {} bytes", options_.target_limit));
    }
    return std::nullopt;
  }

  ReadOutcome Refuse(const beast::error_code& ec) {
    refusal_has_header_ = parser_->is_header_done();
    if (ec == bhttp::error::header_limit) {
      // The parser found no end of header within header_limit. When the request line alone
      // carries an over-long target, 414 tells the client what to fix; else 431.
      if (RequestLineTargetLength() > options_.target_limit) {
        refusal_.emplace(ErrorCode::kUriTooLong,
                         fmt::format("request target exceeds {} bytes", options_.target_limit));
      } else {
        refusal_.emplace(ErrorCode::kHeadersTooLarge,
                         fmt::format("request header exceeds {} bytes", options_.header_limit));
      }
    } else if (ec == bhttp::error::body_limit) {
      // Raised once every field was parsed (declared length) or mid-body (chunked): the
      // header is there either way, though the parser does not yet call it done.
      refusal_has_header_ = true;
      refusal_.emplace(ErrorCode::kPayloadTooLarge,
                       fmt::format("request body exceeds {} bytes", options_.body_limit));
    } else {
      refusal_.emplace(ErrorCode::kMalformed, fmt::format("malformed request: {}", ec.message()));
    }
    return ReadOutcome::kRefused;
  }

  // The length of the target in the unparsed request line in buffer_ (as far as it was read).
  // Zero unless buffer_ still starts with a request line ("METHOD /target"): the parser may
  // already have consumed it, and then the buffer holds header fields, not a target.
  size_t RequestLineTargetLength() const {
    const auto data = buffer_.data();
    std::string_view line(static_cast<const char*>(data.data()), data.size());
    size_t method_end = 0;
    while (method_end < line.size() && line[method_end] >= 'A' && line[method_end] <= 'Z') {
      ++method_end;
    }
    if (method_end == 0 || method_end >= line.size() || line[method_end] != ' ') return 0;
    line.remove_prefix(method_end + 1);
    return std::min(line.find_first_of(" \r\n"), line.size());
  }

  // Answers a refused request through the handler, then closes.
  asio::awaitable<void> RespondToRefusal() {
    const Request* partial = refusal_has_header_ ? &parser_->get() : nullptr;
    co_await RunOnWorker(server_.workers(), [this, partial] {
      response_ = server_.handler().HandleTransportError(*refusal_, partial);
      if (partial != nullptr) response_.version(partial->version());
      FinishResponse(options_, nullptr, response_, /*keep_alive=*/false);
    });
    stream_.expires_after(options_.write_timeout);
    auto [ec, written] = co_await bhttp::async_write(stream_, response_, kNoThrow);
    LogAccess(written, refusal_has_header_);
    if (!ec) co_await LingeringClose();
  }

  // Closing a socket whose receive queue holds unread bytes (the body of a refused upload)
  // makes the kernel send RST, which can discard the response before the client reads it. So
  // half-close, then discard what the client still sends for a short while.
  asio::awaitable<void> LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(kLingerTime);
    for (;;) {
      buffer_.clear();
      auto [read_ec, n] = co_await stream_.async_read_some(buffer_.prepare(kMaxReadSize), kNoThrow);
      if (read_ec) co_return;
    }
  }

  // `has_request`: parser_ holds at least the request line (refused requests may not).
  void LogAccess(size_t bytes_written, bool has_request) {
    if (!options_.access_log || !spdlog::should_log(spdlog::level::info)) return;
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
    std::string_view method = "-";
    std::string_view target = "-";
    if (has_request) {
      method = parser_->get().method_string();
      target = parser_->get().target();
    }
    auto id = response_.find("X-Request-Id");
    const std::string_view request_id = id == response_.end() ? "-" : id->value();
    spdlog::info("http {} {} {} {:.3f}ms {}B {} {}", method, target, response_.result_int(), ms,
                 bytes_written, peer_.remote_address, request_id);
  }

  Impl& server_;
  const ServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  // reused across the connection's requests
  PeerInfo peer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Response response_;
  std::optional<Error> refusal_;
  bool refusal_has_header_ = false;
  bool idle_ = false;  // waiting for the first byte of a request
  SteadyClock::time_point started_;
  // A streamed response (Stream): its source, head, and the timer its waits run on.
  std::shared_ptr<StreamSource> source_;
  std::optional<StreamHead> stream_head_;
  asio::steady_timer wake_timer_{stream_.get_executor()};
  std::atomic<uint64_t> wakes_{0};  // StreamSource wake-ups; any thread
  bool peer_gone_ = false;          // the client closed while streaming
  std::array<char, 512> discard_{};
};

Server::Impl::Impl(ServerOptions options, RequestHandler& handler)
    : options_(std::move(options)),
      io_threads_(options_.io_threads > 0 ? options_.io_threads : DefaultIoThreads()),
      handler_(handler),
      ioc_(io_threads_),
      control_(asio::make_strand(ioc_)),
      acceptor_(control_),
      grace_timer_(control_),
      workers_(static_cast<size_t>(options_.worker_threads > 0 ? options_.worker_threads
                                                               : DefaultWorkerThreads())) {}

Server::Impl::~Impl() {
  Stop();
  destroying_.store(true);
  // Handlers still running finish first; their completions are queued on the io_context,
  // whose destruction (after this body) destroys every session still open.
  workers_.join();
}

Result<std::string> Server::Impl::Start() {
  beast::error_code ec;
  asio::ip::address address = options_.host == "localhost"
                                  ? asio::ip::address(asio::ip::address_v4::loopback())
                                  : asio::ip::make_address(options_.host, ec);
  if (ec) {
    return std::unexpected(
        Error::Invalid(fmt::format("http: host '{}' is not an IP address", options_.host))
            .Field("host", "use an IPv4 or IPv6 address, or localhost"));
  }
  const tcp::endpoint endpoint(address, options_.port);
  const std::string wanted = FormatEndpoint(endpoint);
  auto fail = [&](std::string_view step) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return std::unexpected(
        Error::Unavailable(fmt::format("http: cannot {} {}: {}", step, wanted, ec.message())));
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open a socket for");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail("set SO_REUSEADDR on");
  }
  if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  const tcp::endpoint bound_endpoint = acceptor_.local_endpoint(ec);
  if (ec) return fail("read the address of");
  std::string bound = FormatEndpoint(bound_endpoint);
  spdlog::info("http: listening on {}", bound);
  asio::co_spawn(control_, Accept(), asio::detached);
  return bound;
}

void Server::Impl::Run() {
  std::vector<std::jthread> threads;
  threads.reserve(static_cast<size_t>(io_threads_ - 1));
  for (int i = 1; i < io_threads_; ++i) threads.emplace_back([this] { RunIoThread(); });
  RunIoThread();
}

void Server::Impl::RunIoThread() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // Sessions catch their own exceptions; this is a last resort that keeps the thread.
      spdlog::error("http: io thread caught an exception: {}", e.what());
    }
  }
}

void Server::Impl::Stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  if (options_.on_stop) options_.on_stop();
  asio::post(control_, [this] { BeginDrain(); });
}

void Server::Impl::StopOnSignals() {
  signals_.emplace(control_, SIGINT, SIGTERM);
  signals_->async_wait([this](const beast::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("http: received signal {}, stopping", signal);
    Stop();
  });
}

void Server::Impl::Register(Session* session) {
  std::lock_guard lock(sessions_mu_);
  sessions_.insert(session);
}

void Server::Impl::Unregister(Session* session) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(session);
    last = sessions_.empty();
  }
  if (last && stopping() && !destroying_.load()) {
    asio::post(control_, [this] { MaybeFinish(); });
  }
}

auto Server::Impl::LiveSessions() -> std::vector<std::shared_ptr<Session>> {
  std::vector<std::shared_ptr<Session>> live;
  std::lock_guard lock(sessions_mu_);
  live.reserve(sessions_.size());
  for (Session* session : sessions_) {
    // Empty when the session's destructor is waiting for sessions_mu_ to unregister.
    if (auto alive = session->weak_from_this().lock()) live.push_back(std::move(alive));
  }
  return live;
}

asio::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kNoThrow);
    if (stopping()) co_return;  // a socket accepted as the listener closed is dropped
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      asio::steady_timer backoff(control_, kAcceptBackoff);
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(*this, tcp::socket(std::move(socket)))->Start();
  }
}

void Server::Impl::BeginDrain() {
  draining_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  if (signals_) signals_->cancel(ignored);
  grace_timer_.expires_after(options_.shutdown_grace);
  grace_timer_.async_wait([this](const beast::error_code& ec) {
    if (!ec) ForceClose();
  });
  for (const auto& session : LiveSessions()) session->CloseIfIdle();
  MaybeFinish();
}

void Server::Impl::MaybeFinish() {
  if (!draining_ || finished_) return;
  {
    std::lock_guard lock(sessions_mu_);
    if (!sessions_.empty()) return;
  }
  finished_ = true;
  grace_timer_.cancel();
  ioc_.stop();
}

void Server::Impl::ForceClose() {
  if (finished_) return;
  finished_ = true;
  std::vector<std::shared_ptr<Session>> live = LiveSessions();
  spdlog::warn("http: {} connection(s) still open {} ms after stop; closing them", live.size(),
               options_.shutdown_grace.count());
  for (const auto& session : live) session->ForceClose();
  // Queued behind the closes; a handler that never returns cannot hold Run() past the grace.
  asio::post(ioc_, [this] { ioc_.stop(); });
}

Server::Server(ServerOptions options, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() = default;

Result<std::string> Server::Start() { return impl_->Start(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
void Server::StopOnSignals() { impl_->StopOnSignals(); }

}  // namespace hangar::http
