#include "agent/workspace_transfers.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/crypto.h"
#include "common/json_codec.h"

extern char** environ;

namespace hangar::agent {

namespace fs = std::filesystem;

namespace {

// Download pieces: the server serves up to 4 MiB per call.
constexpr int64_t kDownloadPiece = 1 << 20;

std::string NodePath(const AgentState& who, const std::string& snapshot) {
  return "/api/v1/agent/nodes/" + client::UrlEncode(who.node_id) + "/snapshots/" +
         client::UrlEncode(snapshot);
}

// GNU tar exits 1 when a file changed while it was read: the archive is still good (the file
// as it was at some moment), which is what a snapshot of a running session can promise.
bool TarSucceeded(int code, bool creating) { return code == 0 || (creating && code == 1); }

}  // namespace

Result<int> RunTool(const std::vector<std::string>& argv, std::string* error_output) {
  std::unique_ptr<FILE, decltype(&std::fclose)> err(std::tmpfile(), std::fclose);
  if (!err) return std::unexpected(Error::Unavailable("cannot create a temporary file"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fileno(err.get()), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return std::unexpected(Error::Unavailable("cannot run " + argv[0] + ": " + std::strerror(rc)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::unexpected(Error::Unavailable("waitpid failed"));
  }
  if (error_output != nullptr) {
    std::rewind(err.get());
    std::string text;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, err.get())) > 0) text.append(buf, n);
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    *error_output = std::move(text);
  }
  if (!WIFEXITED(status)) {
    return std::unexpected(Error::Unavailable(argv[0] + " was killed"));
  }
  return WEXITSTATUS(status);
}

WorkspaceTransfers::WorkspaceTransfers(TransferOptions options, std::function<void()> on_done)
    : options_(std::move(options)), on_done_(std::move(on_done)) {}

WorkspaceTransfers::~WorkspaceTransfers() { Stop(); }

Status WorkspaceTransfers::Start() {
  HANGAR_ASSIGN_OR_RETURN(
      client_,
      client::ApiClient::Create({.base_url = options_.server_url,
                                 .timeout = std::chrono::seconds(60),
                                 .user_agent = std::string("hangar-agent/") + HANGAR_VERSION}));
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void WorkspaceTransfers::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (client_) client_->Abort();
  if (thread_.joinable()) thread_.join();
}

fs::path WorkspaceTransfers::MarkerPath(const std::string& workspace) const {
  return options_.workspaces_root / ".restored" / workspace;
}

fs::path WorkspaceTransfers::TransferDir() const { return options_.workspaces_root / ".transfers"; }

void WorkspaceTransfers::SetTasks(const AgentState& who, std::vector<api::SnapshotTask> tasks) {
  {
    std::lock_guard lock(mutex_);
    who_ = who;
    // A snapshot the server no longer lists is finished for it too.
    std::set<std::string> listed;
    for (const auto& t : tasks) listed.insert(t.snapshot_id);
    std::erase_if(finished_snapshots_, [&](const auto& id) { return !listed.contains(id); });
    tasks_ = std::move(tasks);
  }
  wake_.notify_all();
}

WorkspaceTransfers::RestoreStatus WorkspaceTransfers::Restore(
    const AgentState& who, const std::string& workspace, const api::WorkspaceRestore& restore) {
  std::ifstream marker(MarkerPath(workspace));
  std::string restored;
  if (marker && std::getline(marker, restored) && restored == restore.snapshot_id) {
    return {.state = RestoreState::kDone};
  }
  {
    std::lock_guard lock(mutex_);
    auto failed = restore_failures_.find(workspace + "/" + restore.snapshot_id);
    if (failed != restore_failures_.end()) {
      return {.state = RestoreState::kFailed, .message = failed->second};
    }
    who_ = who;
    restores_[workspace] = RestoreJob{.workspace = workspace, .restore = restore};
  }
  wake_.notify_all();
  return {.state = RestoreState::kInProgress};
}

void WorkspaceTransfers::Loop() {
  while (true) {
    std::optional<AgentState> who;
    std::optional<RestoreJob> restore;
    std::optional<api::SnapshotTask> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] {
        if (stopping_) return true;
        if (!restores_.empty()) return true;
        for (const auto& t : tasks_) {
          if (!finished_snapshots_.contains(t.snapshot_id)) return true;
        }
        return false;
      });
      if (stopping_) return;
      who = who_;
      // Restores first: a run waits for them.
      if (!restores_.empty()) {
        restore = restores_.begin()->second;
      } else {
        for (const auto& t : tasks_) {
          if (!finished_snapshots_.contains(t.snapshot_id)) {
            task = t;
            break;
          }
        }
      }
    }
    if (!who) continue;
    std::optional<std::string> retry;
    if (restore) {
      Outcome outcome = RunRestore(*who, *restore);
      std::lock_guard lock(mutex_);
      if (outcome.ok || outcome.permanent) {
        auto it = restores_.find(restore->workspace);
        if (it != restores_.end() &&
            it->second.restore.snapshot_id == restore->restore.snapshot_id) {
          restores_.erase(it);
        }
        if (!outcome.ok) {
          restore_failures_[restore->workspace + "/" + restore->restore.snapshot_id] =
              outcome.message;
        }
      } else {
        retry = outcome.message;
      }
    } else if (task) {
      retry = TakeSnapshot(*who, *task);
      if (!retry) {
        std::lock_guard lock(mutex_);
        finished_snapshots_.insert(task->snapshot_id);
      }
    }
    if (restore && !retry) on_done_();
    if (retry) {
      spdlog::warn("transfers: {} (retrying)", *retry);
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.retry_delay, [this] { return stopping_; });
    }
  }
}

