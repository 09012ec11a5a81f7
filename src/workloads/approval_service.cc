#include "workloads/approval_service.h"

#include "common/json_codec.h"
#include "store/identity_repos.h"
#include "workloads/instance_service.h"
#include "workloads/quota_service.h"
#include "workloads/run_lifecycle.h"

namespace hangar::workloads {

namespace {

using identity::Principal;
using identity::ResourceScope;
using State = store::WorkloadState;

constexpr std::string_view kQuotaKind = "quota";

bool IsQuota(const store::ApprovalRecord& a) { return a.subject_kind == kQuotaKind; }

// A quota approval of a team is decided at the team; every other one at its project.
bool AtTeam(const store::ApprovalRecord& a) {
  return IsQuota(a) && TeamId::Parse(a.scope_id).has_value();
}

ResourceScope ScopeOf(const store::ApprovalRecord& a) {
  if (AtTeam(a)) return ResourceScope::Team(a.org_id, a.team_id);
  return ResourceScope::Project(a.org_id, a.team_id, ProjectId::FromTrusted(a.scope_id));
}

Error NotFound(const ApprovalId& id) {
  return Error::NotFound("approval " + id.str() + " not found");
}

// Money as people read it in reasons: 12.50.
std::string Amount(int64_t micros) {
  return std::to_string(micros / 1'000'000) + "." +
         std::to_string((micros % 1'000'000) / 10'000 + 100).substr(1);
}

Status AppendApprovalEvent(store::Tx& tx, const store::ApprovalRecord& a, std::string type,
                           Timestamp now, const std::string& actor) {
  FakeClock at(now);
  return store::AppendEvent(tx, store::EventRecord{.id = EventId::Generate(at),
                                                   .org_id = a.org_id,
                                                   .type = std::move(type),
                                                   .source = "/api/v1/approvals",
                                                   .subject = a.id,
                                                   .time = now,
                                                   .data_json = json::Serialize(ToApiApproval(a)),
                                                   .actor = actor});
}

// A part of a quota as people read it: a number, or "none" for an absent limit.
std::string Part(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "none"; }

// "gpu_limit 2 -> 4, weight 1 -> 3": each part asked for, from the quota in force.
std::string ChangeSummary(const api::QuotaChange& c) {
  std::string out;
  auto add = [&](const char* name, const std::optional<int64_t>& from,
                 const std::optional<int64_t>& to) {
    if (!to) return;
    out += (out.empty() ? "" : ", ") + std::string(name) + " " + Part(from) + " -> " + Part(to);
  };
  add("gpus", c.in_force.gpus, c.requested.gpus);
  add("gpu_limit", c.in_force.gpu_limit, c.requested.gpu_limit);
  add("weight", c.in_force.weight, c.requested.weight);
  add("gpu_limit_per_user", c.in_force.gpu_limit_per_user, c.requested.gpu_limit_per_user);
  add("overage_grace_seconds", c.in_force.overage_grace_seconds, c.requested.overage_grace_seconds);
  return out;
}

Result<api::QuotaChange> QuotaChangeOf(const store::ApprovalRecord& a) {
  auto change = json::ParseAs<api::QuotaChange>(a.details_json);
  if (!change) return std::unexpected(Error::Internal("approval " + a.id + ": corrupt details"));
  return std::move(*change);
}

// Approving a quota change puts it in force and records what was applied in the approval.
Status ApplyApprovedQuota(store::Tx& tx, store::ApprovalRecord& a, const Clock& clock,
                          Timestamp now, const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto change, QuotaChangeOf(a));
  HANGAR_ASSIGN_OR_RETURN(
      auto quota, ApplyQuotaChange(tx, a.org_id, a.scope_id, change.requested, clock, now, actor));
  change.applied = api::QuotaValues{.gpus = quota.gpus,
                                    .gpu_limit = quota.gpu_limit,
                                    .weight = quota.weight,
                                    .gpu_limit_per_user = quota.gpu_limit_per_user,
                                    .overage_grace_seconds = quota.overage_grace_seconds};
  a.details_json = json::Serialize(change);
  return Ok();
}

// What deciding does to an instance waiting for it: queued, or terminated.
Status DecideInstance(store::Tx& tx, const store::ApprovalRecord& a, bool approve, Timestamp now,
                      const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto subject, store::GetWorkload(tx, a.org_id, a.subject_id));
  if (!subject || subject->state != State::awaiting_approval) return Ok();
  std::string said = a.comment.empty() ? "" : ": " + a.comment;
  if (approve) {
    return TransitionWorkload(tx, *subject, State::pending, "approved",
                              "approved by " + actor + said + "; queued for placement", now, actor);
  }
  return FinishRun(tx, *subject, State::terminated, "rejected", "rejected by " + actor + said, now,
                   actor);
}

api::ApprovalPolicy ToApiPolicy(const ProjectId& project,
                                const std::optional<store::ApprovalPolicyRecord>& p) {
  api::ApprovalPolicy out{.project_id = project.str(),
                          .etag = api::ETagOf(p ? p->version : 0),
                          .links = {{"self", "/api/v1/approval-policies/" + project.str()},
                                    {"project", "/api/v1/projects/" + project.str()}}};
  if (p) {
    out.gpus_over = p->gpus_over;
    out.hourly_cost_over_micros = p->hourly_cost_over_micros;
    out.updated_by = p->updated_by;
    out.updated_at = FormatRfc3339(p->updated_at);
  }
  return out;
}

}  // namespace

