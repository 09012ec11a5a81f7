#include "agent/simulated_probe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/crypto.h"

namespace hangar::agent {

namespace {

constexpr std::array<SimulatedModel, 8> kModels = {{
    {"H100-80GB", "NVIDIA H100 80GB HBM3", 81559, "9.0", "hopper", 700},
    {"H200-141GB", "NVIDIA H200", 143771, "9.0", "hopper", 700},
    {"A100-80GB", "NVIDIA A100-SXM4-80GB", 81920, "8.0", "ampere", 400},
    {"A100-40GB", "NVIDIA A100-SXM4-40GB", 40960, "8.0", "ampere", 400},
    {"L40S", "NVIDIA L40S", 46068, "8.9", "ada", 350},
    {"L4", "NVIDIA L4", 23034, "8.9", "ada", 72},
    {"A10", "NVIDIA A10", 23028, "8.6", "ampere", 150},
    {"T4", "Tesla T4", 15360, "7.5", "turing", 70},
}};

constexpr int kMaxPerGroup = 64;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string KnownModels() {
  std::string out;
  for (const auto& m : kModels) {
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

Error BadSpec(std::string_view part, std::string why) {
  return Error::Invalid("bad --simulate part '" + std::string(part) + "': " + why)
      .Field("simulate", "use COUNTxMODEL[,COUNTxMODEL...], e.g. 8xH100-80GB")
      .Hint("known models: " + KnownModels());
}

}  // namespace

std::span<const SimulatedModel> SimulatedModels() { return kModels; }

Result<std::vector<SimulatedGroup>> ParseSimulationSpec(std::string_view spec) {
  std::vector<SimulatedGroup> groups;
  if (Trim(spec).empty()) return std::unexpected(BadSpec(spec, "the spec is empty"));
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view part =
        Trim(spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start));
    start = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (part.empty()) return std::unexpected(BadSpec(part, "empty entry"));
    int count = 1;
    std::string_view model_name = part;
    // "8xH100" or "8XH100": a count only when everything before the first x is digits.
    size_t x = part.find_first_of("xX");
    if (x != std::string_view::npos && x > 0 &&
        std::all_of(part.begin(), part.begin() + static_cast<ptrdiff_t>(x),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      auto [ptr, ec] = std::from_chars(part.data(), part.data() + x, count);
      if (ec != std::errc() || count < 1 || count > kMaxPerGroup) {
        return std::unexpected(
            BadSpec(part, "the count must be 1.." + std::to_string(kMaxPerGroup)));
      }
      model_name = Trim(part.substr(x + 1));
    }
    const SimulatedModel* model = nullptr;
    for (const auto& m : kModels) {
      if (EqualsIgnoreCase(m.name, model_name)) model = &m;
    }
    if (!model) {
      return std::unexpected(BadSpec(part, "unknown model '" + std::string(model_name) + "'"));
    }
    groups.push_back({model, count});
  }
  return groups;
}

std::string SimulatedGpuUuid(std::string_view node_name, int64_t index) {
  std::string hex = Sha256Hex(std::string(node_name) + "/gpu/" + std::to_string(index));
  return "GPU-" + hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

Result<std::unique_ptr<SimulatedProbe>> SimulatedProbe::Create(
    std::string_view spec, std::string_view node_name, const Clock& clock,
    WorkloadPlacements* placements, std::unique_ptr<ProcessUsageSource> usage) {
  HANGAR_ASSIGN_OR_RETURN(auto groups, ParseSimulationSpec(spec));
  std::vector<api::AgentGpu> gpus;
  std::vector<const SimulatedModel*> models;
  for (const auto& g : groups) {
    for (int i = 0; i < g.count; ++i) {
      int64_t index = static_cast<int64_t>(gpus.size());
      gpus.push_back(api::AgentGpu{
          .index = index,
          .uuid = SimulatedGpuUuid(node_name, index),
          .product_name = std::string(g.model->product_name),
          .vendor = "nvidia",
          .architecture = std::string(g.model->architecture),
          .memory_mib = g.model->memory_mib,
          .driver_version = std::string(kSimulatedDriverVersion),
          .cuda_version = std::string(kSimulatedCudaVersion),
          .compute_capability = std::string(g.model->compute_capability),
          .healthy = true,
      });
      models.push_back(g.model);
    }
  }
  if (!usage) usage = NewProcUsageSource();
  return std::unique_ptr<SimulatedProbe>(
      new SimulatedProbe(std::move(gpus), std::move(models), clock, placements, std::move(usage)));
}

SimulatedProbe::SimulatedProbe(std::vector<api::AgentGpu> gpus,
                               std::vector<const SimulatedModel*> models, const Clock& clock,
                               WorkloadPlacements* placements,
                               std::unique_ptr<ProcessUsageSource> usage)
    : gpus_(std::move(gpus)),
      models_(std::move(models)),
      clock_(clock),
      placements_(placements),
      usage_(std::move(usage)) {}

Result<std::vector<api::AgentGpu>> SimulatedProbe::Inventory() { return gpus_; }

Result<std::vector<GpuSample>> SimulatedProbe::Sample() {
  Timestamp now = clock_.Now();
  // Busy cores and resident bytes per GPU, from the runs placed on them.
  std::vector<double> cores(gpus_.size(), 0);
  std::vector<double> rss_bytes(gpus_.size(), 0);
  std::vector<GpuPlacement> placed;
  if (placements_) placed = placements_->Placements();
  std::erase_if(placed, [](const GpuPlacement& p) { return p.gpu_indexes.empty(); });
  std::vector<int> pgids;
  for (const auto& p : placed) pgids.push_back(p.pgid);
  std::map<int, ProcessGroupUsage> usage;
  if (!pgids.empty()) {
    auto read = usage_->Read(pgids);
    if (!read) return std::unexpected(read.error());
    usage = std::move(*read);
  }
  std::map<std::string, RunBaseline> baselines;
  for (const auto& p : placed) {
    auto it = usage.find(p.pgid);
    if (it == usage.end()) continue;  // no process left in the group
    const ProcessGroupUsage& u = it->second;
    RunBaseline next{.pgid = p.pgid, .cpu_seconds = u.cpu_seconds, .at = now};
    if (auto prev = baselines_.find(p.run_id);
        prev != baselines_.end() && prev->second.pgid == p.pgid) {
      double elapsed = std::chrono::duration<double>(now - prev->second.at).count();
      if (elapsed > 0) {
        // A member that exited takes its CPU time with it: a decrease is no use, not negative.
        next.cores = std::max(0.0, u.cpu_seconds - prev->second.cpu_seconds) / elapsed;
      } else {
        next = prev->second;  // the clock has not moved: same rate, same baseline
      }
    }
    baselines[p.run_id] = next;
    double share = 1.0 / static_cast<double>(p.gpu_indexes.size());
    for (int g : p.gpu_indexes) {
      if (g < 0 || static_cast<size_t>(g) >= gpus_.size()) continue;
      cores[static_cast<size_t>(g)] += next.cores * share;
      rss_bytes[static_cast<size_t>(g)] += static_cast<double>(u.rss_bytes) * share;
    }
  }
  baselines_ = std::move(baselines);

  std::vector<GpuSample> out;
  out.reserve(gpus_.size());
  for (size_t i = 0; i < gpus_.size(); ++i) {
    const SimulatedModel& m = *models_[i];
    double util = std::clamp(cores[i] * 100, 0.0, 100.0);
    int64_t memory_mib =
        std::min<int64_t>(m.memory_mib, std::llround(rss_bytes[i] / (1024.0 * 1024.0)));
    double idle_watts = static_cast<double>(m.max_power_watts) * 0.1;
    out.push_back(GpuSample{
        .index = gpus_[i].index,
        .uuid = gpus_[i].uuid,
        .at = now,
        .utilization_percent = std::lround(util),
        .memory_used_mib = memory_mib,
        .temperature_c = std::lround(32 + util * 0.45),
        .power_milliwatts = std::lround(
            (idle_watts + (static_cast<double>(m.max_power_watts) - idle_watts) * util / 100) *
            1000),
        .simulated = true,
    });
  }
  return out;
}

}  // namespace hangar::agent
