// Principal: who is making a request, as the gateway hands it to services.
//
// For now a principal is an organisation admin (the bootstrap API key) or a node (the credential
// an agent received at registration). Users, service accounts, roles and scopes arrive with the
// identity issue; they extend this struct, and services keep asking it questions (IsAdmin,
// IsNode) rather than inspecting key records.
//
// Thread-safety: value type.
#pragma once

#include <string>

#include "common/ids.h"
#include "store/repos.h"

namespace hangar::identity {

struct Principal {
  OrgId org_id;
  store::PrincipalKind kind = store::PrincipalKind::kAdmin;
  ApiKeyId key_id;  // the credential used: scopes idempotency keys, names the actor in events
  std::string subject_id;  // kNode: the node's id

  bool IsAdmin() const { return kind == store::PrincipalKind::kAdmin; }
  bool IsNode(const NodeId& node) const {
    return kind == store::PrincipalKind::kNode && subject_id == node.str();
  }
};

}  // namespace hangar::identity
