#include "fleet/fleet_service.h"

#include <spdlog/spdlog.h>

#include <map>
#include <regex>
#include <set>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "fleet/views.h"
#include "identity/api_keys.h"

namespace hangar::fleet {

namespace {

using identity::Principal;

constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxGpusPerNode = 64;

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// Names users type and scripts match on: 1..max of [A-Za-z0-9._-], starting alphanumeric.
bool IsValidName(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || !std::isalnum(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool IsPrintable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void CheckText(Error& e, std::string_view value, const char* pointer, size_t max) {
  if (value.empty()) {
    e.AddField(pointer, "must not be empty");
  } else if (value.size() > max) {
    e.AddField(pointer, "must be at most " + std::to_string(max) + " characters");
  } else if (!IsPrintable(value)) {
    e.AddField(pointer, "must not contain control characters");
  }
}

bool IsComputeCapability(std::string_view s) {
  static const std::regex kPattern("[0-9]{1,2}\\.[0-9]{1,2}");
  return std::regex_match(s.begin(), s.end(), kPattern);
}

void CheckLabel(Error& e, const std::string& pointer_prefix, const std::string& key,
                const std::optional<std::string>& value) {
  std::string pointer = pointer_prefix + "/" + json::EscapePointerToken(key);
  // Kubernetes-like: keys may carry a DNS-style prefix ("topology.hangar.dev/zone").
  bool key_ok = !key.empty() && key.size() <= 128;
  for (char c : key) key_ok &= IsNameChar(c) || c == '/';
  if (!key_ok) {
    e.AddField(pointer, "label keys are 1..128 characters of [A-Za-z0-9._/-]");
  } else if (value && (value->size() > 256 || !IsPrintable(*value))) {
    e.AddField(pointer, "label values are at most 256 printable characters");
  }
}

void CheckTaints(Error& e, const std::vector<api::NodeTaint>& taints) {
  if (taints.size() > 32) e.AddField("/taints", "a node has at most 32 taints");
  for (size_t i = 0; i < taints.size() && i < 32; ++i) {
    std::string at = "/taints/" + std::to_string(i);
    const auto& t = taints[i];
    bool key_ok = !t.key.empty() && t.key.size() <= 128;
    for (char c : t.key) key_ok &= IsNameChar(c) || c == '/';
    if (!key_ok) e.AddField(at + "/key", "taint keys are 1..128 characters of [A-Za-z0-9._/-]");
    if (t.value && (t.value->size() > 256 || !IsPrintable(*t.value))) {
      e.AddField(at + "/value", "taint values are at most 256 printable characters");
    }
    if (t.effect && *t.effect != "NoSchedule") {
      e.AddField(at + "/effect", "must be NoSchedule");
    }
  }
}

// Field checks shared by create and update.
void CheckGpuTypeName(Error& e, std::string_view name) {
  if (!IsValidName(name, 64)) {
    e.AddField("/name", "must be 1..64 characters of [A-Za-z0-9._-], starting alphanumeric");
  }
}
void CheckPrice(Error& e, int64_t micros) {
  if (micros < 0 || micros > 1'000'000'000'000) {
    e.AddField("/hourly_price_micros", "must be between 0 and 1000000000000 (1,000,000.00)");
  }
}
void CheckCurrency(Error& e, std::string_view currency) {
  bool ok = currency.size() == 3;
  for (char c : currency) ok &= (c >= 'A' && c <= 'Z');
  if (!ok) e.AddField("/currency", "must be an ISO 4217 code such as USD");
}

Status Validate(const api::CreateGpuTypeRequest& r) {
  Error e = Error::Invalid("the GPU type is not valid");
  CheckGpuTypeName(e, r.name);
  CheckText(e, r.vendor, "/vendor", 32);
  CheckText(e, r.architecture, "/architecture", 32);
  CheckText(e, r.product_name, "/product_name", 128);
  if (r.memory_mib < 1 || r.memory_mib > 16 * 1024 * 1024) {
    e.AddField("/memory_mib", "must be between 1 and 16777216 (16 TiB)");
  }
  if (!IsComputeCapability(r.compute_capability)) {
    e.AddField("/compute_capability", "must look like 9.0");
  }
  CheckPrice(e, r.hourly_price_micros);
  if (r.currency) CheckCurrency(e, *r.currency);
  if (!e.violations().empty()) return std::unexpected(std::move(e));
  return Ok();
}

Status Validate(const std::vector<api::AgentGpu>& gpus, const std::string& prefix, Error& e) {
  if (gpus.size() > kMaxGpusPerNode) {
    e.AddField(prefix, "at most " + std::to_string(kMaxGpusPerNode) + " GPUs per node");
  }
  std::set<int64_t> indexes;
  std::set<std::string> uuids;
  for (size_t i = 0; i < gpus.size(); ++i) {
    const auto& g = gpus[i];
    std::string p = prefix + "/" + std::to_string(i);
    if (g.index < 0 || g.index >= 1024 || !indexes.insert(g.index).second) {
      e.AddField(p + "/index", "must be unique and between 0 and 1023");
    }
    if (g.uuid.empty() || g.uuid.size() > 96 || !IsPrintable(g.uuid) ||
        !uuids.insert(g.uuid).second) {
      e.AddField(p + "/uuid", "must be a unique, non-empty identifier");
    }
    CheckText(e, g.product_name, (p + "/product_name").c_str(), 128);
    if (g.pci_bus_id && (g.pci_bus_id->size() > 32 || !IsPrintable(*g.pci_bus_id))) {
      e.AddField(p + "/pci_bus_id", "must be at most 32 printable characters");
    }
    auto short_list = [&](const std::optional<std::vector<std::string>>& list, const char* name) {
      if (!list) return;
      bool ok = list->size() <= 64;
      for (const auto& item : *list) ok &= item.size() <= 64 && IsPrintable(item);
      if (!ok) e.AddField(p + "/" + name, "at most 64 entries of at most 64 printable characters");
    };
    short_list(g.health_reasons, "health_reasons");
    short_list(g.nvlink_peers, "nvlink_peers");
    if (g.memory_mib < 0) e.AddField(p + "/memory_mib", "must not be negative");
    for (const auto* field :
         {&g.driver_version, &g.cuda_version, &g.compute_capability, &g.vendor, &g.architecture}) {
      if (field->size() > 64 || !IsPrintable(*field)) {
        e.AddField(p, "version and name fields are at most 64 printable characters");
        break;
      }
    }
  }
  return Ok();
}

// A catalogue name for a product the catalogue has not seen: "NVIDIA H100 80GB HBM3" ->
// "H100-80GB-HBM3".
std::string CatalogueNameFor(std::string_view product) {
  for (std::string_view prefix : {"NVIDIA ", "Tesla ", "AMD "}) {
    if (product.substr(0, prefix.size()) == prefix) product.remove_prefix(prefix.size());
  }
  std::string out;
  for (char c : product) {
    if (IsNameChar(c)) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty() || !std::isalnum(static_cast<unsigned char>(out[0]))) out = "gpu-" + out;
  return out.substr(0, 64);
}

api::GpuState ReportedState(const api::AgentGpu& g) {
  return g.healthy ? api::GpuState::ready : api::GpuState::unhealthy;
}

// "GPU 3 (xid_79, fell_off_bus)", for a cordon reason.
std::string DescribeUnhealthy(const api::AgentGpu& g) {
  std::string out = "GPU " + std::to_string(g.index);
  const auto reasons = g.health_reasons.value_or(std::vector<std::string>{});
  for (size_t i = 0; i < reasons.size(); ++i) out += (i ? ", " : " (") + reasons[i];
  if (!reasons.empty()) out += ")";
  return out;
}

}  // namespace

FleetService::FleetService(store::Store& store, const Clock& clock,
                           identity::Authenticator& authenticator, FleetOptions options)
    : store_(store), clock_(clock), authenticator_(authenticator), options_(options) {}

Status FleetService::WriteRetryingConflicts(const store::TxFunction& fn) {
  // On PostgreSQL (READ COMMITTED) a concurrent writer can bump a row's version between our
  // read and our optimistic update; re-running the whole function re-reads and re-applies.
  // SQLite's single writer never gets here more than once.
  constexpr int kAttempts = 5;
  Status s;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    s = store_.Write(fn);
    if (s || s.error().code() != ErrorCode::kPreconditionFailed) return s;
  }
  return std::unexpected(Error::Unavailable("the object is being changed concurrently; retry"));
}

Status FleetService::Emit(store::Tx& tx, const OrgId& org, std::string type, std::string subject,
                          std::string data_json, Timestamp now) {
  return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock_),
                                                   .org_id = org,
                                                   .type = std::move(type),
                                                   .source = "/hangar/fleet",
                                                   .subject = std::move(subject),
                                                   .time = now,
                                                   .data_json = std::move(data_json)});
}

