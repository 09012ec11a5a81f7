// Batch jobs end to end with real processes: hangard, hangar-agent(s) with simulated GPUs that
// run each job as a real process, and the hangar CLI. Covers the job state machine, scheduling
// (waiting reasons, dependencies, preemption), execution on the agent (GPUs, output, signals),
// agent restarts and node loss, and the errors for illegal transitions and invalid requests.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "common/clock.h"
#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
using bhttp::verb;

class JobsE2eTest : public WorkloadFixture {
 protected:
  // (The fixture declares a node lost after 3 s of silence, so node-loss tests run in seconds.)

  // Submits `fields` (JSON members without braces) in the test project; the job's id.
  std::string Submit(const std::string& fields) {
    auto r = Post("/api/v1/jobs", R"({"project":")" + project_ + R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    if (r.result_int() != 201u) return "";
    EXPECT_EQ(r[bhttp::field::location], "/api/v1/jobs/" + S(Json(r).at("id")));
    return S(Json(r).at("id"));
  }

  bj::object Job(const std::string& id) { return Json(Get("/api/v1/jobs/" + id)).as_object(); }

  bool WaitState(const std::string& id, const std::string& state,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    bool ok = WaitFor([&] { return S(Job(id).at("state")) == state; }, timeout);
    if (!ok) ADD_FAILURE() << id << " never became " << state << ": " << bj::serialize(Job(id));
    return ok;
  }

  Response Action(const std::string& id, const std::string& action) {
    return Post("/api/v1/jobs/" + id + "/" + action, "");
  }

  // The job's output, per stream.
  std::map<std::string, std::string> Logs(const std::string& id) {
    std::map<std::string, std::string> out;
    bj::value page = Json(Get("/api/v1/jobs/" + id + "/logs"));
    for (const auto& item : page.at("items").as_array()) {
      out[S(item.at("stream"))] += S(item.at("text"));
    }
    return out;
  }
};

TEST_F(JobsE2eTest, AJobRunsOnItsOwnGpusAndReportsItsExitCodeAndOutput) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  std::string id =
      Submit(R"("command":["sh","-c","echo gpus=$CUDA_VISIBLE_DEVICES nv=$NVIDIA_VISIBLE_DEVICES )"
             R"(order=$CUDA_DEVICE_ORDER job=$HANGAR_JOB_ID; echo from stderr >&2; exit 3"],)"
             R"("resources":{"gpus":2},"environment":{"MODEL":"resnet"})");
  ASSERT_TRUE(WaitState(id, "failed")) << agent->Log();
  auto job = Job(id);
  EXPECT_EQ(job.at("exit_code").as_int64(), 3);
  EXPECT_EQ(S(job.at("state_reason")), "exit_code");
  EXPECT_EQ(job.at("attempt").as_int64(), 1);
  auto gpus = job.at("gpu_indexes").as_array();
  ASSERT_EQ(gpus.size(), 2u);
  std::string visible =
      std::to_string(gpus[0].as_int64()) + "," + std::to_string(gpus[1].as_int64());
  auto logs = Logs(id);
  EXPECT_EQ(logs["stdout"],
            "gpus=" + visible + " nv=" + visible + " order=PCI_BUS_ID job=" + id + "\n");
  EXPECT_EQ(logs["stderr"], "from stderr\n");
  EXPECT_NE(job.at("started_at"), nullptr);
  EXPECT_NE(job.at("finished_at"), nullptr);
  EXPECT_EQ(EventTypes(id),
            (std::vector<std::string>{"hangar.job.submitted", "hangar.job.scheduled",
                                      "hangar.job.running", "hangar.job.failed"}));
  // The output is readable from a cursor on.
  auto page = Json(Get("/api/v1/jobs/" + id + "/logs?limit=1")).as_object();
  ASSERT_EQ(page.at("items").as_array().size(), 1u);
  auto rest = Json(Get("/api/v1/jobs/" + id +
                       "/logs?after=" + std::to_string(page.at("next_after").as_int64())));
  EXPECT_EQ(rest.at("items").as_array().size(), 1u);

  std::string ok = Submit(R"("command":["sh","-c","echo $MODEL"],"environment":{"MODEL":"vit"})");
  ASSERT_TRUE(WaitState(ok, "succeeded"));
  EXPECT_EQ(Job(ok).at("exit_code").as_int64(), 0);
  EXPECT_EQ(Logs(ok)["stdout"], "vit\n");
}

