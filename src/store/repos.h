// Typed repositories over a Tx: the only place that knows table and column names.
//
// Each function runs inside the caller's transaction; services compose several of them, plus
// AppendEvent, in one Store::Write so that a change and its event commit together (the
// transactional outbox). Every lookup by id also takes the caller's OrgId: another tenant's row
// is simply not found.
//
// Records are storage shapes (typed ids, Timestamps, versions); http/ converts them to api/
// types. `version` starts at 1 and grows by one on every update; it is the object's ETag.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/ids.h"
#include "store/store.h"

namespace hangar::store {

// ---- Lists: filtering, sorting, keyset pagination ----------------------------------------------

enum class FieldType { kText, kInt, kBool, kTime };

// One field a list can be filtered or sorted by, as the API names it.
struct ListField {
  std::string name;  // API name: "state", "gpu_type", "created_at"
  FieldType type = FieldType::kText;
  bool filterable = true;                   // ?name=value
  bool sortable = false;                    // ?sort=name / -name
  std::string description;                  // for the OpenAPI parameter
  std::vector<std::string> allowed_values;  // non-empty: a filter must be one of these (enums)
};

// The documented list fields of one resource. Filters and sorts on other names are rejected.
struct ListSpec {
  std::string resource;  // "gpus"
  std::vector<ListField> fields;
  std::string default_sort = "created_at";
  const ListField* Find(std::string_view name) const;
};

struct SortKey {
  std::string field;
  bool descending = false;
};

// A validated list request (http/ builds it from the query string with the resource's ListSpec).
struct ListQuery {
  std::vector<std::pair<std::string, SqlValue>> equals;  // field name -> value, ANDed
  std::optional<Timestamp> created_after;                // exclusive
  std::optional<Timestamp> created_before;               // exclusive
  std::vector<SortKey> sort;                             // empty: the spec's default_sort
  int64_t limit = 50;                                    // 1..1000
  std::string page_token;                                // opaque, from a previous page
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

// The list specs, shared with http/ for validation and OpenAPI parameters.
const ListSpec& GpuTypeListSpec();
const ListSpec& NodeListSpec();
const ListSpec& GpuListSpec();
const ListSpec& JoinTokenListSpec();
// Events: filter by type and subject, created_after/before on the event time; always newest
// first (not sortable).
const ListSpec& EventListSpec();

// ---- Records -----------------------------------------------------------------------------------

struct OrgRecord {
  OrgId id;
  std::string name;
  Timestamp created_at;
};

// What an API key authenticates as. kAdmin is an organisation's bootstrap key: every permission
// in its organisation, plus creating organisations (the platform administrator).
enum class PrincipalKind { kAdmin, kNode, kUser, kServiceAccount };
std::string_view PrincipalKindName(PrincipalKind kind);  // "admin", "node", "user", ...

struct ApiKeyRecord {
  ApiKeyId id;
  OrgId org_id;
  std::string name;
  std::string secret_hash;  // SHA-256 hex of the whole key; the key itself is never stored
  PrincipalKind kind = PrincipalKind::kAdmin;
  std::string subject_id;  // the node, user or service account id; empty for kAdmin
  std::optional<Timestamp> expires_at;
  std::optional<Timestamp> revoked_at;
  Timestamp created_at;
  std::vector<std::string> scopes = {"*"};  // permission patterns the key may use
  std::vector<std::string> allowed_cidrs;   // empty: any address
  int64_t rate_limit = 0;                   // requests per second; 0: the organisation's default
  int64_t rate_burst = 0;
  std::optional<Timestamp> last_used_at;
  std::string last_used_address;
  std::string rotated_to;      // the successor's id after a rotation
  std::string display_prefix;  // the first characters of the key, to recognise it in lists
  std::string created_by;      // the actor who created it
  int64_t version = 1;
  Timestamp updated_at;
};

struct JoinTokenRecord {
  JoinTokenId id;
  OrgId org_id;
  std::string description;
  std::string secret_hash;
  Timestamp expires_at;
  int64_t uses = 0;
  std::optional<Timestamp> last_used_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct GpuTypeRecord {
  GpuTypeId id;
  OrgId org_id;
  std::string name;
  std::string vendor;
  std::string architecture;
  std::string product_name;
  int64_t memory_mib = 0;
  std::string compute_capability;
  int64_t hourly_price_micros = 0;
  std::string currency;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

struct NodeRecord {
  NodeId id;
  OrgId org_id;
  std::string name;
  std::string hostname;
  std::string agent_version;
  api::NodeState state = api::NodeState::ready;
  bool cordoned = false;
  std::map<std::string, std::string> labels;
  int64_t gpu_count = 0;
  std::optional<Timestamp> last_heartbeat_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
  std::string cordon_reason;                    // why it is cordoned ("" when not, or not said)
  std::optional<Timestamp> drain_requested_at;  // draining: cordoned, work moving off
  std::optional<Timestamp> drain_deadline;      // then the work that would not move is stopped
  std::vector<api::NodeTaint> taints;
  int64_t workloads_running = 0;  // read-only: counted on reads (placed, not finished)
};

struct GpuRecord {
  GpuId id;
  OrgId org_id;
  NodeId node_id;
  int64_t index = 0;
  std::string uuid;
  GpuTypeId gpu_type_id;
  std::string gpu_type_name;  // read-only: joined from gpu_types on reads
  std::string product_name;
  int64_t memory_mib = 0;
  std::string driver_version;
  std::string cuda_version;
  std::string compute_capability;
  api::GpuState state = api::GpuState::ready;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
  std::vector<std::string> health_reasons;  // why it is unhealthy (the agent's checks)
  std::string pci_bus_id;
  bool mig_enabled = false;
  std::vector<std::string> nvlink_peers;  // PCI bus ids reached over an active NVLink
};

// A CloudEvents 1.0 event, appended in the transaction of the change it describes.
struct EventRecord {
  int64_t seq = 0;  // assigned by the store on append; strictly increasing
  EventId id;
  OrgId org_id;
  std::string type;     // "hangar.node.registered"
  std::string source;   // "/api/v1/nodes"
  std::string subject;  // the object's id
  Timestamp time;
  std::string data_json;  // the object after the change (JSON text)
  std::string actor;      // who caused it: a user, service account, node or key id ("" for system)
  std::string outcome;    // audit records: "success", "denied", "failed"
};

// A stored response for an Idempotency-Key (Stripe semantics).
struct IdempotencyRecord {
  std::string scope;         // who sent it: the principal's key id
  std::string key;           // the client's Idempotency-Key
  std::string method_path;   // "POST /api/v1/gpu-types"
  std::string request_hash;  // SHA-256 of method, path and body
  bool completed = false;
  int64_t status = 0;
  std::string response_headers_json;  // {"Location": "...", ...}
  std::string response_body;
  Timestamp created_at;
};

// ---- Organisations and keys --------------------------------------------------------------------

Status InsertOrg(Tx& tx, const OrgRecord& org);
Result<int64_t> CountOrgs(Tx& tx);

Status InsertApiKey(Tx& tx, const ApiKeyRecord& key);
Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(Tx& tx, std::string_view secret_hash);
// Revokes every live key of `subject_id` (a node re-registering gets a fresh credential).
Status RevokeApiKeysOfSubject(Tx& tx, const OrgId& org, std::string_view subject_id, Timestamp now);

// ---- Join tokens -------------------------------------------------------------------------------

Status InsertJoinToken(Tx& tx, const JoinTokenRecord& token);
Result<std::optional<JoinTokenRecord>> FindJoinTokenByHash(Tx& tx, std::string_view secret_hash);
Result<std::optional<JoinTokenRecord>> GetJoinToken(Tx& tx, const OrgId& org,
                                                    const JoinTokenId& id);
Result<Page<JoinTokenRecord>> ListJoinTokens(Tx& tx, const OrgId& org, const ListQuery& query);
// kNotFound when absent.
Status DeleteJoinToken(Tx& tx, const OrgId& org, const JoinTokenId& id);
Status RecordJoinTokenUse(Tx& tx, const JoinTokenId& id, Timestamp now);

// ---- GPU types ---------------------------------------------------------------------------------

// kAlreadyExists when the organisation already has a type of that name or product name.
Status InsertGpuType(Tx& tx, const GpuTypeRecord& type);
Result<std::optional<GpuTypeRecord>> GetGpuType(Tx& tx, const OrgId& org, const GpuTypeId& id);
Result<std::optional<GpuTypeRecord>> FindGpuTypeByProductName(Tx& tx, const OrgId& org,
                                                              std::string_view product_name);
Result<Page<GpuTypeRecord>> ListGpuTypes(Tx& tx, const OrgId& org, const ListQuery& query);
// Writes name, hourly_price_micros, currency and updated_at if the stored version is
// type.version, and stores version + 1. kPreconditionFailed / kNotFound like UpdateNode.
Status UpdateGpuType(Tx& tx, const GpuTypeRecord& type);

// ---- Nodes -------------------------------------------------------------------------------------

// kAlreadyExists when the organisation already has a node of that name.
Status InsertNode(Tx& tx, const NodeRecord& node);
Result<std::optional<NodeRecord>> GetNode(Tx& tx, const OrgId& org, const NodeId& id);
Result<std::optional<NodeRecord>> FindNodeByName(Tx& tx, const OrgId& org, std::string_view name);
Result<Page<NodeRecord>> ListNodes(Tx& tx, const OrgId& org, const ListQuery& query);
// Writes every mutable field of `node` (name, hostname, agent_version, state, cordoned, labels,
// gpu_count, last_heartbeat_at, updated_at) if the stored version is node.version, and stores
// version + 1. kPreconditionFailed when the stored version differs; kNotFound when absent.
Status UpdateNode(Tx& tx, const NodeRecord& node);
// Nodes of every organisation in `state` whose last heartbeat is older than `cutoff` (for the
// unreachable reconciler).
Result<std::vector<NodeRecord>> ListNodesWithHeartbeatBefore(Tx& tx, api::NodeState state,
                                                             Timestamp cutoff);

// ---- GPUs --------------------------------------------------------------------------------------

// kAlreadyExists on a duplicate (organisation, uuid) or (node, index).
Status InsertGpu(Tx& tx, const GpuRecord& gpu);
// Like UpdateNode: every mutable field, optimistic on gpu.version.
Status UpdateGpu(Tx& tx, const GpuRecord& gpu);
Status DeleteGpu(Tx& tx, const OrgId& org, const GpuId& id);
Result<std::optional<GpuRecord>> GetGpu(Tx& tx, const OrgId& org, const GpuId& id);
// The organisation's GPU with this driver UUID, on whichever node (a card moved between nodes).
Result<std::optional<GpuRecord>> FindGpuByUuid(Tx& tx, const OrgId& org, std::string_view uuid);
Result<std::vector<GpuRecord>> ListGpusOfNode(Tx& tx, const OrgId& org, const NodeId& node);
Result<Page<GpuRecord>> ListGpus(Tx& tx, const OrgId& org, const ListQuery& query);

// ---- Events ------------------------------------------------------------------------------------

// Appends `event`; the store assigns `seq`.
Status AppendEvent(Tx& tx, const EventRecord& event);
// Events with seq > after_seq, oldest first, at most `limit` (every organisation: for feeds).
Result<std::vector<EventRecord>> ListEvents(Tx& tx, int64_t after_seq, int64_t limit);
// One organisation's events, newest first, filtered by EventListSpec's fields, paginated by a
// token bound to the filters (kInvalidArgument "query:page_token" for another query's token).
Result<Page<EventRecord>> ListOrgEvents(Tx& tx, const OrgId& org, const ListQuery& query);

// ---- Idempotency keys --------------------------------------------------------------------------

// Claims (scope, key) for a new request: inserts `claim` (completed = false) and returns
// nullopt; or, when a record exists, returns it unchanged. An unfinished record created before
// `abandoned_before` is taken over (its request died) and nullopt is returned. Records created
// before `expired_before` are ignored and replaced.
Result<std::optional<IdempotencyRecord>> ClaimIdempotencyKey(Tx& tx, const IdempotencyRecord& claim,
                                                             Timestamp abandoned_before,
                                                             Timestamp expired_before);
// Stores the response of a claimed key. Only the claim made at `completed.created_at` is
// completed: kNotFound when it is gone or a retry took it over (that retry's answer stands).
Status CompleteIdempotencyKey(Tx& tx, const IdempotencyRecord& completed);
// Forgets the unfinished claim made at `claimed_at` (its request failed in a way a retry may
// fix, e.g. 5xx), so the retry runs anew. A newer claim by a retry is left alone.
Status ReleaseIdempotencyKey(Tx& tx, std::string_view scope, std::string_view key,
                             Timestamp claimed_at);
// Deletes records created before `expired_before`; returns how many.
Result<int64_t> PurgeIdempotencyKeys(Tx& tx, Timestamp expired_before);

}  // namespace hangar::store