// ---- Catalogue ----------------------------------------------------------------------------------

Result<store::GpuTypeRecord> FleetService::CreateGpuType(const Principal& who,
                                                         const api::CreateGpuTypeRequest& r) {
  HANGAR_TRY(Validate(r));
  Timestamp now = clock_.Now();
  store::GpuTypeRecord record{.id = GpuTypeId::Generate(clock_),
                              .org_id = who.org_id,
                              .name = r.name,
                              .vendor = r.vendor,
                              .architecture = r.architecture,
                              .product_name = r.product_name,
                              .memory_mib = r.memory_mib,
                              .compute_capability = r.compute_capability,
                              .hourly_price_micros = r.hourly_price_micros,
                              .currency = r.currency.value_or("USD"),
                              .created_at = now,
                              .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    if (auto s = store::InsertGpuType(tx, record); !s) {
      if (s.error().code() == ErrorCode::kAlreadyExists) {
        return std::unexpected(
            Error::AlreadyExists("a GPU type with this name or product name already exists")
                .Field("/name", "must be unique, as must /product_name")
                .Hint("list them with GET /api/v1/gpu-types?name=" + r.name));
      }
      return s;
    }
    return Emit(tx, who.org_id, "hangar.gpu_type.created", record.id.str(),
                json::Serialize(ToApi(record)), now);
  }));
  return record;
}

