#include "agent/executor.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/describe.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "common/json_codec.h"

namespace hangar::agent {

namespace fs = std::filesystem;
using State = ProcessStatus::State;

namespace {

constexpr const char* kRecordFile = "process.json";
constexpr const char* kExitFile = "exit_status";
constexpr const char* kExitTmpFile = "exit_status.tmp";
constexpr const char* kStopFile = "stop.json";
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr size_t kMaxIdLength = 128;

// What process.json holds: enough to find the processes again and to tell them from others
// that reuse their pids.
struct ProcessRecord {
  std::string workload_id;
  int shim_pid = 0;
  int64_t shim_start_ticks = 0;
  int pid = 0;  // the workload, leader of process group `pid`
  int64_t start_ticks = 0;
  int64_t started_at_us = 0;
  std::vector<int> gpu_indexes;
  // The workload's cgroup directories (cgroups.h). Absent in records of agents before cgroups.
  std::optional<std::vector<std::string>> cgroups;
};
BOOST_DESCRIBE_STRUCT(ProcessRecord, (),
                      (workload_id, shim_pid, shim_start_ticks, pid, start_ticks, started_at_us,
                       gpu_indexes, cgroups))

// What the shim writes to exit_status (by hand: it may not allocate).
struct ExitRecord {
  std::optional<int> exit_code;
  std::optional<int> signal;
  int64_t ended_at_us = 0;
};
BOOST_DESCRIBE_STRUCT(ExitRecord, (), (exit_code, signal, ended_at_us))

struct StopRecord {
  int64_t kill_at_us = 0;
};
BOOST_DESCRIBE_STRUCT(StopRecord, (), (kill_at_us))

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Error IoError(const std::string& what, const fs::path& path, int err) {
  return Error::Unavailable(what + " " + path.string() + ": " + std::strerror(err));
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool ValidEnvName(std::string_view name) {
  return !name.empty() && name.find('=') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Status ValidateSpec(const LaunchSpec& spec) {
  if (!ValidId(spec.workload_id)) {
    return std::unexpected(
        Error::Invalid("invalid workload id '" + spec.workload_id + "'")
            .Field("/workload_id", "must be 1..128 characters of A-Z, a-z, 0-9, '_' and '-'"));
  }
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return std::unexpected(
        Error::Invalid("the command is empty").Field("/argv", "must name a program"));
  }
  for (size_t i = 0; i < spec.argv.size(); ++i) {
    if (HasNul(spec.argv[i])) {
      return std::unexpected(Error::Invalid("an argument contains a NUL byte")
                                 .Field("/argv/" + std::to_string(i), "contains a NUL byte"));
    }
  }
  for (const auto* vars : {&spec.env, &spec.labels}) {
    const char* field = vars == &spec.env ? "/env/" : "/labels/";
    for (const auto& [name, value] : *vars) {
      if (!ValidEnvName(name) || HasNul(value)) {
        return std::unexpected(
            Error::Invalid("invalid environment variable '" + name + "'")
                .Field(field + name, "names must be non-empty without '='; no NUL bytes"));
      }
    }
  }
  for (int index : spec.gpu_indexes) {
    if (index < 0) {
      return std::unexpected(Error::Invalid("GPU index " + std::to_string(index) + " is negative")
                                 .Field("/gpu_indexes", "must be >= 0"));
    }
  }
  if (HasNul(spec.working_dir)) {
    return std::unexpected(
        Error::Invalid("the working directory contains a NUL byte").Field("/working_dir", "NUL"));
  }
  if (fs::path(spec.working_dir).is_absolute()) {
    std::error_code ec;
    if (!fs::is_directory(spec.working_dir, ec)) {
      return std::unexpected(
          Error::Invalid("working directory " + spec.working_dir + " does not exist on this node")
              .Field("/working_dir", "must be an existing directory"));
    }
  }
  return Ok();
}

// ---- /proc --------------------------------------------------------------------------------

struct ProcStat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
  int64_t start_ticks = 0;  // field 22: clock ticks after boot; tells a pid's reuse apart
};

std::optional<ProcStat> ReadProcStat(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  char buf[2048];
  size_t size = 0;
  while (size < sizeof(buf)) {
    ssize_t n = ::read(fd.get(), buf + size, sizeof(buf) - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  std::string_view text(buf, size);
  // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= text.size()) return std::nullopt;
  text.remove_prefix(paren + 2);
  ProcStat out;
  int field = 3;
  while (!text.empty() && field <= 22) {
    size_t space = text.find(' ');
    std::string_view token = text.substr(0, space);
    auto parse = [&](auto& value) {
      std::from_chars(token.data(), token.data() + token.size(), value);
    };
    if (field == 3 && !token.empty()) out.state = token[0];
    if (field == 4) parse(out.ppid);
    if (field == 5) parse(out.pgrp);
    if (field == 22) {
      parse(out.start_ticks);
      return out;
    }
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
    ++field;
  }
  return std::nullopt;
}

bool IsZombie(const ProcStat& st) { return st.state == 'Z' || st.state == 'X' || st.state == 'x'; }

// True when `pid` is the process that started at `start_ticks` and has not ended.
bool IsAlive(int pid, int64_t start_ticks) {
  auto st = ReadProcStat(pid);
  return st && st->start_ticks == start_ticks && !IsZombie(*st);
}

// ---- Files ----------------------------------------------------------------------------------

// Writes `name` in the directory `dir_fd` so that it is either absent, or complete and durable.
Status WriteFileAtomically(int dir_fd, const fs::path& dir, const std::string& name,
                           std::string_view text) {
  std::string tmp = name + ".tmp";
  UniqueFd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return std::unexpected(IoError("cannot create", dir / tmp, errno));
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(IoError("cannot write", dir / tmp, errno));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return std::unexpected(IoError("cannot write", dir / tmp, errno));
  fd.Reset();
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    return std::unexpected(IoError("cannot replace", dir / name, errno));
  }
  if (::fsync(dir_fd) != 0) return std::unexpected(IoError("cannot sync", dir, errno));
  return Ok();
}

Status WriteFileAtomically(const fs::path& dir, const std::string& name, std::string_view text) {
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return std::unexpected(IoError("cannot open", dir, errno));
  return WriteFileAtomically(dir_fd.get(), dir, name, text);
}

// The file's contents; nullopt when it does not exist.
Result<std::optional<std::string>> ReadSmallFile(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    return std::unexpected(IoError("cannot read", path, errno));
  }
  std::string text;
  char buf[4096];
  while (text.size() < (1 << 20)) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(IoError("cannot read", path, errno));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(text));
}

// exit_status, parsed; nullopt when the shim has not written it.
Result<std::optional<ExitRecord>> ReadExitRecord(const fs::path& dir) {
  HANGAR_ASSIGN_OR_RETURN(auto text, ReadSmallFile(dir / kExitFile));
  if (!text) return std::nullopt;
  auto record = json::ParseAs<ExitRecord>(*text);
  if (!record || record->exit_code.has_value() == record->signal.has_value()) {
    return std::unexpected(
        Error::Internal("its " + std::string(kExitFile) + " is corrupt: '" + *text + "'"));
  }
  return std::optional<ExitRecord>(*record);
}

// ---- Command lookup -------------------------------------------------------------------------

// Where execve finds `name`, searching `path_var` like execvp; empty when nowhere. Relative
// PATH entries are taken relative to the working directory, where the workload runs.
std::string ResolveCommand(const std::string& name, std::string_view path_var,
                           const fs::path& working_dir) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t end = path_var.find(':', start);
    if (end == std::string_view::npos) end = path_var.size();
    fs::path entry(std::string(path_var.substr(start, end - start)));
    if (entry.empty()) entry = ".";
    if (entry.is_relative()) entry = working_dir / entry;
    fs::path candidate = entry / name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    start = end + 1;
  }
  return "";
}