TEST_F(JobsE2eTest, CancelStopsTheWholeProcessGroupWithSigtermThenSigkill) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  auto pid_file = dir_ / "child.pid";
  // Ignores SIGTERM, and has a child of its own: both must go.
  std::string id = Submit(R"("command":["sh","-c","trap '' TERM; sleep 1000 & echo $! > )" +
                          pid_file.string() + R"(; echo started; wait"],
                          "checkpoint_grace_seconds":1)");
  ASSERT_TRUE(WaitState(id, "running"));
  ASSERT_TRUE(WaitFor([&] { return Logs(id)["stdout"] == "started\n"; }));
  int child = std::stoi(ReadFile(pid_file));
  ASSERT_EQ(::kill(child, 0), 0);

  auto cancel = Action(id, "cancel");
  EXPECT_EQ(cancel.result_int(), 202u) << cancel.body();
  EXPECT_EQ(S(Json(cancel).at("state")), "stopping");
  ASSERT_TRUE(WaitState(id, "cancelled"));
  auto job = Job(id);
  EXPECT_EQ(job.at("signal").as_int64(), SIGKILL);  // after the 1 s grace
  // Metered while it held its GPU (the catalogue price of a discovered type is 0).
  EXPECT_GT(job.at("gpu_seconds").as_double(), 1.0);
  EXPECT_EQ(job.at("cost_micros").as_int64(), 0);
  EXPECT_EQ(job.at("hourly_price_micros").as_int64(), 0);  // no longer placed
  EXPECT_EQ(S(job.at("state_reason")), "cancelled");
  EXPECT_TRUE(WaitFor([&] { return ::kill(child, 0) != 0; }));

  // A pending job is cancelled at once.
  std::string held = Submit(R"("command":["true"],"hold":true)");
  auto r = Action(held, "cancel");
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(S(Json(r).at("state")), "cancelled");
}

TEST_F(JobsE2eTest, AWaitingJobSaysWhyAndStartsWhenTheGpusFree) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  std::string big = Submit(R"("command":["sleep","1000"],"resources":{"gpus":2})");
  ASSERT_TRUE(WaitState(big, "running"));
  std::string next = Submit(R"("command":["true"],"resources":{"gpus":1})");
  ASSERT_TRUE(WaitFor([&] { return Job(next).at("queue").is_object(); }));
  auto queue = Job(next).at("queue").as_object();
  EXPECT_EQ(S(queue.at("reason")), "insufficient_gpus");
  EXPECT_EQ(queue.at("position").as_int64(), 1);
  EXPECT_FALSE(S(queue.at("message")).empty());
  EXPECT_EQ(S(Job(next).at("state")), "pending");
  // Where its project and team stand: the 2 GPUs the running job holds, no guarantee.
  auto standing = queue.at("fair_share").as_array();
  ASSERT_EQ(standing.size(), 2u) << bj::serialize(queue);
  EXPECT_EQ(S(standing[0].at("scope_id")), project_);
  EXPECT_EQ(standing[0].at("gpus_in_use").as_double(), 2.0);
  EXPECT_TRUE(S(standing[1].at("scope_id")).starts_with("team_"));
  EXPECT_TRUE(queue.at("borrowed_by").as_array().empty());  // nothing is owed to it
  // Listing by state shows it, with its reason.
  auto pending = Json(Get("/api/v1/jobs?state=pending")).at("items").as_array();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(S(pending[0].at("queue").at("reason")), "insufficient_gpus");
  EXPECT_EQ(S(pending[0].at("state_reason")), "submitted");
  // A job no node can ever run says so.
  std::string huge = Submit(R"("command":["true"],"resources":{"gpus":8})");
  ASSERT_TRUE(WaitFor([&] { return Job(huge).at("queue").is_object(); }));
  EXPECT_EQ(S(Job(huge).at("queue").at("reason")), "no_feasible_node");

  ASSERT_EQ(Action(big, "cancel").result_int(), 202u);
  ASSERT_TRUE(WaitState(next, "succeeded"));
}

