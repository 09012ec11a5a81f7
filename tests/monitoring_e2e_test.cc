// Fleet monitoring end to end: real hangard and agents on simulated GPUs shipping samples every
// 200 ms. Metric history at every resolution, the live view, injected faults (a GPU falling off
// the bus) driving GPU health, auto-cordon, requeueing and alerts, node drain, alert rules'
// validation and lifecycle, and the CLI commands over all of it.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

class MonitoringE2eTest : public WorkloadFixture {
 protected:
  MonitoringE2eTest() { extra_flags_ = {"--metrics-tick", "200ms"}; }

  // An agent sampling every 200 ms and shipping every 300 ms, faults read from `faults_`.
  std::unique_ptr<Process> StartSampledAgent(const std::string& name, const std::string& spec) {
    faults_ = dir_ / ("faults-" + name + ".json");
    std::ofstream(faults_) << "{}";
    auto agent = std::make_unique<Process>(
        "hangar-agent",
        std::vector<std::string>{"--server", Url(), "--join-token", join_token_, "--simulate", spec,
                                 "--name", name, "--state-dir", (dir_ / ("agent-" + name)).string(),
                                 "--sample-period", "200ms", "--metrics-flush", "300ms",
                                 "--simulate-faults", faults_.string()},
        dir_ / ("agent-" + name + ".log"));
    EXPECT_TRUE(agent->started());
    EXPECT_TRUE(WaitFor([&] {
      auto nodes = Json(Get("/api/v1/nodes?name=" + name)).at("items").as_array();
      return !nodes.empty() && S(nodes[0].at("state")) == "ready";
    })) << agent->Log();
    return agent;
  }

  bj::object NodeNamed(const std::string& name) {
    return Json(Get("/api/v1/nodes?name=" + name)).at("items").as_array().at(0).as_object();
  }
  bj::array GpusOf(const std::string& node_id) {
    return Json(Get("/api/v1/gpus?node_id=" + node_id + "&sort=index")).at("items").as_array();
  }
  bj::object JobOf(const std::string& id) { return Json(Get("/api/v1/jobs/" + id)).as_object(); }
  std::string SubmitJob(const std::string& fields) {
    auto r = Post("/api/v1/jobs", R"({"project":")" + project_ + R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? S(Json(r).at("id")) : "";
  }
  bj::array Alerts(const std::string& query) {
    return Json(Get("/api/v1/alerts?limit=1000&" + query)).at("items").as_array();
  }

  std::filesystem::path faults_;
};

