// GPU instance commands: provision (= instances create), instances list|get|start|stop|resize|
// extend|snapshot|clone|migrate|terminate|logs, snapshots list|get|delete, and quota / quota set /
// quota request. Each maps onto one route of routes/instance_routes.cc or
// routes/quota_routes.cc (docs/cli.md).
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

const std::string kBase = "/api/v1/instances";

// Polls the instance until `done` says it has arrived; progress lines go to stderr. States
// that cannot lead there end the wait as a failure.
ApiResult<api::Instance> WaitFor(Session& s, ApiClient& c, const std::string& id,
                                 api::InstanceState target) {
  std::string last;
  while (true) {
    HANGAR_ASSIGN_OR_RETURN_API(auto inst, c.Get<api::Instance>(kBase + "/" + UrlEncode(id)));
    std::string line(json::EnumName(inst.state));
    if (inst.queue) line += ": " + inst.queue->message;
    if (inst.state == api::InstanceState::running && inst.node_id) line += " on " + *inst.node_id;
    if (line != last) {
      s.err() << id << " " << line << "\n";
      last = line;
    }
    if (inst.state == target) return inst;
    bool dead_end =
        inst.state == api::InstanceState::terminated ||
        (target == api::InstanceState::running &&
         (inst.state == api::InstanceState::stopped || inst.state == api::InstanceState::failed));
    if (dead_end) {
      return std::unexpected(client::ApiError{
          .error = Error::Conflict("instance " + id + " is " +
                                   std::string(json::EnumName(inst.state)) + ", not " +
                                   std::string(json::EnumName(target)) + ": " + inst.state_message),
          .http_status = 409});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// --overage-grace: a duration as ParseDurationSeconds takes it, or zero ("0", "0s", "0m":
// reclaim at once).
Result<int64_t> ParseOverageGrace(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && std::string_view("smhd").find(digits.back()) != std::string_view::npos) {
    digits.remove_suffix(1);
  }
  if (!digits.empty() && digits.find_first_not_of('0') == std::string_view::npos) return 0;
  return ParseDurationSeconds(text);
}

// What `hangar quota request` prints: the approval, and how to follow it.
std::string QuotaRequested(const api::Approval& a, OutputFormat format) {
  if (format != OutputFormat::kTable) return RenderTree(a, format);
  std::string what = a.reasons.empty() ? "" : ": " + a.reasons.front();
  return a.id + " " + std::string(json::EnumName(a.state)) + what + "\n" +
         "check it: hangar approvals get " + a.id + " (someone holding quotas:approve on " +
         a.scope_id + " decides)\n";
}

// `hangar quota request SCOPE [--gpus N] [--limit N] [--per-user N] [--weight N]
// [--overage-grace D] --reason TEXT`.
void AddQuotaRequest(CLI::App& quota, Session& s, Action& action) {
  struct Flags {
    std::string scope, reason, overage_grace;
    int64_t gpus = 0, limit = 0, per_user = 0, weight = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = quota.add_subcommand(
      "request", "ask for the quota of a team or project to change (someone approves it)");
  cmd->add_option("SCOPE", f->scope, "a team (team_…) or project (proj_…) id")->required();
  auto* o_gpus = cmd->add_option("--gpus", f->gpus, "guaranteed GPUs asked for");
  auto* o_limit = cmd->add_option("--limit", f->limit, "GPU limit asked for");
  auto* o_per_user =
      cmd->add_option("--per-user", f->per_user, "per-user GPU limit asked for (a project)");
  auto* o_weight = cmd->add_option("--weight", f->weight, "fair-share weight asked for, 1..1000");
  cmd->add_option("--overage-grace", f->overage_grace,
                  "overage grace asked for (10m, 1h; 0: reclaim at once)");
  cmd->add_option("--reason", f->reason, "why, for the approver")->required();
  cmd->callback([=, &s, &action] {
    action = [=, &s] {
      // Only the flags given: the others stay as they are.
      api::QuotaChangeRequest req{.scope_id = f->scope, .reason = f->reason};
      if (o_gpus->count() > 0) req.gpus = f->gpus;
      if (o_limit->count() > 0) req.gpu_limit = f->limit;
      if (o_per_user->count() > 0) req.gpu_limit_per_user = f->per_user;
      if (o_weight->count() > 0) req.weight = f->weight;
      if (!f->overage_grace.empty()) {
        auto grace = ParseOverageGrace(f->overage_grace);
        if (!grace) return s.Usage(grace.error());
        req.overage_grace_seconds = *grace;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto body, c.CallRaw(client::HttpRequest{.method = "PUT",
                                                     .target = "/api/v1/quotas/request",
                                                     .body = json::Serialize(req)}));
        auto a = json::ParseAs<api::Approval>(body);
        if (!a) return std::unexpected(client::ApiError::FromError(a.error()));
        return QuotaRequested(*a, format);
      });
    };
  });
}

struct CreateFlags {
  std::string project, name, gpu_type, cuda, lifetime, start_after, priority, snapshot, reservation;
  int64_t gpus = 1, min_memory = 0;
  std::vector<std::string> env, selector, tolerations, command;
  bool dry_run = false, wait = false, quiet = false;
};

// `hangar provision` and `hangar instances create`: the same flags and action.
void AddCreate(CLI::App* cmd, Session& s, Action& action) {
  auto f = std::make_shared<CreateFlags>();
  cmd->add_option("--project", f->project, "project id or name (default $HANGAR_PROJECT)");
  cmd->add_option("--name", f->name, "a name for people (default: <type>x<gpus>)");
  auto* o_gpus = cmd->add_option("--gpus", f->gpus, "GPUs on one node (default 1)");
  cmd->add_option("--gpu-type", f->gpu_type, "a catalogue GPU type, e.g. H100-80GB");
  auto* o_mem = cmd->add_option("--min-gpu-memory", f->min_memory, "MiB of memory per GPU");
  cmd->add_option("--cuda", f->cuda, "the minimum CUDA version the driver must support: 12.2");
  cmd->add_option("--selector", f->selector, "node label KEY=VALUE it needs (repeatable)");
  cmd->add_option("--toleration", f->tolerations,
                  "run on nodes tainted KEY (any value) or KEY=VALUE (repeatable)");
  cmd->add_option("--env", f->env, "KEY=VALUE for the session's environment (repeatable)");
  cmd->add_option("--lifetime", f->lifetime, "the lease: 30m, 8h, 7d (default 8h)");
  cmd->add_option("--start-after", f->start_after, "RFC 3339: not before this time");
  cmd->add_option("--reservation", f->reservation,
                  "run in this reservation of the project (rsv_…): on its GPUs, in its window");
  cmd->add_option("--priority", f->priority, "low, normal or high");
  cmd->add_option("--snapshot", f->snapshot, "start with this snapshot's workspace (id or name)");
  cmd->add_flag("--dry-run", f->dry_run,
                "create nothing: show whether it fits, its price and the expected wait");
  cmd->add_flag("--wait", f->wait, "wait until it is running (progress on stderr)");
  cmd->add_flag("-q,--quiet", f->quiet, "print only the instance id");
  cmd->add_option("COMMAND", f->command,
                  "the session's program and arguments (after --); default: sleep until stopped");
  cmd->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::CreateInstanceRequest req;
      req.project = f->project.empty() ? s.env()("HANGAR_PROJECT").value_or("") : f->project;
      if (req.project.empty()) {
        return s.Usage(
            Error::Invalid("no project given").Hint("pass --project NAME or set HANGAR_PROJECT"));
      }
      if (!f->name.empty()) req.name = f->name;
      api::JobResources res;
      if (o_gpus->count() > 0) res.gpus = f->gpus;
      if (!f->gpu_type.empty()) res.gpu_type = f->gpu_type;
      if (o_mem->count() > 0) res.min_gpu_memory_mib = f->min_memory;
      if (!f->cuda.empty()) res.min_cuda_version = f->cuda;
      req.resources = res;
      auto env = ParsePairs(f->env, "--env");
      if (!env) return s.Usage(env.error());
      if (!env->empty()) req.environment = *env;
      auto selector = ParsePairs(f->selector, "--selector");
      if (!selector) return s.Usage(selector.error());
      if (!selector->empty()) req.node_selector = *selector;
      if (!f->tolerations.empty()) req.tolerations = ParseTolerations(f->tolerations);
      if (!f->lifetime.empty()) {
        auto t = ParseDurationSeconds(f->lifetime);
        if (!t) return s.Usage(t.error());
        req.max_lifetime_seconds = *t;
      }
      if (!f->start_after.empty()) req.start_after = f->start_after;
      if (!f->reservation.empty()) req.reservation = f->reservation;
      if (!f->priority.empty()) {
        auto p = json::EnumFromName<api::PriorityClass>(f->priority);
        if (!p) return s.Usage(Error::Invalid("--priority must be low, normal or high"));
        req.priority_class = *p;
      }
      if (!f->command.empty()) req.command = f->command;
      if (!f->snapshot.empty()) req.snapshot = f->snapshot;
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        if (f->dry_run) {
          HANGAR_ASSIGN_OR_RETURN_API(auto estimate,
                                      c.Post<api::InstanceEstimate>(kBase + "?dry_run=true", req));
          return RenderOne(estimate, format);
        }
        HANGAR_ASSIGN_OR_RETURN_API(auto inst, c.Post<api::Instance>(kBase, req));
        if (f->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(inst, WaitFor(s, c, inst.id, api::InstanceState::running));
        }
        if (f->quiet) return inst.id + "\n";
        return RenderOne(inst, format);
      });
    };
  });
}

