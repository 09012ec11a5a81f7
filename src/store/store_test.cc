// Contract tests of the Store seam and the typed repositories, run on every backend: SQLite always
// (in a temporary directory), PostgreSQL when HANGAR_TEST_POSTGRES_URL names a server (see
// scripts/postgres-test-server.sh). Each test gets an empty database: a fresh SQLite file, or a
// fresh PostgreSQL schema selected through the connection's search_path.
#include "store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "store/migrations.h"
#include "store/repos.h"
#include "store/sqlite_store.h"

namespace hangar::store {
namespace {

using std::chrono::seconds;

#define ASSERT_OK(expr)                                                       \
  do {                                                                        \
    auto&& assert_ok_r_ = (expr);                                             \
    ASSERT_TRUE(assert_ok_r_.has_value()) << assert_ok_r_.error().ToString(); \
  } while (false)
#define EXPECT_CODE(expr, code_)                                                          \
  do {                                                                                    \
    auto&& expect_code_r_ = (expr);                                                       \
    ASSERT_FALSE(expect_code_r_.has_value());                                             \
    EXPECT_EQ(expect_code_r_.error().code(), code_) << expect_code_r_.error().ToString(); \
  } while (false)

const Timestamp kT0 = FromUnixMicros(1'780'000'000'000'000);

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      const char* url = std::getenv("HANGAR_TEST_POSTGRES_URL");
      if (url == nullptr || *url == '\0') {
        GTEST_SKIP() << "PostgreSQL contract tests skipped: set HANGAR_TEST_POSTGRES_URL, e.g. "
                        "URL=$(scripts/postgres-test-server.sh start /tmp/pgt)";
      }
      admin_url_ = url;
      schema_ = "t_" + Base62Encode(RandomBytes(9));
      std::transform(schema_.begin(), schema_.end(), schema_.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      AdminExec("CREATE SCHEMA \"" + schema_ + "\"");
      url_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") +
             "options=-csearch_path%3D" + schema_;
    } else {
      std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "store_test_XXXXXX");
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      url_ = "sqlite:" + dir_ + "/nested/dir/hangar.db";  // OpenStore creates the parents
    }
    auto store = OpenStore({.url = url_, .pool_size = 4});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    org_ = MakeOrg("acme");
    other_org_ = MakeOrg("globex");
  }

  void TearDown() override {
    store_.reset();
    if (!schema_.empty()) AdminExec("DROP SCHEMA \"" + schema_ + "\" CASCADE");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void AdminExec(const std::string& sql) {
    PGconn* conn = PQconnectdb(admin_url_.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* res = PQexec(conn, ("SET client_min_messages TO warning; " + sql).c_str());
    EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
  }

  // Runs `f(tx)` (returning a Result) in a read or write transaction and returns its result.
  template <typename F>
  auto InRead(F f) -> decltype(f(std::declval<Tx&>())) {
    return Run(f, false);
  }
  template <typename F>
  auto InWrite(F f) -> decltype(f(std::declval<Tx&>())) {
    return Run(f, true);
  }
  template <typename F>
  auto Run(F f, bool write) -> decltype(f(std::declval<Tx&>())) {
    using R = decltype(f(std::declval<Tx&>()));
    std::optional<R> out;
    auto fn = [&](Tx& tx) -> Status {
      out.emplace(f(tx));
      if (!*out) return std::unexpected(out->error());
      return Ok();
    };
    Status s = write ? store_->Write(fn) : store_->Read(fn);
    if (!s) return std::unexpected(s.error());
    return std::move(*out);
  }

  OrgId MakeOrg(const std::string& name) {
    OrgRecord org{OrgId::Generate(clock_), name, kT0};
    EXPECT_TRUE(InWrite([&](Tx& tx) { return InsertOrg(tx, org); }).has_value());
    return org.id;
  }

  GpuTypeRecord NewGpuType(const OrgId& org, const std::string& name, int64_t memory = 81920,
                           int64_t price = 2'000'000) {
    GpuTypeRecord t;
    t.id = GpuTypeId::Generate(clock_);
    t.org_id = org;
    t.name = name;
    t.vendor = "nvidia";
    t.architecture = "hopper";
    t.product_name = "NVIDIA " + name;
    t.memory_mib = memory;
    t.compute_capability = "9.0";
    t.hourly_price_micros = price;
    t.currency = "USD";
    t.created_at = t.updated_at = clock_.Now();
    return t;
  }

  NodeRecord NewNode(const OrgId& org, const std::string& name, int64_t gpu_count = 8) {
    NodeRecord n;
    n.id = NodeId::Generate(clock_);
    n.org_id = org;
    n.name = name;
    n.hostname = name + ".example";
    n.agent_version = "1.0.0";
    n.gpu_count = gpu_count;
    n.labels = {{"zone", "a"}, {"rack", "r1"}};
    n.created_at = n.updated_at = clock_.Now();
    return n;
  }

  GpuRecord NewGpu(const OrgId& org, const NodeId& node, int64_t index, const GpuTypeId& type) {
    GpuRecord g;
    g.id = GpuId::Generate(clock_);
    g.org_id = org;
    g.node_id = node;
    g.index = index;
    g.uuid = "GPU-" + Base62Encode(RandomBytes(12));
    g.gpu_type_id = type;
    g.product_name = "NVIDIA H100";
    g.memory_mib = 81920;
    g.driver_version = "550.54";
    g.cuda_version = "12.4";
    g.compute_capability = "9.0";
    g.created_at = g.updated_at = clock_.Now();
    return g;
  }

  EventRecord NewEvent(const OrgId& org, const std::string& subject) {
    return EventRecord{0,
                       EventId::Generate(clock_),
                       org,
                       "hangar.test.created",
                       "/tests",
                       subject,
                       clock_.Now(),
                       R"({"ok":true})"};
  }

  Result<int64_t> Count(const std::string& table) {
    return InRead([&](Tx& tx) -> Result<int64_t> {
      HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM " + table));
      return rows.at(0).Int(0);
    });
  }

  FakeClock clock_{kT0};
  std::string admin_url_, schema_, dir_, url_;
  std::unique_ptr<Store> store_;
  OrgId org_, other_org_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(OpenStoreTest, RejectsAnUnknownScheme) {
  auto store = OpenStore({.url = "mysql://localhost/hangar"});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(store.error().violations().size(), 1u);
  EXPECT_EQ(store.error().violations()[0].pointer, "database");
}

TEST_P(StoreTest, MigratesAnEmptyDatabaseAndReopensIdempotently) {
  auto version = SchemaVersion(*store_);
  ASSERT_OK(version);
  EXPECT_EQ(*version, LatestSchemaVersion());
  EXPECT_EQ(Count("schema_migrations").value(), static_cast<int64_t>(AllMigrations().size()));

  store_.reset();
  auto reopened = OpenStore({.url = url_});
  ASSERT_OK(reopened);
  store_ = std::move(*reopened);
  ASSERT_OK(ApplyMigrations(*store_));
  EXPECT_EQ(SchemaVersion(*store_).value(), LatestSchemaVersion());
  EXPECT_EQ(Count("schema_migrations").value(), static_cast<int64_t>(AllMigrations().size()));
  EXPECT_EQ(InRead([](Tx& tx) { return CountOrgs(tx); }).value(), 2);  // data survived
  ASSERT_OK(store_->Ping());
}

TEST_P(StoreTest, OrgsAndApiKeys) {
  EXPECT_EQ(InRead([](Tx& tx) { return CountOrgs(tx); }).value(), 2);
  OrgRecord dup{org_, "again", kT0};
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertOrg(tx, dup); }), ErrorCode::kAlreadyExists);