TEST_F(JobsE2eTest, AWaitingJobNamesWhoBorrowsTheCapacityItIsEntitledTo) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  // Another project of the team, guaranteed 1 GPU, takes both (borrowing one beyond its
  // guarantee) with work that may not be preempted, so the capacity cannot be reclaimed.
  auto team = Json(Get("/api/v1/projects/" + project_)).at("team_id");
  auto other = Post("/api/v1/projects", R"({"name":"other","team_id":")" + S(team) + R"("})");
  ASSERT_EQ(other.result_int(), 201u) << other.body();
  std::string other_id = S(Json(other).at("id"));
  auto guarantee = [&](const std::string& scope) {
    auto q =
        Client().Send(bhttp::verb::put, "/api/v1/quotas/" + scope, admin_key_, R"({"gpus":1})");
    ASSERT_EQ(q.result_int(), 200u) << q.body();
  };
  guarantee(other_id);
  auto r = Post("/api/v1/jobs", R"({"project":")" + other_id +
                                    R"(","command":["sleep","1000"],"resources":{"gpus":2},)"
                                    R"("preemption":"never"})");
  ASSERT_EQ(r.result_int(), 201u) << r.body();
  std::string borrower = S(Json(r).at("id"));
  ASSERT_TRUE(WaitState(borrower, "running"));
  // Now this project is guaranteed 1 GPU, and waits for it.
  guarantee(project_);
  std::string waiting = Submit(R"("command":["true"],"resources":{"gpus":1})");
  bj::value queue;
  ASSERT_TRUE(WaitFor([&] {
    queue = Job(waiting).at("queue");
    return queue.is_object() && !queue.at("borrowed_by").as_array().empty();
  })) << bj::serialize(Job(waiting));
  auto borrowed = queue.at("borrowed_by").as_array();
  ASSERT_EQ(borrowed.size(), 1u);
  EXPECT_EQ(S(borrowed[0].at("scope_id")), other_id);
  EXPECT_EQ(borrowed[0].at("gpus").as_double(), 2.0);
  auto standing = queue.at("fair_share").as_array();
  EXPECT_EQ(standing[0].at("gpus_in_use").as_double(), 0.0);
  EXPECT_EQ(standing[0].at("gpus_guaranteed").as_double(), 1.0);
}

TEST_F(JobsE2eTest, DependenciesArraysHoldAndRelease) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  std::string first = Submit(R"("command":["sh","-c","sleep 0.5; exit 0"])");
  std::string after_ok =
      Submit(R"("command":["true"],"dependencies":[{"job":")" + first + R"("}])");
  std::string after_failure = Submit(R"("command":["true"],"dependencies":[{"job":")" + first +
                                     R"(","condition":"after_failure"}])");
  EXPECT_EQ(S(Job(after_ok).at("state")), "pending");
  ASSERT_TRUE(WaitState(after_ok, "succeeded"));
  EXPECT_LE(Job(first).at("finished_at").as_string(), Job(after_ok).at("started_at").as_string());
  ASSERT_TRUE(WaitFor([&] {
    auto q = Job(after_failure).at("queue");
    return q.is_object() && S(q.at("reason")) == "dependency_never_satisfied";
  }));

  // An array of three, each with its index.
  std::string array = Submit(R"("command":["sh","-c","echo index=$HANGAR_ARRAY_INDEX"],
                                "array_size":3,"name":"sweep")");
  auto members = Json(Get("/api/v1/jobs?array_id=" + array)).at("items").as_array();
  ASSERT_EQ(members.size(), 3u);
  std::set<std::string> outputs;
  for (const auto& m : members) {
    std::string id = S(m.at("id"));
    ASSERT_TRUE(WaitState(id, "succeeded"));
    outputs.insert(Logs(id)["stdout"]);
    EXPECT_EQ(S(m.at("name")), "sweep[" + std::to_string(m.at("array_index").as_int64()) + "]");
  }
  EXPECT_EQ(outputs, (std::set<std::string>{"index=0\n", "index=1\n", "index=2\n"}));

  // Held work waits until released.
  // Held work waits until released, and so does work that depends on it.
  std::string held = Submit(R"("command":["true"],"hold":true)");
  std::string waiter = Submit(R"("command":["true"],"dependencies":[{"job":")" + held + R"("}])");
  EXPECT_EQ(S(Job(held).at("state")), "held");
  EXPECT_EQ(S(Job(held).at("queue").at("reason")), "held");
  ASSERT_TRUE(WaitFor([&] {
    auto q = Job(waiter).at("queue");
    return q.is_object() && S(q.at("reason")) == "dependency_pending";
  }));
  EXPECT_EQ(S(Job(held).at("state")), "held");
  EXPECT_EQ(Action(held, "release").result_int(), 200u);
  ASSERT_TRUE(WaitState(held, "succeeded"));
  ASSERT_TRUE(WaitState(waiter, "succeeded"));
}

