// Advance reservations end to end: a real hangard whose clock starts just before a reservation's
// window (the clock_start setting), real agents on simulated GPUs, the REST API and the CLI.
// Booking is checked against capacity and quota, the calendar shows what is booked when, and
// during the window the reserved GPUs run only the reservation's work.
#include <gtest/gtest.h>

#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;

// 20 s before the 09:00 window: time for the fixture, an agent and the bookings.
constexpr const char* kClockStart = "2026-03-02T08:59:40Z";
constexpr const char* kType = "H100-80GB-HBM3";

class ReservationsE2ETest : public WorkloadFixture {
 protected:
  ReservationsE2ETest() { extra_flags_ = {"--clock-start", kClockStart}; }

  // Books `gpus` of kType from `start` to `end` for the test's project; `extra` are more
  // members ("name":…,).
  Response Book(int64_t gpus, const std::string& start, const std::string& end,
                const std::string& extra = "") {
    return Post("/api/v1/reservations", R"({"project":")" + project_ + R"(",)" + extra +
                                            R"("gpu_type":")" + kType + R"(","gpus":)" +
                                            std::to_string(gpus) + R"(,"start_at":")" + start +
                                            R"(","end_at":")" + end + R"("})");
  }
  std::string BookOk(int64_t gpus, const std::string& start, const std::string& end) {
    auto r = Book(gpus, start, end);
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? S(Json(r).at("id")) : "";
  }
  bj::value Reservation(const std::string& id) { return Json(Get("/api/v1/reservations/" + id)); }
  // The first field a problem names.
  static std::string FieldOf(const Response& r) {
    auto body = Json(r);
    if (!body.as_object().contains("errors")) return "";
    auto errors = body.at("errors").as_array();
    return errors.empty() ? "" : S(errors[0].at("pointer"));
  }
  std::string SubmitJob(const std::string& fields) {
    auto r = Post("/api/v1/jobs", R"({"project":")" + project_ + R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? S(Json(r).at("id")) : "";
  }
  bj::value Job(const std::string& id) { return Json(Get("/api/v1/jobs/" + id)); }
  bool WaitJob(const std::string& id, const std::function<bool(const bj::value&)>& done) {
    return WaitFor([&] { return done(Job(id)); }, std::chrono::seconds(40));
  }
  static std::string Reason(const bj::value& job) {
    const auto& q = job.at("queue");
    return q.is_null() ? "" : S(q.at("reason"));
  }
};

