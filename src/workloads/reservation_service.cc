#include "workloads/reservation_service.h"

#include <algorithm>
#include <set>

#include "common/json_codec.h"
#include "identity/directory_service.h"
#include "store/quota_repos.h"
#include "store/read_all.h"
#include "workloads/quota_service.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;
using std::chrono::days;
using std::chrono::minutes;

constexpr int64_t kMaxGpus = 1024;
constexpr size_t kMaxDescriptionChars = 2000;
constexpr Micros kStartSlack = minutes(1);  // a start "now" sent a moment ago is not the past
constexpr Micros kMinWindow = minutes(5);
constexpr Micros kMaxWindow = days(31);
constexpr Micros kMaxLeadTime = days(366);
constexpr Micros kDefaultCalendar = days(7);
constexpr Micros kMaxCalendar = days(92);
// How far past the asked start a capacity refusal looks for a start that would fit.
constexpr Micros kSuggestionHorizon = days(62);

ResourceScope ScopeOf(const store::ReservationRecord& r) {
  return ResourceScope::Project(r.org_id, r.team_id, r.project_id);
}

Error NotFound(const ReservationId& id) {
  return Error::NotFound("reservation " + id.str() + " not found");
}

api::ReservationState StateAt(const store::ReservationRecord& r, Timestamp now) {
  if (r.cancelled_at) return api::ReservationState::cancelled;
  if (now < r.start_at) return api::ReservationState::scheduled;
  if (now < r.end_at) return api::ReservationState::active;
  return api::ReservationState::ended;
}

// The most GPUs `reservations` hold at once within [from, to) (each clipped to it).
int64_t PeakWithin(const std::vector<store::ReservationRecord>& reservations, Timestamp from,
                   Timestamp to) {
  std::vector<std::pair<Timestamp, int64_t>> changes;
  for (const auto& r : reservations) {
    Timestamp begin = std::max(r.start_at, from);
    Timestamp end = std::min(r.end_at, to);
    if (begin >= end) continue;
    changes.emplace_back(begin, r.gpus);
    changes.emplace_back(end, -r.gpus);
  }
  // Ends before starts at the same instant: a window ending at 10:00 and one starting at 10:00
  // do not overlap.
  std::sort(changes.begin(), changes.end());
  int64_t now = 0, peak = 0;
  for (const auto& [at, delta] : changes) {
    now += delta;
    peak = std::max(peak, now);
  }
  return peak;
}

std::string TypeOf(const store::GpuRecord& g) {
  return g.gpu_type_name.empty() ? g.product_name : g.gpu_type_name;
}

// GPUs of each type on ready, uncordoned nodes: what reservations may book.
std::map<std::string, int64_t> CapacityByType(const std::vector<store::NodeRecord>& nodes,
                                              const std::vector<store::GpuRecord>& gpus) {
  std::set<std::string> usable;
  for (const auto& n : nodes) {
    if (n.state == api::NodeState::ready && !n.cordoned) usable.insert(n.id.str());
  }
  std::map<std::string, int64_t> out;
  for (const auto& g : gpus) {
    if (g.state == api::GpuState::ready && usable.contains(g.node_id.str())) ++out[TypeOf(g)];
  }
  return out;
}

std::string Plural(int64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

}  // namespace

std::string ReservedGpuType(const store::ReservationRecord& r) { return r.gpu_type + "@" + r.id; }

Status CheckReservationUse(store::Tx& tx, const OrgId& org, const ProjectId& project,
                           api::SubmitJobRequest& spec, Timestamp now) {
  if (!spec.reservation) return Ok();
  HANGAR_ASSIGN_OR_RETURN(auto r, store::GetReservation(tx, org, *spec.reservation));
  auto invalid = [](std::string pointer, std::string detail) {
    return std::unexpected(Error::Invalid("the reservation cannot take this work")
                               .Field(std::move(pointer), std::move(detail))
                               .Hint("list the project's reservations: hangar reservations list"));
  };
  // Another project's reservation is as unknown as a missing one.
  if (!r || r->project_id != project) {
    return invalid("/reservation", "no reservation of that id in the project");
  }
  if (r->cancelled_at) return invalid("/reservation", "the reservation was cancelled");
  if (now >= r->end_at) {
    return invalid("/reservation", "the reservation ended at " + FormatRfc3339(r->end_at));
  }
  api::JobResources& res = *spec.resources;
  if (res.gpu_type && *res.gpu_type != r->gpu_type) {
    return invalid("/resources/gpu_type", "the reservation holds " + r->gpu_type + " GPUs");
  }
  res.gpu_type = r->gpu_type;
  if (res.gpus.value_or(1) * res.gpu_milli.value_or(1000) > r->gpus * 1000 ||
      res.gpus.value_or(1) == 0) {
    return invalid("/resources/gpus",
                   "must be 1 to " + std::to_string(r->gpus) + " (the reservation's GPUs)");
  }
  return Ok();
}

