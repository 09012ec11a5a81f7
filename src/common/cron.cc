// Cron expression parsing and next-run search; see cron.h for the syntax and the DST rules.
//
// Next walks the zone's UTC-offset spans forward from `after`. Inside one span local time is UTC
// plus a constant, so the first match is found on civil fields (month, then day, hour, minute,
// skipping whole non-matching months, days and hours) and mapped back with that constant. The DST
// rules only act at the borders between spans.
//
// Thread-safety: stateless functions over immutable values.
#include "common/cron.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <span>

namespace hangar {

namespace {

namespace chr = std::chrono;

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMinutesPerDay = 1'440;
// Next searches 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kFirstSecond = -62'135'596'800;
constexpr int64_t kLastSecond = 253'402'300'799;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

// One of the five fields: its name in errors, its range, and the names it accepts.
struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  std::span<const std::string_view> names;  // names[i] is the value min + i
  std::string_view names_hint;              // how errors describe the names
};

constexpr FieldSpec kMinuteField{"minute", 0, 59, {}, ""};
constexpr FieldSpec kHourField{"hour", 0, 23, {}, ""};
constexpr FieldSpec kDayOfMonthField{"day-of-month", 1, 31, {}, ""};
constexpr FieldSpec kMonthField{"month", 1, 12, kMonthNames, "JAN-DEC"};
constexpr FieldSpec kDayOfWeekField{"day-of-week", 0, 7, kDayNames, "SUN-SAT"};

struct Macro {
  std::string_view name;
  std::string_view canonical;
  std::string_view fields;
};

constexpr std::array<Macro, 7> kMacros = {{
    {"@yearly", "@yearly", "0 0 1 1 *"},
    {"@annually", "@yearly", "0 0 1 1 *"},
    {"@monthly", "@monthly", "0 0 1 * *"},
    {"@weekly", "@weekly", "0 0 * * 0"},
    {"@daily", "@daily", "0 0 * * *"},
    {"@midnight", "@daily", "0 0 * * *"},
    {"@hourly", "@hourly", "0 * * * *"},
}};

constexpr std::string_view kFieldsHint =
    "Use five fields: minute hour day-of-month month day-of-week, such as \"30 2 * * *\" (02:30 "
    "every day), or a macro such as @daily; there is no seconds field.";

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

int64_t Seconds(Timestamp t) { return FloorDiv(t.time_since_epoch().count(), kMicrosPerSecond); }
int64_t Seconds(Micros d) { return chr::duration_cast<chr::seconds>(d).count(); }
Timestamp FromSeconds(int64_t seconds) { return Timestamp(chr::seconds(seconds)); }

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The lowest set bit of `mask` in [from, max], or -1.
int NextBit(uint64_t mask, int from, int max) {
  if (from > max) return -1;
  uint64_t rest = mask >> from;
  if (rest == 0) return -1;
  int bit = from + std::countr_zero(rest);
  return bit <= max ? bit : -1;
}

int DaysInMonth(int year, int month) {
  return static_cast<int>(static_cast<unsigned>(
      (chr::year(year) / chr::month(static_cast<unsigned>(month)) / chr::last).day()));
}

std::vector<std::string_view> SplitBlanks(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    size_t begin = pos;
    while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') ++pos;
    if (pos > begin) out.push_back(text.substr(begin, pos - begin));
  }
  return out;
}

class FieldParser {
 public:
  explicit FieldParser(const FieldSpec& spec) : spec_(spec) {}

  // Parses the whole field into `bits` (bit v = value v) and its normalised text.
  Status Parse(std::string_view text, uint64_t* bits, std::string* normalised) {
    size_t begin = 0;
    for (;;) {
      size_t comma = text.find(',', begin);
      std::string_view element = text.substr(begin, comma - begin);
      if (element.empty()) return Fail("empty element in list '" + std::string(text) + "'");
      if (!normalised->empty()) *normalised += ',';
      HANGAR_TRY(Element(element, bits, normalised));
      if (comma == std::string_view::npos) return Ok();
      begin = comma + 1;
    }
  }

 private:
  std::unexpected<Error> Fail(std::string what) const {
    return std::unexpected(
        Error::Invalid(std::string(spec_.name) + ": " + what).Hint(std::string(kFieldsHint)));
  }

