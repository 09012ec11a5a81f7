// Executor: runs the workloads the server assigns to this node as real processes, and keeps
// track of them across agent restarts.
//
// Each workload gets a directory `<root>/<workload id>/` and a supervisor process, the shim (as
// conmon and containerd-shim do). The agent forks the shim; the shim calls setsid(), ignores
// SIGTERM/SIGINT/SIGHUP, forks the workload, waits for it and writes its exit status to the
// directory atomically. The shim does not depend on the agent: when the agent exits or crashes,
// workloads keep running and their exit status is still recorded, and a new agent finds both
// with Recover(). The workload is the leader of its own process group (pgid = its pid) inside
// the shim's session, so Stop() signals everything it spawned while the shim, in another group,
// survives to record the status. When the leader exits, the shim SIGKILLs what is left of its
// group: a workload's processes never outlive it.
//
// With a CgroupManager that enforces limits (cgroups.h), the workload also gets a cgroup of its
// own with the spec's CPU and memory limits: the agent moves it in while it waits at the gate
// (below), so everything it starts is inside. Stopping ends with a SIGKILL to the cgroup as well
// as the group (reaching processes that left the group with setsid), and when the workload ends
// what is left in its cgroup is killed and the cgroup removed. Without one, or when the host
// refuses, the workload runs without limits.
//
// A workload's directory:
//   process.json   shim pid, workload pid (= pgid), their /proc start times (to detect pid
//                  reuse), started_at, GPU indexes, cgroup directories. Written durably before
//                  the workload runs.
//   exit_status    {"exit_code":…,"signal":…,"ended_at_us":…}, written by the shim (tmp, fsync,
//                  rename) after the workload ended.
//   stop.json      when Stop() was called: when SIGKILL is due, so a restarted agent escalates.
//   stdout.log, stderr.log   the workload's output (stdin is /dev/null).
//   work/          the default working directory.
//
// The workload only execs once process.json is on disk (the shim holds it at a gate until the
// agent says go), so a crash inside Start() can never leave an unrecorded process: a directory
// without process.json is a start that did not finish, nothing of it ran, and Recover() removes
// it so that the server's repeated assignment starts it afresh.
//
// States (ProcessStatus::State):
//
//            Start()                Stop(): SIGTERM to the group
//   (none) ──────────> kRunning ─────────────────────────────> kStopping ──┐ Poll(): SIGKILL to
//                         │                                        │  ^    │ the group once the
//                         │ Poll(): exit status recorded           │  └────┘ grace has passed
//                         v                                        │
//                      kExited <───────────────────────────────────┘ Poll(): exit status recorded
//                         │
//      kRunning/kStopping ─── Poll()/Recover(): shim and workload gone, no exit status ──> kLost
//                         │
//   kExited/kLost ── Forget() ──> (none; directory removed)
//
// Invariants: kRunning/kStopping: the shim or the workload leader is alive (checked against
// its /proc start time); kStopping: SIGTERM was sent and a SIGKILL deadline is set; kExited:
// exactly one of exit_code and signal is set and ended_at is set; kLost: the exit status is
// unknown and will never be known. No state leads back to kRunning, and no id is ever started
// twice while its directory exists.
//
// Process hygiene: between fork and exec/_exit only async-signal-safe calls are made (every
// string, argv/envp array and path is prepared before forking), because the agent is
// multithreaded. The shim closes every descriptor it inherited from the agent except the few
// it needs and names itself "hangar-shim". The workload starts with default signal dispositions,
// an empty signal mask, stdin on /dev/null and only descriptors 0-2 open.
//
// Thread-safety: every method may be called from any thread; they serialise on one mutex (Start
// holds it across a fork and an fsync, a few milliseconds). BusyGpus() and Placements() never
// wait for the others: they read a snapshot under its own mutex, so the GPU probe may call them
// at any time.
// Nothing else in the process may reap children with waitpid(-1) or set SIGCHLD to SIG_IGN
// (the executor copes, but then learns of ends later, from /proc).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/cgroups.h"
#include "agent/workload_placements.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::agent {

struct LaunchSpec {
  // "job_01…" / "inst_01…": names the workload's directory. [A-Za-z0-9_-], 1..128 characters.
  std::string workload_id;
  // argv[0] is looked up in the workload's PATH when it has no '/'. Non-empty.
  std::vector<std::string> argv;
  // Added on top of a small base environment: PATH, HOME, LANG and USER from the agent's own
  // environment (PATH defaults to /usr/local/bin:/usr/bin:/bin).
  std::map<std::string, std::string> env;
  // Absolute (must be an existing directory), or relative to the workload's directory (created).
  // Empty: <workload dir>/work (created).
  std::string working_dir;
  // Sets CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES to "0,3" and CUDA_DEVICE_ORDER to
  // PCI_BUS_ID, so CUDA's indices match NVML's. Empty: CUDA_VISIBLE_DEVICES="" (no GPU visible)
  // and NVIDIA_VISIBLE_DEVICES=void. These win over `env` and `labels`.
  std::vector<int> gpu_indexes;
  // HANGAR_* variables the agent sets (HANGAR_JOB_ID, …): more environment, winning over `env`.
  std::map<std::string, std::string> labels;
  // CPU and memory limits, enforced through the workload's cgroup when the executor has a
  // CgroupManager that enforces them; otherwise not enforced.
  CgroupLimits limits;
};

struct ProcessStatus {
  enum class State { kRunning, kStopping, kExited, kLost };
  State state = State::kRunning;
  int pid = 0;                   // the workload's process, leader of its process group
  std::optional<int> exit_code;  // kExited by exit() (127: command not found, 126: not runnable)
  std::optional<int> signal;     // kExited by a signal (SIGKILL after the grace period)
  Timestamp started_at;          // the Clock's time at Start()
  // kExited/kLost: the Clock's time when Poll() saw the end; for a workload that ended while no
  // agent was running, the wall-clock time the shim recorded.
  std::optional<Timestamp> ended_at;
  std::string message;  // kLost: why
};

