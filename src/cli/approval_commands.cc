// Approval commands: approvals list|get|approve|reject and approvals policy. Each maps onto one
// route of routes/approval_routes.cc (docs/cli.md). Approvals are of instances and of quota
// changes (`hangar quota request`); the table says which.
#include <memory>

#include "cli/session.h"

namespace hangar::cli {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

namespace {

const std::string kBase = "/api/v1/approvals";

void AddDecide(CLI::App& approvals, Session& s, Action& action, const std::string& verb,
               const std::string& help) {
  struct Flags {
    std::string id, comment;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = approvals.add_subcommand(verb, help);
  cmd->add_option("ID", f->id)->required();
  cmd->add_option("--comment", f->comment, "why (shown to the requester)");
  cmd->callback([=, &s, &action] {
    action = [=, &s] {
      api::DecideApprovalRequest req;
      if (!f->comment.empty()) req.comment = f->comment;
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::Approval>(kBase + "/" + UrlEncode(f->id) + "/" + verb, req),
                        format);
      });
    };
  });
}

}  // namespace

void AddApprovalCommands(CLI::App& app, Session& s, Action& action) {
  auto* approvals = app.add_subcommand("approvals", "requests that wait for a person's approval")
                        ->require_subcommand(1);
  struct ListFlags {
    std::string state, project, kind;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = approvals->add_subcommand("list", "list the approvals you can see, newest first");
  list->add_option("--state", lf->state, "pending, approved, rejected or cancelled");
  list->add_option("--kind", lf->kind, "instance or quota (quota changes)");
  list->add_option("--project", lf->project, "only this project's (id)");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        std::string q = "&sort=-created_at" + Param("state", lf->state) +
                        Param("subject_kind", lf->kind) + Param("project_id", lf->project);
        HANGAR_ASSIGN_OR_RETURN_API(auto items, ListAll<api::ApprovalList>(c, kBase, q, lf->limit));
        return Render(items, format);
      });
    };
  });
  auto get_id = std::make_shared<std::string>();
  auto* get = approvals->add_subcommand("get", "show an approval: what waits, why, who decided");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Approval>(kBase + "/" + UrlEncode(*get_id)), format);
      });
    };
  });
  AddDecide(*approvals, s, action, "approve",
            "approve a request: the instance is queued, or the quota change is put in force");
  AddDecide(*approvals, s, action, "reject",
            "reject a request: the instance is terminated, or the quota stays as it is");

  struct PolicyFlags {
    std::string project, cost_over;
    int64_t gpus_over = 0;
  };
  auto pf = std::make_shared<PolicyFlags>();
  auto* policy = approvals->add_subcommand(
      "policy", "show a project's approval policy, or set it with --gpus-over / --cost-over");
  policy->add_option("PROJECT", pf->project, "a project id or name")->required();
  auto* o_gpus = policy->add_option("--gpus-over", pf->gpus_over,
                                    "requests of more GPUs than this need approval");
  policy->add_option("--cost-over", pf->cost_over,
                     "requests priced above this per hour need approval, e.g. 20.00");
  policy->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      std::string path = "/api/v1/approval-policies/" + UrlEncode(pf->project);
      if (o_gpus->count() == 0 && pf->cost_over.empty()) {
        return s.WithClient([&](ApiClient& c, OutputFormat format) {
          return Rendered(c.Get<api::ApprovalPolicy>(path), format);
        });
      }
      api::SetApprovalPolicyRequest req;
      if (o_gpus->count() > 0) req.gpus_over = pf->gpus_over;
      if (!pf->cost_over.empty()) {
        auto micros = ParsePriceMicros(pf->cost_over);
        if (!micros) return s.Usage(micros.error());
        req.hourly_cost_over_micros = *micros;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto body, c.CallRaw(client::HttpRequest{
                           .method = "PUT", .target = path, .body = json::Serialize(req)}));
        auto p = json::ParseAs<api::ApprovalPolicy>(body);
        if (!p) return std::unexpected(client::ApiError::FromError(p.error()));
        return RenderOne(*p, format);
      });
    };
  });
}

}  // namespace hangar::cli
