#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace hangar {
namespace {

TEST(IdsTest, GeneratedIdsHaveThePrefixAndParseBack) {
  FakeClock clock(FromUnixMicros(1'795'000'000'000'000));
  NodeId id = NodeId::Generate(clock);
  EXPECT_EQ(id.str().substr(0, 5), "node_");
  EXPECT_EQ(id.str().size(), 31u);
  auto parsed = NodeId::Parse(id.str());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, id);
}

TEST(IdsTest, IdsSortByCreationTime) {
  FakeClock clock(FromUnixMicros(1'795'000'000'000'000));
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(GpuId::Generate(clock).str());
    clock.Advance(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST(IdsTest, ParseRejectsOtherKindsAndGarbage) {
  FakeClock clock(FromUnixMicros(1'795'000'000'000'000));
  std::string gpu = GpuId::Generate(clock).str();
  EXPECT_FALSE(NodeId::Parse(gpu).has_value());
  EXPECT_FALSE(NodeId::Parse("node_").has_value());
  EXPECT_FALSE(NodeId::Parse("node_0123456789abcdefghjkmnpqrU").has_value());
  EXPECT_FALSE(NodeId::Parse("node_0123456789abcdefghjkmnpqrsi").has_value());  // 'i' not base32
  auto err = NodeId::Parse("nope");
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(err.error().message().find("node id"), std::string::npos);
}

}  // namespace
}  // namespace hangar
