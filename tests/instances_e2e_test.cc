// GPU instances end to end with real processes: hangard, a hangar-agent with simulated GPUs that
// runs each instance's session as a real process in a workspace kept across runs, and the
// hangar CLI. Covers the instance state machine (provision, stop, start, resize, extend,
// snapshot, clone, migrate, terminate), the lease's expiry, metering against the catalogue's
// prices, the dry-run estimate, and the errors for illegal transitions and invalid requests.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;

// A session that says whether it found its workspace from an earlier run, then holds the GPUs.
constexpr std::string_view kSession =
    R"("command":["sh","-c","if [ -f notes ]; then echo found; else echo fresh; echo hi > notes; )"
    R"(fi; echo gpus=$CUDA_VISIBLE_DEVICES id=$HANGAR_INSTANCE_ID; exec sleep 1000"])";

class InstancesE2eTest : public WorkloadFixture {
 protected:
  void SetUp() override {
    // Leases as short as 2 s, warned a quarter before their end, so expiry runs in seconds.
    extra_flags_ = {"--instances-min-lifetime", "2s"};
    WorkloadFixture::SetUp();
  }

  // Sets the catalogue price of `type` (discovered by an agent with price 0).
  void Price(const std::string& type, int64_t micros_per_hour) {
    // The catalogue learns the type from the agent's first inventory report.
    bj::array types;
    ASSERT_TRUE(WaitFor([&] {
      types = Json(Get("/api/v1/gpu-types?name=" + type)).at("items").as_array();
      return types.size() == 1u;
    })) << bj::serialize(Json(Get("/api/v1/gpu-types")));
    auto r =
        Client().Send(bhttp::verb::patch, "/api/v1/gpu-types/" + S(types[0].at("id")), admin_key_,
                      R"({"hourly_price_micros":)" + std::to_string(micros_per_hour) + "}", {},
                      "application/merge-patch+json");
    ASSERT_EQ(r.result_int(), 200u) << r.body();
  }

  Response Create(const std::string& fields, const std::string& path = "/api/v1/instances") {
    return Post(path, R"({"project":")" + project_ + R"(",)" + fields + "}");
  }
  std::string Provision(const std::string& fields) {
    auto r = Create(fields);
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    if (r.result_int() != 201u) return "";
    EXPECT_EQ(r[bhttp::field::location], "/api/v1/instances/" + S(Json(r).at("id")));
    return S(Json(r).at("id"));
  }

  bj::object Instance(const std::string& id) {
    return Json(Get("/api/v1/instances/" + id)).as_object();
  }

  bool WaitState(const std::string& id, const std::string& state,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    bool ok = WaitFor([&] { return S(Instance(id).at("state")) == state; }, timeout);
    if (!ok)
      ADD_FAILURE() << id << " never became " << state << ": " << bj::serialize(Instance(id));
    return ok;
  }

  Response Action(const std::string& id, const std::string& action, const std::string& body = "") {
    return Post("/api/v1/instances/" + id + "/" + action, body);
  }

  std::string Stdout(const std::string& id) {
    std::string out;
    bj::value page = Json(Get("/api/v1/instances/" + id + "/logs"));
    for (const auto& item : page.at("items").as_array()) {
      if (S(item.at("stream")) == "stdout") out += S(item.at("text"));
    }
    return out;
  }
};