Result<store::GpuTypeRecord> FleetService::GetGpuType(const Principal& who, const GpuTypeId& id) {
  std::optional<store::GpuTypeRecord> found;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(found, store::GetGpuType(tx, who.org_id, id));
    return Ok();
  }));
  if (!found) return std::unexpected(Error::NotFound("no GPU type " + id.str()));
  return *found;
}

Result<store::GpuTypeRecord> FleetService::UpdateGpuType(const Principal& who, const GpuTypeId& id,
                                                         const api::UpdateGpuTypeRequest& patch,
                                                         std::optional<int64_t> if_match_version) {
  Error invalid = Error::Invalid("the GPU type update is not valid");
  if (patch.name) CheckGpuTypeName(invalid, *patch.name);
  if (patch.hourly_price_micros) CheckPrice(invalid, *patch.hourly_price_micros);
  if (patch.currency) CheckCurrency(invalid, *patch.currency);
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  std::optional<store::GpuTypeRecord> result;
  store::TxFunction apply = [&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto type, store::GetGpuType(tx, who.org_id, id));
    if (!type) return std::unexpected(Error::NotFound("no GPU type " + id.str()));
    if (if_match_version && *if_match_version != type->version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "the GPU type changed since it was read")
              .Hint("GET it again and retry with its current ETag in If-Match"));
    }
    store::GpuTypeRecord updated = *type;
    if (patch.name) updated.name = *patch.name;
    if (patch.hourly_price_micros) updated.hourly_price_micros = *patch.hourly_price_micros;
    if (patch.currency) updated.currency = *patch.currency;
    if (updated.name == type->name && updated.hourly_price_micros == type->hourly_price_micros &&
        updated.currency == type->currency) {
      result = *type;  // nothing to change: no write, no event
      return Ok();
    }
    if (updated.name != type->name) {
      // Checked first: on PostgreSQL a failed INSERT/UPDATE aborts the whole transaction.
      store::ListQuery by_name;
      by_name.equals.emplace_back("name", updated.name);
      by_name.limit = 1;
      HANGAR_ASSIGN_OR_RETURN(auto taken, store::ListGpuTypes(tx, who.org_id, by_name));
      if (!taken.items.empty()) {
        return std::unexpected(
            Error::AlreadyExists("a GPU type named '" + updated.name + "' already exists")
                .Field("/name", "must be unique"));
      }
    }
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateGpuType(tx, updated));
    updated.version += 1;
    HANGAR_TRY(Emit(tx, who.org_id, "hangar.gpu_type.updated", id.str(),
                    json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  };
  HANGAR_TRY(if_match_version ? store_.Write(apply) : WriteRetryingConflicts(apply));
  return *result;
}

Result<store::Page<store::GpuTypeRecord>> FleetService::ListGpuTypes(
    const Principal& who, const store::ListQuery& query) {
  store::Page<store::GpuTypeRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListGpuTypes(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

// ---- Nodes --------------------------------------------------------------------------------------

Result<store::NodeRecord> FleetService::GetNode(const Principal& who, const NodeId& id) {
  std::optional<store::NodeRecord> found;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(found, store::GetNode(tx, who.org_id, id));
    return Ok();
  }));
  if (!found) return std::unexpected(Error::NotFound("no node " + id.str()));
  return *found;
}

