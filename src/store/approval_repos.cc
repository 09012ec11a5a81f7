// Approval repositories (see approval_repos.h).
#include "store/approval_repos.h"

#include "store/repo_support.h"

namespace hangar::store {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the repositories' own helpers

constexpr std::string_view kPolicySelect =
    "SELECT org_id, project_id, gpus_over, hourly_cost_over_micros, updated_by, version,"
    " updated_at FROM approval_policies";

constexpr std::string_view kApprovalSelect =
    "SELECT a.id, a.org_id, a.subject_kind, a.subject_id, a.scope_id, a.team_id, a.state,"
    " a.level, a.reasons, a.details, a.requested_by, a.decided_by, a.comment, a.decided_at,"
    " a.version, a.created_at, a.updated_at";
constexpr std::string_view kApprovalFrom = " FROM approvals a";

SqlValue OptInt(const std::optional<int64_t>& v) { return v ? SqlValue(*v) : Null(); }

Result<ApprovalPolicyRecord> PolicyFromRow(const Row& r) {
  ApprovalPolicyRecord p{.org_id = OrgId::FromTrusted(r.Text(0)),
                         .project_id = ProjectId::FromTrusted(r.Text(1)),
                         .updated_by = r.Text(4),
                         .version = r.Int(5),
                         .updated_at = r.Time(6)};
  if (!r.IsNull(2)) p.gpus_over = r.Int(2);
  if (!r.IsNull(3)) p.hourly_cost_over_micros = r.Int(3);
  return p;
}

Result<ApprovalRecord> ApprovalFromRow(const Row& r) {
  ApprovalRecord a{.id = r.Text(0),
                   .org_id = OrgId::FromTrusted(r.Text(1)),
                   .subject_kind = r.Text(2),
                   .subject_id = r.Text(3),
                   .scope_id = r.Text(4),
                   .team_id = TeamId::FromTrusted(r.Text(5))};
  HANGAR_ASSIGN_OR_RETURN(a.state, ParseEnum<api::ApprovalState>(r.Text(6), "approval state"));
  a.level = r.Int(7);
  auto reasons = json::ParseAs<std::vector<std::string>>(r.Text(8));
  if (!reasons) return std::unexpected(CorruptRow("approval reasons"));
  a.reasons = std::move(*reasons);
  a.details_json = r.Text(9);
  a.requested_by = r.Text(10);
  a.decided_by = r.Text(11);
  a.comment = r.Text(12);
  a.decided_at = r.OptTime(13);
  a.version = r.Int(14);
  a.created_at = r.Time(15);
  a.updated_at = r.Time(16);
  return a;
}

const ListTable& ApprovalTable() {
  static const ListTable t{&ApprovalListSpec(),
                           kApprovalSelect,
                           kApprovalFrom,
                           "a.org_id",
                           "a.id",
                           "a.created_at",
                           {{"state", "a.state"},
                            {"subject_kind", "a.subject_kind"},
                            {"project_id", "a.scope_id"},
                            {"scope_id", "a.scope_id"},
                            {"subject_id", "a.subject_id"},
                            {"created_at", "a.created_at"}}};
  return t;
}

}  // namespace

Status PutApprovalPolicy(Tx& tx, const ApprovalPolicyRecord& p,
                         std::optional<int64_t> expected_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, GetApprovalPolicy(tx, p.org_id, p.project_id));
  if (expected_version && *expected_version != (current ? current->version : 0)) {
    return std::unexpected(
        Error(ErrorCode::kPreconditionFailed,
              "the approval policy of " + p.project_id.str() + " changed since it was read")
            .Hint("read it again and retry with the new etag"));
  }
  if (!current) {
    return StatusOf(
        tx.Exec("INSERT INTO approval_policies (org_id, project_id, gpus_over,"
                " hourly_cost_over_micros, updated_by, version, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, 1, $6)",
                {p.org_id.str(), p.project_id.str(), OptInt(p.gpus_over),
                 OptInt(p.hourly_cost_over_micros), p.updated_by, ToUnixMicros(p.updated_at)}));
  }
  return StatusOf(
      tx.Exec("UPDATE approval_policies SET gpus_over = $3, hourly_cost_over_micros = $4,"
              " updated_by = $5, version = version + 1, updated_at = $6"
              " WHERE org_id = $1 AND project_id = $2",
              {p.org_id.str(), p.project_id.str(), OptInt(p.gpus_over),
               OptInt(p.hourly_cost_over_micros), p.updated_by, ToUnixMicros(p.updated_at)}));
}

