// Typed repositories: every table and column name lives here. The SQL is written once, in the
// subset SQLite 3.40 and PostgreSQL 15 share ($N parameters, ON CONFLICT, RETURNING, CAST).
//
// Thread-safety: stateless functions over the caller's Tx.
#include "store/repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

// ---- Row mapping -------------------------------------------------------------------------------

constexpr std::string_view kGpuTypeSelect =
    "SELECT t.id, t.org_id, t.name, t.vendor, t.architecture, t.product_name, t.memory_mib,"
    " t.compute_capability, t.hourly_price_micros, t.currency, t.version, t.created_at,"
    " t.updated_at";
constexpr std::string_view kGpuTypeFrom = " FROM gpu_types t";

Result<GpuTypeRecord> GpuTypeFromRow(const Row& r) {
  GpuTypeRecord t;
  t.id = GpuTypeId::FromTrusted(r.Text(0));
  t.org_id = OrgId::FromTrusted(r.Text(1));
  t.name = r.Text(2);
  t.vendor = r.Text(3);
  t.architecture = r.Text(4);
  t.product_name = r.Text(5);
  t.memory_mib = r.Int(6);
  t.compute_capability = r.Text(7);
  t.hourly_price_micros = r.Int(8);
  t.currency = r.Text(9);
  t.version = r.Int(10);
  t.created_at = r.Time(11);
  t.updated_at = r.Time(12);
  return t;
}

constexpr std::string_view kNodeSelect =
    "SELECT n.id, n.org_id, n.name, n.hostname, n.agent_version, n.state, n.cordoned, n.labels,"
    " n.gpu_count, n.last_heartbeat_at, n.version, n.created_at, n.updated_at, n.cordon_reason,"
    " n.drain_requested_at, n.taints, n.drain_deadline,"
    " (SELECT COUNT(*) FROM workloads w WHERE w.node_id = n.id"
    "  AND w.state IN ('scheduled', 'running', 'stopping'))";
constexpr std::string_view kNodeFrom = " FROM nodes n";

std::string LabelsToJson(const std::map<std::string, std::string>& labels) {
  bj::object obj;
  for (const auto& [k, v] : labels) obj[k] = v;
  return bj::serialize(obj);
}

