#include "common/markup.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(MarkupTest, EscapesEveryCharacterThatCouldBreakOutOfTextOrAnAttribute) {
  EXPECT_EQ(EscapeMarkup(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(EscapeMarkup("plain text"), "plain text");
  EXPECT_EQ(EscapeMarkup(""), "");
}

}  // namespace
}  // namespace hangar
