// Authenticator: turns a bearer API key into a Principal.
//
// Lookups go to the store by the secret's SHA-256 and are cached in memory for a short TTL:
// authentication is on every request's hot path, and the cache keeps it off the database. A
// revocation made through this process calls Forget() so it applies at once; another replica
// (PostgreSQL deployments) sees it within the TTL (10 s by default, `auth.cache_ttl`).
//
// A key is refused when it is revoked, expired (rotation's grace window is an expiry), used from
// an address outside its allow-list, or owned by a disabled user or service account. The time and
// address of the last use are written at most once a minute per key, so the bookkeeping costs
// one write per key per minute rather than one per request.
//
// Thread-safety: all methods are thread-safe (the cache is guarded by mutex_).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/cidr.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "store/store.h"

namespace hangar::identity {

class Authenticator {
 public:
  Authenticator(store::Store& store, const Clock& clock,
                Micros cache_ttl = std::chrono::seconds(10))
      : store_(store), clock_(clock), cache_ttl_(cache_ttl) {}

  // kUnauthenticated (with a hint) for a missing, malformed, unknown, revoked or expired key;
  // kUnavailable when the store cannot be read.
  // `client_address` is checked against the key's allow-list and recorded as its last use.
  Result<Principal> Authenticate(std::string_view api_key, std::string_view client_address = {});

  // Drops cached principals of `subject_id` (called after its keys are revoked or the subject
  // is disabled or deleted).
  void Forget(std::string_view subject_id);

  // Whether the user or service account may act now (an active user, an enabled account), for
  // credentials that are not keys (access tokens). Cached like keys; Forget() drops it.
  Result<bool> SubjectEnabled(const OrgId& org, std::string_view subject_id);

 private:
  struct CacheEntry {
    std::optional<Principal> principal;  // nullopt: known bad key (negative caching)
    std::string subject_id;              // the key's owner, also for bad keys (a re-enabled owner)
    std::vector<CidrBlock> allowed_cidrs;
    Timestamp expires_at;
    Timestamp use_recorded_at;  // when the last use was last written
  };
  Status RecordUse(const ApiKeyId& key, Timestamp now, std::string_view address);

  store::Store& store_;
  const Clock& clock_;
  const Micros cache_ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, CacheEntry> cache_;  // by secret hash; guarded by mutex_
  struct SubjectEntry {
    bool enabled = false;
    Timestamp expires_at;
  };
  std::unordered_map<std::string, SubjectEntry> subjects_;  // guarded by mutex_
  // Bumped by Forget(); a lookup that read the store before a Forget() does not cache what it
  // read, so a revocation cannot be undone by a request racing it. Guarded by mutex_.
  uint64_t generation_ = 0;
};

// On first start with an empty store: creates the first organisation and an admin API key,
// hands the key to `deliver` (hangard writes it to a 0600 file) and returns it. Returns nullopt
// when an organisation already exists. `deliver` runs inside the transaction: if it fails, the
// organisation is not created either, so the next start tries again rather than leaving an
// admin key nobody has. Two replicas starting together create one organisation.
using SecretSink = std::function<Status(const std::string& secret)>;
Result<std::optional<std::string>> BootstrapFirstOrganisation(store::Store& store,
                                                              const Clock& clock,
                                                              const SecretSink& deliver);

}  // namespace hangar::identity
