// EventStreamParser: reads a text/event-stream body (Server-Sent Events, WHATWG HTML) as it
// arrives, in pieces of any size, and hands out each complete event. The client side of
// http/sse.h: ApiClient::Follow uses it for the logs and events streams.
//
// Follows the spec's parsing rules where they matter to us: lines end in LF, CRLF or CR; a
// blank line dispatches the event (none when it has no data line); "field: value" and
// "field:value" both work; comments (": keep-alive") and unknown fields are ignored; `id`
// persists across events as the last event id, to send back as Last-Event-ID.
//
// Thread-safety: none; one parser per stream.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace hangar::client {

struct ServerSentEvent {
  std::string id;     // the last event id seen so far ("" before any)
  std::string event;  // "message" when the event named none
  std::string data;   // the data lines joined with "\n"
};

class EventStreamParser {
 public:
  // Parses `bytes` and calls `on_event` for each event they complete. Stops and returns false
  // as soon as `on_event` returns false (the rest of `bytes` is dropped); true otherwise.
  bool Feed(std::string_view bytes, const std::function<bool(const ServerSentEvent&)>& on_event);

  // The last event id seen: what to send as Last-Event-ID when reconnecting.
  const std::string& last_event_id() const { return last_id_; }

 private:
  bool Line(std::string_view line, const std::function<bool(const ServerSentEvent&)>& on_event);

  std::string partial_;   // an unfinished line
  bool skip_lf_ = false;  // the last piece ended in CR: a LF starting the next one is its pair
  std::string last_id_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace hangar::client
