// Job lists for the replay: from the trace, from the job CSV, and the rules applied to them. See
// workload.h.
#include "workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "trace.h"

namespace hangar::sim {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::array<std::string_view, 10> kCsvColumns = {
    "id",    "submit_s", "duration_s", "gpus",    "gpu_milli",
    "nodes", "tenant",   "priority",   "limit_s", "deadline_s"};

constexpr int64_t kMaxSeconds = int64_t{1} << 40;  // keeps microsecond arithmetic far from overflow

// "source:line: field <name> (column <n>): why".
class FieldErrors {
 public:
  FieldErrors(std::string_view source, size_t line) : source_(source), line_(line) {}
  Error Line(std::string_view why) const {
    return Error::Malformed(fmt::format("{}:{}: {}", source_, line_, why));
  }
  Error Field(size_t column, std::string_view why) const {
    return Error::Malformed(fmt::format("{}:{}: field {} (column {}): {}", source_, line_,
                                        kCsvColumns[column], column + 1, why));
  }

 private:
  std::string_view source_;
  size_t line_;
};

Result<int64_t> ParseInt(std::string_view field, size_t column, int64_t min, int64_t max,
                         const FieldErrors& fail) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size()) {
    return std::unexpected(fail.Field(column, fmt::format("not an integer: \"{}\"", field)));
  }
  if (value < min || value > max) {
    return std::unexpected(
        fail.Field(column, fmt::format("must be in {}..{}, got {}", min, max, value)));
  }
  return value;
}

Micros Seconds(int64_t s) { return std::chrono::duration_cast<Micros>(seconds(s)); }

}  // namespace

