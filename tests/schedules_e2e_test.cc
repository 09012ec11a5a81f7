// Recurring jobs end to end: a real hangard whose clock starts at a chosen time (the
// clock_start setting, so a cron run is due seconds after start and a restart can come "hours"
// later), real agents on simulated GPUs, the REST API and the CLI.
#include <gtest/gtest.h>

#include <thread>

#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;

// 15 s before the 10:00 runs: time for the fixture, an agent and the schedules to be created.
constexpr const char* kClockStart = "2026-01-05T09:59:45Z";

class SchedulesE2ETest : public WorkloadFixture {
 protected:
  SchedulesE2ETest() { extra_flags_ = {"--clock-start", kClockStart}; }

  Response Send(bhttp::verb method, const std::string& target, const std::string& body,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(method, target, admin_key_, body, std::move(headers));
  }

  // Creates a schedule in the test's project; `fields` are the request's other members.
  bj::value CreateSchedule(const std::string& name, const std::string& fields) {
    auto r = Post("/api/v1/schedules",
                  R"({"project":")" + project_ + R"(","name":")" + name + R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? Json(r) : bj::value{};
  }

  bj::value Schedule(const std::string& id) { return Json(Get("/api/v1/schedules/" + id)); }

  bool WaitResult(const std::string& id, const std::string& result, int64_t runs_started = -1) {
    return WaitFor(
        [&] {
          auto s = Schedule(id);
          return S(s.at("last_result")) == result &&
                 (runs_started < 0 || s.at("runs_started").as_int64() == runs_started);
        },
        std::chrono::seconds(40));
  }

  bool WaitJobState(const std::string& id, const std::string& state) {
    return WaitFor([&] { return S(Json(Get("/api/v1/jobs/" + id)).at("state")) == state; },
                   std::chrono::seconds(30));
  }

  // Stops hangard and starts it again on the same data, its clock now starting at `start`.
  void RestartAt(const std::string& start) {
    hangard_.reset();
    extra_flags_ = {"--clock-start", start};
    StartHangard();
  }
};