ReservationService::ReservationService(store::Store& store, const Clock& clock,
                                       identity::Authorizer& authorizer, const QueueBoard& board,
                                       std::function<void()> wake_scheduler)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      board_(board),
      wake_scheduler_(std::move(wake_scheduler)) {}

api::Reservation ReservationService::ToApi(const store::ReservationRecord& r,
                                           int64_t in_use_milli) const {
  Timestamp now = clock_.Now();
  api::Reservation out{
      .id = r.id,
      .project_id = r.project_id.str(),
      .name = r.name,
      .description = r.description,
      .gpu_type = r.gpu_type,
      .gpus = r.gpus,
      .start_at = FormatRfc3339(r.start_at),
      .end_at = FormatRfc3339(r.end_at),
      .state = StateAt(r, now),
      .gpus_in_use = (in_use_milli + 999) / 1000,
      .created_by = r.created_by,
      .created_at = FormatRfc3339(r.created_at),
      .updated_at = FormatRfc3339(r.updated_at),
      .etag = api::ETagOf(r.version),
      .links = {{"self", "/api/v1/reservations/" + r.id},
                {"project", "/api/v1/projects/" + r.project_id.str()},
                {"calendar", "/api/v1/reservations/calendar?gpu_type=" + r.gpu_type}}};
  if (r.cancelled_at) out.cancelled_at = FormatRfc3339(*r.cancelled_at);
  switch (out.state) {
    case api::ReservationState::scheduled:
      out.message = "starts at " + out.start_at;
      break;
    case api::ReservationState::active: {
      out.reserved_gpus = r.reserved_gpus;
      auto have = static_cast<int64_t>(r.reserved_gpus.size());
      if (have >= r.gpus) {
        out.message = Plural(r.gpus, "GPU") + " set aside until " + out.end_at;
      } else {
        out.message = "setting GPUs aside: " + std::to_string(have) + " of " +
                      std::to_string(r.gpus) + " so far";
        if (auto waiting = board_.Find(r.org_id.str(), r.id))
          out.message += "; " + waiting->message;
      }
      break;
    }
    case api::ReservationState::ended:
      out.message = "ended at " + out.end_at;
      break;
    case api::ReservationState::cancelled:
      out.message = "cancelled at " + *out.cancelled_at;
      break;
  }
  return out;
}

Result<std::map<std::string, int64_t>> ReservationService::InUse(const OrgId& org) {
  std::vector<store::WorkloadRecord> active;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(active, store::ListOrgActiveWorkloads(tx, org));
    return Ok();
  }));
  std::map<std::string, int64_t> out;
  for (const auto& w : active) {
    if (!store::HoldsGpus(w.state)) continue;
    auto spec = SpecOf(w);
    if (spec && spec->reservation) out[*spec->reservation] += WorkloadMilliGpus(w);
  }
  return out;
}