// The name of a state, for logs: "running", "stopping", "exited", "lost".
std::string_view StateName(ProcessStatus::State state);

class Executor final : public WorkloadPlacements {
 public:
  // root: a directory the agent owns (<state dir>/workloads), created (0700) on first use; one
  // subdirectory per workload. `clock` must outlive the executor; it stamps started_at/ended_at
  // and drives the SIGKILL deadlines. `cgroups` (nullable: no cgroups) must outlive it too.
  // Destroying the executor leaves the workloads running.
  Executor(std::filesystem::path root, const Clock& clock, const CgroupManager* cgroups = nullptr);
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Rediscovers the workloads a previous agent process started under root: still running (then
  // Stop and Poll work on them as usual), exited (its exit status was recorded), or lost (no
  // status, nothing running; the message says why). Removes directories of starts that did not
  // finish (nothing of them ran). Never starts anything. Ids already known are skipped, so a
  // second call is harmless. kUnavailable when root cannot be created or listed.
  Status Recover();

  // Starts the workload and returns its pid once process.json is durable. Starting an id that
  // is already known (running or finished, including after Recover, or whose directory is on
  // disk) does nothing and returns Ok with its pid: the server may repeat an assignment.
  // kInvalidArgument for a bad spec (id, empty argv, NUL bytes, env names, negative GPU index,
  // missing absolute working dir); kUnavailable when the directory, files or processes cannot
  // be created. A command that cannot be executed is not an error here: the workload exits with
  // 127 (not found) or 126 and stderr.log says why, as a shell would.
  Result<int> Start(const LaunchSpec& spec);
  // Whether the workload is known (started, recovered, or ended and not yet forgotten).
  bool Knows(std::string_view workload_id);

  // SIGTERM to the workload's whole process group now; SIGKILL to the group once `grace` has
  // passed (sent by Poll; grace <= 0: SIGKILL now). A second Stop signals again and may bring
  // the deadline forward, never back. Unknown id: kNotFound. Already ended: Ok, nothing sent.
  Status Stop(std::string_view workload_id, std::chrono::milliseconds grace);

  // Reaps finished shims, escalates to SIGKILL where the grace period has passed, and returns
  // the status of every known workload, ordered by id. Call it every second or so; a SIGKILL
  // is late by at most one Poll interval.
  std::vector<std::pair<std::string, ProcessStatus>> Poll();

  // Forgets a finished workload (after the server acknowledged its exit): removes its whole
  // directory, logs included. kConflict while it is running or stopping. Unknown id: Ok (the
  // acknowledgement may be repeated). kUnavailable when the directory cannot be removed.
  Status Forget(std::string_view workload_id);

  // Reads up to max_bytes of the workload's "stdout" or "stderr" (stdout.log / stderr.log),
  // from byte `offset`; empty at or past the end. kNotFound for an unknown id, kInvalidArgument
  // for another stream or a negative offset, kUnavailable when the file cannot be read.
  Result<std::string> ReadLog(std::string_view workload_id, std::string_view stream, int64_t offset,
                              size_t max_bytes);

  // GPU indexes used by running and stopping workloads. As of the last Start, Stop, Poll or
  // Recover.
  std::set<int> BusyGpus();
  // Running and stopping workloads that hold GPUs, with their process groups (the simulated
  // GPUs measure them). As of the last Start, Stop, Poll or Recover.
  std::vector<GpuPlacement> Placements() override;

 private:
  struct Workload {
    ProcessStatus status;
    int shim_pid = 0;
    int64_t shim_start_ticks = 0;  // /proc/<pid>/stat field 22
    int64_t start_ticks = 0;       // of the workload leader
    bool shim_is_child = false;    // ours to reap with waitpid
    bool shim_gone = false;        // ended without a status; watching the leader alone
    bool seen_running = false;     // this executor saw it alive (chooses the kLost message)
    std::vector<int> gpu_indexes;
    std::optional<Timestamp> kill_at;  // kStopping: when Poll sends SIGKILL
    bool killed = false;               // SIGKILL sent
    // Its cgroup's directories (cgroups.h); cleared once removed after the workload ended.
    std::vector<std::string> cgroup_dirs;
  };

  std::filesystem::path DirOf(std::string_view id) const;
  Status EnsureRoot();
  // Loads one directory left by an earlier agent into workloads_. Requires mu_.
  Status RecoverOne(const std::string& id);
  Result<int> Launch(const LaunchSpec& spec);
  // Updates a running/stopping workload: reap, read exit_status, escalate. Requires mu_.
  void Refresh(const std::string& id, Workload& w, Timestamp now);
  void SignalGroup(Workload& w, int signal);
  // Once a workload has ended: kills what is left in its cgroup and removes it. A cgroup that
  // cannot be removed yet (a process still dying) is tried again by the next Poll or Forget.
  // Requires mu_.
  void ReleaseCgroup(const std::string& id, Workload& w);
  void PublishBusyGpus();  // requires mu_

  const std::filesystem::path root_;
  const Clock& clock_;
  const CgroupManager* const cgroups_;  // may be null
  std::mutex mu_;
  std::map<std::string, Workload, std::less<>> workloads_;  // guarded by mu_
  std::mutex busy_mu_;
  std::set<int> busy_gpus_;               // guarded by busy_mu_
  std::vector<GpuPlacement> placements_;  // guarded by busy_mu_
};

}  // namespace hangar::agent
