#include "identity/authenticator.h"

#include <spdlog/spdlog.h>

#include "identity/api_keys.h"
#include "store/repos.h"

namespace hangar::identity {

namespace {
constexpr size_t kMaxCacheEntries = 100'000;

Error BadKey(std::string message) {
  return Error::Unauthenticated(std::move(message))
      .Hint(
          "send 'Authorization: Bearer <API key>'; the first admin key is in the data "
          "directory's admin-api-key file");
}
}  // namespace

Result<Principal> Authenticator::Authenticate(std::string_view api_key) {
  if (api_key.empty()) return std::unexpected(BadKey("an API key is required"));
  if (!IsWellFormedSecret(api_key, kApiKeyPrefix)) {
    return std::unexpected(BadKey("the API key is malformed (expected hgr_… with a checksum)"));
  }
  std::string hash = HashSecret(api_key);
  Timestamp now = clock_.Now();
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(hash); it != cache_.end() && it->second.expires_at > now) {
      if (it->second.principal) return *it->second.principal;
      return std::unexpected(BadKey("the API key is not valid"));
    }
    generation = generation_;
  }
  std::optional<store::ApiKeyRecord> record;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::FindApiKeyByHash(tx, hash));
    return Ok();
  }));
  std::optional<Principal> principal;
  Timestamp expires = now + cache_ttl_;
  if (record && !record->revoked_at && (!record->expires_at || *record->expires_at > now)) {
    principal = Principal{record->org_id, record->kind, record->id, record->subject_id};
    if (record->expires_at && *record->expires_at < expires) expires = *record->expires_at;
  }
  {
    std::lock_guard lock(mutex_);
    if (generation == generation_) {
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();  // bounded; a refill is cheap
      cache_[hash] = CacheEntry{principal, expires};
    }
  }
  if (!principal) return std::unexpected(BadKey("the API key is not valid"));
  return *principal;
}

void Authenticator::Forget(std::string_view subject_id) {
  std::lock_guard lock(mutex_);
  ++generation_;
  std::erase_if(cache_, [&](const auto& kv) {
    return kv.second.principal && kv.second.principal->subject_id == subject_id;
  });
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
                               .created_at = now};
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
