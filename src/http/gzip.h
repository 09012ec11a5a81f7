// gzip content coding for HTTP responses: compressing a body (RFC 1952 framing, zlib deflate)
// and deciding from an Accept-Encoding header whether the client takes gzip.
//
// Thread-safety: both functions may be called from any thread at once. GzipCompress keeps one
// deflate state per calling thread (reset between calls) so that small responses do not pay
// for zlib's ~256 KiB state allocation each time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hangar::http {

// zlib level 1: nginx's default; JSON still shrinks 5-10x and it costs a fraction of level 6.
inline constexpr int kDefaultGzipLevel = 1;

// Compresses `input` into a gzip member (header, deflate stream, CRC-32 and size trailer).
// `level` is zlib's 1 (fastest) .. 9 (smallest); out-of-range values are clamped. Returns
// nullopt when zlib fails (out of memory); the caller then sends the body uncompressed.
std::optional<std::string> GzipCompress(std::string_view input, int level = kDefaultGzipLevel);

// True when an Accept-Encoding header value admits gzip: "gzip" or "x-gzip" with a q-value
// above zero, or, when neither is listed, "*" with a q-value above zero. "gzip;q=0" refuses.
// Coding names and parameters are matched case-insensitively; an empty header refuses.
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace hangar::http
