// Recurring job commands: schedules create|list|get|pause|resume|trigger|delete. Each maps onto
// one route of routes/schedule_routes.cc (docs/cli.md).
#include <memory>

#include "cli/job_flags.h"
#include "cli/session.h"

namespace hangar::cli {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

namespace {

const std::string kBase = "/api/v1/schedules";

// The flags of `schedules create`: the timetable, then the job as `jobs submit` takes it.
struct CreateFlags {
  std::string name, project, cron, zone = "UTC", missed, concurrency, deadline;
  bool suspended = false;
  std::string job_name;
  JobFlags job;
  std::vector<std::string> command;
};

// The request from the flags; kInvalidArgument naming the flag at fault.
Result<api::CreateScheduleRequest> CreateRequestOf(const CreateFlags& f, Session& s) {
  api::CreateScheduleRequest req{.project = f.project, .name = f.name, .cron = f.cron};
  if (req.project.empty()) req.project = s.env()("HANGAR_PROJECT").value_or("");
  if (req.project.empty()) {
    return std::unexpected(
        Error::Invalid("no project given").Hint("pass --project NAME or set HANGAR_PROJECT"));
  }
  req.time_zone = f.zone;
  if (!f.missed.empty()) {
    auto p = json::EnumFromName<api::MissedRunPolicy>(f.missed);
    if (!p) return std::unexpected(Error::Invalid("--missed must be skip or run_once"));
    req.missed_runs = *p;
  }
  if (!f.concurrency.empty()) {
    auto p = json::EnumFromName<api::ConcurrencyPolicy>(f.concurrency);
    if (!p) return std::unexpected(Error::Invalid("--concurrency must be allow or forbid"));
    req.concurrency = *p;
  }
  if (!f.deadline.empty()) {
    HANGAR_ASSIGN_OR_RETURN(req.starting_deadline_seconds, ParseDurationSeconds(f.deadline));
  }
  if (f.suspended) req.suspended = true;
  api::JobTemplate& job = req.job;
  job.command = f.command;
  if (!f.job_name.empty()) job.name = f.job_name;
  HANGAR_TRY(ApplyJobFlags(f.job, job));
  return req;
}

void AddCreate(CLI::App& schedules, Session& s, Action& action) {
  auto f = std::make_shared<CreateFlags>();
  auto* cmd = schedules.add_subcommand(
      "create", "create a recurring job: hangar schedules create NAME --cron EXPR [flags] -- CMD…");
  cmd->add_option("NAME", f->name, "the schedule's name, unique in the project")->required();
  cmd->add_option("--cron", f->cron, "five fields or a macro: \"0 2 * * *\", @hourly")->required();
  cmd->add_option("--tz", f->zone, "IANA time zone the cron is read in (default UTC)");
  cmd->add_option("--project", f->project, "project id or name (default $HANGAR_PROJECT)");
  cmd->add_option("--missed", f->missed, "runs missed while down: run_once (default) or skip");
  cmd->add_option("--concurrency", f->concurrency,
                  "allow (default) or forbid: skip a run while the previous job is unfinished");
  cmd->add_option("--deadline", f->deadline,
                  "how late a run may still start, e.g. 5m (default); later is missed");
  cmd->add_flag("--suspended", f->suspended, "create it suspended (resume starts it)");
  cmd->add_option("--job-name", f->job_name, "the jobs' name (default: the schedule's)");
  AddJobFlags(*cmd, f->job, "the jobs'");
  cmd->add_option("COMMAND", f->command, "the program and its arguments (after --)")->required();
  cmd->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      auto req = CreateRequestOf(*f, s);
      if (!req) return s.Usage(req.error());
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::Schedule>(kBase, *req), format);
      });
    };
  });
}

// pause and resume: a merge patch of `suspended`.
void AddSuspend(CLI::App& schedules, Session& s, Action& action, const std::string& verb,
                bool suspended, const std::string& help) {
  auto id = std::make_shared<std::string>();
  auto* cmd = schedules.add_subcommand(verb, help);
  cmd->add_option("ID", *id)->required();
  cmd->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Patch<api::Schedule>(kBase + "/" + UrlEncode(*id),
                                               api::UpdateScheduleRequest{.suspended = suspended}),
                        format);
      });
    };
  });
}

}  // namespace

void AddScheduleCommands(CLI::App& app, Session& s, Action& action) {
  auto* schedules =
      app.add_subcommand("schedules", "recurring jobs: a cron expression and the job it submits")
          ->require_subcommand(1);
  AddCreate(*schedules, s, action);

  struct ListFlags {
    std::string project;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = schedules->add_subcommand("list", "list the schedules you can see");
  list->add_option("--project", lf->project, "only this project's (id)");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto items, ListAll<api::ScheduleList>(
                            c, kBase, "&sort=name" + Param("project_id", lf->project), lf->limit));
        return Render(items, format);
      });
    };
  });

  auto get_id = std::make_shared<std::string>();
  auto* get = schedules->add_subcommand("get", "show a schedule: its next runs, its latest run");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Schedule>(kBase + "/" + UrlEncode(*get_id)), format);
      });
    };
  });

  AddSuspend(*schedules, s, action, "pause", true, "suspend a schedule: no runs until resumed");
  AddSuspend(*schedules, s, action, "resume", false,
             "resume a schedule from now (runs passed while paused are not run)");

  auto trigger_id = std::make_shared<std::string>();
  auto* trigger = schedules->add_subcommand("trigger", "run a schedule's job now (prints the job)");
  trigger->add_option("ID", *trigger_id)->required();
  trigger->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::Job>(kBase + "/" + UrlEncode(*trigger_id) + "/trigger",
                                         boost::json::object{}),
                        format);
      });
    };
  });

  auto delete_id = std::make_shared<std::string>();
  auto* del = schedules->add_subcommand("delete", "delete a schedule (its jobs stay)");
  del->add_option("ID", *delete_id)->required();
  del->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        auto res = c.Delete(kBase + "/" + UrlEncode(*delete_id));
        if (!res) return std::unexpected(std::move(res).error());
        return Msg("schedule " + *delete_id + " deleted");
      });
    };
  });
}

}  // namespace hangar::cli