api::Approval ToApiApproval(const store::ApprovalRecord& a) {
  std::string self = "/api/v1/approvals/" + a.id;
  api::Approval out{.id = a.id,
                    .subject_kind = a.subject_kind,
                    .subject_id = a.subject_id,
                    .project_id = AtTeam(a) ? "" : a.scope_id,
                    .scope_id = a.scope_id,
                    .state = a.state,
                    .level = a.level,
                    .reasons = a.reasons,
                    .requested_by = a.requested_by,
                    .decided_by = a.decided_by,
                    .comment = a.comment,
                    .created_at = FormatRfc3339(a.created_at),
                    .updated_at = FormatRfc3339(a.updated_at),
                    .etag = api::ETagOf(a.version),
                    .links = {{"self", self}}};
  if (a.decided_at) out.decided_at = FormatRfc3339(*a.decided_at);
  if (AtTeam(a)) {
    out.links["team"] = "/api/v1/teams/" + a.scope_id;
  } else {
    out.links["project"] = "/api/v1/projects/" + a.scope_id;
  }
  if (IsQuota(a)) {
    out.links["subject"] = "/api/v1/quotas/" + a.subject_id;
    if (auto change = QuotaChangeOf(a)) out.quota = std::move(*change);
  } else {
    out.links["subject"] = "/api/v1/instances/" + a.subject_id;
  }
  return out;
}

Result<store::ApprovalRecord> RecordQuotaApproval(store::Tx& tx, const OrgId& org,
                                                  const TeamId& team, const std::string& scope_id,
                                                  const api::QuotaChange& change,
                                                  const Clock& clock, const std::string& actor) {
  Timestamp now = clock.Now();
  store::ApprovalRecord a{.id = ApprovalId::Generate(clock).str(),
                          .org_id = org,
                          .subject_kind = std::string(kQuotaKind),
                          .subject_id = scope_id,
                          .scope_id = scope_id,
                          .team_id = team,
                          .reasons = {"quota change: " + ChangeSummary(change), change.reason},
                          .details_json = json::Serialize(change),
                          .requested_by = actor,
                          .created_at = now,
                          .updated_at = now};
  HANGAR_TRY(store::InsertApproval(tx, a));
  HANGAR_TRY(AppendApprovalEvent(tx, a, "hangar.approval.requested", now, actor));
  return a;
}

Result<bool> RequestApprovalIfNeeded(store::Tx& tx, store::WorkloadRecord& r, int64_t gpus,
                                     int64_t hourly_price_micros, const Clock& clock,
                                     const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto policy, store::GetApprovalPolicy(tx, r.org_id, r.project_id));
  if (!policy) return false;
  std::vector<std::string> reasons;
  if (policy->gpus_over && gpus > *policy->gpus_over) {
    reasons.push_back(std::to_string(gpus) + " GPUs is more than the " +
                      std::to_string(*policy->gpus_over) + " the project allows without approval");
  }
  if (policy->hourly_cost_over_micros && hourly_price_micros > *policy->hourly_cost_over_micros) {
    reasons.push_back("up to " + Amount(hourly_price_micros) + " per hour is more than the " +
                      Amount(*policy->hourly_cost_over_micros) +
                      " the project allows without approval");
  }
  if (reasons.empty()) return false;
  Timestamp now = clock.Now();
  store::ApprovalRecord a{.id = ApprovalId::Generate(clock).str(),
                          .org_id = r.org_id,
                          .subject_kind = r.kind,
                          .subject_id = r.id,
                          .scope_id = r.project_id.str(),
                          .team_id = r.team_id,
                          .reasons = reasons,
                          .requested_by = actor,
                          .created_at = now,
                          .updated_at = now};
  HANGAR_TRY(store::InsertApproval(tx, a));
  HANGAR_TRY(AppendApprovalEvent(tx, a, "hangar.approval.requested", now, actor));
  r.state = State::awaiting_approval;
  r.state_reason = "awaiting_approval";
  std::string why;
  for (const auto& reason : reasons) why += (why.empty() ? "" : "; ") + reason;
  r.state_message = "waiting for approval " + a.id + ": " + why;
  return true;
}

