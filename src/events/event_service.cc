#include "events/event_service.h"

#include "common/json_codec.h"
#include "store/identity_repos.h"

namespace hangar::events {

Result<store::Page<store::EventRecord>> EventService::ListEvents(const identity::Principal& who,
                                                                 const store::ListQuery& query) {
  store::Page<store::EventRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListOrgEvents(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

Result<store::Page<store::EventRecord>> EventService::ListAudit(const identity::Principal& who,
                                                                const store::ListQuery& query) {
  store::Page<store::EventRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListAuditEvents(tx, who.org_id, query));
    return Ok();
  }));
  return page;
}

api::Event ToApi(const store::EventRecord& r) {
  api::Event event{.specversion = "1.0",
                   .id = r.id.str(),
                   .source = r.source,
                   .type = r.type,
                   .subject = r.subject,
                   .time = FormatRfc3339(r.time),
                   .datacontenttype = "application/json",
                   .data = nullptr};
  // Stored by our own writers, so it parses; an unparseable payload is shown as a string
  // rather than hiding the event.
  if (auto data = json::Parse(r.data_json)) {
    event.data = std::move(*data);
  } else {
    event.data = r.data_json;
  }
  return event;
}

}  // namespace hangar::events
