#include "gateway/list_query.h"

#include <gtest/gtest.h>

namespace hangar::gateway {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

std::map<std::string, std::string> Violations(const Error& e) {
  std::map<std::string, std::string> out;
  for (const auto& v : e.violations()) out[v.pointer] = v.detail;
  return out;
}

TEST(ListQueryTest, ParsesEveryKindOfParameter) {
  auto q = ParseListQuery({{"limit", "100"},
                           {"sort", "-memory_mib,index"},
                           {"state", "ready"},
                           {"created_after", "2026-01-02T03:04:05Z"}},
                          store::GpuListSpec());
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->limit, 100);
  ASSERT_EQ(q->sort.size(), 2u);
  EXPECT_EQ(q->sort[0].field, "memory_mib");
  EXPECT_TRUE(q->sort[0].descending);
  EXPECT_FALSE(q->sort[1].descending);
  ASSERT_EQ(q->equals.size(), 1u);
  EXPECT_EQ(std::get<std::string>(q->equals[0].second), "ready");
  EXPECT_TRUE(q->created_after.has_value());
}

TEST(ListQueryTest, DefaultsWhenEmpty) {
  auto q = ParseListQuery({}, store::NodeListSpec());
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->limit, kDefaultPageSize);
  EXPECT_TRUE(q->sort.empty());
}

TEST(ListQueryTest, NamesEachBadParameter) {
  auto q = ParseListQuery(
      {{"limit", "0"}, {"sort", "nonsense"}, {"created_before", "yesterday"}, {"cordoned", "yes"}},
      store::NodeListSpec());
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code(), ErrorCode::kInvalidArgument);
  auto v = Violations(q.error());
  EXPECT_TRUE(v.contains("query:limit"));
  EXPECT_NE(v["query:sort"].find("cannot sort by 'nonsense'"), std::string::npos);
  EXPECT_TRUE(v.contains("query:created_before"));
  EXPECT_EQ(v["query:cordoned"], "must be true or false");
}

TEST(ListQueryTest, RejectsLimitsAboveTheMaximumAndRepeats) {
  auto big = ParseListQuery({{"limit", "1001"}}, store::GpuListSpec());
  ASSERT_FALSE(big.has_value());
  auto twice = ParseListQuery({{"state", "ready"}, {"state", "unhealthy"}}, store::GpuListSpec());
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(Violations(twice.error())["query:state"], "may be given once");
}

TEST(ListQueryTest, StateFiltersMustNameAState) {
  auto bad = ParseListQuery({{"state", "bogus"}}, store::GpuListSpec());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(Violations(bad.error())["query:state"],
            "must be one of: ready, unhealthy, unreachable");
  EXPECT_TRUE(ParseListQuery({{"state", "unreachable"}}, store::NodeListSpec()).has_value());
  EXPECT_FALSE(ParseListQuery({{"state", "unhealthy"}}, store::NodeListSpec()).has_value());
}

TEST(ListQueryTest, BoolFiltersBecomeIntegers) {
  auto q = ParseListQuery({{"cordoned", "true"}}, store::NodeListSpec());
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(std::get<int64_t>(q->equals[0].second), 1);
}

}  // namespace
}  // namespace hangar::gateway
