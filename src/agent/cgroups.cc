#include "agent/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <sstream>

namespace hangar::agent {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kRunPrefix = "hangar-";
// The leaf the agent moves itself into when its own cgroup must hand controllers to children.
constexpr std::string_view kAgentLeaf = "hangar-agent";
constexpr int64_t kCpuPeriodMicros = 100'000;
constexpr int64_t kMinCpuQuotaMicros = 1'000;  // the kernel's lower bound

std::optional<std::string> ReadText(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  while (text.size() < (1 << 20)) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// Writes `text` in one write() (cgroup files take one value per write); 0 or the errno.
// O_CREAT|O_TRUNC as a shell's `>` does: harmless on cgroupfs, needed by tests' stand-ins.
int WriteText(const fs::path& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  ssize_t n;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    err = errno;
  } else if (static_cast<size_t>(n) != text.size()) {
    err = EIO;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

Error WriteError(const fs::path& path, int err) {
  return Error::Unavailable("cannot write " + path.string() + ": " + std::strerror(err));
}

std::vector<std::string> Tokens(std::string_view text, char separator = ' ') {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(std::string{separator, '\n'}, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : " ") + s;
  return out;
}

// One line of /proc/self/mountinfo (proc(5)).
struct Mount {
  std::string root;  // the path of the hierarchy mounted here ("/" unless a container's view)
  fs::path point;
  std::string fstype;
  std::vector<std::string> super_options;
};

// Mount points escape space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int value = 0;
      auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 4, value, 8);
      if (ec == std::errc() && ptr == s.data() + i + 4) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::vector<Mount> ParseMountinfo(std::string_view text) {
  std::vector<Mount> out;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f = Tokens(line);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || f.end() - dash < 4) continue;
    out.push_back(Mount{.root = Unescape(f[3]),
                        .point = Unescape(f[4]),
                        .fstype = *(dash + 1),
                        .super_options = Tokens(*(dash + 3), ',')});
  }
  return out;
}

// One line of /proc/self/cgroup: "4:memory:/a/b", "2:cpu,cpuacct:/", "0::/a" (v2).
struct Membership {
  std::string hierarchy;
  std::vector<std::string> controllers;
  std::string path;
};

std::vector<Membership> ParseSelfCgroup(std::string_view text) {
  std::vector<Membership> out;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    size_t first = line.find(':');
    size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    out.push_back(Membership{.hierarchy = line.substr(0, first),
                             .controllers = Tokens(line.substr(first + 1, second - first - 1), ','),
                             .path = line.substr(second + 1)});
  }
  return out;
}

// Where cgroup `path` of the hierarchy mounted at `mount` is in the file system; nullopt when it
// lies outside what is mounted (a path from another cgroup namespace: "/../x").
std::optional<fs::path> DirOf(const Mount& mount, std::string_view path) {
  if (path.empty() || path.front() != '/' || path.find("/..") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view root = mount.root;
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (root != "/") {
    if (path.substr(0, root.size()) != root) return std::nullopt;
    path.remove_prefix(root.size());
    if (!path.empty() && path.front() != '/') return std::nullopt;
  }
  fs::path dir = mount.point;
  std::string rest(path);
  while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  if (!rest.empty()) dir /= rest;
  return dir;
}

// Makes and removes a child of `dir`: "" when the agent may create cgroups there, else why not.
std::string CheckWritable(const fs::path& dir) {
  fs::path trial = dir / ("hangar-check-" + std::to_string(::getpid()));
  if (::mkdir(trial.c_str(), 0755) != 0 && errno != EEXIST) {
    return "cannot create a cgroup in " + dir.string() + ": " + std::strerror(errno);
  }
  ::rmdir(trial.c_str());
  return "";
}

// Writes "+c" for each controller into dir/cgroup.subtree_control; all at once first (one
// write), else one by one. Returns those enabled; `err` gets the last failure's errno.
std::vector<std::string> EnableControllers(const fs::path& dir,
                                           const std::vector<std::string>& controllers, int& err) {
  fs::path file = dir / "cgroup.subtree_control";
  std::string all;
  for (const auto& c : controllers) all += (all.empty() ? "+" : " +") + c;
  err = WriteText(file, all);
  if (err == 0) return controllers;
  std::vector<std::string> enabled;
  for (const auto& c : controllers) {
    int e = WriteText(file, "+" + c);
    if (e == 0) {
      enabled.push_back(c);
    } else {
      err = e;
    }
  }
  return enabled;
}

bool LooksLikeRunCgroup(const fs::path& dir) {
  std::string name = dir.filename().string();
  return dir.is_absolute() && name.size() > kRunPrefix.size() && name.starts_with(kRunPrefix) &&
         name != kAgentLeaf;
}

std::vector<int> ListPids(const fs::path& dir) {
  std::vector<int> pids;
  auto text = ReadText(dir / "cgroup.procs");
  if (!text) return pids;
  for (const auto& token : Tokens(*text)) {
    int pid = 0;
    if (std::from_chars(token.data(), token.data() + token.size(), pid).ec == std::errc() &&
        pid > 1 && pid != ::getpid()) {
      pids.push_back(pid);
    }
  }
  return pids;
}

}  // namespace