TEST_F(SchedulesE2ETest, ARunStartsItsJobAtTheCronTimeInTheScheduleZone) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  auto nightly =
      CreateSchedule("nightly", R"("cron":"0 10 * * *","job":{"command":["sh","-c",)"
                                R"("echo run for $HANGAR_SCHEDULED_TIME by $HANGAR_SCHEDULE_ID"],)"
                                R"("resources":{"gpus":1}})");
  ASSERT_TRUE(nightly.is_object());
  std::string id = S(nightly.at("id"));
  EXPECT_TRUE(id.starts_with("sched_"));
  EXPECT_EQ(S(nightly.at("time_zone")), "UTC");
  EXPECT_EQ(S(nightly.at("missed_runs")), "run_once");
  ASSERT_EQ(S(nightly.at("next_run_at")), "2026-01-05T10:00:00Z")
      << "the fixture took more than 15 s: " << bj::serialize(nightly);
  auto next_runs = nightly.at("next_runs").as_array();
  ASSERT_EQ(next_runs.size(), 5u);
  EXPECT_EQ(S(next_runs[1]), "2026-01-06T10:00:00Z");

  // The same hour in New York is 15:00 UTC in winter; macros and names are normalised.
  auto ny = CreateSchedule("new-york", R"("cron":"0 10 * jan mon-fri",)"
                                       R"("time_zone":"America/New_York",)"
                                       R"("job":{"command":["true"]})");
  EXPECT_EQ(S(ny.at("cron")), "0 10 * JAN MON-FRI");
  EXPECT_EQ(S(ny.at("next_run_at")), "2026-01-05T15:00:00Z") << bj::serialize(ny);
  auto hourly = CreateSchedule("hourly", R"("cron":"@hourly","job":{"command":["true"]})");
  EXPECT_EQ(S(hourly.at("cron")), "@hourly");

  // At 10:00 the run submits the job, which runs on the agent with the run's time and the
  // schedule's id in its environment.
  ASSERT_TRUE(WaitResult(id, "started", 1)) << bj::serialize(Schedule(id)) << hangard_->Log();
  auto ran = Schedule(id);
  EXPECT_EQ(S(ran.at("last_run_at")), "2026-01-05T10:00:00Z");
  EXPECT_EQ(S(ran.at("next_run_at")), "2026-01-06T10:00:00Z");
  EXPECT_EQ(ran.at("runs_skipped").as_int64(), 0);
  std::string job = S(ran.at("last_job_id"));
  ASSERT_TRUE(WaitJobState(job, "succeeded"));
  auto job_view = Json(Get("/api/v1/jobs/" + job));
  EXPECT_EQ(S(job_view.at("name")), "nightly");
  EXPECT_EQ(S(job_view.at("project_id")), project_);
  auto logs = Get("/api/v1/jobs/" + job + "/logs").body();
  EXPECT_NE(logs.find("run for 2026-01-05T10:00:00Z by " + id), std::string::npos) << logs;
  auto types = EventTypes(id);
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types[0], "hangar.schedule.created");
  EXPECT_EQ(types[1], "hangar.schedule.run");

  // Triggered by hand: a run now, the timetable unchanged.
  auto trigger = Post("/api/v1/schedules/" + id + "/trigger", "");
  ASSERT_EQ(trigger.result_int(), 201u) << trigger.body();
  std::string manual = S(Json(trigger).at("id"));
  EXPECT_NE(manual, job);
  ASSERT_TRUE(WaitJobState(manual, "succeeded"));
  auto after_trigger = Schedule(id);
  EXPECT_EQ(after_trigger.at("runs_started").as_int64(), 2);
  EXPECT_EQ(S(after_trigger.at("last_job_id")), manual);
  EXPECT_EQ(S(after_trigger.at("next_run_at")), "2026-01-06T10:00:00Z");

  // Suspended: no next run; resumed: the timetable from now.
  auto paused = Send(bhttp::verb::patch, "/api/v1/schedules/" + id, R"({"suspended":true})",
                     {{"Content-Type", "application/merge-patch+json"},
                      {"If-Match", S(after_trigger.at("etag"))}});
  ASSERT_EQ(paused.result_int(), 200u) << paused.body();
  EXPECT_TRUE(Json(paused).at("suspended").as_bool());
  EXPECT_TRUE(Json(paused).at("next_run_at").is_null());
  EXPECT_TRUE(Json(paused).at("next_runs").as_array().empty());
  auto stale = Send(bhttp::verb::patch, "/api/v1/schedules/" + id, R"({"suspended":false})",
                    {{"Content-Type", "application/merge-patch+json"},
                     {"If-Match", S(after_trigger.at("etag"))}});
  EXPECT_EQ(stale.result_int(), 412u) << stale.body();
  auto resumed = Send(bhttp::verb::patch, "/api/v1/schedules/" + id,
                      R"({"suspended":false,"cron":"30 10 * * *"})",
                      {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(resumed.result_int(), 200u) << resumed.body();
  EXPECT_EQ(S(Json(resumed).at("next_run_at")), "2026-01-05T10:30:00Z");

  // Deleted: gone, its jobs stay.
  auto deleted = Send(bhttp::verb::delete_, "/api/v1/schedules/" + id, "");
  EXPECT_EQ(deleted.result_int(), 204u) << deleted.body();
  EXPECT_EQ(Get("/api/v1/schedules/" + id).result_int(), 404u);
  EXPECT_EQ(S(Json(Get("/api/v1/jobs/" + job)).at("state")), "succeeded");
}

TEST_F(SchedulesE2ETest, RunsMissedWhileDownAreSkippedOrRunOnceByPolicy) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  // Every 10 minutes from 10:00. The first run is on time; hangard is then down from 10:00
  // to 10:35 (its clock restarts there), so 10:10, 10:20 and 10:30 pass without a run, the
  // latest 5 minutes past the 60 s starting deadline.
  std::string every_ten = R"("cron":"*/10 * * * *","starting_deadline_seconds":60,)";
  std::string skip = S(CreateSchedule("skip", every_ten + R"("missed_runs":"skip",)"
                                                          R"("job":{"command":["true"]})")
                           .at("id"));
  std::string once = S(CreateSchedule("once", every_ten + R"("missed_runs":"run_once",)"
                                                          R"("job":{"command":["true"]})")
                           .at("id"));
  std::string forbid =
      S(CreateSchedule("forbid", every_ten + R"("concurrency":"forbid",)"
                                             R"("job":{"command":["sleep","600"]})")
            .at("id"));
  for (const auto& id : {skip, once, forbid}) {
    ASSERT_TRUE(WaitResult(id, "started", 1)) << id << ": " << bj::serialize(Schedule(id));
  }
  std::string long_job = S(Schedule(forbid).at("last_job_id"));
  ASSERT_TRUE(WaitJobState(long_job, "running"));

  RestartAt("2026-01-05T10:35:00Z");

  ASSERT_TRUE(WaitResult(skip, "missed")) << bj::serialize(Schedule(skip));
  auto skipped = Schedule(skip);
  EXPECT_EQ(skipped.at("runs_started").as_int64(), 1);
  EXPECT_EQ(skipped.at("runs_skipped").as_int64(), 3);
  EXPECT_EQ(S(skipped.at("last_run_at")), "2026-01-05T10:30:00Z");
  EXPECT_EQ(S(skipped.at("next_run_at")), "2026-01-05T10:40:00Z");
  EXPECT_NE(S(skipped.at("last_message")).find("missed 3 runs"), std::string::npos)
      << bj::serialize(skipped);

  ASSERT_TRUE(WaitResult(once, "started", 2)) << bj::serialize(Schedule(once));
  auto ran_once = Schedule(once);
  EXPECT_EQ(ran_once.at("runs_skipped").as_int64(), 2);
  EXPECT_EQ(S(ran_once.at("last_run_at")), "2026-01-05T10:30:00Z");
  EXPECT_NE(S(ran_once.at("last_message")).find("started late"), std::string::npos)
      << bj::serialize(ran_once);
  auto late_job = Json(Get("/api/v1/jobs/" + S(ran_once.at("last_job_id"))));
  EXPECT_EQ(S(late_job.at("environment").at("HANGAR_SCHEDULED_TIME")), "2026-01-05T10:30:00Z");
  // Exactly one job per started run: nothing was submitted twice across the restart.
  auto once_jobs = Json(Get("/api/v1/jobs?project_id=" + project_ + "&name=once&limit=100"));
  EXPECT_EQ(once_jobs.at("items").as_array().size(), 2u) << bj::serialize(once_jobs);

  // The previous run's job is unfinished (running, or requeued once its node is lost to the
  // restarted server): the run is skipped, not doubled.
  ASSERT_TRUE(WaitResult(forbid, "skipped_concurrent")) << bj::serialize(Schedule(forbid));
  auto forbidden = Schedule(forbid);
  EXPECT_EQ(forbidden.at("runs_started").as_int64(), 1);
  EXPECT_EQ(S(forbidden.at("last_job_id")), long_job);
  EXPECT_NE(S(forbidden.at("last_message")).find(long_job), std::string::npos);
}

