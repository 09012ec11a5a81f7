// PostgreSQL backend: a libpq connection pool. See postgres_store.h for the design.
#include "store/postgres_store.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "store/status_of.h"

namespace hangar::store {
namespace {

// Type OIDs from pg_type.h (stable across server versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// Converts a failed statement into our canonical codes; the SQL and the server's message are
// logged, not returned.
Error PgError(PGconn* conn, const PGresult* res, std::string_view sql) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state != nullptr ? state : "";
  if (sqlstate == "23505") {
    return Error::AlreadyExists("an object with the same unique key already exists");
  }
  if (sqlstate == "23503") return Error::Conflict("a referenced object does not exist");
  // Connection exceptions (08…), serialisation failures and deadlocks (40…), lock timeouts,
  // shutdowns and a dead connection are all "try again".
  if (PQstatus(conn) != CONNECTION_OK || sqlstate.starts_with("08") || sqlstate.starts_with("40") ||
      sqlstate == "55P03" || sqlstate.starts_with("57P")) {
    spdlog::warn("postgres unavailable (sqlstate {}): {}", sqlstate, PQerrorMessage(conn));
    return Error::Unavailable("the database is unavailable; retry later");
  }
  const char* msg = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  spdlog::error("postgres error (sqlstate {}): {} in statement: {}", sqlstate, msg, sql);
  return Error::Internal("database error");
}

class PgTx final : public Tx {
 public:
  explicit PgTx(PGconn* conn) : conn_(conn) {}

