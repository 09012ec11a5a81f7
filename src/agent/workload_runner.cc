#include "agent/workload_runner.h"

#include <spdlog/spdlog.h>

#include "common/json_codec.h"

namespace hangar::agent {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence at the start of `s` (1..4); 0 when it is invalid;
// -1 when it is valid so far but cut off by the end of `s`.
int SequenceLength(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return c == 0 ? 0 : 1;
  int n = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  uint32_t cp = c & (0x7F >> n);
  for (int i = 1; i < n; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -1;
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

Utf8Chunk ToValidUtf8(std::string_view raw, bool complete) {
  Utf8Chunk out;
  out.text.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    int n = SequenceLength(raw.substr(i));
    if (n < 0) {
      if (!complete) break;  // the rest arrives with the next read
      n = 0;
    }
    if (n == 0) {
      out.text += kReplacement;
      ++i;
      continue;
    }
    out.text.append(raw.substr(i, static_cast<size_t>(n)));
    i += static_cast<size_t>(n);
  }
  out.consumed = i;
  return out;
}

WorkloadRunner::WorkloadRunner(RunnerOptions options, Executor& executor, const Clock& clock)
    : options_(std::move(options)), executor_(executor), clock_(clock) {}

WorkloadRunner::~WorkloadRunner() { Stop(); }

void WorkloadRunner::SetIdentity(const std::optional<AgentState>& identity) {
  {
    std::lock_guard lock(mutex_);
    identity_ = identity;
    latest_.reset();
    dirty_ = true;
  }
  wake_.notify_all();
}

Status WorkloadRunner::Start() {
  HANGAR_TRY(executor_.Recover());
  // The long poll outlives a normal call: allow it poll_wait plus a margin.
  HANGAR_ASSIGN_OR_RETURN(
      watch_client_,
      client::ApiClient::Create(
          {.base_url = options_.server_url,
           .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.poll_wait) +
                      std::chrono::seconds(10),
           .user_agent = std::string("hangar-agent/") + HANGAR_VERSION}));
  HANGAR_ASSIGN_OR_RETURN(
      report_client_,
      client::ApiClient::Create({.base_url = options_.server_url,
                                 .timeout = std::chrono::seconds(15),
                                 .user_agent = std::string("hangar-agent/") + HANGAR_VERSION}));
  if (!options_.workspaces_root.empty()) {
    transfers_ = std::make_unique<WorkspaceTransfers>(
        TransferOptions{.server_url = options_.server_url,
                        .workspaces_root = options_.workspaces_root,
                        .retry_delay = options_.retry_delay},
        [this] {
          // A restore ended: the run that waited for it can start now.
          {
            std::lock_guard lock(mutex_);
            dirty_ = true;
          }
          wake_.notify_all();
        });
    HANGAR_TRY(transfers_->Start());
  }
  watcher_ = std::thread([this] { WatchLoop(); });
  worker_ = std::thread([this] { WorkLoop(); });
  return Ok();
}

void WorkloadRunner::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !watcher_.joinable() && !worker_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (watch_client_) watch_client_->Abort();
  if (report_client_) report_client_->Abort();
  if (watcher_.joinable()) watcher_.join();
  if (worker_.joinable()) worker_.join();
  if (transfers_) transfers_->Stop();
}

Result<std::filesystem::path> WorkloadRunner::PrepareWorkspace(const std::string& name) const {
  // The name comes from the server ("inst_…"); it must stay one path component under the root.
  bool safe = !name.empty() && name.size() <= 128 && name != "." && name != "..";
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) safe = false;
  }
  if (!safe) return std::unexpected(Error::Invalid("workspace name '" + name + "' is not valid"));
  std::filesystem::path dir = options_.workspaces_root / name;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return std::unexpected(
        Error::Unavailable("cannot create " + dir.string() + ": " + ec.message()));
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  return dir;
}

bool WorkloadRunner::Pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this] { return stopping_ || dirty_; });
  return !stopping_;
}