  std::string RangeText() const {
    std::string out = std::to_string(spec_.min) + "-" + std::to_string(spec_.max);
    if (!spec_.names_hint.empty()) out += " or " + std::string(spec_.names_hint);
    return out;
  }

  // "*", "n", "a-b", each optionally followed by "/step".
  Status Element(std::string_view element, uint64_t* bits, std::string* normalised) {
    size_t slash = element.find('/');
    std::string_view base = element.substr(0, slash);
    int low = spec_.min;
    int high = spec_.max;
    if (base == "*") {
      *normalised += '*';
    } else {
      size_t dash = base.find('-');
      HANGAR_ASSIGN_OR_RETURN(low, Value(base.substr(0, dash), element, normalised));
      if (dash != std::string_view::npos) {
        *normalised += '-';
        HANGAR_ASSIGN_OR_RETURN(high, Value(base.substr(dash + 1), element, normalised));
        if (low > high) {
          return Fail("range " + std::string(base) + " is reversed; write it as two ranges");
        }
      } else if (slash == std::string_view::npos) {
        high = low;
      }
    }
    int step = 1;
    if (slash != std::string_view::npos) {
      std::string_view step_text = element.substr(slash + 1);
      if (step_text.empty())
        return Fail("missing step after '/' in '" + std::string(element) + "'");
      if (step_text.find_first_not_of("0123456789") != std::string_view::npos) {
        return Fail("step '" + std::string(step_text) + "' is not a number");
      }
      auto [end, error] =
          std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (error != std::errc() || step < 1 || step > spec_.max) {
        return Fail("step " + std::string(step_text) + " is out of range 1-" +
                    std::to_string(spec_.max));
      }
      *normalised += '/' + std::to_string(step);
    }
    for (int v = low; v <= high; v += step) *bits |= uint64_t{1} << v;
    return Ok();
  }

  // A number or (month, day-of-week) a three-letter name.
  Result<int> Value(std::string_view token, std::string_view element, std::string* normalised) {
    if (token.empty()) return Fail("missing value in '" + std::string(element) + "'");
    if (token == "*")
      return Fail("'*' cannot be part of a range in '" + std::string(element) + "'");
    if (token.find_first_not_of("0123456789") == std::string_view::npos) {
      int value = 0;
      auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (error != std::errc() || value < spec_.min || value > spec_.max) {
        return Fail(std::string(token) + " is out of range " + RangeText());
      }
      *normalised += std::to_string(value);
      return value;
    }
    std::string upper = Upper(token);
    for (size_t i = 0; i < spec_.names.size(); ++i) {
      if (spec_.names[i] == upper) {
        *normalised += upper;
        return spec_.min + static_cast<int>(i);
      }
    }
    if (spec_.names.empty()) return Fail("'" + std::string(token) + "' is not a number");
    return Fail("'" + std::string(token) + "' is not a " + std::string(spec_.name) + " (" +
                RangeText() + ")");
  }

  const FieldSpec& spec_;
};

}  // namespace

