// Small helpers shared by the identity services (DirectoryService, AccessService).
//
// Thread-safety: stateless functions.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "store/repos.h"

namespace hangar::identity {

// Appends the domain event of a change in the caller's transaction (the transactional outbox),
// in the organisation of `who` and naming it as the actor.
inline Status AppendIdentityEvent(store::Tx& tx, const Clock& clock, const Principal& who,
                                  std::string type, std::string subject, std::string data_json,
                                  Timestamp now) {
  return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(clock),
                                                   .org_id = who.org_id,
                                                   .type = std::move(type),
                                                   .source = "/hangar/identity",
                                                   .subject = std::move(subject),
                                                   .time = now,
                                                   .data_json = std::move(data_json),
                                                   .actor = who.ActorId()});
}

// Ok when validation collected no field violations, else the error with all of them.
inline Status IfInvalid(Error invalid) {
  if (invalid.violations().empty()) return Ok();
  return std::unexpected(std::move(invalid));
}

}  // namespace hangar::identity
