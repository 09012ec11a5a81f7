#include "common/json_codec.h"

#include <gtest/gtest.h>

namespace hangar::json {
namespace {

BOOST_DEFINE_ENUM_CLASS(Color, red, green)

struct Inner {
  int32_t count = 0;
  std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(Inner, (), (count, note))

struct Outer {
  std::string name;
  Color color = Color::red;
  std::vector<Inner> items;
  std::map<std::string, std::string> labels;
  std::optional<bool> flag;
};
BOOST_DESCRIBE_STRUCT(Outer, (), (name, color, items, labels, flag))

TEST(JsonCodecTest, RoundTripsDescribedStructs) {
  Outer in{"a", Color::green, {{3, "x"}, {4, std::nullopt}}, {{"zone", "z1"}}, true};
  std::string text = Serialize(in);
  EXPECT_EQ(
      text,
      R"({"name":"a","color":"green","items":[{"count":3,"note":"x"},{"count":4,"note":null}],"labels":{"zone":"z1"},"flag":true})");
  auto out = ParseAs<Outer>(text);
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->items[1].count, 4);
  EXPECT_EQ(out->color, Color::green);
}

TEST(JsonCodecTest, DirectSerialisationMatchesBoostJson) {
  std::string awkward = "quote\" back\\ nl\n tab\t bell\x07 del\x7f utf8 \xc3\xa9 nul";
  awkward.push_back('\0');
  Outer in{awkward, Color::red, {{-42, std::nullopt}}, {{"k\"ey", awkward}}, std::nullopt};
  EXPECT_EQ(Serialize(in), bj::serialize(Encode(in)));
  auto back = ParseAs<Outer>(Serialize(in));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->name, awkward);
  EXPECT_EQ(back->labels.at("k\"ey"), awkward);
}

TEST(JsonCodecTest, NamesEveryBadFieldByPointer) {
  auto out = ParseAs<Outer>(
      R"({"color":"blue","items":[{"count":"3"},{"count":99999999999}],"labels":{"a/b":1},"extra":1})");
  ASSERT_FALSE(out.has_value());
  const Error& e = out.error();
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  std::map<std::string, std::string> by_pointer;
  for (const auto& v : e.violations()) by_pointer[v.pointer] = v.detail;
  EXPECT_EQ(by_pointer["/name"], "is required");
  EXPECT_EQ(by_pointer["/color"], "must be one of: red, green");
  EXPECT_EQ(by_pointer["/items/0/count"], "must be an integer, not a string");
  EXPECT_EQ(by_pointer["/items/1/count"], "integer out of range");
  EXPECT_EQ(by_pointer["/labels/a~1b"], "must be a string, not an integer");
  EXPECT_EQ(by_pointer["/extra"], "is not a known field");
}

TEST(JsonCodecTest, HugeOrFractionalNumbersAreNotIntegers) {
  for (const char* bad : {R"({"count":1e300})", R"({"count":1.5})", R"({"count":-1e19})"}) {
    auto out = ParseAs<Inner>(bad);
    ASSERT_FALSE(out.has_value()) << bad;
    EXPECT_EQ(out.error().violations().at(0).pointer, "/count") << bad;
  }
  EXPECT_EQ(ParseAs<Inner>(R"({"count":1e3})")->count, 1000);
}

TEST(JsonCodecTest, MalformedJsonIsMalformedNotInvalid) {
  for (const char* bad : {"", "{", "{\"name\": }", "[1,2", "{} trailing"}) {
    auto out = ParseAs<Outer>(bad);
    ASSERT_FALSE(out.has_value()) << bad;
    EXPECT_EQ(out.error().code(), ErrorCode::kMalformed) << bad;
  }
}

TEST(JsonCodecTest, TopLevelMustBeAnObject) {
  auto out = ParseAs<Outer>("[1]");
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().violations().at(0).pointer, "/");
}

}  // namespace
}  // namespace hangar::json
