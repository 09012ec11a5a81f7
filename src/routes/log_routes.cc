// The logs routes: a job's or an instance's output as JSON pages, or followed live as
// Server-Sent Events (GET …/logs?follow=true, or Accept: text/event-stream); and full-text
// search across a project's logs (GET /api/v1/logs?project_id=…&q=…).
//
// A follow stream sends every stored chunk after the starting point as one event
//   id: <seq>            the chunk's sequence number: Last-Event-ID resumes after it
//   event: output
//   data: {"seq":…,"stream":"stdout","attempt":1,"time":"…","text":"…"}
// then waits for more. The OutputBell wakes it when an agent's report touches the workload;
// it also re-reads every kStatePoll, for changes nothing rings (a pending job cancelled, another
// replica). Once the workload is in a final state and everything stored before that was sent,
// it sends `event: end` (data: {"state":…,"next_after":…}) and the body ends. A comment
// (": keep-alive") goes out after kKeepAlive of silence.
#include <spdlog/spdlog.h>

#include <charconv>

#include "api/log_types.h"
#include "http/sse.h"
#include "routes/route_params.h"
#include "routes/routes.h"
#include "workloads/views.h"

namespace hangar::routes {

using gateway::Authorize;
using gateway::RequestContext;
using gateway::Route;
using gateway::Schema;
using gateway::verb;

namespace {

constexpr std::chrono::seconds kKeepAlive{15};
constexpr std::chrono::seconds kStatePoll{2};
// Chunks read per store read; a backlog is sent in pieces of this many events.
constexpr int64_t kFollowBatch = 500;

using SteadyClock = std::chrono::steady_clock;

// What a follow stream reads, through the services (so every read is authorised as the caller).
struct FollowReads {
  // Whether the workload is in a final state (nothing more will be written).
  std::function<Result<std::pair<bool, std::string>>()> final_state;
  std::function<Result<std::vector<store::OutputRecord>>(int64_t after, int64_t limit)> output;
};

class LogFollowSource final : public http::StreamSource {
 public:
  LogFollowSource(FollowReads reads, workloads::OutputBell& bell, std::string workload_id,
                  int64_t after)
      : reads_(std::move(reads)),
        bell_(bell),
        workload_id_(std::move(workload_id)),
        after_(after),
        last_sent_(SteadyClock::now()) {}

  void Start(std::function<void()> wake) override {
    subscription_ = bell_.Subscribe(workload_id_, std::move(wake));
  }

  Piece Next() override {
    // The state is read before the output: output stored before the workload ended is then
    // always in the read that follows, so `end` never comes before the last lines.
    auto state = reads_.final_state();
    auto output = state ? reads_.output(after_, kFollowBatch)
                        : Result<std::vector<store::OutputRecord>>(std::unexpected(state.error()));
    Piece piece;
    if (!output) {
      if (output.error().code() == ErrorCode::kNotFound) return End("gone");
      // The store is unavailable: try again later; the client keeps its connection.
      spdlog::warn("logs of {}: {}", workload_id_, output.error().ToString());
    } else {
      for (const auto& chunk : *output) {
        piece.data += http::SseEvent(std::to_string(chunk.seq), "output",
                                     json::Serialize(workloads::ToApi(chunk)));
        after_ = chunk.seq;
      }
      if (output->empty() && state->first) return End(state->second);
    }
    const auto now = SteadyClock::now();
    if (!piece.data.empty()) {
      last_sent_ = now;
      piece.wait = std::chrono::milliseconds(0);
      return piece;
    }
    if (now - last_sent_ >= kKeepAlive) {
      piece.data = std::string(http::kSseKeepAlive);
      last_sent_ = now;
    }
    auto until_keep_alive =
        std::chrono::duration_cast<std::chrono::milliseconds>(last_sent_ + kKeepAlive - now);
    piece.wait = std::max(std::chrono::milliseconds(1),
                          std::min<std::chrono::milliseconds>(until_keep_alive, kStatePoll));
    return piece;
  }

 private:
  Piece End(const std::string& state) {
    boost::json::object data{{"state", state}, {"next_after", after_}};
    subscription_.Cancel();
    return Piece{.data = http::SseEvent("", "end", boost::json::serialize(data)), .end = true};
  }

