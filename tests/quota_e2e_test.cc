// Quotas end to end with real processes: hangard, a hangar-agent with simulated GPUs and the
// hangar CLI. A developer asks for a change (PUT /api/v1/quotas/request), someone holding
// quotas:approve — never the requester — approves (the quota is in force in the same
// transaction and waiting work starts) or rejects; invalid requests name their fields and create
// nothing; other tenants and people without the permission cannot see or decide. A per-user
// limit holds back one principal's work and not another's; an overage grace lets running work
// stay over a lowered limit for a while, then the youngest is preempted back to the queue.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "support/schema_check.h"
#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

constexpr const char* kPassword = "a long enough passphrase";
constexpr std::string_view kHold = R"("command":["sh","-c","exec sleep 1000"])";

std::string FormEncode(std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    out += out.empty() ? "" : "&";
    out += k + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out += fmt::format("%{:02X}", c);
      }
    }
  }
  return out;
}

class QuotaE2eTest : public WorkloadFixture {
 protected:
  struct Who {
    std::string id;
    std::string key;
  };

  void SetUp() override {
    WorkloadFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto project = Json(Get("/api/v1/projects/" + project_));
    team_ = S(project.at("team_id"));
    dev_ = Principal("dev", "developer", "project", project_);
  }

  // A service account holding `role` at `scope_type` `scope_id` ("" for the organisation), and
  // an API key of it.
  Who Principal(const std::string& name, const std::string& role, const std::string& scope_type,
                const std::string& scope_id) {
    auto sa = Post("/api/v1/service-accounts", R"({"name":")" + name + R"("})");
    EXPECT_EQ(sa.result_int(), 201u) << sa.body();
    std::string id = S(Json(sa).at("id"));
    std::string scope = scope_type.empty() ? ""
                                           : R"(,"scope_type":")" + scope_type +
                                                 R"(","scope_id":")" + scope_id + R"(")";
    auto binding = Post("/api/v1/role-bindings",
                        R"({"principal_id":")" + id + R"(","role":")" + role + "\"" + scope + "}");
    EXPECT_EQ(binding.result_int(), 201u) << binding.body();
    auto key = Post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + id + R"("})");
    EXPECT_EQ(key.result_int(), 201u) << key.body();
    return {id, S(Json(key).at("secret"))};
  }

  // A service account whose only role holds quotas:read and quotas:approve, at the team.
  Who QuotaApprover() {
    auto role = Post("/api/v1/roles",
                     R"({"name":"quota-approver","permissions":["quotas:read","quotas:approve"]})");
    EXPECT_EQ(role.result_int(), 201u) << role.body();
    return Principal("lead", "quota-approver", "team", team_);
  }

  Response As(const Who& who, verb method, const std::string& target,
              const std::string& body = "") {
    return Client().Send(method, target, who.key, body);
  }
  Response Ask(const Who& who, const std::string& body) {
    return As(who, verb::put, "/api/v1/quotas/request", body);
  }
  Response Decide(const Who& who, const std::string& approval, const std::string& action,
                  const std::string& body = "") {
    return As(who, verb::post, "/api/v1/approvals/" + approval + "/" + action, body);
  }
  Response AdminPut(const std::string& scope, const std::string& body) {
    return Client().Send(verb::put, "/api/v1/quotas/" + scope, admin_key_, body);
  }

  // The entry of `scope` in GET /api/v1/quotas.
  bj::object QuotaOf(const std::string& scope) {
    bj::value list = Json(Get("/api/v1/quotas"));
    for (const auto& q : list.at("items").as_array()) {
      if (S(q.at("scope_id")) == scope) return q.as_object();
    }
    ADD_FAILURE() << scope << " is not in " << bj::serialize(list);
    return {};
  }

  bj::array QuotaApprovals() {
    return Json(Get("/api/v1/approvals?subject_kind=quota")).at("items").as_array();
  }

  bj::object Instance(const std::string& id) {
    return Json(Get("/api/v1/instances/" + id)).as_object();
  }
  // The developer provisions an instance of `gpus` GPUs that holds them until terminated.
  Response Provision(int gpus) {
    return As(dev_, verb::post, "/api/v1/instances",
              R"({"project":")" + project_ + R"(",)" + std::string(kHold) +
                  R"(,"resources":{"gpus":)" + std::to_string(gpus) + "}}");
  }
  bool WaitState(const std::string& id, const std::string& state) {
    bool ok = WaitFor([&] { return S(Instance(id).at("state")) == state; });
    if (!ok)
      ADD_FAILURE() << id << " never became " << state << ": " << bj::serialize(Instance(id));
    return ok;
  }

  // `who` submits a job of `gpus` GPUs in the project that runs until stopped.
  Response SubmitAs(const Who& who, int gpus) {
    return As(who, verb::post, "/api/v1/jobs",
              R"({"project":")" + project_ +
                  R"(","command":["sleep","1000"],"resources":{"gpus":)" + std::to_string(gpus) +
                  "}}");
  }
  std::string SubmitJob(const Who& who, int gpus) {
    auto r = SubmitAs(who, gpus);
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? S(Json(r).at("id")) : "";
  }
  bj::object Job(const std::string& id) { return Json(Get("/api/v1/jobs/" + id)).as_object(); }
  bool WaitJobState(const std::string& id, const std::string& state) {
    bool ok = WaitFor([&] { return S(Job(id).at("state")) == state; });
    if (!ok) ADD_FAILURE() << id << " never became " << state << ": " << bj::serialize(Job(id));
    return ok;
  }
  // The message of the job's queue entry once it waits with `reason`; "" if it never does.
  std::string WaitQueueReason(const std::string& id, const std::string& reason) {
    std::string message;
    bool ok = WaitFor([&] {
      auto q = Job(id).at("queue");
      if (!q.is_object() || S(q.at("reason")) != reason) return false;
      message = S(q.at("message"));
      return true;
    });
    if (!ok)
      ADD_FAILURE() << id << " never waited with " << reason << ": " << bj::serialize(Job(id));
    return message;
  }

  RunResult CliAs(const Who& who, std::vector<std::string> args) {
    return RunToCompletion(
        "hangar", std::move(args), dir_,
        {"HANGAR_URL=" + Url(), "HANGAR_TOKEN=" + who.key, "HOME=" + dir_.string()});
  }

  // Another organisation ("globex") with a team and project; returns its admin's token and
  // project id.
  std::pair<std::string, std::string> OtherOrganisation() {
    auto form = [&](const std::string& target, const std::string& body) {
      return Client().Send(verb::post, target, "", body, {}, "application/x-www-form-urlencoded");
    };
    auto created =
        Post("/api/v1/organizations", R"({"name":"globex","admin_email":"hank@globex.test"})");
    EXPECT_EQ(created.result_int(), 201u) << created.body();
    std::string invitation = S(Json(created).at("admin_invitation").at("token"));
    EXPECT_EQ(form("/login", FormEncode({{"invitation", invitation}, {"password", kPassword}}))
                  .result_int(),
              200u);
    auto start = Json(form("/oauth/device_authorization",
                           FormEncode({{"client_id", "hangar-cli"}, {"scope", "*"}})));
    std::string device_code = S(start.at("device_code"));
    auto approved = form("/oauth/device", FormEncode({{"user_code", S(start.at("user_code"))},
                                                      {"organization", "globex"},
                                                      {"email", "hank@globex.test"},
                                                      {"password", kPassword},
                                                      {"decision", "approve"}}));
    EXPECT_EQ(approved.result_int(), 200u) << approved.body();
    auto tokens = form("/oauth/token",
                       FormEncode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                                   {"device_code", device_code},
                                   {"client_id", "hangar-cli"}}));
    EXPECT_EQ(tokens.result_int(), 200u) << tokens.body();
    std::string token = S(Json(tokens).at("access_token"));
    auto team = Client().Send(verb::post, "/api/v1/teams", token, R"({"name":"research"})");
    EXPECT_EQ(team.result_int(), 201u) << team.body();
    auto project = Client().Send(verb::post, "/api/v1/projects", token,
                                 R"({"name":"x","team_id":")" + S(Json(team).at("id")) + R"("})");
    EXPECT_EQ(project.result_int(), 201u) << project.body();
    return {token, S(Json(project).at("id"))};
  }

  // Mismatches between `body` and the OpenAPI document's response schema of the route.
  std::vector<std::string> SchemaErrors(const Response& r, const char* path, const char* method) {
    auto doc = Json(Get("/api/v1/openapi.json")).as_object();
    const auto& schema = doc.at("paths")
                             .at(path)
                             .at(method)
                             .at("responses")
                             .at(std::to_string(r.result_int()))
                             .at("content")
                             .as_object()
                             .begin()
                             ->value()
                             .at("schema");
    return SchemaChecker(doc).Check(Json(r), schema);
  }

  std::string team_;
  Who dev_;
};