  ApiKeyRecord admin{
      ApiKeyId::Generate(clock_), org_,         "admin", Sha256Hex("k1"), PrincipalKind::kAdmin, "",
      kT0 + seconds(60),          std::nullopt, kT0};
  ApiKeyRecord node1{ApiKeyId::Generate(clock_),
                     org_,
                     "node",
                     Sha256Hex("k2"),
                     PrincipalKind::kNode,
                     "node_a",
                     std::nullopt,
                     std::nullopt,
                     kT0};
  ApiKeyRecord other{ApiKeyId::Generate(clock_),
                     other_org_,
                     "node",
                     Sha256Hex("k3"),
                     PrincipalKind::kNode,
                     "node_a",
                     std::nullopt,
                     std::nullopt,
                     kT0};
  for (const auto* k : {&admin, &node1, &other}) {
    ASSERT_OK(InWrite([&](Tx& tx) { return InsertApiKey(tx, *k); }));
  }
  ApiKeyRecord dup_hash = admin;
  dup_hash.id = ApiKeyId::Generate(clock_);
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertApiKey(tx, dup_hash); }),
              ErrorCode::kAlreadyExists);

  auto found = InRead([&](Tx& tx) { return FindApiKeyByHash(tx, Sha256Hex("k1")); });
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, admin.id);
  EXPECT_EQ((*found)->org_id, org_);
  EXPECT_EQ((*found)->kind, PrincipalKind::kAdmin);
  EXPECT_EQ((*found)->expires_at, admin.expires_at);
  EXPECT_FALSE((*found)->revoked_at.has_value());
  EXPECT_FALSE(InRead([&](Tx& tx) { return FindApiKeyByHash(tx, "nope"); })->has_value());

  ASSERT_OK(InWrite(
      [&](Tx& tx) { return RevokeApiKeysOfSubject(tx, org_, "node_a", kT0 + seconds(5)); }));
  auto revoked = InRead([&](Tx& tx) { return FindApiKeyByHash(tx, Sha256Hex("k2")); });
  EXPECT_EQ((*revoked)->revoked_at, kT0 + seconds(5));
  EXPECT_EQ((*revoked)->kind, PrincipalKind::kNode);
  EXPECT_EQ((*revoked)->subject_id, "node_a");
  // Another organisation's key for a same-named subject, and the admin key, are untouched.
  EXPECT_FALSE(
      (*InRead([&](Tx& tx) { return FindApiKeyByHash(tx, Sha256Hex("k3")); }))->revoked_at);
  EXPECT_FALSE(
      (*InRead([&](Tx& tx) { return FindApiKeyByHash(tx, Sha256Hex("k1")); }))->revoked_at);
}

