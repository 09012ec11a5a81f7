#include "agent/executor.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

namespace hangar::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using State = ProcessStatus::State;

// Fields of /proc/<pid>/stat the tests look at.
struct Stat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
};

std::optional<Stat> ReadStat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 2));
  Stat st;
  if (!(fields >> st.state >> st.ppid >> st.pgrp)) return std::nullopt;
  return st;
}

bool IsLive(int pid) {
  auto st = ReadStat(pid);
  return st && st->state != 'Z' && st->state != 'X';
}

// Live (not zombie) processes in process group `pgid`.
std::vector<int> LiveMembers(int pgid) {
  std::vector<int> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    int pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
    if (auto st = ReadStat(pid); st && st->pgrp == pgid && st->state != 'Z' && st->state != 'X') {
      out.push_back(pid);
    }
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::map<std::string, std::string> ParseEnv(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-executor-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = fs::path(tmpl) / "workloads";
    executor_ = std::make_unique<Executor>(root_, clock_);
  }
  void TearDown() override {
    for (int pgid : pgids_) ::kill(-pgid, SIGKILL);
    executor_.reset();
    fs::remove_all(root_.parent_path());
  }

  static LaunchSpec Spec(std::string id, std::vector<std::string> argv) {
    return LaunchSpec{.workload_id = std::move(id), .argv = std::move(argv)};
  }
  static LaunchSpec Shell(std::string id, std::string script) {
    return Spec(std::move(id), {"sh", "-c", std::move(script)});
  }

  int Start(const LaunchSpec& spec, Executor* executor = nullptr) {
    auto pid = (executor ? executor : executor_.get())->Start(spec);
    EXPECT_TRUE(pid.has_value()) << pid.error().ToString();
    if (!pid) return 0;
    EXPECT_GT(*pid, 0);
    pgids_.push_back(*pid);
    return *pid;
  }

  static std::optional<ProcessStatus> StatusOf(Executor& executor, const std::string& id) {
    for (auto& [name, status] : executor.Poll()) {
      if (name == id) return status;
    }
    return std::nullopt;
  }

  // Polls until the workload has ended (up to 10 s).
  ProcessStatus WaitForEnd(const std::string& id, Executor* executor = nullptr) {
    Executor& ex = executor ? *executor : *executor_;
    ProcessStatus last;
    bool ended = WaitUntil([&] {
      auto status = StatusOf(ex, id);
      if (status) last = *status;
      return status && (status->state == State::kExited || status->state == State::kLost);
    });
    EXPECT_TRUE(ended) << id << " still " << StateName(last.state);
    return last;
  }

  std::string Log(const std::string& id, std::string_view stream, Executor* executor = nullptr) {
    auto text = (executor ? executor : executor_.get())->ReadLog(id, stream, 0, 1 << 20);
    EXPECT_TRUE(text.has_value()) << text.error().ToString();
    return text.value_or("");
  }

  // The shim is the workload's parent. 0 when unknown: never pass that to kill().
  static int ShimOf(int pid) {
    auto st = ReadStat(pid);
    return st && st->ppid > 1 ? st->ppid : 0;
  }

  FakeClock clock_{FromUnixMicros(1'700'000'000'000'000)};
  fs::path root_;
  std::unique_ptr<Executor> executor_;
  std::vector<int> pgids_;  // killed at the end, whatever a test left running
};

TEST_F(ExecutorTest, ReportsExitCode) {
  int pid = Start(Shell("job_exit3", "exit 3"));
  ProcessStatus status = WaitForEnd("job_exit3");
  EXPECT_EQ(status.state, State::kExited);
  EXPECT_EQ(status.pid, pid);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_FALSE(status.signal.has_value());
  EXPECT_EQ(status.started_at, clock_.Now());
  EXPECT_EQ(status.ended_at, clock_.Now());
  EXPECT_TRUE(fs::exists(root_ / "job_exit3" / "exit_status"));
  EXPECT_TRUE(fs::exists(root_ / "job_exit3" / "process.json"));
}

TEST_F(ExecutorTest, KnowsAWorkloadFromItsStartUntilItIsForgotten) {
  EXPECT_FALSE(executor_->Knows("job_known"));
  Start(Shell("job_known", "exit 0"));
  EXPECT_TRUE(executor_->Knows("job_known"));
  WaitForEnd("job_known");
  EXPECT_TRUE(executor_->Knows("job_known"));  // ended, not yet forgotten
  ASSERT_TRUE(executor_->Forget("job_known").has_value());
  EXPECT_FALSE(executor_->Knows("job_known"));
}

TEST_F(ExecutorTest, CapturesStdoutAndStderrSeparately) {
  Start(Shell("job_logs", "echo out; echo err >&2; read line && echo stdin-not-empty"));
  EXPECT_EQ(WaitForEnd("job_logs").exit_code, 1);  // stdin is /dev/null: `read` fails
  EXPECT_EQ(Log("job_logs", "stdout"), "out\n");
  EXPECT_EQ(Log("job_logs", "stderr"), "err\n");
  EXPECT_EQ(*executor_->ReadLog("job_logs", "stdout", 1, 2), "ut");
  EXPECT_EQ(*executor_->ReadLog("job_logs", "stdout", 4, 100), "");
  EXPECT_EQ(*executor_->ReadLog("job_logs", "stdout", 400, 100), "");
  EXPECT_EQ(executor_->ReadLog("job_logs", "stdin", 0, 10).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(executor_->ReadLog("job_logs", "stdout", -1, 10).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(executor_->ReadLog("job_nope", "stdout", 0, 10).error().code(), ErrorCode::kNotFound);
}

TEST_F(ExecutorTest, SetsGpuAndCustomEnvironment) {
  ::setenv("HANGAR_EXECUTOR_TEST_AGENT_ONLY", "1", 1);
  LaunchSpec spec = Spec("job_env", {"env"});
  spec.gpu_indexes = {1, 3};
  spec.env = {{"FOO", "bar baz"}, {"CUDA_VISIBLE_DEVICES", "0"}, {"HANGAR_JOB_ID", "user"}};
  spec.labels = {{"HANGAR_JOB_ID", "job_env"}};
  Start(spec);
  EXPECT_EQ(WaitForEnd("job_env").exit_code, 0);
  auto env = ParseEnv(Log("job_env", "stdout"));
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "1,3");  // the agent's choice wins over the spec's env
  EXPECT_EQ(env["NVIDIA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(env["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");
  EXPECT_EQ(env["FOO"], "bar baz");
  EXPECT_EQ(env["HANGAR_JOB_ID"], "job_env");
  EXPECT_FALSE(env["PATH"].empty());
  EXPECT_FALSE(env.contains("HANGAR_EXECUTOR_TEST_AGENT_ONLY"));  // only the base is inherited
}

TEST_F(ExecutorTest, NoGpusHidesEveryDevice) {
  Start(Spec("job_nogpu", {"env"}));
  WaitForEnd("job_nogpu");
  auto env = ParseEnv(Log("job_nogpu", "stdout"));
  ASSERT_TRUE(env.contains("CUDA_VISIBLE_DEVICES"));
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "");
  EXPECT_EQ(env["NVIDIA_VISIBLE_DEVICES"], "void");
}

TEST_F(ExecutorTest, WorkingDirectoryDefaultRelativeAndAbsolute) {
  Start(Shell("job_wd", "pwd"));
  WaitForEnd("job_wd");
  EXPECT_EQ(Log("job_wd", "stdout"), fs::canonical(root_ / "job_wd" / "work").string() + "\n");

  LaunchSpec relative = Shell("job_wd_rel", "pwd");
  relative.working_dir = "sub/dir";
  Start(relative);
  WaitForEnd("job_wd_rel");
  EXPECT_EQ(Log("job_wd_rel", "stdout"),
            fs::canonical(root_ / "job_wd_rel" / "sub" / "dir").string() + "\n");

  LaunchSpec absolute = Shell("job_wd_abs", "pwd");
  absolute.working_dir = fs::canonical(root_).string();
  Start(absolute);
  WaitForEnd("job_wd_abs");
  EXPECT_EQ(Log("job_wd_abs", "stdout"), absolute.working_dir + "\n");

  LaunchSpec missing = Shell("job_wd_missing", "pwd");
  missing.working_dir = (root_ / "does-not-exist").string();
  EXPECT_EQ(executor_->Start(missing).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(root_ / "job_wd_missing"));
}

TEST_F(ExecutorTest, CommandNotFoundExits127) {
  Start(Spec("job_missing", {"hangar-no-such-command"}));
  ProcessStatus status = WaitForEnd("job_missing");
  EXPECT_EQ(status.state, State::kExited);
  EXPECT_EQ(status.exit_code, 127);
  EXPECT_EQ(Log("job_missing", "stderr"), "hangar: hangar-no-such-command: command not found\n");

  Start(Spec("job_missing_path", {"/no/such/program"}));
  EXPECT_EQ(WaitForEnd("job_missing_path").exit_code, 127);
  EXPECT_NE(Log("job_missing_path", "stderr").find("cannot execute /no/such/program"),
            std::string::npos);

  Start(Spec("job_not_executable", {root_.string()}));  // a directory
  EXPECT_EQ(WaitForEnd("job_not_executable").exit_code, 126);
}

TEST_F(ExecutorTest, StopWithSigtermThatTheProcessHonours) {
  int pid = Start(Spec("job_term", {"sleep", "30"}));
  EXPECT_EQ(StatusOf(*executor_, "job_term")->state, State::kRunning);
  ASSERT_TRUE(executor_->Stop("job_term", 30s).has_value());
  EXPECT_EQ(StatusOf(*executor_, "job_term")->state == State::kStopping ||
                StatusOf(*executor_, "job_term")->state == State::kExited,
            true);
  ProcessStatus status = WaitForEnd("job_term");
  EXPECT_EQ(status.state, State::kExited);
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_FALSE(status.exit_code.has_value());
  EXPECT_FALSE(IsLive(pid));
  // Stopping what has ended sends nothing and succeeds; an unknown id does not.
  EXPECT_TRUE(executor_->Stop("job_term", 1s).has_value());
  EXPECT_EQ(executor_->Stop("job_unknown", 1s).error().code(), ErrorCode::kNotFound);
}

TEST_F(ExecutorTest, StopEscalatesToSigkillAfterTheGracePeriod) {
  Start(Shell("job_stubborn", "trap '' TERM; echo ready; sleep 30"));
  ASSERT_TRUE(WaitUntil([&] { return Log("job_stubborn", "stdout") == "ready\n"; }));
  ASSERT_TRUE(executor_->Stop("job_stubborn", 5s).has_value());
  // The SIGTERM is ignored, and the fake clock has not reached the deadline.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(StatusOf(*executor_, "job_stubborn")->state, State::kStopping);
    std::this_thread::sleep_for(10ms);
  }
  clock_.Advance(5s);
  ProcessStatus status = WaitForEnd("job_stubborn");
  EXPECT_EQ(status.state, State::kExited);
  EXPECT_EQ(status.signal, SIGKILL);
}

TEST_F(ExecutorTest, StopWithoutGraceKillsAtOnce) {
  Start(Shell("job_now", "trap '' TERM; echo ready; sleep 30"));
  ASSERT_TRUE(WaitUntil([&] { return Log("job_now", "stdout") == "ready\n"; }));
  ASSERT_TRUE(executor_->Stop("job_now", 0ms).has_value());
  EXPECT_EQ(WaitForEnd("job_now").signal, SIGKILL);
}

TEST_F(ExecutorTest, StopKillsTheWholeProcessGroup) {
  int pid = Start(Shell("job_tree", "sleep 1000 & echo $! > bg.pid; wait"));
  fs::path pid_file = root_ / "job_tree" / "work" / "bg.pid";
  int background = 0;
  ASSERT_TRUE(WaitUntil([&] {
    std::ifstream in(pid_file);
    return static_cast<bool>(in >> background);
  }));
  ASSERT_TRUE(ReadStat(background).has_value());
  EXPECT_EQ(ReadStat(background)->pgrp, pid);
  ASSERT_TRUE(ReadStat(ShimOf(pid)).has_value());
  EXPECT_NE(ReadStat(ShimOf(pid))->pgrp, pid);  // the shim is outside the group
  ASSERT_TRUE(executor_->Stop("job_tree", 30s).has_value());
  EXPECT_EQ(WaitForEnd("job_tree").signal, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return LiveMembers(pid).empty(); }));
  EXPECT_FALSE(IsLive(background));
}

TEST_F(ExecutorTest, LeftoverProcessesDieWithTheWorkload) {
  int pid = Start(Shell("job_leftover", "sleep 1000 & echo $! > bg.pid; exit 0"));
  EXPECT_EQ(WaitForEnd("job_leftover").exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return LiveMembers(pid).empty(); }));
}

