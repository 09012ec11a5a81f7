// Store: Hangar's durable state, on SQLite (embedded default) or PostgreSQL (scale-out).
//
// The seam is deliberately SQL-level: a backend provides transactions that run parameterised SQL
// (`$1`, `$2`, … placeholders on both backends) and return rows. The typed repositories in
// store/repos.h are written once on top, in the SQL subset both engines share, so there is one
// copy of every query. No SQL lives outside store/.
//
// Durability contract: Write() returns success only after the transaction is committed to disk
// (SQLite WAL with synchronous=FULL; a PostgreSQL COMMIT). Concurrent Write() calls are batched
// into one transaction where the backend benefits (SQLite group commit: one fsync for many
// writers); each caller's function still succeeds or fails on its own (savepoints).
//
// Thread-safety: Store is safe to call from any number of threads. A Tx is used only by the
// thread running the function it was passed to, and only during that call. Calls block: run
// them on a worker pool, never on an io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace hangar::telemetry {
struct StoreMetrics;
}  // namespace hangar::telemetry

namespace hangar::store {

enum class Dialect { kSqlite, kPostgres };

// A bound parameter or a column value: NULL, 64-bit integer, double, or text (also used for
// JSON documents and blobs encoded as text).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

inline SqlValue Null() { return std::monostate{}; }
inline SqlValue Nullable(const std::optional<std::string>& v) { return v ? SqlValue(*v) : Null(); }
inline SqlValue Nullable(const std::optional<Timestamp>& v) {
  return v ? SqlValue(ToUnixMicros(*v)) : Null();
}

// One result row. Accessors HANGAR_CHECK the column index and type: a mismatch is a bug in a
// repository, never bad input.
class Row {
 public:
  explicit Row(std::vector<SqlValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const;
  int64_t Int(size_t i) const;
  double Real(size_t i) const;
  const std::string& Text(size_t i) const;
  Timestamp Time(size_t i) const { return FromUnixMicros(Int(i)); }
  std::optional<std::string> OptText(size_t i) const;
  std::optional<Timestamp> OptTime(size_t i) const;
  const std::vector<SqlValue>& values() const { return values_; }

 private:
  std::vector<SqlValue> values_;
};

// A transaction in progress. Errors from the engine are converted here: a unique-constraint
// violation is kAlreadyExists, a lost connection or a busy database kUnavailable, anything else
// kInternal (the SQL and engine message are logged, not returned to API clients).
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs one statement and returns its rows (none for statements without RETURNING/SELECT).
  virtual Result<std::vector<Row>> Query(std::string_view sql,
                                         std::span<const SqlValue> params = {}) = 0;
  // Runs one statement and returns how many rows it changed.
  virtual Result<int64_t> Exec(std::string_view sql, std::span<const SqlValue> params = {}) = 0;
  virtual Dialect dialect() const = 0;

  // Convenience overloads taking a braced list: tx.Query(sql, {id, org}).
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<SqlValue> params) {
    return Query(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  Result<int64_t> Exec(std::string_view sql, std::initializer_list<SqlValue> params) {
    return Exec(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
};

using TxFunction = std::function<Status(Tx&)>;

class Store {
 public:
  virtual ~Store() = default;

  // Runs `fn` in a read-only transaction with a consistent snapshot. Readers run concurrently
  // with each other and with the writer.
  virtual Status Read(const TxFunction& fn) = 0;

  // Runs `fn` in a write transaction and returns once the result is durable. If `fn` returns an
  // error, none of its changes are kept and that error is returned. `fn` may be called on
  // another thread than the caller's (the SQLite writer thread) but the call blocks until done.
  virtual Status Write(const TxFunction& fn) = 0;

  // kUnavailable when the database cannot be reached (for /readyz).
  virtual Status Ping() = 0;

  virtual Dialect dialect() const = 0;
};

struct StoreOptions {
  // "sqlite:PATH" (PATH may be relative) or "postgres://…" / "postgresql://…" (a libpq URI).
  std::string url;
  // SQLite: read connections (concurrent readers). PostgreSQL: pool size.
  int pool_size = 8;
  // SQLite busy timeout, PostgreSQL connect timeout.
  Micros busy_timeout = std::chrono::seconds(5);
  // When set, every Read() and Write() after the migrations is timed into it as its caller waits
  // for it (queueing for a connection or the group commit included), and failures that are the
  // database's (kUnavailable, kInternal) are counted. Must outlive the Store.
  telemetry::StoreMetrics* metrics = nullptr;
};

// Opens the database named by options.url and applies pending migrations (store/migrations.h).
// kInvalidArgument names a bad URL; kUnavailable when the server cannot be reached.
Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options);

}  // namespace hangar::store