TEST_F(MonitoringE2eTest, SamplesBecomeHistoryLiveViewAndProjectAggregates) {
  auto agent = StartSampledAgent("mon-a", "2xH100-80GB");
  std::string node_id = S(NodeNamed("mon-a").at("id"));
  auto gpus = GpusOf(node_id);
  ASSERT_EQ(gpus.size(), 2u);
  std::string gpu0 = S(gpus[0].at("id"));
  EXPECT_EQ(S(gpus[0].at("pci_bus_id")).size(), 16u) << bj::serialize(gpus[0]);
  // The simulated SXM GPUs reach each other over NVLink; MIG is off.
  ASSERT_EQ(gpus[0].at("nvlink_peers").as_array().size(), 1u) << bj::serialize(gpus[0]);
  EXPECT_EQ(S(gpus[0].at("nvlink_peers").at(0)), S(gpus[1].at("pci_bus_id")));
  EXPECT_FALSE(gpus[0].at("mig_enabled").as_bool());

  // A job holds GPU 0 busy (a shell loop burns a core): the project's series is its GPU's.
  std::string job =
      SubmitJob(R"("command":["sh","-c","while :; do :; done"],"resources":{"gpus":1},)"
                R"("preemption":"requeue")");
  ASSERT_TRUE(WaitFor([&] { return S(JobOf(job).at("state")) == "running"; }));

  // The live view: every GPU sampled, the held one names its project and job.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto live = Json(Get("/api/v1/gpus/live")).at("items").as_array();
        if (live.size() != 2) return false;
        for (const auto& g : live) {
          if (!g.as_object().contains("sampled_at")) return false;
        }
        for (const auto& g : live) {
          if (g.at("workload_id").is_string() && S(g.at("workload_id")) == job &&
              S(g.at("project_id")) == project_ && g.at("utilization").to_number<double>() > 20) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)))
      << Get("/api/v1/gpus/live").body();

  // Raw samples for a fine step; the minute roll-up (open bucket merged) for a coarse one.
  auto raw = Get("/api/v1/gpus/" + gpu0 + "/metrics?metric=utilization&step=1s");
  ASSERT_EQ(raw.result_int(), 200u) << raw.body();
  EXPECT_EQ(S(Json(raw).at("resolution")), "raw");
  EXPECT_EQ(S(Json(raw).at("unit")), "percent");
  EXPECT_FALSE(Json(raw).at("points").as_array().empty());
  auto minute = Json(Get("/api/v1/nodes/" + node_id + "/metrics?metric=temperature_c&step=1m"));
  EXPECT_EQ(S(minute.at("resolution")), "1m");
  ASSERT_FALSE(minute.at("points").as_array().empty());
  EXPECT_GT(minute.at("points").as_array().back().at("gpus").to_number<double>(), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = Json(Get("/api/v1/projects/" + project_ + "/metrics?step=1m"));
        auto points = p.at("points").as_array();
        return !points.empty() && points.back().at("max").to_number<double>() > 20;
      },
      std::chrono::seconds(30)));

  // Bad queries name the parameter; another tenant's or an unknown object is a 404.
  auto bad = Get("/api/v1/gpus/" + gpu0 + "/metrics?metric=fan_speed");
  EXPECT_EQ(bad.result_int(), 422u);
  EXPECT_NE(bad.body().find("query:metric"), std::string::npos) << bad.body();
  EXPECT_EQ(Get("/api/v1/gpus/" + gpu0 + "/metrics?from=yesterday").result_int(), 422u);
  EXPECT_EQ(Get("/api/v1/projects/proj_00000000000000000000000000/metrics").result_int(), 404u);

  // The CLI over the same API.
  auto top = Cli({"gpus", "top", "--once"});
  EXPECT_EQ(top.exit_code, 0) << top.output;
  EXPECT_NE(top.output.find("mon-a"), std::string::npos) << top.output;
  auto metrics = Cli({"metrics", "gpu", gpu0, "--metric", "power_watts", "--step", "1m"});
  EXPECT_EQ(metrics.exit_code, 0) << metrics.output;
  EXPECT_NE(metrics.output.find("watts"), std::string::npos) << metrics.output;
  EXPECT_EQ(Post("/api/v1/jobs/" + job + "/cancel", "").result_int(), 202u);
}