TEST_P(StoreTest, JoinTokens) {
  std::vector<JoinTokenRecord> tokens;
  for (int i = 0; i < 3; ++i) {
    JoinTokenRecord t;
    t.id = JoinTokenId::Generate(clock_);
    t.org_id = org_;
    t.description = "token " + std::to_string(i);
    t.secret_hash = Sha256Hex("jt" + std::to_string(i));
    t.expires_at = kT0 + seconds(100 - i);
    t.created_at = t.updated_at = clock_.Now();
    clock_.Advance(seconds(1));
    ASSERT_OK(InWrite([&](Tx& tx) { return InsertJoinToken(tx, t); }));
    tokens.push_back(t);
  }
  JoinTokenRecord dup = tokens[0];
  dup.id = JoinTokenId::Generate(clock_);
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertJoinToken(tx, dup); }), ErrorCode::kAlreadyExists);

  auto by_hash = InRead([&](Tx& tx) { return FindJoinTokenByHash(tx, tokens[1].secret_hash); });
  ASSERT_TRUE(by_hash.value().has_value());
  EXPECT_EQ((*by_hash)->id, tokens[1].id);
  EXPECT_EQ((*by_hash)->expires_at, tokens[1].expires_at);
  EXPECT_EQ((*by_hash)->uses, 0);
  EXPECT_FALSE(InRead([&](Tx& tx) { return GetJoinToken(tx, other_org_, tokens[1].id); })
                   .value()
                   .has_value());

  ASSERT_OK(
      InWrite([&](Tx& tx) { return RecordJoinTokenUse(tx, tokens[1].id, kT0 + seconds(9)); }));
  auto used = InRead([&](Tx& tx) { return GetJoinToken(tx, org_, tokens[1].id); });
  EXPECT_EQ((*used)->uses, 1);
  EXPECT_EQ((*used)->last_used_at, kT0 + seconds(9));
  EXPECT_EQ((*used)->version, 2);
  EXPECT_CODE(
      InWrite([&](Tx& tx) { return RecordJoinTokenUse(tx, JoinTokenId::Generate(clock_), kT0); }),
      ErrorCode::kNotFound);

  ListQuery q;
  q.sort = {{"expires_at", false}};
  auto page = InRead([&](Tx& tx) { return ListJoinTokens(tx, org_, q); });
  ASSERT_OK(page);
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].id, tokens[2].id);
  EXPECT_EQ(page->items[2].id, tokens[0].id);

  EXPECT_CODE(InWrite([&](Tx& tx) { return DeleteJoinToken(tx, other_org_, tokens[0].id); }),
              ErrorCode::kNotFound);
  ASSERT_OK(InWrite([&](Tx& tx) { return DeleteJoinToken(tx, org_, tokens[0].id); }));
  EXPECT_CODE(InWrite([&](Tx& tx) { return DeleteJoinToken(tx, org_, tokens[0].id); }),
              ErrorCode::kNotFound);
}

TEST_P(StoreTest, GpuTypesAreUniquePerOrganisation) {
  GpuTypeRecord h100 = NewGpuType(org_, "H100-80GB");
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertGpuType(tx, h100); }));

  GpuTypeRecord same_name = NewGpuType(org_, "H100-80GB");
  same_name.product_name = "something else";
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertGpuType(tx, same_name); }),
              ErrorCode::kAlreadyExists);
  GpuTypeRecord same_product = NewGpuType(org_, "H100-other");
  same_product.product_name = h100.product_name;
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertGpuType(tx, same_product); }),
              ErrorCode::kAlreadyExists);
  // Another organisation may use the same names.
  ASSERT_OK(
      InWrite([&](Tx& tx) { return InsertGpuType(tx, NewGpuType(other_org_, "H100-80GB")); }));

  auto got = InRead([&](Tx& tx) { return GetGpuType(tx, org_, h100.id); });
  ASSERT_TRUE(got.value().has_value());
  const GpuTypeRecord& t = **got;
  EXPECT_EQ(t.name, h100.name);
  EXPECT_EQ(t.vendor, "nvidia");
  EXPECT_EQ(t.architecture, "hopper");
  EXPECT_EQ(t.memory_mib, 81920);
  EXPECT_EQ(t.compute_capability, "9.0");
  EXPECT_EQ(t.hourly_price_micros, 2'000'000);
  EXPECT_EQ(t.currency, "USD");
  EXPECT_EQ(t.version, 1);
  EXPECT_EQ(t.created_at, h100.created_at);

  auto by_product =
      InRead([&](Tx& tx) { return FindGpuTypeByProductName(tx, org_, h100.product_name); });
  EXPECT_EQ((*by_product)->id, h100.id);
  EXPECT_FALSE(InRead([&](Tx& tx) { return GetGpuType(tx, other_org_, h100.id); })->has_value());
}

TEST_P(StoreTest, NodesUpdateOptimistically) {
  NodeRecord node = NewNode(org_, "n1");
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertNode(tx, node); }));
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertNode(tx, NewNode(org_, "n1")); }),
              ErrorCode::kAlreadyExists);
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertNode(tx, NewNode(other_org_, "n1")); }));

  auto got = InRead([&](Tx& tx) { return GetNode(tx, org_, node.id); });
  ASSERT_TRUE(got.value().has_value());
  EXPECT_EQ((*got)->labels, node.labels);
  EXPECT_EQ((*got)->state, api::NodeState::ready);
  EXPECT_FALSE((*got)->cordoned);
  EXPECT_FALSE((*got)->last_heartbeat_at.has_value());
  EXPECT_EQ((*got)->version, 1);
  EXPECT_EQ(InRead([&](Tx& tx) { return FindNodeByName(tx, org_, "n1"); }).value()->id, node.id);
  EXPECT_FALSE(InRead([&](Tx& tx) { return GetNode(tx, other_org_, node.id); })->has_value());

  NodeRecord update = **got;
  update.state = api::NodeState::unreachable;
  update.cordoned = true;
  update.labels["gpu"] = "h100";
  update.last_heartbeat_at = kT0 + seconds(3);
  update.updated_at = kT0 + seconds(4);
  ASSERT_OK(InWrite([&](Tx& tx) { return UpdateNode(tx, update); }));
  auto after = InRead([&](Tx& tx) { return GetNode(tx, org_, node.id); });
  EXPECT_EQ((*after)->version, 2);
  EXPECT_EQ((*after)->state, api::NodeState::unreachable);
  EXPECT_TRUE((*after)->cordoned);
  EXPECT_EQ((*after)->labels.at("gpu"), "h100");
  EXPECT_EQ((*after)->last_heartbeat_at, kT0 + seconds(3));
  EXPECT_EQ((*after)->updated_at, kT0 + seconds(4));

  // `update` still carries version 1: it was read before the change.
  EXPECT_CODE(InWrite([&](Tx& tx) { return UpdateNode(tx, update); }),
              ErrorCode::kPreconditionFailed);
  NodeRecord foreign = **after;
  foreign.org_id = other_org_;
  EXPECT_CODE(InWrite([&](Tx& tx) { return UpdateNode(tx, foreign); }), ErrorCode::kNotFound);
  NodeRecord missing = NewNode(org_, "ghost");
  EXPECT_CODE(InWrite([&](Tx& tx) { return UpdateNode(tx, missing); }), ErrorCode::kNotFound);
}

