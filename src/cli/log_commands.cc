// Logs commands: following output over Server-Sent Events and searching a project's logs. See
// log_commands.h; the routes are in routes/log_routes.cc.
#include "cli/log_commands.h"

#include <thread>

#include "api/log_types.h"

namespace hangar::cli {

namespace {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

// Reconnections in a row without new output before following gives up.
constexpr int kMaxReconnects = 5;
constexpr std::chrono::seconds kReconnectPause{1};

}  // namespace

ApiResult<std::string> FollowLogs(Session& s, ApiClient& c, const std::string& logs_path,
                                  const std::string& stream) {
  std::string last_id;
  int failures = 0;
  for (;;) {
    bool ended = false;
    std::optional<client::ApiError> bad_event;
    client::HttpRequest request{.method = "GET", .target = logs_path + "?follow=true"};
    if (!last_id.empty()) request.headers.emplace_back("Last-Event-ID", last_id);
    auto followed = c.Follow(request, [&](const client::ServerSentEvent& event) {
      if (event.event == "end") {
        ended = true;
        return false;
      }
      if (event.event != "output") return true;
      auto line = client::DecodeResponse<api::LogLine>(event.data);
      if (!line) {
        bad_event = client::ApiError::FromError(line.error());
        return false;
      }
      if (stream.empty() || line->stream == stream) {
        s.out() << line->text;
        s.out().flush();
      }
      last_id = event.id;
      failures = 0;
      return true;
    });
    if (bad_event) return std::unexpected(*bad_event);
    if (ended) return std::string();
    // A refusal (404, 401) is final; a dropped connection, or a stream that ended without its
    // `end` event (hangard stopping), is resumed where it stopped.
    if (!followed && followed.error().http_status != 0) return std::unexpected(followed.error());
    if (++failures > kMaxReconnects) {
      if (!followed) return std::unexpected(followed.error());
      return std::unexpected(client::ApiError::FromError(
          Error::Unavailable("the log stream of " + logs_path + " keeps ending early")));
    }
    std::this_thread::sleep_for(kReconnectPause);
  }
}

namespace {

// One row per match: TIME, WORKLOAD, STREAM and the text's first line (shortened); JSON and
// YAML as the API returns the matches.
std::string RenderMatches(const std::vector<api::LogMatch>& items, OutputFormat format) {
  if (format != OutputFormat::kTable) {
    boost::json::value v = json::Encode(items);
    return format == OutputFormat::kYaml ? ToYaml(v) : boost::json::serialize(v) + "\n";
  }
  constexpr size_t kMaxText = 120;
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : items) {
    std::string text = m.text.substr(0, m.text.find('\n'));
    if (text.size() > kMaxText) text = text.substr(0, kMaxText - 3) + "...";
    rows.push_back({m.time, m.workload_id, m.stream, text});
  }
  return RenderTable({"TIME", "WORKLOAD", "STREAM", "TEXT"}, rows);
}

}  // namespace

void AddLogCommands(CLI::App& app, Session& s, Action& action) {
  auto* logs = app.add_subcommand("logs", "search the logs of a project's jobs and instances")
                   ->require_subcommand(1);
  struct SearchFlags {
    std::string project, kind;
    std::vector<std::string> words;
    int64_t limit = 50;
  };
  auto f = std::make_shared<SearchFlags>();
  auto* search = logs->add_subcommand(
      "search", "the output chunks that contain every word of QUERY, newest first");
  search->add_option("--project", f->project, "the project (id or name)")->required();
  search->add_option("QUERY", f->words, "the words to find (whole words, any case)")->required();
  search->add_option("--kind", f->kind, "only job or instance output")
      ->check(CLI::IsMember({"job", "instance"}));
  search->add_option("--limit", f->limit, "at most this many (0: all)");
  search->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        std::string words;
        for (const auto& w : f->words) words += (words.empty() ? "" : " ") + w;
        std::string q =
            Param("project_id", f->project) + Param("q", words) + Param("kind", f->kind);
        HANGAR_ASSIGN_OR_RETURN_API(auto items,
                                    ListAll<api::LogMatchList>(c, "/api/v1/logs", q, f->limit));
        return RenderMatches(items, format);
      });
    };
  });
}

}  // namespace hangar::cli