TEST_F(MonitoringE2eTest, AGpuFallingOffTheBusCordonsRequeuesAndAlerts) {
  auto agent = StartSampledAgent("mon-b", "2xH100-80GB");
  std::string node_id = S(NodeNamed("mon-b").at("id"));
  std::string job =
      SubmitJob(R"("command":["sleep","1000"],"resources":{"gpus":2},"preemption":"requeue")");
  ASSERT_TRUE(WaitFor([&] { return S(JobOf(job).at("state")) == "running"; }));

  std::ofstream(faults_) << R"({"1":["fell_off_bus"]})";
  std::string gpu1 = S(GpusOf(node_id)[1].at("id"));
  ASSERT_TRUE(WaitFor([&] {
    auto g = Json(Get("/api/v1/gpus/" + gpu1));
    return S(g.at("state")) == "unhealthy";
  })) << agent->Log();
  auto sick = Json(Get("/api/v1/gpus/" + gpu1));
  std::string reasons = bj::serialize(sick.at("health_reasons"));
  EXPECT_NE(reasons.find("fell_off_bus"), std::string::npos) << reasons;

  // The node is cordoned, saying why; the job on the lost GPU goes back to the queue and waits
  // (the only node is cordoned).
  ASSERT_TRUE(WaitFor([&] { return NodeNamed("mon-b").at("cordoned").as_bool(); }));
  std::string cordon_reason = S(NodeNamed("mon-b").at("cordon_reason"));
  EXPECT_NE(cordon_reason.find("GPU 1"), std::string::npos) << cordon_reason;
  ASSERT_TRUE(WaitFor([&] {
    auto j = JobOf(job);
    return S(j.at("state")) == "pending" && S(j.at("state_reason")) == "gpu_unhealthy";
  })) << bj::serialize(JobOf(job));

  // The built-in rule fires for that GPU (duration 0), as an event too.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& a : Alerts("state=firing&subject=" + gpu1)) {
      if (S(a.at("rule_name")) == "gpu-unhealthy") return true;
    }
    return false;
  })) << Get("/api/v1/alerts").body();
  auto firing = Alerts("state=firing&subject=" + gpu1).at(0).as_object();
  auto types = EventTypes(S(firing.at("id")));
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.alert.firing"), types.end());
  auto listed = Cli({"alerts", "list", "--state", "firing"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("gpu-unhealthy"), std::string::npos) << listed.output;
  auto node_events = EventTypes(node_id);
  EXPECT_NE(std::find(node_events.begin(), node_events.end(), "hangar.node.cordoned"),
            node_events.end());

  // Uncorrectable ECC errors on the other GPU: it turns unhealthy too, and the ECC rule fires.
  std::ofstream(faults_) << R"({"0":["ecc"],"1":["fell_off_bus"]})";
  std::string gpu0 = S(GpusOf(node_id)[0].at("id"));
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& a : Alerts("state=firing&subject=" + gpu0)) {
      if (S(a.at("rule_name")) == "gpu-ecc-errors") return true;
    }
    return false;
  })) << Get("/api/v1/alerts").body();
  auto ecc = Json(Get("/api/v1/gpus/" + gpu0));
  EXPECT_EQ(S(ecc.at("state")), "unhealthy");
  EXPECT_NE(bj::serialize(ecc.at("health_reasons")).find("ecc_uncorrectable"), std::string::npos)
      << bj::serialize(ecc);
}

// While hangard is down the agent keeps sampling into its buffer, and sends it all once hangard
// is back: the GPU's history has no hole where the outage was, and nothing was dropped.
TEST_F(MonitoringE2eTest, SamplesTakenWhileHangardIsDownArriveAfterItReturns) {
  auto agent = StartSampledAgent("outage-a", "1xL4");
  std::string gpu = S(GpusOf(S(NodeNamed("outage-a").at("id")))[0].at("id"));
  ASSERT_TRUE(WaitFor([&] {
    return !Json(Get("/api/v1/gpus/" + gpu + "/metrics?step=1s")).at("points").as_array().empty();
  }));
  listen_ = address_;  // come back where the agent looks for it
  hangard_->Signal(SIGKILL);
  hangard_->Wait();
  auto down_at = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(4));
  auto up_at = std::chrono::system_clock::now();
  StartHangard();
  auto iso = [](std::chrono::system_clock::time_point t) {
    return hangar::FormatRfc3339(hangar::FromUnixMicros(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count()));
  };
  // Every whole second of the outage has its samples (5 a second), delivered after the restart
  // (the first and last buckets are cut by the range's ends).
  std::string outage = "/api/v1/gpus/" + gpu + "/metrics?step=1s&from=" + iso(down_at) +
                       "&to=" + iso(up_at - std::chrono::seconds(1));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto points = Json(Get(outage)).at("points").as_array();
        if (points.size() < 3) return false;
        for (size_t i = 1; i + 1 < points.size(); ++i) {
          if (points[i].at("samples").as_int64() < 4) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << Get(outage).body() << agent->Log();
  auto scrape = Client().Send(verb::get, "/metrics", "", "");
  EXPECT_NE(scrape.body().find("\nhangar_gpu_metric_agent_dropped_total 0\n"), std::string::npos)
      << scrape.body();
}

