#include "agent/state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-agent-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(StateTest, RoundTripWithMode0600) {
  fs::path dir = root_ / "nested" / "state";
  auto none = LoadState(dir);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  AgentState state{.server_url = "http://h:1",
                   .node_id = "node_01jd3xk5m7q8r9s0t1v2w3x4y5",
                   .node_name = "gpu-01",
                   .credential = "hgr_secret"};
  ASSERT_TRUE(SaveState(dir, state).has_value());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "node.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto loaded = LoadState(dir);
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  EXPECT_EQ((*loaded)->node_id, state.node_id);
  EXPECT_EQ((*loaded)->credential, "hgr_secret");
  EXPECT_EQ((*loaded)->server_url, "http://h:1");

  state.credential = "hgr_other";
  ASSERT_TRUE(SaveState(dir, state).has_value());
  EXPECT_EQ((*LoadState(dir))->credential, "hgr_other");

  ASSERT_TRUE(ClearState(dir).has_value());
  EXPECT_FALSE(LoadState(dir)->has_value());
  EXPECT_TRUE(ClearState(dir).has_value());
}

TEST_F(StateTest, CorruptFileIsInvalidArgument) {
  std::ofstream(root_ / "node.json") << "{not json";
  auto res = LoadState(root_);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(res.error().message().find("node.json"), std::string::npos);
}

}  // namespace
}  // namespace hangar::agent
