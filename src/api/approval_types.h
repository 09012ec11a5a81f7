// Approval types: what a project requires approval for, the approvals people decide
// (/api/v1/approval-policies, /api/v1/approvals), and the quota change requests that create
// them (PUT /api/v1/quotas/request).
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace hangar::api {

// GET/PUT /api/v1/approval-policies/{project_id}. An unset threshold requires nothing.
struct ApprovalPolicy {
  std::string project_id;
  std::optional<int64_t> gpus_over;                // more GPUs than this in one request
  std::optional<int64_t> hourly_cost_over_micros;  // a request priced above this per hour
  std::string updated_by;
  std::optional<std::string> updated_at;  // null: never set (nothing requires approval)
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(ApprovalPolicy, (),
                      (project_id, gpus_over, hourly_cost_over_micros, updated_by, updated_at, etag,
                       links))

struct SetApprovalPolicyRequest {
  std::optional<int64_t> gpus_over;
  std::optional<int64_t> hourly_cost_over_micros;
};
BOOST_DESCRIBE_STRUCT(SetApprovalPolicyRequest, (), (gpus_over, hourly_cost_over_micros))

BOOST_DEFINE_ENUM_CLASS(ApprovalState, pending, approved, rejected, cancelled)

// What an approval is about (the `subject_kind` filter of GET /api/v1/approvals).
BOOST_DEFINE_ENUM_CLASS(ApprovalSubjectKind, instance, quota)

// The parts of a GPU quota (docs/quotas.md). In a request an absent part stays as it is; in a
// quota in force an absent gpu_limit or gpu_limit_per_user means no ceiling, and an absent
// overage_grace_seconds no grace (running work is never stopped for overage).
struct QuotaValues {
  std::optional<int64_t> gpus;
  std::optional<int64_t> gpu_limit;
  std::optional<int64_t> weight;
  std::optional<int64_t> gpu_limit_per_user;  // a project's only
  std::optional<int64_t> overage_grace_seconds;
};
BOOST_DESCRIBE_STRUCT(QuotaValues, (),
                      (gpus, gpu_limit, weight, gpu_limit_per_user, overage_grace_seconds))

// What a quota approval asks for.
struct QuotaChange {
  QuotaValues requested;               // only the parts asked for
  QuotaValues in_force;                // the scope's quota when asked (all three parts)
  std::optional<QuotaValues> applied;  // the quota the approval put in force; null until then
  std::string reason;                  // the requester's words
};
BOOST_DESCRIBE_STRUCT(QuotaChange, (), (requested, in_force, applied, reason))

// PUT /api/v1/quotas/request: asks for a team's or project's quota to change. Creates a pending
// approval; someone holding quotas:approve at the scope puts it in force by approving it.
struct QuotaChangeRequest {
  std::string scope_id;  // "team_…" or "proj_…"
  std::optional<int64_t> gpus;
  std::optional<int64_t> gpu_limit;
  std::optional<int64_t> weight;
  std::optional<int64_t> gpu_limit_per_user;  // a project only
  std::optional<int64_t> overage_grace_seconds;
  std::string reason;  // why, for the approver (1..2000 characters)
};
BOOST_DESCRIBE_STRUCT(QuotaChangeRequest, (),
                      (scope_id, gpus, gpu_limit, weight, gpu_limit_per_user, overage_grace_seconds,
                       reason))

// One decision: an instance held in awaiting_approval (subject_kind "instance", subject_id the
// instance) or a quota change (subject_kind "quota", subject_id the team or project). `level`
// numbers the steps of a chain (one step today; the field is there so chains add steps, not a
// new shape).
struct Approval {
  std::string id;
  std::string subject_kind;  // "instance" | "quota"
  std::string subject_id;
  std::string project_id;  // the project; "" for a team's quota change
  std::string scope_id;    // where it is decided: the project, or the team of a team's quota
  ApprovalState state = ApprovalState::pending;
  int64_t level = 1;
  std::vector<std::string> reasons;  // why it needs approval, in words
  std::string requested_by;
  std::string decided_by;
  std::string comment;
  std::optional<std::string> decided_at;
  std::string created_at;
  std::string updated_at;
  std::optional<QuotaChange> quota;  // subject_kind "quota": the change asked for; else null
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Approval, (),
                      (id, subject_kind, subject_id, project_id, scope_id, state, level, reasons,
                       requested_by, decided_by, comment, decided_at, created_at, updated_at, quota,
                       etag, links))

struct ApprovalList {
  std::vector<Approval> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(ApprovalList, (), (items, next_page_token))

// POST /api/v1/approvals/{id}/approve and /reject
struct DecideApprovalRequest {
  std::optional<std::string> comment;
};
BOOST_DESCRIBE_STRUCT(DecideApprovalRequest, (), (comment))

}  // namespace hangar::api
