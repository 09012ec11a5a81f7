#include "workloads/snapshot_files.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace hangar::workloads {
namespace {

class SnapshotFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("snapfiles-" + Base62Encode(RandomBytes(8)));
    files_ = std::make_unique<SnapshotFiles>(dir_);
    ASSERT_TRUE(files_->Init().has_value());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::unique_ptr<SnapshotFiles> files_;
};

TEST_F(SnapshotFilesTest, PiecesAppendInOrderAndARepeatedPieceIsStoredOnce) {
  std::string archive = RandomBytes(3000);
  ASSERT_EQ(files_->Append("snap_a", 0, archive.substr(0, 1000)).value(), 1000);
  // A retry of the first piece (its answer was lost) changes nothing.
  ASSERT_EQ(files_->Append("snap_a", 0, archive.substr(0, 1000)).value(), 1000);
  // A piece that overlaps what is held only adds the new bytes.
  ASSERT_EQ(files_->Append("snap_a", 500, archive.substr(500, 1500)).value(), 2000);
  // A gap is refused, naming where to go on.
  auto gap = files_->Append("snap_a", 2500, archive.substr(2500));
  ASSERT_FALSE(gap.has_value());
  EXPECT_EQ(gap.error().code(), ErrorCode::kConflict);
  EXPECT_NE(gap.error().message().find("2000"), std::string::npos);
  ASSERT_EQ(files_->Append("snap_a", 2000, archive.substr(2000)).value(), 3000);

  ASSERT_TRUE(files_->Seal("snap_a", 3000, Sha256Hex(archive)).has_value());
  EXPECT_EQ(files_->Read("snap_a", 0, 10'000).value(), archive);
  EXPECT_EQ(files_->Read("snap_a", 2990, 100).value(), archive.substr(2990));
  EXPECT_EQ(files_->Received("snap_a"), 0);  // the partial file became the archive
}

TEST_F(SnapshotFilesTest, SealRefusesAnIncompleteOrCorruptArchiveAndDiscardsIt) {
  std::string archive = RandomBytes(100);
  ASSERT_TRUE(files_->Append("snap_b", 0, archive).has_value());
  auto short_size = files_->Seal("snap_b", 200, Sha256Hex(archive));
  ASSERT_FALSE(short_size.has_value());
  EXPECT_EQ(short_size.error().violations().at(0).pointer, "/size_bytes");

  ASSERT_TRUE(files_->Append("snap_b", 0, archive).has_value());
  auto corrupt = files_->Seal("snap_b", 100, Sha256Hex("something else"));
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_EQ(corrupt.error().violations().at(0).pointer, "/sha256");
  EXPECT_EQ(files_->Received("snap_b"), 0);  // discarded: the upload starts over
  EXPECT_EQ(files_->Read("snap_b", 0, 10).error().code(), ErrorCode::kNotFound);
}

TEST_F(SnapshotFilesTest, NamesThatCouldLeaveTheDirectoryAreRefused) {
  EXPECT_FALSE(files_->Append("../escape", 0, "x").has_value());
  EXPECT_FALSE(files_->Read("../../etc/passwd", 0, 10).has_value());
  files_->Remove("..");  // harmless
  EXPECT_TRUE(std::filesystem::exists(dir_));
}

}  // namespace
}  // namespace hangar::workloads