TEST_P(StoreTest, ListsNodesWithStaleHeartbeats) {
  NodeRecord fresh = NewNode(org_, "fresh"), stale = NewNode(org_, "stale"),
             never = NewNode(other_org_, "never"), gone = NewNode(org_, "gone");
  fresh.last_heartbeat_at = kT0 + seconds(50);
  stale.last_heartbeat_at = kT0 + seconds(10);
  gone.last_heartbeat_at = kT0;
  gone.state = api::NodeState::unreachable;
  for (const auto* n : {&fresh, &stale, &never, &gone}) {
    ASSERT_OK(InWrite([&](Tx& tx) { return InsertNode(tx, *n); }));
  }
  auto nodes = InRead([&](Tx& tx) {
    return ListNodesWithHeartbeatBefore(tx, api::NodeState::ready, kT0 + seconds(30));
  });
  ASSERT_OK(nodes);
  std::set<std::string> names;
  for (const auto& n : *nodes) names.insert(n.name);
  EXPECT_EQ(names, (std::set<std::string>{"stale", "never"}));
}

TEST_P(StoreTest, GpusJoinTheirTypeAndAreUnique) {
  GpuTypeRecord type = NewGpuType(org_, "H100");
  NodeRecord node = NewNode(org_, "n1");
  ASSERT_OK(InWrite([&](Tx& tx) -> Status {
    HANGAR_TRY(InsertGpuType(tx, type));
    return InsertNode(tx, node);
  }));
  GpuRecord g1 = NewGpu(org_, node.id, 1, type.id);
  GpuRecord g0 = NewGpu(org_, node.id, 0, GpuTypeId());  // not in the catalogue
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertGpu(tx, g1); }));
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertGpu(tx, g0); }));

  GpuRecord dup_uuid = NewGpu(org_, node.id, 5, type.id);
  dup_uuid.uuid = g1.uuid;
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertGpu(tx, dup_uuid); }), ErrorCode::kAlreadyExists);
  EXPECT_CODE(InWrite([&](Tx& tx) { return InsertGpu(tx, NewGpu(org_, node.id, 1, type.id)); }),
              ErrorCode::kAlreadyExists);

  auto got = InRead([&](Tx& tx) { return GetGpu(tx, org_, g1.id); });
  ASSERT_TRUE(got.value().has_value());
  EXPECT_EQ((*got)->gpu_type_id, type.id);
  EXPECT_EQ((*got)->gpu_type_name, "H100");
  EXPECT_EQ((*got)->uuid, g1.uuid);
  EXPECT_EQ((*got)->driver_version, "550.54");
  EXPECT_EQ((*got)->cuda_version, "12.4");
  EXPECT_EQ((*got)->state, api::GpuState::ready);
  auto untyped = InRead([&](Tx& tx) { return GetGpu(tx, org_, g0.id); });
  EXPECT_TRUE((*untyped)->gpu_type_id.empty());
  EXPECT_EQ((*untyped)->gpu_type_name, "");
  EXPECT_FALSE(InRead([&](Tx& tx) { return GetGpu(tx, other_org_, g1.id); })->has_value());

  auto of_node = InRead([&](Tx& tx) { return ListGpusOfNode(tx, org_, node.id); });
  ASSERT_EQ(of_node.value().size(), 2u);
  EXPECT_EQ((*of_node)[0].id, g0.id);
  EXPECT_EQ((*of_node)[1].id, g1.id);
  EXPECT_TRUE(InRead([&](Tx& tx) { return ListGpusOfNode(tx, other_org_, node.id); })->empty());

  GpuRecord update = **got;
  update.state = api::GpuState::unhealthy;
  update.driver_version = "560.1";
  ASSERT_OK(InWrite([&](Tx& tx) { return UpdateGpu(tx, update); }));
  auto after = InRead([&](Tx& tx) { return GetGpu(tx, org_, g1.id); });
  EXPECT_EQ((*after)->state, api::GpuState::unhealthy);
  EXPECT_EQ((*after)->driver_version, "560.1");
  EXPECT_EQ((*after)->version, 2);
  EXPECT_CODE(InWrite([&](Tx& tx) { return UpdateGpu(tx, update); }),
              ErrorCode::kPreconditionFailed);

  EXPECT_CODE(InWrite([&](Tx& tx) { return DeleteGpu(tx, other_org_, g1.id); }),
              ErrorCode::kNotFound);
  ASSERT_OK(InWrite([&](Tx& tx) { return DeleteGpu(tx, org_, g1.id); }));
  EXPECT_CODE(InWrite([&](Tx& tx) { return DeleteGpu(tx, org_, g1.id); }), ErrorCode::kNotFound);
  EXPECT_CODE(InWrite([&](Tx& tx) { return UpdateGpu(tx, update); }), ErrorCode::kNotFound);
}

