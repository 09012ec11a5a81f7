// The SQLite backend of the Store seam (private to store/ and its tests).
//
// Layout: one write connection owned by a writer thread, plus a pool of read connections. The
// database runs in WAL mode with synchronous=FULL, so readers never block the writer or each
// other, and a commit is durable when COMMIT returns.
//
// Group commit: Write() enqueues its function and blocks. The writer thread takes every pending
// request at once and runs them in one BEGIN IMMEDIATE … COMMIT, each inside its own SAVEPOINT
// (a failing function is rolled back to its savepoint without spoiling the batch). One COMMIT,
// hence one fsync, serves the whole batch; each caller is then woken with its own result. A
// failed COMMIT fails every request of the batch.
//
// Each connection caches its prepared statements by SQL text, so repeated queries (GET by id)
// skip parsing and planning.
//
// Thread-safety: SqliteStore is safe to use from any number of threads. A function passed to
// Write() runs on the writer thread and must not call Write() itself (it would wait for itself).
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace hangar::store {

class SqliteStore : public Store {
 public:
  ~SqliteStore() override = default;
  // Write requests queued and not yet taken by the writer thread (for tests that arrange a batch).
  virtual size_t PendingWrites() = 0;
};

// Opens (creating if needed) the SQLite database at `path`; does not apply migrations.
// kUnavailable when the file cannot be opened or configured.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const StoreOptions& options);

}  // namespace hangar::store
