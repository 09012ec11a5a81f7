// Tests for TimeZone: name checks, TZif versions 1-3 and corrupt files, POSIX TZ rules, offsets
// and civil <-> UTC conversion across DST changes. Real zones come from /usr/share/zoneinfo
// (Debian's tzdata package, a test dependency); the expected instants were checked against
// Python's zoneinfo.
#include "common/time_zone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <tuple>

namespace hangar {
namespace {

using ::testing::HasSubstr;

constexpr Micros kHour = std::chrono::hours(1);

Timestamp At(std::string_view text) {
  auto t = ParseRfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Timestamp{});
}

TimeZone Zone(std::string_view name) {
  auto zone = TimeZone::Load(name);
  EXPECT_TRUE(zone.has_value()) << name << ": " << (zone ? "" : zone.error().ToString());
  return zone.value_or(TimeZone::Utc());
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Builds TZif files by hand, so each version and each corruption is exercised on purpose.
struct TzifType {
  int32_t offset;
  bool is_dst;
  uint8_t designation;
};

std::string BigEndian(int64_t value, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) {
    out += static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
  }
  return out;
}

std::string TzifBlock(char version, const std::vector<int64_t>& times,
                      const std::vector<uint8_t>& indices, const std::vector<TzifType>& types,
                      const std::string& chars, int time_size, uint32_t leapcnt = 0) {
  std::string out = "TZif";
  out += version;
  out += std::string(15, '\0');
  for (int64_t count :
       {int64_t{0}, int64_t{0}, int64_t{leapcnt}, static_cast<int64_t>(times.size()),
        static_cast<int64_t>(types.size()), static_cast<int64_t>(chars.size())}) {
    out += BigEndian(count, 4);
  }
  for (int64_t t : times) out += BigEndian(t, time_size);
  for (uint8_t index : indices) out += static_cast<char>(index);
  for (const TzifType& type : types) {
    out += BigEndian(type.offset, 4);
    out += static_cast<char>(type.is_dst ? 1 : 0);
    out += static_cast<char>(type.designation);
  }
  out += chars;
  for (uint32_t i = 0; i < leapcnt; ++i) out += BigEndian(0, time_size) + BigEndian(0, 4);
  return out;
}

// A zone "Test/Fake": LMT +00:30 until 2001-09-09T01:46:40Z, then AAA +01:00, then from
// 2004-11-09T11:33:20Z BBB +02:00 (DST).
const std::vector<int64_t> kFakeTimes = {1'000'000'000, 1'100'000'000};
const std::vector<uint8_t> kFakeIndices = {1, 2};
const std::vector<TzifType> kFakeTypes = {{1800, false, 0}, {3600, false, 4}, {7200, true, 8}};
const std::string kFakeChars = std::string("LMT\0AAA\0BBB\0", 12);

TEST(TimeZoneTest, UtcIsBuiltInWithoutFiles) {
  for (std::string_view name : {"UTC", "Etc/UTC"}) {
    auto zone = TimeZone::Load(name, "/nonexistent/zoneinfo");
    ASSERT_TRUE(zone.has_value()) << name;
    EXPECT_EQ(zone->name(), name);
    EXPECT_EQ(zone->OffsetAt(At("2026-07-01T12:00:00Z")), Micros(0));
    EXPECT_EQ(zone->AbbreviationAt(At("2026-07-01T12:00:00Z")), "UTC");
    EXPECT_FALSE(zone->NextTransition(At("1970-01-01T00:00:00Z")).has_value());
    EXPECT_FALSE(zone->PreviousTransition(At("2026-01-01T00:00:00Z")).has_value());
  }
  TimeZone default_zone;
  EXPECT_EQ(default_zone.name(), "UTC");
  LocalTime local = default_zone.ToLocal(At("2026-11-22T18:31:05.250000Z"));
  EXPECT_EQ(local.civil(), (CivilTime{2026, 11, 22, 18, 31, 5}));
  EXPECT_EQ(local.weekday, 0);  // a Sunday
  EXPECT_EQ(local.subsecond, Micros(250'000));
}

TEST(TimeZoneTest, RejectsNamesThatCouldEscapeTheZoneDirectory) {
  for (std::string_view name :
       {"../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "Europe/./Berlin", "",
        "Europe//Berlin", "Europe/Berlin/", "Europe/Berlin.tz", "Europe Berlin", "Europe\\Berlin",
        "Europe/Berlin\n"}) {
    auto zone = TimeZone::Load(name);
    ASSERT_FALSE(zone.has_value()) << name;
    EXPECT_EQ(zone.error().code(), ErrorCode::kInvalidArgument) << name;
    EXPECT_THAT(zone.error().message(), HasSubstr("invalid time zone name")) << name;
  }
  EXPECT_THAT(TimeZone::Load("../etc/passwd").error().message(), HasSubstr("'..'"));
  EXPECT_THAT(TimeZone::Load(std::string(300, 'A')).error().message(), HasSubstr("longer"));
}

TEST(TimeZoneTest, UnknownZonesAreInvalidArguments) {
  for (std::string_view name : {"Nope/Zone", "America", "Mars/Olympus_Mons"}) {
    auto zone = TimeZone::Load(name);
    ASSERT_FALSE(zone.has_value()) << name;
    EXPECT_EQ(zone.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(zone.error().message(), HasSubstr("unknown time zone '" + std::string(name)));
  }
}

TEST(TimeZoneTest, BerlinOffsetsAndAbbreviations) {
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin.name(), "Europe/Berlin");
  EXPECT_EQ(berlin.OffsetAt(At("2026-01-15T12:00:00Z")), kHour);
  EXPECT_EQ(berlin.AbbreviationAt(At("2026-01-15T12:00:00Z")), "CET");
  EXPECT_EQ(berlin.OffsetAt(At("2026-07-01T12:00:00Z")), 2 * kHour);
  EXPECT_EQ(berlin.AbbreviationAt(At("2026-07-01T12:00:00Z")), "CEST");
  // The change happens exactly at 01:00:00Z.
  EXPECT_EQ(berlin.OffsetAt(At("2026-03-29T00:59:59.999999Z")), kHour);
  EXPECT_EQ(berlin.OffsetAt(At("2026-03-29T01:00:00Z")), 2 * kHour);
  LocalTime summer = berlin.ToLocal(At("2026-07-01T12:00:00Z"));
  EXPECT_EQ(summer.civil(), (CivilTime{2026, 7, 1, 14, 0, 0}));
  EXPECT_TRUE(summer.is_dst);
  EXPECT_EQ(summer.offset, 2 * kHour);
  EXPECT_EQ(summer.abbreviation, "CEST");
  EXPECT_EQ(summer.weekday, 3);  // a Wednesday
}

TEST(TimeZoneTest, BerlinTransitionsIn2026) {
  TimeZone berlin = Zone("Europe/Berlin");
  auto spring = berlin.NextTransition(At("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(spring.has_value());
  EXPECT_EQ(*spring, (ZoneTransition{At("2026-03-29T01:00:00Z"), kHour, 2 * kHour}));
  auto autumn = berlin.NextTransition(spring->at);
  ASSERT_TRUE(autumn.has_value());
  EXPECT_EQ(*autumn, (ZoneTransition{At("2026-10-25T01:00:00Z"), 2 * kHour, kHour}));
  EXPECT_EQ(berlin.PreviousTransition(At("2026-07-01T00:00:00Z")), spring);
  // At the instant itself, the transition is the previous one and not the next.
  EXPECT_EQ(berlin.PreviousTransition(spring->at), spring);
  EXPECT_EQ(berlin.NextTransition(spring->at - Micros(1)), spring);
}

TEST(TimeZoneTest, NewYorkToLocalAcrossTheOverlap) {
  TimeZone new_york = Zone("America/New_York");
  LocalTime first = new_york.ToLocal(At("2026-11-01T05:30:00Z"));
  LocalTime second = new_york.ToLocal(At("2026-11-01T06:30:00Z"));
  EXPECT_EQ(first.civil(), (CivilTime{2026, 11, 1, 1, 30, 0}));
  EXPECT_EQ(second.civil(), (CivilTime{2026, 11, 1, 1, 30, 0}));
  EXPECT_EQ(first.abbreviation, "EDT");
  EXPECT_EQ(second.abbreviation, "EST");
  EXPECT_EQ(first.offset, -4 * kHour);
  EXPECT_EQ(second.offset, -5 * kHour);
  EXPECT_EQ(first.weekday, 0);
}

TEST(TimeZoneTest, LookupReportsGapsAndOverlaps) {
  TimeZone berlin = Zone("Europe/Berlin");
  CivilLookup gap = berlin.Lookup({2026, 3, 29, 2, 30, 0});
  EXPECT_EQ(gap.kind, CivilLookup::Kind::kSkipped);
  EXPECT_EQ(gap.first, At("2026-03-29T01:00:00Z"));  // 03:00 CEST, the first instant after it
  EXPECT_TRUE(berlin.FromLocal({2026, 3, 29, 2, 30, 0}).empty());
  CivilLookup overlap = berlin.Lookup({2026, 10, 25, 2, 30, 0});
  EXPECT_EQ(overlap.kind, CivilLookup::Kind::kRepeated);
  EXPECT_EQ(berlin.FromLocal({2026, 10, 25, 2, 30, 0}),
            (std::vector<Timestamp>{At("2026-10-25T00:30:00Z"), At("2026-10-25T01:30:00Z")}));
  EXPECT_EQ(berlin.FromLocal({2026, 6, 1, 12, 0, 0}),
            (std::vector<Timestamp>{At("2026-06-01T10:00:00Z")}));
  // The edges: 02:00 is skipped, 03:00 exists; 02:00 happens twice, 03:00 once.
  EXPECT_EQ(berlin.Lookup({2026, 3, 29, 2, 0, 0}).kind, CivilLookup::Kind::kSkipped);
  EXPECT_EQ(berlin.FromLocal({2026, 3, 29, 3, 0, 0}),
            (std::vector<Timestamp>{At("2026-03-29T01:00:00Z")}));
  EXPECT_EQ(berlin.Lookup({2026, 10, 25, 2, 0, 0}).kind, CivilLookup::Kind::kRepeated);
  EXPECT_EQ(berlin.Lookup({2026, 10, 25, 3, 0, 0}).kind, CivilLookup::Kind::kUnique);

  TimeZone new_york = Zone("America/New_York");
  CivilLookup ny_gap = new_york.Lookup({2026, 3, 8, 2, 30, 0});
  EXPECT_EQ(ny_gap.kind, CivilLookup::Kind::kSkipped);
  EXPECT_EQ(ny_gap.first, At("2026-03-08T07:00:00Z"));
  EXPECT_EQ(new_york.FromLocal({2026, 11, 1, 1, 30, 0}),
            (std::vector<Timestamp>{At("2026-11-01T05:30:00Z"), At("2026-11-01T06:30:00Z")}));
}

TEST(TimeZoneTest, LookupCarriesOverOutOfRangeFields) {
  TimeZone utc = TimeZone::Utc();
  EXPECT_EQ(utc.FromLocal({2026, 1, 32, 24, 0, 0}),
            (std::vector<Timestamp>{At("2026-02-02T00:00:00Z")}));
  EXPECT_EQ(utc.FromLocal({2026, 13, 1, 0, -1, 0}),
            (std::vector<Timestamp>{At("2026-12-31T23:59:00Z")}));
}

TEST(TimeZoneTest, LookupRoundTripsThroughToLocal) {
  // Every quarter hour of 2026 in a zone with a 30-minute DST shift: ToLocal then Lookup gives
  // the instant back (as one of the two in an overlap).
  TimeZone lord_howe = Zone("Australia/Lord_Howe");
  std::mt19937 random(42);
  std::uniform_int_distribution<int64_t> quarter(0, 365 * 96 - 1);
  for (int i = 0; i < 500; ++i) {
    Timestamp t = At("2026-01-01T00:00:00Z") + quarter(random) * std::chrono::minutes(15);
    CivilLookup lookup = lord_howe.Lookup(lord_howe.ToLocal(t).civil());
    ASSERT_NE(lookup.kind, CivilLookup::Kind::kSkipped) << FormatRfc3339(t);
    EXPECT_TRUE(lookup.first == t || lookup.second == t) << FormatRfc3339(t);
  }
  // Its spring gap is 02:00-02:30 local (+10:30 -> +11:00) on 2026-10-04.
  CivilLookup gap = lord_howe.Lookup({2026, 10, 4, 2, 15, 0});
  EXPECT_EQ(gap.kind, CivilLookup::Kind::kSkipped);
  EXPECT_EQ(gap.first, At("2026-10-03T15:30:00Z"));
}

TEST(TimeZoneTest, KolkataIsFiveAndAHalfHoursAhead) {
  TimeZone kolkata = Zone("Asia/Kolkata");
  EXPECT_EQ(kolkata.OffsetAt(At("2026-01-01T00:00:00Z")), std::chrono::minutes(330));
  EXPECT_EQ(kolkata.AbbreviationAt(At("2026-01-01T00:00:00Z")), "IST");
  EXPECT_EQ(kolkata.ToLocal(At("2026-01-01T00:00:00Z")).civil(), (CivilTime{2026, 1, 1, 5, 30, 0}));
  EXPECT_FALSE(kolkata.NextTransition(At("1970-01-01T00:00:00Z")).has_value());
  auto last = kolkata.PreviousTransition(At("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(last.has_value());
  EXPECT_LT(last->at, At("1950-01-01T00:00:00Z"));
  EXPECT_EQ(last->offset_after, std::chrono::minutes(330));
}

TEST(TimeZoneTest, FarFutureFollowsTheFooterRule) {
  // The file's table ends in 2037 at the latest; 2090 comes from "CET-1CEST,M3.5.0,M10.5.0/3".
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin.OffsetAt(At("2090-01-15T12:00:00Z")), kHour);
  EXPECT_EQ(berlin.OffsetAt(At("2090-07-01T12:00:00Z")), 2 * kHour);
  EXPECT_EQ(berlin.AbbreviationAt(At("2090-07-01T12:00:00Z")), "CEST");
  auto spring = berlin.NextTransition(At("2090-01-01T00:00:00Z"));
  ASSERT_TRUE(spring.has_value());
  EXPECT_EQ(*spring, (ZoneTransition{At("2090-03-26T01:00:00Z"), kHour, 2 * kHour}));
  auto autumn = berlin.NextTransition(spring->at);
  ASSERT_TRUE(autumn.has_value());
  EXPECT_EQ(*autumn, (ZoneTransition{At("2090-10-29T01:00:00Z"), 2 * kHour, kHour}));
  EXPECT_EQ(berlin.PreviousTransition(At("2090-08-01T00:00:00Z")), spring);
  EXPECT_EQ(berlin.Lookup({2090, 3, 26, 2, 30, 0}).first, At("2090-03-26T01:00:00Z"));
  EXPECT_EQ(berlin.FromLocal({2090, 10, 29, 2, 30, 0}).size(), 2u);
  // Far beyond std::chrono's calendar the rule still holds (400-year cycles).
  EXPECT_EQ(berlin.OffsetAt(At("9999-07-01T00:00:00Z")), 2 * kHour);
  EXPECT_EQ(berlin.OffsetAt(At("9999-12-01T00:00:00Z")), kHour);
  EXPECT_EQ(berlin.OffsetAt(Timestamp::max()), kHour);  // 294247-01-10
  EXPECT_EQ(berlin.ToLocal(At("9999-12-31T22:59:59Z")).civil(),
            (CivilTime{9999, 12, 31, 23, 59, 59}));
}

TEST(TimeZoneTest, LoadsFromAnotherZoneinfoDirectory) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              ("time_zone_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir / "Test");
  std::filesystem::copy_file("/usr/share/zoneinfo/Europe/Berlin", dir / "Test" / "Berlin_Copy");
  { std::ofstream(dir / "Test" / "Broken", std::ios::binary) << "TZif2 but not really"; }
  auto copy = TimeZone::Load("Test/Berlin_Copy", dir);
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  EXPECT_EQ(copy->name(), "Test/Berlin_Copy");
  EXPECT_EQ(copy->OffsetAt(At("2026-07-01T12:00:00Z")), 2 * kHour);
  EXPECT_EQ(copy->NextTransition(At("2026-01-01T00:00:00Z"))->at, At("2026-03-29T01:00:00Z"));
  auto broken = TimeZone::Load("Test/Broken", dir);
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(broken.error().message(), HasSubstr("invalid TZif file"));
  EXPECT_FALSE(TimeZone::Load("Europe/Berlin", dir).has_value());  // not in this directory
  std::filesystem::remove_all(dir);
}

TEST(TimeZoneTest, ReadsVersion1Files) {
  std::string bytes = TzifBlock('\0', kFakeTimes, kFakeIndices, kFakeTypes, kFakeChars, 4);
  auto zone = TimeZone::FromTzif("Test/Fake", bytes);
  ASSERT_TRUE(zone.has_value()) << zone.error().ToString();
  EXPECT_EQ(zone->OffsetAt(At("1990-01-01T00:00:00Z")), std::chrono::minutes(30));
  EXPECT_EQ(zone->AbbreviationAt(At("1990-01-01T00:00:00Z")), "LMT");
  EXPECT_EQ(zone->OffsetAt(At("2002-01-01T00:00:00Z")), kHour);
  EXPECT_EQ(zone->AbbreviationAt(At("2002-01-01T00:00:00Z")), "AAA");
  // Without a footer the last type holds forever.
  EXPECT_EQ(zone->OffsetAt(At("2090-01-01T00:00:00Z")), 2 * kHour);
  EXPECT_TRUE(zone->ToLocal(At("2090-01-01T00:00:00Z")).is_dst);
  EXPECT_EQ(
      zone->NextTransition(At("2000-01-01T00:00:00Z")),
      (ZoneTransition{FromUnixMicros(1'000'000'000'000'000), std::chrono::minutes(30), kHour}));
  EXPECT_FALSE(zone->NextTransition(At("2010-01-01T00:00:00Z")).has_value());
}

TEST(TimeZoneTest, PrefersThe64BitBlockAndItsFooter) {
  for (char version : {'2', '3'}) {
    // The 32-bit block says "always XXX +05:00"; a reader must skip it.
    std::string v1 = TzifBlock(version, {}, {}, {{5 * 3600, false, 0}}, std::string("XXX\0", 4), 4);
    std::vector<int64_t> times = {-5'000'000'000, 1'000'000'000, 1'100'000'000};  // one before 1901
    std::vector<uint8_t> indices = {0, 1, 2};
    std::string bytes = v1 + TzifBlock(version, times, indices, kFakeTypes, kFakeChars, 8) +
                        "\nAAA-1BBB,M3.5.0,M10.5.0/3\n";
    auto zone = TimeZone::FromTzif("Test/Fake", bytes);
    ASSERT_TRUE(zone.has_value()) << version << ": " << zone.error().ToString();
    EXPECT_EQ(zone->OffsetAt(At("1990-01-01T00:00:00Z")), std::chrono::minutes(30));
    EXPECT_EQ(zone->OffsetAt(At("2002-01-01T00:00:00Z")), kHour);
    // After the last transition the footer decides: standard time in January, DST in July.
    EXPECT_EQ(zone->OffsetAt(At("2090-01-15T00:00:00Z")), kHour);
    EXPECT_EQ(zone->AbbreviationAt(At("2090-01-15T00:00:00Z")), "AAA");
    EXPECT_EQ(zone->OffsetAt(At("2090-07-15T00:00:00Z")), 2 * kHour);
    EXPECT_EQ(zone->NextTransition(At("2090-01-01T00:00:00Z"))->at, At("2090-03-26T01:00:00Z"));
  }
}

TEST(TimeZoneTest, RejectsTruncatedAndCorruptFiles) {
  std::string berlin = ReadFile("/usr/share/zoneinfo/Europe/Berlin");
  ASSERT_GT(berlin.size(), 100u);
  ASSERT_TRUE(TimeZone::FromTzif("Europe/Berlin", berlin).has_value());
  // Every proper prefix is truncated somewhere: header, either block, or the footer.
  for (size_t size = 0; size < berlin.size(); ++size) {
    auto zone = TimeZone::FromTzif("Europe/Berlin", std::string_view(berlin).substr(0, size));
    ASSERT_FALSE(zone.has_value()) << size;
    ASSERT_EQ(zone.error().code(), ErrorCode::kInvalidArgument);
  }
  auto why = [](const std::string& bytes) {
    auto zone = TimeZone::FromTzif("Test/Bad", bytes);
    return zone ? std::string("accepted") : zone.error().message();
  };
  EXPECT_THAT(why("hello, world, this is not a zone file at all......"),
              HasSubstr("not a TZif file"));
  EXPECT_THAT(why(TzifBlock('\0', kFakeTimes, kFakeIndices, kFakeTypes, kFakeChars, 4, 1)),
              HasSubstr("leap-second"));
  EXPECT_THAT(
      why(TzifBlock('\0', {1'100'000'000, 1'000'000'000}, kFakeIndices, kFakeTypes, kFakeChars, 4)),
      HasSubstr("not ascending"));
  EXPECT_THAT(why(TzifBlock('\0', kFakeTimes, {1, 3}, kFakeTypes, kFakeChars, 4)),
              HasSubstr("missing local time type"));
  EXPECT_THAT(why(TzifBlock('\0', kFakeTimes, kFakeIndices,
                            {{1800, false, 0}, {3600, false, 4}, {7200, true, 20}}, kFakeChars, 4)),
              HasSubstr("out of range"));
  EXPECT_THAT(why(TzifBlock('\0', kFakeTimes, kFakeIndices, kFakeTypes, "LMTAAABBB", 4)),
              HasSubstr("NUL"));
  EXPECT_THAT(why(TzifBlock('5', {}, {}, kFakeTypes, kFakeChars, 4)), HasSubstr("version"));
  std::string v2 = TzifBlock('2', {}, {}, kFakeTypes, kFakeChars, 4) +
                   TzifBlock('2', kFakeTimes, kFakeIndices, kFakeTypes, kFakeChars, 8);
  EXPECT_THAT(why(v2 + "\nnot a rule\n"), HasSubstr("bad footer"));
  EXPECT_THAT(why(v2 + "\nCET-1"), HasSubstr("unterminated footer"));
  EXPECT_EQ(why(v2 + "\n\n"), "accepted");  // an empty footer means "no rule"
}

TEST(PosixRuleTest, EuropeanRuleMatchesBerlin) {
  auto rule = TimeZone::FromPosixRule("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(rule.has_value()) << rule.error().ToString();
  TimeZone berlin = Zone("Europe/Berlin");
  Timestamp t = At("2026-01-01T00:00:00Z");
  for (int i = 0; i < 6; ++i) {
    auto expected = berlin.NextTransition(t);
    ASSERT_TRUE(expected.has_value());
    EXPECT_EQ(rule->NextTransition(t), expected);
    t = expected->at;
  }
  EXPECT_EQ(rule->AbbreviationAt(At("2026-07-01T00:00:00Z")), "CEST");
}

TEST(PosixRuleTest, UsRule) {
  auto rule = TimeZone::FromPosixRule("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(rule.has_value()) << rule.error().ToString();
  EXPECT_EQ(rule->NextTransition(At("2026-01-01T00:00:00Z")),
            (ZoneTransition{At("2026-03-08T07:00:00Z"), -5 * kHour, -4 * kHour}));
  EXPECT_EQ(rule->NextTransition(At("2026-03-08T07:00:00Z")),
            (ZoneTransition{At("2026-11-01T06:00:00Z"), -4 * kHour, -5 * kHour}));
  // A DST name without a rule gets the same US rule.
  auto implied = TimeZone::FromPosixRule("EST5EDT");
  ASSERT_TRUE(implied.has_value());
  EXPECT_EQ(implied->NextTransition(At("2026-01-01T00:00:00Z"))->at, At("2026-03-08T07:00:00Z"));
}

TEST(PosixRuleTest, FixedOffsets) {
  auto india = TimeZone::FromPosixRule("<+0530>-5:30");
  ASSERT_TRUE(india.has_value()) << india.error().ToString();
  EXPECT_EQ(india->OffsetAt(At("2026-01-01T00:00:00Z")), std::chrono::minutes(330));
  EXPECT_EQ(india->AbbreviationAt(At("2026-01-01T00:00:00Z")), "+0530");
  EXPECT_FALSE(india->NextTransition(At("2026-01-01T00:00:00Z")).has_value());
  auto utc = TimeZone::FromPosixRule("UTC0");
  ASSERT_TRUE(utc.has_value());
  EXPECT_EQ(utc->OffsetAt(At("2026-01-01T00:00:00Z")), Micros(0));
  auto west = TimeZone::FromPosixRule("<-03>+3");
  ASSERT_TRUE(west.has_value());
  EXPECT_EQ(west->OffsetAt(At("2026-01-01T00:00:00Z")), -3 * kHour);
  auto seconds = TimeZone::FromPosixRule("LMT-0:53:28");
  ASSERT_TRUE(seconds.has_value());
  EXPECT_EQ(seconds->OffsetAt(At("2026-01-01T00:00:00Z")), std::chrono::seconds(3208));
}

TEST(PosixRuleTest, JulianDayForms) {
  // Jn counts 1-365 and never February 29: J60 is March 1 in every year.
  auto julian = TimeZone::FromPosixRule("XXX0YYY,J60,J300");
  ASSERT_TRUE(julian.has_value()) << julian.error().ToString();
  EXPECT_EQ(julian->NextTransition(At("2024-01-01T00:00:00Z"))->at, At("2024-03-01T02:00:00Z"));
  EXPECT_EQ(julian->NextTransition(At("2026-01-01T00:00:00Z"))->at, At("2026-03-01T02:00:00Z"));
  EXPECT_EQ(julian->NextTransition(At("2024-06-01T00:00:00Z"))->at, At("2024-10-27T01:00:00Z"));
  EXPECT_EQ(julian->NextTransition(At("2026-06-01T00:00:00Z"))->at, At("2026-10-27T01:00:00Z"));
  // n counts 0-365 and does count February 29: day 59 is Feb 29 in 2024, Mar 1 in 2026.
  auto zero_based = TimeZone::FromPosixRule("XXX0YYY,59,300");
  ASSERT_TRUE(zero_based.has_value()) << zero_based.error().ToString();
  EXPECT_EQ(zero_based->NextTransition(At("2024-01-01T00:00:00Z"))->at, At("2024-02-29T02:00:00Z"));
  EXPECT_EQ(zero_based->NextTransition(At("2026-01-01T00:00:00Z"))->at, At("2026-03-01T02:00:00Z"));
  EXPECT_EQ(zero_based->NextTransition(At("2024-06-01T00:00:00Z"))->at, At("2024-10-27T01:00:00Z"));
  EXPECT_EQ(zero_based->NextTransition(At("2026-06-01T00:00:00Z"))->at, At("2026-10-28T01:00:00Z"));
}

TEST(PosixRuleTest, SouthernHemisphereRule) {
  auto sydney = TimeZone::FromPosixRule("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_TRUE(sydney.has_value()) << sydney.error().ToString();
  EXPECT_EQ(sydney->OffsetAt(At("2026-01-15T00:00:00Z")), 11 * kHour);
  EXPECT_EQ(sydney->OffsetAt(At("2026-07-01T00:00:00Z")), 10 * kHour);
  EXPECT_EQ(sydney->NextTransition(At("2026-01-01T00:00:00Z")),
            (ZoneTransition{At("2026-04-04T16:00:00Z"), 11 * kHour, 10 * kHour}));
  EXPECT_EQ(sydney->NextTransition(At("2026-04-04T16:00:00Z")),
            (ZoneTransition{At("2026-10-03T16:00:00Z"), 10 * kHour, 11 * kHour}));
  EXPECT_EQ(sydney->PreviousTransition(At("2026-01-01T00:00:00Z"))->at, At("2025-10-04T16:00:00Z"));
}

TEST(PosixRuleTest, Version3TimeExtensions) {
  // Rule times may be negative or past 24:00. Greenland's rule lands on the EU instants.
  auto nuuk = TimeZone::FromPosixRule("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  ASSERT_TRUE(nuuk.has_value()) << nuuk.error().ToString();
  EXPECT_EQ(nuuk->NextTransition(At("2026-01-01T00:00:00Z"))->at, At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(nuuk->NextTransition(At("2026-06-01T00:00:00Z"))->at, At("2026-10-25T01:00:00Z"));
  // DST all year: the end (Dec 31 25:00 DST) meets next year's start (Jan 1 00:00 standard).
  auto always = TimeZone::FromPosixRule("EST5EDT,0/0,J365/25");
  ASSERT_TRUE(always.has_value()) << always.error().ToString();
  for (std::string_view t : {"2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z", "2026-07-01T00:00:00Z",
                             "2026-12-31T23:59:59Z", "2027-01-01T05:00:00Z"}) {
    EXPECT_EQ(always->OffsetAt(At(t)), -4 * kHour) << t;
  }
  EXPECT_FALSE(always->NextTransition(At("2026-01-01T00:00:00Z")).has_value());
  EXPECT_FALSE(always->PreviousTransition(At("2026-01-01T00:00:00Z")).has_value());
}

TEST(PosixRuleTest, RejectsMalformedRules) {
  for (std::string_view spec :
       {"", "C-1", "CET", "CET-", "CET-25", "<+05", "<+0:5>-5", "CET-1CEST,M13.5.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,M3.5.0",
        "CET-1CEST,J0,J100", "CET-1CEST,366,J100", "CET-1CEST,M3.5.0,M10.5.0/168",
        "CET-1CEST,M3.5.0,M10.5.0/3x", "CET-1:60", "CET-1CEST-2X"}) {
    auto zone = TimeZone::FromPosixRule(spec);
    ASSERT_FALSE(zone.has_value()) << spec;
    EXPECT_EQ(zone.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(zone.error().message(), HasSubstr("POSIX TZ string")) << spec;
  }
}

}  // namespace
}  // namespace hangar
