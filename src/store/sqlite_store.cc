// SQLite backend: connections with a prepared-statement cache, a read pool and a group-committing
// writer thread. See sqlite_store.h for the design and thread-safety.
#include "store/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/status_of.h"

namespace hangar::store {
namespace {

// Converts an engine failure into our canonical codes. The SQL and the engine's message go to
// the log only: API clients see a generic message.
Error SqliteError(sqlite3* db, int rc, std::string_view sql) {
  int ext = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Error::AlreadyExists("an object with the same unique key already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Error::Conflict("a referenced object does not exist");
    default:
      break;
  }
  switch (ext & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error::Unavailable("the database is busy; retry later");
    default:
      break;
  }
  spdlog::error("sqlite error {} ({}) in statement: {}", ext, msg, sql);
  return Error::Internal("database error");
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// A prepared statement and, for each of its parameter slots, which `$N` it is (0-based N-1), so
// binding is positional in our parameter list whatever the order of appearance in the SQL.
struct Prepared {
  sqlite3_stmt* stmt = nullptr;
  std::vector<int> param_numbers;
};

// One SQLite connection and its statement cache. Used by one thread at a time (the pool hands it
// out; the writer thread owns the write connection).
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, p] : cache_) sqlite3_finalize(p.stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only,
                                                  Micros busy_timeout) {
    auto conn = std::make_unique<Connection>();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &conn->db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = conn->db_ != nullptr ? sqlite3_errmsg(conn->db_) : sqlite3_errstr(rc);
      spdlog::error("cannot open sqlite database {}: {}", path, msg);
      return std::unexpected(Error::Unavailable("cannot open the SQLite database " + path));
    }
    sqlite3_extended_result_codes(conn->db_, 1);
    sqlite3_busy_timeout(
        conn->db_,
        static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(busy_timeout).count()));
    // WAL lets readers proceed during writes; FULL syncs the WAL on every commit, which is what
    // makes an acknowledged write durable.
    for (std::string_view pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      HANGAR_TRY(conn->Run(pragma, {}, nullptr));
    }
    if (read_only) HANGAR_TRY(conn->Run("PRAGMA query_only=ON", {}, nullptr));
    return conn;
  }

  // Runs `sql` with `params`; appends rows to `rows` when non-null. Returns the changed-row count.
  Result<int64_t> Run(std::string_view sql, std::span<const SqlValue> params,
                      std::vector<Row>* rows) {
    HANGAR_ASSIGN_OR_RETURN(Prepared * p, Prepare(sql));
    sqlite3_stmt* stmt = p->stmt;
    for (size_t slot = 0; slot < p->param_numbers.size(); ++slot) {
      int n = p->param_numbers[slot];
      if (n < 0 || static_cast<size_t>(n) >= params.size()) {
        spdlog::error("statement uses parameter slot {} but {} were given: {}", slot + 1,
                      params.size(), sql);
        return std::unexpected(Error::Internal("database error"));
      }
      const SqlValue& v = params[n];
      int idx = static_cast<int>(slot) + 1;
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (const auto* i = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *i);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) {
        Error e = SqliteError(db_, rc, sql);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return std::unexpected(std::move(e));
      }
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (rows == nullptr) continue;
      int n = sqlite3_column_count(stmt);
      std::vector<SqlValue> values;
      values.reserve(n);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_NULL:
            values.emplace_back(std::monostate{});
            break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(stmt, c));
            int len = sqlite3_column_bytes(stmt, c);
            values.emplace_back(std::string(text != nullptr ? text : "", len));
          }
        }
      }
      rows->emplace_back(std::move(values));
    }
    Result<int64_t> out = static_cast<int64_t>(sqlite3_changes64(db_));
    if (rc != SQLITE_DONE) out = std::unexpected(SqliteError(db_, rc, sql));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return out;
  }

  // Plain statements of transaction control (no parameters, not worth caching separately).
  Status Exec(std::string_view sql) { return StatusOf(Run(sql, {}, nullptr)); }

 private:
  Result<Prepared*> Prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return &it->second;
    Prepared p;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &p.stmt, &tail);
    if (rc != SQLITE_OK) return std::unexpected(SqliteError(db_, rc, sql));
    if (p.stmt == nullptr) {
      spdlog::error("empty sqlite statement: {}", sql);
      return std::unexpected(Error::Internal("database error"));
    }
    int count = sqlite3_bind_parameter_count(p.stmt);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(p.stmt, i);
      int n = 0;
      std::string_view nv = name != nullptr ? name : "";
      if (nv.size() < 2 || nv[0] != '$' ||
          std::from_chars(nv.data() + 1, nv.data() + nv.size(), n).ec != std::errc() || n < 1) {
        sqlite3_finalize(p.stmt);
        spdlog::error("sqlite statement has a parameter that is not $N: {}", sql);
        return std::unexpected(Error::Internal("database error"));
      }
      p.param_numbers.push_back(n - 1);
    }
    auto [it, inserted] = cache_.emplace(std::string(sql), std::move(p));
    return &it->second;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, Prepared, StringHash, std::equal_to<>> cache_;
};

