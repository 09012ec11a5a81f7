#include "client/event_stream.h"

namespace hangar::client {

bool EventStreamParser::Feed(std::string_view bytes,
                             const std::function<bool(const ServerSentEvent&)>& on_event) {
  size_t start = 0;
  if (skip_lf_ && !bytes.empty() && bytes.front() == '\n') start = 1;
  skip_lf_ = false;
  for (size_t i = start; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    std::string_view piece = bytes.substr(start, i - start);
    bool ok = true;
    if (partial_.empty()) {
      ok = Line(piece, on_event);
    } else {
      partial_ += piece;
      std::string line = std::move(partial_);
      partial_.clear();
      ok = Line(line, on_event);
    }
    if (!ok) return false;
    if (c == '\r') {
      if (i + 1 == bytes.size()) {
        skip_lf_ = true;
      } else if (bytes[i + 1] == '\n') {
        ++i;
      }
    }
    start = i + 1;
  }
  partial_ += bytes.substr(start);
  return true;
}

bool EventStreamParser::Line(std::string_view line,
                             const std::function<bool(const ServerSentEvent&)>& on_event) {
  if (line.empty()) {
    if (!has_data_) {
      event_.clear();
      return true;
    }
    ServerSentEvent event{
        .id = last_id_, .event = event_.empty() ? "message" : event_, .data = std::move(data_)};
    event_.clear();
    data_.clear();
    has_data_ = false;
    return on_event(event);
  }
  if (line.front() == ':') return true;  // a comment
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  } else if (field == "event") {
    event_ = value;
  } else if (field == "id" && value.find('\0') == std::string_view::npos) {
    last_id_ = value;
  }
  return true;
}

}  // namespace hangar::client