TEST_F(QuotaE2eTest, ADeveloperAsksAnotherPersonApprovesAndWaitingWorkStarts) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  ASSERT_EQ(AdminPut(project_, R"({"gpus":1,"gpu_limit":1})").result_int(), 200u);

  // Over the limit on its own: refused, and the hint says how to ask for more.
  auto refused = Provision(2);
  ASSERT_EQ(refused.result_int(), 429u) << refused.body();
  EXPECT_NE(refused.body().find("hangar quota request " + project_), std::string::npos)
      << refused.body();
  EXPECT_NE(refused.body().find("PUT /api/v1/quotas/request"), std::string::npos);
  // Within it but not next to what runs: waits with quota_exceeded.
  auto first = Provision(1);
  ASSERT_EQ(first.result_int(), 201u) << first.body();
  ASSERT_TRUE(WaitState(S(Json(first).at("id")), "running")) << agent->Log();
  auto second = Provision(1);
  ASSERT_EQ(second.result_int(), 201u) << second.body();
  std::string waiting = S(Json(second).at("id"));
  ASSERT_TRUE(WaitFor([&] {
    auto i = Instance(waiting);
    return i.at("queue").is_object() && S(i.at("queue").at("reason")) == "quota_exceeded";
  })) << bj::serialize(Instance(waiting));

  // The developer asks: a pending approval, nothing in force yet.
  auto asked = Ask(dev_, R"({"scope_id":")" + project_ +
                             R"(","gpu_limit":4,"reason":"the demo needs 4 GPUs at once"})");
  ASSERT_EQ(asked.result_int(), 201u) << asked.body();
  auto approval = Json(asked).as_object();
  std::string id = S(approval.at("id"));
  EXPECT_EQ(asked[bhttp::field::location], "/api/v1/approvals/" + id);
  EXPECT_EQ(SchemaErrors(asked, "/api/v1/quotas/request", "put"), std::vector<std::string>{});
  EXPECT_EQ(S(approval.at("state")), "pending");
  EXPECT_EQ(S(approval.at("subject_kind")), "quota");
  EXPECT_EQ(S(approval.at("subject_id")), project_);
  EXPECT_EQ(S(approval.at("scope_id")), project_);
  EXPECT_EQ(S(approval.at("requested_by")), dev_.id);
  const auto& change = approval.at("quota");
  EXPECT_EQ(change.at("requested").at("gpu_limit").as_int64(), 4);
  EXPECT_TRUE(change.at("requested").at("gpus").is_null());
  EXPECT_EQ(change.at("in_force").at("gpu_limit").as_int64(), 1);
  EXPECT_EQ(change.at("in_force").at("gpus").as_int64(), 1);
  EXPECT_TRUE(change.at("applied").is_null());
  EXPECT_EQ(S(change.at("reason")), "the demo needs 4 GPUs at once");
  EXPECT_NE(S(approval.at("reasons").at(0)).find("gpu_limit 1 -> 4"), std::string::npos)
      << bj::serialize(approval);
  EXPECT_EQ(QuotaOf(project_).at("gpu_limit").as_int64(), 1);

  // The developer sees it in the list (only quota approvals with the filter) and by id.
  auto seen = Json(As(dev_, verb::get, "/api/v1/approvals?subject_kind=quota")).at("items");
  ASSERT_EQ(seen.as_array().size(), 1u) << bj::serialize(seen);
  EXPECT_EQ(S(seen.at(0).at("id")), id);
  EXPECT_TRUE(Json(Get("/api/v1/approvals?subject_kind=instance")).at("items").as_array().empty());
  EXPECT_EQ(As(dev_, verb::get, "/api/v1/approvals/" + id).result_int(), 200u);

  // Nobody approves their own request.
  auto own = Decide(dev_, id, "approve");
  EXPECT_EQ(own.result_int(), 409u) << own.body();
  EXPECT_EQ(S(Json(Get("/api/v1/approvals/" + id)).at("state")), "pending");

  // A quota approver (quotas:approve at the team, nothing else) approves: in force at once.
  Who lead = QuotaApprover();
  auto approve = Decide(lead, id, "approve", R"({"comment":"ok for the demo"})");
  ASSERT_EQ(approve.result_int(), 200u) << approve.body();
  EXPECT_EQ(SchemaErrors(approve, "/api/v1/approvals/{id}/approve", "post"),
            std::vector<std::string>{});
  auto decided = Json(approve);
  EXPECT_EQ(S(decided.at("state")), "approved");
  EXPECT_EQ(S(decided.at("decided_by")), lead.id);
  EXPECT_EQ(S(decided.at("comment")), "ok for the demo");
  EXPECT_EQ(decided.at("quota").at("applied").at("gpu_limit").as_int64(), 4);
  EXPECT_EQ(decided.at("quota").at("applied").at("gpus").as_int64(), 1);
  auto quota = QuotaOf(project_);
  EXPECT_EQ(quota.at("gpu_limit").as_int64(), 4);
  EXPECT_EQ(quota.at("gpus").as_int64(), 1);  // the parts not asked for stay as they were
  EXPECT_EQ(S(quota.at("etag")), "\"2\"");
  EXPECT_EQ(S(quota.at("updated_by")), lead.id);

  // What waited starts; what was refused is admitted.
  ASSERT_TRUE(WaitState(waiting, "running")) << agent->Log();
  auto bigger = Provision(2);
  EXPECT_EQ(bigger.result_int(), 201u) << bigger.body();

  EXPECT_EQ(Decide(lead, id, "reject").result_int(), 409u);  // decided already
  auto types = EventTypes(project_);
  EXPECT_EQ(std::count(types.begin(), types.end(), "hangar.quota.updated"), 2);
  auto approval_events = EventTypes(id);
  EXPECT_EQ(approval_events,
            (std::vector<std::string>{"hangar.approval.requested", "hangar.approval.approved"}));
}

