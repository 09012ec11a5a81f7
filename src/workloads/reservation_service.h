// ReservationService: advance reservations (/api/v1/reservations). A project books N GPUs of
// one type for a window [start_at, end_at); the calendar shows, per GPU type, what is booked
// when and what is left.
//
// Booking is admission control, in one write transaction per organisation (serialised on
// PostgreSQL by a row lock on the organisation):
//   - capacity: at no moment of the window may the type's reservations exceed the GPUs of that
//     type on ready, uncordoned nodes (409, naming /gpus, with the earliest start that would fit);
//   - quota: at no moment may a project's (or its team's) reservations exceed its gpu_limit
//     (429, as a quota refusal, with how to ask for more).
//
// During the window the scheduler loop (scheduler_loop.cc) sets GPUs aside for the reservation:
// it places one "holder" per missing GPU at the highest priority (preempting preemptible work
// if it must) and records the GPUs it got in `reserved_gpus`. Set-aside GPUs run only work
// that names the reservation (`reservation` on a job or instance of the same project), and
// count against the project's and team's quota whether used or not. Outside the window such
// work waits (`reservation_not_started`, `reservation_ended`).
//
// Events: hangar.reservation.created, hangar.reservation.cancelled.
//
// Authorisation: reservations:read / create / delete at the reservation's project. Another
// tenant's reservation, or one the caller may not read, is a 404.
//
// Thread-safety: all methods are thread-safe; they block on the store.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "api/reservation_types.h"
#include "api/workload_types.h"
#include "common/clock.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/reservation_repos.h"
#include "workloads/queue_board.h"

namespace hangar::workloads {

class ReservationService {
 public:
  // `board` carries the scheduler's word on active reservations still waiting for GPUs.
  // `wake_scheduler` must not block.
  ReservationService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                     const QueueBoard& board, std::function<void()> wake_scheduler);

  // kInvalidArgument naming each bad field; kConflict when the type's capacity is booked;
  // kResourceExhausted over a quota's gpu_limit.
  Result<store::ReservationRecord> Create(const identity::Principal& who,
                                          const api::CreateReservationRequest& request);
  Result<store::ReservationRecord> Get(const identity::Principal& who, const ReservationId& id);
  Result<store::Page<store::ReservationRecord>> List(const identity::Principal& who,
                                                     const store::ListQuery& query);
  // Ends it now (kConflict once ended or cancelled). Its GPUs are free at once; its running
  // work goes on as ordinary work, its waiting work waits with `reservation_ended`.
  Result<store::ReservationRecord> Cancel(const identity::Principal& who, const ReservationId& id,
                                          std::optional<int64_t> if_match_version);
  // The calendar of one GPU type, or of every type, over [from, to): default now and 7 days
  // later, at most 92 days.
  Result<api::ReservationCalendar> Calendar(const identity::Principal& who,
                                            std::optional<std::string> gpu_type,
                                            std::optional<std::string> from,
                                            std::optional<std::string> to);

  // The API object at `now`, with the GPUs its running work holds (milli-GPUs).
  api::Reservation ToApi(const store::ReservationRecord& r, int64_t in_use_milli = 0) const;
  // The GPUs (milli) running work holds in each reservation of the organisation.
  Result<std::map<std::string, int64_t>> InUse(const OrgId& org);

 private:
  Status AppendReservationEvent(store::Tx& tx, const store::ReservationRecord& r, std::string type,
                                Timestamp now, const std::string& actor);

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  const QueueBoard& board_;
  std::function<void()> wake_scheduler_;
};

// Checks that a job or instance of `project` may run in the reservation its request names,
// and completes the request: the GPU type becomes the reservation's. kInvalidArgument naming
// /reservation (unknown, another project's, cancelled or over), /resources/gpu_type (another
// type) or /resources/gpus (more than the reservation holds). Does nothing without one.
Status CheckReservationUse(store::Tx& tx, const OrgId& org, const ProjectId& project,
                           api::SubmitJobRequest& spec, Timestamp now);

// The label of the GPU type the scheduler gives a reservation's set-aside GPUs
// ("H100-80GB@rsv_…"), so that only work naming the reservation asks for it.
std::string ReservedGpuType(const store::ReservationRecord& r);

}  // namespace hangar::workloads
