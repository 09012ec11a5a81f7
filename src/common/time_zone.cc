// TZif (RFC 8536) and POSIX TZ string parsing, offset lookups and civil <-> UTC conversion; see
// time_zone.h for the contracts.
//
// All arithmetic is on int64 seconds, never on Timestamp + Micros, so instants near the ends of
// Timestamp's range cannot overflow. The POSIX rule is evaluated in a 400-year Gregorian cycle
// (146,097 days, a whole number of weeks), which is exact for any year and keeps std::chrono's
// calendar inside its range.
//
// Thread-safety: Rep is immutable once built; nothing here has mutable state.
#include "common/time_zone.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <limits>
#include <system_error>

namespace hangar {

namespace {

namespace chr = std::chrono;

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr int64_t kSecondsPerHour = 3'600;
// 400 Gregorian years; also a whole number of weeks, so weekday rules repeat with it.
constexpr int64_t kCycleSeconds = 146'097 * kSecondsPerDay;
// Timestamp's range, in whole seconds.
constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / kMicrosPerSecond;
constexpr int64_t kMinSeconds = -kMaxSeconds;
// No zone has ever been 26 hours from UTC; larger offsets in a file are corruption.
constexpr int64_t kMaxOffsetSeconds = 26 * kSecondsPerHour;
// TZif files are a few KiB; anything far larger is not one.
constexpr std::uintmax_t kMaxTzifBytes = 1 << 20;
constexpr size_t kMaxNameLength = 255;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t FloorSeconds(Timestamp t) {
  return FloorDiv(t.time_since_epoch().count(), kMicrosPerSecond);
}

Timestamp FromSeconds(int64_t seconds) {
  return Timestamp(Micros(std::clamp(seconds, kMinSeconds, kMaxSeconds) * kMicrosPerSecond));
}

int64_t DaysSinceEpoch(chr::year_month_day ymd) {
  return chr::sys_days(ymd).time_since_epoch().count();
}

// Seconds since the epoch of a civil time read as if it were UTC; fields carry over.
int64_t CivilToSeconds(const CivilTime& c) {
  int64_t month0 = int64_t{c.month} - 1;
  int64_t year = int64_t{c.year} + FloorDiv(month0, 12);
  month0 -= FloorDiv(month0, 12) * 12;
  // Keep the year inside std::chrono::year; shifting by whole 400-year cycles is exact.
  int64_t cycles = FloorDiv(year - 2000, 400);
  year -= cycles * 400;
  int64_t days = DaysSinceEpoch(chr::year(static_cast<int>(year)) /
                                chr::month(static_cast<unsigned>(month0 + 1)) / chr::day(1));
  days += int64_t{c.day} - 1 + cycles * 146'097;
  return days * kSecondsPerDay + int64_t{c.hour} * kSecondsPerHour + int64_t{c.minute} * 60 +
         c.second;
}

// The UTC year that `seconds` falls in (used only for seconds inside one 400-year cycle).
int YearOf(int64_t seconds) {
  chr::sys_days day{chr::days(FloorDiv(seconds, kSecondsPerDay))};
  return static_cast<int>(chr::year_month_day(day).year());
}

std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string shown(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) shown += "...";
  return "'" + shown + "'";
}

// One local time type: the offset, the DST flag and the abbreviation.
struct LocalType {
  int32_t utc_offset = 0;  // seconds east of UTC
  bool is_dst = false;
  std::string abbreviation;
};

// A day in a POSIX TZ rule: "Jn", "n" or "Mm.w.d".
struct RuleDate {
  enum class Kind { kJulianNoLeap, kZeroBased, kMonthWeekDay };
  Kind kind = Kind::kMonthWeekDay;
  int day = 0;  // Jn: 1-365; n: 0-365
  int month = 0;
  int week = 0;     // 1-5, 5 = the last one in the month
  int weekday = 0;  // 0 = Sunday
};

// A POSIX TZ string, the footer of a TZif file.
struct PosixRule {
  std::string std_abbreviation;
  int32_t std_offset = 0;  // seconds east of UTC (POSIX writes west)
  bool has_dst = false;
  std::string dst_abbreviation;
  int32_t dst_offset = 0;
  RuleDate start;
  RuleDate end;
  int32_t start_time = 2 * kSecondsPerHour;  // seconds after local midnight, -167h..167h
  int32_t end_time = 2 * kSecondsPerHour;
};

struct RuleTransition {
  int64_t at;  // seconds since the epoch
  bool to_dst;
};

int64_t RuleDayNumber(const RuleDate& date, int year) {
  chr::year y(year);
  int64_t jan1 = DaysSinceEpoch(y / chr::January / 1);
  switch (date.kind) {
    case RuleDate::Kind::kJulianNoLeap:
      return jan1 + date.day - 1 + (y.is_leap() && date.day >= 60 ? 1 : 0);
    case RuleDate::Kind::kZeroBased:
      return jan1 + date.day;
    case RuleDate::Kind::kMonthWeekDay: {
      chr::month m(static_cast<unsigned>(date.month));
      chr::weekday wd(static_cast<unsigned>(date.weekday));
      if (date.week == 5) return DaysSinceEpoch(chr::year_month_day(y / m / wd[chr::last]));
      return DaysSinceEpoch(chr::year_month_day(y / m / wd[static_cast<unsigned>(date.week)]));
    }
  }
  return jan1;
}

// The rule's transitions in the five years around `seconds`, in time order. Ties keep year
// order, so a rule whose DST ends exactly when next year's starts ("0/0,J365/25", DST all year)
// ends in DST.
std::vector<RuleTransition> RuleTransitionsAround(const PosixRule& rule, int64_t seconds) {
  int64_t shift = FloorDiv(seconds, kCycleSeconds) * kCycleSeconds;
  int year = YearOf(seconds - shift);
  std::vector<RuleTransition> out;
  out.reserve(10);
  for (int y = year - 2; y <= year + 2; ++y) {
    int64_t start =
        RuleDayNumber(rule.start, y) * kSecondsPerDay + rule.start_time - rule.std_offset + shift;
    int64_t end =
        RuleDayNumber(rule.end, y) * kSecondsPerDay + rule.end_time - rule.dst_offset + shift;
    out.push_back({start, true});
    out.push_back({end, false});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const RuleTransition& a, const RuleTransition& b) { return a.at < b.at; });
  return out;
}