Result<NodeRecord> NodeFromRow(const Row& r) {
  NodeRecord n;
  n.id = NodeId::FromTrusted(r.Text(0));
  n.org_id = OrgId::FromTrusted(r.Text(1));
  n.name = r.Text(2);
  n.hostname = r.Text(3);
  n.agent_version = r.Text(4);
  HANGAR_ASSIGN_OR_RETURN(n.state, ParseEnum<api::NodeState>(r.Text(5), "node state"));
  n.cordoned = r.Int(6) != 0;
  auto labels = json::Parse(r.Text(7));
  if (!labels || !labels->is_object()) return std::unexpected(CorruptRow("node labels"));
  for (const auto& kv : labels->get_object()) {
    if (!kv.value().is_string()) return std::unexpected(CorruptRow("node labels"));
    n.labels[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  n.gpu_count = r.Int(8);
  n.last_heartbeat_at = r.OptTime(9);
  n.version = r.Int(10);
  n.created_at = r.Time(11);
  n.updated_at = r.Time(12);
  n.cordon_reason = r.Text(13);
  n.drain_requested_at = r.OptTime(14);
  auto taints = json::ParseAs<std::vector<api::NodeTaint>>(r.Text(15));
  if (!taints) return std::unexpected(CorruptRow("node taints"));
  n.taints = std::move(*taints);
  n.drain_deadline = r.OptTime(16);
  n.workloads_running = r.Int(17);
  return n;
}

constexpr std::string_view kGpuSelect =
    "SELECT g.id, g.org_id, g.node_id, g.idx, g.uuid, g.gpu_type_id, ty.name, g.product_name,"
    " g.memory_mib, g.driver_version, g.cuda_version, g.compute_capability, g.state, g.version,"
    " g.created_at, g.updated_at, g.health_reasons, g.pci_bus_id, g.mig_enabled, g.nvlink_peers";
constexpr std::string_view kGpuFrom =
    " FROM gpus g LEFT JOIN gpu_types ty ON ty.id = g.gpu_type_id";

Result<GpuRecord> GpuFromRow(const Row& r) {
  GpuRecord g;
  g.id = GpuId::FromTrusted(r.Text(0));
  g.org_id = OrgId::FromTrusted(r.Text(1));
  g.node_id = NodeId::FromTrusted(r.Text(2));
  g.index = r.Int(3);
  g.uuid = r.Text(4);
  g.gpu_type_id = GpuTypeId::FromTrusted(r.OptText(5).value_or(""));
  g.gpu_type_name = r.OptText(6).value_or("");
  g.product_name = r.Text(7);
  g.memory_mib = r.Int(8);
  g.driver_version = r.Text(9);
  g.cuda_version = r.Text(10);
  g.compute_capability = r.Text(11);
  HANGAR_ASSIGN_OR_RETURN(g.state, ParseEnum<api::GpuState>(r.Text(12), "GPU state"));
  g.version = r.Int(13);
  g.created_at = r.Time(14);
  g.updated_at = r.Time(15);
  auto reasons = json::ParseAs<std::vector<std::string>>(r.Text(16));
  if (!reasons) return std::unexpected(CorruptRow("GPU health_reasons"));
  g.health_reasons = std::move(*reasons);
  g.pci_bus_id = r.Text(17);
  g.mig_enabled = r.Int(18) != 0;
  auto peers = json::ParseAs<std::vector<std::string>>(r.Text(19));
  if (!peers) return std::unexpected(CorruptRow("GPU nvlink_peers"));
  g.nvlink_peers = std::move(*peers);
  return g;
}

constexpr std::string_view kJoinTokenSelect =
    "SELECT j.id, j.org_id, j.description, j.secret_hash, j.expires_at, j.uses, j.last_used_at,"
    " j.version, j.created_at, j.updated_at";
constexpr std::string_view kJoinTokenFrom = " FROM join_tokens j";

Result<JoinTokenRecord> JoinTokenFromRow(const Row& r) {
  JoinTokenRecord j;
  j.id = JoinTokenId::FromTrusted(r.Text(0));
  j.org_id = OrgId::FromTrusted(r.Text(1));
  j.description = r.Text(2);
  j.secret_hash = r.Text(3);
  j.expires_at = r.Time(4);
  j.uses = r.Int(5);
  j.last_used_at = r.OptTime(6);
  j.version = r.Int(7);
  j.created_at = r.Time(8);
  j.updated_at = r.Time(9);
  return j;
}

constexpr std::string_view kEventSelect =
    "SELECT seq, id, org_id, type, source, subject, time, data, actor, outcome FROM events";

EventRecord EventFromRow(const Row& r) {
  EventRecord e;
  e.seq = r.Int(0);
  e.id = EventId::FromTrusted(r.Text(1));
  e.org_id = OrgId::FromTrusted(r.Text(2));
  e.type = r.Text(3);
  e.source = r.Text(4);
  e.subject = r.Text(5);
  e.time = r.Time(6);
  e.data_json = r.Text(7);
  e.actor = r.Text(8);
  e.outcome = r.Text(9);
  return e;
}

constexpr std::string_view kIdempotencySelect =
    "SELECT scope, key, method_path, request_hash, completed, status, response_headers,"
    " response_body, created_at FROM idempotency_keys";

IdempotencyRecord IdempotencyFromRow(const Row& r) {
  IdempotencyRecord i;
  i.scope = r.Text(0);
  i.key = r.Text(1);
  i.method_path = r.Text(2);
  i.request_hash = r.Text(3);
  i.completed = r.Int(4) != 0;
  i.status = r.Int(5);
  i.response_headers_json = r.Text(6);
  i.response_body = r.Text(7);
  i.created_at = r.Time(8);
  return i;
}

const ListTable& GpuTypeTable() {
  static const ListTable t{&GpuTypeListSpec(),
                           kGpuTypeSelect,
                           kGpuTypeFrom,
                           "t.org_id",
                           "t.id",
                           "t.created_at",
                           {{"name", "t.name"},
                            {"vendor", "t.vendor"},
                            {"architecture", "t.architecture"},
                            {"product_name", "t.product_name"},
                            {"created_at", "t.created_at"},
                            {"memory_mib", "t.memory_mib"},
                            {"hourly_price_micros", "t.hourly_price_micros"}}};
  return t;
}

const ListTable& NodeTable() {
  static const ListTable t{&NodeListSpec(),
                           kNodeSelect,
                           kNodeFrom,
                           "n.org_id",
                           "n.id",
                           "n.created_at",
                           {{"name", "n.name"},
                            {"hostname", "n.hostname"},
                            {"state", "n.state"},
                            {"cordoned", "n.cordoned"},
                            {"created_at", "n.created_at"},
                            {"gpu_count", "n.gpu_count"}}};
  return t;
}

const ListTable& GpuTable() {
  static const ListTable t{&GpuListSpec(),
                           kGpuSelect,
                           kGpuFrom,
                           "g.org_id",
                           "g.id",
                           "g.created_at",
                           {{"node_id", "g.node_id"},
                            {"state", "g.state"},
                            {"gpu_type", "ty.name"},
                            {"uuid", "g.uuid"},
                            {"product_name", "g.product_name"},
                            {"created_at", "g.created_at"},
                            {"index", "g.idx"},
                            {"memory_mib", "g.memory_mib"}}};
  return t;
}

const ListTable& JoinTokenTable() {
  static const ListTable t{&JoinTokenListSpec(),
                           kJoinTokenSelect,
                           kJoinTokenFrom,
                           "j.org_id",
                           "j.id",
                           "j.created_at",
                           {{"created_at", "j.created_at"}, {"expires_at", "j.expires_at"}}};
  return t;
}

}  // namespace

const ListField* ListSpec::Find(std::string_view name) const {
  for (const ListField& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const ListSpec& GpuTypeListSpec() {
  static const ListSpec spec{
      "gpu-types",
      {
          Field("name", FieldType::kText, true, true, "The catalogue name, e.g. H100-80GB."),
          Field("vendor", FieldType::kText, true, false, "The vendor, e.g. nvidia."),
          Field("architecture", FieldType::kText, true, false, "The architecture, e.g. hopper."),
          Field("product_name", FieldType::kText, true, false,
                "The product name the driver reports."),
          Field("created_at", FieldType::kTime, false, true, "When the type was created."),
          Field("memory_mib", FieldType::kInt, false, true, "Memory per GPU in MiB."),
          Field("hourly_price_micros", FieldType::kInt, false, true,
                "Price of one GPU-hour in micro-units of the currency."),
      },
  };
  return spec;
}

const ListSpec& NodeListSpec() {
  static const ListSpec spec{
      "nodes",
      {
          Field("name", FieldType::kText, true, true,
                "The node's name, unique in the organisation."),
          Field("hostname", FieldType::kText, true, false, "The host name the agent reported."),
          EnumField<api::NodeState>("state", true, "The node state: ready or unreachable."),
          Field("cordoned", FieldType::kBool, true, false,
                "Whether the node is cordoned (takes no new work)."),
          Field("created_at", FieldType::kTime, false, true, "When the node registered."),
          Field("gpu_count", FieldType::kInt, false, true, "How many GPUs the node has."),
      },
  };
  return spec;
}

const ListSpec& GpuListSpec() {
  static const ListSpec spec{
      "gpus",
      {
          Field("node_id", FieldType::kText, true, true, "The id of the GPU's node."),
          EnumField<api::GpuState>("state", true,
                                   "The GPU state: ready, unhealthy or unreachable."),
          Field("gpu_type", FieldType::kText, true, false, "The name of the GPU's type."),
          Field("uuid", FieldType::kText, true, false, "The GPU UUID the driver reports."),
          Field("product_name", FieldType::kText, true, false,
                "The product name the driver reports."),
          Field("created_at", FieldType::kTime, false, true, "When the GPU was first reported."),
          Field("index", FieldType::kInt, false, true, "The GPU's index on its node."),
          Field("memory_mib", FieldType::kInt, false, true, "The GPU's memory in MiB."),
      },
  };
  return spec;
}

const ListSpec& JoinTokenListSpec() {
  static const ListSpec spec{
      "join-tokens",
      {
          Field("created_at", FieldType::kTime, false, true, "When the token was created."),
          Field("expires_at", FieldType::kTime, false, true, "When the token stops working."),
      },
  };
  return spec;
}

const ListSpec& EventListSpec() {
  static const ListSpec spec{
      "events",
      {
          Field("type", FieldType::kText, true, false,
                "The event type, e.g. hangar.node.unreachable."),
          Field("subject", FieldType::kText, true, false,
                "The id of the object the event is about."),
      },
      "-time",
  };
  return spec;
}

// ---- Organisations and keys --------------------------------------------------------------------

Status InsertOrg(Tx& tx, const OrgRecord& org) {
  return StatusOf(
      tx.Exec("INSERT INTO orgs (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
              {org.id.str(), org.name, ToUnixMicros(org.created_at)}));
}

Result<int64_t> CountOrgs(Tx& tx) {
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM orgs"));
  return rows.at(0).Int(0);
}

// ---- Join tokens -------------------------------------------------------------------------------

Status InsertJoinToken(Tx& tx, const JoinTokenRecord& t) {
  return StatusOf(
      tx.Exec("INSERT INTO join_tokens (id, org_id, description, secret_hash, expires_at, uses,"
              " last_used_at, version, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
              {t.id.str(), t.org_id.str(), t.description, t.secret_hash, ToUnixMicros(t.expires_at),
               t.uses, Nullable(t.last_used_at), t.version, ToUnixMicros(t.created_at),
               ToUnixMicros(t.updated_at)}));
}

Result<std::optional<JoinTokenRecord>> FindJoinTokenByHash(Tx& tx, std::string_view secret_hash) {
  std::string sql = Concat({kJoinTokenSelect, kJoinTokenFrom, " WHERE j.secret_hash = $1"});
  SqlValue params[] = {std::string(secret_hash)};
  return QueryOne<JoinTokenRecord>(tx, sql, params, JoinTokenFromRow);
}

Result<std::optional<JoinTokenRecord>> GetJoinToken(Tx& tx, const OrgId& org,
                                                    const JoinTokenId& id) {
  std::string sql =
      Concat({kJoinTokenSelect, kJoinTokenFrom, " WHERE j.org_id = $1 AND j.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<JoinTokenRecord>(tx, sql, params, JoinTokenFromRow);
}

Result<Page<JoinTokenRecord>> ListJoinTokens(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<JoinTokenRecord>(tx, JoinTokenTable(), org, query, JoinTokenFromRow);
}

Status DeleteJoinToken(Tx& tx, const OrgId& org, const JoinTokenId& id) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n,
      tx.Exec("DELETE FROM join_tokens WHERE org_id = $1 AND id = $2", {org.str(), id.str()}));
  if (n == 0) return std::unexpected(Error::NotFound("join token not found"));
  return Ok();
}

Status RecordJoinTokenUse(Tx& tx, const JoinTokenId& id, Timestamp now) {
  HANGAR_ASSIGN_OR_RETURN(int64_t n,
                          tx.Exec("UPDATE join_tokens SET uses = uses + 1, last_used_at = $2,"
                                  " updated_at = $2, version = version + 1 WHERE id = $1",
                                  {id.str(), ToUnixMicros(now)}));
  if (n == 0) return std::unexpected(Error::NotFound("join token not found"));
  return Ok();
}

// ---- GPU types ---------------------------------------------------------------------------------

Status InsertGpuType(Tx& tx, const GpuTypeRecord& t) {
  return StatusOf(
      tx.Exec("INSERT INTO gpu_types (id, org_id, name, vendor, architecture, product_name,"
              " memory_mib, compute_capability, hourly_price_micros, currency, version, created_at,"
              " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
              {t.id.str(), t.org_id.str(), t.name, t.vendor, t.architecture, t.product_name,
               t.memory_mib, t.compute_capability, t.hourly_price_micros, t.currency, t.version,
               ToUnixMicros(t.created_at), ToUnixMicros(t.updated_at)}));
}

Result<std::optional<GpuTypeRecord>> GetGpuType(Tx& tx, const OrgId& org, const GpuTypeId& id) {
  static const std::string sql =
      Concat({kGpuTypeSelect, kGpuTypeFrom, " WHERE t.org_id = $1 AND t.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<GpuTypeRecord>(tx, sql, params, GpuTypeFromRow);
}

Result<std::optional<GpuTypeRecord>> FindGpuTypeByProductName(Tx& tx, const OrgId& org,
                                                              std::string_view product_name) {
  static const std::string sql =
      Concat({kGpuTypeSelect, kGpuTypeFrom, " WHERE t.org_id = $1 AND t.product_name = $2"});
  SqlValue params[] = {org.str(), std::string(product_name)};
  return QueryOne<GpuTypeRecord>(tx, sql, params, GpuTypeFromRow);
}

Result<Page<GpuTypeRecord>> ListGpuTypes(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<GpuTypeRecord>(tx, GpuTypeTable(), org, query, GpuTypeFromRow);
}

// ---- Nodes -------------------------------------------------------------------------------------

Status InsertNode(Tx& tx, const NodeRecord& n) {
  return StatusOf(tx.Exec(
      "INSERT INTO nodes (id, org_id, name, hostname, agent_version, state, cordoned, labels,"
      " gpu_count, last_heartbeat_at, version, created_at, updated_at, cordon_reason,"
      " drain_requested_at, taints, drain_deadline)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
      {n.id.str(), n.org_id.str(), n.name, n.hostname, n.agent_version,
       std::string(json::EnumName(n.state)), int64_t{n.cordoned ? 1 : 0}, LabelsToJson(n.labels),
       n.gpu_count, Nullable(n.last_heartbeat_at), n.version, ToUnixMicros(n.created_at),
       ToUnixMicros(n.updated_at), n.cordon_reason, Nullable(n.drain_requested_at),
       json::Serialize(n.taints), Nullable(n.drain_deadline)}));
}

Result<std::optional<NodeRecord>> GetNode(Tx& tx, const OrgId& org, const NodeId& id) {
  static const std::string sql =
      Concat({kNodeSelect, kNodeFrom, " WHERE n.org_id = $1 AND n.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<NodeRecord>(tx, sql, params, NodeFromRow);
}

Result<std::optional<NodeRecord>> FindNodeByName(Tx& tx, const OrgId& org, std::string_view name) {
  static const std::string sql =
      Concat({kNodeSelect, kNodeFrom, " WHERE n.org_id = $1 AND n.name = $2"});
  SqlValue params[] = {org.str(), std::string(name)};
  return QueryOne<NodeRecord>(tx, sql, params, NodeFromRow);
}

Result<Page<NodeRecord>> ListNodes(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<NodeRecord>(tx, NodeTable(), org, query, NodeFromRow);
}

Status UpdateGpuType(Tx& tx, const GpuTypeRecord& t) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE gpu_types SET name = $3, hourly_price_micros = $4, currency = $5,"
              " updated_at = $6, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $7",
              {t.org_id.str(), t.id.str(), t.name, t.hourly_price_micros, t.currency,
               ToUnixMicros(t.updated_at), t.version}));
  if (changed == 0) return UpdateMissed(tx, "gpu_types", "GPU type", t.org_id.str(), t.id.str());
  return Ok();
}

Status UpdateNode(Tx& tx, const NodeRecord& n) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec(
          "UPDATE nodes SET name = $3, hostname = $4, agent_version = $5, state = $6,"
          " cordoned = $7, labels = $8, gpu_count = $9, last_heartbeat_at = $10,"
          " updated_at = $11, cordon_reason = $13, drain_requested_at = $14, taints = $15,"
          " drain_deadline = $16, version = version + 1"
          " WHERE org_id = $1 AND id = $2 AND version = $12",
          {n.org_id.str(), n.id.str(), n.name, n.hostname, n.agent_version,
           std::string(json::EnumName(n.state)), int64_t{n.cordoned ? 1 : 0},
           LabelsToJson(n.labels), n.gpu_count, Nullable(n.last_heartbeat_at),
           ToUnixMicros(n.updated_at), n.version, n.cordon_reason, Nullable(n.drain_requested_at),
           json::Serialize(n.taints), Nullable(n.drain_deadline)}));
  if (changed == 0) return UpdateMissed(tx, "nodes", "node", n.org_id.str(), n.id.str());
  return Ok();
}

Result<std::vector<NodeRecord>> ListNodesWithHeartbeatBefore(Tx& tx, api::NodeState state,
                                                             Timestamp cutoff) {
  // A node that never sent a heartbeat counts from its registration.
  static const std::string sql =
      Concat({kNodeSelect, kNodeFrom,
              " WHERE n.state = $1 AND (n.last_heartbeat_at < $2 OR"
              " (n.last_heartbeat_at IS NULL AND n.created_at < $2)) ORDER BY n.id"});
  SqlValue params[] = {std::string(json::EnumName(state)), ToUnixMicros(cutoff)};
  return QueryAll<NodeRecord>(tx, sql, params, NodeFromRow);
}

// ---- GPUs --------------------------------------------------------------------------------------

namespace {
// GPUs whose type is not (yet) in the catalogue have no type: NULL rather than a dangling id.
SqlValue GpuTypeParam(const GpuTypeId& id) { return id.empty() ? Null() : SqlValue(id.str()); }
}  // namespace

Status InsertGpu(Tx& tx, const GpuRecord& g) {
  return StatusOf(tx.Exec(
      "INSERT INTO gpus (id, org_id, node_id, idx, uuid, gpu_type_id, product_name,"
      " memory_mib, driver_version, cuda_version, compute_capability, state, version,"
      " created_at, updated_at, health_reasons, pci_bus_id, mig_enabled, nvlink_peers)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
      " $17, $18, $19)",
      {g.id.str(), g.org_id.str(), g.node_id.str(), g.index, g.uuid, GpuTypeParam(g.gpu_type_id),
       g.product_name, g.memory_mib, g.driver_version, g.cuda_version, g.compute_capability,
       std::string(json::EnumName(g.state)), g.version, ToUnixMicros(g.created_at),
       ToUnixMicros(g.updated_at), json::Serialize(g.health_reasons), g.pci_bus_id,
       int64_t{g.mig_enabled ? 1 : 0}, json::Serialize(g.nvlink_peers)}));
}

Status UpdateGpu(Tx& tx, const GpuRecord& g) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE gpus SET node_id = $3, idx = $4, uuid = $5, gpu_type_id = $6,"
              " product_name = $7, memory_mib = $8, driver_version = $9, cuda_version = $10,"
              " compute_capability = $11, state = $12, updated_at = $13, health_reasons = $15,"
              " pci_bus_id = $16, mig_enabled = $17, nvlink_peers = $18, version = version + 1"
              " WHERE org_id = $1 AND id = $2 AND version = $14",
              {g.org_id.str(), g.id.str(), g.node_id.str(), g.index, g.uuid,
               GpuTypeParam(g.gpu_type_id), g.product_name, g.memory_mib, g.driver_version,
               g.cuda_version, g.compute_capability, std::string(json::EnumName(g.state)),
               ToUnixMicros(g.updated_at), g.version, json::Serialize(g.health_reasons),
               g.pci_bus_id, int64_t{g.mig_enabled ? 1 : 0}, json::Serialize(g.nvlink_peers)}));
  if (changed == 0) return UpdateMissed(tx, "gpus", "GPU", g.org_id.str(), g.id.str());
  return Ok();
}

