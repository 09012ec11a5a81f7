#include "identity/authenticator.h"

#include <spdlog/spdlog.h>

#include "common/cidr.h"
#include "identity/api_keys.h"
#include "store/identity_repos.h"
#include "store/repos.h"

namespace hangar::identity {

namespace {
constexpr size_t kMaxCacheEntries = 100'000;
// How often a key's last use is written while it is in use.
constexpr Micros kUseRecordInterval = std::chrono::minutes(1);

Error BadKey(std::string message) {
  return Error::Unauthenticated(std::move(message))
      .Hint(
          "send 'Authorization: Bearer <API key or access token>'; sign in with hangar login "
          "(the first admin key is in the data directory's admin-api-key file)");
}
}  // namespace

Result<Principal> Authenticator::Authenticate(std::string_view api_key,
                                              std::string_view client_address) {
  if (api_key.empty()) return std::unexpected(BadKey("an API key is required"));
  if (!IsWellFormedSecret(api_key, kApiKeyPrefix)) {
    return std::unexpected(BadKey("the API key is malformed (expected hgr_… with a checksum)"));
  }
  std::string hash = HashSecret(api_key);
  Timestamp now = clock_.Now();
  uint64_t generation = 0;
  std::optional<Principal> principal;
  std::vector<CidrBlock> allowed_cidrs;  // parsed once per cache fill, not per request
  bool record_use = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(hash); it != cache_.end() && it->second.expires_at > now) {
      if (!it->second.principal) return std::unexpected(BadKey("the API key is not valid"));
      principal = it->second.principal;
      allowed_cidrs = it->second.allowed_cidrs;
      if (now - it->second.use_recorded_at >= kUseRecordInterval) {
        it->second.use_recorded_at = now;
        record_use = true;
      }
    }
    generation = generation_;
  }
  if (!principal) {
    std::optional<store::ApiKeyRecord> record;
    bool owner_enabled = true;
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(record, store::FindApiKeyByHash(tx, hash));
      if (!record) return Ok();
      // A disabled owner's keys stop working with the owner, without being revoked one by one.
      if (record->kind == store::PrincipalKind::kUser) {
        auto user = UserId::Parse(record->subject_id);
        if (!user) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto u, store::GetUser(tx, record->org_id, *user));
        owner_enabled = u && u->state == store::UserState::kActive;
      } else if (record->kind == store::PrincipalKind::kServiceAccount) {
        auto account = ServiceAccountId::Parse(record->subject_id);
        if (!account) return Ok();
        HANGAR_ASSIGN_OR_RETURN(auto a, store::GetServiceAccount(tx, record->org_id, *account));
        owner_enabled = a && !a->disabled;
      }
      return Ok();
    }));
    Timestamp expires = now + cache_ttl_;
    if (record && owner_enabled && !record->revoked_at &&
        (!record->expires_at || *record->expires_at > now)) {
      principal = Principal{.org_id = record->org_id,
                            .kind = record->kind,
                            .key_id = record->id,
                            .subject_id = record->subject_id,
                            .scopes = record->scopes,
                            .rate_limit = record->rate_limit,
                            .rate_burst = record->rate_burst};
      // Stored lists were validated on create; one that no longer parses admits nobody.
      auto blocks = ParseCidrList(record->allowed_cidrs, "/allowed_cidrs");
      if (blocks) {
        allowed_cidrs = std::move(*blocks);
      } else {
        principal.reset();
      }
      if (record->expires_at && *record->expires_at < expires) expires = *record->expires_at;
      record_use = true;
    }
    std::lock_guard lock(mutex_);
    if (generation == generation_) {
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();  // bounded; a refill is cheap
      // Keys without an owner (the bootstrap key) are forgotten by their own id.
      std::string owner = !record                      ? std::string()
                          : record->subject_id.empty() ? record->id.str()
                                                       : record->subject_id;
      cache_[hash] = CacheEntry{principal, owner, allowed_cidrs, expires, now};
    }
  }
  if (!principal) return std::unexpected(BadKey("the API key is not valid"));
  if (!AddressAllowed(allowed_cidrs, client_address)) {
    return std::unexpected(
        Error::Unauthenticated("the API key may not be used from this address")
            .Hint("the key has an IP allow-list; use it from an allowed network or create a key "
                  "without one"));
  }
  if (record_use && principal->kind != store::PrincipalKind::kNode) {
    // Bookkeeping: a failed write must not fail the request it describes.
    if (Status s = RecordUse(principal->key_id, now, client_address); !s) {
      spdlog::warn("could not record the use of API key {}: {}", principal->key_id.str(),
                   s.error().ToString());
    }
  }
  return *principal;
}