// What is in effect at one instant.
struct ZoneInfo {
  int32_t utc_offset = 0;
  bool is_dst = false;
  std::string_view abbreviation;
};

ZoneInfo RuleInfoAt(const PosixRule& rule, int64_t seconds) {
  ZoneInfo std_info{rule.std_offset, false, rule.std_abbreviation};
  if (!rule.has_dst) return std_info;
  bool dst = false;
  for (const RuleTransition& t : RuleTransitionsAround(rule, seconds)) {
    if (t.at > seconds) break;
    dst = t.to_dst;
  }
  return dst ? ZoneInfo{rule.dst_offset, true, rule.dst_abbreviation} : std_info;
}

// Parses a POSIX TZ string with the RFC 8536 extensions.
class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  Result<PosixRule> Parse() {
    PosixRule rule;
    if (!Abbreviation(&rule.std_abbreviation)) return Fail("expected a standard time name");
    int32_t west = 0;
    if (!Hms(24, &west)) return Fail("expected a UTC offset after the standard time name");
    rule.std_offset = -west;
    if (AtEnd()) return rule;

    rule.has_dst = true;
    if (!Abbreviation(&rule.dst_abbreviation)) return Fail("expected a daylight time name");
    rule.dst_offset = rule.std_offset + kSecondsPerHour;
    if (!AtEnd() && Peek() != ',') {
      if (!Hms(24, &west)) return Fail("expected a UTC offset after the daylight time name");
      rule.dst_offset = -west;
    }
    if (AtEnd()) {
      // POSIX leaves the default rule to the implementation; glibc and tzcode use the US one.
      rule.start = {RuleDate::Kind::kMonthWeekDay, 0, 3, 2, 0};
      rule.end = {RuleDate::Kind::kMonthWeekDay, 0, 11, 1, 0};
      return rule;
    }
    if (!Consume(',') || !Date(&rule.start)) return Fail("expected ',' and a DST start date");
    if (Consume('/') && !Hms(167, &rule.start_time)) return Fail("bad DST start time");
    if (!Consume(',') || !Date(&rule.end)) return Fail("expected ',' and a DST end date");
    if (Consume('/') && !Hms(167, &rule.end_time)) return Fail("bad DST end time");
    if (!AtEnd()) return Fail("unexpected text after the DST end");
    return rule;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }

  std::unexpected<Error> Fail(std::string_view what) const {
    return std::unexpected(Error::Invalid("POSIX TZ string " + Quoted(text_) + ": " +
                                          std::string(what) + " at offset " +
                                          std::to_string(pos_)));
  }

  // "CET" (letters) or "<+0530>" (letters, digits, '+', '-'); at least three characters.
  bool Abbreviation(std::string* out) {
    size_t begin = pos_;
    if (Consume('<')) {
      while (!AtEnd() && Peek() != '>') {
        char c = Peek();
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-') return false;
        ++pos_;
      }
      if (!Consume('>')) return false;
      *out = std::string(text_.substr(begin + 1, pos_ - begin - 2));
    } else {
      while (!AtEnd() && std::isalpha(static_cast<unsigned char>(Peek()))) ++pos_;
      *out = std::string(text_.substr(begin, pos_ - begin));
    }
    return out->size() >= 3;
  }

  // An unsigned number of at most `max_digits` digits.
  bool Number(int max_digits, int* out) {
    size_t begin = pos_;
    while (!AtEnd() && pos_ - begin < static_cast<size_t>(max_digits) &&
           std::isdigit(static_cast<unsigned char>(Peek()))) {
      ++pos_;
    }
    if (pos_ == begin) return false;
    std::from_chars(text_.data() + begin, text_.data() + pos_, *out);
    return true;
  }

  bool NumberIn(int max_digits, int lo, int hi, int* out) {
    return Number(max_digits, out) && *out >= lo && *out <= hi;
  }

  // [+-]hh[:mm[:ss]] with hh <= max_hours, as signed seconds.
  bool Hms(int max_hours, int32_t* out) {
    int sign = 1;
    if (Consume('-')) {
      sign = -1;
    } else {
      Consume('+');
    }
    int hours = 0;
    int minutes = 0;
    int seconds = 0;
    if (!NumberIn(3, 0, max_hours, &hours)) return false;
    if (Consume(':')) {
      if (!NumberIn(2, 0, 59, &minutes)) return false;
      if (Consume(':') && !NumberIn(2, 0, 59, &seconds)) return false;
    }
    *out = sign * (hours * 3600 + minutes * 60 + seconds);
    return true;
  }

  bool Date(RuleDate* out) {
    if (Consume('J')) {
      out->kind = RuleDate::Kind::kJulianNoLeap;
      return NumberIn(3, 1, 365, &out->day);
    }
    if (Consume('M')) {
      out->kind = RuleDate::Kind::kMonthWeekDay;
      return NumberIn(2, 1, 12, &out->month) && Consume('.') && NumberIn(1, 1, 5, &out->week) &&
             Consume('.') && NumberIn(1, 0, 6, &out->weekday);
    }
    out->kind = RuleDate::Kind::kZeroBased;
    return NumberIn(3, 0, 365, &out->day);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Reads big-endian fields of a TZif file, failing softly at the end of the data.
class TzifReader {
 public:
  explicit TzifReader(std::string_view data) : data_(data) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  std::string_view Rest() const { return data_.substr(pos_); }

  bool Bytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(uint64_t n) {
    if (remaining() < n) return false;
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // A big-endian two's-complement integer of `width` bytes (1, 4 or 8).
  bool Signed(int width, int64_t* out) {
    std::string_view bytes;
    if (!Bytes(static_cast<size_t>(width), &bytes)) return false;
    uint64_t value = 0;
    for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
    if (width < 8 && (value >> (8 * width - 1)) != 0) value |= ~uint64_t{0} << (8 * width);
    *out = static_cast<int64_t>(value);
    return true;
  }
  bool Unsigned32(uint32_t* out) {
    int64_t value = 0;
    if (!Signed(4, &value)) return false;
    *out = static_cast<uint32_t>(value);
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;  // 0 for version 1, else '2', '3', '4'
  uint32_t isutcnt = 0;
  uint32_t isstdcnt = 0;
  uint32_t leapcnt = 0;
  uint32_t timecnt = 0;
  uint32_t typecnt = 0;
  uint32_t charcnt = 0;

  uint64_t BodySize(int time_size) const {
    return uint64_t{timecnt} * (static_cast<uint64_t>(time_size) + 1) + uint64_t{typecnt} * 6 +
           charcnt + uint64_t{leapcnt} * (static_cast<uint64_t>(time_size) + 4) + isstdcnt +
           isutcnt;
  }
};

bool ReadTzifHeader(TzifReader& reader, TzifHeader* header, std::string* why) {
  std::string_view magic;
  std::string_view version;
  if (!reader.Bytes(4, &magic) || !reader.Bytes(1, &version) || !reader.Skip(15)) {
    *why = "truncated header";
    return false;
  }
  if (magic != "TZif") {
    *why = "not a TZif file";
    return false;
  }
  header->version = version[0];
  if (header->version != 0 && (header->version < '2' || header->version > '4')) {
    *why = "unsupported version";
    return false;
  }
  for (uint32_t* count : {&header->isutcnt, &header->isstdcnt, &header->leapcnt, &header->timecnt,
                          &header->typecnt, &header->charcnt}) {
    if (!reader.Unsigned32(count)) {
      *why = "truncated header";
      return false;
    }
  }
  return true;
}

}  // namespace

struct TimeZone::Rep {
  std::string name;
  std::vector<int64_t> transitions;       // seconds since the epoch, strictly ascending
  std::vector<uint8_t> transition_types;  // index into `types`, one per transition
  std::vector<LocalType> types;           // never empty; types[0] applies before the first
  std::optional<PosixRule> rule;  // at and after the last transition, or always if there is none

  ZoneInfo InfoAt(int64_t seconds) const {
    if (rule && (transitions.empty() || seconds >= transitions.back())) {
      return RuleInfoAt(*rule, seconds);
    }
    size_t index = 0;
    if (!transitions.empty() && seconds >= transitions.front()) {
      auto it = std::upper_bound(transitions.begin(), transitions.end(), seconds);
      index = transition_types[static_cast<size_t>(it - transitions.begin()) - 1];
    }
    const LocalType& type = types[index];
    return {type.utc_offset, type.is_dst, type.abbreviation};
  }

  // The transition at `at`, or nullopt when the offset does not change there.
  std::optional<ZoneTransition> TransitionAt(int64_t at) const {
    if (at <= kMinSeconds || at > kMaxSeconds) return std::nullopt;
    int32_t before = InfoAt(at - 1).utc_offset;
    int32_t after = InfoAt(at).utc_offset;
    if (before == after) return std::nullopt;
    return ZoneTransition{FromSeconds(at), chr::seconds(before), chr::seconds(after)};
  }

  bool RuleHasTransitions() const { return rule && rule->has_dst; }

  std::optional<ZoneTransition> NextTransition(int64_t seconds) const {
    for (auto it = std::upper_bound(transitions.begin(), transitions.end(), seconds);
         it != transitions.end(); ++it) {
      if (auto transition = TransitionAt(*it)) return transition;
    }
    if (!RuleHasTransitions()) return std::nullopt;
    int64_t after = transitions.empty() ? seconds : std::max(seconds, transitions.back());
    // A rule whose transitions cancel out (DST all year) changes nothing; stop after ~8 years.
    int64_t probe = after;
    for (int round = 0; round < 4; ++round) {
      std::vector<RuleTransition> candidates = RuleTransitionsAround(*rule, probe);
      for (const RuleTransition& candidate : candidates) {
        if (candidate.at <= after) continue;
        if (candidate.at > kMaxSeconds) return std::nullopt;
        if (auto transition = TransitionAt(candidate.at)) return transition;
      }
      probe = candidates.back().at;
    }
    return std::nullopt;
  }

  std::optional<ZoneTransition> PreviousTransition(int64_t seconds) const {
    if (RuleHasTransitions() && (transitions.empty() || seconds >= transitions.back())) {
      int64_t floor =
          transitions.empty() ? std::numeric_limits<int64_t>::min() : transitions.back();
      int64_t probe = seconds;
      for (int round = 0; round < 4; ++round) {
        std::vector<RuleTransition> candidates = RuleTransitionsAround(*rule, probe);
        for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
          if (it->at > seconds || it->at <= floor) continue;
          if (auto transition = TransitionAt(it->at)) return transition;
        }
        probe = candidates.front().at;
        if (probe <= floor) break;
      }
    }
    auto it = std::upper_bound(transitions.begin(), transitions.end(), seconds);
    while (it != transitions.begin()) {
      --it;
      if (auto transition = TransitionAt(*it)) return transition;
    }
    return std::nullopt;
  }
};

namespace {

std::shared_ptr<const TimeZone::Rep> MakeUtcRep(std::string name) {
  auto rep = std::make_shared<TimeZone::Rep>();
  rep->name = std::move(name);
  rep->types.push_back({0, false, "UTC"});
  return rep;
}

Status ValidateZoneName(std::string_view name) {
  auto invalid = [&](std::string_view why) {
    return std::unexpected(
        Error::Invalid("invalid time zone name " + Quoted(name) + ": " + std::string(why))
            .Hint("Use an IANA time zone name such as Europe/Berlin or America/New_York."));
  };
  if (name.empty()) return invalid("it is empty");
  if (name.size() > kMaxNameLength) return invalid("it is longer than 255 characters");
  if (name.front() == '/') return invalid("it must not start with '/'");
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = std::min(name.find('/', begin), name.size());
    std::string_view component = name.substr(begin, end - begin);
    if (component == "..") return invalid("'..' is not allowed");
    if (component.empty() || component == ".") return invalid("it has an empty component");
    begin = end + 1;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '+' &&
        c != '-') {
      return invalid("only letters, digits, '/', '_', '+' and '-' are allowed");
    }
  }
  return Ok();
}

