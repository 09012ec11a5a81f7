// FleetService: the GPU inventory — the catalogue of GPU types, the nodes agents register, the
// GPUs they report, and the join tokens that admit new nodes.
//
// Node state machine (the only place it is drawn; api/types.h has the enum):
//
//                 RegisterNode                      MarkUnreachableNodes
//     (none) ------------------> ready ---------------------------------------> unreachable
//                                  ^   (no heartbeat for node_unreachable_after)      |
//                                  +------------------- Heartbeat -------------------+
//
//   | edge                  | function              | effects                                    |
//   |-----------------------|-----------------------|--------------------------------------------|
//   | (none) -> ready       | RegisterNode          | node + GPUs created, node credential issued |
//   | unreachable -> ready  | RegisterNode (again)  | old credentials revoked, inventory synced;  |
//   |                       |                       | refused (409) while the node is connected   |
//   | ready -> ready        | Heartbeat             | last_heartbeat_at, inventory synced         |
//   | ready -> unreachable  | MarkUnreachableNodes  | its GPUs become `unreachable`               |
//   | unreachable -> ready  | Heartbeat             | GPUs back to `ready`/`unhealthy` as reported
//   |
//
// Invariants: a ready node's last_heartbeat_at is within node_unreachable_after of now, up to
// one reconciler tick; an unreachable node's GPUs are all `unreachable`. `cordoned` is
// independent of the state and only an admin changes it.
//
// Every change commits together with its CloudEvents event (store::AppendEvent).
// Authorisation: inventory reads and writes need an admin principal; Heartbeat needs the
// node's own credential; RegisterNode needs a valid join token.
//
// Thread-safety: all methods are thread-safe (state lives in the store); they block on the
// store, so call them from worker threads.
#pragma once

#include <optional>
#include <string>

#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/authenticator.h"
#include "identity/principal.h"
#include "store/repos.h"

namespace hangar::fleet {

struct FleetOptions {
  Micros heartbeat_interval = std::chrono::seconds(10);
  Micros node_unreachable_after = std::chrono::seconds(40);
  Micros join_token_default_ttl = std::chrono::hours(24);
  Micros join_token_max_ttl = std::chrono::hours(24 * 30);
  // Cordon a node as soon as one of its GPUs turns unhealthy (the reason names the GPU and
  // the agent's health checks); an admin uncordons it once it is repaired.
  bool auto_cordon_unhealthy = true;
};

struct CreatedJoinToken {
  store::JoinTokenRecord record;
  std::string secret;  // shown once
};

struct Registration {
  store::NodeRecord node;
  std::string credential;  // shown once
};

class FleetService {
 public:
  FleetService(store::Store& store, const Clock& clock, identity::Authenticator& authenticator,
               FleetOptions options);

  const FleetOptions& options() const { return options_; }

  // ---- Catalogue ----
  // kInvalidArgument naming the field for bad values; kAlreadyExists for a duplicate name or
  // product name.
  Result<store::GpuTypeRecord> CreateGpuType(const identity::Principal& who,
                                             const api::CreateGpuTypeRequest& request);
  Result<store::GpuTypeRecord> GetGpuType(const identity::Principal& who, const GpuTypeId& id);
  // Applies a merge patch (name, price, currency); `if_match_version` as for UpdateNode.
  // kAlreadyExists when the new name is taken.
  Result<store::GpuTypeRecord> UpdateGpuType(const identity::Principal& who, const GpuTypeId& id,
                                             const api::UpdateGpuTypeRequest& patch,
                                             std::optional<int64_t> if_match_version);
  Result<store::Page<store::GpuTypeRecord>> ListGpuTypes(const identity::Principal& who,
                                                         const store::ListQuery& query);

  // ---- Nodes ----
  Result<store::NodeRecord> GetNode(const identity::Principal& who, const NodeId& id);
  Result<store::Page<store::NodeRecord>> ListNodes(const identity::Principal& who,
                                                   const store::ListQuery& query);
  // Applies a merge patch (labels, cordoned). `if_match_version`, when set, must equal the
  // stored version (kPreconditionFailed otherwise).
  Result<store::NodeRecord> UpdateNode(const identity::Principal& who, const NodeId& id,
                                       const api::UpdateNodeRequest& patch,
                                       std::optional<int64_t> if_match_version);
  // Cordons the node and marks it draining: the scheduler loop moves its preemptible work off
  // at once (requeued) and stops the rest once `timeout_seconds` has passed (never, without
  // one). Uncordoning (UpdateNode) ends the drain. Emits hangar.node.draining.
  Result<store::NodeRecord> DrainNode(const identity::Principal& who, const NodeId& id,
                                      const api::DrainNodeRequest& request);

  // ---- GPUs ----
  Result<store::GpuRecord> GetGpu(const identity::Principal& who, const GpuId& id);
  Result<store::Page<store::GpuRecord>> ListGpus(const identity::Principal& who,
                                                 const store::ListQuery& query);

  // ---- Join tokens ----
  Result<CreatedJoinToken> CreateJoinToken(const identity::Principal& who,
                                           const api::CreateJoinTokenRequest& request);
  Result<store::Page<store::JoinTokenRecord>> ListJoinTokens(const identity::Principal& who,
                                                             const store::ListQuery& query);
  // `if_match_version`, when set, must equal the stored version (kPreconditionFailed).
  Status DeleteJoinToken(const identity::Principal& who, const JoinTokenId& id,
                         std::optional<int64_t> if_match_version);

  // ---- Agent protocol ----
  // Registers (or re-registers, by name) a node using a join token. kUnauthenticated for a bad,
  // unknown or expired token.
  Result<Registration> RegisterNode(std::string_view join_token,
                                    const api::RegisterNodeRequest& request);
  // Records a heartbeat and syncs the reported inventory. kPermissionDenied unless `who` is
  // this node's credential.
  Result<store::NodeRecord> Heartbeat(const identity::Principal& who, const NodeId& id,
                                      const api::HeartbeatRequest& request);

  // ---- Reconciler step ----
  // Marks ready nodes whose last heartbeat is older than node_unreachable_after unreachable,
  // with their GPUs. Returns how many nodes changed. Called periodically by hangard.
  Result<int> MarkUnreachableNodes();

 private:
  // store_.Write, re-run when an optimistic update lost a race (kPreconditionFailed).
  Status WriteRetryingConflicts(const store::TxFunction& fn);
  // Reconciles the node's stored GPUs with what its agent reports, inside `tx`. Returns the
  // GPUs that turned unhealthy ("GPU 3 (xid_79)").
  Result<std::vector<std::string>> SyncInventory(store::Tx& tx, const store::NodeRecord& node,
                                                 const std::vector<api::AgentGpu>& gpus,
                                                 Timestamp now);
  // Cordons `node` (updated in place) when GPUs turned unhealthy and the option says so.
  Status AutoCordon(store::Tx& tx, store::NodeRecord& node,
                    const std::vector<std::string>& turned_unhealthy, Timestamp now);
  Result<GpuTypeId> ResolveGpuType(store::Tx& tx, const OrgId& org, const api::AgentGpu& gpu,
                                   Timestamp now);
  Status Emit(store::Tx& tx, const OrgId& org, std::string type, std::string subject,
              std::string data_json, Timestamp now);

  store::Store& store_;
  const Clock& clock_;
  identity::Authenticator& authenticator_;
  const FleetOptions options_;
};

}  // namespace hangar::fleet