TEST_F(QuotaE2eTest, ARejectedRequestKeepsTheQuotaAndATeamsRequestIsDecidedAtTheTeam) {
  ASSERT_EQ(AdminPut(project_, R"({"gpus":1,"gpu_limit":2,"weight":2})").result_int(), 200u);
  auto asked = Ask(dev_, R"({"scope_id":")" + project_ + R"(","gpus":2,"weight":5,"reason":"x"})");
  ASSERT_EQ(asked.result_int(), 201u) << asked.body();
  std::string id = S(Json(asked).at("id"));
  auto reject = Client().Send(verb::post, "/api/v1/approvals/" + id + "/reject", admin_key_,
                              R"({"comment":"not this quarter"})");
  ASSERT_EQ(reject.result_int(), 200u) << reject.body();
  EXPECT_EQ(S(Json(reject).at("state")), "rejected");
  EXPECT_EQ(S(Json(reject).at("comment")), "not this quarter");
  EXPECT_TRUE(Json(reject).at("quota").at("applied").is_null());
  auto quota = QuotaOf(project_);
  EXPECT_EQ(quota.at("gpus").as_int64(), 1);
  EXPECT_EQ(quota.at("weight").as_int64(), 2);
  EXPECT_EQ(S(quota.at("etag")), "\"1\"");
  auto types = EventTypes(id);
  EXPECT_EQ(types,
            (std::vector<std::string>{"hangar.approval.requested", "hangar.approval.rejected"}));
  // The requester sees the outcome and the comment.
  auto seen = Json(As(dev_, verb::get, "/api/v1/approvals/" + id));
  EXPECT_EQ(S(seen.at("comment")), "not this quarter");

  // A developer of the project cannot read the team's quota, so cannot ask for it to change.
  EXPECT_EQ(Ask(dev_, R"({"scope_id":")" + team_ + R"(","gpus":4,"reason":"x"})").result_int(),
            404u);
  // One of the team can; the change applies over a quota an administrator set meanwhile.
  Who team_dev = Principal("team-dev", "developer", "team", team_);
  auto team_ask =
      Ask(team_dev, R"({"scope_id":")" + team_ + R"(","gpu_limit":8,"reason":"more runs"})");
  ASSERT_EQ(team_ask.result_int(), 201u) << team_ask.body();
  auto team_approval = Json(team_ask);
  EXPECT_EQ(S(team_approval.at("scope_id")), team_);
  EXPECT_EQ(S(team_approval.at("project_id")), "");
  EXPECT_TRUE(team_approval.at("quota").at("in_force").at("gpu_limit").is_null());
  ASSERT_EQ(AdminPut(team_, R"({"gpus":3,"weight":7})").result_int(), 200u);
  auto approved = Client().Send(
      verb::post, "/api/v1/approvals/" + S(team_approval.at("id")) + "/approve", admin_key_, "");
  ASSERT_EQ(approved.result_int(), 200u) << approved.body();
  auto team_quota = QuotaOf(team_);
  EXPECT_EQ(team_quota.at("gpu_limit").as_int64(), 8);
  EXPECT_EQ(team_quota.at("gpus").as_int64(), 3);
  EXPECT_EQ(team_quota.at("weight").as_int64(), 7);

  // A change that no longer makes a valid quota is a conflict; nothing changes.
  auto low = Ask(team_dev, R"({"scope_id":")" + team_ + R"(","gpu_limit":4,"reason":"fewer"})");
  ASSERT_EQ(low.result_int(), 201u) << low.body();
  ASSERT_EQ(AdminPut(team_, R"({"gpus":6,"gpu_limit":8})").result_int(), 200u);
  auto stale = Client().Send(verb::post, "/api/v1/approvals/" + S(Json(low).at("id")) + "/approve",
                             admin_key_, "");
  EXPECT_EQ(stale.result_int(), 409u) << stale.body();
  EXPECT_NE(stale.body().find("/gpu_limit"), std::string::npos) << stale.body();
  EXPECT_EQ(QuotaOf(team_).at("gpu_limit").as_int64(), 8);
  EXPECT_EQ(S(Json(Get("/api/v1/approvals/" + S(Json(low).at("id")))).at("state")), "pending");
}