// The body of a TZif data block whose times are `time_size` bytes wide.
bool ReadTzifBody(TzifReader& reader, const TzifHeader& header, int time_size, TimeZone::Rep* rep,
                  std::string* why) {
  if (header.typecnt == 0 || header.charcnt == 0) {
    *why = "no local time types";
    return false;
  }
  if ((header.isstdcnt != 0 && header.isstdcnt != header.typecnt) ||
      (header.isutcnt != 0 && header.isutcnt != header.typecnt)) {
    *why = "inconsistent indicator counts";
    return false;
  }
  if (header.leapcnt != 0) {
    *why = "leap-second records are not supported (use the zones outside right/)";
    return false;
  }
  if (header.typecnt > 256 || reader.remaining() < header.BodySize(time_size)) {
    *why = "truncated data block";
    return false;
  }
  rep->transitions.resize(header.timecnt);
  for (int64_t& at : rep->transitions) reader.Signed(time_size, &at);
  for (size_t i = 1; i < rep->transitions.size(); ++i) {
    if (rep->transitions[i] <= rep->transitions[i - 1]) {
      *why = "transition times are not ascending";
      return false;
    }
  }
  rep->transition_types.resize(header.timecnt);
  for (uint8_t& type : rep->transition_types) {
    int64_t index = 0;
    reader.Signed(1, &index);
    type = static_cast<uint8_t>(index);
    if (type >= header.typecnt) {
      *why = "a transition names a missing local time type";
      return false;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> raw_types(header.typecnt);  // offset, designation
  rep->types.resize(header.typecnt);
  for (size_t i = 0; i < rep->types.size(); ++i) {
    int64_t offset = 0;
    int64_t is_dst = 0;
    int64_t designation = 0;
    reader.Signed(4, &offset);
    reader.Signed(1, &is_dst);
    reader.Signed(1, &designation);
    designation &= 0xFF;
    if (offset < -kMaxOffsetSeconds || offset > kMaxOffsetSeconds || (is_dst & ~1) != 0 ||
        designation >= header.charcnt) {
      *why = "a local time type is out of range";
      return false;
    }
    rep->types[i].utc_offset = static_cast<int32_t>(offset);
    rep->types[i].is_dst = is_dst != 0;
    raw_types[i] = {offset, designation};
  }
  std::string_view chars;
  reader.Bytes(header.charcnt, &chars);
  for (size_t i = 0; i < rep->types.size(); ++i) {
    std::string_view rest = chars.substr(static_cast<size_t>(raw_types[i].second));
    size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) {
      *why = "an abbreviation is not NUL-terminated";
      return false;
    }
    rep->types[i].abbreviation = std::string(rest.substr(0, nul));
  }
  // The standard/wall and UT/local indicators only matter for POSIX-style rules built from
  // the file, which we never do.
  reader.Skip(uint64_t{header.isstdcnt} + header.isutcnt);
  return true;
}

}  // namespace