Result<store::Page<store::NodeRecord>> FleetService::ListNodes(const Principal& who,
                                                               const store::ListQuery& query) {
  store::Page<store::NodeRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListNodes(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Result<store::NodeRecord> FleetService::UpdateNode(const Principal& who, const NodeId& id,
                                                   const api::UpdateNodeRequest& patch,
                                                   std::optional<int64_t> if_match_version) {
  Error invalid = Error::Invalid("the node update is not valid");
  if (patch.labels) {
    for (const auto& [key, value] : *patch.labels) CheckLabel(invalid, "/labels", key, value);
  }
  if (patch.cordon_reason) CheckText(invalid, *patch.cordon_reason, "/cordon_reason", 512);
  if (patch.taints) CheckTaints(invalid, *patch.taints);
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  std::optional<store::NodeRecord> result;
  store::TxFunction apply = [&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto node, store::GetNode(tx, who.org_id, id));
    if (!node) return std::unexpected(Error::NotFound("no node " + id.str()));
    if (if_match_version && *if_match_version != node->version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "the node changed since it was read")
              .Hint("GET it again and retry with its current ETag in If-Match"));
    }
    store::NodeRecord updated = *node;
    if (patch.labels) {
      for (const auto& [key, value] : *patch.labels) {
        if (value) {
          updated.labels[key] = *value;
        } else {
          updated.labels.erase(key);
        }
      }
    }
    if (patch.cordoned) updated.cordoned = *patch.cordoned;
    if (patch.cordon_reason) updated.cordon_reason = *patch.cordon_reason;
    if (!updated.cordoned) {
      // Uncordoning ends a drain and forgets why it was cordoned.
      updated.cordon_reason.clear();
      updated.drain_requested_at.reset();
      updated.drain_deadline.reset();
    } else if (!node->cordoned && !patch.cordon_reason) {
      updated.cordon_reason = "cordoned by " + who.ActorId();
    }
    if (patch.taints) updated.taints = *patch.taints;
    if (updated.labels.size() > kMaxLabels) {
      return std::unexpected(
          Error::Invalid("too many labels")
              .Field("/labels", "a node has at most " + std::to_string(kMaxLabels) + " labels"));
    }
    if (updated.labels == node->labels && updated.cordoned == node->cordoned &&
        updated.cordon_reason == node->cordon_reason && updated.taints == node->taints &&
        updated.drain_requested_at == node->drain_requested_at) {
      result = *node;  // nothing to change: no write, no event
      return Ok();
    }
    Timestamp now = clock_.Now();
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateNode(tx, updated));
    updated.version += 1;
    std::string type = updated.cordoned != node->cordoned
                           ? (updated.cordoned ? "hangar.node.cordoned" : "hangar.node.uncordoned")
                           : "hangar.node.updated";
    HANGAR_TRY(Emit(tx, who.org_id, type, id.str(), json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  };
  // With If-Match the caller asked for exactly that version: a concurrent change is their 412.
  HANGAR_TRY(if_match_version ? store_.Write(apply) : WriteRetryingConflicts(apply));
  return *result;
}

Result<store::NodeRecord> FleetService::DrainNode(const Principal& who, const NodeId& id,
                                                  const api::DrainNodeRequest& request) {
  Error invalid = Error::Invalid("the drain request is not valid");
  if (request.reason) CheckText(invalid, *request.reason, "/reason", 512);
  if (request.timeout_seconds &&
      (*request.timeout_seconds < 0 || *request.timeout_seconds > 30LL * 24 * 3600)) {
    invalid.AddField("/timeout_seconds", "must be 0..2592000 (30 days)");
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  std::optional<store::NodeRecord> result;
  HANGAR_TRY(WriteRetryingConflicts([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto node, store::GetNode(tx, who.org_id, id));
    if (!node) return std::unexpected(Error::NotFound("no node " + id.str()));
    Timestamp now = clock_.Now();
    store::NodeRecord updated = *node;
    updated.cordoned = true;
    updated.cordon_reason = request.reason.value_or("drained by " + who.ActorId());
    if (!updated.drain_requested_at) updated.drain_requested_at = now;
    updated.drain_deadline =
        request.timeout_seconds
            ? std::optional<Timestamp>(now + std::chrono::seconds(*request.timeout_seconds))
            : std::nullopt;
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateNode(tx, updated));
    updated.version += 1;
    HANGAR_TRY(Emit(tx, who.org_id, "hangar.node.draining", id.str(),
                    json::Serialize(ToApi(updated)), now));
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

// ---- GPUs ---------------------------------------------------------------------------------------

Result<store::GpuRecord> FleetService::GetGpu(const Principal& who, const GpuId& id) {
  std::optional<store::GpuRecord> found;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(found, store::GetGpu(tx, who.org_id, id));
    return Ok();
  }));
  if (!found) return std::unexpected(Error::NotFound("no GPU " + id.str()));
  return *found;
}