TEST_F(ExecutorTest, StartTwiceIsIdempotent) {
  LaunchSpec spec = Shell("job_once", "echo ran; sleep 30");
  int pid = Start(spec);
  ASSERT_TRUE(WaitUntil([&] { return Log("job_once", "stdout") == "ran\n"; }));
  auto again = executor_->Start(spec);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, pid);
  EXPECT_EQ(executor_->Poll().size(), 1u);
  ASSERT_TRUE(executor_->Stop("job_once", 30s).has_value());
  WaitForEnd("job_once");
  // Finished: still not started again.
  EXPECT_EQ(*executor_->Start(spec), pid);
  EXPECT_EQ(StatusOf(*executor_, "job_once")->state, State::kExited);
  EXPECT_EQ(Log("job_once", "stdout"), "ran\n");
}

TEST_F(ExecutorTest, RecoverFindsTheExitStatusOfAFinishedWorkload) {
  LaunchSpec spec = Shell("job_done", "echo ran; exit 7");
  spec.gpu_indexes = {4};
  int pid = Start(spec);
  executor_.reset();  // the agent goes away before seeing the end
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(root_ / "job_done" / "exit_status"); }));

  Executor recovered(root_, clock_);
  ASSERT_TRUE(recovered.Recover().has_value());
  auto status = StatusOf(recovered, "job_done");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, State::kExited);
  EXPECT_EQ(status->exit_code, 7);
  EXPECT_EQ(status->pid, pid);
  EXPECT_EQ(status->started_at, clock_.Now());
  EXPECT_TRUE(status->ended_at.has_value());
  EXPECT_TRUE(recovered.BusyGpus().empty());
  // A repeated assignment does not run it again.
  EXPECT_EQ(*recovered.Start(spec), pid);
  EXPECT_EQ(Log("job_done", "stdout", &recovered), "ran\n");
  EXPECT_TRUE(recovered.Recover().has_value());  // a second call is harmless
  EXPECT_EQ(recovered.Poll().size(), 1u);
}