std::unique_ptr<CgroupManager> CgroupManager::Create(const CgroupOptions& options) {
  std::unique_ptr<CgroupManager> m(new CgroupManager());
  auto not_enforced = [&](std::string why) {
    m->version_ = 0;
    m->parents_.clear();
    m->description_ = "per-run cgroup limits are not enforced: " + why;
    return std::move(m);
  };
  if (!options.enabled) return not_enforced("turned off (--cgroups off)");
  auto mountinfo = ReadText(options.mountinfo);
  if (!mountinfo) return not_enforced("cannot read " + options.mountinfo.string());
  auto self = ReadText(options.self_cgroup);
  if (!self) return not_enforced("cannot read " + options.self_cgroup.string());
  std::vector<Mount> mounts = ParseMountinfo(*mountinfo);
  std::vector<Membership> memberships = ParseSelfCgroup(*self);
  const bool own = options.parent.empty();
  std::string parent = options.parent;
  if (!own && parent.front() != '/') parent.insert(0, "/");

  // The parent directory in one hierarchy, created when configured; "" in `why` when usable.
  auto parent_dir = [&](const Mount& mount, const std::string& self_path,
                        std::string& why) -> std::optional<fs::path> {
    auto dir = DirOf(mount, own ? self_path : parent);
    if (!dir) {
      why = "cgroup " + (own ? self_path : parent) + " is not under the mount at " +
            mount.point.string();
      return std::nullopt;
    }
    std::error_code ec;
    if (!own) fs::create_directories(*dir, ec);
    if (ec) {
      why = "cannot create " + dir->string() + ": " + ec.message();
      return std::nullopt;
    }
    return dir;
  };

  // ---- cgroup v2
  std::string v2_why;
  auto v2_mount = std::find_if(mounts.begin(), mounts.end(),
                               [](const Mount& mt) { return mt.fstype == "cgroup2"; });
  auto v2_self = std::find_if(memberships.begin(), memberships.end(), [](const Membership& mb) {
    return mb.hierarchy == "0" && mb.controllers.empty();
  });
  if (v2_mount == mounts.end()) {
    v2_why = "no cgroup2 file system is mounted";
  } else if (v2_self == memberships.end()) {
    v2_why = "the agent is in no cgroup v2 cgroup";
  } else if (auto dir = parent_dir(*v2_mount, v2_self->path, v2_why)) {
    // A restarted agent that an earlier one moved into its leaf: the runs' parent is above.
    if (own && dir->filename() == kAgentLeaf) *dir = dir->parent_path();
    auto offered = ReadText(*dir / "cgroup.controllers");
    std::vector<std::string> wanted;
    for (const char* c : {"cpu", "memory", "pids"}) {
      if (offered && Contains(Tokens(*offered), c)) wanted.push_back(c);
    }
    if (!offered) {
      v2_why = dir->string() + " has no cgroup.controllers";
    } else if (!Contains(wanted, "cpu") && !Contains(wanted, "memory")) {
      v2_why = dir->string() + " offers neither the cpu nor the memory controller (it offers: " +
               (Tokens(*offered).empty() ? std::string("none") : Join(Tokens(*offered))) + ")";
    } else {
      std::vector<std::string> enabled =
          Tokens(ReadText(*dir / "cgroup.subtree_control").value_or(""));
      std::vector<std::string> missing;
      for (const auto& c : wanted) {
        if (!Contains(enabled, c)) missing.push_back(c);
      }
      int err = 0;
      if (!missing.empty()) {
        std::vector<std::string> now = EnableControllers(*dir, missing, err);
        if (now.size() < missing.size() && err == EBUSY && own && options.move_agent_to_leaf) {
          // "No internal processes": the agent itself sits in the cgroup that must hand
          // controllers down. Move it into a leaf of its own, then try again.
          fs::path leaf = *dir / std::string(kAgentLeaf);
          if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
            err = errno;
          } else if (int e = WriteText(leaf / "cgroup.procs", std::to_string(::getpid())); e) {
            err = e;
          } else {
            spdlog::info(
                "cgroups: moved the agent into {} so that {} may hand controllers to "
                "the runs' cgroups",
                leaf.string(), dir->string());
            now = EnableControllers(*dir, missing, err);
          }
        }
        enabled.insert(enabled.end(), now.begin(), now.end());
      }
      std::vector<std::string> active;
      for (const auto& c : wanted) {
        if (Contains(enabled, c)) active.push_back(c);
      }
      if (!Contains(active, "cpu") && !Contains(active, "memory")) {
        v2_why = "cannot enable the cpu or memory controller in " +
                 (*dir / "cgroup.subtree_control").string() + ": " + std::strerror(err) +
                 (err == EBUSY ? " (it holds processes; give a delegated cgroup with "
                                 "--cgroup-parent)"
                               : "");
      } else if (std::string why = CheckWritable(*dir); !why.empty()) {
        v2_why = why;
      } else {
        m->version_ = 2;
        m->parents_.push_back({*dir, active});
        m->description_ =
            "cgroup v2 under " + dir->string() + " (controllers: " + Join(active) + ")";
        return m;
      }
    }
  }

  // ---- cgroup v1: a hierarchy per controller
  std::string v1_why;
  for (const char* controller : {"memory", "cpu"}) {
    auto mount = std::find_if(mounts.begin(), mounts.end(), [&](const Mount& mt) {
      return mt.fstype == "cgroup" && Contains(mt.super_options, controller);
    });
    auto member = std::find_if(memberships.begin(), memberships.end(), [&](const Membership& mb) {
      return Contains(mb.controllers, controller);
    });
    std::string why;
    if (mount == mounts.end()) {
      why = "not mounted";
    } else if (member == memberships.end()) {
      why = "the agent is in none of its cgroups";
    } else if (auto dir = parent_dir(*mount, member->path, why)) {
      why = CheckWritable(*dir);
      if (why.empty()) {
        auto same = std::find_if(m->parents_.begin(), m->parents_.end(),
                                 [&](const Parent& p) { return p.dir == *dir; });
        if (same != m->parents_.end()) {
          same->controllers.push_back(controller);
        } else {
          m->parents_.push_back({*dir, {controller}});
        }
      }
    }
    if (!why.empty()) v1_why += std::string(v1_why.empty() ? "" : "; ") + controller + ": " + why;
  }
  if (!m->parents_.empty()) {
    m->version_ = 1;
    m->description_ = "cgroup v1";
    for (const auto& p : m->parents_) {
      m->description_ += " (" + Join(p.controllers) + " under " + p.dir.string() + ")";
    }
    if (!v1_why.empty()) m->description_ += "; not used: " + v1_why;
    return m;
  }
  return not_enforced("cgroup v2: " + v2_why +
                      "; cgroup v1: " + (v1_why.empty() ? "no memory or cpu hierarchy" : v1_why));
}

