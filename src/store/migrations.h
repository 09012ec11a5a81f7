// Versioned schema migrations for both store backends.
//
// Migrations are an ordered list, each a version number, a name and statements for each dialect
// (one shared text where the dialects agree). At start-up OpenStore applies every migration newer
// than the database's, each in its own transaction together with its row in
// schema_migrations(version, name, applied_at). On PostgreSQL each transaction first takes a
// transaction-scoped advisory lock, so replicas starting together apply each migration once.
// Migrations are never edited once released: a change is a new migration.
//
// Thread-safety: the functions are safe to call concurrently (they run in Store transactions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace hangar::store {

// One statement of a migration, in each dialect.
struct MigrationStep {
  std::string sqlite;
  std::string postgres;
};

struct Migration {
  int64_t version;
  std::string name;
  std::vector<MigrationStep> steps;
};

// Every migration, in version order.
const std::vector<Migration>& AllMigrations();

// The version of the newest migration this binary knows.
int64_t LatestSchemaVersion();

// Applies the migrations `store` lacks. kInternal when a migration fails (nothing of it is kept).
Status ApplyMigrations(Store& store);

// The newest applied version (0 for an empty database); cheap enough for /readyz.
Result<int64_t> SchemaVersion(Store& store);

}  // namespace hangar::store
