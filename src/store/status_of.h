// Small helpers private to store/ and its two backends.
//
// Thread-safety: pure functions.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "common/error.h"
#include "store/store.h"

namespace hangar::store {

// StatusOf: drops the value of a Result, keeping its error (GCC 12's std::expected has no
// transform()).
template <typename T>
Status StatusOf(Result<T>&& r) {
  if (!r) return std::unexpected(std::move(r).error());
  return Ok();
}

// Runs a caller's transaction function for a backend. An exception escaping it (a bug: no
// exceptions cross module boundaries) becomes kInternal, and a statement failure the function
// swallowed still fails the transaction (PostgreSQL aborts a transaction after any error, so
// SQLite is held to the same rule). `BackendTx` has failure() -> const std::optional<Error>&.
template <typename BackendTx>
Status RunTxFunction(const TxFunction& fn, BackendTx& tx) {
  Status s;
  try {
    s = fn(tx);
  } catch (const std::exception& e) {
    spdlog::error("exception escaped a store transaction function: {}", e.what());
    s = std::unexpected(Error::Internal("unexpected failure"));
  }
  if (s && tx.failure()) return std::unexpected(*tx.failure());
  return s;
}

}  // namespace hangar::store