Result<CronExpression> CronExpression::Parse(std::string_view text) {
  std::vector<std::string_view> fields = SplitBlanks(text);
  if (!fields.empty() && fields.front().starts_with('@')) {
    std::string name = std::string(fields.front());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto macro = std::ranges::find(kMacros, name, &Macro::name);
    if (macro == kMacros.end()) {
      std::string shown = std::string(fields.front().substr(0, 32));
      return std::unexpected(
          Error::Invalid(name == "@reboot"
                             ? "@reboot is not supported: schedules run at times, not at start-up"
                             : "unknown macro '" + shown + "'")
              .Hint("Use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly."));
    }
    if (fields.size() != 1) {
      return std::unexpected(
          Error::Invalid("expected nothing after " + std::string(macro->canonical)));
    }
    auto parsed = Parse(macro->fields);
    HANGAR_CHECK(parsed.has_value(), "a built-in cron macro does not parse");
    parsed->text_ = std::string(macro->canonical);
    return parsed;
  }
  if (fields.size() != 5) {
    return std::unexpected(Error::Invalid("expected 5 fields, got " + std::to_string(fields.size()))
                               .Hint(std::string(kFieldsHint)));
  }

  CronExpression cron;
  std::array<std::string, 5> normalised;
  std::array<uint64_t, 5> bits{};
  const std::array<const FieldSpec*, 5> specs = {&kMinuteField, &kHourField, &kDayOfMonthField,
                                                 &kMonthField, &kDayOfWeekField};
  for (size_t i = 0; i < 5; ++i) {
    HANGAR_TRY(FieldParser(*specs[i]).Parse(fields[i], &bits[i], &normalised[i]));
  }
  cron.minutes_ = bits[0];
  cron.hours_ = static_cast<uint32_t>(bits[1]);
  cron.days_of_month_ = static_cast<uint32_t>(bits[2]);
  cron.months_ = static_cast<uint16_t>(bits[3]);
  // 7 is Sunday as well as 0.
  cron.days_of_week_ = static_cast<uint8_t>((bits[4] | (bits[4] >> 7)) & 0x7F);
  cron.wildcard_ = fields[0].starts_with('*') || fields[1].starts_with('*');
  cron.day_of_month_star_ = fields[2].starts_with('*');
  cron.day_of_week_star_ = fields[4].starts_with('*');

  // Every weekday falls on every date over the years, so only the (month, day) pairs can make
  // an expression impossible, and only when the day-of-month field is the one that decides.
  bool some_date = false;
  for (int month = 1; month <= 12; ++month) {
    if ((cron.months_ >> month & 1) == 0) continue;
    int longest = month == 2 ? 29 : DaysInMonth(2001, month);
    if (NextBit(cron.days_of_month_, 1, longest) >= 0) some_date = true;
  }
  bool either_day = !cron.day_of_month_star_ && !cron.day_of_week_star_;
  cron.satisfiable_ = some_date || either_day;

  cron.text_ = normalised[0];
  for (size_t i = 1; i < 5; ++i) cron.text_ += ' ' + normalised[i];
  return cron;
}

bool CronExpression::DayMatches(int year, int month, int day) const {
  bool by_month_day = (days_of_month_ >> day & 1) != 0;
  if (day_of_week_star_ && days_of_week_ == 0x7F) return by_month_day;
  auto weekday =
      chr::weekday(chr::sys_days(chr::year(year) / chr::month(static_cast<unsigned>(month)) /
                                 chr::day(static_cast<unsigned>(day))));
  bool by_week_day = (days_of_week_ >> weekday.c_encoding() & 1) != 0;
  if (day_of_month_star_ || day_of_week_star_) return by_month_day && by_week_day;
  return by_month_day || by_week_day;
}

bool CronExpression::Matches(const CivilTime& local) const {
  if (local.month < 1 || local.month > 12 || local.day < 1 ||
      local.day > DaysInMonth(local.year, local.month) || local.hour < 0 || local.hour > 23 ||
      local.minute < 0 || local.minute > 59) {
    return false;
  }
  return (minutes_ >> local.minute & 1) != 0 && (hours_ >> local.hour & 1) != 0 &&
         (months_ >> local.month & 1) != 0 && DayMatches(local.year, local.month, local.day);
}

std::optional<int64_t> CronExpression::FirstMatch(int64_t from, int64_t until) const {
  if (from >= until) return std::nullopt;
  int64_t day_number = FloorDiv(from, kMinutesPerDay);
  int minute_of_day = static_cast<int>(from - day_number * kMinutesPerDay);
  chr::year_month_day ymd{chr::sys_days(chr::days(day_number))};
  int year = static_cast<int>(ymd.year());
  int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  int day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  int hour = minute_of_day / 60;
  int minute = minute_of_day % 60;
  // Only Vixie's AND rule with every weekday allowed lets whole runs of days be skipped at once.
  bool days_by_month_only = day_of_week_star_ && days_of_week_ == 0x7F;

  auto next_day = [&] {
    ++day;
    hour = 0;
    minute = 0;
  };
  for (;;) {
    if ((months_ >> month & 1) == 0) {
      int next = NextBit(months_, month + 1, 12);
      if (next < 0) {
        ++year;
        next = NextBit(months_, 1, 12);
      }
      month = next;
      day = 1;
      hour = 0;
      minute = 0;
    }
    int64_t month_start =
        chr::sys_days(chr::year(year) / chr::month(static_cast<unsigned>(month)) / chr::day(1))
            .time_since_epoch()
            .count();
    // Checked once a month at least, so a month without a matching day cannot loop forever.
    if (month_start * kMinutesPerDay >= until) return std::nullopt;
    int last = DaysInMonth(year, month);
    if (days_by_month_only && day <= last) {
      int next = NextBit(days_of_month_, day, last);
      if (next != day) {
        day = next < 0 ? last + 1 : next;
        hour = 0;
        minute = 0;
      }
    }
    if (day > last) {
      if (++month > 12) {
        month = 1;
        ++year;
      }
      day = 1;
      hour = 0;
      minute = 0;
      continue;
    }
    int64_t day_start = month_start + day - 1;
    if (day_start * kMinutesPerDay + hour * 60 + minute >= until) return std::nullopt;
    if (!DayMatches(year, month, day)) {
      next_day();
      continue;
    }
    int next_hour = NextBit(hours_, hour, 23);
    if (next_hour < 0) {
      next_day();
      continue;
    }
    if (next_hour != hour) {
      hour = next_hour;
      minute = 0;
    }
    int next_minute = NextBit(minutes_, minute, 59);
    if (next_minute < 0) {
      minute = 0;
      if (++hour > 23) next_day();
      continue;
    }
    int64_t match = day_start * kMinutesPerDay + hour * 60 + next_minute;
    if (match >= until) return std::nullopt;
    return match;
  }
}

