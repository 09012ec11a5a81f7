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

  // The caller's organisation's events, newest first. Admins only (kPermissionDenied).
  Result<store::Page<store::EventRecord>> ListEvents(const identity::Principal& who,
                                                     const store::ListQuery& query);

 private:
  store::Store& store_;
};

// The CloudEvents JSON form of a stored event.
api::Event ToApi(const store::EventRecord& record);

}  // namespace hangar::events