TEST_F(ReservationsE2ETest, BookingIsCheckedAgainstFieldsCapacityAndQuota) {
  auto agent = StartAgent("n1", "4xH100-80GB");

  // Every bad field is named, and nothing is booked.
  auto check = [&](const Response& r, unsigned status, const std::string& field) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    EXPECT_EQ(FieldOf(r), field) << r.body();
  };
  check(Book(0, "2026-03-02T10:00:00Z", "2026-03-02T12:00:00Z"), 422, "/gpus");
  check(Book(1, "tomorrow", "2026-03-02T12:00:00Z"), 422, "/start_at");
  check(Book(1, "2026-03-01T10:00:00Z", "2026-03-02T12:00:00Z"), 422, "/start_at");
  check(Book(1, "2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z"), 422, "/end_at");
  check(Book(1, "2026-03-02T10:00:00Z", "2026-04-05T10:00:00Z"), 422, "/end_at");
  check(Book(1, "2026-03-02T10:00:00Z", "2026-03-02T12:00:00Z",
             R"("description":")" + std::string(2001, 'x') + "\","),
        422, "/description");
  check(Post("/api/v1/reservations",
             R"({"project":")" + project_ +
                 R"(","gpu_type":"Z9000","gpus":1,)"
                 R"("start_at":"2026-03-02T10:00:00Z","end_at":"2026-03-02T12:00:00Z"})"),
        422, "/gpu_type");
  check(Post("/api/v1/reservations",
             R"({"project":"nope","gpu_type":"H100-80GB-HBM3","gpus":1,)"
             R"("start_at":"2026-03-02T10:00:00Z","end_at":"2026-03-02T12:00:00Z"})"),
        422, "/project");
  EXPECT_TRUE(Json(Get("/api/v1/reservations")).at("items").as_array().empty());

  // 3 of the 4 GPUs 10:00-12:00; 2 more 11:00-13:00 would need 5 at 11:00: refused, with the
  // earliest start that fits; 1 more fits.
  std::string a = BookOk(3, "2026-03-02T10:00:00Z", "2026-03-02T12:00:00Z");
  auto booked = Reservation(a);
  EXPECT_EQ(S(booked.at("state")), "scheduled");
  EXPECT_EQ(S(booked.at("name")), std::string("3x") + kType);
  EXPECT_EQ(S(booked.at("message")), "starts at 2026-03-02T10:00:00Z");
  auto full = Book(2, "2026-03-02T11:00:00Z", "2026-03-02T13:00:00Z");
  check(full, 409, "/gpus");
  EXPECT_NE(S(Json(full).at("hint")).find("fits from 2026-03-02T12:00:00Z"), std::string::npos)
      << full.body();
  std::string c = BookOk(1, "2026-03-02T11:00:00Z", "2026-03-02T13:00:00Z");

  // The calendar, cut where bookings begin and end.
  auto calendar = Json(Get(std::string("/api/v1/reservations/calendar?gpu_type=") + kType +
                           "&from=2026-03-02T10:00:00Z&to=2026-03-02T14:00:00Z"));
  auto types = calendar.at("gpu_types").as_array();
  ASSERT_EQ(types.size(), 1u) << bj::serialize(calendar);
  EXPECT_EQ(types[0].at("capacity").as_int64(), 4);
  auto slots = types[0].at("slots").as_array();
  ASSERT_EQ(slots.size(), 4u) << bj::serialize(calendar);
  std::vector<int64_t> reserved, available;
  for (const auto& slot : slots) {
    reserved.push_back(slot.at("reserved").as_int64());
    available.push_back(slot.at("available").as_int64());
  }
  EXPECT_EQ(reserved, (std::vector<int64_t>{3, 4, 1, 0}));
  EXPECT_EQ(available, (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(S(slots[1].at("start")), "2026-03-02T11:00:00Z");
  EXPECT_EQ(slots[1].at("reservations").as_array().size(), 2u);
  check(Get("/api/v1/reservations/calendar?from=2026-03-02T10:00:00Z&to=2026-09-02T10:00:00Z"), 422,
        "query:to");

  // Quota: with a limit of 3 GPUs at once, the project cannot book a fourth beside the three
  // of 10:00, though the type has one free then.
  auto quota = Client().Send(bhttp::verb::put, "/api/v1/quotas/" + project_, admin_key_,
                             R"({"gpus":0,"gpu_limit":3})");
  ASSERT_EQ(quota.result_int(), 200u) << quota.body();
  auto over = Post("/api/v1/reservations",
                   R"({"project":")" + project_ +
                       R"(","gpu_type":"H100-80GB-HBM3","gpus":1,)"
                       R"("start_at":"2026-03-02T10:00:00Z","end_at":"2026-03-02T10:30:00Z"})");
  check(over, 429, "/gpus");
  EXPECT_NE(S(Json(over).at("hint")).find("hangar quota request"), std::string::npos);

  // Work naming a reservation must fit it.
  auto job = [&](const std::string& fields) {
    return Post("/api/v1/jobs",
                R"({"project":")" + project_ + R"(","command":["true"],)" + fields + "}");
  };
  check(job(R"("reservation":"rsv_nope")"), 422, "/reservation");
  check(job(R"("reservation":")" + a + R"(","resources":{"gpus":4})"), 422, "/resources/gpus");
  check(job(R"("reservation":")" + a + R"(","resources":{"gpu_type":"A100-80GB"})"), 422,
        "/resources/gpu_type");

  // An instance in the reservation waits for its window; one too big for it is refused.
  check(Post("/api/v1/instances", R"({"project":")" + project_ + R"(","reservation":")" + a +
                                      R"(","resources":{"gpus":4}})"),
        422, "/resources/gpus");
  auto instance = Post("/api/v1/instances",
                       R"({"project":")" + project_ + R"(","reservation":")" + a + R"("})");
  ASSERT_EQ(instance.result_int(), 201u) << instance.body();
  std::string instance_id = S(Json(instance).at("id"));
  EXPECT_EQ(S(Json(instance).at("reservation")), a);
  EXPECT_EQ(S(Json(instance).at("resources").at("gpu_type")), kType);
  ASSERT_TRUE(WaitFor([&] {
    auto q = Json(Get("/api/v1/instances/" + instance_id)).at("queue");
    return !q.is_null() && S(q.at("reason")) == "reservation_not_started";
  })) << Get("/api/v1/instances/" + instance_id).body();
  EXPECT_EQ(Client().Send(bhttp::verb::delete_, "/api/v1/instances/" + instance_id, admin_key_, "")
                    .result_int() /
                100,
            2u);

  // Cancelled: its time is free again, and no work may name it.
  auto cancelled = Client().Send(bhttp::verb::delete_, "/api/v1/reservations/" + c, admin_key_, "");
  ASSERT_EQ(cancelled.result_int(), 200u) << cancelled.body();
  EXPECT_EQ(S(Json(cancelled).at("state")), "cancelled");
  check(Client().Send(bhttp::verb::delete_, "/api/v1/reservations/" + c, admin_key_, ""), 409,
        "/state");
  check(job(R"("reservation":")" + c + R"(")"), 422, "/reservation");
  auto after = Json(Get(std::string("/api/v1/reservations/calendar?gpu_type=") + kType +
                        "&from=2026-03-02T11:00:00Z&to=2026-03-02T12:00:00Z"));
  EXPECT_EQ(after.at("gpu_types").as_array()[0].at("slots").as_array()[0].at("reserved").as_int64(),
            3);
  EXPECT_EQ(EventTypes(c), (std::vector<std::string>{"hangar.reservation.created",
                                                     "hangar.reservation.cancelled"}));

  // The CLI books, lists and shows the calendar.
  auto cli = Cli({"reservations", "create", "--project", project_, "--gpu-type", kType, "--gpus",
                  "1", "--start", "2026-03-03T09:00:00Z", "--duration", "2h", "--name", "demo"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("2026-03-03T11:00:00Z"), std::string::npos) << cli.output;
  auto listed = Cli({"reservations", "list", "--project", project_});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("demo"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("cancelled"), std::string::npos) << listed.output;
  auto shown = Cli({"reservations", "calendar", "--gpu-type", kType, "--from",
                    "2026-03-02T10:00:00Z", "--to", "2026-03-02T12:00:00Z"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("1/4"), std::string::npos) << shown.output;
}

TEST_F(ReservationsE2ETest, DuringItsWindowTheReservedGpusRunOnlyTheReservationsWork) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  // Both GPUs busy with preemptible work before the window.
  std::string filler = SubmitJob(
      R"("name":"filler","command":["sleep","600"],"resources":{"gpus":2},"preemption":"requeue")");
  ASSERT_TRUE(WaitJob(filler, [](const bj::value& j) { return S(j.at("state")) == "running"; }));

  std::string rsv = BookOk(1, "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
  ASSERT_FALSE(rsv.empty());
  ASSERT_EQ(S(Reservation(rsv).at("state")), "scheduled")
      << "the fixture took more than 20 s: " << bj::serialize(Reservation(rsv));
  std::string inside = SubmitJob(R"("name":"inside","reservation":")" + rsv +
                                 R"(","command":["sh","-c","echo on $CUDA_VISIBLE_DEVICES; )"
                                 R"(sleep 600"],"resources":{"gpus":1})");
  auto early = Job(inside);
  EXPECT_EQ(S(early.at("resources").at("gpu_type")), kType);
  EXPECT_EQ(S(early.at("reservation")), rsv);
  ASSERT_TRUE(WaitJob(inside, [](const bj::value& j) {
    return Reason(j) == "reservation_not_started";
  })) << bj::serialize(Job(inside));
  EXPECT_EQ(S(Job(inside).at("queue").at("estimated_start")), "2026-03-02T09:00:00Z");

  // At 09:00 the reservation preempts the filler for one GPU, and its job runs there.
  ASSERT_TRUE(WaitJob(inside, [](const bj::value& j) { return S(j.at("state")) == "running"; }))
      << bj::serialize(Job(inside)) << bj::serialize(Reservation(rsv));
  auto active = Reservation(rsv);
  EXPECT_EQ(S(active.at("state")), "active");
  auto reserved = active.at("reserved_gpus").as_array();
  ASSERT_EQ(reserved.size(), 1u) << bj::serialize(active);
  auto running = Job(inside);
  EXPECT_EQ(S(running.at("node_id")), S(reserved[0].at("node_id")));
  ASSERT_EQ(running.at("gpu_indexes").as_array().size(), 1u);
  int64_t reserved_gpu = reserved[0].at("index").as_int64();
  EXPECT_EQ(running.at("gpu_indexes").as_array()[0].as_int64(), reserved_gpu);
  EXPECT_EQ(active.at("gpus_in_use").as_int64(), 1);
  auto events = EventTypes(filler);
  EXPECT_NE(std::find(events.begin(), events.end(), "hangar.job.stopping"), events.end());

  // The filler, requeued, cannot take the reserved GPU; ordinary work gets the other one only.
  ASSERT_TRUE(WaitJob(filler, [](const bj::value& j) { return S(j.at("state")) == "pending"; }));
  std::string outside = SubmitJob(R"("name":"outside","command":["sleep","600"],)"
                                  R"("resources":{"gpus":1})");
  ASSERT_TRUE(WaitJob(outside, [](const bj::value& j) { return S(j.at("state")) == "running"; }));
  EXPECT_NE(Job(outside).at("gpu_indexes").as_array()[0].as_int64(), reserved_gpu);
  EXPECT_EQ(S(Job(filler).at("state")), "pending");

  // A second job of the reservation waits for its one GPU, not for the fleet's.
  std::string second =
      SubmitJob(R"("name":"second","reservation":")" + rsv + R"(","command":["true"])");
  ASSERT_TRUE(WaitJob(second, [](const bj::value& j) { return Reason(j) == "insufficient_gpus"; }))
      << bj::serialize(Job(second));

  // Cancelled: its running job goes on as ordinary work; its waiting job is told why it waits.
  auto cancel = Cli({"reservations", "cancel", rsv});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  ASSERT_TRUE(WaitJob(second, [](const bj::value& j) { return Reason(j) == "reservation_ended"; }))
      << bj::serialize(Job(second));
  EXPECT_NE(S(Job(second).at("queue").at("message")).find("was cancelled"), std::string::npos);
  EXPECT_EQ(S(Job(inside).at("state")), "running");
  auto logs = Get("/api/v1/jobs/" + inside + "/logs").body();
  EXPECT_NE(logs.find("on " + std::to_string(reserved_gpu)), std::string::npos) << logs;
}

}  // namespace
}  // namespace hangar::testing