Result<store::ReservationRecord> ReservationService::Create(
    const Principal& who, const api::CreateReservationRequest& request) {
  Timestamp now = clock_.Now();
  Error invalid = Error::Invalid("the reservation is not valid");
  if (request.name) identity::CheckName(invalid, "/name", *request.name);
  if (request.gpus < 1 || request.gpus > kMaxGpus) {
    invalid.AddField("/gpus", "must be from 1 to " + std::to_string(kMaxGpus));
  }
  if (request.gpu_type.empty()) invalid.AddField("/gpu_type", "is required");
  auto start = ParseRfc3339(request.start_at);
  auto end = ParseRfc3339(request.end_at);
  if (!start) {
    invalid.AddField("/start_at", "must be an RFC 3339 time such as 2026-12-01T09:00:00Z");
  } else if (*start < now - kStartSlack) {
    invalid.AddField("/start_at", "is in the past (now is " + FormatRfc3339(now) + ")");
  } else if (*start > now + kMaxLeadTime) {
    invalid.AddField("/start_at", "must be within a year");
  }
  if (!end) {
    invalid.AddField("/end_at", "must be an RFC 3339 time such as 2026-12-01T17:00:00Z");
  } else if (start && (*end - *start < kMinWindow || *end - *start > kMaxWindow)) {
    invalid.AddField("/end_at", "must be 5 minutes to 31 days after start_at");
  }
  if (request.description && request.description->size() > kMaxDescriptionChars) {
    invalid.AddField("/description", "must be at most 2000 characters");
  }

  auto unknown_project = [] {
    return Error::Invalid("the reservation is not valid")
        .Field("/project", "no project with that id or name")
        .Hint("list the projects you can use: hangar projects list");
  };
  std::optional<store::ProjectRecord> project;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(project, store::FindProject(tx, who.org_id, request.project));
    if (!request.gpu_type.empty()) {
      store::ListQuery q{.equals = {{"name", request.gpu_type}}, .limit = 1};
      HANGAR_ASSIGN_OR_RETURN(auto types, store::ListGpuTypes(tx, who.org_id, q));
      if (types.items.empty()) {
        invalid.AddField("/gpu_type", "no GPU type of that name in the catalogue");
      }
    }
    return Ok();
  }));
  if (!project) return std::unexpected(unknown_project());
  HANGAR_TRY(authorizer_.RequireOnObject(
      who, "reservations:create", "projects:read",
      ResourceScope::Project(who.org_id, project->team_id, project->id), unknown_project()));
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  store::ReservationRecord record{
      .id = ReservationId::Generate(clock_).str(),
      .org_id = who.org_id,
      .project_id = project->id,
      .team_id = project->team_id,
      .name = request.name.value_or(std::to_string(request.gpus) + "x" + request.gpu_type),
      .description = request.description.value_or(""),
      .gpu_type = request.gpu_type,
      .gpus = request.gpus,
      .start_at = std::max(*start, now),
      .end_at = *end,
      .created_by = who.ActorId(),
      .created_at = now,
      .updated_at = now};
  const Micros length = record.end_at - record.start_at;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::LockOrgForBooking(tx, who.org_id));
    HANGAR_ASSIGN_OR_RETURN(auto nodes,
                            store::ReadAll<store::NodeRecord>(tx, who.org_id, store::ListNodes));
    HANGAR_ASSIGN_OR_RETURN(auto gpus,
                            store::ReadAll<store::GpuRecord>(tx, who.org_id, store::ListGpus));
    int64_t capacity = CapacityByType(nodes, gpus)[record.gpu_type];

    // Capacity: the type's bookings, peak within the window, plus this one.
    HANGAR_ASSIGN_OR_RETURN(auto same_type, store::ListReservationsOverlapping(
                                                tx, who.org_id, record.gpu_type, record.start_at,
                                                record.end_at + kSuggestionHorizon));
    int64_t peak = PeakWithin(same_type, record.start_at, record.end_at);
    if (peak + record.gpus > capacity) {
      // The earliest start (the asked one, or an end of a booking) where it would fit.
      std::optional<Timestamp> fits_at;
      std::vector<Timestamp> candidates;
      for (const auto& r : same_type) {
        if (r.end_at > record.start_at) candidates.push_back(r.end_at);
      }
      std::sort(candidates.begin(), candidates.end());
      if (record.gpus <= capacity) {
        for (Timestamp c : candidates) {
          if (PeakWithin(same_type, c, c + length) + record.gpus <= capacity) {
            fits_at = c;
            break;
          }
        }
      }
      std::string free = std::to_string(std::max<int64_t>(0, capacity - peak));
      std::string hint = "see GET /api/v1/reservations/calendar?gpu_type=" + record.gpu_type +
                         " (hangar reservations calendar)";
      if (fits_at) {
        hint = "the same window fits from " + FormatRfc3339(*fits_at) + "; " + hint;
      }
      return std::unexpected(
          Error::Conflict("only " + free + " of the " + Plural(capacity, record.gpu_type + " GPU") +
                          " are free of reservations for the whole window")
              .Field("/gpus", "at most " + free + " between " + FormatRfc3339(record.start_at) +
                                  " and " + FormatRfc3339(record.end_at))
              .Hint(hint));
    }

    // Quota: the project's and its team's bookings, of every type, against their gpu_limit.
    HANGAR_ASSIGN_OR_RETURN(
        auto limits,
        store::ListLimitingQuotas(tx, who.org_id, record.project_id.str(), record.team_id.str()));
    if (!limits.empty()) {
      HANGAR_ASSIGN_OR_RETURN(
          auto all_types,
          store::ListReservationsOverlapping(tx, who.org_id, "", record.start_at, record.end_at));
      std::partition(limits.begin(), limits.end(),
                     [&](const auto& q) { return q.scope_id == record.project_id.str(); });
      for (const auto& quota : limits) {
        std::vector<store::ReservationRecord> scoped;
        for (const auto& r : all_types) {
          if (r.project_id.str() == quota.scope_id || r.team_id.str() == quota.scope_id) {
            scoped.push_back(r);
          }
        }
        int64_t booked = PeakWithin(scoped, record.start_at, record.end_at);
        if (booked + record.gpus <= *quota.gpu_limit) continue;
        std::string label = quota.scope_id == record.project_id.str()
                                ? "project " + project->name
                                : "its team " + record.team_id.str();
        return std::unexpected(
            Error(ErrorCode::kResourceExhausted,
                  "reserving " + Plural(record.gpus, "GPU") + " would exceed the GPU limit of " +
                      label + ": " + std::to_string(*quota.gpu_limit) + " GPUs at once, " +
                      std::to_string(booked) + " already reserved in that window")
                .Field("/gpus",
                       "at most " +
                           std::to_string(std::max<int64_t>(0, *quota.gpu_limit - booked)) +
                           " (quota of " + quota.scope_id + ")")
                .Hint("reserve fewer GPUs or another window, or ask for a higher limit: hangar "
                      "quota request " +
                      quota.scope_id + " --limit N --reason TEXT"));
      }
    }
    HANGAR_TRY(store::InsertReservation(tx, record));
    return AppendReservationEvent(tx, record, "hangar.reservation.created", now, who.ActorId());
  }));
  wake_scheduler_();
  return record;
}