TEST_F(JobsE2eTest, AHighPriorityJobPreemptsALowPriorityOneWhichIsRequeued) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  std::string low = Submit(R"("command":["sh","-c","echo low run $HANGAR_ATTEMPT; sleep 3"],
                              "priority_class":"low","checkpoint_grace_seconds":1)");
  ASSERT_TRUE(WaitState(low, "running"));
  std::string high =
      Submit(R"("command":["sh","-c","echo high; sleep 0.3"],"priority_class":"high")");
  ASSERT_TRUE(WaitState(high, "succeeded"));
  auto types = EventTypes(low);
  EXPECT_NE(std::find(types.begin(), types.end(), "hangar.job.stopping"), types.end());
  ASSERT_TRUE(WaitState(low, "succeeded", std::chrono::seconds(30)));
  auto job = Job(low);
  EXPECT_EQ(job.at("attempt").as_int64(), 2);  // preempted once, then ran to the end
  EXPECT_EQ(Logs(low)["stdout"], "low run 1\nlow run 2\n");
  // A job that may not be preempted keeps its GPU.
  std::string keeper =
      Submit(R"("command":["sleep","1000"],"priority_class":"low","preemption":"never")");
  ASSERT_TRUE(WaitState(keeper, "running"));
  std::string urgent = Submit(R"("command":["true"],"priority_class":"high")");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(S(Job(keeper).at("state")), "running");
  EXPECT_EQ(S(Job(urgent).at("state")), "pending");
}

TEST_F(JobsE2eTest, FailedAttemptsAreRetriedThenTheJobFails) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  std::string id =
      Submit(R"("command":["sh","-c","echo try $HANGAR_ATTEMPT; exit 7"],"retries":2)");
  ASSERT_TRUE(WaitState(id, "failed"));
  auto job = Job(id);
  EXPECT_EQ(job.at("attempt").as_int64(), 3);
  EXPECT_EQ(job.at("exit_code").as_int64(), 7);
  EXPECT_NE(S(job.at("state_message")).find("no retries left"), std::string::npos);
  EXPECT_EQ(Logs(id)["stdout"], "try 1\ntry 2\ntry 3\n");
  // A finished job can be queued again.
  auto requeue = Action(id, "requeue");
  ASSERT_EQ(requeue.result_int(), 200u) << requeue.body();
  EXPECT_EQ(S(Json(requeue).at("state")), "pending");
  ASSERT_TRUE(WaitState(id, "failed"));
  EXPECT_EQ(Job(id).at("attempt").as_int64(), 6);
}

TEST_F(JobsE2eTest, AnAgentRestartFindsItsRunsAndNeverStartsThemTwice) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  auto marker = dir_ / "marker";
  std::string id = Submit(R"("command":["sh","-c","echo run >> )" + marker.string() +
                          R"(; sleep 2; echo done"])");
  ASSERT_TRUE(WaitState(id, "running"));
  agent->Signal(SIGKILL);  // the run's supervisor survives the agent
  agent->Wait();
  agent = StartAgent("n1", "1xH100-80GB");
  ASSERT_TRUE(WaitState(id, "succeeded"));
  EXPECT_EQ(Job(id).at("attempt").as_int64(), 1);
  EXPECT_EQ(ReadFile(marker), "run\n");
  EXPECT_EQ(Logs(id)["stdout"], "done\n");
}