TEST_F(InstancesE2eTest, ProvisionRunStopStartResizeExtendTerminate) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  Price("H100-80GB-HBM3", 2'000'000);  // 2.00 per GPU-hour
  std::string id =
      Provision(std::string(kSession) + R"(,"resources":{"gpus":2,"gpu_type":"H100-80GB-HBM3"},)"
                                        R"("max_lifetime_seconds":3600)");
  ASSERT_TRUE(WaitState(id, "running")) << agent->Log();
  auto running = Instance(id);
  EXPECT_EQ(running.at("gpu_indexes").as_array().size(), 2u);
  EXPECT_EQ(running.at("hourly_price_micros").as_int64(), 4'000'000);
  EXPECT_EQ(S(running.at("name")), "H100-80GB-HBM3x2");
  auto started = ParseRfc3339(S(running.at("started_at")));
  auto expires = ParseRfc3339(S(running.at("expires_at")));
  ASSERT_TRUE(started && expires);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*expires - *started).count(), 3600);
  ASSERT_TRUE(WaitFor([&] { return Stdout(id).find("gpus=") != std::string::npos; }));
  EXPECT_NE(Stdout(id).find("fresh\ngpus="), std::string::npos) << Stdout(id);
  EXPECT_NE(Stdout(id).find("id=" + id), std::string::npos);
  // Cost accrues while the GPUs are held: 4.00/h is about 1,111 micro-units a second.
  ASSERT_TRUE(WaitFor([&] { return Instance(id).at("cost_micros").as_int64() > 0; }));

  // Stop: the session ends, the GPUs are released, the cost stops growing.
  auto stop = Action(id, "stop");
  EXPECT_EQ(stop.result_int(), 202u) << stop.body();
  EXPECT_EQ(S(Json(stop).at("state")), "stopping");
  ASSERT_TRUE(WaitState(id, "stopped"));
  auto stopped = Instance(id);
  EXPECT_TRUE(stopped.at("node_id").is_null());
  EXPECT_TRUE(stopped.at("expires_at").is_null());
  int64_t cost = stopped.at("cost_micros").as_int64();
  EXPECT_GT(cost, 0);
  EXPECT_GT(stopped.at("gpu_seconds").as_double(), 0.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Instance(id).at("cost_micros").as_int64(), cost);
  EXPECT_EQ(Action(id, "stop").result_int(), 200u);  // already stopped: nothing changes

  // Start: placed again; the session finds the workspace it left.
  auto start = Action(id, "start");
  EXPECT_EQ(start.result_int(), 200u) << start.body();
  ASSERT_TRUE(WaitState(id, "running"));
  ASSERT_TRUE(WaitFor([&] { return Stdout(id).find("found") != std::string::npos; })) << Stdout(id);

  // Resize to 3 GPUs: stopped and placed again with the new count.
  auto resize = Action(id, "resize", R"({"gpus":3})");
  EXPECT_EQ(resize.result_int(), 202u) << resize.body();
  ASSERT_TRUE(WaitFor([&] {
    auto i = Instance(id);
    return S(i.at("state")) == "running" && i.at("gpu_indexes").as_array().size() == 3u;
  })) << bj::serialize(Instance(id));
  auto resized = Instance(id);
  EXPECT_EQ(resized.at("resources").at("gpus").as_int64(), 3);
  EXPECT_EQ(resized.at("starts").as_int64(), 3);
  EXPECT_EQ(resized.at("hourly_price_micros").as_int64(), 6'000'000);
  EXPECT_GT(resized.at("cost_micros").as_int64(), cost);

  // Extend the lease by an hour.
  auto before = ParseRfc3339(S(resized.at("expires_at")));
  auto extend = Action(id, "extend", R"({"seconds":3600})");
  ASSERT_EQ(extend.result_int(), 200u) << extend.body();
  auto after = ParseRfc3339(S(Json(extend).at("expires_at")));
  ASSERT_TRUE(before && after);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*after - *before).count(), 3600);

  // Terminate: for good; nothing else is allowed afterwards.
  auto terminate = Action(id, "terminate");
  EXPECT_EQ(terminate.result_int(), 202u) << terminate.body();
  ASSERT_TRUE(WaitState(id, "terminated"));
  auto again = Action(id, "start");
  EXPECT_EQ(again.result_int(), 409u) << again.body();
  EXPECT_NE(S(Json(again).at("hint")).find("terminated"), std::string::npos) << again.body();
  EXPECT_EQ(Action(id, "resize", R"({"gpus":1})").result_int(), 409u);
  EXPECT_EQ(Action(id, "terminate").result_int(), 200u);

  auto types = EventTypes(id);
  for (const char* type :
       {"hangar.instance.created", "hangar.instance.scheduled", "hangar.instance.running",
        "hangar.instance.stopping", "hangar.instance.stopped", "hangar.instance.pending",
        "hangar.instance.extended", "hangar.instance.terminated"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  }
}

TEST_F(InstancesE2eTest, IllegalActionsAreConflictsListingWhatIsAllowed) {
  auto agent = StartAgent("n1", "1xL4");
  std::string id = Provision(R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitState(id, "running")) << agent->Log();
  auto start = Action(id, "start");  // already running: nothing to do
  EXPECT_EQ(start.result_int(), 200u) << start.body();
  ASSERT_EQ(Action(id, "stop").result_int(), 202u);
  ASSERT_TRUE(WaitState(id, "stopped"));
  auto extend = Action(id, "extend", R"({"seconds":600})");
  EXPECT_EQ(extend.result_int(), 409u) << extend.body();
  EXPECT_EQ(S(Json(extend).at("hint")),
            "a stopped instance allows: start, resize, snapshot, clone, terminate");
  // A stopped instance may be resized: it keeps the new size for its next start.
  auto resize = Action(id, "resize", R"({"gpus":2})");
  EXPECT_EQ(resize.result_int(), 200u) << resize.body();
  EXPECT_EQ(S(Json(resize).at("state")), "stopped");
  EXPECT_EQ(Json(resize).at("resources").at("gpus").as_int64(), 2);
  // If-Match with an old ETag is refused.
  auto stale = Client().Send(bhttp::verb::post, "/api/v1/instances/" + id + "/start", admin_key_,
                             "", {{"If-Match", "\"1\""}});
  EXPECT_EQ(stale.result_int(), 412u) << stale.body();
}

