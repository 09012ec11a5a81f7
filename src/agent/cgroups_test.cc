#include "agent/cgroups.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// `sleep 100` in a process group of its own; the tests kill and reap it.
pid_t SpawnSleeper() {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::string sleep = "sleep", seconds = "100";
  char* argv[] = {sleep.data(), seconds.data(), nullptr};
  pid_t pid = 0;
  int err = posix_spawnp(&pid, "sleep", nullptr, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  EXPECT_EQ(err, 0);
  return err == 0 ? pid : 0;
}

// Reaps `pid`; the signal that ended it (0 when it exited).
int Reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// A temporary directory standing in for the cgroup file systems, with the /proc/self files
// that describe them.
class CgroupLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-cgroups-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // A cgroup2 mount at <root>/unified with the agent in `self_path`, whose directory offers
  // `controllers`.
  void UnifiedHierarchy(const std::string& self_path, const std::string& controllers,
                        const std::string& mount_root = "/") {
    mountinfo_ += "30 25 0:26 " + mount_root + " " + (root_ / "unified").string() +
                  " rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    self_ += "0::" + self_path + "\n";
    fs::path dir = root_ / "unified";
    std::string rel = self_path.substr(mount_root == "/" ? 0 : mount_root.size());
    if (rel.size() > 1) dir /= rel.substr(1);
    Write(dir / "cgroup.controllers", controllers + "\n");
    Write(dir / "cgroup.subtree_control", "");
  }

  // A v1 hierarchy for `controllers` ("memory", "cpu,cpuacct") at <root>/<name>, the agent in
  // `self_path` of it.
  void V1Hierarchy(int id, const std::string& controllers, const std::string& self_path) {
    fs::path point = root_ / controllers;
    mountinfo_ += std::to_string(40 + id) + " 25 0:" + std::to_string(40 + id) + " / " +
                  point.string() + " rw,nosuid - cgroup cgroup rw," + controllers + "\n";
    self_ += std::to_string(id) + ":" + controllers + ":" + self_path + "\n";
    fs::create_directories(point / self_path.substr(1));
  }

  std::unique_ptr<CgroupManager> Create(std::string parent = "") {
    Write(root_ / "mountinfo", mountinfo_);
    Write(root_ / "self_cgroup", self_);
    return CgroupManager::Create({.parent = std::move(parent),
                                  .move_agent_to_leaf = false,
                                  .mountinfo = root_ / "mountinfo",
                                  .self_cgroup = root_ / "self_cgroup"});
  }

  fs::path root_;
  std::string mountinfo_;
  std::string self_;
};

TEST_F(CgroupLayoutTest, V2EnablesControllersAndWritesTheRunsLimits) {
  UnifiedHierarchy("/agent.slice", "cpuset cpu io memory hugetlb pids");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->version(), 2);
  fs::path parent = root_ / "unified" / "agent.slice";
  EXPECT_NE(cgroups->description().find(parent.string()), std::string::npos);
  EXPECT_EQ(Read(parent / "cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_FALSE(fs::exists(parent / ("hangar-check-" + std::to_string(::getpid()))));

  auto dirs = cgroups->Place("job_1-a1", 4242, {.cpu_milli = 1500, .memory_mib = 512});
  ASSERT_TRUE(dirs.has_value()) << dirs.error().ToString();
  fs::path dir = parent / "hangar-job_1-a1";
  EXPECT_EQ(*dirs, std::vector<std::string>{dir.string()});
  EXPECT_EQ(cgroups->DirsFor("job_1-a1"), *dirs);
  EXPECT_EQ(Read(dir / "memory.max"), "536870912");
  EXPECT_EQ(Read(dir / "cpu.max"), "150000 100000");
  EXPECT_EQ(Read(dir / "cgroup.procs"), "4242");

  ASSERT_TRUE(CgroupManager::Remove(*dirs).has_value());
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(fs::exists(parent));
  EXPECT_TRUE(CgroupManager::Remove(*dirs).has_value());  // already gone: fine
}

TEST_F(CgroupLayoutTest, AbsentLimitsWriteNoLimitFilesAndTinyCpuIsTheKernelsMinimum) {
  UnifiedHierarchy("/", "cpu memory");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  auto none = cgroups->Place("job_2-a1", 1, {});
  ASSERT_TRUE(none.has_value()) << none.error().ToString();
  fs::path dir = root_ / "unified" / "hangar-job_2-a1";
  EXPECT_TRUE(fs::exists(dir / "cgroup.procs"));
  EXPECT_FALSE(fs::exists(dir / "memory.max"));
  EXPECT_FALSE(fs::exists(dir / "cpu.max"));
  auto tiny = cgroups->Place("job_3-a1", 1, {.cpu_milli = 1, .memory_mib = 0});
  ASSERT_TRUE(tiny.has_value());
  EXPECT_EQ(Read(root_ / "unified" / "hangar-job_3-a1" / "cpu.max"), "1000 100000");
  EXPECT_FALSE(fs::exists(root_ / "unified" / "hangar-job_3-a1" / "memory.max"));
}

TEST_F(CgroupLayoutTest, OnlyTheMemoryControllerMeansOnlyTheMemoryLimit) {
  UnifiedHierarchy("/a", "memory io");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(Read(root_ / "unified" / "a" / "cgroup.subtree_control"), "+memory");
  auto dirs = cgroups->Place("job_4-a1", 1, {.cpu_milli = 2000, .memory_mib = 1});
  ASSERT_TRUE(dirs.has_value());
  EXPECT_EQ(Read(root_ / "unified" / "a" / "hangar-job_4-a1" / "memory.max"), "1048576");
  EXPECT_FALSE(fs::exists(root_ / "unified" / "a" / "hangar-job_4-a1" / "cpu.max"));
}

TEST_F(CgroupLayoutTest, ARestartedAgentInItsLeafUsesTheLeafsParent) {
  UnifiedHierarchy("/svc", "cpu memory");
  self_ = "0::/svc/hangar-agent\n";
  fs::create_directories(root_ / "unified" / "svc" / "hangar-agent");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->DirsFor("r"),
            std::vector<std::string>{(root_ / "unified" / "svc" / "hangar-r").string()});
}

