// AccessService: who may do what — custom roles, role bindings (including temporary
// elevation), API keys (create, rotate with a grace window, revoke), the access review and
// "who am I".
//
// Changes to roles and bindings invalidate the Authorizer's cached policy of the organisation;
// revoking or rotating a key tells the Authenticator to forget it, so both take effect at once on
// this replica and within the caches' TTL on others.
//
// Thread-safety: thread-safe; state lives in the store.
#pragma once

#include <optional>
#include <string>

#include "api/identity_types.h"
#include "common/clock.h"
#include "identity/authenticator.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/identity_repos.h"
#include "store/store.h"

namespace hangar::identity {

// An API key as created or rotated: the record and the secret, shown once.
struct IssuedApiKey {
  store::ApiKeyRecord record;
  std::string secret;
};

class AccessService {
 public:
  AccessService(store::Store& store, const Clock& clock, Authorizer& authorizer,
                Authenticator& authenticator);

  // ---- Roles (built-in ones are listed first and cannot change) ----
  Result<std::vector<api::Role>> ListRoles(const Principal& who);
  Result<api::Role> GetRole(const Principal& who, std::string_view name);
  Result<api::Role> CreateRole(const Principal& who, const api::CreateRoleRequest& r);
  Result<api::Role> UpdateRole(const Principal& who, std::string_view name,
                               const api::UpdateRoleRequest& patch,
                               std::optional<int64_t> if_match);
  // kConflict while bindings use it or other roles include it.
  Status DeleteRole(const Principal& who, std::string_view name);

  // ---- Role bindings ----
  Result<store::RoleBindingRecord> CreateBinding(const Principal& who,
                                                 const api::CreateRoleBindingRequest& r);
  Result<store::RoleBindingRecord> GetBinding(const Principal& who, const RoleBindingId& id);
  Result<store::Page<store::RoleBindingRecord>> ListBindings(const Principal& who,
                                                             const store::ListQuery& query);
  Status DeleteBinding(const Principal& who, const RoleBindingId& id);
  Result<api::AccessReview> AccessReview(const Principal& who, const store::ListQuery& query);

  // ---- API keys ----
  Result<IssuedApiKey> CreateApiKey(const Principal& who, const api::CreateApiKeyRequest& r);
  Result<store::ApiKeyRecord> GetApiKey(const Principal& who, const ApiKeyId& id);
  Result<store::Page<store::ApiKeyRecord>> ListApiKeys(const Principal& who,
                                                       const store::ListQuery& query);
  // A successor with the same owner, scopes, allow-list and limits; the old key expires after
  // the grace period (0: at once).
  Result<IssuedApiKey> RotateApiKey(const Principal& who, const ApiKeyId& id,
                                    const api::RotateApiKeyRequest& r);
  Result<store::ApiKeyRecord> RevokeApiKey(const Principal& who, const ApiKeyId& id);

  Result<api::WhoAmI> WhoAmI(const Principal& who);

 private:
  Status Emit(store::Tx& tx, const Principal& who, std::string type, std::string subject,
              std::string data_json, Timestamp now);
  // Keys are self-service: anyone manages their own; others' need api-keys:<verb>.
  Status AuthorizeKey(const Principal& who, const store::ApiKeyRecord& key, std::string_view verb);
  Result<std::map<std::string, store::RoleRecord>> CustomRoles(store::Tx& tx, const OrgId& org);
  Status ValidateRole(Error& invalid, const std::vector<std::string>& permissions,
                      const std::vector<std::string>& includes);

  store::Store& store_;
  const Clock& clock_;
  Authorizer& authorizer_;
  Authenticator& authenticator_;
};

}  // namespace hangar::identity
