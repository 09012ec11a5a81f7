#include "agent/simulated_probe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/crypto.h"

namespace hangar::agent {

namespace {

constexpr std::array<SimulatedModel, 8> kModels = {{
    {"H100-80GB", "NVIDIA H100 80GB HBM3", 81559, "9.0", "hopper", 700, 1980, true},
    {"H200-141GB", "NVIDIA H200", 143771, "9.0", "hopper", 700, 1980, true},
    {"A100-80GB", "NVIDIA A100-SXM4-80GB", 81920, "8.0", "ampere", 400, 1410, true},
    {"A100-40GB", "NVIDIA A100-SXM4-40GB", 40960, "8.0", "ampere", 400, 1410, true},
    {"L40S", "NVIDIA L40S", 46068, "8.9", "ada", 350, 2520, false},
    {"L4", "NVIDIA L4", 23034, "8.9", "ada", 72, 2040, false},
    {"A10", "NVIDIA A10", 23028, "8.6", "ampere", 150, 1695, false},
    {"T4", "Tesla T4", 15360, "7.5", "turing", 70, 1590, false},
}};

constexpr int kMaxPerGroup = 64;
constexpr int64_t kIdleSmClockMhz = 345;
constexpr int64_t kIdleTemperatureC = 32;
constexpr int64_t kOverheatedTemperatureC = 92;
constexpr int64_t kXidDoubleBitEcc = 48;
constexpr int64_t kXidFellOffBus = 79;
constexpr auto kSyntheticLoadSlot = std::chrono::minutes(10);

// splitmix64: a cheap, well-mixed hash for the synthetic load pattern.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a, stable across builds (std::hash is not), so a node's pattern survives restarts.
uint64_t StableHash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

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
      char bus_id[32];
      std::snprintf(bus_id, sizeof bus_id, "00000000:%02X:00.0", static_cast<unsigned>(index + 1));
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
          .pci_bus_id = std::string(bus_id),
          .mig_enabled = false,
          .nvlink_peers = std::vector<std::string>{},
      });
      models.push_back(g.model);
    }
  }
  // NVLink joins the GPUs of one SXM board: every other GPU of the same model.
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (!models[i]->nvlink) continue;
    for (size_t j = 0; j < gpus.size(); ++j) {
      if (j != i && models[j] == models[i]) gpus[i].nvlink_peers->push_back(*gpus[j].pci_bus_id);
    }
  }
  if (!usage) usage = NewProcUsageSource();
  return std::unique_ptr<SimulatedProbe>(new SimulatedProbe(
      std::move(gpus), std::move(models), node_name, clock, placements, std::move(usage)));
}

Result<std::unique_ptr<SimulatedProbe>> SimulatedProbe::CreateWithSyntheticLoad(
    std::string_view spec, std::string_view node_name, const Clock& clock) {
  HANGAR_ASSIGN_OR_RETURN(auto probe, Create(spec, node_name, clock));
  probe->synthetic_load_ = true;
  return probe;
}

SimulatedProbe::SimulatedProbe(std::vector<api::AgentGpu> gpus,
                               std::vector<const SimulatedModel*> models,
                               std::string_view node_name, const Clock& clock,
                               WorkloadPlacements* placements,
                               std::unique_ptr<ProcessUsageSource> usage)
    : gpus_(std::move(gpus)),
      models_(std::move(models)),
      clock_(clock),
      placements_(placements),
      usage_(std::move(usage)),
      load_seed_(StableHash(node_name)),
      faults_(gpus_.size()),
      node_name_(node_name) {}

Result<std::vector<api::AgentGpu>> SimulatedProbe::Inventory() {
  std::vector<api::AgentGpu> out = gpus_;
  for (size_t i = 0; i < out.size(); ++i) {
    if (faults_[i].active.contains(SimulatedFault::kFellOffBus)) {
      out[i].healthy = false;
      out[i].health_reasons = std::vector<std::string>{"fell_off_bus"};
    }
  }
  return out;
}

Status SimulatedProbe::InjectFault(int64_t index, SimulatedFault fault) {
  if (index < 0 || static_cast<size_t>(index) >= gpus_.size()) {
    return std::unexpected(Error::Invalid("no simulated GPU " + std::to_string(index) + " (" +
                                          std::to_string(gpus_.size()) + " GPUs)"));
  }
  FaultState& state = faults_[static_cast<size_t>(index)];
  if (!state.active.insert(fault).second) return Ok();
  // What happens once, as the fault appears.
  switch (fault) {
    case SimulatedFault::kEcc:
      ++state.ecc_dbe_total;
      state.pending_xids.push_back(kXidDoubleBitEcc);
      break;
    case SimulatedFault::kFellOffBus:
      state.pending_xids.push_back(kXidFellOffBus);
      break;
    case SimulatedFault::kOverheating:
      break;
  }
  return Ok();
}

