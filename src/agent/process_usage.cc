#include "agent/process_usage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

namespace hangar::agent {

namespace fs = std::filesystem;

namespace {

// The fields of /proc/<pid>/stat this module needs.
struct StatFields {
  int pgrp = 0;
  int64_t cpu_ticks = 0;  // utime + stime + cutime + cstime
  int64_t rss_pages = 0;
};

// Parses one /proc/<pid>/stat line (proc(5)). The command name (field 2) may hold spaces and
// parentheses, so fields are counted from after the last ')'.
std::optional<StatFields> ParseStat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= text.size()) return std::nullopt;
  text.remove_prefix(paren + 2);
  StatFields out;
  int field = 3;
  int64_t times = 0;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view token = text.substr(0, space);
    int64_t value = 0;
    bool numeric =
        std::from_chars(token.data(), token.data() + token.size(), value).ec == std::errc();
    if (field == 5) {
      if (!numeric) return std::nullopt;
      out.pgrp = static_cast<int>(value);
    } else if (field >= 14 && field <= 17) {
      if (!numeric) return std::nullopt;
      times += std::max<int64_t>(value, 0);
    } else if (field == 24) {
      if (!numeric) return std::nullopt;
      out.cpu_ticks = times;
      out.rss_pages = std::max<int64_t>(value, 0);
      return out;
    }
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
    ++field;
  }
  return std::nullopt;
}

// The file's first 4 KiB (a stat line is far shorter); nullopt when it cannot be read.
std::optional<std::string> ReadSmall(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text(4096, '\0');
  size_t size = 0;
  while (size < text.size()) {
    ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(size);
  return text;
}

class ProcUsageSource final : public ProcessUsageSource {
 public:
  ProcUsageSource(fs::path root, int64_t ticks_per_second, int64_t page_size)
      : root_(std::move(root)), ticks_per_second_(ticks_per_second), page_size_(page_size) {}

  Result<std::map<int, ProcessGroupUsage>> Read(std::span<const int> pgids) override {
    std::map<int, ProcessGroupUsage> out;
    if (pgids.empty()) return out;
    std::map<int, int64_t> ticks;  // per group, summed in ticks to avoid rounding per process
    std::error_code ec;
    for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      int pid = 0;
      auto [ptr, parse_ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
      if (parse_ec != std::errc() || ptr != name.data() + name.size() || pid <= 0) continue;
      auto text = ReadSmall(it->path() / "stat");
      if (!text) continue;  // ended since the listing
      auto stat = ParseStat(*text);
      if (!stat || std::find(pgids.begin(), pgids.end(), stat->pgrp) == pgids.end()) continue;
      ProcessGroupUsage& usage = out[stat->pgrp];
      ++usage.processes;
      usage.rss_bytes += stat->rss_pages * page_size_;
      ticks[stat->pgrp] += stat->cpu_ticks;
    }
    if (ec) {
      return std::unexpected(
          Error::Unavailable("cannot list " + root_.string() + ": " + ec.message()));
    }
    for (auto& [pgid, usage] : out) {
      usage.cpu_seconds = static_cast<double>(ticks[pgid]) / static_cast<double>(ticks_per_second_);
    }
    return out;
  }

 private:
  const fs::path root_;
  const int64_t ticks_per_second_;
  const int64_t page_size_;
};

}  // namespace

std::unique_ptr<ProcessUsageSource> NewProcUsageSource(fs::path proc_root) {
  long ticks = ::sysconf(_SC_CLK_TCK);
  long page = ::sysconf(_SC_PAGESIZE);
  return NewProcUsageSource(std::move(proc_root), ticks > 0 ? ticks : 100, page > 0 ? page : 4096);
}

std::unique_ptr<ProcessUsageSource> NewProcUsageSource(fs::path proc_root,
                                                       int64_t clock_ticks_per_second,
                                                       int64_t page_size_bytes) {
  return std::make_unique<ProcUsageSource>(std::move(proc_root),
                                           std::max<int64_t>(clock_ticks_per_second, 1),
                                           std::max<int64_t>(page_size_bytes, 1));
}

}  // namespace hangar::agent
