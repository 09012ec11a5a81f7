#include "workloads/job_spec.h"

#include <charconv>

#include "common/ids.h"
#include "common/json_codec.h"

namespace hangar::workloads {

namespace {

constexpr size_t kMaxCommandArgs = 4096;
constexpr size_t kMaxCommandBytes = 128 * 1024;
constexpr size_t kMaxEnvironment = 256;
constexpr size_t kMaxDependencies = 64;
constexpr int64_t kMaxTimeLimitSeconds = 365LL * 24 * 3600;
constexpr int64_t kMaxGraceSeconds = 3600;

bool HasControl(std::string_view s, bool allow_tab_newline) {
  for (unsigned char c : s) {
    if (c == 0 || c == 0x7f) return true;
    if (c < 0x20 && !(allow_tab_newline && (c == '\t' || c == '\n' || c == '\r'))) return true;
  }
  return false;
}

bool IsEnvName(std::string_view s) {
  if (s.empty() || s.size() > 256 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

void CheckRange(Error& e, const std::optional<int64_t>& v, const char* pointer, int64_t lo,
                int64_t hi) {
  if (v && (*v < lo || *v > hi)) {
    e.AddField(pointer, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
}

}  // namespace

int32_t PriorityValue(api::PriorityClass priority_class) {
  switch (priority_class) {
    case api::PriorityClass::low:
      return 100;
    case api::PriorityClass::normal:
      return 200;
    case api::PriorityClass::high:
      return 300;
  }
  return 200;
}

std::optional<int32_t> ParseCudaVersion(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= text.size()) return std::nullopt;
  int major = 0, minor = 0;
  auto a = std::from_chars(text.data(), text.data() + dot, major);
  auto b = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
  if (a.ec != std::errc() || a.ptr != text.data() + dot || b.ec != std::errc() ||
      b.ptr != text.data() + text.size() || major < 1 || major > 99 || minor < 0 || minor > 99) {
    return std::nullopt;
  }
  return major * 1000 + minor * 10;
}

Result<api::SubmitJobRequest> NormalizeJobRequest(api::SubmitJobRequest r, Timestamp now) {
  Error e = Error::Invalid("the job is not valid");
  if (r.project.empty()) e.AddField("/project", "must name a project (its id or name)");

  if (r.command.empty()) {
    e.AddField("/command", "must have at least the program to run");
  } else if (r.command.size() > kMaxCommandArgs) {
    e.AddField("/command", "must have at most " + std::to_string(kMaxCommandArgs) + " arguments");
  } else {
    size_t bytes = 0;
    for (size_t i = 0; i < r.command.size(); ++i) {
      bytes += r.command[i].size();
      if (r.command[i].find('\0') != std::string::npos) {
        e.AddField("/command/" + std::to_string(i), "must not contain NUL characters");
      }
    }
    if (r.command[0].empty()) e.AddField("/command/0", "must name the program to run");
    if (bytes > kMaxCommandBytes) e.AddField("/command", "must be at most 128 KiB in all");
  }
  if (r.name) {
    if (r.name->empty() || r.name->size() > 128 || HasControl(*r.name, false)) {
      e.AddField("/name", "must be 1..128 printable characters");
    }
  } else if (!r.command.empty() && !r.command[0].empty()) {
    std::string_view program = r.command[0];
    if (auto slash = program.rfind('/'); slash != std::string_view::npos) {
      program.remove_prefix(slash + 1);
    }
    r.name = std::string(program.substr(0, 128));
  }
  if (r.environment) {
    if (r.environment->size() > kMaxEnvironment) {
      e.AddField("/environment", "must have at most 256 variables");
    }
    for (const auto& [k, v] : *r.environment) {
      std::string pointer = "/environment/" + json::EscapePointerToken(k);
      if (!IsEnvName(k)) {
        e.AddField(pointer, "names are letters, digits and _, not starting with a digit");
      } else if (k.starts_with("HANGAR_") || k == "CUDA_VISIBLE_DEVICES" ||
                 k == "NVIDIA_VISIBLE_DEVICES") {
        e.AddField(pointer, "is set by Hangar for every job");
      } else if (v.size() > 32 * 1024 || v.find('\0') != std::string::npos) {
        e.AddField(pointer, "values are at most 32 KiB without NUL characters");
      }
    }
  } else {
    r.environment.emplace();
  }
  if (r.working_dir && (r.working_dir->size() > 4096 || HasControl(*r.working_dir, false))) {
    e.AddField("/working_dir", "must be a path of at most 4096 printable characters");
  }

  api::JobResources res = r.resources.value_or(api::JobResources{});
  CheckRange(e, res.gpus, "/resources/gpus", 0, kMaxGpusPerJob);
  CheckRange(e, res.gpu_milli, "/resources/gpu_milli", 1, 1000);
  CheckRange(e, res.min_gpu_memory_mib, "/resources/min_gpu_memory_mib", 0, 16 * 1024 * 1024);
  CheckRange(e, res.cpu_milli, "/resources/cpu_milli", 0, 1024 * 1000);
  CheckRange(e, res.memory_mib, "/resources/memory_mib", 0, 64 * 1024 * 1024);
  if (!res.gpus) res.gpus = 1;
  if (res.gpu_milli && *res.gpu_milli < 1000 && *res.gpus != 1) {
    e.AddField("/resources/gpu_milli", "a share of a GPU needs gpus = 1");
  }
  if (*res.gpus == 0 && (res.gpu_type || res.gpu_milli || res.min_gpu_memory_mib)) {
    e.AddField("/resources/gpus", "is 0 (a CPU-only job) but GPU properties are set");
  }
  if (!res.gpu_milli) res.gpu_milli = 1000;
  if (res.gpu_type && (res.gpu_type->empty() || res.gpu_type->size() > 64)) {
    e.AddField("/resources/gpu_type", "must be a catalogue name such as H100-80GB");
  }
  if (res.min_cuda_version && !ParseCudaVersion(*res.min_cuda_version)) {
    e.AddField("/resources/min_cuda_version", "must look like 12.2");
  }
  if (!res.cpu_milli) res.cpu_milli = 0;
  if (!res.memory_mib) res.memory_mib = 0;
  if (!res.min_gpu_memory_mib) res.min_gpu_memory_mib = 0;
  r.resources = res;

  if (r.node_selector) {
    for (const auto& [k, v] : *r.node_selector) {
      if (k.empty() || k.size() > 128 || v.size() > 256 || HasControl(k, false) ||
          HasControl(v, false)) {
        e.AddField("/node_selector/" + json::EscapePointerToken(k),
                   "label keys are 1..128 and values at most 256 printable characters");
      }
    }
  } else {
    r.node_selector.emplace();
  }
  if (r.tolerations) {
    if (r.tolerations->size() > 16) e.AddField("/tolerations", "at most 16 tolerations");
    for (size_t i = 0; i < r.tolerations->size() && i < 16; ++i) {
      const auto& t = (*r.tolerations)[i];
      if (t.key.empty() || t.key.size() > 128 || HasControl(t.key, false) ||
          (t.value && (t.value->size() > 256 || HasControl(*t.value, false)))) {
        e.AddField("/tolerations/" + std::to_string(i),
                   "keys are 1..128 and values at most 256 printable characters");
      }
    }
  }
  if (!r.priority_class) r.priority_class = api::PriorityClass::normal;
  CheckRange(e, r.time_limit_seconds, "/time_limit_seconds", 1, kMaxTimeLimitSeconds);
  if (r.deadline) {
    auto t = ParseRfc3339(*r.deadline);
    if (!t) {
      e.AddField("/deadline", "must be an RFC 3339 time such as 2026-12-01T09:00:00Z");
    } else {
      r.deadline = FormatRfc3339(*t);
    }
  }
  if (r.start_after) {
    auto t = ParseRfc3339(*r.start_after);
    if (!t) {
      e.AddField("/start_after", "must be an RFC 3339 time such as 2026-12-01T09:00:00Z");
    } else if (*t > now + std::chrono::hours(24 * 366)) {
      e.AddField("/start_after", "must be within a year");
    } else {
      r.start_after = FormatRfc3339(*t);
    }
  }
  if (!r.preemption) r.preemption = api::PreemptionPolicy::requeue;
  CheckRange(e, r.checkpoint_grace_seconds, "/checkpoint_grace_seconds", 0, kMaxGraceSeconds);
  if (!r.checkpoint_grace_seconds) {
    r.checkpoint_grace_seconds = *r.preemption == api::PreemptionPolicy::checkpoint ? 60 : 10;
  }
  CheckRange(e, r.retries, "/retries", 0, kMaxRetries);
  if (!r.retries) r.retries = 0;
  if (!r.on_node_loss) r.on_node_loss = api::NodeLossPolicy::requeue;
  if (r.dependencies) {
    if (r.dependencies->size() > kMaxDependencies) {
      e.AddField("/dependencies", "must have at most 64 entries");
    }
    for (size_t i = 0; i < r.dependencies->size(); ++i) {
      auto& d = (*r.dependencies)[i];
      if (!JobId::Parse(d.job)) {
        e.AddField("/dependencies/" + std::to_string(i) + "/job", "must be a job id (job_…)");
      }
      if (!d.condition) d.condition = api::DependencyCondition::after_ok;
    }
  } else {
    r.dependencies.emplace();
  }
  if (!r.hold) r.hold = false;
  CheckRange(e, r.array_size, "/array_size", 1, kMaxArraySize);
  if (r.reservation && !ReservationId::Parse(*r.reservation)) {
    e.AddField("/reservation", "must be a reservation id (rsv_…)");
  }
  if (!r.array_size) r.array_size = 1;

  if (!e.violations().empty()) return std::unexpected(std::move(e));
  return r;
}

}  // namespace hangar::workloads