TEST_F(QuotaE2eTest, InvalidRequestsNameEachFieldAndCreateNothing) {
  ASSERT_EQ(AdminPut(project_, R"({"gpus":2,"gpu_limit":4})").result_int(), 200u);
  auto expect_invalid = [&](const std::string& body, std::vector<std::string> fields) {
    auto r = Ask(dev_, body);
    EXPECT_EQ(r.result_int(), 422u) << body << " -> " << r.body();
    EXPECT_EQ(r[bhttp::field::content_type], "application/problem+json");
    for (const auto& f : fields) {
      EXPECT_NE(r.body().find("\"" + f + "\""), std::string::npos) << body << " -> " << r.body();
    }
  };
  const std::string scope = R"({"scope_id":")" + project_ + R"(",)";
  expect_invalid(scope + R"("reason":"nothing asked"})", {"/gpus", "/gpu_limit", "/weight"});
  expect_invalid(scope + R"("gpu_limit":-1,"reason":"x"})", {"/gpu_limit"});
  expect_invalid(scope + R"("gpu_limit":1,"reason":"x"})", {"/gpu_limit"});  // below gpus 2
  expect_invalid(scope + R"("gpus":5,"reason":"x"})", {"/gpus"});            // above the limit 4
  expect_invalid(scope + R"("gpus":-1,"gpu_limit":2000000,"reason":"x"})", {"/gpus", "/gpu_limit"});
  expect_invalid(scope + R"("weight":0,"reason":"x"})", {"/weight"});
  expect_invalid(scope + R"("weight":1001,"gpus":3,"reason":""})", {"/weight", "/reason"});
  expect_invalid(scope + R"("gpus":3,"reason":"   "})", {"/reason"});
  expect_invalid(scope + R"("gpus":3,"reason":")" + std::string(2001, 'a') + R"("})", {"/reason"});
  expect_invalid(scope + R"("gpus":3})", {"/reason"});
  expect_invalid(scope + R"("gpus":"3","reason":"x"})", {"/gpus"});
  expect_invalid(scope + R"("gpus":3,"reason":"x","burst":2})", {"/burst"});
  expect_invalid(R"({"gpus":3,"reason":"x"})", {"/scope_id"});
  expect_invalid(R"({"scope_id":"vision","weight":0,"reason":"x"})", {"/scope_id", "/weight"});
  // Another tenant's scope, or one that does not exist: not found.
  auto missing =
      Ask(dev_, R"({"scope_id":"proj_01jd3x00000000000000000000","gpus":1,"reason":"x"})");
  EXPECT_EQ(missing.result_int(), 404u) << missing.body();
  EXPECT_EQ(Ask(dev_, "not json").result_int(), 400u);

  EXPECT_TRUE(QuotaApprovals().empty());
  auto types = EventTypes(project_);
  EXPECT_EQ(std::count(types.begin(), types.end(), "hangar.approval.requested"), 0);
  EXPECT_EQ(Get("/api/v1/approvals?subject_kind=budget").result_int() / 100, 4u);
}