// start, stop, terminate: a POST without a body, optionally waiting for the state it leads to.
void AddAction(CLI::App& instances, Session& s, Action& action, const std::string& name,
               const std::string& help, api::InstanceState target) {
  struct Flags {
    std::string id;
    bool wait = false;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = instances.add_subcommand(name, help);
  cmd->add_option("ID", f->id)->required();
  cmd->add_flag(
      "--wait", f->wait,
      "wait until it is " + std::string(json::EnumName(target)) + " (progress on stderr)");
  cmd->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto inst, c.Post<api::Instance>(kBase + "/" + UrlEncode(f->id) + "/" + name,
                                             boost::json::object{}));
        if (f->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(inst, WaitFor(s, c, inst.id, target));
        }
        return RenderOne(inst, format);
      });
    };
  });
}

// Polls the snapshot until it is ready (or failed: an error); progress on stderr.
ApiResult<api::Snapshot> WaitForSnapshot(Session& s, ApiClient& c, const std::string& id) {
  std::string last;
  while (true) {
    HANGAR_ASSIGN_OR_RETURN_API(auto snap,
                                c.Get<api::Snapshot>("/api/v1/snapshots/" + UrlEncode(id)));
    std::string line(json::EnumName(snap.state));
    if (line != last) {
      s.err() << id << " " << line << "\n";
      last = line;
    }
    if (snap.state == api::SnapshotState::ready) return snap;
    if (snap.state == api::SnapshotState::failed) {
      return std::unexpected(client::ApiError{
          .error = Error::Conflict("snapshot " + id + " failed: " + snap.state_message),
          .http_status = 409});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// instances snapshot|clone|migrate, and snapshots list|get|delete.
void AddSnapshotCommands(CLI::App& app, CLI::App& instances, Session& s, Action& action) {
  struct SnapshotFlags {
    std::string id, name;
    bool wait = false, quiet = false;
  };
  auto sf = std::make_shared<SnapshotFlags>();
  auto* snapshot = instances.add_subcommand(
      "snapshot", "save the instance's workspace as a named snapshot (on the server)");
  snapshot->add_option("ID", sf->id)->required();
  snapshot->add_option("--name", sf->name, "unique in the project (default <instance>-<suffix>)");
  snapshot->add_flag("--wait", sf->wait, "wait until it is saved (progress on stderr)");
  snapshot->add_flag("-q,--quiet", sf->quiet, "print only the snapshot id");
  snapshot->callback([=, &s, &action] {
    action = [=, &s] {
      api::CreateSnapshotRequest req;
      if (!sf->name.empty()) req.name = sf->name;
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto snap, c.Post<api::Snapshot>(kBase + "/" + UrlEncode(sf->id) + "/snapshot", req));
        if (sf->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(snap, WaitForSnapshot(s, c, snap.id));
        }
        if (sf->quiet) return snap.id + "\n";
        return RenderOne(snap, format);
      });
    };
  });

  struct CloneFlags {
    std::string id, name, snapshot, lifetime;
    bool wait = false, quiet = false;
  };
  auto cf = std::make_shared<CloneFlags>();
  auto* clone = instances.add_subcommand(
      "clone", "a new instance like this one, starting from a snapshot of its workspace");
  clone->add_option("ID", cf->id)->required();
  clone->add_option("--name", cf->name, "the clone's name (default <instance>-clone)");
  clone->add_option("--snapshot", cf->snapshot, "start from this snapshot instead of a new one");
  clone->add_option("--lifetime", cf->lifetime, "the clone's lease: 30m, 8h, 7d");
  clone->add_flag("--wait", cf->wait, "wait until the clone is running (progress on stderr)");
  clone->add_flag("-q,--quiet", cf->quiet, "print only the new instance's id");
  clone->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::CloneInstanceRequest req;
      if (!cf->name.empty()) req.name = cf->name;
      if (!cf->snapshot.empty()) req.snapshot = cf->snapshot;
      if (!cf->lifetime.empty()) {
        auto t = ParseDurationSeconds(cf->lifetime);
        if (!t) return s.Usage(t.error());
        req.max_lifetime_seconds = *t;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto inst, c.Post<api::Instance>(kBase + "/" + UrlEncode(cf->id) + "/clone", req));
        if (cf->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(inst, WaitFor(s, c, inst.id, api::InstanceState::running));
        }
        if (cf->quiet) return inst.id + "\n";
        return RenderOne(inst, format);
      });
    };
  });

  struct MigrateFlags {
    std::string id, node;
    bool wait = false;
  };
  auto mf = std::make_shared<MigrateFlags>();
  auto* migrate = instances.add_subcommand(
      "migrate", "move a running instance to another node, workspace included");
  migrate->add_option("ID", mf->id)->required();
  migrate->add_option("--node", mf->node, "the node to move to (default: Hangar picks one)");
  migrate->add_flag("--wait", mf->wait, "wait until it runs on the new node (progress on stderr)");
  migrate->callback([=, &s, &action] {
    action = [=, &s] {
      api::MigrateInstanceRequest req;
      if (!mf->node.empty()) req.node = mf->node;
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto inst, c.Post<api::Instance>(kBase + "/" + UrlEncode(mf->id) + "/migrate", req));
        if (mf->wait) {
          std::string target = inst.migrating_to_node_id.value_or("");
          // Running again, on the target, with no migration under way.
          while (true) {
            HANGAR_ASSIGN_OR_RETURN_API(inst, WaitFor(s, c, inst.id, api::InstanceState::running));
            if (!inst.migrating_to_node_id && (target.empty() || inst.node_id == target)) break;
            if (inst.state_reason == "migration_failed") {
              return std::unexpected(client::ApiError{.error = Error::Conflict(inst.state_message),
                                                      .http_status = 409});
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        }
        return RenderOne(inst, format);
      });
    };
  });

  auto* snapshots =
      app.add_subcommand("snapshots", "instance workspace snapshots")->require_subcommand(1);
  struct ListFlags {
    std::string instance, project, state;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = snapshots->add_subcommand("list", "list the snapshots you can see, newest first");
  list->add_option("--instance", lf->instance, "only snapshots of this instance");
  list->add_option("--project", lf->project, "only snapshots of this project id");
  list->add_option("--state", lf->state, "pending, ready or failed");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        std::string q = "&sort=-created_at" + Param("instance_id", lf->instance) +
                        Param("project_id", lf->project) + Param("state", lf->state);
        return Rendered(ListAll<api::SnapshotList>(c, "/api/v1/snapshots", q, lf->limit), format);
      });
    };
  });
  auto get_id = std::make_shared<std::string>();
  auto* get = snapshots->add_subcommand("get", "show a snapshot: state, size, checksum");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Snapshot>("/api/v1/snapshots/" + UrlEncode(*get_id)), format);
      });
    };
  });
  auto delete_id = std::make_shared<std::string>();
  auto* del = snapshots->add_subcommand("delete", "delete a snapshot and its archive");
  del->add_option("ID", *delete_id)->required();
  del->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        auto res = c.Delete("/api/v1/snapshots/" + UrlEncode(*delete_id));
        if (!res) return std::unexpected(std::move(res).error());
        return "snapshot " + *delete_id + " deleted\n";
      });
    };
  });
}

}  // namespace

