// Logs end to end with real processes (hangard, hangar-agent with simulated GPUs, the hangar
// CLI): following a job's and an instance's output as Server-Sent Events while it prints,
// resuming with Last-Event-ID, the stream ending at the workload's final state, and
// authorisation.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "support/workload_fixture.h"

namespace hangar::testing {
namespace {

namespace bj = boost::json;
namespace asio = boost::asio;
using bhttp::verb;
using std::chrono::milliseconds;

// One Server-Sent Event as received.
struct Event {
  std::string id;
  std::string event;
  std::string data;
  std::chrono::steady_clock::time_point received;
};

// A follow request's connection: the response head, then events as they arrive. Every read
// has a deadline.
class EventStream {
 public:
  EventStream(const std::string& address, const std::string& target, const std::string& token,
              std::vector<std::pair<std::string, std::string>> headers = {})
      : stream_(io_) {
    auto colon = address.rfind(':');
    stream_.connect(
        tcp::resolver(io_).resolve(address.substr(0, colon), address.substr(colon + 1)));
    bhttp::request<bhttp::empty_body> req{verb::get, target, 11};
    req.set(bhttp::field::host, "test");
    req.set(bhttp::field::authorization, "Bearer " + token);
    for (auto& [k, v] : headers) req.set(k, v);
    stream_.expires_after(std::chrono::seconds(10));
    bhttp::write(stream_, req);
    parser_.body_limit(boost::none);
    bhttp::read_header(stream_, buffer_, parser_);
    auto on_chunk = [this](uint64_t, std::string_view body, beast::error_code&) {
      raw_ += body;
      return body.size();
    };
    on_chunk_ = on_chunk;
    parser_.on_chunk_body(on_chunk_);
  }

  const bhttp::response_parser<bhttp::string_body>::value_type& head() { return parser_.get(); }

  // The next event; nullopt when the body ended or nothing came within `timeout`.
  std::optional<Event> Next(milliseconds timeout = milliseconds(20'000)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t end;
      while ((end = raw_.find("\n\n")) != std::string::npos) {
        std::string block = raw_.substr(0, end);
        raw_.erase(0, end + 2);
        Event e{.received = std::chrono::steady_clock::now()};
        bool comment = true;
        size_t pos = 0;
        while (pos <= block.size()) {
          size_t nl = block.find('\n', pos);
          std::string line = block.substr(pos, nl == std::string::npos ? nl : nl - pos);
          pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
          if (line.starts_with(":")) {
            comments_.push_back(line);
            continue;
          }
          comment = false;
          auto colon = line.find(": ");
          std::string field = line.substr(0, colon);
          std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
          if (field == "id") e.id = value;
          if (field == "event") e.event = value;
          if (field == "data") e.data += value;
        }
        if (!comment) return e;
      }
      if (parser_.is_done() || std::chrono::steady_clock::now() >= until) return std::nullopt;
      stream_.expires_at(until);
      beast::error_code ec;
      bhttp::read_some(stream_, buffer_, parser_, ec);
      if (ec) return std::nullopt;
    }
  }

  // Events until `end` (included) or the body ends.
  std::vector<Event> UntilEnd() {
    std::vector<Event> events;
    while (auto e = Next()) {
      events.push_back(*e);
      if (e->event == "end") break;
    }
    return events;
  }