Status DeleteGpu(Tx& tx, const OrgId& org, const GpuId& id) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("DELETE FROM gpus WHERE org_id = $1 AND id = $2", {org.str(), id.str()}));
  if (n == 0) return std::unexpected(Error::NotFound("GPU not found"));
  return Ok();
}

Result<std::optional<GpuRecord>> GetGpu(Tx& tx, const OrgId& org, const GpuId& id) {
  static const std::string sql =
      Concat({kGpuSelect, kGpuFrom, " WHERE g.org_id = $1 AND g.id = $2"});
  SqlValue params[] = {org.str(), id.str()};
  return QueryOne<GpuRecord>(tx, sql, params, GpuFromRow);
}

Result<std::optional<GpuRecord>> FindGpuByUuid(Tx& tx, const OrgId& org, std::string_view uuid) {
  static const std::string sql =
      Concat({kGpuSelect, kGpuFrom, " WHERE g.org_id = $1 AND g.uuid = $2"});
  SqlValue params[] = {org.str(), std::string(uuid)};
  return QueryOne<GpuRecord>(tx, sql, params, GpuFromRow);
}

Result<std::vector<GpuRecord>> ListGpusOfNode(Tx& tx, const OrgId& org, const NodeId& node) {
  static const std::string sql = Concat(
      {kGpuSelect, kGpuFrom, " WHERE g.org_id = $1 AND g.node_id = $2 ORDER BY g.idx, g.id"});
  SqlValue params[] = {org.str(), node.str()};
  return QueryAll<GpuRecord>(tx, sql, params, GpuFromRow);
}