TEST_F(QuotaE2eTest, OtherTenantsAndPeopleWithoutQuotasApproveCannotSeeOrDecide) {
  auto [globex_token, globex_project] = OtherOrganisation();
  // Our developer cannot ask for another organisation's project: it does not exist for them.
  auto foreign = Ask(dev_, R"({"scope_id":")" + globex_project + R"(","gpus":1,"reason":"x"})");
  EXPECT_EQ(foreign.result_int(), 404u) << foreign.body();

  auto asked = Ask(dev_, R"({"scope_id":")" + project_ + R"(","gpu_limit":3,"reason":"x"})");
  ASSERT_EQ(asked.result_int(), 201u) << asked.body();
  std::string id = S(Json(asked).at("id"));
  // The other organisation's administrator: not found, whatever the verb.
  EXPECT_EQ(Client().Send(verb::get, "/api/v1/approvals/" + id, globex_token).result_int(), 404u);
  EXPECT_EQ(Client()
                .Send(verb::post, "/api/v1/approvals/" + id + "/approve", globex_token, "")
                .result_int(),
            404u);
  EXPECT_TRUE(Json(Client().Send(verb::get, "/api/v1/approvals", globex_token))
                  .at("items")
                  .as_array()
                  .empty());

  // Another developer of the project reads it but may not decide it.
  Who colleague = Principal("colleague", "developer", "project", project_);
  EXPECT_EQ(As(colleague, verb::get, "/api/v1/approvals/" + id).result_int(), 200u);
  auto denied = Decide(colleague, id, "approve");
  EXPECT_EQ(denied.result_int(), 403u) << denied.body();
  EXPECT_NE(denied.body().find("quotas:approve"), std::string::npos) << denied.body();
  EXPECT_EQ(Decide(colleague, id, "reject").result_int(), 403u);
  // approvals:decide (instances) is not enough either.
  auto deciders =
      Post("/api/v1/roles", R"({"name":"instance-approver","permissions":["approvals:read",)"
                            R"("approvals:decide","quotas:read"]})");
  ASSERT_EQ(deciders.result_int(), 201u) << deciders.body();
  Who instance_lead = Principal("instance-lead", "instance-approver", "project", project_);
  EXPECT_EQ(Decide(instance_lead, id, "approve").result_int(), 403u);
  // A billing viewer reads quotas, so sees quota approvals (not instance ones), and cannot decide.
  Who billing = Principal("billing", "billing-viewer", "", "");
  auto listed = As(billing, verb::get, "/api/v1/approvals");
  ASSERT_EQ(listed.result_int(), 200u) << listed.body();
  EXPECT_EQ(Json(listed).at("items").as_array().size(), 1u) << listed.body();
  EXPECT_EQ(Decide(billing, id, "approve").result_int(), 403u);
  // A developer of another project does not see it at all.
  auto audio = Post("/api/v1/projects", R"({"name":"audio","team_id":")" + team_ + R"("})");
  ASSERT_EQ(audio.result_int(), 201u) << audio.body();
  Who stranger = Principal("stranger", "developer", "project", S(Json(audio).at("id")));
  EXPECT_EQ(As(stranger, verb::get, "/api/v1/approvals/" + id).result_int(), 404u);
  EXPECT_EQ(Decide(stranger, id, "approve").result_int(), 404u);
  EXPECT_TRUE(Json(As(stranger, verb::get, "/api/v1/approvals")).at("items").as_array().empty());

  EXPECT_EQ(S(Json(Get("/api/v1/approvals/" + id)).at("state")), "pending");
  EXPECT_TRUE(QuotaOf(project_).at("gpu_limit").is_null());
}