TimeZone::TimeZone() : rep_(Utc().rep_) {}

TimeZone TimeZone::Utc() {
  static const std::shared_ptr<const Rep> kUtc = MakeUtcRep("UTC");
  return TimeZone(kUtc);
}

Result<TimeZone> TimeZone::Load(std::string_view name, const std::filesystem::path& zoneinfo_dir) {
  if (name == "UTC") return Utc();
  if (name == "Etc/UTC") return TimeZone(MakeUtcRep("Etc/UTC"));
  HANGAR_TRY(ValidateZoneName(name));
  std::filesystem::path path = zoneinfo_dir / std::filesystem::path(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return std::unexpected(
        Error::Invalid("unknown time zone " + Quoted(name))
            .Hint("Use an IANA time zone name such as Europe/Berlin or America/New_York."));
  }
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxTzifBytes) {
    return std::unexpected(
        Error::Invalid("time zone " + Quoted(name) + ": file is too large for a TZif file"));
  }
  std::string bytes(ec ? 0 : static_cast<size_t>(size), '\0');
  std::ifstream in(path, std::ios::binary);
  if (ec || !in.is_open() || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    // The file is there but unreadable: the host's tzdata is broken, not the caller's input.
    return std::unexpected(
        Error::Internal("time zone " + Quoted(name) + ": cannot read " + path.string()));
  }
  return FromTzif(name, bytes);
}

