#include "agent/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/ids.h"
#include "common/json_codec.h"

namespace hangar::agent {

namespace fs = std::filesystem;

namespace {
constexpr const char* kStateFile = "node.json";

Error IoError(const std::string& what, const fs::path& path, int err) {
  return Error::Unavailable(what + " " + path.string() + ": " + std::strerror(err));
}
}  // namespace

fs::path DefaultStateDir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "hangar-agent";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".local" / "state" / "hangar-agent";
}

Result<std::optional<AgentState>> LoadState(const fs::path& dir) {
  fs::path path = dir / kStateFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    return std::unexpected(IoError("cannot read", path, errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto state = json::ParseAs<AgentState>(text.str());
  auto corrupt = [&](const std::string& why) {
    return std::unexpected(Error::Invalid("agent state " + path.string() + " is corrupt: " + why)
                               .Hint("delete it to register this node again"));
  };
  if (!state) return corrupt(state.error().ToString());
  if (!NodeId::Parse(state->node_id)) return corrupt("bad node_id '" + state->node_id + "'");
  if (state->credential.empty()) return corrupt("empty credential");
  return std::optional<AgentState>(std::move(*state));
}

Status SaveState(const fs::path& dir, const AgentState& state) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(IoError("cannot create", dir, ec.value()));
  ::chmod(dir.c_str(), 0700);
  fs::path path = dir / kStateFile;
  fs::path tmp = dir / (std::string(kStateFile) + ".tmp");
  ::unlink(tmp.c_str());
  // O_EXCL with mode 0600: the secret is never readable by others, not even briefly.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(IoError("cannot create", tmp, errno));
  std::string text = json::Serialize(state) + "\n";
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return std::unexpected(IoError("cannot write", tmp, err));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return std::unexpected(IoError("cannot write", tmp, errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return std::unexpected(IoError("cannot replace", path, errno));
  }
  return Ok();
}

Status ClearState(const fs::path& dir) {
  fs::path path = dir / kStateFile;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return std::unexpected(IoError("cannot remove", path, errno));
  }
  return Ok();
}

}  // namespace hangar::agent
