// Clock: the one source of "now" for everything time-dependent in Hangar.
//
// Components take a `const Clock&` instead of reading the system clock, so tests and the
// simulator control time. Timestamps are UTC microseconds since the Unix epoch, the unit stored
// in the database and rendered as RFC 3339 in the API.
//
// Thread-safety: SystemClock and FakeClock may be read from any thread; FakeClock's setters are
// atomic too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hangar {

using Micros = std::chrono::microseconds;
using Timestamp = std::chrono::sys_time<Micros>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// A clock that moves only when told to. Starts at `start`.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start) : now_(start.time_since_epoch().count()) {}
  Timestamp Now() const override { return Timestamp(Micros(now_.load())); }
  void Set(Timestamp t) { now_.store(t.time_since_epoch().count()); }
  void Advance(Micros d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_;
};

// The wall clock's rate from a chosen start: Now() is `start` plus the wall-clock time since the
// clock was made. hangard's `clock_start` setting uses it so tests and demos can run a server
// "at" a given date (a cron schedule due in seconds, a restart hours later) while everything
// time-based still moves at the normal rate.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(Timestamp start) : offset_(start - SystemClock().Now()) {}
  Timestamp Now() const override { return SystemClock().Now() + offset_; }

 private:
  const Micros offset_;
};

inline int64_t ToUnixMicros(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp FromUnixMicros(int64_t us) { return Timestamp(Micros(us)); }

// RFC 3339 in UTC with microsecond precision when non-zero: "2026-11-22T18:31:00.123456Z".
std::string FormatRfc3339(Timestamp t);
// Parses RFC 3339 ("Z" or a numeric offset; fractional seconds optional). nullopt when invalid.
std::optional<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace hangar
