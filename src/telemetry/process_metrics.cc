// The /proc/self process collector. See process_metrics.h.
#include "telemetry/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace hangar::telemetry {
namespace {

std::string ReadWholeFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> ParseNumber(std::string_view token) {
  double value = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return value;
}

std::optional<double> CountOpenFds() {
  std::error_code ec;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++count;
  }
  if (ec) return std::nullopt;
  return count;
}

void CollectProcessMetrics(std::string& out) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const double kPageSize = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // The boot time does not change while we run.
  static const std::optional<double> kBootTime = ParseBootTime(ReadWholeFile("/proc/stat"));

  if (auto stat = ParseProcStat(ReadWholeFile("/proc/self/stat"), kTicksPerSecond, kPageSize)) {
    AppendHeader(out, "process_cpu_seconds_total",
                 "Total user and system CPU time spent in seconds.", MetricType::kCounter);
    AppendSample(out, "process_cpu_seconds_total", {}, stat->cpu_seconds);
    AppendHeader(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                 MetricType::kGauge);
    AppendSample(out, "process_resident_memory_bytes", {}, stat->resident_memory_bytes);
    AppendHeader(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                 MetricType::kGauge);
    AppendSample(out, "process_virtual_memory_bytes", {}, stat->virtual_memory_bytes);
    if (kBootTime) {
      AppendHeader(out, "process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.", MetricType::kGauge);
      AppendSample(out, "process_start_time_seconds", {},
                   *kBootTime + stat->start_seconds_after_boot);
    }
  }
  if (auto fds = CountOpenFds()) {
    AppendHeader(out, "process_open_fds", "Number of open file descriptors.", MetricType::kGauge);
    AppendSample(out, "process_open_fds", {}, *fds);
  }
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    AppendHeader(out, "process_max_fds", "Maximum number of open file descriptors.",
                 MetricType::kGauge);
    AppendSample(out, "process_max_fds", {},
                 limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                                 : static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view line, double ticks_per_second,
                                      double page_size_bytes) {
  // "pid (comm) state ppid …": fields are counted after the last ')', since comm is free text.
  auto close = line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 of proc(5), `state`
  size_t pos = close + 1;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\n')) ++pos;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\n') ++end;
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  // proc(5) numbering: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  auto field = [&](size_t number) -> std::optional<double> {
    if (number - 3 >= fields.size()) return std::nullopt;
    return ParseNumber(fields[number - 3]);
  };
  auto utime = field(14), stime = field(15), start = field(22), vsize = field(23), rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{.cpu_seconds = (*utime + *stime) / ticks_per_second,
                  .start_seconds_after_boot = *start / ticks_per_second,
                  .virtual_memory_bytes = *vsize,
                  .resident_memory_bytes = *rss * page_size_bytes};
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    std::string_view line = proc_stat.substr(pos, end - pos);
    if (line.starts_with("btime ")) return ParseNumber(line.substr(6));
    pos = end + 1;
  }
  return std::nullopt;
}

void AddProcessCollector(Registry& registry) { registry.AddCollector(CollectProcessMetrics); }

}  // namespace hangar::telemetry