TEST_F(CgroupLayoutTest, AConfiguredParentIsUsedInsteadOfTheAgentsCgroup) {
  UnifiedHierarchy("/user.slice", "cpu memory pids");
  Write(root_ / "unified" / "hangar" / "cgroup.controllers", "cpu memory pids\n");
  auto cgroups = Create("hangar");  // a leading '/' is implied
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->DirsFor("job_5-a1"),
            std::vector<std::string>{(root_ / "unified" / "hangar" / "hangar-job_5-a1").string()});
  EXPECT_EQ(Read(root_ / "unified" / "hangar" / "cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(Read(root_ / "unified" / "user.slice" / "cgroup.subtree_control"), "");

  // A parent that does not exist is created; here it is no cgroup (a plain directory has no
  // cgroup.controllers), so nothing is enforced, and the reason says so.
  auto plain = Create("/elsewhere/deep");
  EXPECT_TRUE(fs::is_directory(root_ / "unified" / "elsewhere" / "deep"));
  EXPECT_FALSE(plain->enforced());
  EXPECT_NE(plain->description().find("cgroup.controllers"), std::string::npos)
      << plain->description();
}

TEST_F(CgroupLayoutTest, AContainersMountRootIsStrippedFromTheAgentsPath) {
  UnifiedHierarchy("/docker/abc/agent", "cpu memory", "/docker/abc");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->DirsFor("r"),
            std::vector<std::string>{(root_ / "unified" / "agent" / "hangar-r").string()});
}

