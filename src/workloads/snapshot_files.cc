#include "workloads/snapshot_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crypto.h"

namespace hangar::workloads {

namespace {

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Error IoError(const std::string& what, const std::filesystem::path& path) {
  return Error::Unavailable(what + " " + path.string() + ": " + std::strerror(errno));
}

// Snapshot ids come from the server's own records, but a file name must never escape the
// directory whatever it is given.
bool SafeName(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

SnapshotFiles::SnapshotFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

Status SnapshotFiles::Init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return std::unexpected(Error::Unavailable("cannot create the snapshot directory " +
                                              dir_.string() + ": " + ec.message()));
  }
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  return Ok();
}

std::filesystem::path SnapshotFiles::PartPath(std::string_view id) const {
  return dir_ / (std::string(id) + ".part");
}

std::filesystem::path SnapshotFiles::ArchivePath(std::string_view id) const {
  return dir_ / (std::string(id) + ".tar.gz");
}

int64_t SnapshotFiles::Received(std::string_view id) {
  if (!SafeName(id)) return 0;
  std::error_code ec;
  auto size = std::filesystem::file_size(PartPath(id), ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

Result<int64_t> SnapshotFiles::Append(std::string_view id, int64_t offset, std::string_view data) {
  if (!SafeName(id)) return std::unexpected(Error::Invalid("not a snapshot id"));
  std::lock_guard lock(mutex_);
  int64_t held = Received(id);
  if (offset > held) {
    return std::unexpected(
        Error::Conflict("the upload must continue at byte " + std::to_string(held))
            .Field("query:offset", "must be at most " + std::to_string(held)));
  }
  int64_t end = offset + static_cast<int64_t>(data.size());
  if (end <= held) return held;  // a piece already held: a retry
  auto path = PartPath(id);
  Fd f{::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)};
  if (f.fd < 0) return std::unexpected(IoError("cannot open", path));
  // Only the part beyond what is held is written.
  std::string_view fresh = data.substr(static_cast<size_t>(held - offset));
  int64_t at = held;
  while (!fresh.empty()) {
    ssize_t n = ::pwrite(f.fd, fresh.data(), fresh.size(), at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(IoError("cannot write", path));
    }
    fresh.remove_prefix(static_cast<size_t>(n));
    at += n;
  }
  return at;
}

Status SnapshotFiles::Seal(std::string_view id, int64_t size_bytes, std::string_view sha256) {
  if (!SafeName(id)) return std::unexpected(Error::Invalid("not a snapshot id"));
  std::lock_guard lock(mutex_);
  auto part = PartPath(id);
  int64_t held = Received(id);
  auto discard = [&](Error e) {
    std::error_code ec;
    std::filesystem::remove(part, ec);
    return std::unexpected(std::move(e));
  };
  if (held != size_bytes) {
    return discard(Error::Invalid("the archive is incomplete")
                       .Field("/size_bytes", "the server holds " + std::to_string(held) +
                                                 " bytes; upload the rest first"));
  }
  auto digest = Sha256FileHex(part.string());
  if (!digest || *digest != sha256) {
    return discard(Error::Invalid("the archive is corrupt")
                       .Field("/sha256", "does not match the uploaded bytes; upload it again"));
  }
  {
    Fd f{::open(part.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0 || ::fsync(f.fd) != 0) return std::unexpected(IoError("cannot flush", part));
  }
  auto archive = ArchivePath(id);
  if (::rename(part.c_str(), archive.c_str()) != 0) {
    return std::unexpected(IoError("cannot rename", part));
  }
  // The rename is durable once the directory is flushed.
  Fd d{::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) return std::unexpected(IoError("cannot flush", dir_));
  return Ok();
}

Result<std::string> SnapshotFiles::Read(std::string_view id, int64_t offset, int64_t length) const {
  if (!SafeName(id)) return std::unexpected(Error::NotFound("no such snapshot archive"));
  auto path = ArchivePath(id);
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) {
      return std::unexpected(Error::NotFound("snapshot " + std::string(id) + " has no archive"));
    }
    return std::unexpected(IoError("cannot open", path));
  }
  std::string out(static_cast<size_t>(std::max<int64_t>(0, length)), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n =
        ::pread(f.fd, out.data() + got, out.size() - got, offset + static_cast<int64_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(IoError("cannot read", path));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

void SnapshotFiles::Remove(std::string_view id) {
  if (!SafeName(id)) return;
  std::lock_guard lock(mutex_);
  std::error_code ec;
  std::filesystem::remove(PartPath(id), ec);
  std::filesystem::remove(ArchivePath(id), ec);
}

}  // namespace hangar::workloads
