#include "http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace hangar::http {

namespace {

// windowBits 15 with 16 added: the largest window, wrapped as gzip rather than zlib.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;

// One deflate state per thread, reset between bodies. deflateInit2 allocates a few hundred KiB;
// doing that per response would dominate the cost of compressing a typical JSON body.
class ThreadDeflater {
 public:
  ThreadDeflater() = default;
  ThreadDeflater(const ThreadDeflater&) = delete;
  ThreadDeflater& operator=(const ThreadDeflater&) = delete;
  ~ThreadDeflater() {
    if (initialized_) deflateEnd(&stream_);
  }

  // A reset stream at `level`, or nullptr when zlib cannot allocate its state.
  z_stream* Acquire(int level) {
    if (initialized_ && level != level_) {
      deflateEnd(&stream_);
      initialized_ = false;
    }
    if (!initialized_) {
      stream_ = z_stream{};
      if (deflateInit2(&stream_, level, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                       Z_DEFAULT_STRATEGY) != Z_OK) {
        return nullptr;
      }
      initialized_ = true;
      level_ = level;
    } else if (deflateReset(&stream_) != Z_OK) {
      return nullptr;
    }
    return &stream_;
  }

 private:
  z_stream stream_{};
  bool initialized_ = false;
  int level_ = 0;
};

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A qvalue (RFC 9110 12.4.2) is "0", "0.xyz", "1" or "1.000": it is above zero exactly when
// one of its digits is not zero. A malformed value is read the same way, leniently.
bool QValueAboveZero(std::string_view value) {
  return std::ranges::any_of(value, [](char c) { return c >= '1' && c <= '9'; });
}

}  // namespace

std::optional<std::string> GzipCompress(std::string_view input, int level) {
  thread_local ThreadDeflater deflater;
  z_stream* stream = deflater.Acquire(std::clamp(level, 1, 9));
  if (stream == nullptr) return std::nullopt;

  // deflateBound covers the gzip wrapper too, so one Z_FINISH call completes the stream when
  // the input fits one uInt; larger inputs are fed in slices.
  const uLong bound = deflateBound(stream, static_cast<uLong>(input.size()));
  std::string out;
  bool ok = false;
  out.resize_and_overwrite(bound, [&](char* data, size_t capacity) -> size_t {
    stream->next_out = reinterpret_cast<Bytef*>(data);
    stream->avail_out = static_cast<uInt>(capacity);
    std::string_view rest = input;
    for (;;) {
      const size_t slice = std::min<size_t>(rest.size(), UINT_MAX);
      stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
      stream->avail_in = static_cast<uInt>(slice);
      rest.remove_prefix(slice);
      const int rc = deflate(stream, rest.empty() ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ok = true;
        break;
      }
      if (rc != Z_OK || stream->avail_out == 0) break;
    }
    return ok ? static_cast<size_t>(stream->total_out) : 0;
  });
  if (!ok) return std::nullopt;
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  bool gzip_listed = false;
  bool gzip_ok = false;
  bool star_ok = false;
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);

    const size_t semicolon = element.find(';');
    const std::string_view coding = Trim(element.substr(0, semicolon));
    bool acceptable = true;  // no q parameter means q=1
    if (semicolon != std::string_view::npos) {
      std::string_view params = element.substr(semicolon + 1);
      while (!params.empty()) {
        const size_t next = params.find(';');
        const std::string_view param = Trim(params.substr(0, next));
        params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
        if (param.size() >= 2 && Lower(param[0]) == 'q' && param[1] == '=') {
          acceptable = QValueAboveZero(Trim(param.substr(2)));
        }
      }
    }
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_listed = true;
      gzip_ok = gzip_ok || acceptable;
    } else if (coding == "*") {
      star_ok = acceptable;
    }
  }
  return gzip_listed ? gzip_ok : star_ok;
}

}  // namespace hangar::http
