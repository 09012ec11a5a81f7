// TimeZone: IANA time zones read from the system's TZif files, for schedules that run in local
// time (cron expressions with a zone, see common/cron.h).
//
// GCC 12's libstdc++ has no std::chrono::tzdb, so this module reads the compiled tz database
// that Debian's `tzdata` package installs under /usr/share/zoneinfo:
//   - TZif files as RFC 8536 defines them, versions 1 to 4. When a file has the version 2+
//     64-bit section, that section is used and the 32-bit one is skipped. Files with leap-second
//     records (the "right/" zones) are rejected: their timestamps are not UTC.
//   - The footer's POSIX TZ string (with the RFC 8536 extensions: hours -167..167 in rule times)
//     gives the offsets after the last transition in the file, so instants in 2090 follow the
//     zone's current rules. FromPosixRule parses such a string on its own, e.g.
//     "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30", "UTC0", and the
//     Jn (1-365, February 29 never counted) and n (0-365, counted) day forms.
//   - "UTC" and "Etc/UTC" are built in and never read a file.
//
// Offsets are whole seconds east of UTC, returned as Micros so they add to a Timestamp directly.
// A "transition" here is an instant where the UTC offset changes; changes of only the
// abbreviation or the DST flag are not reported as transitions.
//
// Civil (local, wall-clock) times are plain field structs. Mapping a civil time back to UTC has
// three outcomes, as in absl::TimeZone: the time exists once (kUnique), not at all because the
// clocks jumped over it (kSkipped, the spring-forward gap), or twice because the clocks were set
// back over it (kRepeated, the fall-back overlap).
//
// Range: offsets and transitions are exact for every Timestamp (the POSIX rule repeats every 400
// years). Civil fields are exact within std::chrono's calendar (years -32767..32767); beyond it
// they wrap, without overflow or undefined behaviour.
//
// Thread-safety: a TimeZone is immutable after construction and cheap to copy (it shares its
// tables); any number of threads may use one concurrently. Load reads the file system and
// should not run on an io thread; callers that evaluate many schedules should keep loaded zones.
#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace hangar {

// A civil (wall-clock) date and time with no zone. Lookups accept out-of-range fields and carry
// them over, as mktime does: {2026, 1, 32, 24, 0, 0} is 2026-02-02T00:00:00.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;   // 0-23
  int minute = 0;
  int second = 0;

  auto operator<=>(const CivilTime&) const = default;
};

// An instant as seen in a zone: its civil fields plus what was in effect there and then.
struct LocalTime {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;           // 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday)
  Micros subsecond{0};       // 0 .. 999'999 microseconds into `second`
  Micros offset{0};          // UTC offset in effect: local = UTC + offset
  bool is_dst = false;       // the zone says daylight saving time is in effect
  std::string abbreviation;  // "CEST", "EST", "+0530"

  CivilTime civil() const { return {year, month, day, hour, minute, second}; }
};

// Where the clocks changed: at `at` (UTC) the offset went from `offset_before` to
// `offset_after`. offset_after > offset_before is a gap (spring forward), < an overlap.
struct ZoneTransition {
  Timestamp at;
  Micros offset_before{0};
  Micros offset_after{0};

  bool operator==(const ZoneTransition&) const = default;
};

// The result of mapping a civil time to UTC.
struct CivilLookup {
  enum class Kind {
    kUnique,    // the civil time happened once: `first` == `second`
    kSkipped,   // in a gap: `first` == `second` == the transition instant, the first instant
                // after the gap (so 02:30 on a 02:00->03:00 day maps to 03:00 local)
    kRepeated,  // in an overlap: `first` is the earlier instant (before the clocks were set
                // back), `second` the later one
  };
  Kind kind = Kind::kUnique;
  Timestamp first;
  Timestamp second;
};

class TimeZone {
 public:
  // UTC.
  TimeZone();

  // Loads the zone `name` ("Europe/Berlin") from `zoneinfo_dir`. "UTC" and "Etc/UTC" are built
  // in and work without any file. Errors, all kInvalidArgument naming the zone:
  //   - a name that is empty, longer than 255 characters, starts with '/', has an empty, "." or
  //     ".." component, or has a character outside [A-Za-z0-9/_+-];
  //   - "unknown time zone" when no regular file has that name;
  //   - a file that is not a valid TZif file (or is one with leap seconds).
  // kInternal when the file exists but cannot be read. Reads the file system: call from a worker
  // thread.
  static Result<TimeZone> Load(std::string_view name,
                               const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");

  // Parses the contents of a TZif file (RFC 8536). `name` is only recorded and used in errors.
  // kInvalidArgument when the bytes are truncated, inconsistent or carry leap seconds.
  static Result<TimeZone> FromTzif(std::string_view name, std::string_view bytes);

  // A zone defined only by a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (POSIX
  // offsets are west of UTC: "EST5" is UTC-5). A DST name without a rule gets the US rule
  // M3.2.0,M11.1.0. kInvalidArgument naming the part that is wrong.
  static Result<TimeZone> FromPosixRule(std::string_view spec);

  static TimeZone Utc();

  // The name it was loaded under ("Europe/Berlin", "UTC", or the POSIX string).
  const std::string& name() const;

  // The UTC offset in effect at `utc`: local time = utc + OffsetAt(utc).
  Micros OffsetAt(Timestamp utc) const;
  // The abbreviation in effect at `utc` ("CET", "CEST", "+0530").
  std::string AbbreviationAt(Timestamp utc) const;
  // The civil time in this zone at `utc`, with its weekday, offset and abbreviation.
  LocalTime ToLocal(Timestamp utc) const;

  // Maps a civil time in this zone to UTC; see CivilLookup for the gap and overlap cases.
  CivilLookup Lookup(const CivilTime& local) const;
  // The same as a list: no instant in a gap, one normally, two (earlier first) in an overlap.
  std::vector<Timestamp> FromLocal(const CivilTime& local) const;

  // The first transition strictly after `utc`; nullopt when the offset never changes again.
  std::optional<ZoneTransition> NextTransition(Timestamp utc) const;
  // The last transition at or before `utc`; nullopt when the offset never changed before.
  std::optional<ZoneTransition> PreviousTransition(Timestamp utc) const;

  // Opaque tables, defined in time_zone.cc; public only so the .cc's helpers can name it.
  struct Rep;

 private:
  explicit TimeZone(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}

  std::shared_ptr<const Rep> rep_;  // never null
};

}  // namespace hangar
