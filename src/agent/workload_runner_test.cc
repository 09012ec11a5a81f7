#include "agent/workload_runner.h"

#include <gtest/gtest.h>

namespace hangar::agent {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(ToValidUtf8, KeepsValidTextWhole) {
  std::string text = "loss=0.25 \xC3\xA9\xE2\x82\xAC\xF0\x9F\x9A\x80\n";  // é € 🚀
  auto chunk = ToValidUtf8(text, false);
  EXPECT_EQ(chunk.text, text);
  EXPECT_EQ(chunk.consumed, text.size());
}

TEST(ToValidUtf8, ReplacesInvalidBytesAndNul) {
  std::string raw(
      "a\xFF"
      "b\0c\xC0\xAF"
      "d\xED\xA0\x80",
      11);  // bad byte, NUL, overlong, surrogate
  auto chunk = ToValidUtf8(raw, true);
  EXPECT_EQ(chunk.text, "a" + kReplacement + "b" + kReplacement + "c" + kReplacement +
                            kReplacement + "d" + kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(chunk.consumed, raw.size());
}

TEST(ToValidUtf8, LeavesACutSequenceForTheNextReadUnlessTheStreamEnded) {
  std::string raw = "ok \xE2\x82";  // the first two bytes of €
  auto open = ToValidUtf8(raw, false);
  EXPECT_EQ(open.text, "ok ");
  EXPECT_EQ(open.consumed, 3u);
  auto ended = ToValidUtf8(raw, true);
  EXPECT_EQ(ended.text, "ok " + kReplacement + kReplacement);
  EXPECT_EQ(ended.consumed, raw.size());
}

}  // namespace
}  // namespace hangar::agent