// strerror's text for each errno, built once before any fork: strerror is not
// async-signal-safe, and a forked child may only index this table.
const std::vector<std::string>& ErrnoTexts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (int e = 0; e < 134; ++e) out.emplace_back(std::strerror(e));
    return out;
  }();
  return texts;
}

// ---- Between fork and exec: async-signal-safe code only --------------------------------------
//
// Everything below runs in a child forked from the (multithreaded) agent: no allocation, no
// locks, no stdio, no C++ exceptions; only system calls and plain memory.

// What the shim and the workload need, prepared by the agent before forking.
struct ChildPlan {
  // Descriptors in the agent's numbering; the shim moves them to kShimFds.
  int dir_fd;
  int go_fd;      // the agent sends one byte once process.json is durable
  int report_fd;  // the shim sends the workload's pid (or -errno)
  int stdout_fd;
  int stderr_fd;
  int null_fd;
  const char* exec_path;  // nullptr: the command was not found
  char* const* argv;
  char* const* envp;
  const char* working_dir;
  std::string_view not_found_message;   // "hangar: foo: command not found\n"
  std::string_view exec_failed_prefix;  // "hangar: cannot execute /x/foo: "
  std::string_view chdir_failed_prefix;
  const std::vector<std::string>* errno_texts;
};

// The shim's descriptors after it closed everything else.
constexpr int kDirFd = 3, kGoFd = 4, kReportFd = 5, kStdoutFd = 6, kStderrFd = 7, kNullFd = 8;
constexpr int kShimFdCount = 6;