Status Authenticator::RecordUse(const ApiKeyId& key, Timestamp now, std::string_view address) {
  return store_.Write(
      [&](store::Tx& tx) -> Status { return store::RecordApiKeyUse(tx, key, now, address); });
}

void Authenticator::Forget(std::string_view subject_id) {
  std::lock_guard lock(mutex_);
  ++generation_;
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.subject_id == subject_id; });
  subjects_.erase(std::string(subject_id));
}

Result<bool> Authenticator::SubjectEnabled(const OrgId& org, std::string_view subject_id) {
  Timestamp now = clock_.Now();
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = subjects_.find(std::string(subject_id));
        it != subjects_.end() && it->second.expires_at > now) {
      return it->second.enabled;
    }
    generation = generation_;
  }
  bool enabled = false;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    if (auto user = UserId::Parse(subject_id)) {
      HANGAR_ASSIGN_OR_RETURN(auto u, store::GetUser(tx, org, *user));
      enabled = u && u->state == store::UserState::kActive;
    } else if (auto account = ServiceAccountId::Parse(subject_id)) {
      HANGAR_ASSIGN_OR_RETURN(auto a, store::GetServiceAccount(tx, org, *account));
      enabled = a && !a->disabled;
    }
    return Ok();
  }));
  std::lock_guard lock(mutex_);
  if (generation == generation_) {
    if (subjects_.size() >= kMaxCacheEntries) subjects_.clear();
    subjects_[std::string(subject_id)] = SubjectEntry{enabled, now + cache_ttl_};
  }
  return enabled;
}

Result<std::optional<std::string>> BootstrapFirstOrganisation(store::Store& store,
                                                              const Clock& clock,
                                                              const SecretSink& deliver) {
  std::optional<std::string> secret;
  HANGAR_TRY(store.Write([&](store::Tx& tx) -> Status {
    secret.reset();
    HANGAR_ASSIGN_OR_RETURN(int64_t orgs, store::CountOrgs(tx));
    if (orgs > 0) return Ok();
    Timestamp now = clock.Now();
    store::OrgRecord org{OrgId::Generate(clock), "default", now};
    HANGAR_TRY(store::InsertOrg(tx, org));
    GeneratedSecret key = GenerateSecret(kApiKeyPrefix);
    store::ApiKeyRecord record{.id = ApiKeyId::Generate(clock),
                               .org_id = org.id,
                               .name = "bootstrap admin",
                               .secret_hash = key.hash,
                               .kind = store::PrincipalKind::kAdmin,
                               .created_at = now,
                               .display_prefix = key.secret.substr(0, 12),
                               .created_by = "bootstrap",
                               .updated_at = now};
    HANGAR_TRY(store::InsertApiKey(tx, record));
    HANGAR_TRY(store::AppendEvent(
        tx, store::EventRecord{
                .id = EventId::Generate(clock),
                .org_id = org.id,
                .type = "hangar.organisation.created",
                .source = "/hangard/bootstrap",
                .subject = org.id.str(),
                .time = now,
                .data_json = R"({"name":"default","admin_key_id":")" + record.id.str() + "\"}"}));
    HANGAR_TRY(deliver(key.secret));
    secret = key.secret;
    return Ok();
  }));
  return secret;
}

}  // namespace hangar::identity