TEST_F(QuotaE2eTest, TheCliAsksListsAndApproves) {
  auto asked = CliAs(dev_, {"quota", "request", project_, "--limit", "3", "--gpus", "1", "--reason",
                            "a bigger sweep"});
  ASSERT_EQ(asked.exit_code, 0) << asked.output;
  ASSERT_TRUE(asked.output.starts_with("apr_")) << asked.output;
  std::string id = asked.output.substr(0, asked.output.find(' '));
  EXPECT_NE(asked.output.find("pending"), std::string::npos) << asked.output;
  EXPECT_NE(asked.output.find("hangar approvals get " + id), std::string::npos) << asked.output;

  auto json = CliAs(
      dev_, {"-o", "json", "quota", "request", project_, "--weight", "3", "--reason", "share"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(bj::parse(json.output).at("quota").at("requested").at("weight").as_int64(), 3);

  auto bad = CliAs(dev_, {"quota", "request", project_, "--reason", "nothing"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("/gpu_limit"), std::string::npos) << bad.output;
  EXPECT_NE(CliAs(dev_, {"quota", "request", project_, "--gpus", "1"}).exit_code, 0);  // no reason

  auto list = Cli({"approvals", "list", "--kind", "quota", "--state", "pending"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("KIND"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find(id), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("gpu_limit none -> 3"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("a bigger sweep"), std::string::npos) << list.output;

  auto own = CliAs(dev_, {"approvals", "approve", id});
  EXPECT_NE(own.exit_code, 0);
  auto approved = Cli({"approvals", "approve", id, "--comment", "go"});
  ASSERT_EQ(approved.exit_code, 0) << approved.output;
  EXPECT_NE(approved.output.find("approved"), std::string::npos) << approved.output;
  auto quota = QuotaOf(project_);
  EXPECT_EQ(quota.at("gpu_limit").as_int64(), 3);
  EXPECT_EQ(quota.at("gpus").as_int64(), 1);
  auto shown = Cli({"quota"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find(project_), std::string::npos) << shown.output;
}

TEST_F(QuotaE2eTest, APerUserLimitHoldsBackOnePrincipalsWorkAndNotAnothers) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  // Bad values name their field; a per-user limit is a project's only.
  auto expect_invalid = [&](const std::string& scope, const std::string& body,
                            const std::string& field) {
    auto r = AdminPut(scope, body);
    EXPECT_EQ(r.result_int(), 422u) << scope << " " << body << " -> " << r.body();
    EXPECT_NE(r.body().find("\"" + field + "\""), std::string::npos)
        << scope << " " << body << " -> " << r.body();
  };
  expect_invalid(project_, R"({"gpu_limit":4,"gpu_limit_per_user":5})", "/gpu_limit_per_user");
  expect_invalid(project_, R"({"gpu_limit_per_user":0})", "/gpu_limit_per_user");
  expect_invalid(project_, R"({"gpu_limit_per_user":"1"})", "/gpu_limit_per_user");
  expect_invalid(team_, R"({"gpu_limit_per_user":1})", "/gpu_limit_per_user");
  expect_invalid(project_, R"({"overage_grace_seconds":-1})", "/overage_grace_seconds");
  expect_invalid(team_, R"({"overage_grace_seconds":604801})", "/overage_grace_seconds");
  EXPECT_TRUE(QuotaOf(project_).at("gpu_limit_per_user").is_null());

  auto set = AdminPut(project_, R"({"gpu_limit":4,"gpu_limit_per_user":1})");
  ASSERT_EQ(set.result_int(), 200u) << set.body();
  EXPECT_EQ(Json(set).at("gpu_limit_per_user").as_int64(), 1);
  auto quota = QuotaOf(project_);
  EXPECT_EQ(quota.at("gpu_limit_per_user").as_int64(), 1);
  EXPECT_TRUE(quota.at("overage_grace_seconds").is_null());
  EXPECT_TRUE(quota.at("over_limit_since").is_null());
  EXPECT_EQ(SchemaErrors(Get("/api/v1/quotas"), "/api/v1/quotas", "get"),
            std::vector<std::string>{});

  // More than the per-user limit on its own: refused at once.
  auto refused = SubmitAs(dev_, 2);
  ASSERT_EQ(refused.result_int(), 429u) << refused.body();
  EXPECT_NE(refused.body().find("/resources/gpus"), std::string::npos) << refused.body();
  EXPECT_NE(refused.body().find("per user"), std::string::npos) << refused.body();
  EXPECT_NE(refused.body().find("--per-user"), std::string::npos) << refused.body();

  // The developer's second job waits; another principal's job starts.
  std::string first = SubmitJob(dev_, 1);
  ASSERT_TRUE(WaitJobState(first, "running")) << agent->Log();
  std::string second = SubmitJob(dev_, 1);
  std::string why = WaitQueueReason(second, "quota_exceeded");
  EXPECT_NE(why.find("queue " + dev_.id + " in " + project_ + " is at its limit: 1 of 1 GPUs"),
            std::string::npos)
      << why;
  Who colleague = Principal("colleague", "developer", "project", project_);
  std::string theirs = SubmitJob(colleague, 1);
  ASSERT_TRUE(WaitJobState(theirs, "running")) << agent->Log();
  EXPECT_EQ(S(Job(second).at("state")), "pending");

  // Asking for more per user: validated like a PUT, approved by someone else, in force at once.
  auto team_ask =
      Client().Send(verb::put, "/api/v1/quotas/request", admin_key_,
                    R"({"scope_id":")" + team_ + R"(","gpu_limit_per_user":1,"reason":"x"})");
  EXPECT_EQ(team_ask.result_int(), 422u) << team_ask.body();
  EXPECT_NE(team_ask.body().find("/gpu_limit_per_user"), std::string::npos) << team_ask.body();
  auto too_many =
      Ask(dev_, R"({"scope_id":")" + project_ + R"(","gpu_limit_per_user":5,"reason":"x"})");
  EXPECT_EQ(too_many.result_int(), 422u) << too_many.body();
  EXPECT_NE(too_many.body().find("/gpu_limit_per_user"), std::string::npos) << too_many.body();
  auto asked = Ask(dev_, R"({"scope_id":")" + project_ +
                             R"(","gpu_limit_per_user":2,"reason":"two runs at once"})");
  ASSERT_EQ(asked.result_int(), 201u) << asked.body();
  bj::value change = Json(asked).at("quota");
  EXPECT_EQ(change.at("requested").at("gpu_limit_per_user").as_int64(), 2);
  EXPECT_EQ(change.at("in_force").at("gpu_limit_per_user").as_int64(), 1);
  EXPECT_EQ(S(Json(asked).at("reasons").as_array()[0]), "quota change: gpu_limit_per_user 1 -> 2");
  auto approved = Client().Send(
      verb::post, "/api/v1/approvals/" + S(Json(asked).at("id")) + "/approve", admin_key_, "");
  ASSERT_EQ(approved.result_int(), 200u) << approved.body();
  EXPECT_EQ(Json(approved).at("quota").at("applied").at("gpu_limit_per_user").as_int64(), 2);
  EXPECT_EQ(QuotaOf(project_).at("gpu_limit_per_user").as_int64(), 2);
  EXPECT_EQ(QuotaOf(project_).at("gpu_limit").as_int64(), 4);  // the rest as it was
  ASSERT_TRUE(WaitJobState(second, "running")) << agent->Log();

  // The CLI sets both new parts and shows the per-user limit.
  auto cli =
      Cli({"quota", "set", project_, "--limit", "4", "--per-user", "3", "--overage-grace", "10m"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  quota = QuotaOf(project_);
  EXPECT_EQ(quota.at("gpu_limit_per_user").as_int64(), 3);
  EXPECT_EQ(quota.at("overage_grace_seconds").as_int64(), 600);
  auto shown = Cli({"quota"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("PER USER"), std::string::npos) << shown.output;
  auto bad_grace = Cli({"quota", "set", project_, "--overage-grace", "soon"});
  EXPECT_NE(bad_grace.exit_code, 0) << bad_grace.output;
  auto request = CliAs(
      dev_, {"-o", "json", "quota", "request", project_, "--per-user", "4", "--reason", "a sweep"});
  ASSERT_EQ(request.exit_code, 0) << request.output;
  EXPECT_EQ(bj::parse(request.output).at("quota").at("requested").at("gpu_limit_per_user"),
            bj::value(4));
}

TEST_F(QuotaE2eTest, OverALoweredLimitPastTheGraceTheYoungestRunIsPreempted) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  Who admin{"", admin_key_};
  std::string older = SubmitJob(admin, 1);
  ASSERT_TRUE(WaitJobState(older, "running")) << agent->Log();
  std::string younger = SubmitJob(admin, 1);
  ASSERT_TRUE(WaitJobState(younger, "running")) << agent->Log();

  // Without a grace, lowering the limit stops nothing: new work waits.
  ASSERT_EQ(AdminPut(project_, R"({"gpu_limit":1})").result_int(), 200u);
  std::string third = SubmitJob(admin, 1);
  WaitQueueReason(third, "quota_exceeded");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // passes run; nothing may change
  EXPECT_EQ(S(Job(older).at("state")), "running");
  EXPECT_EQ(S(Job(younger).at("state")), "running");
  EXPECT_TRUE(QuotaOf(project_).at("over_limit_since").is_null());
  EXPECT_EQ(Post("/api/v1/jobs/" + third + "/cancel", "").result_int(), 200u);

  // With a grace of 2 s: recorded over, then the younger is preempted back to the queue.
  auto set = AdminPut(project_, R"({"gpu_limit":1,"overage_grace_seconds":2})");
  ASSERT_EQ(set.result_int(), 200u) << set.body();
  std::string since;
  ASSERT_TRUE(WaitFor([&] {
    auto q = QuotaOf(project_).at("over_limit_since");
    if (q.is_string()) since = S(q);
    return !since.empty() || S(Job(younger).at("state")) != "running";
  }));
  ASSERT_FALSE(since.empty()) << "over_limit_since was never set";
  ASSERT_TRUE(WaitFor([&] {
    auto job = Job(younger);
    return S(job.at("state")) == "pending" && S(job.at("state_reason")) == "preempted";
  })) << bj::serialize(Job(younger));
  EXPECT_EQ(S(Job(older).at("state")), "running");
  EXPECT_EQ(Job(older).at("attempt").as_int64(), 1);
  // It was stopped with the reason, no earlier than the grace's end.
  bool stopped = false;
  auto events = Json(Get("/api/v1/events?limit=1000&subject=" + younger)).at("items").as_array();
  for (const auto& e : events) {
    if (S(e.at("type")) != "hangar.job.stopping") continue;
    stopped = true;
    std::string message = S(e.at("data").at("state_message"));
    EXPECT_NE(message.find("over its GPU limit for longer than the grace period"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("queue " + project_), std::string::npos) << message;
    auto at = ParseRfc3339(S(e.at("time")));
    auto over = ParseRfc3339(since);
    ASSERT_TRUE(at && over);
    EXPECT_GE(*at, *over + std::chrono::seconds(2));
  }
  EXPECT_TRUE(stopped) << bj::serialize(events);
  // Within its limit again: cleared; the preempted job waits for room under the limit. The
  // scheduler's bookkeeping did not move the etag.
  ASSERT_TRUE(WaitFor([&] { return QuotaOf(project_).at("over_limit_since").is_null(); }))
      << bj::serialize(QuotaOf(project_));
  WaitQueueReason(younger, "quota_exceeded");
  EXPECT_EQ(S(QuotaOf(project_).at("etag")), "\"2\"");
  EXPECT_EQ(S(Job(older).at("state")), "running");
}

}  // namespace
}  // namespace hangar::testing