Result<TimeZone> TimeZone::FromTzif(std::string_view name, std::string_view bytes) {
  std::string why;
  auto invalid = [&] {
    return std::unexpected(
        Error::Invalid("time zone " + Quoted(name) + ": invalid TZif file: " + why));
  };
  auto rep = std::make_shared<Rep>();
  rep->name = std::string(name);
  TzifReader reader(bytes);
  TzifHeader header;
  if (!ReadTzifHeader(reader, &header, &why)) return invalid();
  if (header.version == 0) {
    // Version 1: 32-bit times and no footer; the last type holds forever.
    if (!ReadTzifBody(reader, header, 4, rep.get(), &why)) return invalid();
    return TimeZone(std::move(rep));
  }
  // Version 2+: skip the 32-bit block, read the 64-bit one and the footer.
  if (!reader.Skip(header.BodySize(4))) {
    why = "truncated version 1 data block";
    return invalid();
  }
  TzifHeader header64;
  if (!ReadTzifHeader(reader, &header64, &why)) return invalid();
  if (!ReadTzifBody(reader, header64, 8, rep.get(), &why)) return invalid();
  std::string_view footer = reader.Rest();
  if (footer.empty() || footer.front() != '\n') {
    why = "missing footer";
    return invalid();
  }
  size_t end = footer.find('\n', 1);
  if (end == std::string_view::npos) {
    why = "unterminated footer";
    return invalid();
  }
  std::string_view spec = footer.substr(1, end - 1);
  if (!spec.empty()) {
    auto rule = PosixParser(spec).Parse();
    if (!rule) {
      why = "bad footer: " + rule.error().message();
      return invalid();
    }
    rep->rule = std::move(*rule);
  }
  return TimeZone(std::move(rep));
}