void WriteAll(int fd, const char* data, size_t size) noexcept {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// A fixed buffer for composing small texts without allocating.
struct FixedText {
  char data[512];
  size_t size = 0;
  void Append(std::string_view s) noexcept {
    for (char c : s) {
      if (size < sizeof(data)) data[size++] = c;
    }
  }
  void AppendInt(int64_t v) noexcept {
    char digits[24];
    size_t n = 0;
    uint64_t u = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
    do {
      digits[n++] = char('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (v < 0) Append("-");
    while (n > 0) Append(std::string_view(&digits[--n], 1));
  }
};

void WriteErrnoLine(const ChildPlan& plan, std::string_view prefix, int err) noexcept {
  FixedText text;
  text.Append(prefix);
  if (err >= 0 && size_t(err) < plan.errno_texts->size()) {
    text.Append((*plan.errno_texts)[size_t(err)]);
  } else {
    text.Append("error ");
    text.AppendInt(err);
  }
  text.Append("\n");
  WriteAll(STDERR_FILENO, text.data, text.size);
}

// All handlers to default (then `ignore` to SIG_IGN), then an empty signal mask.
void ResetSignals(std::initializer_list<int> ignore) noexcept {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &action, nullptr);  // EINVAL for some: fine
  }
  action.sa_handler = SIG_IGN;
  for (int s : ignore) ::sigaction(s, &action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void CloseFrom(int low) noexcept {
  if (::close_range(static_cast<unsigned>(low), ~0U, 0) == 0) return;
  struct rlimit limit {};
  int high = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < rlim_t(high)) {
    high = static_cast<int>(limit.rlim_cur);
  }
  for (int fd = low; fd < high; ++fd) ::close(fd);
}

// Reads one byte; false at EOF or on error.
bool ReadByte(int fd) noexcept {
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

// The workload: its own process group, default signals, stdio on the log files, then exec.
[[noreturn]] void RunWorkload(const ChildPlan& plan, int gate_fd) noexcept {
  ::setpgid(0, 0);
  ResetSignals({});
  if (::dup2(kNullFd, STDIN_FILENO) < 0 || ::dup2(kStdoutFd, STDOUT_FILENO) < 0 ||
      ::dup2(kStderrFd, STDERR_FILENO) < 0) {
    ::_exit(126);
  }
  // Wait at the gate until the agent has recorded this process; EOF means it never will.
  if (!ReadByte(gate_fd)) ::_exit(125);
  CloseFrom(STDERR_FILENO + 1);
  if (::chdir(plan.working_dir) != 0) {
    WriteErrnoLine(plan, plan.chdir_failed_prefix, errno);
    ::_exit(126);
  }
  if (plan.exec_path == nullptr) {
    WriteAll(STDERR_FILENO, plan.not_found_message.data(), plan.not_found_message.size());
    ::_exit(127);
  }
  ::execve(plan.exec_path, plan.argv, plan.envp);
  int err = errno;
  WriteErrnoLine(plan, plan.exec_failed_prefix, err);
  ::_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

// Writes exit_status durably: tmp, fsync, rename, fsync the directory.
bool WriteExitStatus(const FixedText& text) noexcept {
  int fd = ::openat(kDirFd, kExitTmpFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  WriteAll(fd, text.data, text.size);
  bool ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::renameat(kDirFd, kExitTmpFile, kDirFd, kExitFile) == 0;
  return ok && ::fsync(kDirFd) == 0;
}

// The shim: a session of its own, deaf to the signals an operator or Stop() might send, it
// starts the workload, waits for it and records how it ended.
[[noreturn]] void RunShim(const ChildPlan& plan) noexcept {
  ::setsid();
  ::prctl(PR_SET_NAME, "hangar-shim", 0, 0, 0);
  ResetSignals({SIGTERM, SIGINT, SIGHUP, SIGPIPE});

  // Keep only our descriptors, renumbered 3..8; close every other one inherited from the agent
  // (its sockets, other workloads' files), so they do not live as long as this workload.
  const int wanted[kShimFdCount] = {plan.dir_fd,    plan.go_fd,     plan.report_fd,
                                    plan.stdout_fd, plan.stderr_fd, plan.null_fd};
  int base = kDirFd + kShimFdCount;
  for (int fd : wanted) base = fd >= base ? fd + 1 : base;
  int moved[kShimFdCount];
  for (int i = 0; i < kShimFdCount; ++i) {
    moved[i] = ::fcntl(wanted[i], F_DUPFD, base);
    if (moved[i] < 0) ::_exit(1);
  }
  for (int i = 0; i < kShimFdCount; ++i) {
    if (::dup2(moved[i], kDirFd + i) < 0) ::_exit(1);
  }
  CloseFrom(kDirFd + kShimFdCount);
  ::dup2(kNullFd, STDIN_FILENO);
  ::dup2(kNullFd, STDOUT_FILENO);
  ::dup2(kNullFd, STDERR_FILENO);

  auto report = [](int value) {
    WriteAll(kReportFd, reinterpret_cast<char*>(&value), sizeof(value));
  };
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) {
    report(-errno);
    ::_exit(1);
  }
  // The workload starts with every signal blocked and unblocks them once its dispositions are
  // back to default: a Stop() that comes before that stays pending (a blocked signal is never
  // discarded, even while inherited as SIG_IGN) instead of being lost.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    report(-errno);
    ::_exit(1);
  }
  if (pid == 0) {
    ::close(gate[1]);
    RunWorkload(plan, gate[0]);
  }
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::close(gate[0]);
  // The child does the same; whichever runs first, the group exists before the agent learns
  // the pid.
  ::setpgid(pid, pid);
  report(pid);
  ::close(kReportFd);

  bool go = ReadByte(kGoFd);
  ::close(kGoFd);
  if (!go) {
    // The agent failed to record the start, or died: the workload must never run. Closing the
    // gate makes it exit; dropping process.json marks the start as unfinished.
    ::close(gate[1]);
    int ignored = 0;
    while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    ::unlinkat(kDirFd, kRecordFile, 0);
    ::_exit(0);
  }
  char byte = 1;
  WriteAll(gate[1], &byte, 1);
  ::close(gate[1]);

  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  // A workload's processes never outlive it: kill what is left of its group.
  ::kill(-pid, SIGKILL);
  if (reaped != pid) ::_exit(1);  // cannot happen; recording a made-up status would be worse

  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  FixedText text;
  text.Append("{\"exit_code\":");
  if (WIFEXITED(status)) {
    text.AppendInt(WEXITSTATUS(status));
  } else {
    text.Append("null");
  }
  text.Append(",\"signal\":");
  if (WIFSIGNALED(status)) {
    text.AppendInt(WTERMSIG(status));
  } else {
    text.Append("null");
  }
  text.Append(",\"ended_at_us\":");
  text.AppendInt(int64_t(now.tv_sec) * 1000000 + now.tv_nsec / 1000);
  text.Append("}\n");
  ::_exit(WriteExitStatus(text) ? 0 : 1);
}

}  // namespace

// ---- Executor -------------------------------------------------------------------------------

std::string_view StateName(ProcessStatus::State state) {
  switch (state) {
    case State::kRunning:
      return "running";
    case State::kStopping:
      return "stopping";
    case State::kExited:
      return "exited";
    case State::kLost:
      return "lost";
  }
  return "unknown";
}

Executor::Executor(fs::path root, const Clock& clock, const CgroupManager* cgroups)
    : root_(std::move(root)), clock_(clock), cgroups_(cgroups) {
  ErrnoTexts();  // built now, never inside a forked child
}

fs::path Executor::DirOf(std::string_view id) const { return root_ / std::string(id); }

Status Executor::EnsureRoot() {
  std::error_code ec;
  if (fs::create_directories(root_, ec)) ::chmod(root_.c_str(), 0700);
  if (ec) return std::unexpected(IoError("cannot create", root_, ec.value()));
  return Ok();
}

Status Executor::Recover() {
  std::lock_guard lock(mu_);
  HANGAR_TRY(EnsureRoot());
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!ValidId(name) || !it->is_directory(type_ec)) {
      spdlog::warn("workloads: ignoring {}, which is not a workload directory",
                   it->path().string());
      continue;
    }
    ids.push_back(std::move(name));
  }
  if (ec) return std::unexpected(IoError("cannot list", root_, ec.value()));
  Status result = Ok();
  for (const auto& id : ids) {
    if (workloads_.contains(id)) continue;
    if (auto st = RecoverOne(id); !st) {
      spdlog::warn("workloads: cannot recover {}: {}", id, st.error().ToString());
      if (result) result = st;
    }
  }
  PublishBusyGpus();
  return result;
}