TEST_P(StoreTest, FailedWriteKeepsNothingIncludingItsEvent) {
  GpuTypeRecord t = NewGpuType(org_, "A100");
  Status s = store_->Write([&](Tx& tx) -> Status {
    HANGAR_TRY(InsertGpuType(tx, t));
    HANGAR_TRY(AppendEvent(tx, NewEvent(org_, t.id.str())));
    return std::unexpected(Error::Invalid("changed my mind"));
  });
  EXPECT_CODE(s, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message(), "changed my mind");
  EXPECT_EQ(Count("gpu_types").value(), 0);
  EXPECT_EQ(Count("events").value(), 0);
}

TEST_P(StoreTest, SwallowedStatementErrorStillFailsTheWrite) {
  // PostgreSQL aborts a transaction on any error; both backends therefore refuse to commit a
  // function that ignored a failed statement.
  GpuTypeRecord t = NewGpuType(org_, "A100");
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertGpuType(tx, t); }));
  Status s = store_->Write([&](Tx& tx) -> Status {
    (void)InsertGpuType(tx, t);
    return Ok();
  });
  EXPECT_CODE(s, ErrorCode::kAlreadyExists);
}

TEST_P(StoreTest, ReadSeesCommittedData) {
  EXPECT_EQ(Count("gpu_types").value(), 0);
  GpuTypeRecord t = NewGpuType(org_, "L4");
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertGpuType(tx, t); }));
  EXPECT_TRUE(InRead([&](Tx& tx) { return GetGpuType(tx, org_, t.id); })->has_value());
  // Read transactions are read-only on both backends.
  EXPECT_CODE(store_->Read([&](Tx& tx) { return InsertGpuType(tx, NewGpuType(org_, "X")); }),
              ErrorCode::kInternal);
}

TEST_P(StoreTest, ConcurrentWritersGroupCommitAndFailIndependently) {
  constexpr int kThreads = 64;
  constexpr int kFailing = 17;
  auto* sqlite = dynamic_cast<SqliteStore*>(store_.get());

  // On SQLite, hold the writer thread in a first write until every other writer has queued, so
  // they all land in one batch with the failing one in the middle.
  std::atomic<bool> entered{false}, release{false};
  Status first;
  std::thread blocker([&] {
    first = store_->Write([&](Tx& tx) -> Status {
      entered = true;
      while (!release) std::this_thread::yield();
      return InsertGpuType(tx, NewGpuType(org_, "first"));
    });
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!entered && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(entered.load());
  if (sqlite == nullptr) release = true;

  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      GpuTypeRecord t = NewGpuType(org_, "type-" + std::to_string(i));
      results[i] = store_->Write([&](Tx& tx) -> Status {
        HANGAR_TRY(InsertGpuType(tx, t));
        HANGAR_TRY(AppendEvent(tx, NewEvent(org_, t.id.str())));
        if (i == kFailing) return std::unexpected(Error::Conflict("writer 17 fails"));
        return Ok();
      });
    });
  }
  if (sqlite != nullptr) {
    while (sqlite->PendingWrites() < kThreads && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_EQ(sqlite->PendingWrites(), static_cast<size_t>(kThreads));
    release = true;
  }
  blocker.join();
  for (auto& t : threads) t.join();

  ASSERT_OK(first);
  for (int i = 0; i < kThreads; ++i) {
    if (i == kFailing) {
      EXPECT_CODE(results[i], ErrorCode::kConflict);
    } else {
      EXPECT_TRUE(results[i].has_value()) << i << ": " << results[i].error().ToString();
    }
  }
  EXPECT_EQ(Count("gpu_types").value(), kThreads);  // "first" + 63 successful
  EXPECT_EQ(Count("events").value(), kThreads - 1);
  auto failed = InRead([&](Tx& tx) -> Result<int64_t> {
    HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM gpu_types WHERE name = $1",
                                                {std::string("type-17")}));
    return rows.at(0).Int(0);
  });
  EXPECT_EQ(failed.value(), 0);
}

TEST_P(StoreTest, EventsGetIncreasingSequenceNumbers) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(InWrite([&](Tx& tx) {
      return AppendEvent(tx, NewEvent(i % 2 ? org_ : other_org_, "s" + std::to_string(i)));
    }));
  }
  auto all = InRead([](Tx& tx) { return ListEvents(tx, 0, 100); });
  ASSERT_EQ(all.value().size(), 5u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].seq, (*all)[i - 1].seq);
  EXPECT_EQ((*all)[0].subject, "s0");
  EXPECT_EQ((*all)[0].type, "hangar.test.created");
  EXPECT_EQ((*all)[0].data_json, R"({"ok":true})");
  auto tail = InRead([&](Tx& tx) { return ListEvents(tx, (*all)[1].seq, 2); });
  ASSERT_EQ(tail.value().size(), 2u);
  EXPECT_EQ((*tail)[0].subject, "s2");
  EXPECT_EQ((*tail)[1].subject, "s3");
}