TEST_F(InstancesE2eTest, InvalidRequestsNameTheFieldAndCreateNothing) {
  auto agent = StartAgent("n1", "2xA100-80GB");
  auto check = [&](const std::string& fields, const std::string& pointer) {
    auto r = Create(fields);
    EXPECT_EQ(r.result_int(), 422u) << fields << " -> " << r.body();
    EXPECT_NE(r.body().find("\"" + pointer + "\""), std::string::npos) << r.body();
  };
  check(R"("max_lifetime_seconds":1)", "/max_lifetime_seconds");
  check(R"("resources":{"gpus":0})", "/resources/gpus");
  check(R"("resources":{"gpus":1,"gpu_type":"Z9000"})", "/resources/gpu_type");
  check(R"("start_after":"tomorrow")", "/start_after");
  check(R"("environment":{"HANGAR_X":"1"})", "/environment/HANGAR_X");
  check(R"("command":[])", "/command");
  auto unknown = Post("/api/v1/instances", R"({"project":"nope"})");
  EXPECT_EQ(unknown.result_int(), 422u);
  EXPECT_NE(unknown.body().find("/project"), std::string::npos);
  EXPECT_EQ(Json(Get("/api/v1/instances")).at("items").as_array().size(), 0u);

  std::string id = Provision(R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitState(id, "running")) << agent->Log();
  auto short_extend = Action(id, "extend", R"({"seconds":5})");
  EXPECT_EQ(short_extend.result_int(), 422u);
  EXPECT_NE(short_extend.body().find("/seconds"), std::string::npos);
  auto long_extend = Action(id, "extend", R"({"seconds":2592000})");  // past 30 days in all
  EXPECT_EQ(long_extend.result_int(), 422u) << long_extend.body();
  auto bad_resize = Action(id, "resize", R"({"gpus":0})");
  EXPECT_EQ(bad_resize.result_int(), 422u);
  EXPECT_NE(bad_resize.body().find("/gpus"), std::string::npos);
  EXPECT_EQ(S(Instance(id).at("state")), "running");
  EXPECT_EQ(Instance(id).at("etag"), Json(Get("/api/v1/instances/" + id)).at("etag"));
}

TEST_F(InstancesE2eTest, DryRunEstimatesPriceFeasibilityAndWaitWithoutCreating) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  Price("H100-80GB-HBM3", 2'500'000);
  auto estimate = Create(R"("resources":{"gpus":2,"gpu_type":"H100-80GB-HBM3"},)"
                         R"("max_lifetime_seconds":7200)",
                         "/api/v1/instances?dry_run=true");
  ASSERT_EQ(estimate.result_int(), 200u) << estimate.body();
  auto e = Json(estimate);
  EXPECT_TRUE(e.at("feasible").as_bool());
  EXPECT_TRUE(e.at("available_now").as_bool());
  EXPECT_EQ(e.at("hourly_price_micros").as_int64(), 5'000'000);
  EXPECT_EQ(e.at("lifetime_cost_micros").as_int64(), 10'000'000);
  EXPECT_EQ(e.at("expected_wait_seconds").as_int64(), 0);
  EXPECT_EQ(e.at("blocked_by").as_array().size(), 0u);
  EXPECT_EQ(S(e.at("request").at("name")), "H100-80GB-HBM3x2");
  EXPECT_EQ(Json(Get("/api/v1/instances")).at("items").as_array().size(), 0u);

  auto too_big = Json(Create(R"("resources":{"gpus":8})", "/api/v1/gpus/provision?dry_run=true"));
  EXPECT_FALSE(too_big.at("feasible").as_bool());
  EXPECT_EQ(S(too_big.at("blocked_by").at(0).at("code")), "no_matching_gpus");
  EXPECT_TRUE(too_big.at("expected_start").is_null());

  // All four GPUs held by an instance whose lease ends in an hour: a new request waits for it.
  std::string holder = Provision(R"("resources":{"gpus":4},"max_lifetime_seconds":3600)");
  ASSERT_TRUE(WaitState(holder, "running")) << agent->Log();
  auto busy = Json(Create(R"("resources":{"gpus":2})", "/api/v1/instances?dry_run=true"));
  EXPECT_TRUE(busy.at("feasible").as_bool());
  EXPECT_FALSE(busy.at("available_now").as_bool());
  EXPECT_EQ(S(busy.at("blocked_by").at(0).at("code")), "insufficient_gpus");
  EXPECT_EQ(S(busy.at("expected_start")), S(Instance(holder).at("expires_at")));
  EXPECT_GT(busy.at("expected_wait_seconds").as_int64(), 3500);

  // A dry run validates like a create.
  auto invalid = Create(R"("max_lifetime_seconds":1)", "/api/v1/instances?dry_run=true");
  EXPECT_EQ(invalid.result_int(), 422u);
  auto bad_flag = Create(R"("resources":{"gpus":1})", "/api/v1/instances?dry_run=maybe");
  EXPECT_EQ(bad_flag.result_int(), 422u) << bad_flag.body();
}