  bool BodyEnded() {
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    while (!parser_.is_done() && !ec) bhttp::read_some(stream_, buffer_, parser_, ec);
    return parser_.is_done();
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bhttp::response_parser<bhttp::string_body> parser_;
  std::function<size_t(uint64_t, std::string_view, beast::error_code&)> on_chunk_;
  std::string raw_;
  std::vector<std::string> comments_;
};

class LogsE2eTest : public WorkloadFixture {
 protected:
  std::string Submit(const std::string& fields, const std::string& project = "") {
    auto r = Post("/api/v1/jobs", R"({"project":")" + (project.empty() ? project_ : project) +
                                      R"(",)" + fields + "}");
    EXPECT_EQ(r.result_int(), 201u) << r.body();
    return r.result_int() == 201u ? S(Json(r).at("id")) : "";
  }
  std::string State(const std::string& path) { return S(Json(Get(path)).at("state")); }
  std::unique_ptr<EventStream> Follow(const std::string& path,
                                      std::vector<std::pair<std::string, std::string>> headers = {},
                                      const std::string& query = "?follow=true") {
    return std::make_unique<EventStream>(address_, path + "/logs" + query, admin_key_,
                                         std::move(headers));
  }
  static std::string Texts(const std::vector<Event>& events) {
    std::string out;
    for (const auto& e : events) {
      if (e.event == "output") out += S(bj::parse(e.data).at("text"));
    }
    return out;
  }
};

TEST_F(LogsE2eTest, FollowStreamsAJobsOutputWhileItRunsAndEndsWithTheJob) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  // Followed from before it starts: the stream waits for the first line.
  std::string id = Submit(R"("command":["sh","-c","echo first; sleep 1; echo second >&2; )"
                          R"(sleep 1; echo third"])");
  std::string path = "/api/v1/jobs/" + id;
  auto stream = Follow(path);
  EXPECT_EQ(stream->head().result_int(), 200u);
  EXPECT_EQ(stream->head()[bhttp::field::content_type], "text/event-stream");
  EXPECT_EQ(stream->head()[bhttp::field::cache_control], "no-cache");

  auto first = stream->Next();
  ASSERT_TRUE(first) << hangard_->Log();
  EXPECT_EQ(first->event, "output");
  // It arrived while the job still ran: it was streamed, not read after the end.
  EXPECT_NE(State(path), "succeeded");
  auto rest = stream->UntilEnd();
  ASSERT_FALSE(rest.empty());
  rest.insert(rest.begin(), *first);
  EXPECT_EQ(Texts(rest), "first\nsecond\nthird\n");
  const Event& end = rest.back();
  EXPECT_EQ(end.event, "end");
  EXPECT_EQ(S(bj::parse(end.data).at("state")), "succeeded");
  EXPECT_TRUE(stream->BodyEnded());
  // Each output event's id is its seq, and the data is the chunk as the JSON pages have it.
  int64_t last_seq = 0;
  for (const auto& e : rest) {
    if (e.event != "output") continue;
    auto chunk = bj::parse(e.data).as_object();
    EXPECT_EQ(e.id, std::to_string(chunk.at("seq").as_int64()));
    EXPECT_GT(chunk.at("seq").as_int64(), last_seq);
    last_seq = chunk.at("seq").as_int64();
    EXPECT_EQ(chunk.at("attempt").as_int64(), 1);
    EXPECT_TRUE(chunk.contains("time"));
    EXPECT_EQ(S(chunk.at("stream")), S(chunk.at("text")) == "second\n" ? "stderr" : "stdout");
  }
  EXPECT_EQ(bj::parse(end.data).at("next_after").as_int64(), last_seq);
}

TEST_F(LogsE2eTest, LastEventIdResumesAfterTheLastEventReceived) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  std::string id = Submit(R"("command":["sh","-c","echo one; sleep 0.3; echo two; sleep 0.3; )"
                          R"(echo three"])");
  std::string path = "/api/v1/jobs/" + id;
  auto all = Follow(path)->UntilEnd();
  ASSERT_GE(all.size(), 4u);
  ASSERT_EQ(Texts(all), "one\ntwo\nthree\n");
  const std::string after_first = all.front().id;

  // A reconnecting EventSource sends the last id it got (and Accept: text/event-stream, which
  // asks for the stream without ?follow).
  auto resumed = Follow(path, {{"Last-Event-ID", after_first}, {"Accept", "text/event-stream"}}, "")
                     ->UntilEnd();
  EXPECT_EQ(Texts(resumed), "two\nthree\n");
  EXPECT_EQ(resumed.back().event, "end");
  // After the last one, only the end.
  auto at_end = Follow(path, {{"Last-Event-ID", all[all.size() - 2].id}})->UntilEnd();
  ASSERT_EQ(at_end.size(), 1u);
  EXPECT_EQ(at_end[0].event, "end");

  // Without follow, the JSON pages are as before.
  auto page = Get(path + "/logs?after=" + after_first);
  EXPECT_EQ(page.result_int(), 200u);
  EXPECT_EQ(page[bhttp::field::content_type], "application/json");
  EXPECT_EQ(Json(page).at("items").as_array().size(), 2u);
  EXPECT_EQ(
      Get(path + "/logs", {{"Accept", "text/event-stream"}, {"Last-Event-ID", "x"}}).result_int(),
      400u);
  EXPECT_EQ(Get(path + "/logs?follow=false",
                {{"Accept", "text/event-stream"}})[bhttp::field::content_type],
            "application/json");
}

TEST_F(LogsE2eTest, AFollowedPendingJobThatIsCancelledEndsItsStream) {
  std::string id = Submit(R"("command":["true"],"hold":true)");
  std::string path = "/api/v1/jobs/" + id;
  auto stream = Follow(path);
  ASSERT_EQ(stream->head().result_int(), 200u);
  ASSERT_EQ(Post(path + "/cancel", "").result_int(), 200u);
  auto events = stream->UntilEnd();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "end");
  EXPECT_EQ(S(bj::parse(events[0].data).at("state")), "cancelled");
}