TEST_F(MonitoringE2eTest, DrainMovesPreemptibleWorkAndUncordonEndsIt) {
  auto a = StartSampledAgent("drain-a", "1xH100-80GB");
  std::string job =
      SubmitJob(R"("command":["sleep","1000"],"resources":{"gpus":1},"preemption":"requeue")");
  ASSERT_TRUE(WaitFor([&] { return S(JobOf(job).at("state")) == "running"; }));
  std::string node_a = S(JobOf(job).at("node_id"));
  EXPECT_EQ(NodeNamed("drain-a").at("workloads_running").as_int64(), 1);

  auto bad = Post("/api/v1/nodes/" + node_a + "/drain", R"({"timeout_seconds":-1})");
  EXPECT_EQ(bad.result_int(), 422u);
  EXPECT_NE(bad.body().find("/timeout_seconds"), std::string::npos);

  // A second node to move to; drain through the CLI.
  auto b = StartSampledAgent("drain-b", "1xH100-80GB");
  auto drained = Cli({"nodes", "drain", "drain-a", "--reason", "firmware update", "--wait"});
  EXPECT_EQ(drained.exit_code, 0) << drained.output;
  auto node = NodeNamed("drain-a");
  EXPECT_TRUE(node.at("draining").as_bool());
  EXPECT_EQ(S(node.at("cordon_reason")), "firmware update");
  EXPECT_EQ(node.at("workloads_running").as_int64(), 0);
  // The job ran again on the other node.
  ASSERT_TRUE(WaitFor([&] {
    auto j = JobOf(job);
    return S(j.at("state")) == "running" && S(j.at("node_id")) != node_a;
  })) << bj::serialize(JobOf(job));
  auto types = EventTypes(job);
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.job.stopping"), types.end());

  auto uncordoned = Cli({"nodes", "uncordon", "drain-a"});
  EXPECT_EQ(uncordoned.exit_code, 0) << uncordoned.output;
  node = NodeNamed("drain-a");
  EXPECT_FALSE(node.at("cordoned").as_bool());
  EXPECT_FALSE(node.at("draining").as_bool());
  EXPECT_EQ(S(node.at("cordon_reason")), "");
}