Status CancelApprovalsOf(store::Tx& tx, const OrgId& org, const std::string& subject_id,
                         Timestamp now, const std::string& actor) {
  HANGAR_ASSIGN_OR_RETURN(auto pending, store::ListPendingApprovalsOf(tx, org, subject_id));
  for (auto& a : pending) {
    a.state = api::ApprovalState::cancelled;
    a.updated_at = now;
    HANGAR_TRY(store::UpdateApproval(tx, a));
    ++a.version;
    HANGAR_TRY(AppendApprovalEvent(tx, a, "hangar.approval.cancelled", now, actor));
  }
  return Ok();
}

ApprovalService::ApprovalService(store::Store& store, const Clock& clock,
                                 identity::Authorizer& authorizer,
                                 std::function<void()> wake_scheduler)
    : store_(store),
      clock_(clock),
      authorizer_(authorizer),
      wake_scheduler_(std::move(wake_scheduler)) {}

Result<api::ApprovalPolicy> ApprovalService::GetPolicy(const Principal& who,
                                                       const std::string& project) {
  std::optional<store::ProjectRecord> p;
  std::optional<store::ApprovalPolicyRecord> policy;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(p, store::FindProject(tx, who.org_id, project));
    if (p) {
      HANGAR_ASSIGN_OR_RETURN(policy, store::GetApprovalPolicy(tx, who.org_id, p->id));
    }
    return Ok();
  }));
  Error not_found = Error::NotFound("project " + project + " not found");
  if (!p) return std::unexpected(not_found);
  HANGAR_TRY(authorizer_.RequireOnObject(who, "projects:read", "projects:read",
                                         ResourceScope::Project(who.org_id, p->team_id, p->id),
                                         not_found));
  return ToApiPolicy(p->id, policy);
}

Result<api::ApprovalPolicy> ApprovalService::SetPolicy(const Principal& who,
                                                       const std::string& project,
                                                       const api::SetApprovalPolicyRequest& request,
                                                       std::optional<int64_t> if_match_version) {
  std::optional<store::ProjectRecord> p;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(p, store::FindProject(tx, who.org_id, project));
    return Ok();
  }));
  Error not_found = Error::NotFound("project " + project + " not found");
  if (!p) return std::unexpected(not_found);
  const ProjectId id = p->id;
  HANGAR_TRY(authorizer_.RequireOnObject(who, "approval-policies:update", "projects:read",
                                         ResourceScope::Project(who.org_id, p->team_id, p->id),
                                         not_found));
  Error invalid = Error::Invalid("the approval policy is not valid");
  if (request.gpus_over && *request.gpus_over < 0) invalid.AddField("/gpus_over", "must be >= 0");
  if (request.hourly_cost_over_micros && *request.hourly_cost_over_micros < 0) {
    invalid.AddField("/hourly_cost_over_micros", "must be >= 0");
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  std::optional<store::ApprovalPolicyRecord> stored;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    Timestamp now = clock_.Now();
    store::ApprovalPolicyRecord record{.org_id = who.org_id,
                                       .project_id = id,
                                       .gpus_over = request.gpus_over,
                                       .hourly_cost_over_micros = request.hourly_cost_over_micros,
                                       .updated_by = who.ActorId(),
                                       .updated_at = now};
    HANGAR_TRY(store::PutApprovalPolicy(tx, record, if_match_version));
    HANGAR_ASSIGN_OR_RETURN(stored, store::GetApprovalPolicy(tx, who.org_id, id));
    FakeClock at(now);
    return store::AppendEvent(
        tx, store::EventRecord{.id = EventId::Generate(at),
                               .org_id = who.org_id,
                               .type = "hangar.approval_policy.updated",
                               .source = "/api/v1/approval-policies",
                               .subject = id.str(),
                               .time = now,
                               .data_json = json::Serialize(ToApiPolicy(id, stored)),
                               .actor = who.ActorId()});
  }));
  return ToApiPolicy(id, stored);
}

Result<bool> ApprovalService::MayRead(const Principal& who, const store::ApprovalRecord& a) {
  HANGAR_ASSIGN_OR_RETURN(auto d, authorizer_.Check(who, "approvals:read", ScopeOf(a)));
  if (d.allowed || !IsQuota(a)) return d.allowed;
  // Whoever may read a scope's quota may ask for it to change, and so follow the request.
  HANGAR_ASSIGN_OR_RETURN(d, authorizer_.Check(who, "quotas:read", ScopeOf(a)));
  return d.allowed;
}