TEST_F(JobsE2eTest, WorkOnALostNodeIsRequeuedOrFailedByItsPolicy) {
  auto a = StartAgent("a", "1xH100-80GB");
  auto marker = dir_ / "old-run";
  std::string requeue = Submit(R"("command":["sh","-c","echo $HANGAR_ATTEMPT >> )" +
                               marker.string() + R"(; sleep 30"])");
  ASSERT_TRUE(WaitState(requeue, "running"));
  std::string fail = Submit(R"("command":["sleep","30"],"on_node_loss":"fail")");
  // The node is lost: its agent dies and no heartbeat comes.
  a->Signal(SIGKILL);
  a->Wait();
  ASSERT_TRUE(WaitFor([&] { return S(Job(requeue).at("state_reason")) == "node_lost"; },
                      std::chrono::seconds(15)));
  // `fail` never started (one GPU); it is still pending, untouched.
  EXPECT_EQ(S(Job(fail).at("state")), "pending");

  auto b = StartAgent("b", "1xH100-80GB");
  ASSERT_TRUE(WaitState(requeue, "running"));
  auto job = Job(requeue);
  EXPECT_EQ(job.at("attempt").as_int64(), 2);
  EXPECT_NE(S(job.at("node_id")), "");
  // The first node comes back: its old run is stopped, not finished twice.
  a = StartAgent("a", "1xH100-80GB");
  ASSERT_TRUE(WaitFor([&] {
    // The old run's shell is gone once the agent stopped it: no third line appears, and
    // the job keeps running on b.
    return S(Job(requeue).at("state")) == "running";
  }));
  ASSERT_EQ(Action(requeue, "cancel").result_int(), 202u);
  ASSERT_TRUE(WaitState(requeue, "cancelled"));
  // Now `fail` runs somewhere; lose that node too, and it fails.
  std::string where;
  ASSERT_TRUE(WaitFor([&] { return S(Job(fail).at("state")) == "running"; }));
  where = S(Job(fail).at("node_id"));
  auto nodes = Json(Get("/api/v1/nodes/" + where));
  (S(nodes.at("name")) == "a" ? a : b)->Signal(SIGKILL);
  ASSERT_TRUE(WaitState(fail, "failed", std::chrono::seconds(15)));
  EXPECT_EQ(S(Job(fail).at("state_reason")), "node_lost");
  EXPECT_EQ(ReadFile(marker), "1\n2\n");
}

TEST_F(JobsE2eTest, TimeLimitsStartTimesAndRawOutput) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  // Over its limit it is stopped (SIGTERM ignored: SIGKILL after the grace) and fails. Its
  // output is not valid UTF-8: the invalid byte arrives as U+FFFD.
  std::string slow =
      Submit(R"("command":["sh","-c","printf 'a\\377b\\n'; trap '' TERM; sleep 100"],)"
             R"("time_limit_seconds":1,"checkpoint_grace_seconds":1)");
  ASSERT_TRUE(WaitState(slow, "failed"));
  auto job = Job(slow);
  EXPECT_EQ(S(job.at("state_reason")), "time_limit");
  EXPECT_EQ(job.at("signal").as_int64(), SIGKILL);
  EXPECT_EQ(Logs(slow)["stdout"],
            "a\xEF\xBF\xBD"
            "b\n");

  // Not started before start_after.
  auto start_after = std::chrono::system_clock::now() + std::chrono::seconds(2);
  std::string at = FormatRfc3339(std::chrono::time_point_cast<Micros>(start_after));
  std::string later = Submit(R"("command":["true"],"start_after":")" + at + R"(")");
  ASSERT_TRUE(WaitFor([&] { return Job(later).at("queue").is_object(); }));
  EXPECT_EQ(S(Job(later).at("queue").at("reason")), "start_time_in_future");
  ASSERT_TRUE(WaitState(later, "succeeded"));
  EXPECT_GE(S(Job(later).at("started_at")), at);
}