TEST_P(StoreTest, OrgEventsAreNewestFirstFilteredAndPaginated) {
  for (int i = 0; i < 7; ++i) {
    EventRecord e = NewEvent(org_, "s" + std::to_string(i % 2));
    if (i == 3) e.type = "hangar.test.special";
    ASSERT_OK(InWrite([&](Tx& tx) { return AppendEvent(tx, e); }));
    ASSERT_OK(InWrite([&](Tx& tx) { return AppendEvent(tx, NewEvent(other_org_, "x")); }));
  }
  ListQuery q;
  q.limit = 3;
  std::vector<int64_t> seqs;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, q); });
    ASSERT_OK(page);
    for (const auto& e : page->items) {
      EXPECT_EQ(e.org_id, org_);  // never another tenant's
      seqs.push_back(e.seq);
    }
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  ASSERT_EQ(seqs.size(), 7u);
  EXPECT_TRUE(std::is_sorted(seqs.rbegin(), seqs.rend()));  // newest first

  ListQuery by_subject;
  by_subject.equals.emplace_back("subject", std::string("s1"));
  EXPECT_EQ(InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, by_subject); })->items.size(), 3u);
  ListQuery by_type;
  by_type.equals.emplace_back("type", std::string("hangar.test.special"));
  EXPECT_EQ(InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, by_type); })->items.size(), 1u);

  // A token from one filter does not work with another; sorting is not offered.
  ListQuery first;
  first.limit = 1;
  auto page = InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, first); });
  by_subject.page_token = page->next_page_token;
  EXPECT_CODE(InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, by_subject); }),
              ErrorCode::kInvalidArgument);
  ListQuery sorted;
  sorted.sort.push_back({"type", false});
  EXPECT_CODE(InRead([&](Tx& tx) { return ListOrgEvents(tx, org_, sorted); }),
              ErrorCode::kInvalidArgument);
}

// ---- Lists ---------------------------------------------------------------------------------