void AddInstanceCommands(CLI::App& app, Session& s, Action& action) {
  AddCreate(app.add_subcommand("provision",
                               "provision a GPU instance (the same as instances create): "
                               "hangar provision --gpus 2 [--dry-run] [-- CMD…]"),
            s, action);
  auto* instances =
      app.add_subcommand("instances", "GPU instances: provision, stop, resize, extend")
          ->require_subcommand(1);
  AddCreate(instances->add_subcommand("create", "provision a GPU instance"), s, action);

  struct ListFlags {
    std::string state, project;
    int64_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = instances->add_subcommand("list", "list the instances you can see, newest first");
  list->add_option("--state", lf->state, "only instances in this state (running, stopped, …)");
  list->add_option("--project", lf->project, "only instances of this project id");
  list->add_option("--limit", lf->limit, "at most this many");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        std::string q =
            "&sort=-created_at" + Param("state", lf->state) + Param("project_id", lf->project);
        return Rendered(ListAll<api::InstanceList>(c, kBase, q, lf->limit), format);
      });
    };
  });

  auto get_id = std::make_shared<std::string>();
  auto* get = instances->add_subcommand("get", "show an instance: state, lease, cost so far");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Get<api::Instance>(kBase + "/" + UrlEncode(*get_id)), format);
      });
    };
  });

  AddAction(*instances, s, action, "start", "start a stopped or failed instance",
            api::InstanceState::running);
  AddAction(*instances, s, action, "stop",
            "stop an instance: its GPUs are released, its workspace kept",
            api::InstanceState::stopped);
  AddAction(*instances, s, action, "terminate", "terminate an instance for good",
            api::InstanceState::terminated);

  struct ResizeFlags {
    std::string id;
    int64_t gpus = 0;
    bool wait = false;
  };
  auto rf = std::make_shared<ResizeFlags>();
  auto* resize = instances->add_subcommand(
      "resize", "change the GPU count (a running instance is stopped and placed again)");
  resize->add_option("ID", rf->id)->required();
  resize->add_option("--gpus", rf->gpus, "the new GPU count")->required();
  resize->add_flag("--wait", rf->wait, "wait until it runs again (when it was running)");
  resize->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto inst, c.Post<api::Instance>(kBase + "/" + UrlEncode(rf->id) + "/resize",
                                             api::ResizeInstanceRequest{.gpus = rf->gpus}));
        bool placed =
            inst.state != api::InstanceState::stopped && inst.state != api::InstanceState::failed;
        if (rf->wait && placed) {
          HANGAR_ASSIGN_OR_RETURN_API(inst, WaitFor(s, c, inst.id, api::InstanceState::running));
        }
        return RenderOne(inst, format);
      });
    };
  });

  struct ExtendFlags {
    std::string id, by;
  };
  auto ef = std::make_shared<ExtendFlags>();
  auto* extend = instances->add_subcommand("extend", "extend a running instance's lease");
  extend->add_option("ID", ef->id)->required();
  extend->add_option("--by", ef->by, "how much longer: 30m, 2h, 1d")->required();
  extend->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      auto seconds = ParseDurationSeconds(ef->by);
      if (!seconds) return s.Usage(seconds.error());
      return s.WithClient([&](ApiClient& c, OutputFormat format) {
        return Rendered(c.Post<api::Instance>(kBase + "/" + UrlEncode(ef->id) + "/extend",
                                              api::ExtendInstanceRequest{.seconds = *seconds}),
                        format);
      });
    };
  });

  AddSnapshotCommands(app, *instances, s, action);

  // ---- quota
  auto* quota = app.add_subcommand("quota", "GPU quotas per team and project, with current use");
  quota->callback([&s, &action, quota] {
    if (quota->get_subcommands().empty()) {
      action = [&s] {
        return s.WithClient([&](ApiClient& c, OutputFormat format) {
          auto list = c.Get<api::QuotaList>("/api/v1/quotas");
          if (!list) return ApiResult<std::string>(std::unexpected(std::move(list).error()));
          return ApiResult<std::string>(Render(list->items, format));
        });
      };
    }
  });
  struct QuotaFlags {
    std::string scope, overage_grace;
    int64_t gpus = 0, limit = 0, per_user = 0, weight = 1;
  };
  auto qf = std::make_shared<QuotaFlags>();
  auto* set = quota->add_subcommand("set", "set the quota of a team (team_…) or project (proj_…)");
  set->add_option("SCOPE", qf->scope, "a team or project id")->required();
  set->add_option("--gpus", qf->gpus, "guaranteed GPUs (idle ones may be borrowed)");
  auto* o_limit = set->add_option("--limit", qf->limit, "at most this many GPUs at once");
  auto* o_per_user = set->add_option(
      "--per-user", qf->per_user, "a project: at most this many GPUs at once per user, 1..limit");
  set->add_option("--weight", qf->weight, "fair-share weight among siblings, 1..1000");
  set->add_option("--overage-grace", qf->overage_grace,
                  "how long running work may stay over the limit before it is preempted (10m, "
                  "1h; 0: at once); without it, never");
  set->callback([=, &s, &action] {
    action = [=, &s] {
      api::SetQuotaRequest req{.gpus = qf->gpus, .weight = qf->weight};
      if (o_limit->count() > 0) req.gpu_limit = qf->limit;
      if (o_per_user->count() > 0) req.gpu_limit_per_user = qf->per_user;
      if (!qf->overage_grace.empty()) {
        auto grace = ParseOverageGrace(qf->overage_grace);
        if (!grace) return s.Usage(grace.error());
        req.overage_grace_seconds = *grace;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat format) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(
            auto body,
            c.CallRaw(client::HttpRequest{.method = "PUT",
                                          .target = "/api/v1/quotas/" + UrlEncode(qf->scope),
                                          .body = json::Serialize(req)}));
        auto q = json::ParseAs<api::Quota>(body);
        if (!q) return std::unexpected(client::ApiError::FromError(q.error()));
        return RenderOne(*q, format);
      });
    };
  });

  AddQuotaRequest(*quota, s, action);

  auto log_id = std::make_shared<std::string>();
  auto log_follow = std::make_shared<bool>(false);
  auto* logs = instances->add_subcommand("logs", "print the session's output");
  logs->add_option("ID", *log_id)->required();
  logs->add_flag("-f,--follow", *log_follow,
                 "keep printing as the session prints, until the instance stops (Server-Sent "
                 "Events)");
  logs->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat) -> ApiResult<std::string> {
        if (*log_follow) return FollowLogs(s, c, kBase + "/" + UrlEncode(*log_id) + "/logs", "");
        int64_t after = 0;
        std::string out;
        while (true) {
          HANGAR_ASSIGN_OR_RETURN_API(auto page,
                                      c.Get<api::LogPage>(kBase + "/" + UrlEncode(*log_id) +
                                                          "/logs?after=" + std::to_string(after)));
          for (const auto& line : page.items) out += line.text;
          if (page.items.empty()) return out;
          after = page.next_after;
        }
      });
    };
  });
}

}  // namespace hangar::cli