Result<TimeZone> TimeZone::FromPosixRule(std::string_view spec) {
  HANGAR_ASSIGN_OR_RETURN(PosixRule rule, PosixParser(spec).Parse());
  auto rep = std::make_shared<Rep>();
  rep->name = std::string(spec);
  rep->types.push_back({rule.std_offset, false, rule.std_abbreviation});
  rep->rule = std::move(rule);
  return TimeZone(std::move(rep));
}

const std::string& TimeZone::name() const { return rep_->name; }

Micros TimeZone::OffsetAt(Timestamp utc) const {
  return chr::seconds(rep_->InfoAt(FloorSeconds(utc)).utc_offset);
}

std::string TimeZone::AbbreviationAt(Timestamp utc) const {
  return std::string(rep_->InfoAt(FloorSeconds(utc)).abbreviation);
}

LocalTime TimeZone::ToLocal(Timestamp utc) const {
  int64_t micros = utc.time_since_epoch().count();
  int64_t seconds = FloorDiv(micros, kMicrosPerSecond);
  ZoneInfo info = rep_->InfoAt(seconds);
  int64_t local = seconds + info.utc_offset;
  int64_t days = FloorDiv(local, kSecondsPerDay);
  int64_t second_of_day = local - days * kSecondsPerDay;
  chr::sys_days day{chr::days(days)};
  chr::year_month_day ymd(day);
  LocalTime out;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(second_of_day / kSecondsPerHour);
  out.minute = static_cast<int>(second_of_day / 60 % 60);
  out.second = static_cast<int>(second_of_day % 60);
  out.weekday = static_cast<int>(chr::weekday(day).c_encoding());
  out.subsecond = Micros(micros - seconds * kMicrosPerSecond);
  out.offset = chr::seconds(info.utc_offset);
  out.is_dst = info.is_dst;
  out.abbreviation = std::string(info.abbreviation);
  return out;
}

