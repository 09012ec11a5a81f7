// Approval types: what a project requires approval for, and the approvals people decide
// (/api/v1/approval-policies, /api/v1/approvals).
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

// One decision: today an instance held in awaiting_approval. `level` numbers the steps of a
// chain (one step today; the field is there so chains add steps, not a new shape).
struct Approval {
  std::string id;
  std::string subject_kind;  // "instance"
  std::string subject_id;
  std::string project_id;
  ApprovalState state = ApprovalState::pending;
  int64_t level = 1;
  std::vector<std::string> reasons;  // why it needs approval, in words
  std::string requested_by;
  std::string decided_by;
  std::string comment;
  std::optional<std::string> decided_at;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Approval, (),
                      (id, subject_kind, subject_id, project_id, state, level, reasons,
                       requested_by, decided_by, comment, decided_at, created_at, updated_at, etag,
                       links))

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
