// EventService: reading the event log — every change Hangar makes, as CloudEvents, written in
// the same transaction as the change (store::AppendEvent). This is the organisation's audit
// trail; the SSE feed and webhooks will read the same log.
//
// Thread-safety: thread-safe; calls block on the store (use worker threads).
#pragma once

#include "api/types.h"
#include "common/error.h"
#include "identity/principal.h"
#include "store/repos.h"

namespace hangar::events {

class EventService {
 public:
  explicit EventService(store::Store& store) : store_(store) {}

  // The caller's organisation's domain events, newest first. The gateway has authorised the
  // caller (events:read); the organisation scoping is here, in the query.
  Result<store::Page<store::EventRecord>> ListEvents(const identity::Principal& who,
                                                     const store::ListQuery& query);
  // The caller's organisation's audit records (audit:read), newest first: one per mutating
  // request, failed authentication and denial, with actor, address and outcome.
  Result<store::Page<store::EventRecord>> ListAudit(const identity::Principal& who,
                                                    const store::ListQuery& query);

 private:
  store::Store& store_;
};

// The CloudEvents JSON form of a stored event.
api::Event ToApi(const store::EventRecord& record);

}  // namespace hangar::events
