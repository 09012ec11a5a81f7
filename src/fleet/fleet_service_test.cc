#include "fleet/fleet_service.h"

#include <gtest/gtest.h>

#include <optional>

#include "identity/api_keys.h"
#include "store/temp_store.h"

namespace hangar::fleet {
namespace {

using identity::Principal;

api::AgentGpu H100(int index, std::string uuid) {
  return api::AgentGpu{.index = index,
                       .uuid = std::move(uuid),
                       .product_name = "NVIDIA H100 80GB HBM3",
                       .vendor = "nvidia",
                       .architecture = "hopper",
                       .memory_mib = 81559,
                       .driver_version = "550.54.15",
                       .cuda_version = "12.4",
                       .compute_capability = "9.0",
                       .healthy = true};
}

class FleetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto temp = store::TempSqliteStore::Open(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(temp.has_value()) << temp.error().ToString();
    temp_.emplace(std::move(*temp));
    store_ = &temp_->store();
    auth_ = std::make_unique<identity::Authenticator>(*store_, clock_);
    fleet_ = std::make_unique<FleetService>(*store_, clock_, *auth_, FleetOptions{});
    auto key = identity::BootstrapFirstOrganisation(*store_, clock_,
                                                    [](const std::string&) { return Ok(); });
    ASSERT_TRUE(key.has_value() && key->has_value());
    admin_ = *auth_->Authenticate(**key);
  }
  std::string NewJoinToken() {
    auto token = fleet_->CreateJoinToken(admin_, {});
    EXPECT_TRUE(token.has_value());
    return token->secret;
  }

  Registration Register(const std::string& name, std::vector<api::AgentGpu> gpus) {
    auto r = fleet_->RegisterNode(NewJoinToken(), {.name = name,
                                                   .hostname = name + ".local",
                                                   .agent_version = "0.1.0",
                                                   .labels = std::nullopt,
                                                   .gpus = std::move(gpus)});
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return *r;
  }

