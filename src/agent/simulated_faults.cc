#include "agent/simulated_faults.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

namespace hangar::agent {

std::string_view SimulatedFaultName(SimulatedFault fault) {
  switch (fault) {
    case SimulatedFault::kEcc:
      return "ecc";
    case SimulatedFault::kFellOffBus:
      return "fell_off_bus";
    case SimulatedFault::kOverheating:
      return "overheating";
  }
  return "unknown";
}

std::optional<SimulatedFault> SimulatedFaultFromName(std::string_view name) {
  for (auto f : {SimulatedFault::kEcc, SimulatedFault::kFellOffBus, SimulatedFault::kOverheating}) {
    if (SimulatedFaultName(f) == name) return f;
  }
  return std::nullopt;
}

namespace {

std::optional<int64_t> ParseIndex(std::string_view text) {
  int64_t index = -1;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || ptr != text.data() + text.size() || index < 0) return std::nullopt;
  return index;
}

Error BadFaults(std::string pointer, std::string detail) {
  return Error::Invalid("bad simulated fault file")
      .Field(std::move(pointer), std::move(detail))
      .Hint(R"(use {"GPU index": ["ecc" | "fell_off_bus" | "overheating", ...]})");
}

}  // namespace

Result<SimulatedFaults> ParseSimulatedFaults(std::string_view json_text,
                                             std::string_view node_name) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json_text, ec);
  if (ec) return std::unexpected(BadFaults("", "is not JSON: " + ec.message()));
  if (!doc.is_object()) return std::unexpected(BadFaults("", "must be an object"));
  SimulatedFaults out;
  for (const auto& [key, value] : doc.as_object()) {
    std::string pointer = "/" + std::string(key);
    std::string_view gpu = key;
    // "NODE/N": for one node only.
    if (auto slash = gpu.rfind('/'); slash != std::string_view::npos) {
      if (gpu.substr(0, slash) != node_name) continue;
      gpu = gpu.substr(slash + 1);
    }
    auto index = ParseIndex(gpu);
    if (!index) return std::unexpected(BadFaults(pointer, "is not a GPU index"));
    if (!value.is_array()) return std::unexpected(BadFaults(pointer, "must be an array"));
    auto& faults = out[*index];
    for (size_t i = 0; i < value.as_array().size(); ++i) {
      const auto& name = value.as_array()[i];
      auto fault = name.is_string() ? SimulatedFaultFromName(name.as_string()) : std::nullopt;
      if (!fault) {
        return std::unexpected(BadFaults(pointer + "/" + std::to_string(i),
                                         "must be \"ecc\", \"fell_off_bus\" or \"overheating\""));
      }
      faults.insert(*fault);
    }
    if (faults.empty()) out.erase(*index);
  }
  return out;
}

std::optional<SimulatedFaults> SimulatedFaultFile::Poll(std::string_view node_name) {
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(path_, ec);
  std::optional<Version> now;
  if (!ec) {
    uintmax_t size = std::filesystem::file_size(path_, ec);
    if (!ec) now = Version{mtime, size};
  }
  bool first = !polled_;
  polled_ = true;
  if (now == seen_ && !first) return std::nullopt;
  seen_ = now;
  if (!now) return first ? std::nullopt : std::optional<SimulatedFaults>(SimulatedFaults{});
  std::ifstream in(path_);
  if (!in) {
    spdlog::warn("cannot read simulated fault file {}", path_.string());
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto faults = ParseSimulatedFaults(text.str(), node_name);
  if (!faults) {
    spdlog::warn("ignoring simulated fault file {}: {}", path_.string(), faults.error().ToString());
    return std::nullopt;
  }
  return std::move(*faults);
}

}  // namespace hangar::agent