TEST_P(StoreTest, ListsFilterByEqualityAndCreationTime) {
  NodeRecord a = NewNode(org_, "a", 8), b = NewNode(org_, "b", 4), c = NewNode(org_, "c", 2);
  b.state = api::NodeState::unreachable;
  c.cordoned = true;
  c.hostname = "special";
  a.created_at = kT0 + seconds(1);
  b.created_at = kT0 + seconds(2);
  c.created_at = kT0 + seconds(3);
  for (const auto* n : {&a, &b, &c}) ASSERT_OK(InWrite([&](Tx& tx) { return InsertNode(tx, *n); }));
  ASSERT_OK(InWrite([&](Tx& tx) { return InsertNode(tx, NewNode(other_org_, "z")); }));

  auto names = [&](ListQuery q) {
    std::vector<std::string> out;
    auto page = InRead([&](Tx& tx) { return ListNodes(tx, org_, q); });
    EXPECT_TRUE(page.has_value()) << page.error().ToString();
    if (page) {
      for (const auto& n : page->items) out.push_back(n.name);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names({}), (V{"a", "b", "c"}));
  EXPECT_EQ(names({.equals = {{"state", std::string("unreachable")}}}), V{"b"});
  EXPECT_EQ(names({.equals = {{"cordoned", int64_t{1}}}}), V{"c"});
  EXPECT_EQ(names({.equals = {{"cordoned", int64_t{0}}, {"hostname", std::string("a.example")}}}),
            V{"a"});
  EXPECT_EQ(names({.created_after = kT0 + seconds(1)}), (V{"b", "c"}));
  EXPECT_EQ(names({.created_before = kT0 + seconds(3)}), (V{"a", "b"}));
  EXPECT_EQ(names({.created_after = kT0 + seconds(1), .created_before = kT0 + seconds(3)}), V{"b"});
  EXPECT_EQ(names({.sort = {{"name", true}}}), (V{"c", "b", "a"}));
  EXPECT_EQ(names({.sort = {{"gpu_count", false}}}), (V{"c", "b", "a"}));
  EXPECT_EQ(names({.sort = {{"state", true}, {"name", false}}}), (V{"b", "a", "c"}));
  EXPECT_EQ(names({.sort = {{"created_at", true}}}), (V{"c", "b", "a"}));

  EXPECT_CODE(InRead([&](Tx& tx) {
                return ListNodes(tx, org_, {.equals = {{"gpu_count", int64_t{8}}}});
              }),
              ErrorCode::kInvalidArgument);
  EXPECT_CODE(InRead([&](Tx& tx) {
                return ListNodes(tx, org_, {.sort = {{"hostname", false}}});
              }),
              ErrorCode::kInvalidArgument);
  EXPECT_CODE(InRead([&](Tx& tx) { return ListNodes(tx, org_, {.limit = 0}); }),
              ErrorCode::kInvalidArgument);
}

TEST_P(StoreTest, ListsGpusByTypeNameAndGpuTypesBySortKeys) {
  GpuTypeRecord h100 = NewGpuType(org_, "H100", 81920, 3'000'000);
  GpuTypeRecord a100 = NewGpuType(org_, "A100", 40960, 1'000'000);
  GpuTypeRecord l4 = NewGpuType(org_, "L4", 24576, 1'000'000);
  NodeRecord node = NewNode(org_, "n");
  ASSERT_OK(InWrite([&](Tx& tx) -> Status {
    for (const auto* t : {&h100, &a100, &l4}) HANGAR_TRY(InsertGpuType(tx, *t));
    HANGAR_TRY(InsertNode(tx, node));
    HANGAR_TRY(InsertGpu(tx, NewGpu(org_, node.id, 0, h100.id)));
    HANGAR_TRY(InsertGpu(tx, NewGpu(org_, node.id, 1, a100.id)));
    return InsertGpu(tx, NewGpu(org_, node.id, 2, h100.id));
  }));
  auto gpus = InRead([&](Tx& tx) {
    return ListGpus(tx, org_,
                    {.equals = {{"gpu_type", std::string("H100")}}, .sort = {{"index", true}}});
  });
  ASSERT_EQ(gpus.value().items.size(), 2u);
  EXPECT_EQ(gpus->items[0].index, 2);
  EXPECT_EQ(gpus->items[1].index, 0);
  EXPECT_EQ(gpus->items[0].gpu_type_name, "H100");

  auto types = InRead([&](Tx& tx) {
    return ListGpuTypes(tx, org_, {.sort = {{"hourly_price_micros", true}, {"memory_mib", false}}});
  });
  ASSERT_EQ(types.value().items.size(), 3u);
  EXPECT_EQ(types->items[0].name, "H100");
  EXPECT_EQ(types->items[1].name, "L4");
  EXPECT_EQ(types->items[2].name, "A100");
  auto filtered = InRead([&](Tx& tx) {
    return ListGpuTypes(
        tx, org_, {.equals = {{"vendor", std::string("nvidia")}, {"name", std::string("L4")}}});
  });
  ASSERT_EQ(filtered.value().items.size(), 1u);
  EXPECT_EQ(filtered->items[0].id, l4.id);
}

TEST_P(StoreTest, PaginationWithMixedDirectionsReturnsEveryRowOnceInOrder) {
  constexpr int kNodes = 37;
  std::mt19937 rng(42);
  std::vector<NodeRecord> nodes;
  for (int i = 0; i < kNodes; ++i) {
    NodeRecord n = NewNode(org_, "node-" + std::to_string(rng() % 100000) + "-" + std::to_string(i),
                           static_cast<int64_t>(rng() % 4));
    n.state = rng() % 3 == 0 ? api::NodeState::unreachable : api::NodeState::ready;
    n.created_at = kT0 + seconds(rng() % 5);  // many ties, broken by id
    nodes.push_back(n);
  }
  ASSERT_OK(InWrite([&](Tx& tx) -> Status {
    for (const auto& n : nodes) HANGAR_TRY(InsertNode(tx, n));
    return Ok();
  }));

  struct Case {
    std::vector<SortKey> sort;
    std::function<bool(const NodeRecord&, const NodeRecord&)> less;
  };
  auto state = [](const NodeRecord& n) { return std::string(json::EnumName(n.state)); };
  std::vector<Case> cases = {
      {{{"gpu_count", true}, {"name", false}},
       [](const NodeRecord& x, const NodeRecord& y) {
         return std::tuple(-x.gpu_count, x.name) < std::tuple(-y.gpu_count, y.name);
       }},
      {{{"created_at", true}},
       [](const NodeRecord& x, const NodeRecord& y) {
         return std::tuple(y.created_at, y.id) < std::tuple(x.created_at, x.id);
       }},
      {{{"created_at", false}},
       [](const NodeRecord& x, const NodeRecord& y) {
         return std::tuple(x.created_at, x.id) < std::tuple(y.created_at, y.id);
       }},
      {{{"state", false}, {"gpu_count", true}, {"created_at", false}},
       [&](const NodeRecord& x, const NodeRecord& y) {
         return std::tuple(state(x), -x.gpu_count, x.created_at, x.id) <
                std::tuple(state(y), -y.gpu_count, y.created_at, y.id);
       }},
  };
  for (const auto& c : cases) {
    std::vector<NodeRecord> expected = nodes;
    std::sort(expected.begin(), expected.end(), c.less);
    std::vector<NodeId> got;
    ListQuery q{.sort = c.sort, .limit = 5};
    int pages = 0;
    do {
      auto page = InRead([&](Tx& tx) { return ListNodes(tx, org_, q); });
      ASSERT_OK(page);
      for (const auto& n : page->items) got.push_back(n.id);
      q.page_token = page->next_page_token;
      ASSERT_LT(++pages, 20);
    } while (!q.page_token.empty());
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], expected[i].id) << "sort case " << c.sort[0].field << " row " << i;
    }
    EXPECT_EQ(pages, (kNodes + 4) / 5);
  }
}

TEST_P(StoreTest, RejectsPageTokensOfOtherQueries) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(
        InWrite([&](Tx& tx) { return InsertNode(tx, NewNode(org_, "n" + std::to_string(i))); }));
  }
  ListQuery q{.sort = {{"name", false}}, .limit = 1};
  auto first = InRead([&](Tx& tx) { return ListNodes(tx, org_, q); });
  ASSERT_FALSE(first.value().next_page_token.empty());

  auto expect_bad = [&](ListQuery bad) {
    auto r = InRead([&](Tx& tx) { return ListNodes(tx, org_, bad); });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    ASSERT_EQ(r.error().violations().size(), 1u);
    EXPECT_EQ(r.error().violations()[0].pointer, "query:page_token");
  };
  ListQuery garbage = q;
  garbage.page_token = "not a token!";
  expect_bad(garbage);
  ListQuery not_json = q;
  not_json.page_token = Base64UrlEncode("{\"s\":1");
  expect_bad(not_json);
  ListQuery other_sort = q;
  other_sort.page_token = first->next_page_token;
  other_sort.sort = {{"name", true}};
  expect_bad(other_sort);
  ListQuery other_filter = q;
  other_filter.page_token = first->next_page_token;
  other_filter.equals = {{"state", std::string("ready")}};
  expect_bad(other_filter);

  ListQuery next = q;
  next.page_token = first->next_page_token;
  auto second = InRead([&](Tx& tx) { return ListNodes(tx, org_, next); });
  ASSERT_EQ(second.value().items.size(), 1u);
  EXPECT_EQ(second->items[0].name, "n1");
}

