// The job flags jobs submit and schedules create share (see job_flags.h).
#include "cli/job_flags.h"

namespace hangar::cli {

void AddJobFlags(CLI::App& cmd, JobFlags& f, const std::string& whose) {
  f.gpus_option = cmd.add_option("--gpus", f.gpus, "GPUs on one node (0: CPU only)");
  cmd.add_option("--gpu-type", f.gpu_type, "a catalogue GPU type, e.g. H100-80GB");
  f.milli_option = cmd.add_option("--gpu-milli", f.gpu_milli, "a share of one GPU, 1..1000");
  cmd.add_option("--env", f.env, "KEY=VALUE for " + whose + " environment (repeatable)");
  cmd.add_option("--selector", f.selector, "node label KEY=VALUE needed (repeatable)");
  cmd.add_option("--toleration", f.tolerations,
                 "run on nodes tainted KEY (any value) or KEY=VALUE (repeatable)");
  cmd.add_option("--workdir", f.working_dir, "working directory on the node");
  cmd.add_option("--priority", f.priority, "low, normal or high");
  cmd.add_option("--time-limit", f.time_limit, "stop it after this long: 90s, 30m, 4h, 2d");
  cmd.add_option("--preemption", f.preemption, "never, requeue or checkpoint");
  cmd.add_option("--grace", f.grace, "time between SIGTERM and SIGKILL: 30s, 5m");
  f.retries_option = cmd.add_option("--retries", f.retries, "retry failed attempts, 0..10");
  f.array_option = cmd.add_option("--array", f.array, "N similar jobs (HANGAR_ARRAY_INDEX)");
}

}  // namespace hangar::cli
