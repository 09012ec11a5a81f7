// The job flags `jobs submit` and `schedules create` share (--gpus, --gpu-type, --env,
// --time-limit, …): registered once on a command and turned into the members a job request and
// a schedule's job template have in common, so the two commands cannot drift apart.
//
// Thread-safety: registration and parsing happen on the invocation's thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "api/workload_types.h"
#include "cli/output.h"
#include "common/error.h"
#include "common/json_codec.h"

namespace hangar::cli {

struct JobFlags {
  std::string gpu_type, working_dir, priority, time_limit, preemption, grace;
  int64_t gpus = 1, gpu_milli = 0, retries = 0, array = 1;
  std::vector<std::string> env, selector, tolerations;
  // Set by AddJobFlags: whether a number was given (0 is a valid value for some).
  CLI::Option* gpus_option = nullptr;
  CLI::Option* milli_option = nullptr;
  CLI::Option* retries_option = nullptr;
  CLI::Option* array_option = nullptr;
};

// Registers the shared flags on `cmd`; `whose` words the help ("the job's", "the jobs'").
void AddJobFlags(CLI::App& cmd, JobFlags& f, const std::string& whose);

// "key" or "key=value" flags (--toleration) as tolerations.
inline std::vector<api::Toleration> ParseTolerations(const std::vector<std::string>& flags) {
  std::vector<api::Toleration> out;
  for (const auto& f : flags) {
    auto eq = f.find('=');
    if (eq == std::string::npos) {
      out.push_back({.key = f});
    } else {
      out.push_back({.key = f.substr(0, eq), .value = f.substr(eq + 1)});
    }
  }
  return out;
}

// Fills the members a SubmitJobRequest and a JobTemplate share from the flags given;
// kInvalidArgument naming the flag at fault.
template <typename JobRequest>
Status ApplyJobFlags(const JobFlags& f, JobRequest& req) {
  api::JobResources res;
  if (f.gpus_option->count() > 0) res.gpus = f.gpus;
  if (!f.gpu_type.empty()) res.gpu_type = f.gpu_type;
  if (f.milli_option->count() > 0) res.gpu_milli = f.gpu_milli;
  req.resources = res;
  HANGAR_ASSIGN_OR_RETURN(auto env, ParsePairs(f.env, "--env"));
  if (!env.empty()) req.environment = env;
  HANGAR_ASSIGN_OR_RETURN(auto selector, ParsePairs(f.selector, "--selector"));
  if (!selector.empty()) req.node_selector = selector;
  if (!f.tolerations.empty()) req.tolerations = ParseTolerations(f.tolerations);
  if (!f.working_dir.empty()) req.working_dir = f.working_dir;
  if (!f.priority.empty()) {
    auto p = json::EnumFromName<api::PriorityClass>(f.priority);
    if (!p) return std::unexpected(Error::Invalid("--priority must be low, normal or high"));
    req.priority_class = *p;
  }
  if (!f.preemption.empty()) {
    auto p = json::EnumFromName<api::PreemptionPolicy>(f.preemption);
    if (!p) {
      return std::unexpected(Error::Invalid("--preemption must be never, requeue or checkpoint"));
    }
    req.preemption = *p;
  }
  if (!f.time_limit.empty()) {
    HANGAR_ASSIGN_OR_RETURN(req.time_limit_seconds, ParseDurationSeconds(f.time_limit));
  }
  if (!f.grace.empty()) {
    HANGAR_ASSIGN_OR_RETURN(req.checkpoint_grace_seconds, ParseDurationSeconds(f.grace));
  }
  if (f.retries_option->count() > 0) req.retries = f.retries;
  if (f.array_option->count() > 0) req.array_size = f.array;
  return Ok();
}

}  // namespace hangar::cli