TEST_F(LogsE2eTest, FollowIsAuthorisedLikeTheJob) {
  std::string id = Submit(R"("command":["true"],"hold":true)");
  auto unknown = Get("/api/v1/jobs/job_01hzzzzzzzzzzzzzzzzzzzzzzz/logs?follow=true");
  EXPECT_EQ(unknown.result_int(), 404u) << unknown.body();
  EXPECT_EQ(unknown[bhttp::field::content_type], "application/problem+json");
  auto anonymous = Client().Send(verb::get, "/api/v1/jobs/" + id + "/logs?follow=true");
  EXPECT_EQ(anonymous.result_int(), 401u);
  // A service account with no role in the project sees no job there.
  auto sa = Json(Post("/api/v1/service-accounts", R"({"name":"outsider"})"));
  auto key =
      Json(Post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + S(sa.at("id")) + R"("})"));
  auto outsider =
      Client().Send(verb::get, "/api/v1/jobs/" + id + "/logs?follow=true", S(key.at("secret")));
  EXPECT_EQ(outsider.result_int(), 404u) << outsider.body();
}

TEST_F(LogsE2eTest, FollowStreamsAnInstancesSessionUntilItIsTerminated) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  auto made = Post(
      "/api/v1/gpus/provision",
      R"({"project":")" + project_ + R"(","command":["sh","-c","echo ready; exec sleep 1000"]})");
  ASSERT_EQ(made.result_int(), 201u) << made.body();
  std::string path = "/api/v1/instances/" + S(Json(made).at("id"));
  auto stream = Follow(path);
  auto ready = stream->Next();
  ASSERT_TRUE(ready) << hangard_->Log();
  EXPECT_EQ(Texts({*ready}), "ready\n");
  auto terminate = Post(path + "/terminate", "");
  EXPECT_EQ(terminate.result_int(), 202u) << terminate.body();
  auto rest = stream->UntilEnd();
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back().event, "end");
  EXPECT_EQ(S(bj::parse(rest.back().data).at("state")), "terminated");
}

TEST_F(LogsE2eTest, TheCliFollowsJobAndInstanceLogs) {
  auto agent = StartAgent("n1", "2xH100-80GB");
  // (stdout and stderr are uploaded separately: the pauses keep their order.)
  std::string id =
      Submit(R"("command":["sh","-c","echo a; sleep 1; echo b >&2; sleep 1; echo c"])");
  auto all = Cli({"jobs", "logs", "-f", id});
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(all.output, "a\nb\nc\n");
  auto stderr_only = Cli({"jobs", "logs", "-f", "--stream", "stderr", id});
  EXPECT_EQ(stderr_only.output, "b\n");
  auto missing = Cli({"jobs", "logs", "-f", "job_01hzzzzzzzzzzzzzzzzzzzzzzz"});
  EXPECT_NE(missing.exit_code, 0);

  auto made = Post("/api/v1/gpus/provision",
                   R"({"project":")" + project_ + R"(","command":["sh","-c","echo hi; exit 0"]})");
  ASSERT_EQ(made.result_int(), 201u) << made.body();
  auto inst = Cli({"instances", "logs", "-f", S(Json(made).at("id"))});
  EXPECT_EQ(inst.exit_code, 0) << inst.output;
  EXPECT_EQ(inst.output, "hi\n");
}

