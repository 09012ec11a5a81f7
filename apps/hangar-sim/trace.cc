// Strict reader for the Alibaba openb pod list. See trace.h.
#include "trace.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace hangar::sim {
namespace {

constexpr std::array<std::string_view, 11> kColumns = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",     "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time"};

// Builds "source:line: message" errors, so every failure points at the row to look at.
class LineErrors {
 public:
  LineErrors(std::string_view source, size_t line) : source_(source), line_(line) {}
  Error operator()(std::string_view message) const {
    return Error::Malformed(fmt::format("{}:{}: {}", source_, line_, message));
  }

 private:
  std::string_view source_;
  size_t line_;
};

// A non-negative decimal integer in [0, max] filling the whole field.
Result<int64_t> ParseCount(std::string_view field, std::string_view column, int64_t max,
                           const LineErrors& fail) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size()) {
    return std::unexpected(
        fail(fmt::format("{} must be a non-negative integer, got \"{}\"", column, field)));
  }
  if (value < 0 || value > max) {
    return std::unexpected(fail(fmt::format("{} must be in 0..{}, got {}", column, max, value)));
  }
  return value;
}

Result<Qos> ParseQos(std::string_view field, const LineErrors& fail) {
  if (field == "LS") return Qos::kLatencySensitive;
  if (field == "BE") return Qos::kBestEffort;
  if (field == "Burstable") return Qos::kBurstable;
  if (field == "Guaranteed") return Qos::kGuaranteed;
  return std::unexpected(
      fail(fmt::format("qos must be LS, BE, Burstable or Guaranteed, got \"{}\"", field)));
}

Result<PodPhase> ParsePhase(std::string_view field, const LineErrors& fail) {
  if (field == "Running") return PodPhase::kRunning;
  if (field == "Succeeded") return PodPhase::kSucceeded;
  if (field == "Failed") return PodPhase::kFailed;
  if (field == "Pending") return PodPhase::kPending;
  return std::unexpected(fail(
      fmt::format("pod_phase must be Running, Succeeded, Failed or Pending, got \"{}\"", field)));
}

// Bounds that no real pod reaches; they keep the arithmetic downstream (sums over 100,000 pods)
// far from overflow and catch unit mix-ups (bytes written as MiB).
constexpr int64_t kMaxCpuMilli = 10'000'000;      // 10,000 cores
constexpr int64_t kMaxMemoryMib = 1'073'741'824;  // 1 PiB
constexpr int64_t kMaxGpus = 1024;
constexpr int64_t kMaxSeconds = int64_t{1} << 40;