TEST_F(ExecutorTest, StartAdoptsAWorkloadLeftOnDiskWithoutRecover) {
  LaunchSpec spec = Shell("job_adopt", "echo ran; exit 0");
  int pid = Start(spec);
  executor_.reset();
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(root_ / "job_adopt" / "exit_status"); }));
  Executor other(root_, clock_);
  EXPECT_EQ(*other.Start(spec), pid);
  EXPECT_EQ(StatusOf(other, "job_adopt")->exit_code, 0);
  EXPECT_EQ(Log("job_adopt", "stdout", &other), "ran\n");
}

TEST_F(ExecutorTest, RecoverAdoptsARunningWorkloadThatStopStillEnds) {
  LaunchSpec spec = Spec("job_live", {"sleep", "30"});
  spec.gpu_indexes = {2, 5};
  int pid = Start(spec);
  executor_.reset();

  Executor recovered(root_, clock_);
  ASSERT_TRUE(recovered.Recover().has_value());
  auto status = StatusOf(recovered, "job_live");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, State::kRunning);
  EXPECT_EQ(status->pid, pid);
  EXPECT_EQ(recovered.BusyGpus(), (std::set<int>{2, 5}));
  EXPECT_EQ(*recovered.Start(spec), pid);

  ASSERT_TRUE(recovered.Stop("job_live", 30s).has_value());
  ProcessStatus ended = WaitForEnd("job_live", &recovered);
  EXPECT_EQ(ended.state, State::kExited);
  EXPECT_EQ(ended.signal, SIGTERM);
  EXPECT_TRUE(recovered.BusyGpus().empty());
}