TEST_F(LogsE2eTest, SearchFindsLinesAcrossAProjectsJobsAndInstancesOnly) {
  auto agent = StartAgent("n1", "4xH100-80GB");
  auto team = Json(Get("/api/v1/projects/" + project_)).at("team_id");
  auto other = Post("/api/v1/projects", R"({"name":"other","team_id":")" + S(team) + R"("})");
  ASSERT_EQ(other.result_int(), 201u) << other.body();
  std::string other_project = S(Json(other).at("id"));
  std::string hit = Submit(R"("name":"trainer","command":["sh","-c","echo step 1; )"
                           R"(echo 'NCCL error: timeout at rank 3' >&2"])");
  std::string miss = Submit(R"("command":["sh","-c","echo NCCL fine; echo all good"])");
  std::string elsewhere =
      Submit(R"("command":["sh","-c","echo NCCL timeout elsewhere"])", other_project);
  auto made = Post("/api/v1/gpus/provision", R"({"project":")" + project_ +
                                                 R"(","command":["sh","-c","echo nccl TIMEOUT"]})");
  ASSERT_EQ(made.result_int(), 201u) << made.body();
  std::string instance = S(Json(made).at("id"));
  for (const auto& path : {"/api/v1/jobs/" + hit, "/api/v1/jobs/" + miss,
                           "/api/v1/jobs/" + elsewhere, "/api/v1/instances/" + instance}) {
    auto events = Follow(path)->UntilEnd();
    ASSERT_FALSE(events.empty()) << path;
    ASSERT_EQ(events.back().event, "end") << path;
  }

  // Every word must appear, in any case; the project's jobs and instances, newest first.
  auto found = Get("/api/v1/logs?project_id=" + project_ + "&q=nccl%20Timeout");
  ASSERT_EQ(found.result_int(), 200u) << found.body();
  auto items = Json(found).at("items").as_array();
  ASSERT_EQ(items.size(), 2u) << found.body();
  EXPECT_GT(items[0].at("seq").as_int64(), items[1].at("seq").as_int64());
  std::map<std::string, bj::object> by_workload;
  for (const auto& item : items) by_workload[S(item.at("workload_id"))] = item.as_object();
  ASSERT_TRUE(by_workload.contains(hit));
  ASSERT_TRUE(by_workload.contains(instance));
  EXPECT_EQ(S(by_workload[hit].at("text")), "NCCL error: timeout at rank 3\n");
  EXPECT_EQ(S(by_workload[hit].at("stream")), "stderr");
  EXPECT_EQ(S(by_workload[hit].at("kind")), "job");
  EXPECT_EQ(S(by_workload[hit].at("workload_name")), "trainer");
  EXPECT_EQ(S(by_workload[instance].at("kind")), "instance");
  // The link reads the workload's logs from the match on.
  auto from = Json(Get(S(by_workload[hit].at("links").at("logs"))));
  EXPECT_EQ(S(from.at("items").at(0).at("text")), "NCCL error: timeout at rank 3\n");

  // By name, one kind, and paginated.
  auto jobs_only = Json(Get("/api/v1/logs?project_id=vision&q=NCCL+timeout&kind=job"));
  ASSERT_EQ(jobs_only.at("items").as_array().size(), 1u);
  auto first = Get("/api/v1/logs?project_id=vision&q=nccl+timeout&limit=1");
  ASSERT_EQ(first.result_int(), 200u);
  std::string token = S(Json(first).at("next_page_token"));
  EXPECT_NE(first[bhttp::field::link].find("page_token="), std::string::npos);
  auto second =
      Json(Get("/api/v1/logs?project_id=vision&q=nccl+timeout&limit=1&page_token=" + token));
  ASSERT_EQ(second.at("items").as_array().size(), 1u);
  EXPECT_EQ(S(second.at("items").at(0).at("workload_id")),
            S(Json(first).at("items").at(0).at("workload_id")) == hit ? instance : hit);
  EXPECT_EQ(Get("/api/v1/logs?project_id=vision&q=other&page_token=" + token).result_int(), 422u);
  // Query syntax is not interpreted: FTS5 operators and quotes are just words.
  EXPECT_EQ(
      Json(Get("/api/v1/logs?project_id=vision&q=NCCL%20OR%20%22x")).at("items").as_array().size(),
      0u);

  // The other project has its own line; the words alone are not enough.
  auto in_other = Json(Get("/api/v1/logs?project_id=" + other_project + "&q=nccl+timeout"));
  ASSERT_EQ(in_other.at("items").as_array().size(), 1u);
  EXPECT_EQ(S(in_other.at("items").at(0).at("workload_id")), elsewhere);

  // Errors name the parameter; a caller with no role in the project sees no project.
  auto no_q = Get("/api/v1/logs?project_id=vision");
  EXPECT_EQ(no_q.result_int(), 422u);
  EXPECT_NE(no_q.body().find("query:q"), std::string::npos) << no_q.body();
  EXPECT_EQ(Get("/api/v1/logs?project_id=vision&q=%3A%3A").result_int(), 422u);
  EXPECT_EQ(Get("/api/v1/logs?project_id=vision&q=x&kind=node").result_int(), 422u);
  EXPECT_EQ(Get("/api/v1/logs?project_id=nope&q=x").result_int(), 404u);
  auto sa = Json(Post("/api/v1/service-accounts", R"({"name":"outsider"})"));
  auto key =
      Json(Post("/api/v1/api-keys", R"({"name":"k","owner_id":")" + S(sa.at("id")) + R"("})"));
  auto outsider =
      Client().Send(verb::get, "/api/v1/logs?project_id=vision&q=nccl", S(key.at("secret")));
  EXPECT_EQ(outsider.result_int(), 404u) << outsider.body();

  // The CLI.
  auto cli = Cli({"logs", "search", "--project", "vision", "nccl", "timeout"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find(hit), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find("NCCL error: timeout at rank 3"), std::string::npos) << cli.output;
  EXPECT_EQ(cli.output.find(elsewhere), std::string::npos) << cli.output;
}

}  // namespace
}  // namespace hangar::testing