Result<store::Page<store::GpuRecord>> FleetService::ListGpus(const Principal& who,
                                                             const store::ListQuery& query) {
  store::Page<store::GpuRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListGpus(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

// ---- Join tokens --------------------------------------------------------------------------------

Result<CreatedJoinToken> FleetService::CreateJoinToken(const Principal& who,
                                                       const api::CreateJoinTokenRequest& r) {
  Error invalid = Error::Invalid("the join token request is not valid");
  if (r.description && (r.description->size() > 256 || !IsPrintable(*r.description))) {
    invalid.AddField("/description", "must be at most 256 printable characters");
  }
  Micros ttl = options_.join_token_default_ttl;
  if (r.ttl_seconds) {
    int64_t max_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(options_.join_token_max_ttl).count();
    if (*r.ttl_seconds < 60 || *r.ttl_seconds > max_seconds) {
      invalid.AddField("/ttl_seconds", "must be between 60 and " + std::to_string(max_seconds));
    }
    ttl = std::chrono::seconds(*r.ttl_seconds);
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  Timestamp now = clock_.Now();
  identity::GeneratedSecret secret = identity::GenerateSecret(identity::kJoinTokenPrefix);
  store::JoinTokenRecord record{.id = JoinTokenId::Generate(clock_),
                                .org_id = who.org_id,
                                .description = r.description.value_or(""),
                                .secret_hash = secret.hash,
                                .expires_at = now + ttl,
                                .created_at = now,
                                .updated_at = now};
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::InsertJoinToken(tx, record));
    return Emit(tx, who.org_id, "hangar.join_token.created", record.id.str(),
                json::Serialize(ToApi(record)), now);
  }));
  return CreatedJoinToken{std::move(record), std::move(secret.secret)};
}

Result<store::Page<store::JoinTokenRecord>> FleetService::ListJoinTokens(
    const Principal& who, const store::ListQuery& query) {
  store::Page<store::JoinTokenRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListJoinTokens(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Status FleetService::DeleteJoinToken(const Principal& who, const JoinTokenId& id,
                                     std::optional<int64_t> if_match_version) {
  Timestamp now = clock_.Now();
  return store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto token, store::GetJoinToken(tx, who.org_id, id));
    if (!token) return std::unexpected(Error::NotFound("no join token " + id.str()));
    if (if_match_version && *if_match_version != token->version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "the join token changed since it was read")
              .Hint("GET it again and retry with its current ETag in If-Match"));
    }
    HANGAR_TRY(store::DeleteJoinToken(tx, who.org_id, id));
    return Emit(tx, who.org_id, "hangar.join_token.deleted", id.str(),
                R"({"id":")" + id.str() + "\"}", now);
  });
}

// ---- Agent protocol -----------------------------------------------------------------------------

Result<GpuTypeId> FleetService::ResolveGpuType(store::Tx& tx, const OrgId& org,
                                               const api::AgentGpu& gpu, Timestamp now) {
  HANGAR_ASSIGN_OR_RETURN(auto known, store::FindGpuTypeByProductName(tx, org, gpu.product_name));
  if (known) return known->id;
  // A product the catalogue has not seen: add it (price 0 until an admin sets one) so the GPU is
  // visible at once. Pick a free name first: on PostgreSQL a failed INSERT would abort the
  // whole transaction, so a duplicate must be avoided rather than caught.
  std::string name = CatalogueNameFor(gpu.product_name);
  for (int attempt = 0;; ++attempt) {
    store::ListQuery by_name;
    by_name.equals.emplace_back("name", name);
    by_name.limit = 1;
    HANGAR_ASSIGN_OR_RETURN(auto page, store::ListGpuTypes(tx, org, by_name));
    if (page.items.empty()) break;
    name = CatalogueNameFor(gpu.product_name).substr(0, 56) + "-" +
           Sha256Hex(gpu.product_name + std::to_string(attempt)).substr(0, 6);
  }
  store::GpuTypeRecord type{.id = GpuTypeId::Generate(clock_),
                            .org_id = org,
                            .name = name,
                            .vendor = gpu.vendor.empty() ? "nvidia" : gpu.vendor,
                            .architecture = gpu.architecture.empty() ? "unknown" : gpu.architecture,
                            .product_name = gpu.product_name,
                            .memory_mib = gpu.memory_mib,
                            .compute_capability = gpu.compute_capability,
                            .hourly_price_micros = 0,
                            .currency = "USD",
                            .created_at = now,
                            .updated_at = now};
  HANGAR_TRY(store::InsertGpuType(tx, type));
  HANGAR_TRY(Emit(tx, org, "hangar.gpu_type.discovered", type.id.str(),
                  json::Serialize(ToApi(type)), now));
  return type.id;
}

