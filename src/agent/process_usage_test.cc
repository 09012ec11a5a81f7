#include "agent/process_usage.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

extern char** environ;

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// `sh -c script` as the leader of a new process group (pgid = its pid).
pid_t SpawnGroup(const std::string& script) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::string sh = "/bin/sh", dash_c = "-c", text = script;
  char* argv[] = {sh.data(), dash_c.data(), text.data(), nullptr};
  pid_t pid = 0;
  int err = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  EXPECT_EQ(err, 0);
  return err == 0 ? pid : 0;
}

void KillGroup(pid_t pgid) {
  if (pgid <= 0) return;
  ::kill(-pgid, SIGKILL);
  int status = 0;
  ::waitpid(pgid, &status, 0);
}

class FakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-proc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // A /proc/<pid>/stat line with the fields the reader uses; the rest are zeros.
  void AddProcess(int pid, std::string comm, int pgrp, int64_t utime, int64_t stime, int64_t cutime,
                  int64_t cstime, int64_t rss_pages) {
    fs::create_directories(root_ / std::to_string(pid));
    std::ofstream out(root_ / std::to_string(pid) / "stat");
    // Fields 1-2, state (3), ppid (4), pgrp (5), 6-13, utime..cstime (14-17), 18-23, rss (24).
    out << pid << " (" << comm << ") S 1 " << pgrp << " 0 0 0 0 0 0 0 0 " << utime << " " << stime
        << " " << cutime << " " << cstime << " 20 0 1 0 123 4096 " << rss_pages << " 0 0 0\n";
  }

  fs::path root_;
};

TEST_F(FakeProcTest, SumsCpuTimeAndResidentMemoryPerProcessGroup) {
  AddProcess(100, "python", 100, 50, 30, 10, 10, 25);
  AddProcess(101, "worker (1) x)", 100, 100, 0, 0, 0, 5);  // a name with spaces and parens
  AddProcess(200, "other", 200, 7, 0, 0, 0, 1);
  AddProcess(300, "outsider", 300, 1000, 0, 0, 0, 1000);  // not asked for
  fs::create_directories(root_ / "self");                 // not a pid: ignored
  fs::create_directories(root_ / "42");                   // no stat file (ended): skipped

  auto source = NewProcUsageSource(root_, 100, 4096);
  std::vector<int> pgids = {100, 200, 400};
  auto usage = source->Read(pgids);
  ASSERT_TRUE(usage.has_value()) << usage.error().ToString();
  ASSERT_EQ(usage->size(), 2u);  // group 400 has no member
  const ProcessGroupUsage& a = usage->at(100);
  EXPECT_EQ(a.processes, 2);
  EXPECT_DOUBLE_EQ(a.cpu_seconds, 2.0);  // (50+30+10+10 + 100) ticks at 100 per second
  EXPECT_EQ(a.rss_bytes, 30 * 4096);
  EXPECT_DOUBLE_EQ(usage->at(200).cpu_seconds, 0.07);
  EXPECT_FALSE(usage->contains(300));
}

TEST_F(FakeProcTest, NoGroupsAskedReadsNothingAndAMissingRootIsUnavailable) {
  auto source = NewProcUsageSource(root_ / "absent", 100, 4096);
  auto none = source->Read({});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  std::vector<int> pgids = {1};
  auto res = source->Read(pgids);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kUnavailable);
}

TEST(ProcessUsageTest, MeasuresABusyAndASleepingProcessGroup) {
  pid_t busy = SpawnGroup("while :; do :; done");
  pid_t sleeping = SpawnGroup("exec sleep 100");
  ASSERT_GT(busy, 0);
  ASSERT_GT(sleeping, 0);
  auto source = NewProcUsageSource();
  std::vector<int> pgids = {busy, sleeping};
  auto first = source->Read(pgids);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(first->contains(busy));
  ASSERT_TRUE(first->contains(sleeping));
  double busy_start = first->at(busy).cpu_seconds;
  double sleeping_start = first->at(sleeping).cpu_seconds;

  // The busy loop accumulates CPU time as fast as it is scheduled; wait for half a second of it.
  std::map<int, ProcessGroupUsage> last;
  bool grew = WaitUntil([&] {
    auto now = source->Read(pgids);
    if (!now || !now->contains(busy)) return false;
    last = *now;
    return last.at(busy).cpu_seconds >= busy_start + 0.5;
  });
  EXPECT_TRUE(grew) << "busy group used " << last[busy].cpu_seconds - busy_start << " s";
  ASSERT_TRUE(last.contains(sleeping));
  EXPECT_LT(last.at(sleeping).cpu_seconds - sleeping_start, 0.2);
  EXPECT_EQ(last.at(busy).processes, 1);
  EXPECT_GT(last.at(busy).rss_bytes, 0);
  EXPECT_GT(last.at(sleeping).rss_bytes, 0);

  KillGroup(busy);
  KillGroup(sleeping);
  auto after = source->Read(pgids);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->empty());  // reaped: no member left
}

}  // namespace
}  // namespace hangar::agent
