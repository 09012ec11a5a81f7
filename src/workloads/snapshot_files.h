// SnapshotFiles: where the server keeps snapshot archives (tar + gzip of an instance's
// workspace), one file per snapshot in a directory (hangard's --snapshot-dir; replicas over
// PostgreSQL must share it, e.g. on NFS).
//
// An agent uploads an archive in pieces of at most the server's body limit, each at the offset
// it starts at: `<id>.part` grows by appends, and a piece the server already holds (a retried
// upload) is accepted without being written twice. Seal checks the size and SHA-256 the agent
// computed, flushes the file to disk and renames it to `<id>.tar.gz`; only then is the snapshot
// ready. Downloads read ranges of the sealed archive.
//
// Thread-safety: all methods are thread-safe (one mutex serialises appends and seals).
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hangar::workloads {

class SnapshotFiles {
 public:
  explicit SnapshotFiles(std::filesystem::path dir);

  // Creates the directory (0700) if needed. kUnavailable when it cannot be.
  Status Init();

  // Writes `data` at `offset` of the snapshot's partial archive and returns how many bytes it
  // now holds. kConflict (naming the size held) when `offset` is beyond it: a piece is missing.
  Result<int64_t> Append(std::string_view id, int64_t offset, std::string_view data);
  // Bytes held of the partial archive (0 when none).
  int64_t Received(std::string_view id);
  // Makes the partial archive the snapshot's archive once its size and SHA-256 are as given
  // (kInvalidArgument naming the field otherwise; the partial archive is then discarded).
  Status Seal(std::string_view id, int64_t size_bytes, std::string_view sha256);
  // Up to `length` bytes of the sealed archive from `offset`. kNotFound when there is none.
  Result<std::string> Read(std::string_view id, int64_t offset, int64_t length) const;
  // Removes the archive and any partial one.
  void Remove(std::string_view id);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path PartPath(std::string_view id) const;
  std::filesystem::path ArchivePath(std::string_view id) const;

  const std::filesystem::path dir_;
  std::mutex mutex_;
};

}  // namespace hangar::workloads