void WorkloadRunner::WatchLoop() {
  std::string known;
  std::string node;
  while (true) {
    std::optional<AgentState> who;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || identity_.has_value(); });
      if (stopping_) return;
      who = identity_;
    }
    if (who->node_id != node) {
      node = who->node_id;
      known.clear();
    }
    std::string target = "/api/v1/agent/nodes/" + client::UrlEncode(node) +
                         "/assignments?wait_seconds=" + std::to_string(options_.poll_wait.count());
    if (!known.empty()) target += "&known=" + client::UrlEncode(known);
    auto asked_at = std::chrono::steady_clock::now();
    auto list = watch_client_->Call<api::AssignmentList>(
        client::HttpRequest{.method = "GET", .target = target, .token = who->credential});
    if (!list) {
      std::unique_lock lock(mutex_);
      if (stopping_) return;  // Stop aborted the call
      ++stats_.failures;
      spdlog::warn("workloads: assignments: {}", list.error().error.ToString());
      wake_.wait_for(lock, options_.retry_delay, [this] { return stopping_; });
      if (stopping_) return;
      continue;
    }
    bool changed = list->revision != known;
    known = list->revision;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      latest_ = std::move(*list);
      dirty_ = true;
    }
    wake_.notify_all();
    // An unchanged list that came back at once means the server could not hold the poll open
    // (too many waiting): poll again after a pause instead of spinning.
    if (!changed && std::chrono::steady_clock::now() - asked_at < std::chrono::milliseconds(500)) {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.retry_delay, [this] { return stopping_; });
      if (stopping_) return;
    }
  }
}

void WorkloadRunner::WorkLoop() {
  while (true) {
    std::optional<AgentState> who;
    std::optional<api::AssignmentList> list;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      dirty_ = false;
      who = identity_;
      list = latest_;
    }
    if (who) {
      if (list) {
        have_list_ = true;
        if (transfers_) transfers_->SetTasks(*who, list->snapshots);
        // Start and stop what the list says.
        std::set<std::string> assigned;
        for (const auto& a : list->items) {
          const std::string& run = a.run_id;
          assigned.insert(run);
          if (a.desired == "run") {
            // A finished run may still be in a list that predates the server's record of
            // its end: never start it again.
            if (failed_starts_.contains(run) || forgotten_.contains(run)) continue;
            // Already started here: the workspace is its own now (not prepared or restored
            // again, which could report a running run as failed).
            if (executor_.Knows(run)) continue;
            LaunchSpec spec{.workload_id = run,
                            .argv = a.command,
                            .env = a.environment,
                            .working_dir = a.working_dir,
                            .limits = {.cpu_milli = a.cpu_milli, .memory_mib = a.memory_mib}};
            if (!a.workspace.empty() && !options_.workspaces_root.empty()) {
              auto workspace = PrepareWorkspace(a.workspace);
              if (!workspace) {
                spdlog::warn("workloads: cannot prepare the workspace of {}: {}", run,
                             workspace.error().ToString());
                failed_starts_[run] = api::RunReport{
                    .run_id = run,
                    .state = "exited",
                    .exit_code = 127,
                    .ended_at = FormatRfc3339(clock_.Now()),
                    .message = "cannot prepare the workspace: " + workspace.error().message()};
                continue;
              }
              if (a.restore && transfers_) {
                auto restored = transfers_->Restore(*who, a.workspace, *a.restore);
                if (restored.state == WorkspaceTransfers::RestoreState::kInProgress) continue;
                if (restored.state == WorkspaceTransfers::RestoreState::kFailed) {
                  failed_starts_[run] = api::RunReport{
                      .run_id = run,
                      .state = "exited",
                      .exit_code = 127,
                      .ended_at = FormatRfc3339(clock_.Now()),
                      .message = "cannot restore the workspace: " + restored.message};
                  continue;
                }
              }
              spec.working_dir = workspace->string();
              spec.env["HANGAR_WORKSPACE"] = workspace->string();
            }
            for (int64_t g : a.gpu_indexes) spec.gpu_indexes.push_back(static_cast<int>(g));
            auto started = executor_.Start(spec);
            if (!started) {
              spdlog::warn("workloads: cannot start {}: {}", run, started.error().ToString());
              failed_starts_[run] = api::RunReport{
                  .run_id = run,
                  .state = "exited",
                  .exit_code = 126,
                  .ended_at = FormatRfc3339(clock_.Now()),
                  .message = "the agent could not start it: " + started.error().message()};
            }
          } else if (!stop_sent_.contains(run)) {
            auto stopped = executor_.Stop(run, std::chrono::seconds(a.stop_grace_seconds));
            if (stopped || stopped.error().code() == ErrorCode::kNotFound) {
              stop_sent_.insert(run);
            }
            if (!stopped && stopped.error().code() == ErrorCode::kNotFound &&
                !failed_starts_.contains(run)) {
              // Asked to stop a run that never started here: it ended without running.
              failed_starts_[run] = api::RunReport{.run_id = run,
                                                   .state = "exited",
                                                   .ended_at = FormatRfc3339(clock_.Now()),
                                                   .message = "stopped before it started"};
            }
          }
        }
        std::erase_if(forgotten_, [&](const std::string& run) { return !assigned.contains(run); });
        // Runs no list assigns any more: the server gave them up (e.g. requeued elsewhere).
        for (const auto& [run, status] : executor_.Poll()) {
          bool active = status.state == ProcessStatus::State::kRunning;
          if (active && !assigned.contains(run) && !stop_sent_.contains(run)) {
            spdlog::info("workloads: {} is no longer assigned here: stopping it", run);
            if (executor_.Stop(run, std::chrono::seconds(10))) stop_sent_.insert(run);
          }
        }
      }
      // One Poll after the starts and stops above: what the report says is current.
      if (have_list_ && Report(*who, executor_.Poll())) ++stats_.reports;
    }
    if (!Pause(options_.tick)) return;
  }
}

