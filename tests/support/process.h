// Test support: runs one of Hangar's real binaries as a child process, with its output in a log
// file, and stops it with a signal. Integration tests use this instead of in-process fakes.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace hangar::testing {

// Where hangard, hangar-agent and hangar are: $HANGAR_BIN_DIR, else next to this test binary
// (CMake puts every executable in one bin directory).
inline std::filesystem::path BinDir() {
  if (const char* dir = std::getenv("HANGAR_BIN_DIR")) return dir;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}

// Polls `condition` until it is true or `timeout` passes; returns whether it became true.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Process {
 public:
  Process(std::string program, std::vector<std::string> args, std::filesystem::path log,
          std::vector<std::string> extra_env = {})
      : log_(std::move(log)) {
    std::vector<std::string> argv_storage{program.starts_with("/") ? program
                                                                   : (BinDir() / program).string()};
    for (auto& a : args) argv_storage.push_back(std::move(a));
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** e = environ; *e; ++e) {
      if (std::string_view(*e).starts_with("HANGAR_")) continue;  // hermetic
      env_storage.emplace_back(*e);
    }
    for (auto& e : extra_env) env_storage.push_back(std::move(e));
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (running()) {
      Signal(SIGKILL);
      Wait();
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  bool running() {
    if (pid_ <= 0 || exit_status_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      return false;
    }
    return true;
  }
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  // Waits for exit (up to `timeout`); the exit code, or nullopt if it is still running or was
  // killed by a signal.
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    WaitFor([this] { return !running(); }, timeout);
    if (!exit_status_ || !WIFEXITED(*exit_status_)) return std::nullopt;
    return WEXITSTATUS(*exit_status_);
  }
  std::string Log() const { return ReadFile(log_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::filesystem::path log_;
};

// The absolute path of `name` on $PATH, or "" when it is not installed.
inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = std::filesystem::path(dir) / name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// Runs a program to completion and returns its exit code and stdout+stderr. `program` is a
// name in BinDir() or an absolute path.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
inline RunResult RunToCompletion(const std::string& program, std::vector<std::string> args,
                                 const std::filesystem::path& scratch,
                                 std::vector<std::string> extra_env = {}) {
  static int counter = 0;
  auto log = scratch / ("run-" + std::to_string(++counter) + ".log");
  Process p(program, std::move(args), log, std::move(extra_env));
  auto code = p.Wait(std::chrono::seconds(30));
  return {code.value_or(-1), ReadFile(log)};
}

}  // namespace hangar::testing