Result<std::optional<ApprovalPolicyRecord>> GetApprovalPolicy(Tx& tx, const OrgId& org,
                                                              const ProjectId& project) {
  static const std::string sql = Concat({kPolicySelect, " WHERE org_id = $1 AND project_id = $2"});
  SqlValue params[] = {org.str(), project.str()};
  return QueryOne<ApprovalPolicyRecord>(tx, sql, params, PolicyFromRow);
}

const ListSpec& ApprovalListSpec() {
  static const ListSpec spec{
      "approvals",
      {
          EnumField<api::ApprovalState>("state", false, "The approval's state."),
          EnumField<api::ApprovalSubjectKind>("subject_kind", false,
                                              "What it is about: an instance or a quota change."),
          Field("project_id", FieldType::kText, true, false, "The project of the request."),
          Field("scope_id", FieldType::kText, true, false,
                "Where it is decided: the project, or the team of a team's quota change."),
          Field("subject_id", FieldType::kText, true, false,
                "What waits for it (an instance id; the team or project of a quota change)."),
          Field("created_at", FieldType::kTime, false, true, "When it was requested."),
      },
  };
  return spec;
}

Status InsertApproval(Tx& tx, const ApprovalRecord& a) {
  return StatusOf(tx.Exec(
      "INSERT INTO approvals (id, org_id, subject_kind, subject_id, scope_id, team_id, state,"
      " level, reasons, details, requested_by, decided_by, comment, decided_at, version,"
      " created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $16)",
      {a.id, a.org_id.str(), a.subject_kind, a.subject_id, a.scope_id, a.team_id.str(),
       std::string(json::EnumName(a.state)), a.level, json::Serialize(a.reasons), a.details_json,
       a.requested_by, a.decided_by, a.comment,
       a.decided_at ? SqlValue(ToUnixMicros(*a.decided_at)) : Null(), ToUnixMicros(a.created_at),
       ToUnixMicros(a.updated_at)}));
}

Result<std::optional<ApprovalRecord>> GetApproval(Tx& tx, const OrgId& org, std::string_view id) {
  static const std::string sql =
      Concat({kApprovalSelect, kApprovalFrom, " WHERE a.org_id = $1 AND a.id = $2"});
  SqlValue params[] = {org.str(), std::string(id)};
  return QueryOne<ApprovalRecord>(tx, sql, params, ApprovalFromRow);
}

Result<Page<ApprovalRecord>> ListApprovals(Tx& tx, const OrgId& org, const ListQuery& query) {
  return RunList<ApprovalRecord>(tx, ApprovalTable(), org, query, ApprovalFromRow);
}

Result<std::vector<ApprovalRecord>> ListPendingApprovalsOf(Tx& tx, const OrgId& org,
                                                           std::string_view subject_id) {
  static const std::string sql =
      Concat({kApprovalSelect, kApprovalFrom,
              " WHERE a.subject_id = $1 AND a.org_id = $2 AND a.state = 'pending' ORDER BY a.id"});
  SqlValue params[] = {std::string(subject_id), org.str()};
  return QueryAll<ApprovalRecord>(tx, sql, params, ApprovalFromRow);
}

Status UpdateApproval(Tx& tx, const ApprovalRecord& a) {
  HANGAR_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE approvals SET state = $3, decided_by = $4, comment = $5, decided_at = $6,"
              " details = $9, version = version + 1, updated_at = $7"
              " WHERE org_id = $1 AND id = $2 AND version = $8",
              {a.org_id.str(), a.id, std::string(json::EnumName(a.state)), a.decided_by, a.comment,
               a.decided_at ? SqlValue(ToUnixMicros(*a.decided_at)) : Null(),
               ToUnixMicros(a.updated_at), a.version, a.details_json}));
  if (changed == 0) {
    return std::unexpected(
        Error(ErrorCode::kPreconditionFailed, "approval " + a.id + " changed since it was read")
            .Hint("read it again and retry with the new etag"));
  }
  return Ok();
}

}  // namespace hangar::store
