// Test support: a SQLite store in a fresh temporary directory, removed again on destruction.
// For tests of modules above the store (identity, fleet) that want the real engine.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"
#include "store/store.h"

namespace hangar::store {

class TempSqliteStore {
 public:
  // `name` keeps concurrent test processes apart (use the test's name).
  static Result<TempSqliteStore> Open(const std::string& name) {
    TempSqliteStore out;
    out.dir_ = std::filesystem::temp_directory_path() /
               ("hangar-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(out.dir_);
    std::filesystem::create_directories(out.dir_);
    HANGAR_ASSIGN_OR_RETURN(out.store_,
                            OpenStore({.url = "sqlite:" + (out.dir_ / "test.db").string()}));
    return out;
  }
  TempSqliteStore(TempSqliteStore&&) = default;
  TempSqliteStore& operator=(TempSqliteStore&&) = default;
  ~TempSqliteStore() {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Store& store() { return *store_; }

 private:
  TempSqliteStore() = default;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace hangar::store
