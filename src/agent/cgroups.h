// Cgroups: each run in a cgroup of its own, holding the CPU and memory the server granted it,
// where the host allows.
//
// Layout. The runs' cgroups are children of one parent cgroup P: the one given with
// `--cgroup-parent` (a path in the cgroup hierarchy, created when missing; meant for a cgroup
// delegated to the agent, e.g. a systemd unit with Delegate=yes), else the agent's own cgroup
// (from /proc/self/cgroup). A run's cgroup is P/hangar-<run id>.
//   - cgroup v2 (preferred; the cgroup2 mount found in /proc/self/mountinfo, /sys/fs/cgroup or
//     /sys/fs/cgroup/unified on hybrid hosts): the cpu, memory and pids controllers that P offers
//     are enabled in P/cgroup.subtree_control. v2 allows no processes in a cgroup that hands
//     controllers to its children, so when P is the agent's own cgroup and the kernel refuses
//     (EBUSY), the agent moves itself into the leaf P/hangar-agent and tries again; a restarted
//     agent that finds itself in that leaf uses its parent as P. Limits: memory.max
//     (memory_mib), cpu.max ("<cpu_milli * 100> 100000"). Stopping ends with cgroup.kill.
//   - cgroup v1 (used when v2 offers neither cpu nor memory, as on hybrid hosts whose
//     controllers are all on v1): P/hangar-<run id> in the memory and the cpu hierarchies, each
//     below the agent's own cgroup of that hierarchy. Limits: memory.limit_in_bytes,
//     cpu.cfs_quota_us with cpu.cfs_period_us = 100000. Stopping SIGKILLs the pids listed in
//     cgroup.procs.
//   - neither usable (not root, read-only mount, no controller, `--cgroups off`): runs start
//     without limits; description() says why, and the agent logs it once at startup.
//
// The Executor moves a run's first process in while it still waits at its start gate, before
// it can exec or fork, so every process of the run is inside from the start. The directories
// are recorded in the run's process.json, so a restarted agent kills and removes the cgroups of
// runs started before it, whatever its own settings; KillAll and Remove need nothing else.
//
// Thread-safety: Create once; then const methods and the static functions may be called from
// any thread (the file system serialises the writes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hangar::agent {

// What a run may use; an absent limit (or <= 0) is not enforced.
struct CgroupLimits {
  std::optional<int64_t> cpu_milli;   // thousandths of a core: 1500 = one and a half cores
  std::optional<int64_t> memory_mib;  // resident memory (and page cache) before the OOM killer
};

struct CgroupOptions {
  bool enabled = true;  // false: `--cgroups off`, no run gets a cgroup
  // A path in the cgroup hierarchy ("/hangar", "/system.slice/hangar-agent.service"), created
  // when missing. Empty: the agent's own cgroup.
  std::string parent;
  // v2 with the agent's own cgroup as parent: whether the agent may move itself into the leaf
  // P/hangar-agent when P holds processes (see above). Tests that use the real hierarchy turn it
  // off, so they never move the test process.
  bool move_agent_to_leaf = true;
  // Where the host's layout is read; tests point these at files describing a temporary
  // directory instead of /sys/fs/cgroup.
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
  std::filesystem::path self_cgroup = "/proc/self/cgroup";
};

class CgroupManager {
 public:
  // Finds where this host lets the agent make cgroups. Never fails: when it cannot, the
  // manager is !enforced() and description() says why. May move the agent process itself into
  // a leaf cgroup (see above).
  static std::unique_ptr<CgroupManager> Create(const CgroupOptions& options);

  bool enforced() const { return version_ != 0; }
  // 2 or 1; 0 when not enforced.
  int version() const { return version_; }
  // For logs: "cgroup v2 under /sys/fs/cgroup/x (controllers: cpu memory pids)", or why runs
  // get no limits.
  const std::string& description() const { return description_; }

  // The directories run `run_id`'s cgroup has (one for v2, one per hierarchy for v1); empty
  // when not enforced.
  std::vector<std::string> DirsFor(std::string_view run_id) const;

  // Creates the run's cgroup, writes `limits` and moves process `pid` in. Returns its
  // directories, to be recorded and passed to KillAll and Remove. A limit whose controller is
  // not available is skipped with a warning. kUnavailable when not enforced, or when a
  // directory or file cannot be written (what it created is removed).
  Result<std::vector<std::string>> Place(std::string_view run_id, int pid,
                                         const CgroupLimits& limits) const;

  // SIGKILLs every process in the cgroups: cgroup.kill where the kernel has it, else each pid
  // of cgroup.procs. Directories that do not look like a run's (hangar-*) are left alone.
  static void KillAll(const std::vector<std::string>& dirs);
  // Removes the cgroups (rmdir). Absent ones are fine. kUnavailable while a process is still
  // inside (EBUSY): try again once it has gone.
  static Status Remove(const std::vector<std::string>& dirs);

 private:
  CgroupManager() = default;

  int version_ = 0;
  std::string description_;
  // v2: one parent with the enabled controllers; v1: one parent per hierarchy.
  struct Parent {
    std::filesystem::path dir;
    std::vector<std::string> controllers;  // of those we use: cpu, memory, pids
  };
  std::vector<Parent> parents_;
};

}  // namespace hangar::agent