TEST_F(ExecutorTest, RecoverKeepsEscalatingAStopThatWasUnderWay) {
  Start(Shell("job_stop_restart", "trap '' TERM; echo ready; sleep 30"));
  ASSERT_TRUE(WaitUntil([&] { return Log("job_stop_restart", "stdout") == "ready\n"; }));
  ASSERT_TRUE(executor_->Stop("job_stop_restart", 5s).has_value());
  executor_.reset();

  Executor recovered(root_, clock_);
  ASSERT_TRUE(recovered.Recover().has_value());
  EXPECT_EQ(StatusOf(recovered, "job_stop_restart")->state, State::kStopping);
  clock_.Advance(5s);
  EXPECT_EQ(WaitForEnd("job_stop_restart", &recovered).signal, SIGKILL);
}

TEST_F(ExecutorTest, RecoverReportsLostWhenTheShimDiedWithoutAStatus) {
  int pid = Start(Spec("job_lost", {"sleep", "30"}));
  int shim = ShimOf(pid);
  ASSERT_GT(shim, 1);
  executor_.reset();
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  ASSERT_EQ(::kill(-pid, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !IsLive(pid) && !IsLive(shim); }));

  Executor recovered(root_, clock_);
  ASSERT_TRUE(recovered.Recover().has_value());
  auto status = StatusOf(recovered, "job_lost");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, State::kLost);
  EXPECT_EQ(status->pid, pid);
  EXPECT_FALSE(status->exit_code.has_value());
  EXPECT_FALSE(status->signal.has_value());
  EXPECT_NE(status->message.find("no exit status"), std::string::npos) << status->message;
  EXPECT_EQ(*recovered.Start(Spec("job_lost", {"sleep", "30"})), pid);  // not started again
  EXPECT_EQ(StatusOf(recovered, "job_lost")->state, State::kLost);
}