TEST_F(InstancesE2eTest, TheLeaseWarnsThenStopsTheInstanceAndStartRenewsIt) {
  auto agent = StartAgent("n1", "1xL4");
  // An 8 s lease is warned in its last 2 s (a quarter), which the 1 s reconciler tick sees.
  std::string id = Provision(R"("resources":{"gpus":1},"max_lifetime_seconds":8)");
  ASSERT_TRUE(WaitState(id, "running")) << agent->Log();
  ASSERT_TRUE(WaitState(id, "stopped", std::chrono::seconds(20)));
  auto stopped = Instance(id);
  EXPECT_EQ(S(stopped.at("state_reason")), "lease_expired");
  auto types = EventTypes(id);
  auto expiring = std::find(types.begin(), types.end(), "hangar.instance.expiring");
  auto stopping = std::find(types.begin(), types.end(), "hangar.instance.stopping");
  ASSERT_NE(expiring, types.end());
  EXPECT_LT(expiring, stopping);  // warned before it was stopped
  ASSERT_EQ(Action(id, "start").result_int(), 200u);
  ASSERT_TRUE(WaitState(id, "running"));
  EXPECT_EQ(Instance(id).at("starts").as_int64(), 2);
}

TEST_F(InstancesE2eTest, ASessionThatExitsStopsOrFailsTheInstanceAndNodeLossPlacesItAgain) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  std::string ok = Provision(R"("command":["true"])");
  std::string bad = Provision(R"("command":["sh","-c","exit 7"])");
  ASSERT_TRUE(WaitState(ok, "stopped")) << agent->Log();
  EXPECT_EQ(S(Instance(ok).at("state_reason")), "session_ended");
  ASSERT_TRUE(WaitState(bad, "failed"));
  EXPECT_NE(S(Instance(bad).at("state_message")).find("exited with code 7"), std::string::npos);

  std::string held = Provision(R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitState(held, "running"));
  auto second = StartAgent("n2", "2xH100-80GB");
  std::string first_node = S(Instance(held).at("node_id"));
  (first_node == S(Json(Get("/api/v1/nodes?name=n1")).at("items").at(0).at("id")) ? agent : second)
      ->Signal(SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto i = Instance(held);
        return S(i.at("state")) == "running" && !i.at("node_id").is_null() &&
               S(i.at("node_id")) != first_node;
      },
      std::chrono::seconds(30)))
      << bj::serialize(Instance(held));
  auto types = EventTypes(held);
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.instance.pending"), types.end());
}