// ---- Idempotency keys ------------------------------------------------------------------------

TEST_P(StoreTest, IdempotencyKeysClaimCompleteReleaseAndExpire) {
  IdempotencyRecord claim{"key_a", "idem-1", "POST /api/v1/gpu-types", "hash-1", false, 0, "",
                          "",      kT0};
  auto abandoned_before = kT0 - seconds(60);
  auto expired_before = kT0 - seconds(3600);
  auto claim_at = [&](const IdempotencyRecord& c, Timestamp abandoned, Timestamp expired) {
    return InWrite([&](Tx& tx) { return ClaimIdempotencyKey(tx, c, abandoned, expired); });
  };

  auto r = claim_at(claim, abandoned_before, expired_before);
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_value());  // claimed anew

  r = claim_at(claim, abandoned_before, expired_before);  // in flight: returned as is
  ASSERT_TRUE(r.value().has_value());
  EXPECT_FALSE((*r)->completed);
  EXPECT_EQ((*r)->request_hash, "hash-1");

  IdempotencyRecord done = claim;
  done.completed = true;
  done.status = 201;
  done.response_headers_json = R"({"Location":"/x"})";
  done.response_body = R"({"id":"x"})";
  ASSERT_OK(InWrite([&](Tx& tx) { return CompleteIdempotencyKey(tx, done); }));
  ASSERT_OK(InWrite(
      [&](Tx& tx) { return ReleaseIdempotencyKey(tx, "key_a", "idem-1", claim.created_at); }));
  r = claim_at(claim, abandoned_before, expired_before);  // completed: release did not forget it
  ASSERT_TRUE(r.value().has_value());
  EXPECT_TRUE((*r)->completed);
  EXPECT_EQ((*r)->status, 201);
  EXPECT_EQ((*r)->response_headers_json, done.response_headers_json);
  EXPECT_EQ((*r)->response_body, done.response_body);
  EXPECT_EQ((*r)->method_path, "POST /api/v1/gpu-types");

  // The same key in another scope is independent.
  IdempotencyRecord other_scope = claim;
  other_scope.scope = "key_b";
  EXPECT_FALSE(claim_at(other_scope, abandoned_before, expired_before).value().has_value());
  // Released claims are forgotten, so a retry runs anew.
  ASSERT_OK(InWrite([&](Tx& tx) {
    return ReleaseIdempotencyKey(tx, "key_b", "idem-1", other_scope.created_at);
  }));
  EXPECT_FALSE(claim_at(other_scope, abandoned_before, expired_before).value().has_value());

  // An unfinished claim older than abandoned_before is taken over.
  IdempotencyRecord retry = other_scope;
  retry.request_hash = "hash-2";
  retry.created_at = kT0 + seconds(120);
  EXPECT_FALSE(claim_at(retry, kT0 + seconds(60), expired_before).value().has_value());
  r = claim_at(retry, kT0 + seconds(60), expired_before);
  ASSERT_TRUE(r.value().has_value());
  EXPECT_EQ((*r)->request_hash, "hash-2");
  EXPECT_EQ((*r)->created_at, kT0 + seconds(120));
  // The slow original can neither complete nor release the retry's claim.
  IdempotencyRecord late = other_scope;
  late.completed = true;
  late.status = 500;
  EXPECT_CODE(InWrite([&](Tx& tx) { return CompleteIdempotencyKey(tx, late); }),
              ErrorCode::kNotFound);
  ASSERT_OK(InWrite([&](Tx& tx) {
    return ReleaseIdempotencyKey(tx, "key_b", "idem-1", other_scope.created_at);
  }));
  r = claim_at(retry, kT0 + seconds(60), expired_before);
  ASSERT_TRUE(r.value().has_value());
  EXPECT_EQ((*r)->request_hash, "hash-2");

  // A completed record is kept past abandoned_before but replaced once expired.
  r = claim_at(claim, kT0 + seconds(60), expired_before);
  ASSERT_TRUE(r.value().has_value());
  EXPECT_TRUE((*r)->completed);
  IdempotencyRecord later = claim;
  later.created_at = kT0 + seconds(7200);
  EXPECT_FALSE(claim_at(later, kT0 + seconds(7000), kT0 + seconds(3600)).value().has_value());
  r = claim_at(later, kT0 + seconds(7000), kT0 + seconds(3600));
  ASSERT_TRUE(r.value().has_value());
  EXPECT_FALSE((*r)->completed);

  auto purged = InWrite([&](Tx& tx) { return PurgeIdempotencyKeys(tx, kT0 + seconds(3600)); });
  EXPECT_EQ(purged.value(), 1);  // key_b's record from kT0 + 120s
  EXPECT_EQ(Count("idempotency_keys").value(), 1);
  EXPECT_CODE(InWrite([&](Tx& tx) {
                IdempotencyRecord missing = done;
                missing.key = "missing";
                return CompleteIdempotencyKey(tx, missing);
              }),
              ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hangar::store