std::vector<std::string> CgroupManager::DirsFor(std::string_view run_id) const {
  std::vector<std::string> out;
  for (const auto& p : parents_) {
    out.push_back((p.dir / (std::string(kRunPrefix) + std::string(run_id))).string());
  }
  return out;
}

Result<std::vector<std::string>> CgroupManager::Place(std::string_view run_id, int pid,
                                                      const CgroupLimits& limits) const {
  if (!enforced()) return std::unexpected(Error::Unavailable(description_));
  std::vector<std::string> dirs = DirsFor(run_id);
  std::vector<fs::path> created;
  auto fail = [&](Error error) -> Result<std::vector<std::string>> {
    // A directory the process already entered stays (EBUSY) until the run ends; it is empty
    // then, and harmless.
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    return std::unexpected(std::move(error));
  };
  bool memory_set = false, cpu_set = false;
  for (size_t i = 0; i < parents_.size(); ++i) {
    const Parent& parent = parents_[i];
    fs::path dir = dirs[i];
    // EEXIST: left by an earlier attempt at this same run (the ids are never reused): reuse it.
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(
          Error::Unavailable("cannot create " + dir.string() + ": " + std::strerror(errno)));
    }
    created.push_back(dir);
    if (limits.memory_mib && *limits.memory_mib > 0 && Contains(parent.controllers, "memory")) {
      int64_t mib =
          std::min<int64_t>(*limits.memory_mib, std::numeric_limits<int64_t>::max() >> 20);
      fs::path file = dir / (version_ == 2 ? "memory.max" : "memory.limit_in_bytes");
      if (int err = WriteText(file, std::to_string(mib << 20)); err) {
        return fail(WriteError(file, err));
      }
      memory_set = true;
    }
    if (limits.cpu_milli && *limits.cpu_milli > 0 && Contains(parent.controllers, "cpu")) {
      // cpu_milli thousandths of a core = cpu_milli * period / 1000 of every period.
      int64_t quota = std::max(kMinCpuQuotaMicros, *limits.cpu_milli * (kCpuPeriodMicros / 1000));
      if (version_ == 2) {
        fs::path file = dir / "cpu.max";
        if (int err =
                WriteText(file, std::to_string(quota) + " " + std::to_string(kCpuPeriodMicros));
            err) {
          return fail(WriteError(file, err));
        }
      } else {
        fs::path period = dir / "cpu.cfs_period_us", quota_file = dir / "cpu.cfs_quota_us";
        if (int err = WriteText(period, std::to_string(kCpuPeriodMicros)); err) {
          return fail(WriteError(period, err));
        }
        if (int err = WriteText(quota_file, std::to_string(quota)); err) {
          return fail(WriteError(quota_file, err));
        }
      }
      cpu_set = true;
    }
  }
  if (limits.memory_mib && *limits.memory_mib > 0 && !memory_set) {
    spdlog::warn(
        "cgroups: {} asks for {} MiB of memory, but the memory controller is not "
        "available: not enforced",
        run_id, *limits.memory_mib);
  }
  if (limits.cpu_milli && *limits.cpu_milli > 0 && !cpu_set) {
    spdlog::warn(
        "cgroups: {} asks for {}m CPU, but the cpu controller is not available: not "
        "enforced",
        run_id, *limits.cpu_milli);
  }
  for (const auto& dir : created) {
    fs::path procs = dir / "cgroup.procs";
    if (int err = WriteText(procs, std::to_string(pid)); err) return fail(WriteError(procs, err));
  }
  return dirs;
}