Status ApprovalService::RequireMayDecide(const Principal& who, const store::ApprovalRecord& a) {
  if (IsQuota(a)) return authorizer_.Require(who, "quotas:approve", ScopeOf(a));
  return authorizer_.RequireOnObject(who, "approvals:decide", "approvals:read", ScopeOf(a),
                                     NotFound(ApprovalId::FromTrusted(a.id)));
}

Result<store::ApprovalRecord> ApprovalService::Get(const Principal& who, const ApprovalId& id) {
  std::optional<store::ApprovalRecord> a;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(a, store::GetApproval(tx, who.org_id, id.str()));
    return Ok();
  }));
  if (!a) return std::unexpected(NotFound(id));
  HANGAR_ASSIGN_OR_RETURN(bool readable, MayRead(who, *a));
  if (!readable) return std::unexpected(NotFound(id));
  return std::move(*a);
}

Result<store::Page<store::ApprovalRecord>> ApprovalService::List(const Principal& who,
                                                                 const store::ListQuery& query) {
  HANGAR_ASSIGN_OR_RETURN(bool any, authorizer_.HoldsAnywhere(who, "approvals:read"));
  if (!any) {
    // Quota readers see the quota approvals of their scopes.
    HANGAR_ASSIGN_OR_RETURN(any, authorizer_.HoldsAnywhere(who, "quotas:read"));
  }
  if (!any) {
    return std::unexpected(
        Error::PermissionDenied("permission approvals:read is required")
            .Hint("ask an administrator for a role that includes approvals:read"));
  }
  store::Page<store::ApprovalRecord> page;
  HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(page, store::ListApprovals(tx, who.org_id, query));
    return Ok();
  }));
  store::Page<store::ApprovalRecord> out{.next_page_token = page.next_page_token};
  for (auto& a : page.items) {
    HANGAR_ASSIGN_OR_RETURN(bool readable, MayRead(who, a));
    if (readable) out.items.push_back(std::move(a));
  }
  return out;
}

Result<store::ApprovalRecord> ApprovalService::Decide(const Principal& who, const ApprovalId& id,
                                                      bool approve,
                                                      const api::DecideApprovalRequest& request,
                                                      std::optional<int64_t> if_match_version) {
  HANGAR_ASSIGN_OR_RETURN(auto current, Get(who, id));
  const std::string actor = who.ActorId();
  // Checked first, so requesters learn why they cannot decide whatever their roles.
  if (current.requested_by == actor) {
    return std::unexpected(
        Error::Conflict("you asked for " + current.subject_id + ": someone else must decide")
            .Hint(IsQuota(current) ? "ask another person with quotas:approve on " + current.scope_id
                                   : "ask another person with approvals:decide on the project"));
  }
  HANGAR_TRY(RequireMayDecide(who, current));
  if (request.comment && request.comment->size() > 2000) {
    return std::unexpected(Error::Invalid("the decision is not valid")
                               .Field("/comment", "must be at most 2000 characters"));
  }
  store::ApprovalRecord a;
  HANGAR_TRY(store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(auto loaded, store::GetApproval(tx, who.org_id, id.str()));
    if (!loaded) return std::unexpected(NotFound(id));
    a = std::move(*loaded);
    if (if_match_version && *if_match_version != a.version) {
      return std::unexpected(
          Error(ErrorCode::kPreconditionFailed, "approval " + a.id + " changed since it was read")
              .Hint("read it again and retry with the new etag"));
    }
    if (a.state != api::ApprovalState::pending) {
      return std::unexpected(
          Error::Conflict("approval " + a.id + " is " + std::string(json::EnumName(a.state)))
              .Hint("only a pending approval can be approved or rejected"));
    }
    Timestamp now = clock_.Now();
    a.state = approve ? api::ApprovalState::approved : api::ApprovalState::rejected;
    a.decided_by = actor;
    a.comment = request.comment.value_or("");
    a.decided_at = now;
    a.updated_at = now;
    // The quota changes in the transaction that approves it, or not at all.
    if (approve && IsQuota(a)) HANGAR_TRY(ApplyApprovedQuota(tx, a, clock_, now, actor));
    HANGAR_TRY(store::UpdateApproval(tx, a));
    ++a.version;
    HANGAR_TRY(AppendApprovalEvent(
        tx, a, approve ? "hangar.approval.approved" : "hangar.approval.rejected", now, actor));
    if (IsQuota(a)) return Ok();
    return DecideInstance(tx, a, approve, now, actor);
  }));
  // An approved instance may be placed; a raised quota may let waiting work start.
  if (approve) wake_scheduler_();
  return a;
}

}  // namespace hangar::workloads