TEST_F(ExecutorTest, WorkloadOutlivingItsShimIsWatchedUntilItEnds) {
  int pid = Start(Shell("job_orphan", "echo ready; exec sleep 30"));
  // Past the gate and running: a shim killed earlier takes the workload's start with it.
  ASSERT_TRUE(WaitUntil([&] { return Log("job_orphan", "stdout") == "ready\n"; }));
  int shim = ShimOf(pid);
  ASSERT_GT(shim, 1);
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  // Still running, unsupervised: reported as running, and Stop still reaches it.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(StatusOf(*executor_, "job_orphan")->state, State::kRunning);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(executor_->Stop("job_orphan", 30s).has_value());
  ProcessStatus status = WaitForEnd("job_orphan");
  EXPECT_EQ(status.state, State::kLost);
  EXPECT_NE(status.message.find("shim"), std::string::npos) << status.message;
  EXPECT_FALSE(IsLive(pid));
}

TEST_F(ExecutorTest, RecoverDiscardsAStartThatDidNotFinish) {
  fs::create_directories(root_ / "job_half" / "work");
  std::ofstream(root_ / "job_half" / "stdout.log") << "stale";
  fs::create_directories(root_ / "not a workload");
  ASSERT_TRUE(executor_->Recover().has_value());
  EXPECT_TRUE(executor_->Poll().empty());
  EXPECT_FALSE(fs::exists(root_ / "job_half"));
  EXPECT_TRUE(fs::exists(root_ / "not a workload"));  // not ours to remove

  Start(Shell("job_half", "echo fresh"));
  EXPECT_EQ(WaitForEnd("job_half").exit_code, 0);
  EXPECT_EQ(Log("job_half", "stdout"), "fresh\n");
}