  Result<std::vector<Row>> Query(std::string_view sql, std::span<const SqlValue> params) override {
    HANGAR_ASSIGN_OR_RETURN(PgResult res, Run(sql, params));
    int rows = PQntuples(res.get());
    int cols = PQnfields(res.get());
    std::vector<Oid> types(cols);
    for (int c = 0; c < cols; ++c) types[c] = PQftype(res.get(), c);
    std::vector<Row> out;
    out.reserve(rows);
    for (int r = 0; r < rows; ++r) {
      std::vector<SqlValue> values;
      values.reserve(cols);
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(res.get(), r, c)) {
          values.emplace_back(std::monostate{});
          continue;
        }
        const char* v = PQgetvalue(res.get(), r, c);
        int len = PQgetlength(res.get(), r, c);
        switch (types[c]) {
          case kBoolOid:
            values.emplace_back(int64_t{v[0] == 't' ? 1 : 0});
            break;
          case kInt2Oid:
          case kInt4Oid:
          case kInt8Oid: {
            int64_t n = 0;
            std::from_chars(v, v + len, n);
            values.emplace_back(n);
            break;
          }
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid:
            values.emplace_back(std::strtod(v, nullptr));
            break;
          default:
            values.emplace_back(std::string(v, len));
        }
      }
      out.emplace_back(std::move(values));
    }
    return out;
  }

  Result<int64_t> Exec(std::string_view sql, std::span<const SqlValue> params) override {
    HANGAR_ASSIGN_OR_RETURN(PgResult res, Run(sql, params));
    const char* tuples = PQcmdTuples(res.get());
    int64_t n = 0;
    std::from_chars(tuples, tuples + std::strlen(tuples), n);
    return n;
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

  const std::optional<Error>& failure() const { return failure_; }

 private:
  Result<PgResult> Run(std::string_view sql, std::span<const SqlValue> params) {
    // After an error PostgreSQL rejects every statement until ROLLBACK; report the first error
    // again rather than the server's generic "transaction is aborted".
    if (failure_) return std::unexpected(*failure_);
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlValue& p = params[i];
      if (std::holds_alternative<std::monostate>(p)) {
        values[i] = nullptr;
        continue;
      }
      if (const auto* n = std::get_if<int64_t>(&p)) {
        text[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&p)) {
        text[i] = fmt::format("{}", *d);  // shortest text that round-trips
      } else {
        text[i] = std::get<std::string>(p);
      }
      values[i] = text[i].c_str();
    }
    std::string sql_z(sql);
    PgResult res(PQexecParams(conn_, sql_z.c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      failure_ = PgError(conn_, res.get(), sql);
      return std::unexpected(*failure_);
    }
    return res;
  }

  PGconn* conn_;
  std::optional<Error> failure_;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string url, int pool_size, Micros connect_timeout)
      : url_(std::move(url)),
        connect_timeout_s_(std::to_string(std::max<int64_t>(
            1, std::chrono::ceil<std::chrono::seconds>(connect_timeout).count()))),
        slots_(std::max(1, pool_size), nullptr) {
    for (auto& s : slots_) free_.push_back(&s);
  }

  ~PostgresStore() override {
    for (PGconn* c : slots_) {
      if (c != nullptr) PQfinish(c);
    }
  }

  // REPEATABLE READ gives the whole read one snapshot (store.h); read-only transactions never
  // fail serialisation at that level.
  Status Read(const TxFunction& fn) override {
    return RunTx(fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  Status Write(const TxFunction& fn) override { return RunTx(fn, "BEGIN"); }
  Status Ping() override {
    return Read([](Tx& tx) -> Status { return StatusOf(tx.Query("SELECT 1")); });
  }
  Dialect dialect() const override { return Dialect::kPostgres; }

  // Connects one pooled connection so OpenStore can report an unreachable server.
  Status Warm() {
    PGconn** slot = Borrow();
    Status s = EnsureConnected(*slot);
    Return(slot);
    return s;
  }

 private:
  PGconn** Borrow() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    PGconn** slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void Return(PGconn** slot) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(slot);
    }
    cv_.notify_one();
  }

  Status EnsureConnected(PGconn*& conn) {
    if (conn != nullptr && PQstatus(conn) == CONNECTION_OK) return Ok();
    if (conn != nullptr) {
      PQfinish(conn);
      conn = nullptr;
    }
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* vals[] = {url_.c_str(), connect_timeout_s_.c_str(), "hangard", nullptr};
    conn = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
      spdlog::warn("cannot connect to postgres: {}",
                   conn != nullptr ? PQerrorMessage(conn) : "out of memory");
      if (conn != nullptr) PQfinish(conn);
      conn = nullptr;
      return std::unexpected(Error::Unavailable("cannot connect to the PostgreSQL server"));
    }
    return Ok();
  }

  static Status Simple(PGconn* conn, const char* sql, const char* expect_status) {
    PgResult res(PQexec(conn, sql));
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
      return std::unexpected(PgError(conn, res.get(), sql));
    }
    // COMMIT of a transaction that had failed answers ROLLBACK without an error: catch it.
    if (expect_status != nullptr && std::string_view(PQcmdStatus(res.get())) != expect_status) {
      spdlog::error("postgres answered {} to {}", PQcmdStatus(res.get()), sql);
      return std::unexpected(Error::Internal("database error"));
    }
    return Ok();
  }

  Status RunTx(const TxFunction& fn, const char* begin) {
    PGconn** slot = Borrow();
    Status s = RunOn(*slot, fn, begin);
    Return(slot);
    return s;
  }

  Status RunOn(PGconn*& conn, const TxFunction& fn, const char* begin) {
    HANGAR_TRY(EnsureConnected(conn));
    HANGAR_TRY(Simple(conn, begin, nullptr));
    PgTx tx(conn);
    Status s = RunTxFunction(fn, tx);
    if (!s) {
      if (PQstatus(conn) == CONNECTION_OK) (void)Simple(conn, "ROLLBACK", nullptr);
      return s;
    }
    return Simple(conn, "COMMIT", "COMMIT");
  }

  const std::string url_;
  const std::string connect_timeout_s_;
  std::vector<PGconn*> slots_;  // a slot is touched only by the thread that borrowed it
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PGconn**> free_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const StoreOptions& options) {
  auto store = std::make_unique<PostgresStore>(url, options.pool_size, options.busy_timeout);
  HANGAR_TRY(store->Warm());
  return store;
}

}  // namespace hangar::store
