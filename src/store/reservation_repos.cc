// Reservation repositories (see reservation_repos.h).
#include "store/reservation_repos.h"

#include "common/json_codec.h"
#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kReservationSelect =
    "SELECT r.id, r.org_id, r.project_id, r.team_id, r.name, r.description, r.gpu_type, r.gpus,"
    " r.start_at, r.end_at, r.cancelled_at, r.reserved_gpus, r.created_by, r.version,"
    " r.created_at, r.updated_at";
constexpr std::string_view kReservationFrom = " FROM reservations r";

Result<ReservationRecord> ReservationFromRow(const Row& row) {
  ReservationRecord r{.id = row.Text(0),
                      .org_id = OrgId::FromTrusted(row.Text(1)),
                      .project_id = ProjectId::FromTrusted(row.Text(2)),
                      .team_id = TeamId::FromTrusted(row.Text(3)),
                      .name = row.Text(4),
                      .description = row.Text(5),
                      .gpu_type = row.Text(6),
                      .gpus = row.Int(7),
                      .start_at = row.Time(8),
                      .end_at = row.Time(9),
                      .cancelled_at = row.OptTime(10)};
  auto reserved = json::ParseAs<std::vector<api::ReservedGpu>>(row.Text(11));
  if (!reserved) return std::unexpected(CorruptRow("reservation " + r.id + " reserved_gpus"));
  r.reserved_gpus = std::move(*reserved);
  r.created_by = row.Text(12);
  r.version = row.Int(13);
  r.created_at = row.Time(14);
  r.updated_at = row.Time(15);
  return r;
}

SqlValue OptTimeParam(const std::optional<Timestamp>& t) {
  return t ? SqlValue(ToUnixMicros(*t)) : Null();
}

const ListTable& ReservationTable() {
  static const ListTable t{&ReservationListSpec(),
                           kReservationSelect,
                           kReservationFrom,
                           "r.org_id",
                           "r.id",
                           "r.created_at",
                           {{"project_id", "r.project_id"},
                            {"gpu_type", "r.gpu_type"},
                            {"name", "r.name"},
                            {"start_at", "r.start_at"},
                            {"created_at", "r.created_at"}}};
  return t;
}

}  // namespace

const ListSpec& ReservationListSpec() {
  static const ListSpec spec{
      "reservations",
      {
          Field("project_id", FieldType::kText, true, false, "The project it is for."),
          Field("gpu_type", FieldType::kText, true, false, "The GPU type it books."),
          Field("name", FieldType::kText, true, true, "The reservation's name."),
          Field("start_at", FieldType::kTime, false, true, "When its window begins."),
          Field("created_at", FieldType::kTime, false, true, "When it was booked."),
      },
  };
  return spec;
}

Status InsertReservation(Tx& tx, const ReservationRecord& r) {
  return StatusOf(tx.Exec(
      "INSERT INTO reservations (id, org_id, project_id, team_id, name, description, gpu_type,"
      " gpus, start_at, end_at, cancelled_at, reserved_gpus, created_by, version, created_at,"
      " updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15)",
      {r.id, r.org_id.str(), r.project_id.str(), r.team_id.str(), r.name, r.description, r.gpu_type,
       r.gpus, ToUnixMicros(r.start_at), ToUnixMicros(r.end_at), OptTimeParam(r.cancelled_at),
       json::Serialize(r.reserved_gpus), r.created_by, ToUnixMicros(r.created_at),
       ToUnixMicros(r.updated_at)}));
}

Result<std::optional<ReservationRecord>> GetReservation(Tx& tx, const OrgId& org,
                                                        std::string_view id) {
  static const std::string sql =
      Concat({kReservationSelect, kReservationFrom, " WHERE r.org_id = $1 AND r.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<ReservationRecord>(tx, sql, params, ReservationFromRow);
}

Result<Page<ReservationRecord>> ListReservations(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<ReservationRecord>(tx, ReservationTable(), org, query, ReservationFromRow);
}

Result<std::vector<ReservationRecord>> ListReservationsOverlapping(Tx& tx, const OrgId& org,
                                                                   std::string_view gpu_type,
                                                                   Timestamp from, Timestamp to) {
  static const std::string any_type = Concat(
      {kReservationSelect, kReservationFrom,
       " WHERE r.org_id = $1 AND r.cancelled_at IS NULL AND r.end_at > $2 AND r.start_at < $3"
       " ORDER BY r.start_at, r.id"});
  static const std::string one_type =
      Concat({kReservationSelect, kReservationFrom,
              " WHERE r.org_id = $1 AND r.cancelled_at IS NULL AND r.end_at > $2"
              " AND r.start_at < $3 AND r.gpu_type = $4 ORDER BY r.start_at, r.id"});
  if (gpu_type.empty()) {
    SqlValue params[] = {org.str(), ToUnixMicros(from), ToUnixMicros(to)};
    return QueryAll<ReservationRecord>(tx, any_type, params, ReservationFromRow);
  }
  SqlValue params[] = {org.str(), ToUnixMicros(from), ToUnixMicros(to), std::string(gpu_type)};
  return QueryAll<ReservationRecord>(tx, one_type, params, ReservationFromRow);
}

Result<std::vector<ReservationRecord>> ListReservationsActiveAt(Tx& tx, Timestamp now) {
  static const std::string sql =
      Concat({kReservationSelect, kReservationFrom,
              " WHERE r.cancelled_at IS NULL AND r.start_at <= $1 AND r.end_at > $1"
              " ORDER BY r.org_id, r.start_at, r.id"});
  SqlValue params[] = {ToUnixMicros(now)};
  return QueryAll<ReservationRecord>(tx, sql, params, ReservationFromRow);
}

Result<std::optional<Timestamp>> NextReservationChange(Tx& tx, Timestamp now) {
  HANGAR_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT MIN(CASE WHEN start_at > $1 THEN start_at ELSE end_at END)"
                          " FROM reservations WHERE cancelled_at IS NULL AND end_at > $1",
                          {ToUnixMicros(now)}));
  if (rows.empty()) return std::optional<Timestamp>();
  return rows.front().OptTime(0);
}

Status UpdateReservation(Tx& tx, const ReservationRecord& r) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE reservations SET name = $3, description = $4, cancelled_at = $5,"
              " reserved_gpus = $6, version = version + 1, updated_at = $7"
              " WHERE org_id = $1 AND id = $2 AND version = $8",
              {r.org_id.str(), r.id, r.name, r.description, OptTimeParam(r.cancelled_at),
               json::Serialize(r.reserved_gpus), ToUnixMicros(r.updated_at), r.version}));
  if (changed == 0) {
    return std::unexpected(
        Error(ErrorCode::kPreconditionFailed, "reservation " + r.id + " changed since it was read")
            .Hint("read it again and retry with the new etag"));
  }
  return Ok();
}

Status LockOrgForBooking(Tx& tx, const OrgId& org) {
  if (tx.dialect() != Dialect::kPostgres) return Ok();
  return StatusOf(tx.Query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE", {org.str()}));
}

}  // namespace hangar::store
