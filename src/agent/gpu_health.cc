#include "agent/gpu_health.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hangar::agent {

bool IsCriticalXid(int64_t xid) {
  switch (xid) {
    case 48:   // double-bit ECC error
    case 62:   // internal micro-controller halt
    case 63:   // ECC page retirement / row remapping recorded
    case 64:   // ECC page retirement / row remapping failure
    case 74:   // NVLink error
    case 79:   // fallen off the bus
    case 92:   // high single-bit ECC error rate
    case 94:   // contained ECC error
    case 95:   // uncontained ECC error
    case 119:  // GSP RPC timeout
    case 120:  // GSP error
      return true;
    default:
      return false;
  }
}

std::vector<std::string> GpuHealthMonitor::GpuHealth::Reasons() const {
  std::vector<std::string> out(latched.begin(), latched.end());
  if (lost) out.push_back("fell_off_bus");
  if (overheating) out.push_back("overheating");
  return out;
}

GpuHealthMonitor::GpuHealthMonitor(GpuProbe& probe, HealthOptions options)
    : probe_(probe), options_(options) {}

void GpuHealthMonitor::OnHealthChange(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(callback);
}

bool GpuHealthMonitor::Observe(const GpuSample& sample) {
  GpuHealth& health = gpus_[sample.index];
  std::vector<std::string> before = health.Reasons();
  if (sample.ecc_dbe_total > 0) health.latched.insert("ecc_uncorrectable");
  for (const GpuXid& x : sample.xids) {
    if (IsCriticalXid(x.xid)) health.latched.insert("xid_" + std::to_string(x.xid));
  }
  health.lost = sample.lost;
  if (!sample.lost) {
    if (sample.temperature_c >= options_.slowdown_temperature_c) {
      health.overheating = true;
    } else if (sample.temperature_c <=
               options_.slowdown_temperature_c - options_.temperature_hysteresis_c) {
      health.overheating = false;
    }
  }
  std::vector<std::string> after = health.Reasons();
  if (after == before) return false;
  if (after.empty()) {
    spdlog::info("GPU {} is healthy again", sample.index);
  } else {
    std::string reasons;
    for (const auto& r : after) reasons += (reasons.empty() ? "" : ", ") + r;
    spdlog::warn("GPU {} is unhealthy: {}", sample.index, reasons);
  }
  return true;
}

Result<std::vector<GpuSample>> GpuHealthMonitor::Sample() {
  std::function<void()> notify;
  Result<std::vector<GpuSample>> samples;
  {
    std::lock_guard lock(mu_);
    samples = probe_.Sample();
    if (!samples) return samples;
    bool changed = false;
    for (const auto& s : *samples) changed |= Observe(s);
    if (changed) notify = on_change_;
  }
  if (notify) notify();
  return samples;
}

Result<std::vector<api::AgentGpu>> GpuHealthMonitor::Inventory() {
  std::lock_guard lock(mu_);
  HANGAR_ASSIGN_OR_RETURN(auto gpus, probe_.Inventory());
  for (auto& gpu : gpus) {
    auto it = gpus_.find(gpu.index);
    if (it == gpus_.end()) continue;
    std::vector<std::string> reasons = gpu.health_reasons.value_or(std::vector<std::string>{});
    for (auto& r : it->second.Reasons()) {
      if (std::find(reasons.begin(), reasons.end(), r) == reasons.end()) reasons.push_back(r);
    }
    if (reasons.empty()) continue;
    gpu.healthy = false;
    gpu.health_reasons = std::move(reasons);
  }
  return gpus;
}

}  // namespace hangar::agent
