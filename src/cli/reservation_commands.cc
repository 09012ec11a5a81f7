// Advance reservation commands: reservations create|list|get|cancel|calendar. Each maps onto one
// route of routes/reservation_routes.cc (docs/cli.md, docs/reservations.md).
#include <memory>

#include "cli/session.h"

namespace hangar::cli {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

namespace {

const std::string kBase = "/api/v1/reservations";

// An RFC 3339 time as given, or "+DURATION" (+2h, +30m) from now on this machine's clock.
Result<std::string> TimeFlag(const std::string& text, std::string_view flag, Session& s) {
  return ParseTimeFlag(text, flag, s.clock().Now());
}

void AddCreate(CLI::App& reservations, Session& s, Action& action) {
  struct Flags {
    std::string project, name, gpu_type, start, end, duration, description;
    int64_t gpus = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = reservations.add_subcommand(
      "create",
      "book GPUs for a window: hangar reservations create --gpu-type T --gpus N "
      "--start TIME (--end TIME | --duration 4h)");
  cmd->add_option("--project", f->project, "project id or name (default $HANGAR_PROJECT)");
  cmd->add_option("--gpu-type", f->gpu_type, "a catalogue GPU type, e.g. H100-80GB")->required();
  cmd->add_option("--gpus", f->gpus, "how many GPUs")->required();
  cmd->add_option("--start", f->start, "RFC 3339, or +DURATION from now (+2h)")->required();
  cmd->add_option("--end", f->end, "RFC 3339, or +DURATION from now");
  cmd->add_option("--duration", f->duration, "the window's length instead of --end: 4h, 2d");
  cmd->add_option("--name", f->name, "a name for people (default <gpus>x<type>)");
  cmd->add_option("--description", f->description, "what it is for");
  cmd->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::CreateReservationRequest req{
          .project = f->project, .gpu_type = f->gpu_type, .gpus = f->gpus};
      if (req.project.empty()) req.project = s.env()("HANGAR_PROJECT").value_or("");
      if (req.project.empty()) {
        return s.Usage(
            Error::Invalid("no project given").Hint("pass --project NAME or set HANGAR_PROJECT"));
      }
      if (f->end.empty() == f->duration.empty()) {
        return s.Usage(Error::Invalid("give exactly one of --end and --duration"));
      }
      auto start = TimeFlag(f->start, "--start", s);
      if (!start) return s.Usage(start.error());
      req.start_at = *start;
      if (!f->duration.empty()) {
        auto begin = ParseRfc3339(req.start_at);
        auto length = ParseDurationSeconds(f->duration);
        if (!begin) return s.Usage(Error::Invalid("--start must be an RFC 3339 time"));
        if (!length) return s.Usage(length.error());
        req.end_at = FormatRfc3339(*begin + std::chrono::seconds(*length));
      } else {
        auto end = TimeFlag(f->end, "--end", s);
        if (!end) return s.Usage(end.error());
        req.end_at = *end;
      }
      if (!f->name.empty()) req.name = f->name;
      if (!f->description.empty()) req.description = f->description;
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::Reservation>(kBase, req), format);
      });
    };
  });
}

}  // namespace

void AddReservationCommands(CLI::App& app, Session& s, Action& action) {
  auto* reservations =
      app.add_subcommand("reservations", "advance reservations: GPUs booked for a future window")
          ->require_subcommand(1);
  AddCreate(*reservations, s, action);

  struct ListFlags {
    std::string project, gpu_type;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = reservations->add_subcommand("list", "list the reservations you can see");
  list->add_option("--project", lf->project, "only this project's (id)");
  list->add_option("--gpu-type", lf->gpu_type, "only of this GPU type");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto items,
            ListAll<api::ReservationList>(c, kBase,
                                          "&sort=start_at" + Param("project_id", lf->project) +
                                              Param("gpu_type", lf->gpu_type),
                                          lf->limit));
        return Render(items, format);
      });
    };
  });

  auto get_id = std::make_shared<std::string>();
  auto* get = reservations->add_subcommand("get", "show a reservation and its set-aside GPUs");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Reservation>(kBase + "/" + UrlEncode(*get_id)), format);
      });
    };
  });

  auto cancel_id = std::make_shared<std::string>();
  auto* cancel = reservations->add_subcommand(
      "cancel", "cancel a reservation: its GPUs are free at once, its running work goes on");
  cancel->add_option("ID", *cancel_id)->required();
  cancel->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        auto res = c.Delete(kBase + "/" + UrlEncode(*cancel_id));
        if (!res) return std::unexpected(std::move(res).error());
        return Msg("reservation " + *cancel_id + " cancelled");
      });
    };
  });

  struct CalendarFlags {
    std::string gpu_type, from, to;
  };
  auto cf = std::make_shared<CalendarFlags>();
  auto* calendar = reservations->add_subcommand(
      "calendar", "what is booked when, per GPU type (default: the next 7 days)");
  calendar->add_option("--gpu-type", cf->gpu_type, "one GPU type (default every type)");
  calendar->add_option("--from", cf->from, "RFC 3339 or +DURATION (default now)");
  calendar->add_option("--to", cf->to, "RFC 3339 or +DURATION (default 7 days after --from)");
  calendar->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      auto from = TimeFlag(cf->from, "--from", s);
      if (!from) return s.Usage(from.error());
      auto to = TimeFlag(cf->to, "--to", s);
      if (!to) return s.Usage(to.error());
      std::string query = Param("gpu_type", cf->gpu_type) + Param("from", *from) + Param("to", *to);
      if (!query.empty()) query[0] = '?';
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::ReservationCalendar>(kBase + "/calendar" + query), format);
      });
    };
  });
}

}  // namespace hangar::cli