TEST_F(InstancesE2eTest, TheCliProvisionsWithAnEstimateAndManagesTheLifecycle) {
  auto agent = StartAgent("n1", "2xL40S");
  Price("L40S", 1'000'000);
  auto dry = Cli({"provision", "--project", "vision", "--gpus", "1", "--gpu-type", "L40S",
                  "--lifetime", "2h", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("1.00"), std::string::npos) << dry.output;  // per hour
  EXPECT_NE(dry.output.find("2.00"), std::string::npos) << dry.output;  // for the lifetime
  EXPECT_EQ(Json(Get("/api/v1/instances")).at("items").as_array().size(), 0u);

  auto made = Cli({"provision", "--project", "vision", "--gpus", "1", "--wait", "-q"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  // Progress lines ("inst_… pending: …") go to stderr; the id alone is the last line.
  std::string out = made.output.substr(0, made.output.size() - 1);
  std::string id = out.substr(out.rfind('\n') + 1);
  ASSERT_TRUE(id.starts_with("inst_")) << made.output;
  EXPECT_EQ(S(Instance(id).at("state")), "running");

  auto list = Cli({"instances", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(id), std::string::npos);
  EXPECT_NE(list.output.find("running"), std::string::npos);
  ASSERT_EQ(Cli({"instances", "stop", id, "--wait"}).exit_code, 0);
  EXPECT_EQ(S(Instance(id).at("state")), "stopped");
  auto resize = Cli({"instances", "resize", id, "--gpus", "2"});
  ASSERT_EQ(resize.exit_code, 0) << resize.output;
  ASSERT_EQ(Cli({"instances", "start", id, "--wait"}).exit_code, 0);
  EXPECT_EQ(Instance(id).at("gpu_indexes").as_array().size(), 2u);
  auto extend = Cli({"instances", "extend", id, "--by", "1h"});
  ASSERT_EQ(extend.exit_code, 0) << extend.output;
  auto get = Cli({"instances", "get", id, "-o", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("\"cost_micros\""), std::string::npos);
  auto illegal = Cli({"instances", "extend", "inst_01jd3x00000000000000000000", "--by", "1h"});
  EXPECT_EQ(illegal.exit_code, 4) << illegal.output;  // not found
  ASSERT_EQ(Cli({"instances", "terminate", id, "--wait"}).exit_code, 0);
  EXPECT_EQ(S(Instance(id).at("state")), "terminated");
  auto conflict = Cli({"instances", "start", id});
  EXPECT_NE(conflict.exit_code, 0);
  EXPECT_NE(conflict.output.find("terminated"), std::string::npos) << conflict.output;
}

TEST_F(InstancesE2eTest, QuotasLimitRefuseAndQueueAndTheListShowsUse) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  auto find = [&](const std::string& scope) {
    bj::value list = Json(Get("/api/v1/quotas"));  // kept alive while the loop reads it
    for (const auto& q : list.at("items").as_array()) {
      if (S(q.at("scope_id")) == scope) return q.as_object();
    }
    return bj::object{};
  };
  auto none = find(project_);
  ASSERT_FALSE(none.empty());
  EXPECT_EQ(S(none.at("scope_type")), "project");
  EXPECT_TRUE(none.at("gpu_limit").is_null());
  EXPECT_EQ(S(none.at("etag")), "\"0\"");

  auto put = [&](const std::string& scope, const std::string& body,
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(bhttp::verb::put, "/api/v1/quotas/" + scope, admin_key_, body, headers);
  };
  auto set = put(project_, R"({"gpus":1,"gpu_limit":2})", {{"If-Match", "\"0\""}});
  ASSERT_EQ(set.result_int(), 200u) << set.body();
  EXPECT_EQ(Json(set).at("gpu_limit").as_int64(), 2);
  EXPECT_EQ(put(project_, R"({"gpus":1,"gpu_limit":3})", {{"If-Match", "\"0\""}}).result_int(),
            412u);
  auto bad = put(project_, R"({"gpus":3,"gpu_limit":2,"weight":0})");
  EXPECT_EQ(bad.result_int(), 422u);
  EXPECT_NE(bad.body().find("/gpu_limit"), std::string::npos) << bad.body();
  EXPECT_NE(bad.body().find("/weight"), std::string::npos) << bad.body();
  EXPECT_EQ(put("proj_01jd3x00000000000000000000", "{}").result_int(), 404u);
  EXPECT_EQ(find(project_).at("gpu_limit").as_int64(), 2);  // the refused writes changed nothing

  // A request larger than the limit could never start: refused, naming the limit.
  auto big = Create(R"("resources":{"gpus":3})");
  EXPECT_EQ(big.result_int(), 429u) << big.body();
  EXPECT_NE(big.body().find("resource-exhausted"), std::string::npos);
  EXPECT_NE(big.body().find("/resources/gpus"), std::string::npos);
  EXPECT_NE(big.body().find("GPU limit of project vision: 2"), std::string::npos) << big.body();
  auto job = Post("/api/v1/jobs",
                  R"({"project":")" + project_ + R"(","command":["true"],"resources":{"gpus":3}})");
  EXPECT_EQ(job.result_int(), 429u) << job.body();

  std::string first = Provision(R"("resources":{"gpus":2})");
  ASSERT_TRUE(WaitState(first, "running")) << agent->Log();
  EXPECT_EQ(find(project_).at("gpus_in_use").as_double(), 2.0);
  auto estimate = Json(Create(R"("resources":{"gpus":1})", "/api/v1/instances?dry_run=true"));
  EXPECT_FALSE(estimate.at("available_now").as_bool());
  EXPECT_EQ(S(estimate.at("blocked_by").at(0).at("code")), "quota_exceeded");

  // Within the limit on its own but not with what runs: it waits, saying why.
  std::string second = Provision(R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitFor([&] {
    auto i = Instance(second);
    return i.at("queue").is_object() && S(i.at("queue").at("reason")) == "quota_exceeded";
  })) << bj::serialize(Instance(second));
  EXPECT_EQ(S(Instance(second).at("state")), "pending");
  EXPECT_EQ(find(project_).at("gpus_pending").as_double(), 1.0);

  // Raising the limit (here with the CLI) lets it start.
  auto cli = Cli({"quota", "set", project_, "--gpus", "1", "--limit", "3"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  ASSERT_TRUE(WaitState(second, "running"));
  auto table = Cli({"quota"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find(project_), std::string::npos) << table.output;
  auto types = EventTypes(project_);
  EXPECT_EQ(std::count(types.begin(), types.end(), "hangar.quota.updated"), 2);
}

// A session that shows what its workspace held when it started (the id of the instance that
// first wrote it), then holds its GPU.
constexpr std::string_view kCarry =
    R"("command":["sh","-c","if [ -f origin ]; then echo found $(cat origin); else echo fresh; )"
    R"(echo $HANGAR_INSTANCE_ID > origin; fi; exec sleep 1000"])";

TEST_F(InstancesE2eTest, SnapshotCloneAndMigrateCarryTheWorkspaceToOtherInstancesAndNodes) {
  auto a = StartAgent("n1", "2xH100-80GB");
  auto b = StartAgent("n2", "2xH100-80GB");
  std::string id = Provision(std::string(kCarry));
  ASSERT_TRUE(WaitState(id, "running")) << a->Log() << b->Log();
  ASSERT_TRUE(WaitFor([&] { return Stdout(id).find("fresh") != std::string::npos; }));
  std::string home = S(Instance(id).at("node_id"));
  EXPECT_EQ(S(Instance(id).at("workspace_node_id")), home);

  // Snapshot: pending until the node's agent archived and uploaded the workspace.
  auto snap = Action(id, "snapshot", R"({"name":"base"})");
  ASSERT_EQ(snap.result_int(), 202u) << snap.body();
  std::string snap_id = S(Json(snap).at("id"));
  EXPECT_EQ(S(Json(snap).at("state")), "pending");
  EXPECT_EQ(snap[bhttp::field::location], "/api/v1/snapshots/" + snap_id);
  bj::value ready;
  ASSERT_TRUE(WaitFor([&] {
    ready = Json(Get("/api/v1/snapshots/" + snap_id));
    return S(ready.at("state")) == "ready";
  })) << bj::serialize(ready);
  EXPECT_GT(ready.at("size_bytes").as_int64(), 0);
  EXPECT_EQ(S(ready.at("sha256")).size(), 64u);
  EXPECT_EQ(S(ready.at("instance_id")), id);
  EXPECT_EQ(S(ready.at("node_id")), home);
  auto types = EventTypes(snap_id);
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.snapshot.ready"), types.end());
  auto duplicate = Action(id, "snapshot", R"({"name":"base"})");
  EXPECT_EQ(duplicate.result_int(), 409u) << duplicate.body();
  EXPECT_NE(duplicate.body().find("/name"), std::string::npos);
  EXPECT_EQ(Action(id, "snapshot", R"({"name":"no spaces"})").result_int(), 422u);

  // Clone: a new instance whose workspace starts as the original's (a snapshot taken now).
  auto clone = Action(id, "clone", R"({"name":"copy"})");
  ASSERT_EQ(clone.result_int(), 201u) << clone.body();
  std::string copy = S(Json(clone).at("id"));
  EXPECT_EQ(S(Json(clone).at("name")), "copy");
  ASSERT_TRUE(WaitState(copy, "running"));
  ASSERT_TRUE(WaitFor([&] { return Stdout(copy).find("found " + id) != std::string::npos; }))
      << Stdout(copy) << a->Log() << b->Log();
  EXPECT_TRUE(Instance(copy).at("restore_snapshot_id").is_null());

  // A new instance from the named snapshot.
  std::string restored = Provision(std::string(kCarry) + R"(,"snapshot":"base")");
  ASSERT_TRUE(WaitState(restored, "running"));
  ASSERT_TRUE(WaitFor([&] { return Stdout(restored).find("found " + id) != std::string::npos; }))
      << Stdout(restored);
  EXPECT_EQ(Create(R"("snapshot":"nope")").result_int(), 422u);
  ASSERT_EQ(Action(copy, "terminate").result_int(), 202u);
  ASSERT_EQ(Action(restored, "terminate").result_int(), 202u);
  ASSERT_TRUE(WaitState(copy, "terminated"));
  ASSERT_TRUE(WaitState(restored, "terminated"));

  // Migrate: to the other node, with the workspace; errors first.
  EXPECT_EQ(Action(id, "migrate", R"({"node":")" + home + R"("})").result_int(), 422u);
  EXPECT_EQ(Action(id, "migrate", R"({"node":"node_01jd3x00000000000000000000"})").result_int(),
            422u);
  auto migrate = Action(id, "migrate", "");
  ASSERT_EQ(migrate.result_int(), 202u) << migrate.body();
  std::string target = S(Json(migrate).at("migrating_to_node_id"));
  EXPECT_NE(target, home);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto i = Instance(id);
        return S(i.at("state")) == "running" && !i.at("node_id").is_null() &&
               S(i.at("node_id")) == target && i.at("migrating_to_node_id").is_null();
      },
      std::chrono::seconds(30)))
      << bj::serialize(Instance(id)) << a->Log() << b->Log();
  // The second run found the workspace the first one wrote, on the other node.
  ASSERT_TRUE(WaitFor([&] { return Stdout(id).find("found " + id) != std::string::npos; }))
      << Stdout(id);
  EXPECT_EQ(S(Instance(id).at("workspace_node_id")), target);
  EXPECT_EQ(Instance(id).at("starts").as_int64(), 2);
  types = EventTypes(id);
  for (const char* t : {"hangar.instance.migrating", "hangar.instance.stopping",
                        "hangar.instance.pending", "hangar.instance.running"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }

  // A stopped instance cannot migrate; one that never ran has nothing to snapshot.
  ASSERT_EQ(Action(id, "stop").result_int(), 202u);
  ASSERT_TRUE(WaitState(id, "stopped"));
  auto stopped = Action(id, "migrate");
  EXPECT_EQ(stopped.result_int(), 409u) << stopped.body();
  EXPECT_NE(stopped.body().find("start, resize, snapshot, clone, terminate"), std::string::npos);
  std::string later = Provision(R"("start_after":")" +
                                FormatRfc3339(SystemClock().Now() + std::chrono::hours(1)) + "\"");
  EXPECT_EQ(Action(later, "snapshot").result_int(), 409u);

  // The CLI lists the snapshots; a used one is deleted; its archive goes with it.
  auto list = Cli({"snapshots", "list", "--instance", id});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("base"), std::string::npos) << list.output;
  auto del = Client().Send(bhttp::verb::delete_, "/api/v1/snapshots/" + snap_id, admin_key_);
  EXPECT_EQ(del.result_int(), 204u) << del.body();
  EXPECT_EQ(Get("/api/v1/snapshots/" + snap_id).result_int(), 404u);
}