Result<Page<GpuRecord>> ListGpus(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<GpuRecord>(tx, GpuTable(), org, query, GpuFromRow);
}

// ---- Events ------------------------------------------------------------------------------------

Status AppendEvent(Tx& tx, const EventRecord& e) {
  return StatusOf(
      tx.Exec("INSERT INTO events (id, org_id, type, source, subject, time, data, actor, outcome)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
              {e.id.str(), e.org_id.str(), e.type, e.source, e.subject, ToUnixMicros(e.time),
               e.data_json, e.actor, e.outcome}));
}

Result<std::vector<EventRecord>> ListEvents(Tx& tx, int64_t after_seq, int64_t limit) {
  static const std::string sql = Concat({kEventSelect, " WHERE seq > $1 ORDER BY seq LIMIT $2"});
  SqlValue params[] = {after_seq, limit};
  return QueryAll<EventRecord>(tx, sql, params,
                               [](const Row& r) -> Result<EventRecord> { return EventFromRow(r); });
}

Result<Page<EventRecord>> ListOrgEvents(Tx& tx, const OrgId& org, const ListQuery& q) {
  // Audit records have their own list (ListAuditEvents); this is the domain-event log.
  return detail::ListEventsWhere(tx, org, q, "type NOT LIKE 'hangar.audit.%'", {"type", "subject"});
}