Result<std::vector<std::string>> FleetService::SyncInventory(
    store::Tx& tx, const store::NodeRecord& node, const std::vector<api::AgentGpu>& reported,
    Timestamp now) {
  std::vector<std::string> turned_unhealthy;
  HANGAR_ASSIGN_OR_RETURN(auto stored, store::ListGpusOfNode(tx, node.org_id, node.id));
  std::map<std::string, const api::AgentGpu*> by_uuid;
  for (const auto& g : reported) by_uuid[g.uuid] = &g;

  // Removals first, so a replaced card's index is free for its successor.
  std::map<std::string, store::GpuRecord> kept;
  for (auto& gpu : stored) {
    if (by_uuid.contains(gpu.uuid)) {
      kept.emplace(gpu.uuid, std::move(gpu));
      continue;
    }
    HANGAR_TRY(store::DeleteGpu(tx, node.org_id, gpu.id));
    HANGAR_TRY(Emit(tx, node.org_id, "hangar.gpu.removed", gpu.id.str(),
                    json::Serialize(ToApi(gpu)), now));
  }
  // Cards whose index changed (a new card enumerated before them, or two swapped) are parked on
  // a negative index first: (node, index) is unique, and rows are updated one at a time.
  for (auto& [uuid, gpu] : kept) {
    if (gpu.index == by_uuid.at(uuid)->index) continue;
    gpu.index = -1 - gpu.index;
    HANGAR_TRY(store::UpdateGpu(tx, gpu));
    gpu.version += 1;
  }
  for (const auto& g : reported) {
    HANGAR_ASSIGN_OR_RETURN(GpuTypeId type_id, ResolveGpuType(tx, node.org_id, g, now));
    auto it = kept.find(g.uuid);
    std::optional<store::GpuRecord> old;
    if (it != kept.end()) {
      old = it->second;
    } else {
      // A card this organisation knows on another node moved here: keep its id and history.
      HANGAR_ASSIGN_OR_RETURN(old, store::FindGpuByUuid(tx, node.org_id, g.uuid));
    }
    if (!old) {
      store::GpuRecord gpu{.id = GpuId::Generate(clock_),
                           .org_id = node.org_id,
                           .node_id = node.id,
                           .index = g.index,
                           .uuid = g.uuid,
                           .gpu_type_id = type_id,
                           .product_name = g.product_name,
                           .memory_mib = g.memory_mib,
                           .driver_version = g.driver_version,
                           .cuda_version = g.cuda_version,
                           .compute_capability = g.compute_capability,
                           .state = ReportedState(g),
                           .created_at = now,
                           .updated_at = now,
                           .health_reasons = g.health_reasons.value_or(std::vector<std::string>{}),
                           .pci_bus_id = g.pci_bus_id.value_or(""),
                           .mig_enabled = g.mig_enabled.value_or(false),
                           .nvlink_peers = g.nvlink_peers.value_or(std::vector<std::string>{})};
      if (gpu.state == api::GpuState::unhealthy) turned_unhealthy.push_back(DescribeUnhealthy(g));
      HANGAR_TRY(store::InsertGpu(tx, gpu));
      HANGAR_ASSIGN_OR_RETURN(auto added, store::GetGpu(tx, node.org_id, gpu.id));
      HANGAR_TRY(Emit(tx, node.org_id, "hangar.gpu.added", gpu.id.str(),
                      json::Serialize(ToApi(added ? *added : gpu)), now));
      continue;
    }
    store::GpuRecord updated = *old;
    updated.node_id = node.id;
    updated.index = g.index;
    updated.gpu_type_id = type_id;
    updated.product_name = g.product_name;
    updated.memory_mib = g.memory_mib;
    updated.driver_version = g.driver_version;
    updated.cuda_version = g.cuda_version;
    updated.compute_capability = g.compute_capability;
    updated.state = ReportedState(g);
    updated.health_reasons = g.health_reasons.value_or(std::vector<std::string>{});
    updated.pci_bus_id = g.pci_bus_id.value_or("");
    updated.mig_enabled = g.mig_enabled.value_or(false);
    updated.nvlink_peers = g.nvlink_peers.value_or(std::vector<std::string>{});
    if (updated.state == api::GpuState::unhealthy && old->state != api::GpuState::unhealthy) {
      turned_unhealthy.push_back(DescribeUnhealthy(g));
    }
    if (updated.node_id == old->node_id && updated.index == old->index &&
        updated.gpu_type_id == old->gpu_type_id && updated.product_name == old->product_name &&
        updated.memory_mib == old->memory_mib && updated.driver_version == old->driver_version &&
        updated.cuda_version == old->cuda_version &&
        updated.compute_capability == old->compute_capability && updated.state == old->state &&
        updated.health_reasons == old->health_reasons && updated.pci_bus_id == old->pci_bus_id &&
        updated.mig_enabled == old->mig_enabled && updated.nvlink_peers == old->nvlink_peers) {
      continue;  // the steady state: a heartbeat that changes nothing writes nothing
    }
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateGpu(tx, updated));
    updated.version += 1;
    HANGAR_ASSIGN_OR_RETURN(auto fresh, store::GetGpu(tx, node.org_id, updated.id));
    std::string type = updated.node_id != old->node_id ? "hangar.gpu.moved"
                       : updated.state != old->state   ? "hangar.gpu.state_changed"
                                                       : "hangar.gpu.updated";
    HANGAR_TRY(Emit(tx, node.org_id, type, updated.id.str(),
                    json::Serialize(ToApi(fresh ? *fresh : updated)), now));
  }
  return turned_unhealthy;
}

