#include "fleet/views.h"

namespace hangar::fleet {

namespace {
constexpr std::string_view kBase = "/api/v1";

std::string Link(std::string_view collection, const std::string& id) {
  std::string out;
  out.reserve(kBase.size() + collection.size() + id.size() + 2);
  out.append(kBase).append("/").append(collection).append("/").append(id);
  return out;
}
}  // namespace

api::GpuType ToApi(const store::GpuTypeRecord& r) {
  return api::GpuType{.id = r.id.str(),
                      .name = r.name,
                      .vendor = r.vendor,
                      .architecture = r.architecture,
                      .product_name = r.product_name,
                      .memory_mib = r.memory_mib,
                      .compute_capability = r.compute_capability,
                      .hourly_price_micros = r.hourly_price_micros,
                      .currency = r.currency,
                      .created_at = FormatRfc3339(r.created_at),
                      .updated_at = FormatRfc3339(r.updated_at),
                      .etag = ETagOf(r.version),
                      .links = {{"self", Link("gpu-types", r.id.str())},
                                {"gpus", std::string(kBase) + "/gpus?gpu_type=" + r.name}}};
}

api::Node ToApi(const store::NodeRecord& r) {
  return api::Node{
      .id = r.id.str(),
      .name = r.name,
      .hostname = r.hostname,
      .state = r.state,
      .cordoned = r.cordoned,
      .labels = r.labels,
      .agent_version = r.agent_version,
      .gpu_count = r.gpu_count,
      .last_heartbeat_at = r.last_heartbeat_at
                               ? std::optional<std::string>(FormatRfc3339(*r.last_heartbeat_at))
                               : std::nullopt,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .cordon_reason = r.cordon_reason,
      .draining = r.drain_requested_at.has_value(),
      .drain_requested_at = r.drain_requested_at
                                ? std::optional<std::string>(FormatRfc3339(*r.drain_requested_at))
                                : std::nullopt,
      .drain_deadline = r.drain_deadline
                            ? std::optional<std::string>(FormatRfc3339(*r.drain_deadline))
                            : std::nullopt,
      .workloads_running = r.workloads_running,
      .taints = r.taints,
      .etag = ETagOf(r.version),
      .links = {{"self", Link("nodes", r.id.str())},
                {"gpus", std::string(kBase) + "/gpus?node_id=" + r.id.str()}}};
}

api::Gpu ToApi(const store::GpuRecord& r) {
  return api::Gpu{.id = r.id.str(),
                  .node_id = r.node_id.str(),
                  .index = r.index,
                  .uuid = r.uuid,
                  .gpu_type = r.gpu_type_name,
                  .gpu_type_id = r.gpu_type_id.str(),
                  .product_name = r.product_name,
                  .memory_mib = r.memory_mib,
                  .driver_version = r.driver_version,
                  .cuda_version = r.cuda_version,
                  .compute_capability = r.compute_capability,
                  .state = r.state,
                  .health_reasons = r.health_reasons,
                  .pci_bus_id = r.pci_bus_id,
                  .mig_enabled = r.mig_enabled,
                  .nvlink_peers = r.nvlink_peers,
                  .created_at = FormatRfc3339(r.created_at),
                  .updated_at = FormatRfc3339(r.updated_at),
                  .etag = ETagOf(r.version),
                  .links = {{"self", Link("gpus", r.id.str())},
                            {"node", Link("nodes", r.node_id.str())},
                            {"gpu_type", Link("gpu-types", r.gpu_type_id.str())}}};
}

api::JoinToken ToApi(const store::JoinTokenRecord& r) {
  return api::JoinToken{
      .id = r.id.str(),
      .description = r.description,
      .expires_at = FormatRfc3339(r.expires_at),
      .uses = r.uses,
      .last_used_at = r.last_used_at ? std::optional<std::string>(FormatRfc3339(*r.last_used_at))
                                     : std::nullopt,
      .token = std::nullopt,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = ETagOf(r.version),
      .links = {{"self", Link("nodes/join-tokens", r.id.str())}}};
}

}  // namespace hangar::fleet