namespace detail {

Result<Page<EventRecord>> ListEventsWhere(Tx& tx, const OrgId& org, const ListQuery& q,
                                          std::string_view condition,
                                          std::initializer_list<std::string_view> filters_allowed) {
  std::string sql(kEventSelect);
  sql += " WHERE org_id = $1 AND ";
  sql += condition;
  std::vector<SqlValue> params{org.str()};
  std::string filters;  // what the page token is bound to
  auto add = [&](std::string_view condition, SqlValue value) {
    params.push_back(std::move(value));
    sql += " AND ";
    sql += condition;
    sql += " $" + std::to_string(params.size());
  };
  for (const auto& [name, value] : q.equals) {
    if (std::find(filters_allowed.begin(), filters_allowed.end(), name) == filters_allowed.end()) {
      return std::unexpected(Error::Invalid("events cannot be filtered by " + name)
                                 .Field("query:" + name, "is not a filter of this list"));
    }
    // `name` is one of the allowed column names, never the caller's text.
    add(name + " =", value);
    filters += name + "=" + std::get<std::string>(value) + "&";
  }
  if (q.created_after) {
    add("time >", ToUnixMicros(*q.created_after));
    filters += "after=" + std::to_string(ToUnixMicros(*q.created_after)) + "&";
  }
  if (q.created_before) {
    add("time <", ToUnixMicros(*q.created_before));
    filters += "before=" + std::to_string(ToUnixMicros(*q.created_before)) + "&";
  }
  if (!q.sort.empty()) {
    return std::unexpected(Error::Invalid("events are listed newest first and cannot be sorted")
                               .Field("query:sort", "is not supported on this list"));
  }
  const std::string filter_hash = Sha256Hex(filters).substr(0, 16);
  if (!q.page_token.empty()) {
    // The token is "<seq>.<filter hash>" in base64url: the last event of the previous page.
    auto decoded = Base64UrlDecode(q.page_token);
    auto dot = decoded ? decoded->find('.') : std::string::npos;
    int64_t before_seq = 0;
    bool ok = dot != std::string::npos && decoded->substr(dot + 1) == filter_hash;
    if (ok) {
      auto [ptr, ec] = std::from_chars(decoded->data(), decoded->data() + dot, before_seq);
      ok = ec == std::errc() && ptr == decoded->data() + dot;
    }
    if (!ok) return std::unexpected(BadPageToken());
    add("seq <", before_seq);
  }
  params.push_back(q.limit + 1);
  sql += " ORDER BY seq DESC LIMIT $" + std::to_string(params.size());
  HANGAR_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  Page<EventRecord> page;
  for (const auto& row : rows) page.items.push_back(EventFromRow(row));
  if (static_cast<int64_t>(page.items.size()) > q.limit) {
    page.items.pop_back();
    page.next_page_token =
        Base64UrlEncode(std::to_string(page.items.back().seq) + "." + filter_hash);
  }
  return page;
}

}  // namespace detail