TEST_F(CgroupLayoutTest, V1IsUsedWhenV2OffersNeitherCpuNorMemory) {
  UnifiedHierarchy("/", "hugetlb");  // a hybrid host: the controllers are on v1
  V1Hierarchy(4, "memory", "/sandbox/box1");
  V1Hierarchy(2, "cpu,cpuacct", "/");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->version(), 1);
  auto dirs = cgroups->Place("job_6-a1", 777, {.cpu_milli = 250, .memory_mib = 64});
  ASSERT_TRUE(dirs.has_value()) << dirs.error().ToString();
  fs::path memory = root_ / "memory" / "sandbox" / "box1" / "hangar-job_6-a1";
  fs::path cpu = root_ / "cpu,cpuacct" / "hangar-job_6-a1";
  EXPECT_EQ(*dirs, (std::vector<std::string>{memory.string(), cpu.string()}));
  EXPECT_EQ(Read(memory / "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Read(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Read(cpu / "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(Read(memory / "cgroup.procs"), "777");
  EXPECT_EQ(Read(cpu / "cgroup.procs"), "777");
  ASSERT_TRUE(CgroupManager::Remove(*dirs).has_value());
  EXPECT_FALSE(fs::exists(memory));
  EXPECT_FALSE(fs::exists(cpu));
}

TEST_F(CgroupLayoutTest, NothingUsableMeansNoLimitsAndSaysWhy) {
  UnifiedHierarchy("/", "hugetlb");
  auto cgroups = Create();
  EXPECT_FALSE(cgroups->enforced());
  EXPECT_EQ(cgroups->version(), 0);
  EXPECT_NE(cgroups->description().find("neither the cpu nor the memory controller"),
            std::string::npos)
      << cgroups->description();
  EXPECT_TRUE(cgroups->DirsFor("r").empty());
  auto placed = cgroups->Place("r", 1, {.memory_mib = 1});
  ASSERT_FALSE(placed.has_value());
  EXPECT_EQ(placed.error().code(), ErrorCode::kUnavailable);

  auto off = CgroupManager::Create({.enabled = false});
  EXPECT_FALSE(off->enforced());
  EXPECT_NE(off->description().find("--cgroups off"), std::string::npos);

  auto unreadable = CgroupManager::Create({.mountinfo = root_ / "absent"});
  EXPECT_FALSE(unreadable->enforced());
  EXPECT_NE(unreadable->description().find("cannot read"), std::string::npos);
}

TEST_F(CgroupLayoutTest, KillAllUsesCgroupKillOrElseKillsEachListedProcess) {
  UnifiedHierarchy("/", "cpu memory");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();

  // No cgroup.kill (v1, or a kernel before 5.14): each pid of cgroup.procs gets SIGKILL.
  pid_t sleeper = SpawnSleeper();
  ASSERT_GT(sleeper, 0);
  auto dirs = cgroups->Place("job_7-a1", sleeper, {});
  ASSERT_TRUE(dirs.has_value());
  CgroupManager::KillAll(*dirs);
  EXPECT_EQ(Reap(sleeper), SIGKILL);

  // With cgroup.kill, writing 1 there is all it takes.
  auto more = cgroups->Place("job_8-a1", 1, {});
  ASSERT_TRUE(more.has_value());
  Write(fs::path(more->front()) / "cgroup.kill", "");
  CgroupManager::KillAll(*more);
  EXPECT_EQ(Read(fs::path(more->front()) / "cgroup.kill"), "1");
}

TEST_F(CgroupLayoutTest, KillAllAndRemoveLeaveOtherDirectoriesAlone) {
  UnifiedHierarchy("/agent", "cpu memory");
  fs::path agent = root_ / "unified" / "agent";
  Write(agent / "cgroup.procs", std::to_string(::getpid()));
  fs::create_directories(agent / "hangar-agent");
  std::vector<std::string> not_runs = {agent.string(), (agent / "hangar-agent").string(),
                                       "relative/hangar-x"};
  CgroupManager::KillAll(not_runs);  // would kill this test if it touched `agent`
  EXPECT_TRUE(CgroupManager::Remove(not_runs).has_value());
  EXPECT_TRUE(fs::exists(agent));
  EXPECT_TRUE(fs::exists(agent / "hangar-agent"));
}

TEST_F(CgroupLayoutTest, MountPointsWithEscapedSpacesAreFound) {
  fs::path point = root_ / "cgroup v2";
  mountinfo_ =
      "30 25 0:26 / " + (root_ / "cgroup\\040v2").string() + " rw shared:4 - cgroup2 cgroup2 rw\n";
  self_ = "0::/\n";
  Write(point / "cgroup.controllers", "cpu memory\n");
  auto cgroups = Create();
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  EXPECT_EQ(cgroups->DirsFor("r"), std::vector<std::string>{(point / "hangar-r").string()});
}

// The real cgroup file system: runs only where this process may create cgroups (root, a
// writable mount, the memory controller).
TEST(CgroupRealTest, AChildLandsInItsCgroupWithItsMemoryLimit) {
  auto cgroups = CgroupManager::Create({.move_agent_to_leaf = false});
  if (!cgroups->enforced()) {
    GTEST_SKIP() << "cgroups are not writable here: " << cgroups->description();
  }
  std::string run =
      "test-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}() % 100000);
  pid_t child = SpawnSleeper();
  ASSERT_GT(child, 0);
  auto dirs = cgroups->Place(run, child, {.cpu_milli = 500, .memory_mib = 64});
  if (!dirs) {
    ::kill(child, SIGKILL);
    Reap(child);
    FAIL() << dirs.error().ToString() << " (" << cgroups->description() << ")";
  }
  // Every hierarchy the run's cgroup spans lists the child there.
  std::string membership = Read("/proc/" + std::to_string(child) + "/cgroup");
  for (const auto& dir : *dirs) {
    EXPECT_EQ(Read(fs::path(dir) / "cgroup.procs"), std::to_string(child) + "\n") << dir;
  }
  EXPECT_NE(membership.find("/hangar-" + run + "\n"), std::string::npos) << membership;
  bool memory_checked = false;
  for (const auto& dir : *dirs) {
    for (const char* file : {"memory.max", "memory.limit_in_bytes"}) {
      if (fs::exists(fs::path(dir) / file)) {
        EXPECT_EQ(Read(fs::path(dir) / file), "67108864\n") << dir << "/" << file;
        memory_checked = true;
      }
    }
  }
  EXPECT_TRUE(memory_checked) << cgroups->description();

  CgroupManager::KillAll(*dirs);
  EXPECT_EQ(Reap(child), SIGKILL);
  // The kernel may take a moment to let go of the cgroup after its last process was reaped.
  Status removed = CgroupManager::Remove(*dirs);
  for (int i = 0; i < 200 && !removed; ++i) {
    std::this_thread::sleep_for(10ms);
    removed = CgroupManager::Remove(*dirs);
  }
  EXPECT_TRUE(removed.has_value()) << removed.error().ToString();
  for (const auto& dir : *dirs) EXPECT_FALSE(fs::exists(dir)) << dir;
}

}  // namespace
}  // namespace hangar::agent
