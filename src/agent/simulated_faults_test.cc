#include "agent/simulated_faults.h"

#include <gtest/gtest.h>

#include <fstream>

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using enum SimulatedFault;

TEST(SimulatedFaultsTest, ParsesGpuIndexesAndFaultNames) {
  auto faults =
      ParseSimulatedFaults(R"({"0": ["ecc"], "3": ["fell_off_bus", "overheating"]})", "node-1");
  ASSERT_TRUE(faults.has_value()) << faults.error().ToString();
  EXPECT_EQ(*faults, (SimulatedFaults{{0, {kEcc}}, {3, {kFellOffBus, kOverheating}}}));
  EXPECT_TRUE(ParseSimulatedFaults("{}", "node-1")->empty());
  EXPECT_TRUE(ParseSimulatedFaults(R"({"2": []})", "node-1")->empty());
}

TEST(SimulatedFaultsTest, NodeQualifiedKeysApplyToThatNodeOnly) {
  std::string text = R"({"sim-00002/1": ["overheating"], "0": ["ecc"]})";
  EXPECT_EQ(*ParseSimulatedFaults(text, "sim-00002"),
            (SimulatedFaults{{0, {kEcc}}, {1, {kOverheating}}}));
  EXPECT_EQ(*ParseSimulatedFaults(text, "sim-00001"), (SimulatedFaults{{0, {kEcc}}}));
}

TEST(SimulatedFaultsTest, RejectsBadFilesNamingTheMember) {
  for (std::string bad : {R"([1])", R"({"x": ["ecc"]})", R"({"0": "ecc"})", R"({"0": ["melt"]})",
                          R"({"-1": ["ecc"]})", "not json"}) {
    auto faults = ParseSimulatedFaults(bad, "n");
    ASSERT_FALSE(faults.has_value()) << bad;
    EXPECT_EQ(faults.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_FALSE(faults.error().violations().empty()) << bad;
  }
}

TEST(SimulatedFaultsTest, FileIsReadAgainOnlyWhenItChanges) {
  char tmpl[] = "/tmp/hangar-faults-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  fs::path file = dir / "faults.json";
  auto write = [&](const std::string& text, int second) {
    std::ofstream(file) << text;
    // Explicit modification times: two writes within the file system's clock tick still differ.
    fs::last_write_time(file, fs::file_time_type(std::chrono::seconds(1'700'000'000 + second)));
  };
  SimulatedFaultFile watcher(file);
  EXPECT_FALSE(watcher.Poll("n").has_value());  // absent at first: nothing to apply

  write(R"({"1": ["ecc"]})", 1);
  EXPECT_EQ(watcher.Poll("n"), (SimulatedFaults{{1, {kEcc}}}));
  EXPECT_FALSE(watcher.Poll("n").has_value());  // unchanged

  write(R"({"1": ["oops"]})", 2);
  EXPECT_FALSE(watcher.Poll("n").has_value());  // unparseable: faults stay as they were

  write("{}", 3);
  EXPECT_EQ(watcher.Poll("n"), SimulatedFaults{});

  write(R"({"0": ["overheating"]})", 4);
  EXPECT_EQ(watcher.Poll("n"), (SimulatedFaults{{0, {kOverheating}}}));
  fs::remove(file);
  EXPECT_EQ(watcher.Poll("n"), SimulatedFaults{});  // removed: cleared
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hangar::agent