void SimulatedProbe::SetFaults(const SimulatedFaults& faults) {
  for (size_t i = 0; i < faults_.size(); ++i) {
    auto it = faults.find(static_cast<int64_t>(i));
    std::set<SimulatedFault> wanted = it == faults.end() ? std::set<SimulatedFault>{} : it->second;
    std::erase_if(faults_[i].active, [&](SimulatedFault f) { return !wanted.contains(f); });
    for (SimulatedFault f : wanted) (void)InjectFault(static_cast<int64_t>(i), f);
  }
}

void SimulatedProbe::WatchFaultFile(std::filesystem::path file) {
  fault_file_.emplace(std::move(file));
}

std::pair<double, int64_t> SimulatedProbe::SyntheticLoad(size_t i, Timestamp now) const {
  auto since_epoch = now.time_since_epoch();
  uint64_t slot = static_cast<uint64_t>(since_epoch / kSyntheticLoadSlot);
  uint64_t second =
      static_cast<uint64_t>(std::chrono::floor<std::chrono::seconds>(since_epoch).count());
  // How many of the node's GPUs are busy in this slot: 0..all, the low indexes first, as a
  // scheduler packing jobs would leave them.
  size_t busy = Mix(load_seed_ ^ Mix(slot)) % (gpus_.size() + 1);
  if (i >= busy) return {0, 0};
  uint64_t gpu_slot = Mix(load_seed_ ^ Mix(slot) ^ Mix(i + 1));
  double util = 70 + static_cast<double>(Mix(gpu_slot ^ second) % 31);
  double memory_share = 0.55 + static_cast<double>(gpu_slot % 36) / 100;
  return {util, std::llround(static_cast<double>(models_[i]->memory_mib) * memory_share)};
}

Status SimulatedProbe::MeasurePlacedRuns(Timestamp now, std::vector<double>& cores,
                                         std::vector<double>& rss_bytes) {
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
  return Ok();
}

Result<std::vector<GpuSample>> SimulatedProbe::Sample() {
  Timestamp now = clock_.Now();
  if (fault_file_) {
    if (auto faults = fault_file_->Poll(node_name_)) SetFaults(*faults);
  }
  std::vector<double> cores(gpus_.size(), 0);
  std::vector<double> rss_bytes(gpus_.size(), 0);
  HANGAR_TRY(MeasurePlacedRuns(now, cores, rss_bytes));

  std::vector<GpuSample> out;
  out.reserve(gpus_.size());
  for (size_t i = 0; i < gpus_.size(); ++i) {
    const SimulatedModel& m = *models_[i];
    FaultState& fault = faults_[i];
    GpuSample s{.index = gpus_[i].index, .uuid = gpus_[i].uuid, .at = now, .simulated = true};
    for (int64_t xid : fault.pending_xids) s.xids.push_back({.at = now, .xid = xid});
    fault.pending_xids.clear();
    if (fault.active.contains(SimulatedFault::kFellOffBus)) {
      s.lost = true;  // a GPU off the bus answers nothing
      out.push_back(std::move(s));
      continue;
    }
    double util = std::clamp(cores[i] * 100, 0.0, 100.0);
    int64_t memory_mib =
        std::min<int64_t>(m.memory_mib, std::llround(rss_bytes[i] / (1024.0 * 1024.0)));
    if (synthetic_load_) {
      auto [synthetic_util, synthetic_memory] = SyntheticLoad(i, now);
      util = std::max(util, synthetic_util);
      memory_mib = std::max(memory_mib, synthetic_memory);
    }
    double idle_watts = static_cast<double>(m.max_power_watts) * 0.1;
    s.utilization_percent = std::lround(util);
    s.memory_used_mib = memory_mib;
    s.temperature_c = std::lround(static_cast<double>(kIdleTemperatureC) + util * 0.45);
    s.power_milliwatts = std::lround(
        (idle_watts + (static_cast<double>(m.max_power_watts) - idle_watts) * util / 100) * 1000);
    // Boost clocks are reached at modest load; below that the clock ramps up from idle.
    double clock_share = std::min(1.0, util / 20);
    s.sm_clock_mhz =
        std::lround(static_cast<double>(kIdleSmClockMhz) +
                    static_cast<double>(m.boost_clock_mhz - kIdleSmClockMhz) * clock_share);
    if (s.utilization_percent == 0) s.throttle_reasons |= kThrottleGpuIdle;
    if (fault.active.contains(SimulatedFault::kEcc)) ++fault.ecc_sbe_total;
    if (fault.active.contains(SimulatedFault::kOverheating)) {
      s.temperature_c = std::max(s.temperature_c, kOverheatedTemperatureC);
      s.throttle_reasons |= kThrottleSwThermalSlowdown | kThrottleHwThermalSlowdown;
      s.throttle_reasons &= ~kThrottleGpuIdle;
      s.sm_clock_mhz = s.sm_clock_mhz * 6 / 10;
    }
    s.ecc_sbe_total = fault.ecc_sbe_total;
    s.ecc_dbe_total = fault.ecc_dbe_total;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace hangar::agent
