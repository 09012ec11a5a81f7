// The public API's resource and request types, shared by hangard, hangar-agent and the CLI.
//
// Each type is a plain struct described with Boost.Describe: common/json_codec.h encodes and
// strictly decodes it, and http/openapi.h derives its OpenAPI schema from the same description,
// so the documentation cannot drift from the wire format. Conventions (API.md): every object has
// `id`, `created_at`, `updated_at` (RFC 3339 UTC), `etag` and `links`; `std::optional` members
// are optional in requests and nullable in responses; money is integer micro-units.
#pragma once

#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hangar::api {

using Links = std::map<std::string, std::string>;

// The ETag of a stored object: its version, quoted ("\"3\""). Every object's `etag` is this.
inline std::string ETagOf(int64_t version) { return "\"" + std::to_string(version) + "\""; }
using Labels = std::map<std::string, std::string>;

// ---- Node and GPU states ---------------------------------------------------------------------
//
// Node states (fleet/fleet_service.h draws the machine and names each transition):
//
//     register            heartbeat missed for node_unreachable_after
//   ----------> ready  ----------------------------------------------> unreachable
//                 ^                                                        |
//                 +------------------------ heartbeat --------------------+
//
// `cordoned` is orthogonal to the state: a cordoned node keeps reporting but takes no new work.
BOOST_DEFINE_ENUM_CLASS(NodeState, ready, unreachable)
// A GPU is `ready` when its agent reports it healthy, `unhealthy` when the agent reports a fault,
// and `unreachable` while its node is unreachable.
BOOST_DEFINE_ENUM_CLASS(GpuState, ready, unhealthy, unreachable)

// ---- GPU types (the catalogue) -----------------------------------------------------------------