  const FollowReads reads_;
  workloads::OutputBell& bell_;
  const std::string workload_id_;
  int64_t after_;  // the last seq sent
  SteadyClock::time_point last_sent_;
  workloads::OutputBell::Subscription subscription_;
};

// Whether the client asked to follow: ?follow=true, or (without ?follow) an Accept header that
// names text/event-stream, as EventSource sends. A value other than true/false is a 400.
Result<bool> WantsFollow(const RequestContext& ctx) {
  if (auto follow = ctx.QueryValue("follow")) {
    if (*follow == "true") return true;
    if (*follow == "false") return false;
    return std::unexpected(Error::Malformed("follow must be true or false")
                               .Field("query:follow", "must be true or false"));
  }
  auto accept = ctx.request().find(http::bhttp::field::accept);
  return accept != ctx.request().end() &&
         accept->value().find("text/event-stream") != std::string_view::npos;
}

// Where a follow starts: after Last-Event-ID when the client resumes, else after ?after=.
Result<int64_t> FollowStart(const RequestContext& ctx) {
  auto last = ctx.request().find("Last-Event-ID");
  if (last == ctx.request().end()) return IntParam(ctx, "after", 0, 0, INT64_MAX);
  std::string_view text = last->value();
  int64_t seq = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (ec != std::errc() || ptr != text.data() + text.size() || seq < 0) {
    return std::unexpected(
        Error::Malformed("Last-Event-ID is not an event id of this stream")
            .Field("header:Last-Event-ID", "must be the id (a sequence number) of an event sent")
            .Hint("send back the id of the last event received, or leave the header out"));
  }
  return seq;
}

// A logs handler: a JSON page, or, when the client follows, an event stream.
Result<http::Response> LogsResponse(RequestContext& ctx, workloads::OutputBell& bell,
                                    const std::string& workload_id, FollowReads reads) {
  HANGAR_ASSIGN_OR_RETURN(bool follow, WantsFollow(ctx));
  if (!follow) return LogPageResponse(ctx, reads.output);
  HANGAR_ASSIGN_OR_RETURN(int64_t after, FollowStart(ctx));
  // Authorised (and found) before the stream starts, so a refusal is an ordinary 404.
  HANGAR_TRY(reads.final_state());
  return gateway::StreamResponse(
      ctx, std::make_shared<LogFollowSource>(std::move(reads), bell, workload_id, after));
}

std::vector<store::ListField> FollowQueryParams() {
  auto params = LogQueryParams();
  params.push_back(QueryParam(
      "follow", store::FieldType::kBool,
      "true: stream the output as Server-Sent Events (text/event-stream) until the workload "
      "ends; each event's id is its seq, so Last-Event-ID resumes. Accept: text/event-stream "
      "does the same."));
  return params;
}

api::LogMatch ToApi(const store::OutputMatch& m) {
  std::string workload =
      (m.kind == "instance" ? "/api/v1/instances/" : "/api/v1/jobs/") + m.chunk.workload_id;
  api::LogLine line = workloads::ToApi(m.chunk);
  return api::LogMatch{
      .workload_id = m.chunk.workload_id,
      .kind = m.kind,
      .workload_name = m.workload_name,
      .seq = line.seq,
      .stream = line.stream,
      .attempt = line.attempt,
      .time = line.time,
      .text = line.text,
      .links = {{"workload", workload},
                {"logs", workload + "/logs?after=" + std::to_string(m.chunk.seq - 1)}}};
}

// A required text query parameter; 422 naming it when absent or empty.
Result<std::string> RequiredParam(const RequestContext& ctx, std::string_view name) {
  auto value = ctx.QueryValue(name);
  if (!value || value->empty()) {
    return std::unexpected(Error::Invalid(std::string(name) + " is required")
                               .Field("query:" + std::string(name), "is required"));
  }
  return std::string(*value);
}

}  // namespace

void AddLogRoutes(gateway::Router& router, workloads::JobService& jobs,
                  workloads::InstanceService& instances, workloads::OutputBell& bell,
                  workloads::LogSearch& search) {
  router.Add(Route{
      .method = verb::get,
      .path = "/api/v1/logs",
      .handler = [&search](RequestContext& ctx) -> Result<http::Response> {
        workloads::LogSearchQuery query;
        HANGAR_ASSIGN_OR_RETURN(query.project, RequiredParam(ctx, "project_id"));
        HANGAR_ASSIGN_OR_RETURN(query.query, RequiredParam(ctx, "q"));
        if (auto kind = ctx.QueryValue("kind")) query.kind = std::string(*kind);
        HANGAR_ASSIGN_OR_RETURN(query.limit, IntParam(ctx, "limit", 50, 1, 1000));
        query.page_token = std::string(ctx.QueryValue("page_token").value_or(""));
        HANGAR_ASSIGN_OR_RETURN(auto page, search.Search(ctx.principal(), query));
        return gateway::ListResponse<api::LogMatchList>(ctx, page, ToApi);
      },
      .permission = "jobs:read",
      .authorize = Authorize::kObject,
      .operation_id = "searchLogs",
      .summary = "Search a project's logs: the output chunks of its jobs (jobs:read) and "
                 "instances (instances:read) that contain every word of q, newest first",
      .tag = "Logs",
      .response_body = Schema<api::LogMatchList>(),
      .query_params = {
          QueryParam("project_id", store::FieldType::kText, "The project (id or name)."),
          QueryParam("q", store::FieldType::kText,
                     "The words to find: a chunk matches when it contains all of them, as "
                     "whole words, in any case."),
          QueryParam("kind", store::FieldType::kText, "job or instance: only their output."),
          QueryParam("limit", store::FieldType::kInt, "At most this many (1..1000, default 50)."),
          QueryParam("page_token", store::FieldType::kText,
                     "next_page_token of the previous page.")}});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/jobs/{id}/logs",
            .handler = [&jobs, &bell](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<JobId>("id"));
              const identity::Principal who = ctx.principal();
              FollowReads reads{
                  .final_state = [&jobs, who, id]() -> Result<std::pair<bool, std::string>> {
                    HANGAR_ASSIGN_OR_RETURN(auto job, jobs.Get(who, id));
                    auto s = job.record.state;
                    bool final = s == store::WorkloadState::succeeded ||
                                 s == store::WorkloadState::failed ||
                                 s == store::WorkloadState::cancelled;
                    return std::pair{final, std::string(json::EnumName(s))};
                  },
                  .output = [&jobs, who, id](
                                int64_t after,
                                int64_t limit) { return jobs.Output(who, id, after, limit); }};
              return LogsResponse(ctx, bell, id.str(), std::move(reads));
            },
            .permission = "jobs:read",
            .authorize = Authorize::kObject,
            .operation_id = "getJobLogs",
            .summary = "A job's output (stdout and stderr of every attempt), oldest first; pass "
                       "next_after as ?after= to read on, or ?follow=true to stream it (SSE) until "
                       "the job ends",
            .tag = "Jobs",
            .response_body = Schema<api::LogPage>(),
            .query_params = FollowQueryParams()});
  router.Add(
      Route{.method = verb::get,
            .path = "/api/v1/instances/{id}/logs",
            .handler = [&instances, &bell](RequestContext& ctx) -> Result<http::Response> {
              HANGAR_ASSIGN_OR_RETURN(auto id, ctx.PathId<InstanceId>("id"));
              const identity::Principal who = ctx.principal();
              FollowReads reads{
                  .final_state = [&instances, who, id]() -> Result<std::pair<bool, std::string>> {
                    HANGAR_ASSIGN_OR_RETURN(auto instance, instances.Get(who, id));
                    auto s = instance.record.state;
                    bool final = s == store::WorkloadState::stopped ||
                                 s == store::WorkloadState::failed ||
                                 s == store::WorkloadState::terminated;
                    return std::pair{final, std::string(json::EnumName(s))};
                  },
                  .output = [&instances, who, id](
                                int64_t after,
                                int64_t limit) { return instances.Output(who, id, after, limit); }};
              return LogsResponse(ctx, bell, id.str(), std::move(reads));
            },
            .permission = "instances:read",
            .authorize = Authorize::kObject,
            .operation_id = "getInstanceLogs",
            .summary = "The session's output (every run), oldest first; pass next_after as ?after= "
                       "to read on, or ?follow=true to stream it (SSE) until the instance stops",
            .tag = "Instances",
            .response_body = Schema<api::LogPage>(),
            .query_params = FollowQueryParams()});
}

}  // namespace hangar::routes