Status FleetService::AutoCordon(store::Tx& tx, store::NodeRecord& node,
                                const std::vector<std::string>& turned_unhealthy, Timestamp now) {
  if (turned_unhealthy.empty() || !options_.auto_cordon_unhealthy || node.cordoned) return Ok();
  std::string reason = "auto: unhealthy GPU";
  for (size_t i = 0; i < turned_unhealthy.size(); ++i) {
    reason += (i ? "; " : " ") + turned_unhealthy[i];
  }
  node.cordoned = true;
  node.cordon_reason = reason;
  node.updated_at = now;
  HANGAR_TRY(store::UpdateNode(tx, node));
  node.version += 1;
  spdlog::warn("fleet: node {} cordoned: {}", node.name, reason);
  return Emit(tx, node.org_id, "hangar.node.cordoned", node.id.str(), json::Serialize(ToApi(node)),
              now);
}

Result<Registration> FleetService::RegisterNode(std::string_view join_token,
                                                const api::RegisterNodeRequest& r) {
  auto bad_token = [] {
    return std::unexpected(
        Error::Unauthenticated("the join token is missing, malformed, unknown or expired")
            .Hint("ask an admin for a token: hangar join-tokens create"));
  };
  if (!identity::IsWellFormedSecret(join_token, identity::kJoinTokenPrefix)) return bad_token();

  Error invalid = Error::Invalid("the registration is not valid");
  if (!IsValidName(r.name, 63)) {
    invalid.AddField("/name", "must be 1..63 characters of [A-Za-z0-9._-], starting alphanumeric");
  }
  if (r.hostname.size() > 253 || !IsPrintable(r.hostname)) {
    invalid.AddField("/hostname", "must be at most 253 printable characters");
  }
  CheckText(invalid, r.agent_version, "/agent_version", 64);
  if (r.labels) {
    if (r.labels->size() > kMaxLabels) invalid.AddField("/labels", "at most 64 labels");
    for (const auto& [k, v] : *r.labels) CheckLabel(invalid, "/labels", k, v);
  }
  HANGAR_TRY(Validate(r.gpus, "/gpus", invalid));
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  std::string token_hash = identity::HashSecret(join_token);
  Timestamp now = clock_.Now();
  std::optional<Registration> result;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto token, store::FindJoinTokenByHash(tx, token_hash));
    if (!token || token->expires_at <= now) return bad_token();
    const OrgId& org = token->org_id;
    HANGAR_TRY(store::RecordJoinTokenUse(tx, token->id, now));

    HANGAR_ASSIGN_OR_RETURN(auto existing, store::FindNodeByName(tx, org, r.name));
    store::NodeRecord node;
    bool created = !existing;
    if (existing && existing->state == api::NodeState::ready && existing->last_heartbeat_at &&
        *existing->last_heartbeat_at > now - options_.node_unreachable_after) {
      // Another agent holds this name and is alive: taking it over would revoke a working
      // node's credential (two hosts with one hostname would fight forever).
      return std::unexpected(
          Error::Conflict("node '" + r.name + "' is registered and heartbeating")
              .Field("/name", "is taken by a connected node")
              .Hint("start the agent with another --name, or stop the other agent and retry "
                    "once the node is unreachable"));
    }
    if (existing) {
      node = *existing;
      HANGAR_TRY(store::RevokeApiKeysOfSubject(tx, org, node.id.str(), now));
    } else {
      node = store::NodeRecord{
          .id = NodeId::Generate(clock_), .org_id = org, .name = r.name, .created_at = now};
      if (r.labels) node.labels = *r.labels;
    }
    if (existing && r.labels) {
      for (const auto& [k, v] : *r.labels) node.labels[k] = v;
    }
    node.hostname = r.hostname;
    node.agent_version = r.agent_version;
    node.state = api::NodeState::ready;
    node.last_heartbeat_at = now;
    node.gpu_count = static_cast<int64_t>(r.gpus.size());
    node.updated_at = now;
    if (created) {
      HANGAR_TRY(store::InsertNode(tx, node));
    } else {
      HANGAR_TRY(store::UpdateNode(tx, node));
      node.version += 1;
    }
    HANGAR_ASSIGN_OR_RETURN(auto turned_unhealthy, SyncInventory(tx, node, r.gpus, now));
    HANGAR_TRY(AutoCordon(tx, node, turned_unhealthy, now));

    identity::GeneratedSecret credential = identity::GenerateSecret(identity::kApiKeyPrefix);
    HANGAR_TRY(store::InsertApiKey(tx, store::ApiKeyRecord{.id = ApiKeyId::Generate(clock_),
                                                           .org_id = org,
                                                           .name = "node " + node.name,
                                                           .secret_hash = credential.hash,
                                                           .kind = store::PrincipalKind::kNode,
                                                           .subject_id = node.id.str(),
                                                           .created_at = now,
                                                           .created_by = node.id.str(),
                                                           .updated_at = now}));
    HANGAR_TRY(Emit(tx, org, created ? "hangar.node.registered" : "hangar.node.reregistered",
                    node.id.str(), json::Serialize(ToApi(node)), now));
    result = Registration{node, std::move(credential.secret)};
    return Ok();
  }));
  // The old credential of a re-registered node must stop working now, not at cache expiry.
  authenticator_.Forget(result->node.id.str());
  return std::move(*result);
}