CivilLookup TimeZone::Lookup(const CivilTime& local) const {
  // Offsets stay within +-26 hours, so only transitions within that window of the civil time
  // (read as UTC) can make it skipped or repeated.
  constexpr int64_t kWindow = kMaxOffsetSeconds + kSecondsPerHour;
  int64_t civil = CivilToSeconds(local);
  std::vector<int64_t> offsets{rep_->InfoAt(civil - kWindow).utc_offset};
  std::vector<ZoneTransition> transitions;
  int64_t probe = civil - kWindow;
  while (auto transition = rep_->NextTransition(probe)) {
    int64_t at = FloorSeconds(transition->at);
    if (at > civil + kWindow) break;
    transitions.push_back(*transition);
    offsets.push_back(chr::duration_cast<chr::seconds>(transition->offset_after).count());
    probe = at;
  }
  std::vector<int64_t> instants;
  for (int64_t offset : offsets) {
    int64_t candidate = civil - offset;
    if (rep_->InfoAt(candidate).utc_offset == offset) instants.push_back(candidate);
  }
  std::sort(instants.begin(), instants.end());
  instants.erase(std::unique(instants.begin(), instants.end()), instants.end());

  CivilLookup out;
  if (instants.size() == 1) {
    out.kind = CivilLookup::Kind::kUnique;
    out.first = out.second = FromSeconds(instants.front());
  } else if (instants.size() > 1) {
    out.kind = CivilLookup::Kind::kRepeated;
    out.first = FromSeconds(instants.front());
    out.second = FromSeconds(instants.back());
  } else {
    // In a gap: the civil time lies between the transition's old and new wall-clock readings.
    out.kind = CivilLookup::Kind::kSkipped;
    out.first = FromSeconds(civil - offsets.front());
    for (const ZoneTransition& transition : transitions) {
      int64_t at = FloorSeconds(transition.at);
      int64_t before = chr::duration_cast<chr::seconds>(transition.offset_before).count();
      int64_t after = chr::duration_cast<chr::seconds>(transition.offset_after).count();
      if (at + before <= civil && civil < at + after) {
        out.first = transition.at;
        break;
      }
    }
    out.second = out.first;
  }
  return out;
}

std::vector<Timestamp> TimeZone::FromLocal(const CivilTime& local) const {
  CivilLookup lookup = Lookup(local);
  switch (lookup.kind) {
    case CivilLookup::Kind::kUnique:
      return {lookup.first};
    case CivilLookup::Kind::kRepeated:
      return {lookup.first, lookup.second};
    case CivilLookup::Kind::kSkipped:
      return {};
  }
  return {};
}

std::optional<ZoneTransition> TimeZone::NextTransition(Timestamp utc) const {
  return rep_->NextTransition(FloorSeconds(utc));
}

std::optional<ZoneTransition> TimeZone::PreviousTransition(Timestamp utc) const {
  return rep_->PreviousTransition(FloorSeconds(utc));
}

}  // namespace hangar