std::optional<std::string> WorkspaceTransfers::TakeSnapshot(const AgentState& who,
                                                            const api::SnapshotTask& task) {
  const std::string base = NodePath(who, task.snapshot_id);
  auto fail = [&](const std::string& message) -> std::optional<std::string> {
    spdlog::warn("transfers: snapshot {} failed: {}", task.snapshot_id, message);
    auto r = client_->Call<api::Snapshot>(
        client::HttpRequest{.method = "POST",
                            .target = base + "/fail",
                            .body = json::Serialize(api::FailSnapshotRequest{.message = message}),
                            .token = who.credential});
    if (!r)
      return "cannot report snapshot " + task.snapshot_id + " failed: " + r.error().error.message();
    return std::nullopt;
  };
  fs::path workspace = options_.workspaces_root / task.workspace;
  std::error_code ec;
  if (task.workspace.empty() || task.workspace.find('/') != std::string::npos ||
      !fs::is_directory(workspace, ec)) {
    return fail("the workspace " + task.workspace + " is not on this node");
  }
  fs::create_directories(TransferDir(), ec);
  fs::path archive = TransferDir() / (task.snapshot_id + ".tar.gz");
  std::string errors;
  auto tar = RunTool({"tar", "-czf", archive.string(), "-C", workspace.string(), "."}, &errors);
  if (!tar || !TarSucceeded(*tar, true)) {
    fs::remove(archive, ec);
    return fail(
        "cannot archive the workspace: " +
        (tar ? "tar exited with " + std::to_string(*tar) + ": " + errors : tar.error().message()));
  }
  auto size = static_cast<int64_t>(fs::file_size(archive, ec));
  auto sha = Sha256FileHex(archive.string());
  if (ec || !sha) return fail("cannot read the archive " + archive.string());

  std::ifstream in(archive, std::ios::binary);
  int64_t offset = 0;
  std::string piece;
  while (offset < size) {
    piece.resize(static_cast<size_t>(std::min(options_.piece_bytes, size - offset)));
    in.seekg(offset);
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    auto answer = client_->Call<api::SnapshotUploadAnswer>(
        client::HttpRequest{.method = "PUT",
                            .target = base + "/content?offset=" + std::to_string(offset),
                            .body = piece,
                            .content_type = "application/octet-stream",
                            .token = who.credential});
    if (!answer) {
      fs::remove(archive, ec);
      if (answer.error().http_status == 404) return std::nullopt;  // deleted meanwhile
      // Retried from the start (pieces the server holds are accepted again); a snapshot that
      // is no longer pending leaves the assignments list, which ends the retries.
      return "uploading snapshot " + task.snapshot_id + ": " + answer.error().error.message();
    }
    // The server says where it stands (a piece it had already is not counted twice).
    offset = answer->received;
  }
  auto done = client_->Call<api::Snapshot>(client::HttpRequest{
      .method = "POST",
      .target = base + "/complete",
      .body = json::Serialize(api::CompleteSnapshotRequest{.size_bytes = size, .sha256 = *sha}),
      .token = who.credential});
  fs::remove(archive, ec);
  if (!done) {
    if (done.error().http_status == 404) return std::nullopt;
    return "completing snapshot " + task.snapshot_id + ": " + done.error().error.message();
  }
  spdlog::info("transfers: snapshot {} of {} uploaded ({} bytes)", task.snapshot_id, task.workspace,
               size);
  return std::nullopt;
}