bool WorkloadRunner::Report(const AgentState& who, const RunStatuses& statuses) {
  api::NodeReport report;
  std::vector<std::tuple<std::string, std::string, int64_t>> advances;  // run, stream, new offset
  size_t budget = options_.max_output_per_report;
  for (const auto& [run, status] : statuses) {
    bool ended = status.state == ProcessStatus::State::kExited ||
                 status.state == ProcessStatus::State::kLost;
    bool drained = true;
    for (const char* stream : {"stdout", "stderr"}) {
      int64_t& offset = uploaded_[{run, stream}];
      size_t want = std::min<size_t>(budget, 256 * 1024);
      if (want == 0) {
        drained = false;
        continue;
      }
      auto data = executor_.ReadLog(run, stream, offset, want);
      if (!data || data->empty()) continue;
      Utf8Chunk chunk = ToValidUtf8(*data, ended && data->size() < want);
      if (chunk.consumed == 0) {
        drained &= !ended;
        continue;
      }
      budget -= chunk.consumed;
      report.output.push_back(api::RunOutput{.run_id = run,
                                             .stream = stream,
                                             .offset = offset,
                                             .end = offset + static_cast<int64_t>(chunk.consumed),
                                             .text = std::move(chunk.text)});
      advances.emplace_back(run, stream, offset + static_cast<int64_t>(chunk.consumed));
      if (chunk.consumed < data->size() || data->size() == want) drained = false;
    }
    if (status.state == ProcessStatus::State::kRunning ||
        status.state == ProcessStatus::State::kStopping) {
      if (!reported_running_.contains(run)) {
        report.runs.push_back(api::RunReport{
            .run_id = run, .state = "running", .started_at = FormatRfc3339(status.started_at)});
      }
    } else if (drained) {
      api::RunReport r{.run_id = run,
                       .state = status.state == ProcessStatus::State::kLost ? "lost" : "exited",
                       .started_at = FormatRfc3339(status.started_at)};
      if (status.exit_code) r.exit_code = *status.exit_code;
      if (status.signal) r.signal = *status.signal;
      if (status.ended_at) r.ended_at = FormatRfc3339(*status.ended_at);
      if (!status.message.empty()) r.message = status.message;
      report.runs.push_back(std::move(r));
    }
  }
  for (const auto& [run, r] : failed_starts_) report.runs.push_back(r);
  if (report.runs.empty() && report.output.empty()) return false;

  auto answer = report_client_->Call<api::NodeReportAnswer>(client::HttpRequest{
      .method = "POST",
      .target = "/api/v1/agent/nodes/" + client::UrlEncode(who.node_id) + "/reports",
      .body = json::Serialize(report),
      .token = who.credential});
  if (!answer) {
    ++stats_.failures;
    spdlog::warn("workloads: report: {}", answer.error().error.ToString());
    return false;
  }
  for (const auto& [run, stream, offset] : advances) uploaded_[{run, stream}] = offset;
  for (const auto& r : report.runs) {
    if (r.state == "running" && reported_running_.insert(r.run_id).second) ++stats_.started;
  }
  for (const auto& run : answer->forget) {
    if (auto s = executor_.Forget(run); !s) {
      spdlog::warn("workloads: cannot forget {}: {}", run, s.error().ToString());
      continue;
    }
    uploaded_.erase({run, "stdout"});
    uploaded_.erase({run, "stderr"});
    reported_running_.erase(run);
    stop_sent_.erase(run);
    failed_starts_.erase(run);
    forgotten_.insert(run);
  }
  return true;
}

}  // namespace hangar::agent