TEST_F(InstancesE2eTest, TheCliSnapshotsClonesAndMigrates) {
  auto a = StartAgent("n1", "1xH100-80GB");
  auto b = StartAgent("n2", "1xH100-80GB");
  auto made = Cli({"provision", "--project", "vision", "--wait", "-q", "--", "sh", "-c",
                   "echo $HANGAR_INSTANCE_ID > origin; exec sleep 1000"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::string out = made.output.substr(0, made.output.size() - 1);
  std::string id = out.substr(out.rfind('\n') + 1);
  auto snap = Cli({"instances", "snapshot", id, "--name", "cli-snap", "--wait"});
  ASSERT_EQ(snap.exit_code, 0) << snap.output;
  EXPECT_NE(snap.output.find("ready"), std::string::npos) << snap.output;
  auto migrate = Cli({"instances", "migrate", id, "--wait"});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.output << a->Log() << b->Log();
  EXPECT_NE(migrate.output.find("running"), std::string::npos) << migrate.output;
  // Both nodes' single GPU: the clone waits for one (the original holds the other).
  auto clone = Cli({"instances", "clone", id, "--snapshot", "cli-snap", "-q"});
  ASSERT_EQ(clone.exit_code, 0) << clone.output;
  auto get = Cli({"snapshots", "get", "cli-snap"});
  EXPECT_NE(get.exit_code, 0);  // by id only
  auto listed = Cli({"snapshots", "list", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("cli-snap"), std::string::npos);
}

TEST_F(InstancesE2eTest, APolicyHoldsLargeRequestsUntilAnotherPersonApprovesOrRejects) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  Price("H100-80GB-HBM3", 2'000'000);
  const std::string policy = "/api/v1/approval-policies/vision";
  auto put = [&](const std::string& body, std::vector<std::pair<std::string, std::string>> h) {
    return Client().Send(bhttp::verb::put, policy, admin_key_, body, std::move(h));
  };
  EXPECT_EQ(put(R"({"gpus_over":-1})", {}).result_int(), 422u);
  auto set = put(R"({"gpus_over":2,"hourly_cost_over_micros":5000000})", {{"If-Match", "\"0\""}});
  ASSERT_EQ(set.result_int(), 200u) << set.body();
  EXPECT_EQ(Json(Get(policy)).at("gpus_over").as_int64(), 2);
  EXPECT_EQ(put(R"({"gpus_over":3})", {{"If-Match", "\"0\""}}).result_int(), 412u);

  // Within the policy: placed at once. Over it: held for approval, not scheduled.
  std::string small = Provision(R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitState(small, "running"));
  std::string big = Provision(R"("resources":{"gpus":3})");
  auto held = Instance(big);
  EXPECT_EQ(S(held.at("state")), "awaiting_approval");
  EXPECT_NE(S(held.at("state_message")).find("3 GPUs is more than the 2"), std::string::npos)
      << bj::serialize(held);
  EXPECT_NE(S(held.at("state_message")).find("6.00 per hour"), std::string::npos)
      << bj::serialize(held);
  auto pending = Json(Get("/api/v1/approvals?state=pending")).at("items").as_array();
  ASSERT_EQ(pending.size(), 1u);
  std::string approval = S(pending[0].at("id"));
  EXPECT_EQ(S(pending[0].at("subject_id")), big);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(S(Instance(big).at("state")), "awaiting_approval");

  // Nobody approves their own request; a lead (another principal) does.
  auto own = Post("/api/v1/approvals/" + approval + "/approve", "");
  EXPECT_EQ(own.result_int(), 409u) << own.body();
  auto lead = Json(Post("/api/v1/service-accounts", R"({"name":"lead"})"));
  std::string lead_id = S(lead.at("id"));
  ASSERT_EQ(Post("/api/v1/role-bindings", R"({"principal_id":")" + lead_id + R"(","role":"admin"})")
                .result_int(),
            201u);
  std::string lead_key =
      S(Json(Post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + lead_id + R"("})"))
            .at("secret"));
  auto approve = Client().Send(bhttp::verb::post, "/api/v1/approvals/" + approval + "/approve",
                               lead_key, R"({"comment":"ok for the demo"})");
  ASSERT_EQ(approve.result_int(), 200u) << approve.body();
  EXPECT_EQ(S(Json(approve).at("state")), "approved");
  EXPECT_EQ(S(Json(approve).at("decided_by")), lead_id);
  ASSERT_TRUE(WaitState(big, "running"));
  auto again =
      Client().Send(bhttp::verb::post, "/api/v1/approvals/" + approval + "/reject", lead_key, "");
  EXPECT_EQ(again.result_int(), 409u) << again.body();

  // Rejected: terminated with the comment. Terminated while waiting: the approval is cancelled.
  std::string second = Provision(R"("resources":{"gpus":3})");
  std::string second_approval = S(
      Json(Get("/api/v1/approvals?state=pending&subject_id=" + second)).at("items").at(0).at("id"));
  auto reject = Client().Send(bhttp::verb::post, "/api/v1/approvals/" + second_approval + "/reject",
                              lead_key, R"({"comment":"too many"})");
  ASSERT_EQ(reject.result_int(), 200u) << reject.body();
  auto rejected = Instance(second);
  EXPECT_EQ(S(rejected.at("state")), "terminated");
  EXPECT_EQ(S(rejected.at("state_reason")), "rejected");
  EXPECT_NE(S(rejected.at("state_message")).find("too many"), std::string::npos);
  std::string third = Provision(R"("resources":{"gpus":3})");
  ASSERT_EQ(
      Client().Send(bhttp::verb::delete_, "/api/v1/instances/" + third, admin_key_).result_int() /
          100,
      2u);
  auto cancelled = Json(Get("/api/v1/approvals?subject_id=" + third)).at("items").at(0);
  EXPECT_EQ(S(cancelled.at("state")), "cancelled");
  auto types = EventTypes(approval);
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.approval.requested"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.approval.approved"), types.end());

  // The CLI: the queue, and the policy.
  std::string fourth = Provision(R"("resources":{"gpus":3})");
  auto list = Cli({"approvals", "list", "--state", "pending"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(fourth), std::string::npos) << list.output;
  auto shown = Cli({"approvals", "policy", "vision"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("5.00"), std::string::npos) << shown.output;
}

TEST_F(InstancesE2eTest, ASnapshotThatCannotBeTakenFailsAndWhatWaitedForItDoesNotGoOn) {
  auto a = StartAgent("n1", "2xH100-80GB");
  auto b = StartAgent("n2", "2xH100-80GB");
  std::string id = Provision(std::string(kCarry));
  ASSERT_TRUE(WaitState(id, "running"));
  std::string home = S(Instance(id).at("node_id"));
  std::string home_name = S(Json(Get("/api/v1/nodes/" + home)).at("name"));
  // The workspace disappears from its node (a disk wiped, say): the agent cannot archive it.
  std::filesystem::remove_all(dir_ / ("agent-" + home_name) / "workspaces" / id);

  // A migration waiting for the snapshot is abandoned; the instance keeps running where it was.
  auto migrate = Action(id, "migrate");
  ASSERT_EQ(migrate.result_int(), 202u) << migrate.body();
  ASSERT_TRUE(WaitFor([&] { return S(Instance(id).at("state_reason")) == "migration_failed"; }))
      << bj::serialize(Instance(id)) << a->Log() << b->Log();
  auto kept = Instance(id);
  EXPECT_EQ(S(kept.at("state")), "running");
  EXPECT_EQ(S(kept.at("node_id")), home);
  EXPECT_TRUE(kept.at("migrating_to_node_id").is_null());
  EXPECT_NE(S(kept.at("state_message")).find("not on this node"), std::string::npos)
      << bj::serialize(kept);
  auto snaps = Json(Get("/api/v1/snapshots?instance_id=" + id)).at("items").as_array();
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(S(snaps[0].at("state")), "failed");
  auto types = EventTypes(S(snaps[0].at("id")));
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.snapshot.failed"), types.end());

  // A clone waiting for a snapshot that fails fails too, and a failed snapshot cannot be used.
  auto clone = Action(id, "clone");
  ASSERT_EQ(clone.result_int(), 201u) << clone.body();
  std::string copy = S(Json(clone).at("id"));
  ASSERT_TRUE(WaitState(copy, "failed"));
  EXPECT_EQ(S(Instance(copy).at("state_reason")), "restore_failed");
  auto from_failed = Create(R"("snapshot":")" + S(snaps[0].at("id")) + R"(")");
  EXPECT_EQ(from_failed.result_int(), 422u) << from_failed.body();
  EXPECT_NE(from_failed.body().find("/snapshot"), std::string::npos);
}

}  // namespace
}  // namespace hangar::testing