TEST_F(MonitoringE2eTest, TaintsKeepOutWorkThatDoesNotTolerateThem) {
  auto agent = StartSampledAgent("taint-a", "1xH100-80GB");
  auto bad = Client().Send(verb::patch, "/api/v1/nodes/" + S(NodeNamed("taint-a").at("id")),
                           admin_key_, R"({"taints":[{"key":"","effect":"NoExecute"}]})", {},
                           "application/merge-patch+json");
  EXPECT_EQ(bad.result_int(), 422u);
  EXPECT_NE(bad.body().find("/taints/0/key"), std::string::npos) << bad.body();
  EXPECT_NE(bad.body().find("/taints/0/effect"), std::string::npos) << bad.body();
  auto tainted = Cli({"nodes", "taint", "taint-a", "dedicated=ml"});
  ASSERT_EQ(tainted.exit_code, 0) << tainted.output;
  ASSERT_EQ(NodeNamed("taint-a").at("taints").as_array().size(), 1u);

  std::string plain = SubmitJob(R"("command":["sleep","1000"],"resources":{"gpus":1})");
  std::string wrong = SubmitJob(R"("command":["sleep","1000"],"resources":{"gpus":1},)"
                                R"("tolerations":[{"key":"dedicated","value":"web"}])");
  // Both wait, and say there is no node for them.
  ASSERT_TRUE(WaitFor([&] {
    auto q = JobOf(plain).at("queue");
    return q.is_object() && !S(q.at("reason")).empty();
  })) << bj::serialize(JobOf(plain));
  EXPECT_EQ(S(JobOf(plain).at("state")), "pending");
  EXPECT_EQ(S(JobOf(wrong).at("state")), "pending");
  // Work that tolerates the taint (any value of the key) runs there, through the CLI flag.
  auto submitted = Cli({"jobs", "submit", "--project", "vision", "--gpus", "1", "--toleration",
                        "dedicated", "-o", "json", "--", "sleep", "1000"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  std::string tolerant = S(bj::parse(submitted.output).at("id"));
  ASSERT_TRUE(WaitFor([&] { return S(JobOf(tolerant).at("state")) == "running"; }))
      << bj::serialize(JobOf(tolerant));
  EXPECT_EQ(JobOf(tolerant).at("tolerations").as_array().size(), 1u);
  EXPECT_EQ(S(JobOf(plain).at("state")), "pending");
  for (const auto& id : {plain, wrong, tolerant}) Post("/api/v1/jobs/" + id + "/cancel", "");
}

TEST_F(MonitoringE2eTest, AlertRulesValidateFireResolveAndBuiltinsStay) {
  auto agent = StartSampledAgent("rules-a", "1xL4");
  // Every field at fault is named; nothing is created.
  auto bad =
      Post("/api/v1/alert-rules", R"({"name":"warm","metric":"fan","op":"~","threshold":1,)"
                                  R"("duration_seconds":-5,"scope":"gpu","severity":"loud"})");
  ASSERT_EQ(bad.result_int(), 422u) << bad.body();
  for (const char* field : {"/metric", "/op", "/duration_seconds", "/severity"}) {
    EXPECT_NE(bad.body().find(field), std::string::npos) << field << " " << bad.body();
  }
  // The built-in rules exist and cannot be deleted.
  auto rules = Json(Get("/api/v1/alert-rules?limit=100")).at("items").as_array();
  std::string builtin_id;
  for (const auto& r : rules) {
    if (S(r.at("name")) == "gpu-allocated-idle") builtin_id = S(r.at("id"));
  }
  ASSERT_FALSE(builtin_id.empty()) << bj::serialize(rules);
  auto del = Client().Send(verb::delete_, "/api/v1/alert-rules/" + builtin_id, admin_key_, "");
  EXPECT_EQ(del.result_int(), 409u) << del.body();

  // A rule every sampled GPU meets fires; disabled, its alert resolves.
  auto created = Post("/api/v1/alert-rules",
                      R"({"name":"any-power","metric":"power_watts","op":">=","threshold":0,)"
                      R"("duration_seconds":0,"scope":"gpu","severity":"info"})");
  ASSERT_EQ(created.result_int(), 201u) << created.body();
  std::string rule_id = S(Json(created).at("id"));
  EXPECT_EQ(Post("/api/v1/alert-rules", R"({"name":"any-power","metric":"power_watts",)"
                                        R"("op":">","threshold":0,"duration_seconds":0,)"
                                        R"("scope":"gpu"})")
                .result_int(),
            409u);
  ASSERT_TRUE(WaitFor([&] { return !Alerts("state=firing&rule_id=" + rule_id).empty(); }));
  auto off = Client().Send(verb::patch, "/api/v1/alert-rules/" + rule_id, admin_key_,
                           R"({"enabled":false})", {}, "application/merge-patch+json");
  ASSERT_EQ(off.result_int(), 200u) << off.body();
  ASSERT_TRUE(WaitFor([&] {
    auto resolved = Alerts("state=resolved&rule_id=" + rule_id);
    return !resolved.empty() && resolved[0].as_object().contains("resolved_at");
  }));
  EXPECT_TRUE(Alerts("state=firing&rule_id=" + rule_id).empty());
  auto gone = Client().Send(verb::delete_, "/api/v1/alert-rules/" + rule_id, admin_key_, "");
  EXPECT_EQ(gone.result_int(), 204u) << gone.body();
}

}  // namespace
}  // namespace hangar::testing