TEST_F(ExecutorTest, ForgetRemovesTheDirectory) {
  Start(Spec("job_forget", {"sleep", "30"}));
  EXPECT_EQ(executor_->Forget("job_forget").error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(executor_->Stop("job_forget", 30s).has_value());
  EXPECT_EQ(executor_->Forget("job_forget").error().code(), ErrorCode::kConflict);
  WaitForEnd("job_forget");
  ASSERT_TRUE(executor_->Forget("job_forget").has_value());
  EXPECT_FALSE(fs::exists(root_ / "job_forget"));
  EXPECT_TRUE(executor_->Poll().empty());
  EXPECT_EQ(executor_->ReadLog("job_forget", "stdout", 0, 10).error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(executor_->Forget("job_forget").has_value());  // repeated acknowledgement
}

TEST_F(ExecutorTest, RejectsInvalidSpecs) {
  std::vector<std::string> ids = {
      "", "a/b", "..", "job 1", "x.y", "job_\xc3\xa9", std::string(129, 'a')};
  for (const auto& id : ids) {
    auto res = executor_->Start(Spec(id, {"true"}));
    ASSERT_FALSE(res.has_value()) << id;
    EXPECT_EQ(res.error().code(), ErrorCode::kInvalidArgument) << id;
  }
  EXPECT_EQ(executor_->Start(Spec("job_ok", {})).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(executor_->Start(Spec("job_ok", {""})).error().code(), ErrorCode::kInvalidArgument);
  LaunchSpec bad_env = Spec("job_ok", {"true"});
  bad_env.env = {{"A=B", "c"}};
  EXPECT_EQ(executor_->Start(bad_env).error().code(), ErrorCode::kInvalidArgument);
  LaunchSpec bad_gpu = Spec("job_ok", {"true"});
  bad_gpu.gpu_indexes = {-1};
  EXPECT_EQ(executor_->Start(bad_gpu).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(executor_->Poll().empty());
  EXPECT_FALSE(fs::exists(root_ / "job_ok"));
}

TEST_F(ExecutorTest, BusyGpusFollowsRunningWorkloads) {
  EXPECT_TRUE(executor_->BusyGpus().empty());
  LaunchSpec a = Spec("job_gpu_a", {"sleep", "30"});
  a.gpu_indexes = {0, 1};
  LaunchSpec b = Spec("job_gpu_b", {"sleep", "30"});
  b.gpu_indexes = {3};
  Start(a);
  Start(b);
  EXPECT_EQ(executor_->BusyGpus(), (std::set<int>{0, 1, 3}));
  std::set<int> from_another_thread;
  std::thread([&] { from_another_thread = executor_->BusyGpus(); }).join();
  EXPECT_EQ(from_another_thread, (std::set<int>{0, 1, 3}));
  ASSERT_TRUE(executor_->Stop("job_gpu_a", 30s).has_value());
  WaitForEnd("job_gpu_a");
  EXPECT_EQ(executor_->BusyGpus(), (std::set<int>{3}));
  ASSERT_TRUE(executor_->Stop("job_gpu_b", 0ms).has_value());
  WaitForEnd("job_gpu_b");
  EXPECT_TRUE(executor_->BusyGpus().empty());
}

TEST_F(ExecutorTest, PlacementsNameTheProcessGroupsOnGpus) {
  EXPECT_TRUE(executor_->Placements().empty());
  LaunchSpec a = Spec("job_place_a", {"sleep", "30"});
  a.gpu_indexes = {2, 0};
  int pid = Start(a);
  Start(Spec("job_place_cpu", {"sleep", "30"}));  // no GPU: not a placement
  std::vector<GpuPlacement> placed = executor_->Placements();
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].run_id, "job_place_a");
  EXPECT_EQ(placed[0].pgid, pid);
  EXPECT_EQ(placed[0].gpu_indexes, (std::vector<int>{2, 0}));
  ASSERT_TRUE(executor_->Stop("job_place_a", 0ms).has_value());
  WaitForEnd("job_place_a");
  EXPECT_TRUE(executor_->Placements().empty());
}

// A temporary directory stands in for a cgroup v2 hierarchy (cgroups_test.cc tests the real one).
TEST_F(ExecutorTest, RunsAWorkloadInItsOwnCgroupAndRemovesItWhenTheWorkloadEnds) {
  fs::path hierarchy = root_.parent_path() / "cgroup";
  fs::create_directories(hierarchy);
  std::ofstream(hierarchy / "cgroup.controllers") << "cpu memory pids\n";
  std::ofstream(root_.parent_path() / "mountinfo")
      << "30 25 0:26 / " << hierarchy.string() << " rw - cgroup2 cgroup2 rw\n";
  std::ofstream(root_.parent_path() / "self_cgroup") << "0::/\n";
  auto cgroups = CgroupManager::Create({.move_agent_to_leaf = false,
                                        .mountinfo = root_.parent_path() / "mountinfo",
                                        .self_cgroup = root_.parent_path() / "self_cgroup"});
  ASSERT_TRUE(cgroups->enforced()) << cgroups->description();
  auto executor = std::make_unique<Executor>(root_, clock_, cgroups.get());
  auto read = [](const fs::path& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };

  LaunchSpec spec = Spec("job_cg", {"sleep", "30"});
  spec.limits = {.cpu_milli = 2000, .memory_mib = 256};
  int pid = Start(spec, executor.get());
  fs::path dir = hierarchy / "hangar-job_cg";
  EXPECT_EQ(read(dir / "cgroup.procs"), std::to_string(pid));  // moved in before it ran
  EXPECT_EQ(read(dir / "memory.max"), "268435456");
  EXPECT_EQ(read(dir / "cpu.max"), "200000 100000");
  EXPECT_NE(read(root_ / "job_cg" / "process.json").find(dir.string()), std::string::npos);
  // As a v2 kernel would offer; this stand-in's cgroup.procs never forgets a pid, so the tests
  // keep KillAll from signalling it once it may belong to another process.
  std::ofstream(dir / "cgroup.kill") << "";

  // A restarted agent, even one without cgroups, learns the cgroup from process.json: stopping
  // kills the cgroup too, and the cgroup goes once the workload has ended.
  executor.reset();
  Executor restarted(root_, clock_);
  ASSERT_TRUE(restarted.Recover().has_value());
  ASSERT_TRUE(restarted.Stop("job_cg", 0ms).has_value());
  EXPECT_EQ(read(dir / "cgroup.kill"), "1");
  EXPECT_EQ(WaitForEnd("job_cg", &restarted).signal, SIGKILL);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(fs::exists(hierarchy));
  ASSERT_TRUE(restarted.Forget("job_cg").has_value());
}

TEST_F(ExecutorTest, AWorkloadStartsWithoutLimitsWhereCgroupsAreNotEnforced) {
  auto off = CgroupManager::Create({.enabled = false});
  Executor executor(root_, clock_, off.get());
  LaunchSpec spec = Shell("job_nocg", "exit 0");
  spec.limits = {.cpu_milli = 100, .memory_mib = 1};
  Start(spec, &executor);
  EXPECT_EQ(WaitForEnd("job_nocg", &executor).exit_code, 0);
}

}  // namespace
}  // namespace hangar::agent
