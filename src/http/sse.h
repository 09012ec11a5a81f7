// Server-Sent Events: the text/event-stream format (WHATWG HTML, "Server-sent events"), for
// StreamSources that feed EventSource clients, the CLI and curl.
//
// An event is a block of "field: value" lines ended by a blank line; `id` is what a client sends
// back as Last-Event-ID when it reconnects, so a stream can resume after the last event it got.
// A line starting with ':' is a comment, which clients ignore: it keeps idle connections (and
// the proxies on the way) from timing out.
//
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <string_view>

namespace hangar::http {

// A comment line to send when a stream has been quiet for a while.
inline constexpr std::string_view kSseKeepAlive = ": keep-alive\n\n";

// One event. `data` may hold several lines (split on "\n", "\r\n" or "\r"); each becomes a
// data line, which clients join with "\n" again. Empty `id` or `event` are left out. `id` and
// `event` must not contain line breaks (they are removed).
std::string SseEvent(std::string_view id, std::string_view event, std::string_view data);

}  // namespace hangar::http