// The Tx handed to functions. After a failed statement the Tx refuses further statements and the
// transaction fails, as on PostgreSQL (where an error aborts the transaction), so code tested on
// one backend behaves the same on the other.
class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Connection& conn) : conn_(conn) {}

  Result<std::vector<Row>> Query(std::string_view sql, std::span<const SqlValue> params) override {
    HANGAR_TRY(CheckUsable());
    std::vector<Row> rows;
    auto r = conn_.Run(sql, params, &rows);
    if (!r) return Fail(std::move(r).error());
    return rows;
  }
  Result<int64_t> Exec(std::string_view sql, std::span<const SqlValue> params) override {
    HANGAR_TRY(CheckUsable());
    auto r = conn_.Run(sql, params, nullptr);
    if (!r) return Fail(std::move(r).error());
    return r;
  }
  Dialect dialect() const override { return Dialect::kSqlite; }

  const std::optional<Error>& failure() const { return failure_; }

 private:
  Status CheckUsable() {
    if (failure_) return std::unexpected(*failure_);
    return Ok();
  }
  std::unexpected<Error> Fail(Error e) {
    failure_ = e;
    return std::unexpected(std::move(e));
  }

  Connection& conn_;
  std::optional<Error> failure_;
};

class SqliteStoreImpl final : public SqliteStore {
 public:
  SqliteStoreImpl(std::unique_ptr<Connection> writer,
                  std::vector<std::unique_ptr<Connection>> readers)
      : writer_conn_(std::move(writer)), all_readers_(std::move(readers)) {
    for (auto& r : all_readers_) free_readers_.push_back(r.get());
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteStoreImpl() override {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_thread_.join();
  }

  Status Read(const TxFunction& fn) override {
    Connection* conn = nullptr;
    {
      std::unique_lock lock(readers_mu_);
      readers_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      conn = free_readers_.back();
      free_readers_.pop_back();
    }
    Status s = RunRead(*conn, fn);
    {
      std::lock_guard lock(readers_mu_);
      free_readers_.push_back(conn);
    }
    readers_cv_.notify_one();
    return s;
  }

  Status Write(const TxFunction& fn) override {
    Request req{&fn};
    {
      std::lock_guard lock(queue_mu_);
      queue_.push_back(&req);
    }
    queue_cv_.notify_one();
    std::unique_lock lock(queue_mu_);
    done_cv_.wait(lock, [&] { return req.done; });
    return std::move(req.result);
  }

  Status Ping() override {
    return Read([](Tx& tx) -> Status { return StatusOf(tx.Query("SELECT 1")); });
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  size_t PendingWrites() override {
    std::lock_guard lock(queue_mu_);
    return queue_.size();
  }

 private:
  struct Request {
    const TxFunction* fn;
    Status result;
    bool done = false;  // guarded by queue_mu_
  };

  static Status RunRead(Connection& conn, const TxFunction& fn) {
    // A deferred transaction takes its snapshot at the first read and keeps it until COMMIT.
    HANGAR_TRY(conn.Exec("BEGIN"));
    SqliteTx tx(conn);
    Status s = RunTxFunction(fn, tx);
    Status end = conn.Exec(s ? "COMMIT" : "ROLLBACK");
    if (!s) return s;
    return end;
  }

  void WriterLoop() {
    std::vector<Request*> batch;
    for (;;) {
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every request has been answered
        batch.assign(queue_.begin(), queue_.end());
        queue_.clear();
      }
      RunBatch(batch);
      {
        std::lock_guard lock(queue_mu_);
        for (Request* r : batch) r->done = true;
      }
      done_cv_.notify_all();
    }
  }

  // Runs one group-commit batch and fills in every request's result.
  void RunBatch(const std::vector<Request*>& batch) {
    Connection& conn = *writer_conn_;
    if (Status s = conn.Exec("BEGIN IMMEDIATE"); !s) {
      for (Request* r : batch) r->result = s;
      return;
    }
    Status txn_ok;  // an error once the transaction itself can no longer be trusted
    for (Request* r : batch) {
      if (!txn_ok) {
        r->result = txn_ok;
        continue;
      }
      if (txn_ok = conn.Exec("SAVEPOINT hangar_write"); !txn_ok) {
        r->result = txn_ok;
        continue;
      }
      SqliteTx tx(conn);
      r->result = RunTxFunction(*r->fn, tx);
      if (!r->result) {
        // Undo this function's changes only; the savepoint must then be released too.
        txn_ok = conn.Exec("ROLLBACK TO hangar_write");
        if (txn_ok) txn_ok = conn.Exec("RELEASE hangar_write");
      } else {
        txn_ok = conn.Exec("RELEASE hangar_write");
        if (!txn_ok) r->result = txn_ok;
      }
    }
    Status commit = txn_ok ? conn.Exec("COMMIT") : txn_ok;
    if (!commit) {
      spdlog::error("sqlite group commit of {} writes failed: {}", batch.size(),
                    commit.error().ToString());
      (void)conn.Exec("ROLLBACK");
      for (Request* r : batch) {
        if (r->result) r->result = commit;
      }
    }
  }

  std::unique_ptr<Connection> writer_conn_;  // used only by writer_thread_

  std::vector<std::unique_ptr<Connection>> all_readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<Connection*> free_readers_;  // guarded by readers_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the writer waits for requests
  std::condition_variable done_cv_;   // callers wait for their request's `done`
  std::deque<Request*> queue_;        // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::thread writer_thread_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const StoreOptions& options) {
  // The writer opens first so that the WAL switch and file creation happen before readers.
  HANGAR_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, false, options.busy_timeout));
  std::vector<std::unique_ptr<Connection>> readers;
  int n = std::max(1, options.pool_size);
  for (int i = 0; i < n; ++i) {
    HANGAR_ASSIGN_OR_RETURN(auto r, Connection::Open(path, true, options.busy_timeout));
    readers.push_back(std::move(r));
  }
  return std::make_unique<SqliteStoreImpl>(std::move(writer), std::move(readers));
}

}  // namespace hangar::store
