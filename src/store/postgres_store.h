// The PostgreSQL backend of the Store seam (private to store/ and its tests).
//
// A fixed-size pool of libpq connections; each Read()/Write() borrows one for one transaction
// (reads: BEGIN REPEATABLE READ READ ONLY, one snapshot; writes: BEGIN … COMMIT). Parameters travel
// as text (PQexecParams) and the server infers their types; results are converted by column type
// (integers and booleans to int64, floating and numeric to double, everything else text). A
// connection found broken is reconnected the next time it is borrowed. PostgreSQL needs no group
// commit: concurrent commits share WAL flushes.
//
// Thread-safety: safe to use from any number of threads; at most pool_size transactions run at
// once, further callers wait for a connection.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace hangar::store {

// Connects to the libpq URI `url` (one connection up front, to report an unreachable server
// early as kUnavailable); does not apply migrations.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const StoreOptions& options);

}  // namespace hangar::store
