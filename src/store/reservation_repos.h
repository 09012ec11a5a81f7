// Reservation repositories: advance reservations (/api/v1/reservations) and the control loop's
// query for the ones that are not over. Same rules as store/repos.h: functions run in the
// caller's transaction and take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/reservation_types.h"
#include "store/repos.h"

namespace hangar::store {

struct ReservationRecord {
  std::string id;  // "rsv_…"
  OrgId org_id;
  ProjectId project_id;
  TeamId team_id;
  std::string name;
  std::string description;
  std::string gpu_type;
  int64_t gpus = 0;
  Timestamp start_at;
  Timestamp end_at;
  std::optional<Timestamp> cancelled_at;
  std::vector<api::ReservedGpu> reserved_gpus;  // set aside while active
  std::string created_by;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;

  // Holds GPUs at `t`: inside the window and not cancelled.
  bool ActiveAt(Timestamp t) const { return !cancelled_at && start_at <= t && t < end_at; }
};

// Reservations: filter by project_id, gpu_type, name; sort by created_at, start_at or name.
const ListSpec& ReservationListSpec();

Status InsertReservation(Tx& tx, const ReservationRecord& r);
Result<std::optional<ReservationRecord>> GetReservation(Tx& tx, const OrgId& org,
                                                        std::string_view id);
Result<Page<ReservationRecord>> ListReservations(Tx& tx, const OrgId& org, const ListQuery& query);
// Uncancelled reservations of `org` whose window overlaps [from, to), by start time; every type
// when `gpu_type` is empty.
Result<std::vector<ReservationRecord>> ListReservationsOverlapping(Tx& tx, const OrgId& org,
                                                                   std::string_view gpu_type,
                                                                   Timestamp from, Timestamp to);
// Uncancelled reservations of every organisation active at `now` (the control loop's query).
Result<std::vector<ReservationRecord>> ListReservationsActiveAt(Tx& tx, Timestamp now);
// The next time after `now` at which an uncancelled reservation begins or ends, if any.
Result<std::optional<Timestamp>> NextReservationChange(Tx& tx, Timestamp now);
// Writes name, description, cancelled_at and reserved_gpus if the stored version is r.version,
// and stores version + 1 (kPreconditionFailed when it changed since read).
Status UpdateReservation(Tx& tx, const ReservationRecord& r);

// Serialises bookings of one organisation on PostgreSQL (a row lock on the organisation, held
// to the end of the transaction), so two concurrent bookings cannot both take the last GPUs.
// SQLite transactions are serial already.
Status LockOrgForBooking(Tx& tx, const OrgId& org);

}  // namespace hangar::store