Status ReservationService::AppendReservationEvent(store::Tx& tx, const store::ReservationRecord& r,
                                                  std::string type, Timestamp now,
                                                  const std::string& actor) {
  FakeClock at(now);  // the event id carries the change's time
  return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(at),
                                                   .org_id = r.org_id,
                                                   .type = std::move(type),
                                                   .source = "/api/v1/reservations",
                                                   .subject = r.id,
                                                   .time = now,
                                                   .data_json = json::Serialize(ToApi(r)),
                                                   .actor = actor});
}

Result<store::ReservationRecord> ReservationService::Get(const Principal& who,
                                                         const ReservationId& id) {
  std::optional<store::ReservationRecord> r;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(r, store::GetReservation(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!r) return std::unexpected(NotFound(id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "reservations:read", "reservations:read", ScopeOf(*r),
                                         NotFound(id)));
  return std::move(*r);
}

Result<store::Page<store::ReservationRecord>> ReservationService::List(
    const Principal& who, const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "reservations:read"));
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission reservations:read is required")
            .Hint("ask an administrator for a role that includes reservations:read"));
  }
  store::Page<store::ReservationRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListReservations(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<store::ReservationRecord> out{.next_page_token = page.next_page_token};
  for (auto& r : page.items) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "reservations:read", ScopeOf(r)));
    if (d.allowed) out.items.push_back(std::move(r));
  }
  return out;
}

Result<store::ReservationRecord> ReservationService::Cancel(
    const Principal& who, const ReservationId& id, std::optional<int64_t> if_match_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  HANGAR_TRY(authorizer_.RequireOnObject(who, "reservations:delete", "reservations:read",
                                         ScopeOf(current), NotFound(id)));
  Timestamp now = clock_.Now();
  store::ReservationRecord r;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto stored, store::GetReservation(tx, who.org_id, id.str()));
    if (!stored) return std::unexpected(NotFound(id));
    r = std::move(*stored);
    if (if_match_version && *if_match_version != r.version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "reservation " + r.id + " changed since read")
              .Hint("read it again and retry with the new etag"));
    }
    if (r.cancelled_at) {
      return std::unexpected(
          Error::Conflict("the reservation is already cancelled").Field("/state", "cancelled"));
    }
    if (now >= r.end_at) {
      return std::unexpected(Error::Conflict("the reservation ended at " + FormatRfc3339(r.end_at))
                                 .Field("/state", "ended"));
    }
    r.cancelled_at = now;
    r.updated_at = now;
    HANGAR_TRY(store::UpdateReservation(tx, r));
    ++r.version;
    return AppendReservationEvent(tx, r, "hangar.reservation.cancelled", now, who.ActorId());
  }));
  wake_scheduler_();
  return r;
}