Result<TracePod> ParseRow(std::string_view line, const LineErrors& fail) {
  if (line.find('"') != std::string_view::npos) {
    return std::unexpected(fail("quoted fields are not supported"));
  }
  auto f = SplitFields(line);
  if (f.size() != kColumns.size()) {
    return std::unexpected(
        fail(fmt::format("expected {} fields, got {}", kColumns.size(), f.size())));
  }
  TracePod pod;
  if (f[0].empty()) return std::unexpected(fail("name is empty"));
  pod.name = f[0];
  HANGAR_ASSIGN_OR_RETURN(pod.cpu_milli, ParseCount(f[1], "cpu_milli", kMaxCpuMilli, fail));
  HANGAR_ASSIGN_OR_RETURN(pod.memory_mib, ParseCount(f[2], "memory_mib", kMaxMemoryMib, fail));
  HANGAR_ASSIGN_OR_RETURN(int64_t num_gpu, ParseCount(f[3], "num_gpu", kMaxGpus, fail));
  HANGAR_ASSIGN_OR_RETURN(int64_t gpu_milli, ParseCount(f[4], "gpu_milli", 1000, fail));
  pod.num_gpu = static_cast<int32_t>(num_gpu);
  pod.gpu_milli = static_cast<int32_t>(gpu_milli);
  // The trace's own rules (upstream README): a share below a whole GPU only for one GPU.
  if (pod.num_gpu == 0 && pod.gpu_milli != 0) {
    return std::unexpected(fail("gpu_milli must be 0 when num_gpu is 0"));
  }
  if (pod.num_gpu > 0 && pod.gpu_milli == 0) {
    return std::unexpected(fail("gpu_milli must be 1..1000 when num_gpu is above 0"));
  }
  if (pod.num_gpu > 1 && pod.gpu_milli != 1000) {
    return std::unexpected(fail("gpu_milli must be 1000 when num_gpu is above 1"));
  }
  if (!f[5].empty()) {
    for (std::string_view model : SplitFields(f[5], '|')) {
      if (model.empty()) return std::unexpected(fail("gpu_spec has an empty model name"));
      pod.gpu_spec.emplace_back(model);
    }
  }
  HANGAR_ASSIGN_OR_RETURN(pod.qos, ParseQos(f[6], fail));
  HANGAR_ASSIGN_OR_RETURN(pod.phase, ParsePhase(f[7], fail));
  HANGAR_ASSIGN_OR_RETURN(pod.creation_time, ParseCount(f[8], "creation_time", kMaxSeconds, fail));
  HANGAR_ASSIGN_OR_RETURN(pod.deletion_time, ParseCount(f[9], "deletion_time", kMaxSeconds, fail));
  if (pod.deletion_time < pod.creation_time) {
    return std::unexpected(fail("deletion_time is before creation_time"));
  }
  if (!f[10].empty()) {
    HANGAR_ASSIGN_OR_RETURN(int64_t scheduled,
                            ParseCount(f[10], "scheduled_time", kMaxSeconds, fail));
    if (scheduled < pod.creation_time || scheduled > pod.deletion_time) {
      return std::unexpected(fail("scheduled_time is outside creation_time..deletion_time"));
    }
    pod.scheduled_time = scheduled;
  }
  return pod;
}

}  // namespace

// Splits on every `separator`; the trace has no quoting, and a quote is rejected by the caller.
std::vector<std::string_view> SplitFields(std::string_view line, char separator) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(separator, start);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

std::string_view QosName(Qos qos) {
  switch (qos) {
    case Qos::kLatencySensitive:
      return "LS";
    case Qos::kBestEffort:
      return "BE";
    case Qos::kBurstable:
      return "Burstable";
    case Qos::kGuaranteed:
      return "Guaranteed";
  }
  return "?";
}

std::string_view PodPhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kRunning:
      return "Running";
    case PodPhase::kSucceeded:
      return "Succeeded";
    case PodPhase::kFailed:
      return "Failed";
    case PodPhase::kPending:
      return "Pending";
  }
  return "?";
}

Result<std::vector<TracePod>> ParseTrace(std::string_view text, std::string_view source) {
  std::vector<TracePod> pods;
  std::unordered_set<std::string_view> names;
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    LineErrors fail(source, line_number);
    if (line_number == 1) {
      auto header = SplitFields(line);
      if (header.size() != kColumns.size() ||
          !std::equal(header.begin(), header.end(), kColumns.begin())) {
        return std::unexpected(
            fail(fmt::format("expected the header \"{}\"", fmt::join(kColumns, ","))));
      }
      continue;
    }
    if (line.empty()) return std::unexpected(fail("empty line"));
    HANGAR_ASSIGN_OR_RETURN(TracePod pod, ParseRow(line, fail));
    pods.push_back(std::move(pod));
  }
  if (line_number == 0) {
    return std::unexpected(Error::Malformed(fmt::format("{}: empty file, no header", source)));
  }
  // Names identify pods in reports; a repeated one is a concatenation or copy error. Checked
  // after parsing so the views point into the stable vector.
  for (size_t i = 0; i < pods.size(); ++i) {
    if (!names.insert(pods[i].name).second) {
      return std::unexpected(Error::Malformed(
          fmt::format("{}:{}: duplicate pod name \"{}\"", source, i + 2, pods[i].name)));
    }
  }
  return pods;
}

Result<std::vector<TracePod>> ReadTrace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(Error::NotFound("cannot open trace " + path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseTrace(text.str(), path);
}

}  // namespace hangar::sim