WorkspaceTransfers::Outcome WorkspaceTransfers::RunRestore(const AgentState& who,
                                                           const RestoreJob& job) {
  const api::WorkspaceRestore& r = job.restore;
  std::error_code ec;
  if (job.workspace.empty() || job.workspace.find('/') != std::string::npos) {
    return {.permanent = true, .message = "workspace name " + job.workspace + " is not valid"};
  }
  fs::create_directories(TransferDir(), ec);
  fs::path download = TransferDir() / (r.snapshot_id + ".download");
  {
    std::ofstream out(download, std::ios::binary | std::ios::trunc);
    int64_t offset = 0;
    while (offset < r.size_bytes) {
      int64_t length = std::min(kDownloadPiece, r.size_bytes - offset);
      auto piece = client_->CallRaw(client::HttpRequest{
          .method = "GET",
          .target = NodePath(who, r.snapshot_id) + "/content?offset=" + std::to_string(offset) +
                    "&length=" + std::to_string(length),
          .token = who.credential});
      if (!piece) {
        int status = piece.error().http_status;
        bool permanent = status == 404 || status == 409;
        return {.permanent = permanent,
                .message =
                    "downloading snapshot " + r.snapshot_id + ": " + piece.error().error.message()};
      }
      if (piece->empty()) {
        return {.permanent = true,
                .message = "snapshot " + r.snapshot_id + " is shorter than announced"};
      }
      out.write(piece->data(), static_cast<std::streamsize>(piece->size()));
      offset += static_cast<int64_t>(piece->size());
    }
    if (!out) return {.message = "cannot write " + download.string()};
  }
  auto sha = Sha256FileHex(download.string());
  if (!sha || *sha != r.sha256) {
    fs::remove(download, ec);
    return {.permanent = true,
            .message = "snapshot " + r.snapshot_id + " does not match its SHA-256"};
  }
  // The workspace becomes the snapshot's content: what was there before is replaced.
  fs::path workspace = options_.workspaces_root / job.workspace;
  fs::remove_all(workspace, ec);
  fs::create_directories(workspace, ec);
  fs::permissions(workspace, fs::perms::owner_all, fs::perm_options::replace, ec);
  std::string errors;
  auto tar = RunTool({"tar", "-xzf", download.string(), "-C", workspace.string()}, &errors);
  fs::remove(download, ec);
  if (!tar || !TarSucceeded(*tar, false)) {
    return {.permanent = true,
            .message = "cannot unpack snapshot " + r.snapshot_id + ": " +
                       (tar ? "tar exited with " + std::to_string(*tar) + ": " + errors
                            : tar.error().message())};
  }
  fs::create_directories(MarkerPath(job.workspace).parent_path(), ec);
  std::ofstream(MarkerPath(job.workspace)) << r.snapshot_id << "\n";
  spdlog::info("transfers: restored snapshot {} into {}", r.snapshot_id, job.workspace);
  return {.ok = true};
}

}  // namespace hangar::agent