Result<api::ReservationCalendar> ReservationService::Calendar(const Principal& who,
                                                              std::optional<std::string> gpu_type,
                                                              std::optional<std::string> from_text,
                                                              std::optional<std::string> to_text) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "reservations:read"));
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission reservations:read is required")
            .Hint("ask an administrator for a role that includes reservations:read"));
  }
  Timestamp now = clock_.Now();
  Error invalid = Error::Invalid("the calendar query is not valid");
  Timestamp from = now;
  if (from_text) {
    if (auto t = ParseRfc3339(*from_text)) {
      from = *t;
    } else {
      invalid.AddField("query:from", "must be an RFC 3339 time");
    }
  }
  Timestamp to = from + kDefaultCalendar;
  if (to_text) {
    if (auto t = ParseRfc3339(*to_text)) {
      to = *t;
    } else {
      invalid.AddField("query:to", "must be an RFC 3339 time");
    }
  }
  if (invalid.violations().empty() && (to <= from || to - from > kMaxCalendar)) {
    invalid.AddField("query:to", "must be after from, at most 92 days later");
  }
  std::vector<store::NodeRecord> nodes;
  std::vector<store::GpuRecord> gpus;
  std::vector<store::GpuTypeRecord> types;
  std::vector<store::ReservationRecord> booked;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(nodes,
                            store::ReadAll<store::NodeRecord>(tx, who.org_id, store::ListNodes));
    HANGAR_ASSIGN_OR_RETURN(gpus,
                            store::ReadAll<store::GpuRecord>(tx, who.org_id, store::ListGpus));
    HANGAR_ASSIGN_OR_RETURN(
        types, store::ReadAll<store::GpuTypeRecord>(tx, who.org_id, store::ListGpuTypes));
    if (invalid.violations().empty()) {
      HANGAR_ASSIGN_OR_RETURN(booked, store::ListReservationsOverlapping(
                                          tx, who.org_id, gpu_type.value_or(""), from, to));
    }
    return Ok();
  }));
  std::map<std::string, int64_t> capacity = CapacityByType(nodes, gpus);
  std::set<std::string> names;
  for (const auto& t : types) names.insert(t.name);
  for (const auto& [name, count] : capacity) names.insert(name);
  if (gpu_type) {
    if (!names.contains(*gpu_type)) {
      invalid.AddField("query:gpu_type", "no GPU type of that name in the catalogue or fleet");
    }
    names = {*gpu_type};
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  // Which bookings the caller may name (the others are counted, not named).
  std::set<std::string> visible;
  for (const auto& r : booked) {
    HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "reservations:read", ScopeOf(r)));
    if (d.allowed) visible.insert(r.id);
  }
  api::ReservationCalendar out{.from = FormatRfc3339(from), .to = FormatRfc3339(to)};
  for (const std::string& name : names) {
    api::GpuTypeCalendar cal{.gpu_type = name, .capacity = capacity[name]};
    std::vector<const store::ReservationRecord*> of_type;
    std::set<Timestamp> cuts = {from, to};
    for (const auto& r : booked) {
      if (r.gpu_type != name) continue;
      of_type.push_back(&r);
      if (r.start_at > from && r.start_at < to) cuts.insert(r.start_at);
      if (r.end_at > from && r.end_at < to) cuts.insert(r.end_at);
    }
    for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
      Timestamp begin = *it, end = *std::next(it);
      api::CalendarSlot slot{.start = FormatRfc3339(begin), .end = FormatRfc3339(end)};
      for (const auto* r : of_type) {
        if (r->start_at >= end || r->end_at <= begin) continue;
        slot.reserved += r->gpus;
        if (visible.contains(r->id)) slot.reservations.push_back(r->id);
      }
      slot.available = std::max<int64_t>(0, cal.capacity - slot.reserved);
      cal.slots.push_back(std::move(slot));
    }
    out.gpu_types.push_back(std::move(cal));
  }
  return out;
}

}  // namespace hangar::workloads