// A 201 means the job is on disk: hangard killed with SIGKILL right after acknowledging loses none.
TEST_F(JobsE2eTest, EveryAcknowledgedSubmissionSurvivesACrash) {
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 40; ++i) acknowledged.push_back(Submit(R"("command":["true"],"hold":true)"));
  hangard_->Signal(SIGKILL);
  hangard_->Wait();
  StartHangard();
  for (const auto& id : acknowledged) {
    auto r = Get("/api/v1/jobs/" + id);
    EXPECT_EQ(r.result_int(), 200u) << id;
    EXPECT_EQ(S(Json(r).at("state")), "held");
  }
}

TEST_F(JobsE2eTest, IllegalTransitionsAre409AndNameTheAllowedActions) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  std::string running = Submit(R"("command":["sleep","1000"])");
  ASSERT_TRUE(WaitState(running, "running"));
  struct Case {
    std::string action;
    std::string allowed;
  };
  for (const auto& [action, allowed] :
       std::vector<Case>{{"hold", "cancel, requeue"}, {"release", "cancel, requeue"}}) {
    auto r = Action(running, action);
    EXPECT_EQ(r.result_int(), 409u) << action << ": " << r.body();
    EXPECT_EQ(r[bhttp::field::content_type], "application/problem+json");
    EXPECT_NE(S(Json(r).at("hint")).find(allowed), std::string::npos) << r.body();
  }
  ASSERT_EQ(Action(running, "cancel").result_int(), 202u);
  ASSERT_TRUE(WaitState(running, "cancelled"));
  for (const char* action : {"cancel", "hold", "release"}) {
    auto r = Action(running, action);
    EXPECT_EQ(r.result_int(), 409u) << action;
    EXPECT_NE(S(Json(r).at("hint")).find("requeue"), std::string::npos);
  }
  std::string held = Submit(R"("command":["true"],"hold":true)");
  auto r = Action(held, "requeue");
  EXPECT_EQ(r.result_int(), 409u);
  EXPECT_NE(S(Json(r).at("hint")).find("cancel, release"), std::string::npos);
  // Optimistic concurrency on actions.
  auto stale = Post("/api/v1/jobs/" + held + "/release", "", {{"If-Match", "\"999\""}});
  EXPECT_EQ(stale.result_int(), 412u);
  EXPECT_EQ(Get("/api/v1/jobs/job_01m82zd79hn36qzm5ytdh77d6j").result_int(), 404u);
  EXPECT_EQ(Get("/api/v1/jobs/node_01m82zd79hn36qzm5ytdh77d6j").result_int(), 400u);
}

TEST_F(JobsE2eTest, InvalidSubmissionsAre422NamingTheFieldAndCreateNothing) {
  struct Case {
    std::string body;
    std::string pointer;
  };
  std::string p = R"("project":")" + project_ + R"(")";
  std::vector<Case> cases = {
      {R"({"project":"nope","command":["true"]})", "/project"},
      {"{" + p + R"(,"command":[]})", "/command"},
      {"{" + p + R"(,"command":["true"],"resources":{"gpus":65}})", "/resources/gpus"},
      {"{" + p + R"(,"command":["true"],"resources":{"gpu_type":"Z9"}})", "/resources/gpu_type"},
      {"{" + p + R"(,"command":["true"],"resources":{"gpus":2,"gpu_milli":500}})",
       "/resources/gpu_milli"},
      {"{" + p + R"(,"command":["true"],"environment":{"HANGAR_JOB_ID":"x"}})",
       "/environment/HANGAR_JOB_ID"},
      {"{" + p + R"(,"command":["true"],"time_limit_seconds":0})", "/time_limit_seconds"},
      {"{" + p + R"(,"command":["true"],"deadline":"soon"})", "/deadline"},
      {"{" + p + R"(,"command":["true"],"retries":99})", "/retries"},
      {"{" + p + R"(,"command":["true"],"array_size":0})", "/array_size"},
      {"{" + p +
           R"(,"command":["true"],"dependencies":[{"job":"job_01m82zd79hn36qzm5ytdh77d6j"}]})",
       "/dependencies/0/job"},
      {"{" + p + R"(,"command":["true"],"priority_class":"urgent"})", "/priority_class"},
      {"{" + p + R"(,"command":["true"],"colour":"blue"})", "/colour"},
  };
  for (const auto& [body, pointer] : cases) {
    auto r = Post("/api/v1/jobs", body);
    EXPECT_EQ(r.result_int(), 422u) << body << ": " << r.body();
    bool named = false;
    bj::value problem = Json(r);
    for (const auto& e : problem.at("errors").as_array()) named |= S(e.at("pointer")) == pointer;
    EXPECT_TRUE(named) << pointer << " not named in " << r.body();
  }
  EXPECT_TRUE(Json(Get("/api/v1/jobs")).at("items").as_array().empty());
  EXPECT_EQ(Get("/api/v1/jobs?colour=blue").result_int(), 400u);
  EXPECT_EQ(Get("/api/v1/jobs?state=sleeping").result_int(), 422u);
}