// ---- Idempotency keys --------------------------------------------------------------------------

Result<std::optional<IdempotencyRecord>> ClaimIdempotencyKey(Tx& tx, const IdempotencyRecord& claim,
                                                             Timestamp abandoned_before,
                                                             Timestamp expired_before) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t inserted,
      tx.Exec("INSERT INTO idempotency_keys (scope, key, method_path, request_hash, completed,"
              " status, response_headers, response_body, created_at)"
              " VALUES ($1, $2, $3, $4, 0, 0, '', '', $5) ON CONFLICT (scope, key) DO NOTHING",
              {claim.scope, claim.key, claim.method_path, claim.request_hash,
               ToUnixMicros(claim.created_at)}));
  if (inserted == 1) return std::optional<IdempotencyRecord>();

  static const std::string select = Concat({kIdempotencySelect, " WHERE scope = $1 AND key = $2"});
  SqlValue params[] = {claim.scope, claim.key};
  HANGAR_ASSIGN_OR_RETURN(
      auto existing, QueryOne<IdempotencyRecord>(tx, select, params,
                                                 [](const Row& r) -> Result<IdempotencyRecord> {
                                                   return IdempotencyFromRow(r);
                                                 }));
  if (!existing) {
    // Inserted by a transaction that has since rolled back: the conflict is gone.
    return std::unexpected(Error::Unavailable("idempotency key is busy; retry"));
  }
  bool expired = existing->created_at < expired_before;
  bool abandoned = !existing->completed && existing->created_at < abandoned_before;
  if (!expired && !abandoned) return existing;

  // Take the record over; the created_at guard makes a concurrent takeover lose cleanly.
  HANGAR_ASSIGN_OR_RETURN(
      int64_t taken,
      tx.Exec("UPDATE idempotency_keys SET method_path = $3, request_hash = $4, completed = 0,"
              " status = 0, response_headers = '', response_body = '', created_at = $5"
              " WHERE scope = $1 AND key = $2 AND created_at = $6",
              {claim.scope, claim.key, claim.method_path, claim.request_hash,
               ToUnixMicros(claim.created_at), ToUnixMicros(existing->created_at)}));
  if (taken == 0) {
    return std::unexpected(
        Error::Conflict("a request with this Idempotency-Key is already in progress"));
  }
  return std::optional<IdempotencyRecord>();
}