Status Executor::RecoverOne(const std::string& id) {
  fs::path dir = DirOf(id);
  Workload w;
  auto lost = [&](std::string why) {
    w.status.state = State::kLost;
    w.status.ended_at = clock_.Now();
    w.status.message = std::move(why);
    spdlog::warn("workloads: {} is lost: {}", id, w.status.message);
    workloads_.insert_or_assign(id, std::move(w));
    return Ok();
  };
  auto text = ReadSmallFile(dir / kRecordFile);
  if (!text)
    return lost("its " + std::string(kRecordFile) + " cannot be read: " + text.error().message());
  if (!*text) {
    // A start that did not finish: its workload never passed the gate, so nothing ran. Removing
    // the directory lets the server's repeated assignment start it afresh.
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return std::unexpected(IoError("cannot remove", dir, ec.value()));
    // Its cgroup, if the start got that far, is empty: its process never passed the gate.
    if (cgroups_) (void)CgroupManager::Remove(cgroups_->DirsFor(id));
    spdlog::info("workloads: removed {}, a start that did not finish", dir.string());
    return Ok();
  }
  auto record = json::ParseAs<ProcessRecord>(**text);
  if (!record) {
    return lost("its " + std::string(kRecordFile) + " is corrupt: " + record.error().message());
  }
  w.status.pid = record->pid;
  w.status.started_at = FromUnixMicros(record->started_at_us);
  w.shim_pid = record->shim_pid;
  w.shim_start_ticks = record->shim_start_ticks;
  w.start_ticks = record->start_ticks;
  w.gpu_indexes = record->gpu_indexes;
  w.cgroup_dirs = record->cgroups.value_or(std::vector<std::string>{});

  // The shim is our child when this same process started it (a new Executor over the same
  // root): then it must be reaped with waitpid, zombie or not.
  if (auto shim = ReadProcStat(w.shim_pid); shim && shim->start_ticks == w.shim_start_ticks) {
    w.shim_is_child = shim->ppid == ::getpid();
  }
  auto exit = ReadExitRecord(dir);
  if (!exit) return lost(exit.error().message());
  if (*exit) {
    if (w.shim_is_child) {
      // Its last acts after writing exit_status are an fsync and _exit: this wait is short.
      int ignored = 0;
      while (::waitpid(w.shim_pid, &ignored, 0) < 0 && errno == EINTR) {
      }
    }
    // Ended while no agent watched: the shim's own timestamp is the best there is.
    w.status.state = State::kExited;
    w.status.exit_code = (*exit)->exit_code;
    w.status.signal = (*exit)->signal;
    w.status.ended_at = FromUnixMicros((*exit)->ended_at_us);
    workloads_.insert_or_assign(id, std::move(w));
    return Ok();
  }
  // Perhaps still running: Refresh decides, as Poll would.
  if (auto stop = ReadSmallFile(dir / kStopFile); stop && *stop) {
    if (auto rec = json::ParseAs<StopRecord>(**stop)) {
      w.status.state = State::kStopping;
      w.kill_at = FromUnixMicros(rec->kill_at_us);
    }
  }
  auto [it, inserted] = workloads_.insert_or_assign(id, std::move(w));
  Refresh(id, it->second, clock_.Now());
  if (it->second.status.state == State::kLost) {
    spdlog::warn("workloads: {} is lost: {}", id, it->second.status.message);
  }
  return Ok();
}