Result<store::NodeRecord> FleetService::Heartbeat(const Principal& who, const NodeId& id,
                                                  const api::HeartbeatRequest& r) {
  if (!who.IsNode(id)) {
    return std::unexpected(
        Error::PermissionDenied("only the node's own credential may send its heartbeat"));
  }
  Error invalid = Error::Invalid("the heartbeat is not valid");
  CheckText(invalid, r.agent_version, "/agent_version", 64);
  HANGAR_TRY(Validate(r.gpus, "/gpus", invalid));
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  Timestamp now = clock_.Now();
  std::optional<store::NodeRecord> result;
  HANGAR_TRY(WriteRetryingConflicts([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto node, store::GetNode(tx, who.org_id, id));
    if (!node) return std::unexpected(Error::NotFound("no node " + id.str()));
    store::NodeRecord updated = *node;
    bool recovered = node->state == api::NodeState::unreachable;
    updated.state = api::NodeState::ready;
    updated.agent_version = r.agent_version;
    updated.last_heartbeat_at = now;
    updated.gpu_count = static_cast<int64_t>(r.gpus.size());
    updated.updated_at = now;
    HANGAR_TRY(store::UpdateNode(tx, updated));
    updated.version += 1;
    HANGAR_ASSIGN_OR_RETURN(auto turned_unhealthy, SyncInventory(tx, updated, r.gpus, now));
    HANGAR_TRY(AutoCordon(tx, updated, turned_unhealthy, now));
    if (recovered) {
      HANGAR_TRY(Emit(tx, who.org_id, "hangar.node.ready", id.str(),
                      json::Serialize(ToApi(updated)), now));
    }
    result = std::move(updated);
    return Ok();
  }));
  return *result;
}

// ---- Reconciler ---------------------------------------------------------------------------------

Result<int> FleetService::MarkUnreachableNodes() {
  Timestamp now = clock_.Now();
  Timestamp cutoff = now - options_.node_unreachable_after;
  int changed = 0;
  HANGAR_TRY(WriteRetryingConflicts([&](store::Tx& tx) -> Status {
    changed = 0;
    HANGAR_ASSIGN_OR_RETURN(auto stale,
                            store::ListNodesWithHeartbeatBefore(tx, api::NodeState::ready, cutoff));
    for (auto node : stale) {
      node.state = api::NodeState::unreachable;
      node.updated_at = now;
      HANGAR_TRY(store::UpdateNode(tx, node));
      node.version += 1;
      HANGAR_ASSIGN_OR_RETURN(auto gpus, store::ListGpusOfNode(tx, node.org_id, node.id));
      for (auto gpu : gpus) {
        if (gpu.state == api::GpuState::unreachable) continue;
        gpu.state = api::GpuState::unreachable;
        gpu.updated_at = now;
        HANGAR_TRY(store::UpdateGpu(tx, gpu));
      }
      HANGAR_TRY(Emit(tx, node.org_id, "hangar.node.unreachable", node.id.str(),
                      json::Serialize(ToApi(node)), now));
      ++changed;
    }
    return Ok();
  }));
  if (changed > 0)
    spdlog::warn("fleet: {} node(s) stopped heartbeating and are unreachable", changed);
  return changed;
}

}  // namespace hangar::fleet