TEST_F(SchedulesE2ETest, InvalidSchedulesAreRefusedNamingTheFieldAndCreateNothing) {
  auto check = [&](const std::string& fields, const std::string& pointer) {
    auto r = Post("/api/v1/schedules", R"({"project":")" + project_ + R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 422u) << fields << ": " << r.body();
    EXPECT_NE(r.body().find("\"" + pointer + "\""), std::string::npos)
        << fields << ": " << r.body();
  };
  std::string job = R"("job":{"command":["true"]})";
  check(R"("name":"a","cron":"61 * * * *",)" + job, "/cron");
  check(R"("name":"a","cron":"* * * *",)" + job, "/cron");
  check(R"("name":"a","cron":"0 0 30 2 *",)" + job, "/cron");  // never matches
  check(R"("name":"a","cron":"@daily","time_zone":"Mars/Olympus_Mons",)" + job, "/time_zone");
  check(R"("name":"Not A Name","cron":"@daily",)" + job, "/name");
  check(R"("name":"a","cron":"@daily","starting_deadline_seconds":1,)" + job,
        "/starting_deadline_seconds");
  check(R"("name":"a","cron":"@daily","job":{"command":[]})", "/job/command");
  check(R"("name":"a","cron":"@daily","job":{"command":["true"],"resources":{"gpus":1000}})",
        "/job/resources/gpus");
  check(R"("name":"a","cron":"@daily","missed_runs":"sometimes",)" + job, "/missed_runs");
  auto unknown =
      Post("/api/v1/schedules", R"({"project":"nope","name":"a","cron":"@daily",)" + job + "}");
  EXPECT_EQ(unknown.result_int(), 422u) << unknown.body();
  EXPECT_NE(unknown.body().find("\"/project\""), std::string::npos) << unknown.body();
  EXPECT_TRUE(Json(Get("/api/v1/schedules")).at("items").as_array().empty());

  // A name is unique in its project; a bad change is refused and changes nothing.
  auto first = CreateSchedule("daily", R"("cron":"@daily",)" + job);
  auto again = Post("/api/v1/schedules", R"({"project":")" + project_ +
                                             R"(","name":"daily","cron":"@hourly",)" + job + "}");
  EXPECT_EQ(again.result_int(), 409u) << again.body();
  std::string id = S(first.at("id"));
  auto bad_patch = Send(bhttp::verb::patch, "/api/v1/schedules/" + id,
                        R"({"cron":"0 25 * * *","time_zone":"Nowhere"})",
                        {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(bad_patch.result_int(), 422u) << bad_patch.body();
  EXPECT_NE(bad_patch.body().find("\"/cron\""), std::string::npos) << bad_patch.body();
  EXPECT_NE(bad_patch.body().find("\"/time_zone\""), std::string::npos) << bad_patch.body();
  auto unchanged = Schedule(id);
  EXPECT_EQ(S(unchanged.at("cron")), "@daily");
  EXPECT_EQ(S(unchanged.at("etag")), S(first.at("etag")));
  EXPECT_EQ(Get("/api/v1/schedules/sched_01ke6sjbqw2xnqr637ftay3ypt").result_int(), 404u);

  // Whoever changes a schedule becomes the one its runs submit as.
  EXPECT_EQ(S(unchanged.at("owner")), S(unchanged.at("created_by")));
  std::string bot = S(Json(Post("/api/v1/service-accounts", R"({"name":"bot"})")).at("id"));
  ASSERT_EQ(Post("/api/v1/role-bindings", R"({"principal_id":")" + bot + R"(","role":"admin"})")
                .result_int(),
            201u);
  std::string bot_key =
      S(Json(Post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + bot + R"("})")).at("secret"));
  auto changed = Client().Send(bhttp::verb::patch, "/api/v1/schedules/" + id, bot_key,
                               R"({"job":{"command":["echo","changed"]}})",
                               {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(changed.result_int(), 200u) << changed.body();
  EXPECT_EQ(S(Json(changed).at("owner")), bot);
  EXPECT_EQ(S(Json(changed).at("created_by")), S(first.at("created_by")));
  auto run = Client().Send(bhttp::verb::post, "/api/v1/schedules/" + id + "/trigger", bot_key, "");
  ASSERT_EQ(run.result_int(), 201u) << run.body();
  EXPECT_EQ(S(Json(run).at("created_by")), bot);
}

TEST_F(SchedulesE2ETest, TheCliCreatesListsTriggersPausesAndDeletes) {
  auto agent = StartAgent("n1", "1xH100-80GB");
  auto created = Cli({"schedules",
                      "create",
                      "report",
                      "--cron",
                      "0 6 * * MON-FRI",
                      "--tz",
                      "Europe/Berlin",
                      "--project",
                      "vision",
                      "--missed",
                      "skip",
                      "--gpus",
                      "1",
                      "--env",
                      "MODE=full",
                      "-o",
                      "json",
                      "--",
                      "sh",
                      "-c",
                      "echo mode=$MODE"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto schedule = bj::parse(created.output);
  std::string id = S(schedule.at("id"));
  // 06:00 in Berlin is 05:00 UTC in winter; the 5th is a Monday but its 06:00 has passed.
  EXPECT_EQ(S(schedule.at("next_run_at")), "2026-01-06T05:00:00Z") << created.output;
  EXPECT_EQ(S(schedule.at("missed_runs")), "skip");

  auto list = Cli({"schedules", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("report"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("Europe/Berlin"), std::string::npos) << list.output;

  auto trigger = Cli({"schedules", "trigger", id, "-o", "json"});
  ASSERT_EQ(trigger.exit_code, 0) << trigger.output;
  std::string job = S(bj::parse(trigger.output).at("id"));
  ASSERT_TRUE(WaitJobState(job, "succeeded"));
  EXPECT_NE(Get("/api/v1/jobs/" + job + "/logs").body().find("mode=full"), std::string::npos);

  auto paused = Cli({"schedules", "pause", id});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  EXPECT_NE(paused.output.find("suspended"), std::string::npos) << paused.output;
  auto resumed = Cli({"schedules", "resume", id, "-o", "json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(S(bj::parse(resumed.output).at("next_run_at")), "2026-01-06T05:00:00Z");

  auto bad = Cli(
      {"schedules", "create", "x", "--cron", "not a cron", "--project", "vision", "--", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("/cron"), std::string::npos) << bad.output;

  auto deleted = Cli({"schedules", "delete", id});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_EQ(Get("/api/v1/schedules/" + id).result_int(), 404u);
}

}  // namespace
}  // namespace hangar::testing
