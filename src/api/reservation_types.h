// Reservation types: advance reservations (/api/v1/reservations). A reservation books a number
// of GPUs of one type for a project over a future window; during the window those GPUs run only
// the project's work that names the reservation.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// scheduled: the window has not begun; active: it has, GPUs are set aside for it; ended: the
// window is over; cancelled: cancelled before its end (its remaining time is free again).
BOOST_DEFINE_ENUM_CLASS(ReservationState, scheduled, active, ended, cancelled)

// POST /api/v1/reservations
struct CreateReservationRequest {
  std::string project;              // id or name
  std::optional<std::string> name;  // default "<gpus>x<gpu type>"
  std::string gpu_type;             // a type of the catalogue ("H100-80GB")
  int64_t gpus = 0;                 // 1..1024
  std::string start_at;             // RFC 3339; not in the past (a minute's slack)
  std::string end_at;               // RFC 3339; 5 minutes to 31 days after start_at
  std::optional<std::string> description;
};
BOOST_DESCRIBE_STRUCT(CreateReservationRequest, (),
                      (project, name, gpu_type, gpus, start_at, end_at, description))

// A GPU set aside for an active reservation.
struct ReservedGpu {
  std::string node_id;
  int64_t index = 0;
};
BOOST_DESCRIBE_STRUCT(ReservedGpu, (), (node_id, index))

struct Reservation {
  std::string id;
  std::string project_id;
  std::string name;
  std::string description;
  std::string gpu_type;
  int64_t gpus = 0;
  std::string start_at;
  std::string end_at;
  ReservationState state = ReservationState::scheduled;
  // Active: the GPUs set aside so far; fewer than `gpus` while busy GPUs are being freed, and
  // `message` says what it waits for.
  std::vector<ReservedGpu> reserved_gpus;
  int64_t gpus_in_use = 0;  // by the reservation's running work (a share counts its share)
  std::string message;
  std::optional<std::string> cancelled_at;
  std::string created_by;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Reservation, (),
                      (id, project_id, name, description, gpu_type, gpus, start_at, end_at, state,
                       reserved_gpus, gpus_in_use, message, cancelled_at, created_by, created_at,
                       updated_at, etag, links))

struct ReservationList {
  std::vector<Reservation> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(ReservationList, (), (items, next_page_token))

// GET /api/v1/reservations/calendar: per GPU type, the time between `from` and `to` cut where
// reservations begin or end. `reserved` counts every reservation of the organisation;
// `reservations` lists those the caller may read.
struct CalendarSlot {
  std::string start;
  std::string end;
  int64_t reserved = 0;
  int64_t available = 0;  // capacity - reserved, never below 0
  std::vector<std::string> reservations;
};
BOOST_DESCRIBE_STRUCT(CalendarSlot, (), (start, end, reserved, available, reservations))

struct GpuTypeCalendar {
  std::string gpu_type;
  int64_t capacity = 0;  // GPUs of the type on ready, uncordoned nodes
  std::vector<CalendarSlot> slots;
};
BOOST_DESCRIBE_STRUCT(GpuTypeCalendar, (), (gpu_type, capacity, slots))

struct ReservationCalendar {
  std::string from;
  std::string to;
  std::vector<GpuTypeCalendar> gpu_types;
};
BOOST_DESCRIBE_STRUCT(ReservationCalendar, (), (from, to, gpu_types))

}  // namespace hangar::api
