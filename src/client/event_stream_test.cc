// Tests of the Server-Sent Events parser: events split anywhere across reads, every line ending,
// comments, ids that persist, and stopping early.
#include "client/event_stream.h"

#include <gtest/gtest.h>

#include <vector>

namespace hangar::client {
namespace {

std::vector<ServerSentEvent> ParseInPieces(std::string_view text, size_t piece) {
  EventStreamParser parser;
  std::vector<ServerSentEvent> events;
  for (size_t i = 0; i < text.size(); i += piece) {
    EXPECT_TRUE(parser.Feed(text.substr(i, piece), [&](const ServerSentEvent& e) {
      events.push_back(e);
      return true;
    }));
  }
  return events;
}

TEST(EventStreamParserTest, ParsesEventsSplitAnywhere) {
  const std::string_view text =
      ": keep-alive\n\n"
      "id: 7\nevent: output\ndata: {\"text\":\"a\"}\n\n"
      "data: one\r\ndata:two\r\rretry: 10\nid: 9\nevent: end\ndata: {}\n\n"
      "data: unfinished";
  for (size_t piece : {1, 2, 3, 5, 1000}) {
    auto events = ParseInPieces(text, piece);
    ASSERT_EQ(events.size(), 3u) << piece;
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[0].event, "output");
    EXPECT_EQ(events[0].data, "{\"text\":\"a\"}");
    EXPECT_EQ(events[1].id, "7");  // an event without id keeps the last one
    EXPECT_EQ(events[1].event, "message");
    EXPECT_EQ(events[1].data, "one\ntwo");
    EXPECT_EQ(events[2].id, "9");
    EXPECT_EQ(events[2].event, "end");
  }
}

TEST(EventStreamParserTest, StopsWhenTheCallbackSaysSo) {
  EventStreamParser parser;
  int seen = 0;
  EXPECT_FALSE(parser.Feed("data: 1\n\ndata: 2\n\n", [&](const ServerSentEvent&) {
    ++seen;
    return false;
  }));
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace hangar::client
