#include "http/sse.h"

namespace hangar::http {

namespace {

// A field value on one line: a line break inside would end the field early.
void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (char c : value) {
    if (c != '\n' && c != '\r') out += c;
  }
  out += '\n';
}

}  // namespace

std::string SseEvent(std::string_view id, std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + event.size() + 32);
  if (!id.empty()) AppendField(out, "id", id);
  if (!event.empty()) AppendField(out, "event", event);
  size_t start = 0;
  for (;;) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? end : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
  }
  out += '\n';
  return out;
}

}  // namespace hangar::http
