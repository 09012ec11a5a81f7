// Batch job commands: jobs submit|list|get|cancel|hold|release|requeue|logs. Each maps onto one
// route of routes/workload_routes.cc (docs/cli.md lists them).
#include <memory>
#include <thread>

#include "cli/job_flags.h"
#include "cli/log_commands.h"
#include "cli/session.h"

namespace hangar::cli {

namespace {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

const std::string kBase = "/api/v1/jobs";

bool Finished(api::JobState s) {
  return s == api::JobState::succeeded || s == api::JobState::failed ||
         s == api::JobState::cancelled;
}

// Polls the job until it has finished; progress lines go to stderr.
ApiResult<api::Job> WaitForEnd(Session& s, ApiClient& c, const std::string& id) {
  std::string last;
  while (true) {
    HANGAR_ASSIGN_OR_RETURN_API(auto job, c.Get<api::Job>(kBase + "/" + UrlEncode(id)));
    std::string line = std::string(json::EnumName(job.state));
    if (job.queue) line += ": " + job.queue->message;
    if (job.state == api::JobState::running && job.node_id) line += " on " + *job.node_id;
    if (line != last) {
      s.err() << id << " " << line << "\n";
      last = line;
    }
    if (Finished(job.state)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Prints the job's output after `after`; returns the new cursor.
ApiResult<int64_t> PrintLogs(Session& s, ApiClient& c, const std::string& id, int64_t after,
                             const std::string& stream) {
  while (true) {
    HANGAR_ASSIGN_OR_RETURN_API(
        auto page,
        c.Get<api::LogPage>(kBase + "/" + UrlEncode(id) + "/logs?after=" + std::to_string(after)));
    for (const auto& line : page.items) {
      if (stream.empty() || line.stream == stream) s.out() << line.text;
    }
    s.out().flush();
    if (page.items.empty()) return after;
    after = page.next_after;
  }
}

void AddJobActions(CLI::App& jobs, Session& s, Action& action) {
  for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
           {"cancel", "cancel a job (a running one gets SIGTERM, then SIGKILL after its grace)"},
           {"hold", "hold a pending job"},
           {"release", "release a held job into the queue"},
           {"requeue", "queue a job again (a running one is stopped first)"}}) {
    auto id = std::make_shared<std::string>();
    auto* cmd = jobs.add_subcommand(name, help);
    cmd->add_option("ID", *id)->required();
    cmd->callback([&s, &action, id, name] {
      action = [&s, id, name] {
        return s.WithClient([&](ApiClient& c, OutputFormat f) {
          return Rendered(
              c.Post<api::Job>(kBase + "/" + UrlEncode(*id) + "/" + name, boost::json::object{}),
              f);
        });
      };
    });
  }
}

}  // namespace

void AddJobCommands(CLI::App& app, Session& s, Action& action) {
  auto* jobs =
      app.add_subcommand("jobs", "batch jobs: submit, list, follow, cancel")->require_subcommand(1);

  struct SubmitFlags {
    std::string project, name, deadline, start_after, reservation;
    JobFlags job;
    std::vector<std::string> after, after_any, after_failure, command;
    bool hold = false, wait = false, quiet = false;
  };
  auto f = std::make_shared<SubmitFlags>();
  auto* submit = jobs->add_subcommand("submit", "submit a job: hangar jobs submit [flags] -- CMD…");
  submit->add_option("--project", f->project, "project id or name (default $HANGAR_PROJECT)");
  submit->add_option("--name", f->name, "a name for people (default: the program's name)");
  AddJobFlags(*submit, f->job, "the job's");
  submit->add_option("--deadline", f->deadline, "RFC 3339: schedule earliest-deadline first");
  submit->add_option("--start-after", f->start_after, "RFC 3339: not before this time");
  submit->add_option("--reservation", f->reservation,
                     "run in this reservation of the project (rsv_…): on its GPUs, in its window");
  submit->add_option("--after", f->after, "start after this job succeeded (repeatable)");
  submit->add_option("--after-any", f->after_any, "start after this job ended (repeatable)");
  submit->add_option("--after-failure", f->after_failure, "start if this job failed");
  submit->add_flag("--hold", f->hold, "submit held: it starts once released");
  submit->add_flag("--wait", f->wait, "wait until it has finished; exit 1 unless it succeeded");
  submit->add_flag("-q,--quiet", f->quiet, "print only the job id");
  submit->add_option("COMMAND", f->command, "the program and its arguments (after --)")->required();
  submit->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::SubmitJobRequest req{.command = f->command};
      req.project = f->project;
      if (req.project.empty()) req.project = s.env()("HANGAR_PROJECT").value_or("");
      if (req.project.empty()) {
        return s.Usage(
            Error::Invalid("no project given").Hint("pass --project NAME or set HANGAR_PROJECT"));
      }
      if (!f->name.empty()) req.name = f->name;
      if (auto applied = ApplyJobFlags(f->job, req); !applied) return s.Usage(applied.error());
      if (!f->deadline.empty()) req.deadline = f->deadline;
      if (!f->start_after.empty()) req.start_after = f->start_after;
      if (!f->reservation.empty()) req.reservation = f->reservation;
      std::vector<api::JobDependency> deps;
      for (const auto& [list, condition] :
           {std::pair{&f->after, api::DependencyCondition::after_ok},
            std::pair{&f->after_any, api::DependencyCondition::after_any},
            std::pair{&f->after_failure, api::DependencyCondition::after_failure}}) {
        for (const auto& id : *list) deps.push_back({.job = id, .condition = condition});
      }
      if (!deps.empty()) req.dependencies = deps;
      if (f->hold) req.hold = true;
      int exit_code = kExitOk;
      int rc = s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto job, c.Post<api::Job>(kBase, req));
        if (f->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(job, WaitForEnd(s, c, job.id));
          if (job.state != api::JobState::succeeded) exit_code = kExitError;
        }
        if (f->quiet) return job.id + "\n";
        return RenderOne(job, format);
      });
      return rc != kExitOk ? rc : exit_code;
    };
  });

  struct ListFlags {
    std::string state, project, array;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = jobs->add_subcommand("list", "list the jobs you can see, newest first");
  list->add_option("--state", lf->state, "only jobs in this state (pending, running, …)");
  list->add_option("--project", lf->project, "only jobs of this project id");
  list->add_option("--array", lf->array, "only the jobs of this array (its first job's id)");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        std::string q = "&sort=-created_at" + Param("state", lf->state) +
                        Param("project_id", lf->project) + Param("array_id", lf->array);
        return Rendered(ListAll<api::JobList>(c, kBase, q, lf->limit), format);
      });
    };
  });

  auto get_id = std::make_shared<std::string>();
  auto* get = jobs->add_subcommand("get", "show a job: state, placement, exit, why it waits");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Job>(kBase + "/" + UrlEncode(*get_id)), format);
      });
    };
  });

  AddJobActions(*jobs, s, action);

  struct LogFlags {
    std::string id, stream;
    bool follow = false;
  };
  auto gf = std::make_shared<LogFlags>();
  auto* logs = jobs->add_subcommand("logs", "print a job's output (stdout and stderr)");
  logs->add_option("ID", gf->id)->required();
  logs->add_flag("-f,--follow", gf->follow,
                 "keep printing as the job prints, until it has finished (Server-Sent Events)");
  logs->add_option("--stream", gf->stream, "only stdout or stderr")
      ->check(CLI::IsMember({"stdout", "stderr"}));
  logs->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        if (gf->follow)
          return FollowLogs(s, c, kBase + "/" + UrlEncode(gf->id) + "/logs", gf->stream);
        auto printed = PrintLogs(s, c, gf->id, 0, gf->stream);
        if (!printed) return std::unexpected(std::move(printed).error());
        return std::string();
      });
    };
  });
}

}  // namespace hangar::cli
