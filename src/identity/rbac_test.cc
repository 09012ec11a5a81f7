#include "identity/rbac.h"

#include <gtest/gtest.h>

#include "store/identity_repos.h"
#include "store/temp_store.h"

namespace hangar::identity {
namespace {

TEST(PermissionTest, PatternsMatchExactlyOrByWildcard) {
  EXPECT_TRUE(PatternMatches("*", "nodes:read"));
  EXPECT_TRUE(PatternMatches("nodes:*", "nodes:read"));
  EXPECT_TRUE(PatternMatches("*:read", "nodes:read"));
  EXPECT_TRUE(PatternMatches("nodes:read", "nodes:read"));
  EXPECT_FALSE(PatternMatches("nodes:update", "nodes:read"));
  EXPECT_FALSE(PatternMatches("gpus:*", "nodes:read"));
  EXPECT_FALSE(PatternMatches("*:update", "nodes:read"));
  EXPECT_FALSE(PatternMatches("nodes", "nodes:read"));
}

TEST(PermissionTest, OnlyKnownResourcesAndVerbsMakeValidPatterns) {
  for (auto p : {"*", "nodes:*", "*:read", "projects:create", "quotas:approve"}) {
    EXPECT_TRUE(IsValidPermissionPattern(p)) << p;
  }
  for (auto p : {"", "nodes", "nodes:", ":read", "*:*", "nodez:read", "nodes:fly", "*:fly"}) {
    EXPECT_FALSE(IsValidPermissionPattern(p)) << p;
  }
  EXPECT_TRUE(IsKnownPermission("audit:read"));
  EXPECT_FALSE(IsKnownPermission("audit:write"));
}

TEST(RoleTest, CompositionExpandsAndCyclesAreRefused) {
  std::map<std::string, store::RoleRecord> custom;
  custom["ops"] =
      store::RoleRecord{.name = "ops", .permissions = {"nodes:update"}, .includes = {"viewer"}};
  custom["lead"] =
      store::RoleRecord{.name = "lead", .permissions = {"teams:update"}, .includes = {"ops"}};
  auto lead = ExpandRole("lead", custom);
  ASSERT_TRUE(lead.has_value()) << lead.error().ToString();
  for (auto p : {"teams:update", "nodes:update", "nodes:read", "gpus:read"}) {
    EXPECT_TRUE(AnyPatternMatches(*lead, p)) << p;
  }
  EXPECT_FALSE(AnyPatternMatches(*lead, "audit:read"));

  custom["ops"].includes.push_back("lead");  // ops -> lead -> ops
  auto cyclic = ExpandRole("lead", custom, "/includes");
  ASSERT_FALSE(cyclic.has_value());
  EXPECT_EQ(cyclic.error().violations().at(0).pointer, "/includes");
  EXPECT_FALSE(ExpandRole("nobody", custom).has_value());
}

// Each role against each operation class, at organisation, team and project scope, including a
// binding inherited from a team by its project and a temporary elevation that expires.
class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto temp = store::TempSqliteStore::Open(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(temp.has_value()) << temp.error().ToString();
    temp_.emplace(std::move(*temp));
    Timestamp now = clock_.Now();
    ASSERT_TRUE(temp_->store().Write([&](store::Tx& tx) -> Status {
      HANGAR_TRY(store::InsertOrg(tx, store::OrgRecord{org_, "acme", now}));
      HANGAR_TRY(store::InsertOrg(tx, store::OrgRecord{other_org_, "globex", now}));
      for (const auto& [id, name] : {std::pair{team_a_, "a"}, std::pair{team_b_, "b"}}) {
        HANGAR_TRY(store::InsertTeam(
            tx, store::TeamRecord{
                    .id = id, .org_id = org_, .name = name, .created_at = now, .updated_at = now}));
      }
      HANGAR_TRY(store::InsertProject(tx, store::ProjectRecord{.id = project_,
                                                               .org_id = org_,
                                                               .team_id = team_a_,
                                                               .name = "p",
                                                               .created_at = now,
                                                               .updated_at = now}));
      HANGAR_TRY(store::InsertRole(tx, store::RoleRecord{.id = RoleId::Generate(clock_),
                                                         .org_id = org_,
                                                         .name = "node-ops",
                                                         .permissions = {"nodes:update"},
                                                         .includes = {"viewer"},
                                                         .created_at = now,
                                                         .updated_at = now}));
      auto bind = [&](const std::string& who, std::string role, std::string scope_type,
                      std::string scope_id, std::optional<Timestamp> expires = std::nullopt) {
        return store::InsertRoleBinding(
            tx, store::RoleBindingRecord{.id = RoleBindingId::Generate(clock_),
                                         .org_id = org_,
                                         .principal_type = "user",
                                         .principal_id = who,
                                         .role = std::move(role),
                                         .scope_type = std::move(scope_type),
                                         .scope_id = std::move(scope_id),
                                         .expires_at = expires,
                                         .created_at = now,
                                         .updated_at = now});
      };
      HANGAR_TRY(bind("user_admin", "admin", "organization", org_.str()));
      HANGAR_TRY(bind("user_dev", "developer", "organization", org_.str()));
      HANGAR_TRY(bind("user_viewer", "viewer", "organization", org_.str()));
      HANGAR_TRY(bind("user_billing", "billing-viewer", "organization", org_.str()));
      HANGAR_TRY(bind("user_teamadmin", "admin", "team", team_a_.str()));
      HANGAR_TRY(bind("user_projdev", "developer", "project", project_.str()));
      HANGAR_TRY(bind("user_ops", "node-ops", "organization", org_.str()));
      HANGAR_TRY(
          bind("user_elevated", "admin", "organization", org_.str(), now + std::chrono::hours(1)));
      return Ok();
    }));
    authorizer_.emplace(temp_->store(), clock_);
  }