struct GpuType {
  std::string id;
  std::string name;          // short catalogue name, unique per organisation: "H100-80GB"
  std::string vendor;        // "nvidia"
  std::string architecture;  // "hopper"
  std::string product_name;  // what the driver reports: "NVIDIA H100 80GB HBM3"
  int64_t memory_mib = 0;
  std::string compute_capability;   // "9.0"
  int64_t hourly_price_micros = 0;  // price of one GPU-hour in micro-units of `currency`
  std::string currency;             // ISO 4217
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(GpuType, (),
                      (id, name, vendor, architecture, product_name, memory_mib, compute_capability,
                       hourly_price_micros, currency, created_at, updated_at, etag, links))

struct CreateGpuTypeRequest {
  std::string name;
  std::string vendor;
  std::string architecture;
  std::string product_name;
  int64_t memory_mib = 0;
  std::string compute_capability;
  int64_t hourly_price_micros = 0;
  std::optional<std::string> currency;  // default "USD"
};
BOOST_DESCRIBE_STRUCT(CreateGpuTypeRequest, (),
                      (name, vendor, architecture, product_name, memory_mib, compute_capability,
                       hourly_price_micros, currency))

// PATCH /gpu-types/{id} (JSON merge patch): rename, or set the price of, a catalogue entry —
// for example one discovered from an agent's report with price 0.
struct UpdateGpuTypeRequest {
  std::optional<std::string> name;
  std::optional<int64_t> hourly_price_micros;
  std::optional<std::string> currency;
};
BOOST_DESCRIBE_STRUCT(UpdateGpuTypeRequest, (), (name, hourly_price_micros, currency))

struct GpuTypeList {
  std::vector<GpuType> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(GpuTypeList, (), (items, next_page_token))

// ---- Nodes -------------------------------------------------------------------------------------

// A node taint: work lands on a tainted node only if it tolerates the taint (key, and value when
// the toleration names one). NoSchedule keeps new work away; running work stays.
struct NodeTaint {
  std::string key;
  std::optional<std::string> value;
  std::optional<std::string> effect;  // "NoSchedule" (the only effect so far; the default)
  bool operator==(const NodeTaint&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeTaint, (), (key, value, effect))

// Lets work land on nodes tainted with `key` (with `value` only, when one is given).
struct Toleration {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const Toleration&) const = default;
};
BOOST_DESCRIBE_STRUCT(Toleration, (), (key, value))

inline bool Tolerates(const std::vector<Toleration>& tolerations, const NodeTaint& taint) {
  for (const auto& t : tolerations) {
    if (t.key == taint.key && (!t.value || t.value == taint.value)) return true;
  }
  return false;
}
inline bool ToleratesAll(const std::vector<Toleration>& tolerations,
                         const std::vector<NodeTaint>& taints) {
  for (const auto& taint : taints) {
    if (!Tolerates(tolerations, taint)) return false;
  }
  return true;
}

struct Node {
  std::string id;
  std::string name;
  std::string hostname;
  NodeState state = NodeState::ready;
  bool cordoned = false;
  Labels labels;  // zone, region, rack, ... (free-form, admin-set)
  std::string agent_version;
  int64_t gpu_count = 0;
  std::optional<std::string> last_heartbeat_at;
  std::string created_at;
  std::string updated_at;
  std::string cordon_reason;  // why it is cordoned: an admin's words, or the health check's
  bool draining = false;      // cordoned, and its work is being moved off
  std::optional<std::string> drain_requested_at;
  std::optional<std::string> drain_deadline;  // work still there then is stopped
  int64_t workloads_running = 0;              // placed on it and not yet finished (drain progress)
  std::vector<NodeTaint> taints;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Node, (),
                      (id, name, hostname, state, cordoned, labels, agent_version, gpu_count,
                       last_heartbeat_at, created_at, updated_at, cordon_reason, draining,
                       drain_requested_at, drain_deadline, workloads_running, taints, etag, links))

// PATCH /nodes/{id} (JSON merge patch, RFC 7396): a label set to null is removed.
struct UpdateNodeRequest {
  std::optional<std::map<std::string, std::optional<std::string>>> labels;
  std::optional<bool> cordoned;
  std::optional<std::string> cordon_reason;
  std::optional<std::vector<NodeTaint>> taints;  // replaces the node's taints
};
BOOST_DESCRIBE_STRUCT(UpdateNodeRequest, (), (labels, cordoned, cordon_reason, taints))

// POST /nodes/{id}/drain: cordon the node and move its work off. Preemptible work (requeue,
// checkpoint) is stopped and requeued at once; other work is left to finish, up to
// `timeout_seconds` if given, after which it is stopped too.
struct DrainNodeRequest {
  std::optional<std::string> reason;
  std::optional<int64_t> timeout_seconds;
};
BOOST_DESCRIBE_STRUCT(DrainNodeRequest, (), (reason, timeout_seconds))

struct NodeList {
  std::vector<Node> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(NodeList, (), (items, next_page_token))

// ---- GPUs --------------------------------------------------------------------------------------

struct Gpu {
  std::string id;
  std::string node_id;
  int64_t index = 0;     // the device index on its node
  std::string uuid;      // the driver's GPU UUID ("GPU-…")
  std::string gpu_type;  // catalogue name
  std::string gpu_type_id;
  std::string product_name;
  int64_t memory_mib = 0;
  std::string driver_version;
  std::string cuda_version;
  std::string compute_capability;
  GpuState state = GpuState::ready;
  std::vector<std::string> health_reasons;  // why it is unhealthy ("xid_79", "overheating", …)
  std::string pci_bus_id;
  bool mig_enabled = false;               // in MIG mode: whole-GPU work does not land on it
  std::vector<std::string> nvlink_peers;  // PCI bus ids of the GPUs it reaches over NVLink
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Gpu, (),
                      (id, node_id, index, uuid, gpu_type, gpu_type_id, product_name, memory_mib,
                       driver_version, cuda_version, compute_capability, state, health_reasons,
                       pci_bus_id, mig_enabled, nvlink_peers, created_at, updated_at, etag, links))

struct GpuList {
  std::vector<Gpu> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(GpuList, (), (items, next_page_token))

// ---- Join tokens -------------------------------------------------------------------------------

struct JoinToken {
  std::string id;
  std::string description;
  std::string expires_at;
  int64_t uses = 0;
  std::optional<std::string> last_used_at;
  std::optional<std::string> token;  // the secret: present only in the response that creates it
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(JoinToken, (),
                      (id, description, expires_at, uses, last_used_at, token, created_at,
                       updated_at, etag, links))

struct CreateJoinTokenRequest {
  std::optional<std::string> description;
  std::optional<int64_t> ttl_seconds;  // default 86400 (one day); at most 30 days
};
BOOST_DESCRIBE_STRUCT(CreateJoinTokenRequest, (), (description, ttl_seconds))

struct JoinTokenList {
  std::vector<JoinToken> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(JoinTokenList, (), (items, next_page_token))

// ---- Agent protocol ----------------------------------------------------------------------------

// One GPU as an agent sees it (from NVML or the simulator).
struct AgentGpu {
  int64_t index = 0;
  std::string uuid;
  std::string product_name;
  std::string vendor;
  std::string architecture;
  int64_t memory_mib = 0;
  std::string driver_version;
  std::string cuda_version;
  std::string compute_capability;
  bool healthy = true;
  // Why the GPU is unhealthy, when it is: "ecc_uncorrectable", "xid_79", "fell_off_bus",
  // "overheating", "probe_failed" (the agent's health checks; docs/agent.md).
  std::optional<std::vector<std::string>> health_reasons;
  std::optional<std::string> pci_bus_id;  // "00000000:17:00.0"
  std::optional<bool> mig_enabled;        // MIG mode is on (current, not pending)
  // PCI bus ids of the GPUs this one reaches over an active NVLink.
  std::optional<std::vector<std::string>> nvlink_peers;
};
BOOST_DESCRIBE_STRUCT(AgentGpu, (),
                      (index, uuid, product_name, vendor, architecture, memory_mib, driver_version,
                       cuda_version, compute_capability, healthy, health_reasons, pci_bus_id,
                       mig_enabled, nvlink_peers))

// POST /api/v1/nodes/register, authenticated with a join token.
struct RegisterNodeRequest {
  std::string name;  // unique per organisation; re-registering a name re-keys it
  std::string hostname;
  std::string agent_version;
  std::optional<Labels> labels;
  std::vector<AgentGpu> gpus;
};
BOOST_DESCRIBE_STRUCT(RegisterNodeRequest, (), (name, hostname, agent_version, labels, gpus))

struct RegisterNodeResponse {
  Node node;
  std::string credential;  // the node's own API credential (hgr_…); shown once
  int64_t heartbeat_interval_seconds = 0;
};
BOOST_DESCRIBE_STRUCT(RegisterNodeResponse, (), (node, credential, heartbeat_interval_seconds))

// POST /api/v1/nodes/{id}/heartbeat, authenticated with the node credential.
struct HeartbeatRequest {
  std::string agent_version;
  std::vector<AgentGpu> gpus;
};
BOOST_DESCRIBE_STRUCT(HeartbeatRequest, (), (agent_version, gpus))

struct HeartbeatResponse {
  Node node;
  int64_t heartbeat_interval_seconds = 0;
};
BOOST_DESCRIBE_STRUCT(HeartbeatResponse, (), (node, heartbeat_interval_seconds))

// ---- Events ------------------------------------------------------------------------------------

// One change, as a CloudEvents 1.0 JSON event (the audit trail; later also SSE and webhooks).
struct Event {
  std::string specversion;  // "1.0"
  std::string id;
  std::string source;   // "/hangar/fleet"
  std::string type;     // "hangar.node.registered"
  std::string subject;  // the object's id
  std::string time;
  std::string datacontenttype;  // "application/json"
  boost::json::value data;      // the object after the change, as GET returns it
};
BOOST_DESCRIBE_STRUCT(Event, (),
                      (specversion, id, source, type, subject, time, datacontenttype, data))

struct EventList {
  std::vector<Event> items;
  std::optional<std::string> next_page_token;
};
BOOST_DESCRIBE_STRUCT(EventList, (), (items, next_page_token))

// ---- Errors and health -------------------------------------------------------------------------

struct ProblemField {
  std::string pointer;
  std::string detail;
};
BOOST_DESCRIBE_STRUCT(ProblemField, (), (pointer, detail))

// RFC 9457 problem details, as every error response carries them.
struct Problem {
  std::string type;
  std::string title;
  int64_t status = 0;
  std::string detail;
  std::string instance;
  std::string request_id;
  std::optional<std::string> hint;
  std::optional<std::vector<ProblemField>> errors;
};
BOOST_DESCRIBE_STRUCT(Problem, (),
                      (type, title, status, detail, instance, request_id, hint, errors))

struct Health {
  std::string status;  // "ok" or "unavailable"
  std::optional<std::string> detail;
};
BOOST_DESCRIBE_STRUCT(Health, (), (status, detail))

}  // namespace hangar::api
