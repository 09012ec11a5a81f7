// Principal: who is making a request, as the gateway hands it to services.
//
// A principal is a user, a service account, an organisation's bootstrap admin key or a node
// agent, authenticated by an API key (or, for users and service accounts, an OAuth access
// token). What it may do is decided by identity/rbac.h from its role bindings, narrowed by the
// credential's scopes; services ask the Authorizer rather than inspecting the kind.
//
// Thread-safety: value type.
#pragma once

#include <string>
#include <vector>

#include "common/ids.h"
#include "store/repos.h"

namespace hangar::identity {

struct Principal {
  OrgId org_id;
  store::PrincipalKind kind = store::PrincipalKind::kAdmin;
  // The API key used (scopes idempotency keys, names the credential in audit records); empty
  // for access tokens.
  ApiKeyId key_id;
  std::string subject_id;  // the node, user or service account id; empty for kAdmin
  std::vector<std::string> scopes = {"*"};  // permission patterns the credential may use
  std::string token_id;                     // an access token's jti
  int64_t rate_limit = 0;                   // the key's own limit (0: the organisation default)
  int64_t rate_burst = 0;

  bool IsAdmin() const { return kind == store::PrincipalKind::kAdmin; }
  bool IsNode(const NodeId& node) const {
    return kind == store::PrincipalKind::kNode && subject_id == node.str();
  }
  // Who acted, for audit records and `created_by`: the user, service account or node, or the
  // bootstrap key itself.
  std::string ActorId() const { return subject_id.empty() ? key_id.str() : subject_id; }
  // The credential: an API key id or an access token id.
  std::string CredentialId() const { return token_id.empty() ? key_id.str() : token_id; }
};

}  // namespace hangar::identity