  Principal User(std::string id) {
    return Principal{
        .org_id = org_, .kind = store::PrincipalKind::kUser, .subject_id = std::move(id)};
  }
  bool Allowed(const Principal& who, std::string_view permission, const ResourceScope& scope) {
    auto d = authorizer_->Check(who, permission, scope);
    EXPECT_TRUE(d.has_value());
    return d && d->allowed;
  }

  FakeClock clock_{FromUnixMicros(1'795'000'000'000'000)};
  std::optional<store::TempSqliteStore> temp_;
  OrgId org_ = OrgId::Generate(clock_);
  OrgId other_org_ = OrgId::Generate(clock_);
  TeamId team_a_ = TeamId::Generate(clock_);
  TeamId team_b_ = TeamId::Generate(clock_);
  ProjectId project_ = ProjectId::Generate(clock_);
  std::optional<Authorizer> authorizer_;
};

TEST_F(AuthorizerTest, EachRoleAgainstEachOperationClass) {
  ResourceScope org = ResourceScope::Organization(org_);
  ResourceScope team_a = ResourceScope::Team(org_, team_a_);
  ResourceScope team_b = ResourceScope::Team(org_, team_b_);
  ResourceScope project = ResourceScope::Project(org_, team_a_, project_);
  struct Operation {
    std::string name;
    std::string permission;
    ResourceScope scope;
  };
  std::vector<Operation> ops = {
      {"read the fleet", "nodes:read", org},
      {"change the catalogue", "gpu-types:create", org},
      {"cordon nodes", "nodes:update", org},
      {"read team a", "teams:read", team_a},
      {"read team b", "teams:read", team_b},
      {"create a project in team a", "projects:create", team_a},
      {"change the project", "projects:update", project},
      {"provision in the project", "instances:create", project},
      {"read the audit log", "audit:read", org},
      {"read costs", "costs:read", org},
      {"invite users", "users:create", org},
      {"report as a node", "nodes:report", org},
  };
  // Expected: one character per operation above, 'y' allowed, '.' denied.
  std::vector<std::pair<std::string, std::string>> table = {
      {"user_admin", "yyyyyyyyyyy."},     {"user_dev", "y..yy..y.y.."},
      {"user_viewer", "y..yy....y.."},    {"user_billing", "...yy....y.."},
      {"user_teamadmin", "...y.yyy...."},  // admin of team a: its projects inherit it
      {"user_projdev", ".......y...."},    // developer on the project only
      {"user_ops", "y.yyy....y.."},        // custom role: nodes:update + viewer
      {"user_elevated", "yyyyyyyyyyy."},   // temporary admin, not yet expired
      {"user_nobody", "............"},
  };
  for (const auto& [user, expected] : table) {
    ASSERT_EQ(expected.size(), ops.size()) << user;
    for (size_t i = 0; i < ops.size(); ++i) {
      EXPECT_EQ(Allowed(User(user), ops[i].permission, ops[i].scope), expected[i] == 'y')
          << user << " / " << ops[i].name;
    }
  }
}

TEST_F(AuthorizerTest, AnExpiredElevationGrantsNothing) {
  ResourceScope org = ResourceScope::Organization(org_);
  EXPECT_TRUE(Allowed(User("user_elevated"), "users:create", org));
  clock_.Advance(std::chrono::hours(1));
  auto d = authorizer_->Check(User("user_elevated"), "users:create", org);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->allowed);
  EXPECT_NE(d->reason.find("expired"), std::string::npos) << d->reason;
}

TEST_F(AuthorizerTest, ScopesNarrowWhatBindingsGrantAndOtherTenantsGetNothing) {
  Principal scoped = User("user_admin");
  scoped.scopes = {"nodes:read"};
  EXPECT_TRUE(Allowed(scoped, "nodes:read", ResourceScope::Organization(org_)));
  EXPECT_FALSE(Allowed(scoped, "nodes:update", ResourceScope::Organization(org_)));
  // An admin of one organisation holds nothing in another.
  EXPECT_FALSE(Allowed(User("user_admin"), "nodes:read", ResourceScope::Organization(other_org_)));
  Principal root{.org_id = org_, .kind = store::PrincipalKind::kAdmin};
  EXPECT_FALSE(Allowed(root, "nodes:read", ResourceScope::Organization(other_org_)));
  EXPECT_TRUE(Allowed(root, "organizations:create", ResourceScope::Organization(org_)));
  EXPECT_FALSE(
      Allowed(User("user_admin"), "organizations:create", ResourceScope::Organization(org_)));
}

TEST_F(AuthorizerTest, ChangesApplyAfterInvalidate) {
  ResourceScope org = ResourceScope::Organization(org_);
  EXPECT_FALSE(Allowed(User("user_new"), "nodes:read", org));
  Timestamp now = clock_.Now();
  ASSERT_TRUE(temp_->store().Write([&](store::Tx& tx) {
    return store::InsertRoleBinding(tx,
                                    store::RoleBindingRecord{.id = RoleBindingId::Generate(clock_),
                                                             .org_id = org_,
                                                             .principal_type = "user",
                                                             .principal_id = "user_new",
                                                             .role = "viewer",
                                                             .scope_type = "organization",
                                                             .scope_id = org_.str(),
                                                             .created_at = now,
                                                             .updated_at = now});
  }));
  EXPECT_FALSE(Allowed(User("user_new"), "nodes:read", org));  // cached policy
  authorizer_->Invalidate(org_);
  EXPECT_TRUE(Allowed(User("user_new"), "nodes:read", org));
}

}  // namespace
}  // namespace hangar::identity