uint32_t Fnv1a(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

Result<JobSet> FromTrace(std::span<const TracePod> pods, const scheduling::ClusterSnapshot& cluster,
                         Micros max_duration) {
  JobSet set;
  constexpr std::array<Qos, 4> kQos = {Qos::kLatencySensitive, Qos::kBestEffort, Qos::kBurstable,
                                       Qos::kGuaranteed};
  for (Qos qos : kQos) {
    for (uint32_t b = 0; b < kTenantBucketsPerQos; ++b) {
      set.tenants.push_back(fmt::format("{}-{}", QosName(qos), b));
    }
  }
  std::optional<int64_t> first_creation;
  for (const TracePod& pod : pods) {
    if (!pod.scheduled_time) {
      ++set.dropped_never_ran;
      continue;
    }
    if (pod.deletion_time == *pod.scheduled_time) {
      ++set.dropped_zero_duration;
      continue;
    }
    if (pod.num_gpu == 0) {
      ++set.dropped_cpu_only;
      continue;
    }
    Job job;
    job.id = pod.name;
    job.submit = Seconds(pod.creation_time);
    job.duration = Seconds(pod.deletion_time - *pod.scheduled_time);
    if (max_duration.count() > 0 && job.duration > max_duration) {
      job.duration = max_duration;
      ++set.capped_durations;
    }
    job.request.gpus_per_node = pod.num_gpu;
    job.request.gpu_milli = pod.num_gpu > 1 ? scheduling::kWholeGpu : pod.gpu_milli;
    job.request.cpu_milli = pod.cpu_milli;
    job.request.memory_mib = pod.memory_mib;
    for (const std::string& model : pod.gpu_spec) {
      auto it = std::find(cluster.gpu_types.begin(), cluster.gpu_types.end(), model);
      if (it == cluster.gpu_types.end()) {
        return std::unexpected(Error::Invalid(fmt::format(
            "pod {} asks for GPU model \"{}\", which the cluster lacks", pod.name, model)));
      }
      job.request.gpu_types.push_back(static_cast<uint16_t>(it - cluster.gpu_types.begin()));
    }
    job.tenant = static_cast<uint32_t>(pod.qos) * kTenantBucketsPerQos +
                 Fnv1a(pod.name) % kTenantBucketsPerQos;
    first_creation = std::min(first_creation.value_or(pod.creation_time), pod.creation_time);
    set.jobs.push_back(std::move(job));
  }
  for (Job& job : set.jobs) job.submit -= Seconds(first_creation.value_or(0));
  SortBySubmit(set);
  return set;
}

Result<JobSet> ParseJobsCsv(std::string_view text, std::string_view source) {
  JobSet set;
  std::unordered_map<std::string, uint32_t> tenant_index;
  std::unordered_set<std::string> ids;
  size_t line_number = 0;
  size_t pos = 0;
  bool header_seen = false;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    FieldErrors fail(source, line_number);
    if (!line.empty() && line.front() == '#') continue;
    if (!header_seen) {
      auto header = SplitFields(line);
      if (header.size() != kCsvColumns.size() ||
          !std::equal(header.begin(), header.end(), kCsvColumns.begin())) {
        return std::unexpected(fail.Line(
            "expected the header "
            "\"id,submit_s,duration_s,gpus,gpu_milli,nodes,tenant,priority,limit_s,deadline_s\""));
      }
      header_seen = true;
      continue;
    }
    if (line.empty()) return std::unexpected(fail.Line("empty line"));
    if (line.find('"') != std::string_view::npos) {
      return std::unexpected(fail.Line("quoted fields are not supported"));
    }
    auto f = SplitFields(line);
    if (f.size() != kCsvColumns.size()) {
      return std::unexpected(
          fail.Line(fmt::format("expected {} fields, got {}", kCsvColumns.size(), f.size())));
    }
    Job job;
    if (f[0].empty()) return std::unexpected(fail.Field(0, "empty"));
    job.id = f[0];
    if (!ids.insert(job.id).second) {
      return std::unexpected(fail.Field(0, fmt::format("duplicate id \"{}\"", job.id)));
    }
    HANGAR_ASSIGN_OR_RETURN(int64_t submit, ParseInt(f[1], 1, 0, kMaxSeconds, fail));
    HANGAR_ASSIGN_OR_RETURN(int64_t duration, ParseInt(f[2], 2, 1, kMaxSeconds, fail));
    HANGAR_ASSIGN_OR_RETURN(int64_t gpus, ParseInt(f[3], 3, 1, 1024, fail));
    HANGAR_ASSIGN_OR_RETURN(int64_t milli, ParseInt(f[4], 4, 1, scheduling::kWholeGpu, fail));
    HANGAR_ASSIGN_OR_RETURN(int64_t nodes, ParseInt(f[5], 5, 1, 100'000, fail));
    if (gpus > 1 && milli != scheduling::kWholeGpu) {
      return std::unexpected(fail.Field(4, "must be 1000 when gpus is above 1"));
    }
    if (f[6].empty()) return std::unexpected(fail.Field(6, "empty"));
    auto [it, added] =
        tenant_index.emplace(std::string(f[6]), static_cast<uint32_t>(set.tenants.size()));
    if (added) set.tenants.emplace_back(f[6]);
    job.tenant = it->second;
    HANGAR_ASSIGN_OR_RETURN(int64_t priority, ParseInt(f[7], 7, -1'000'000, 1'000'000, fail));
    job.submit = Seconds(submit);
    job.duration = Seconds(duration);
    job.request.gpus_per_node = static_cast<int32_t>(gpus);
    job.request.gpu_milli = static_cast<int32_t>(milli);
    job.request.nodes = static_cast<int32_t>(nodes);
    job.priority = static_cast<int32_t>(priority);
    if (!f[8].empty()) {
      HANGAR_ASSIGN_OR_RETURN(int64_t limit, ParseInt(f[8], 8, 1, kMaxSeconds, fail));
      job.run_time_limit = Seconds(limit);
    }
    if (!f[9].empty()) {
      HANGAR_ASSIGN_OR_RETURN(int64_t deadline, ParseInt(f[9], 9, submit, kMaxSeconds, fail));
      job.deadline = Seconds(deadline - submit);
    }
    set.jobs.push_back(std::move(job));
  }
  if (!header_seen) {
    return std::unexpected(Error::Malformed(fmt::format("{}: empty file, no header", source)));
  }
  SortBySubmit(set);
  return set;
}

Result<JobSet> ReadJobsCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(Error::NotFound("cannot open job file " + path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJobsCsv(text.str(), path);
}

std::optional<double> OfferedLoad(const JobSet& set, int64_t capacity_milli) {
  if (set.jobs.empty() || capacity_milli <= 0) return std::nullopt;
  auto [first, last] =
      std::minmax_element(set.jobs.begin(), set.jobs.end(),
                          [](const Job& a, const Job& b) { return a.submit < b.submit; });
  double span = static_cast<double>((last->submit - first->submit).count());
  if (span <= 0) return std::nullopt;
  double work = 0;  // milli-GPU x microseconds
  for (const Job& job : set.jobs) {
    work += static_cast<double>(job.request.TotalGpuMilli()) *
            static_cast<double>(job.duration.count());
  }
  return work / (span * static_cast<double>(capacity_milli));
}

Result<double> ScaleToLoad(JobSet& set, int64_t capacity_milli, double load) {
  if (!(load > 0)) return std::unexpected(Error::Invalid(fmt::format("load {} is not > 0", load)));
  auto offered = OfferedLoad(set, capacity_milli);
  if (!offered) {
    return std::unexpected(Error::Invalid(
        "cannot scale to a load: the workload needs at least two distinct submit times"));
  }
  double factor = *offered / load;
  Micros first = set.jobs.front().submit;
  for (const Job& job : set.jobs) first = std::min(first, job.submit);
  for (Job& job : set.jobs) {
    double offset = static_cast<double>((job.submit - first).count()) * factor;
    job.submit = first + Micros(std::llround(offset));
  }
  SortBySubmit(set);
  return factor;
}

void ApplyRunTimeLimitRule(JobSet& set, int known_permille) {
  for (Job& job : set.jobs) {
    if (job.run_time_limit) continue;
    if (static_cast<int>(Fnv1a(job.id + "#limit") % 1000) >= known_permille) continue;
    const int64_t hour = Micros(hours(1)).count();
    job.run_time_limit = Micros((job.duration.count() + hour - 1) / hour * hour);
  }
}

void MakeRunTimesExact(JobSet& set) {
  for (Job& job : set.jobs) job.run_time_limit = job.duration;
}

void ApplyDeadlineRule(JobSet& set, int permille) {
  for (Job& job : set.jobs) {
    if (job.deadline) continue;
    if (static_cast<int>(Fnv1a(job.id + "#deadline") % 1000) >= permille) continue;
    job.deadline = 2 * job.duration + Micros(minutes(30));
  }
}

void SortBySubmit(JobSet& set) {
  std::stable_sort(set.jobs.begin(), set.jobs.end(), [](const Job& a, const Job& b) {
    return a.submit != b.submit ? a.submit < b.submit : a.id < b.id;
  });
}

}  // namespace hangar::sim