TEST_F(JobsE2eTest, AgentEndpointsTakeOnlyTheNodesOwnCredential) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  std::string node = S(Json(Get("/api/v1/nodes")).at("items").as_array()[0].at("id"));
  EXPECT_EQ(Get("/api/v1/agent/nodes/" + node + "/assignments").result_int(), 403u);
  EXPECT_EQ(
      Post("/api/v1/agent/nodes/" + node + "/reports", R"({"runs":[],"output":[]})").result_int(),
      403u);
  std::string job = Submit(R"("command":["true"],"hold":true)");
  EXPECT_EQ(Get("/api/v1/jobs/" + job + "/logs?limit=0").result_int(), 422u);
  EXPECT_EQ(Get("/api/v1/jobs/" + job + "/logs?follow=maybe").result_int(), 400u);
}

TEST_F(JobsE2eTest, TheCliSubmitsFollowsAndManagesJobs) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  auto submitted =
      Cli({"jobs", "submit", "--project", "vision", "--gpus", "1", "--name", "hello", "--env",
           "WHO=world", "--wait", "-o", "json", "--", "sh", "-c", "echo hello $WHO; exit 0"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  auto job = bj::parse(submitted.output.substr(submitted.output.find('{'))).as_object();
  EXPECT_EQ(S(job.at("state")), "succeeded");
  std::string id = S(job.at("id"));

  auto logs = Cli({"jobs", "logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_EQ(logs.output, "hello world\n");

  auto list = Cli({"jobs", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(id), std::string::npos);
  EXPECT_NE(list.output.find("succeeded"), std::string::npos);

  auto failing =
      Cli({"jobs", "submit", "--project", "vision", "--wait", "--", "sh", "-c", "exit 4"});
  EXPECT_EQ(failing.exit_code, 1) << failing.output;
  EXPECT_NE(failing.output.find("failed"), std::string::npos) << failing.output;

  auto sleeper = Cli({"jobs", "submit", "--project", "vision", "-q", "--", "sleep", "1000"});
  ASSERT_EQ(sleeper.exit_code, 0) << sleeper.output;
  std::string sleeper_id = sleeper.output.substr(0, sleeper.output.find('\n'));
  ASSERT_TRUE(WaitState(sleeper_id, "running"));
  // -f follows the output until the job ends.
  auto slow = Cli({"jobs", "submit", "--project", "vision", "-q", "--", "sh", "-c",
                   "echo first; sleep 1; echo second"});
  ASSERT_EQ(slow.exit_code, 0) << slow.output;
  auto follow = Cli({"jobs", "logs", "-f", slow.output.substr(0, slow.output.find('\n'))});
  EXPECT_EQ(follow.exit_code, 0) << follow.output;
  EXPECT_EQ(follow.output, "first\nsecond\n");
  auto cancel = Cli({"jobs", "cancel", sleeper_id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  ASSERT_TRUE(WaitState(sleeper_id, "cancelled"));
  auto get = Cli({"jobs", "get", sleeper_id, "-o", "yaml"});
  EXPECT_NE(get.output.find("state: cancelled"), std::string::npos) << get.output;
  auto bad = Cli({"jobs", "submit", "--project", "vision", "--gpus", "99", "--", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("resources/gpus"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace hangar::testing