Status CompleteIdempotencyKey(Tx& tx, const IdempotencyRecord& c) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t n, tx.Exec("UPDATE idempotency_keys SET completed = 1, status = $3,"
                         " response_headers = $4, response_body = $5"
                         " WHERE scope = $1 AND key = $2 AND created_at = $6 AND completed = 0",
                         {c.scope, c.key, c.status, c.response_headers_json, c.response_body,
                          ToUnixMicros(c.created_at)}));
  if (n == 0) {
    return std::unexpected(
        Error::NotFound("the idempotency claim is gone or was taken over by a retry"));
  }
  return Ok();
}

Status ReleaseIdempotencyKey(Tx& tx, std::string_view scope, std::string_view key,
                             Timestamp claimed_at) {
  return StatusOf(
      tx.Exec("DELETE FROM idempotency_keys"
              " WHERE scope = $1 AND key = $2 AND created_at = $3 AND completed = 0",
              {std::string(scope), std::string(key), ToUnixMicros(claimed_at)}));
}

Result<int64_t> PurgeIdempotencyKeys(Tx& tx, Timestamp expired_before) {
  return tx.Exec("DELETE FROM idempotency_keys WHERE created_at < $1",
                 {ToUnixMicros(expired_before)});
}

}  // namespace hangar::store