std::optional<Timestamp> CronExpression::Next(Timestamp after, const TimeZone& tz) const {
  if (!satisfiable_) return std::nullopt;
  // Runs fall on whole seconds, so "strictly after `after`" is "after its whole second".
  int64_t after_seconds = Seconds(after);
  if (after_seconds >= kLastSecond) return std::nullopt;
  if (after_seconds < kFirstSecond) {
    after_seconds = kFirstSecond - 1;
    after = FromSeconds(after_seconds);
  }
  constexpr int64_t kHorizonSeconds = int64_t{kSearchYears} * 146'097 * 86'400 / 400;
  int64_t limit = std::min(after_seconds + kHorizonSeconds, kLastSecond);

  // The span of constant offset that holds `after`: [begin, end) in UTC seconds. `begin` is
  // unknown (nullopt) before the zone's first transition.
  std::optional<ZoneTransition> previous = tz.PreviousTransition(after);
  std::optional<int64_t> begin;
  int64_t offset = Seconds(tz.OffsetAt(after));
  int64_t offset_before = offset;
  if (previous) {
    begin = Seconds(previous->at);
    offset_before = Seconds(previous->offset_before);
  }
  Timestamp probe = after;
  for (bool first_span = true;; first_span = false) {
    std::optional<ZoneTransition> next = tz.NextTransition(probe);
    int64_t end = next ? std::min(Seconds(next->at), limit + 1) : limit + 1;

    // Spring forward: a fixed-time job due in the skipped local times runs as the span starts.
    // In the first span that moment is not after `after`.
    if (!first_span && !wildcard_ && offset > offset_before &&
        FirstMatch(CeilDiv(*begin + offset_before, 60), CeilDiv(*begin + offset, 60))) {
      return FromSeconds(*begin);
    }
    // Local minute m runs at m * 60 - offset, which must be after `after` and inside the span.
    int64_t from = FloorDiv(after_seconds + offset, 60) + 1;
    if (begin) {
      from = std::max(from, CeilDiv(*begin + offset, 60));
      // Fall back: a fixed-time job skips local times it already had before the change.
      if (!wildcard_ && offset < offset_before) {
        from = std::max(from, CeilDiv(*begin + offset_before, 60));
      }
    }
    if (auto match = FirstMatch(from, CeilDiv(end + offset, 60))) {
      return FromSeconds(*match * 60 - offset);
    }
    if (!next || Seconds(next->at) > limit) return std::nullopt;
    begin = Seconds(next->at);
    offset_before = Seconds(next->offset_before);
    offset = Seconds(next->offset_after);
    probe = next->at;
  }
}

std::vector<Timestamp> CronExpression::NextN(Timestamp after, const TimeZone& tz, int n) const {
  std::vector<Timestamp> out;
  if (n <= 0) return out;
  out.reserve(static_cast<size_t>(std::min(n, 1024)));
  for (int i = 0; i < n; ++i) {
    std::optional<Timestamp> next = Next(after, tz);
    if (!next) break;
    out.push_back(*next);
    after = *next;
  }
  return out;
}

std::string CronExpression::ToString() const { return text_; }

}  // namespace hangar
