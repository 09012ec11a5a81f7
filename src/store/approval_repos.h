// Approval repositories: the per-project approval policy and the approvals people decide (of
// instances and of quota changes). Same rules as store/repos.h: functions run in the caller's
// transaction and take the OrgId.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/approval_types.h"
#include "store/repos.h"

namespace hangar::store {

struct ApprovalPolicyRecord {
  OrgId org_id;
  ProjectId project_id;
  std::optional<int64_t> gpus_over;
  std::optional<int64_t> hourly_cost_over_micros;
  std::string updated_by;
  int64_t version = 1;
  Timestamp updated_at;
};

struct ApprovalRecord {
  std::string id;  // "apr_…"
  OrgId org_id;
  std::string subject_kind;  // "instance" | "quota"
  std::string subject_id;    // the instance; the team or project of a quota change
  std::string scope_id;      // where it is decided: the project, or the team of a team's quota
  TeamId team_id;            // the scope's team
  api::ApprovalState state = api::ApprovalState::pending;
  int64_t level = 1;
  std::vector<std::string> reasons;
  std::string details_json = "{}";  // "quota": an api::QuotaChange
  std::string requested_by;
  std::string decided_by;
  std::string comment;
  std::optional<Timestamp> decided_at;
  int64_t version = 1;
  Timestamp created_at;
  Timestamp updated_at;
};

// Inserts or replaces the project's policy; with `expected_version`, the stored one must be at
// that version (0: none yet), else kPreconditionFailed.
Status PutApprovalPolicy(Tx& tx, const ApprovalPolicyRecord& policy,
                         std::optional<int64_t> expected_version);
Result<std::optional<ApprovalPolicyRecord>> GetApprovalPolicy(Tx& tx, const OrgId& org,
                                                              const ProjectId& project);

// Approvals: filter by state, subject_kind, project_id, scope_id (both the scope_id column),
// subject_id; sort by created_at.
const ListSpec& ApprovalListSpec();
Status InsertApproval(Tx& tx, const ApprovalRecord& a);
Result<std::optional<ApprovalRecord>> GetApproval(Tx& tx, const OrgId& org, std::string_view id);
Result<Page<ApprovalRecord>> ListApprovals(Tx& tx, const OrgId& org, const ListQuery& query);
// The pending approvals of `subject_id`.
Result<std::vector<ApprovalRecord>> ListPendingApprovalsOf(Tx& tx, const OrgId& org,
                                                           std::string_view subject_id);
// Writes state, decided_by, comment, decided_at and details if the stored version is a.version
// (kPreconditionFailed otherwise), and stores version + 1.
Status UpdateApproval(Tx& tx, const ApprovalRecord& a);

}  // namespace hangar::store