Result<int> Executor::Start(const LaunchSpec& spec) {
  HANGAR_TRY(ValidateSpec(spec));
  std::lock_guard lock(mu_);
  if (auto it = workloads_.find(spec.workload_id); it != workloads_.end()) {
    return it->second.status.pid;
  }
  HANGAR_TRY(EnsureRoot());
  fs::path dir = DirOf(spec.workload_id);
  std::error_code ec;
  bool on_disk = fs::exists(dir, ec);
  if (ec) return std::unexpected(IoError("cannot inspect", dir, ec.value()));
  if (on_disk) {
    // Left by an earlier agent process and not yet seen by Recover: adopt it, never run twice.
    HANGAR_TRY(RecoverOne(spec.workload_id));
    if (auto it = workloads_.find(spec.workload_id); it != workloads_.end()) {
      PublishBusyGpus();
      return it->second.status.pid;
    }
    // RecoverOne removed a start that did not finish: start afresh.
  }
  return Launch(spec);
}

Result<int> Executor::Launch(const LaunchSpec& spec) {
  const std::string& id = spec.workload_id;
  fs::path dir = DirOf(id);
  fs::path work_dir = spec.working_dir.empty() ? dir / "work" : dir / spec.working_dir;

  // Everything the children need is built here, before forking.
  std::map<std::string, std::string> env;
  for (const char* name : {"PATH", "HOME", "LANG", "USER"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  if (!env.contains("PATH")) env["PATH"] = kDefaultPath;
  for (const auto& [name, value] : spec.env) env[name] = value;
  for (const auto& [name, value] : spec.labels) env[name] = value;
  std::string devices;
  for (int index : spec.gpu_indexes) {
    if (!devices.empty()) devices += ',';
    devices += std::to_string(index);
  }
  env["CUDA_VISIBLE_DEVICES"] = devices;
  env["NVIDIA_VISIBLE_DEVICES"] = devices.empty() ? "void" : devices;
  env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string exec_path = ResolveCommand(spec.argv[0], env["PATH"], work_dir);
  std::string not_found = "hangar: " + spec.argv[0] + ": command not found\n";
  std::string exec_failed = "hangar: cannot execute " + exec_path + ": ";
  std::string chdir_failed = "hangar: cannot change directory to " + work_dir.string() + ": ";
  std::string work_dir_text = work_dir.string();

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(IoError("cannot create", dir, ec.value()));
  ::chmod(dir.c_str(), 0700);
  auto abandon = [&](Error error) -> Result<int> {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    return std::unexpected(std::move(error));
  };
  if (!fs::path(spec.working_dir).is_absolute()) {
    fs::create_directories(work_dir, ec);
    if (ec) return abandon(IoError("cannot create", work_dir, ec.value()));
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return abandon(IoError("cannot open", dir, errno));
  auto open_log = [&](const char* name) {
    return ::openat(dir_fd.get(), name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  };
  UniqueFd stdout_fd(open_log("stdout.log"));
  if (stdout_fd.get() < 0) return abandon(IoError("cannot create", dir / "stdout.log", errno));
  UniqueFd stderr_fd(open_log("stderr.log"));
  if (stderr_fd.get() < 0) return abandon(IoError("cannot create", dir / "stderr.log", errno));
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (null_fd.get() < 0) return abandon(IoError("cannot open", "/dev/null", errno));
  // Socket pairs rather than pipes: send() with MSG_NOSIGNAL cannot raise SIGPIPE in the agent.
  int go[2], report[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
    return abandon(IoError("cannot create a socket pair for", dir, errno));
  }
  UniqueFd go_agent(go[0]), go_shim(go[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, report) != 0) {
    return abandon(IoError("cannot create a socket pair for", dir, errno));
  }
  UniqueFd report_agent(report[0]), report_shim(report[1]);

  ChildPlan plan{.dir_fd = dir_fd.get(),
                 .go_fd = go_shim.get(),
                 .report_fd = report_shim.get(),
                 .stdout_fd = stdout_fd.get(),
                 .stderr_fd = stderr_fd.get(),
                 .null_fd = null_fd.get(),
                 .exec_path = exec_path.empty() ? nullptr : exec_path.c_str(),
                 .argv = argv.data(),
                 .envp = envp.data(),
                 .working_dir = work_dir_text.c_str(),
                 .not_found_message = not_found,
                 .exec_failed_prefix = exec_failed,
                 .chdir_failed_prefix = chdir_failed,
                 .errno_texts = &ErrnoTexts()};
  Timestamp started_at = clock_.Now();
  pid_t shim = ::fork();
  if (shim < 0) return abandon(IoError("cannot fork the shim for", dir, errno));
  if (shim == 0) RunShim(plan);

  go_shim.Reset();
  report_shim.Reset();
  // From here on a failure must end the shim before removing the directory. Closing our end of
  // `go` does it: the shim closes the gate, its workload exits without running, and it exits.
  auto abandon_shim = [&](Error error) {
    go_agent.Reset();
    int ignored = 0;
    while (::waitpid(shim, &ignored, 0) < 0 && errno == EINTR) {
    }
    return abandon(std::move(error));
  };
  int reported = 0;
  size_t got = 0;
  while (got < sizeof(reported)) {
    ssize_t n = ::read(report_agent.get(), reinterpret_cast<char*>(&reported) + got,
                       sizeof(reported) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != sizeof(reported)) {
    return abandon_shim(Error::Internal("the shim for " + id + " ended before starting it"));
  }
  if (reported < 0) return abandon_shim(IoError("cannot fork the workload in", dir, -reported));
  int pid = reported;
  auto shim_stat = ReadProcStat(shim);
  auto workload_stat = ReadProcStat(pid);
  if (!shim_stat || !workload_stat) {
    return abandon_shim(Error::Internal("cannot read /proc/<pid>/stat of the processes of " + id));
  }
  // The workload's cgroup, entered while it waits at the gate: it cannot have exec'd or forked
  // yet, so all it will ever start is inside. A host that refuses runs it without limits.
  std::vector<std::string> cgroup_dirs;
  if (cgroups_ && cgroups_->enforced()) {
    if (auto placed = cgroups_->Place(id, pid, spec.limits)) {
      cgroup_dirs = std::move(*placed);
    } else {
      spdlog::warn("workloads: {} runs without cgroup limits: {}", id, placed.error().ToString());
    }
  }
  auto abandon_started = [&](Error error) {
    // The shim waits for its workload before it exits, so the cgroup is empty by now.
    auto result = abandon_shim(std::move(error));
    (void)CgroupManager::Remove(cgroup_dirs);
    return result;
  };
  ProcessRecord record{.workload_id = id,
                       .shim_pid = shim,
                       .shim_start_ticks = shim_stat->start_ticks,
                       .pid = pid,
                       .start_ticks = workload_stat->start_ticks,
                       .started_at_us = ToUnixMicros(started_at),
                       .gpu_indexes = spec.gpu_indexes,
                       .cgroups = cgroup_dirs};
  if (auto st = WriteFileAtomically(dir_fd.get(), dir, kRecordFile, json::Serialize(record) + "\n");
      !st) {
    return abandon_started(std::move(st).error());
  }
  char byte = 1;
  if (::send(go_agent.get(), &byte, 1, MSG_NOSIGNAL) != 1) {
    return abandon_started(IoError("cannot release the workload in", dir, errno));
  }
  go_agent.Reset();

  Workload w;
  w.status.state = State::kRunning;
  w.status.pid = pid;
  w.status.started_at = started_at;
  w.shim_pid = shim;
  w.shim_start_ticks = shim_stat->start_ticks;
  w.start_ticks = workload_stat->start_ticks;
  w.shim_is_child = true;
  w.seen_running = true;
  w.gpu_indexes = spec.gpu_indexes;
  w.cgroup_dirs = cgroup_dirs;
  workloads_.insert_or_assign(id, std::move(w));
  PublishBusyGpus();
  if (cgroup_dirs.empty()) {
    spdlog::info("workloads: started {} as pid {} (shim {})", id, pid, shim);
  } else {
    spdlog::info(
        "workloads: started {} as pid {} (shim {}) in cgroup {} (cpu {}, memory {})", id, pid, shim,
        cgroup_dirs.front(),
        spec.limits.cpu_milli ? std::to_string(*spec.limits.cpu_milli) + "m" : "unlimited",
        spec.limits.memory_mib ? std::to_string(*spec.limits.memory_mib) + " MiB" : "unlimited");
  }
  return pid;
}

void Executor::Refresh(const std::string& id, Workload& w, Timestamp now) {
  if (!w.shim_gone) {
    bool shim_running;
    if (w.shim_is_child) {
      int status = 0;
      pid_t reaped = ::waitpid(w.shim_pid, &status, WNOHANG);
      if (reaped == w.shim_pid) {
        shim_running = false;
      } else if (reaped == 0 || errno != ECHILD) {
        shim_running = true;  // or EINTR: look again at the next Poll
      } else {
        // ECHILD: something else reaped it (SIGCHLD ignored?). Fall back to /proc.
        w.shim_is_child = false;
        shim_running = IsAlive(w.shim_pid, w.shim_start_ticks);
      }
    } else {
      shim_running = IsAlive(w.shim_pid, w.shim_start_ticks);
    }
    if (!shim_running) {
      w.shim_is_child = false;
      auto exit = ReadExitRecord(DirOf(id));
      if (!exit) {
        w.status.state = State::kLost;
        w.status.ended_at = now;
        w.status.message = exit.error().message();
        return;
      }
      if (*exit) {
        w.status.state = State::kExited;
        w.status.exit_code = (*exit)->exit_code;
        w.status.signal = (*exit)->signal;
        w.status.ended_at = now;
        return;
      }
      // Killed before it could record anything. Its workload may live on, unsupervised.
      w.shim_gone = true;
      spdlog::warn("workloads: the shim of {} (pid {}) ended without an exit status", id,
                   w.shim_pid);
    } else {
      w.seen_running = true;
    }
  }
  if (w.shim_gone) {
    if (!IsAlive(w.status.pid, w.start_ticks)) {
      w.status.state = State::kLost;
      w.status.ended_at = now;
      w.status.message = w.seen_running
                             ? "its shim ended without recording an exit status"
                             : "not running after an agent restart and no exit status was recorded";
      return;
    }
    w.seen_running = true;
  }
  if (w.status.state == State::kStopping && !w.killed && w.kill_at && now >= *w.kill_at) {
    spdlog::info("workloads: {} outlived its grace period; sending SIGKILL", id);
    SignalGroup(w, SIGKILL);
    w.killed = true;
  }
}

void Executor::SignalGroup(Workload& w, int signal) {
  int pid = w.status.pid;
  auto st = ReadProcStat(pid);
  // The pid belongs to another process now: the workload's group is long gone (a pid is not
  // reused while a process group of that id exists).
  if (st && st->start_ticks != w.start_ticks) return;
  if (::kill(-pid, signal) != 0 && errno != ESRCH) {
    spdlog::warn("workloads: cannot signal process group {}: {}", pid, std::strerror(errno));
  }
  // The leader moved to a group of its own (setsid, setpgid): reach it anyway.
  if (st && st->pgrp != pid && !IsZombie(*st)) ::kill(pid, signal);
  // And whatever left the group but not the cgroup.
  if (signal == SIGKILL) CgroupManager::KillAll(w.cgroup_dirs);
}

void Executor::ReleaseCgroup(const std::string& id, Workload& w) {
  if (w.cgroup_dirs.empty()) return;
  // A workload's processes never outlive it, even those that left its process group.
  CgroupManager::KillAll(w.cgroup_dirs);
  if (auto st = CgroupManager::Remove(w.cgroup_dirs); !st) {
    spdlog::debug("workloads: the cgroup of {} is not removed yet: {}", id, st.error().message());
    return;
  }
  w.cgroup_dirs.clear();
}

Status Executor::Stop(std::string_view workload_id, std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  auto it = workloads_.find(workload_id);
  if (it == workloads_.end()) {
    return std::unexpected(Error::NotFound("no workload " + std::string(workload_id)));
  }
  Workload& w = it->second;
  if (w.status.state == State::kExited || w.status.state == State::kLost) return Ok();
  Timestamp now = clock_.Now();
  Timestamp deadline = now + std::chrono::duration_cast<Micros>(std::max(grace, {}));
  if (!w.kill_at || deadline < *w.kill_at) w.kill_at = deadline;
  w.status.state = State::kStopping;
  if (grace.count() <= 0) {
    SignalGroup(w, SIGKILL);
    w.killed = true;
  } else {
    SignalGroup(w, SIGTERM);
  }
  // So that a restarted agent still escalates; without it, only the escalation is lost.
  StopRecord record{.kill_at_us = ToUnixMicros(*w.kill_at)};
  if (auto st = WriteFileAtomically(DirOf(workload_id), kStopFile, json::Serialize(record)); !st) {
    spdlog::warn("workloads: {}", st.error().ToString());
  }
  return Ok();
}

bool Executor::Knows(std::string_view workload_id) {
  std::lock_guard lock(mu_);
  return workloads_.find(std::string(workload_id)) != workloads_.end();
}

std::vector<std::pair<std::string, ProcessStatus>> Executor::Poll() {
  std::lock_guard lock(mu_);
  Timestamp now = clock_.Now();
  std::vector<std::pair<std::string, ProcessStatus>> out;
  out.reserve(workloads_.size());
  for (auto& [id, w] : workloads_) {
    if (w.status.state == State::kRunning || w.status.state == State::kStopping) {
      Refresh(id, w, now);
    }
    if (w.status.state == State::kExited || w.status.state == State::kLost) ReleaseCgroup(id, w);
    out.emplace_back(id, w.status);
  }
  PublishBusyGpus();
  return out;
}

Status Executor::Forget(std::string_view workload_id) {
  std::lock_guard lock(mu_);
  auto it = workloads_.find(workload_id);
  if (it == workloads_.end()) return Ok();
  State state = it->second.status.state;
  if (state == State::kRunning || state == State::kStopping) {
    return std::unexpected(
        Error::Conflict("workload " + std::string(workload_id) + " is still " +
                        std::string(StateName(state)))
            .Hint("stop it and wait until Poll reports it exited before forgetting it"));
  }
  ReleaseCgroup(it->first, it->second);
  if (!it->second.cgroup_dirs.empty()) {
    spdlog::warn("workloads: leaving the cgroup of {} behind: a process of it does not end",
                 workload_id);
  }
  fs::path dir = DirOf(workload_id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return std::unexpected(IoError("cannot remove", dir, ec.value()));
  workloads_.erase(it);
  PublishBusyGpus();
  return Ok();
}

Result<std::string> Executor::ReadLog(std::string_view workload_id, std::string_view stream,
                                      int64_t offset, size_t max_bytes) {
  if (stream != "stdout" && stream != "stderr") {
    return std::unexpected(Error::Invalid("unknown log stream '" + std::string(stream) + "'")
                               .Field("stream", "must be stdout or stderr"));
  }
  if (offset < 0) {
    return std::unexpected(Error::Invalid("negative log offset").Field("offset", "must be >= 0"));
  }
  {
    std::lock_guard lock(mu_);
    if (!workloads_.contains(workload_id)) {
      return std::unexpected(Error::NotFound("no workload " + std::string(workload_id)));
    }
  }
  fs::path path = DirOf(workload_id) / (std::string(stream) + ".log");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::string();
    return std::unexpected(IoError("cannot read", path, errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(IoError("cannot read", path, errno));
  if (offset >= st.st_size) return std::string();
  std::string out(std::min<uint64_t>(max_bytes, uint64_t(st.st_size - offset)), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, offset + off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(IoError("cannot read", path, errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

std::set<int> Executor::BusyGpus() {
  std::lock_guard lock(busy_mu_);
  return busy_gpus_;
}

std::vector<GpuPlacement> Executor::Placements() {
  std::lock_guard lock(busy_mu_);
  return placements_;
}

void Executor::PublishBusyGpus() {
  std::set<int> busy;
  std::vector<GpuPlacement> placements;
  for (const auto& [id, w] : workloads_) {
    if ((w.status.state == State::kRunning || w.status.state == State::kStopping) &&
        !w.gpu_indexes.empty()) {
      busy.insert(w.gpu_indexes.begin(), w.gpu_indexes.end());
      placements.push_back({.run_id = id, .pgid = w.status.pid, .gpu_indexes = w.gpu_indexes});
    }
  }
  std::lock_guard lock(busy_mu_);
  busy_gpus_ = std::move(busy);
  placements_ = std::move(placements);
}

}  // namespace hangar::agent