  std::vector<std::string> EventTypes() {
    std::vector<std::string> types;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(auto events, store::ListEvents(tx, 0, 1000));
      for (const auto& e : events) types.push_back(e.type);
      return Ok();
    }));
    return types;
  }

  std::optional<store::TempSqliteStore> temp_;
  FakeClock clock_{FromUnixMicros(1'795'000'000'000'000)};
  store::Store* store_ = nullptr;
  std::unique_ptr<identity::Authenticator> auth_;
  std::unique_ptr<FleetService> fleet_;
  Principal admin_;
};

TEST_F(FleetServiceTest, RegistrationCreatesNodeGpusCredentialAndDiscoversTheType) {
  Registration reg = Register("gpu-01", {H100(0, "GPU-a"), H100(1, "GPU-b")});
  EXPECT_EQ(reg.node.state, api::NodeState::ready);
  EXPECT_EQ(reg.node.gpu_count, 2);
  auto node_principal = auth_->Authenticate(reg.credential);
  ASSERT_TRUE(node_principal.has_value());
  EXPECT_TRUE(node_principal->IsNode(reg.node.id));

  auto gpus = fleet_->ListGpus(admin_, {});
  ASSERT_TRUE(gpus.has_value());
  ASSERT_EQ(gpus->items.size(), 2u);
  EXPECT_EQ(gpus->items[0].gpu_type_name, "H100-80GB-HBM3");
  auto types = fleet_->ListGpuTypes(admin_, {});
  ASSERT_EQ(types->items.size(), 1u);
  EXPECT_EQ(types->items[0].hourly_price_micros, 0);

  auto events = EventTypes();
  EXPECT_NE(std::find(events.begin(), events.end(), "hangar.node.registered"), events.end());
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu.added"), 2);
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu_type.discovered"), 1);
}

TEST_F(FleetServiceTest, ReRegistrationKeepsTheNodeAndRevokesTheOldCredential) {
  Registration first = Register("gpu-01", {H100(0, "GPU-a")});
  // While the node is connected, its name cannot be taken over.
  auto taken = fleet_->RegisterNode(
      NewJoinToken(),
      {.name = "gpu-01", .hostname = "other", .agent_version = "0.1.0", .gpus = {}});
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(auth_->Authenticate(first.credential).has_value());
  // Once it has been silent past node_unreachable_after, the name can be re-registered.
  clock_.Advance(std::chrono::seconds(41));
  Registration second = Register("gpu-01", {H100(0, "GPU-a")});
  EXPECT_EQ(first.node.id, second.node.id);
  EXPECT_FALSE(auth_->Authenticate(first.credential).has_value());
  EXPECT_TRUE(auth_->Authenticate(second.credential).has_value());
  EXPECT_EQ(fleet_->ListGpus(admin_, {})->items.size(), 1u);
}

TEST_F(FleetServiceTest, BadOrExpiredJoinTokensAreRefused) {
  api::RegisterNodeRequest request{.name = "n", .hostname = "h", .agent_version = "1"};
  EXPECT_EQ(fleet_->RegisterNode("hgj_nope", request).error().code(), ErrorCode::kUnauthenticated);
  std::string token = NewJoinToken();
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(fleet_->RegisterNode(token, request).error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(FleetServiceTest, HeartbeatsSyncInventoryAndOnlyTheNodeMaySend) {
  Registration reg = Register("gpu-01", {H100(0, "GPU-a"), H100(1, "GPU-b")});
  Principal node = *auth_->Authenticate(reg.credential);
  auto sick = H100(1, "GPU-b");
  sick.healthy = false;
  auto beat = fleet_->Heartbeat(node, reg.node.id,
                                {.agent_version = "0.1.1", .gpus = {sick, H100(2, "GPU-c")}});
  ASSERT_TRUE(beat.has_value()) << beat.error().ToString();
  EXPECT_EQ(beat->agent_version, "0.1.1");
  auto gpus = fleet_->ListGpus(admin_, {});
  ASSERT_EQ(gpus->items.size(), 2u);
  std::map<std::string, api::GpuState> states;
  for (const auto& g : gpus->items) states[g.uuid] = g.state;
  EXPECT_EQ(states["GPU-b"], api::GpuState::unhealthy);
  EXPECT_EQ(states["GPU-c"], api::GpuState::ready);
  auto events = EventTypes();
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu.removed"), 1);
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu.state_changed"), 1);

  EXPECT_EQ(fleet_->Heartbeat(admin_, reg.node.id, {.agent_version = "x"}).error().code(),
            ErrorCode::kPermissionDenied);
  Registration other = Register("gpu-02", {});
  Principal other_node = *auth_->Authenticate(other.credential);
  EXPECT_EQ(fleet_->Heartbeat(other_node, reg.node.id, {.agent_version = "x"}).error().code(),
            ErrorCode::kPermissionDenied);
}

TEST_F(FleetServiceTest, GpusThatChangeIndexOrSwapAreUpdatedInPlace) {
  Registration reg = Register("gpu-01", {H100(0, "GPU-a"), H100(1, "GPU-b")});
  Principal node = *auth_->Authenticate(reg.credential);
  std::map<std::string, GpuId> ids;
  auto before = fleet_->ListGpus(admin_, {});
  for (const auto& g : before->items) ids.emplace(g.uuid, g.id);
  // A new card enumerates first and pushes the others up; then two cards swap.
  ASSERT_TRUE(fleet_->Heartbeat(
      node, reg.node.id,
      {.agent_version = "0.1.0", .gpus = {H100(0, "GPU-c"), H100(1, "GPU-a"), H100(2, "GPU-b")}}))
      << "index shift";
  ASSERT_TRUE(fleet_->Heartbeat(
      node, reg.node.id,
      {.agent_version = "0.1.0", .gpus = {H100(0, "GPU-c"), H100(2, "GPU-a"), H100(1, "GPU-b")}}))
      << "swap";
  std::map<std::string, int64_t> index;
  auto after = fleet_->ListGpus(admin_, {});
  for (const auto& g : after->items) {
    index[g.uuid] = g.index;
    if (ids.contains(g.uuid)) {
      EXPECT_EQ(g.id, ids.at(g.uuid)) << "ids are kept";
    }
  }
  EXPECT_EQ(index, (std::map<std::string, int64_t>{{"GPU-a", 2}, {"GPU-b", 1}, {"GPU-c", 0}}));
}

TEST_F(FleetServiceTest, ACardMovedToAnotherNodeKeepsItsIdentity) {
  Registration first = Register("gpu-01", {H100(0, "GPU-a")});
  GpuId id = fleet_->ListGpus(admin_, {})->items.at(0).id;
  Registration second = Register("gpu-02", {H100(3, "GPU-a")});
  auto gpus = fleet_->ListGpus(admin_, {});
  ASSERT_EQ(gpus->items.size(), 1u);
  EXPECT_EQ(gpus->items[0].id, id);
  EXPECT_EQ(gpus->items[0].node_id, second.node.id);
  EXPECT_EQ(gpus->items[0].index, 3);
  auto events = EventTypes();
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu.moved"), 1);
}

TEST_F(FleetServiceTest, SilentNodesBecomeUnreachableAndRecoverOnHeartbeat) {
  Registration reg = Register("gpu-01", {H100(0, "GPU-a")});
  Principal node = *auth_->Authenticate(reg.credential);
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(*fleet_->MarkUnreachableNodes(), 0);
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(*fleet_->MarkUnreachableNodes(), 1);
  EXPECT_EQ(fleet_->GetNode(admin_, reg.node.id)->state, api::NodeState::unreachable);
  EXPECT_EQ(fleet_->ListGpus(admin_, {})->items[0].state, api::GpuState::unreachable);
  EXPECT_EQ(*fleet_->MarkUnreachableNodes(), 0);  // already unreachable: no new event

  ASSERT_TRUE(
      fleet_->Heartbeat(node, reg.node.id, {.agent_version = "0.1.0", .gpus = {H100(0, "GPU-a")}}));
  EXPECT_EQ(fleet_->GetNode(admin_, reg.node.id)->state, api::NodeState::ready);
  EXPECT_EQ(fleet_->ListGpus(admin_, {})->items[0].state, api::GpuState::ready);
  auto events = EventTypes();
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.node.unreachable"), 1);
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.node.ready"), 1);
}

TEST_F(FleetServiceTest, UpdateNodeMergesLabelsCordonsAndChecksIfMatch) {
  Registration reg = Register("gpu-01", {});
  auto updated = fleet_->UpdateNode(
      admin_, reg.node.id,
      {.labels = std::map<std::string, std::optional<std::string>>{{"zone", "a"}, {"rack", "r1"}},
       .cordoned = true},
      reg.node.version);
  ASSERT_TRUE(updated.has_value()) << updated.error().ToString();
  EXPECT_TRUE(updated->cordoned);
  EXPECT_EQ(updated->labels.at("zone"), "a");
  EXPECT_EQ(updated->version, reg.node.version + 1);

  auto stale = fleet_->UpdateNode(admin_, reg.node.id, {.cordoned = false}, reg.node.version);
  EXPECT_EQ(stale.error().code(), ErrorCode::kPreconditionFailed);

  auto removed = fleet_->UpdateNode(
      admin_, reg.node.id,
      {.labels = std::map<std::string, std::optional<std::string>>{{"zone", std::nullopt}}},
      std::nullopt);
  ASSERT_TRUE(removed.has_value());
  EXPECT_FALSE(removed->labels.contains("zone"));
  EXPECT_TRUE(removed->labels.contains("rack"));

  auto bad = fleet_->UpdateNode(
      admin_, reg.node.id,
      {.labels = std::map<std::string, std::optional<std::string>>{{"bad key!", "x"}}},
      std::nullopt);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().violations().at(0).pointer, "/labels/bad key!");
}

TEST_F(FleetServiceTest, AnotherTenantsObjectsAreNotFound) {
  Registration reg = Register("gpu-01", {H100(0, "GPU-a")});
  Principal stranger = admin_;
  stranger.org_id = OrgId::Generate(clock_);
  EXPECT_EQ(fleet_->GetNode(stranger, reg.node.id).error().code(), ErrorCode::kNotFound);
  auto gpu_id = fleet_->ListGpus(admin_, {})->items[0].id;
  EXPECT_EQ(fleet_->GetGpu(stranger, gpu_id).error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(fleet_->ListNodes(stranger, {})->items.empty());
}

TEST_F(FleetServiceTest, GpuTypeValidationNamesEveryBadFieldAndChangesNothing) {
  auto bad = fleet_->CreateGpuType(admin_, {.name = "bad name",
                                            .vendor = "",
                                            .architecture = "hopper",
                                            .product_name = "X",
                                            .memory_mib = 0,
                                            .compute_capability = "nine",
                                            .hourly_price_micros = -1,
                                            .currency = "usd"});
  ASSERT_FALSE(bad.has_value());
  std::set<std::string> pointers;
  for (const auto& v : bad.error().violations()) pointers.insert(v.pointer);
  EXPECT_EQ(pointers,
            (std::set<std::string>{"/name", "/vendor", "/memory_mib", "/compute_capability",
                                   "/hourly_price_micros", "/currency"}));
  EXPECT_TRUE(fleet_->ListGpuTypes(admin_, {})->items.empty());

  api::CreateGpuTypeRequest good{.name = "H100-80GB",
                                 .vendor = "nvidia",
                                 .architecture = "hopper",
                                 .product_name = "NVIDIA H100 80GB HBM3",
                                 .memory_mib = 81559,
                                 .compute_capability = "9.0",
                                 .hourly_price_micros = 2'490'000};
  ASSERT_TRUE(fleet_->CreateGpuType(admin_, good).has_value());
  EXPECT_EQ(fleet_->CreateGpuType(admin_, good).error().code(), ErrorCode::kAlreadyExists);
  // A registered H100 now maps to the admin's priced type rather than a discovered one.
  Register("gpu-01", {H100(0, "GPU-a")});
  EXPECT_EQ(fleet_->ListGpus(admin_, {})->items[0].gpu_type_name, "H100-80GB");
}

TEST_F(FleetServiceTest, DiscoveredTypesCanBeRenamedAndPriced) {
  Register("gpu-01", {H100(0, "GPU-a")});
  auto discovered = fleet_->ListGpuTypes(admin_, {})->items.at(0);
  EXPECT_EQ(discovered.hourly_price_micros, 0);
  auto priced = fleet_->UpdateGpuType(admin_, discovered.id,
                                      {.name = "H100-80GB", .hourly_price_micros = 2'490'000},
                                      discovered.version);
  ASSERT_TRUE(priced.has_value()) << priced.error().ToString();
  EXPECT_EQ(priced->name, "H100-80GB");
  EXPECT_EQ(priced->hourly_price_micros, 2'490'000);
  EXPECT_EQ(fleet_->ListGpus(admin_, {})->items.at(0).gpu_type_name, "H100-80GB");

  auto stale =
      fleet_->UpdateGpuType(admin_, discovered.id, {.currency = "EUR"}, discovered.version);
  EXPECT_EQ(stale.error().code(), ErrorCode::kPreconditionFailed);
  auto bad = fleet_->UpdateGpuType(admin_, discovered.id,
                                   {.name = "bad name", .hourly_price_micros = -5, .currency = "e"},
                                   std::nullopt);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().violations().size(), 3u);

  api::CreateGpuTypeRequest other{.name = "A100-80GB",
                                  .vendor = "nvidia",
                                  .architecture = "ampere",
                                  .product_name = "NVIDIA A100-SXM4-80GB",
                                  .memory_mib = 81920,
                                  .compute_capability = "8.0",
                                  .hourly_price_micros = 1};
  ASSERT_TRUE(fleet_->CreateGpuType(admin_, other).has_value());
  auto taken = fleet_->UpdateGpuType(admin_, discovered.id, {.name = "A100-80GB"}, std::nullopt);
  EXPECT_EQ(taken.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(fleet_->GetGpuType(admin_, discovered.id)->name, "H100-80GB");
  auto events = EventTypes();
  EXPECT_EQ(std::count(events.begin(), events.end(), "hangar.gpu_type.updated"), 1);
}

}  // namespace
}  // namespace hangar::fleet