void CgroupManager::KillAll(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    fs::path dir(d);
    if (!LooksLikeRunCgroup(dir)) continue;
    fs::path kill_file = dir / "cgroup.kill";
    // cgroup.kill (v2, Linux 5.14+) kills every process inside at once, forks in flight included.
    if (::access(kill_file.c_str(), F_OK) == 0 && WriteText(kill_file, "1") == 0) continue;
    // Otherwise one by one; a process forked meanwhile shows up in the next round.
    for (int round = 0; round < 3; ++round) {
      std::vector<int> pids = ListPids(dir);
      if (pids.empty()) break;
      for (int pid : pids) ::kill(pid, SIGKILL);
    }
  }
}

Status CgroupManager::Remove(const std::vector<std::string>& dirs) {
  std::string failures;
  for (const auto& d : dirs) {
    fs::path dir(d);
    if (!LooksLikeRunCgroup(dir)) continue;
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) continue;
    if (errno == ENOTEMPTY) {
      // A cgroup's files never stop rmdir: this is a plain directory standing in for one
      // (tests). Remove its plain files, never anything below.
      std::error_code ec;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) fs::remove(it->path(), ec);
      }
      if (::rmdir(dir.c_str()) == 0) continue;
    }
    failures += (failures.empty() ? "" : "; ") + dir.string() + ": " + std::strerror(errno);
  }
  if (!failures.empty()) return std::unexpected(Error::Unavailable("cannot remove " + failures));
  return Ok();
}

}  // namespace hangar::agent
