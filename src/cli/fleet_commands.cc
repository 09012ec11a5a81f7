// Fleet commands: what operators run against the hardware.
//
//   gpus list|get|top        the GPU inventory, and a live nvidia-smi-like view of every GPU
//   nodes list|get           nodes, with cordon reason, drain progress and taints
//   nodes cordon|uncordon    keep new work off a node, or let it back (PATCH, merge patch)
//   nodes drain              cordon and move the work off (POST …/drain), --wait until empty
//   nodes taint|label        edit a node's taints and labels
//
// Each maps onto a route of routes/fleet_routes.cc or routes/metric_routes.cc (docs/cli.md,
// "Fleet"). NODE arguments take a node id (node_…) or a node's name.
#include <csignal>
#include <memory>

#include "cli/session.h"

namespace hangar::cli {

using client::ApiClient;
using client::ApiResult;
using client::UrlEncode;

namespace {

const std::string kNodes = "/api/v1/nodes";
const std::string kGpus = "/api/v1/gpus";

// How long `nodes drain --wait` waits between looks at the node.
constexpr std::chrono::seconds kDrainPollInterval{2};

// The path of the node `name_or_id` stands for.
ApiResult<std::string> NodePath(ApiClient& c, const std::string& name_or_id) {
  HANGAR_ASSIGN_OR_RETURN_API(auto id,
                              ResolveId<api::NodeList>(c, kNodes, "node", "node", name_or_id));
  return kNodes + "/" + UrlEncode(id);
}

// ---- gpus top
// ------------------------------------------------------------------------------------

// Set by SIGINT while `gpus top` runs: Ctrl-C ends the refresh loop between frames, so the
// command exits 0 with a whole frame on screen instead of dying in the middle of one. A signal
// handler can only reach a global; this is the only one and InterruptScope owns it.
volatile std::sig_atomic_t g_interrupted = 0;

// Routes SIGINT to g_interrupted for its lifetime and restores the previous handler afterwards.
// SA_RESETHAND: a second Ctrl-C (say, while a request hangs) ends the process the usual way.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction on_interrupt {};
    on_interrupt.sa_handler = [](int) { g_interrupted = 1; };
    on_interrupt.sa_flags = SA_RESETHAND;
    sigemptyset(&on_interrupt.sa_mask);
    ::sigaction(SIGINT, &on_interrupt, &previous_);
  }
  ~InterruptScope() { ::sigaction(SIGINT, &previous_, nullptr); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  bool interrupted() const { return g_interrupted != 0; }

 private:
  struct sigaction previous_ {};
};

// Moves the cursor home and clears the screen, so each frame replaces the last.
constexpr std::string_view kClearScreen = "\x1b[H\x1b[2J";

struct TopFlags {
  std::string interval = "2s";
  std::string node;
  bool once = false;
};

std::vector<api::GpuLive> OnNode(std::vector<api::GpuLive> gpus, const std::string& node) {
  if (node.empty()) return gpus;
  std::erase_if(gpus,
                [&](const api::GpuLive& g) { return g.node_name != node && g.node_id != node; });
  return gpus;
}

// The refresh loop. Frames go straight to the output stream (the command's result is empty).
// A failed first fetch fails the command like any other; a later one keeps the last frame on
// screen under a line saying what went wrong, since a monitor should ride out a server restart.
ApiResult<std::string> RunTop(Session& s, ApiClient& c, const TopFlags& f, int64_t interval_s) {
  bool redraw = s.StdoutIsTerminal() && !f.once;
  InterruptScope interrupt;
  std::string last_frame;
  for (bool first = true;; first = false) {
    auto live = c.Get<api::GpuLiveList>(kGpus + "/live");
    if (!live && first) return std::unexpected(std::move(live).error());
    auto now = std::chrono::floor<std::chrono::seconds>(s.clock().Now());
    std::string as_of = FormatRfc3339(std::chrono::time_point_cast<Micros>(now));
    std::string frame;
    if (live) {
      last_frame = RenderGpuTop(OnNode(std::move(live->items), f.node), as_of);
      frame = last_frame;
    } else {
      frame =
          "refresh failed at " + as_of + ": " + live.error().error.message() + "\n" + last_frame;
    }
    if (redraw) {
      s.out() << kClearScreen;
    } else if (!first) {
      s.out() << "\n";
    }
    s.out() << frame << std::flush;
    if (f.once) break;
    for (int64_t waited = 0; waited < interval_s && !interrupt.interrupted(); ++waited) {
      s.Sleep(std::chrono::seconds(1));
    }
    if (interrupt.interrupted()) break;
  }
  return std::string();
}

void AddGpuCommands(CLI::App& app, Session& s, Action& action) {
  auto* gpus = app.add_subcommand("gpus", "GPUs of the fleet")->require_subcommand(1);

  struct ListFlags {
    int64_t limit = 0;
    std::string state, node, type, sort;
  };
  auto lf = std::make_shared<ListFlags>();
  auto* list = gpus->add_subcommand("list", "list GPUs (all pages)");
  list->add_option("--limit", lf->limit, "show at most N GPUs");
  list->add_option("--state", lf->state, "ready, unhealthy or unreachable");
  list->add_option("--node", lf->node, "only GPUs of this node id");
  list->add_option("--gpu-type", lf->type, "only GPUs of this type");
  list->add_option("--sort", lf->sort,
                   "sort order, as the API accepts it (default: node_id,index)");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        std::string q = Param("state", lf->state) + Param("node_id", lf->node) +
                        Param("gpu_type", lf->type) +
                        Param("sort", lf->sort.empty() ? "node_id,index" : lf->sort);
        return Rendered(ListAll<api::GpuList>(c, kGpus, q, lf->limit), f);
      });
    };
  });

  auto get_id = std::make_shared<std::string>();
  auto* get = gpus->add_subcommand("get", "show one GPU");
  get->add_option("ID", *get_id)->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(c.Get<api::Gpu>(kGpus + "/" + UrlEncode(*get_id)), f);
      });
    };
  });

  auto tf = std::make_shared<TopFlags>();
  auto* top = gpus->add_subcommand(
      "top", "every GPU's latest utilisation, memory, temperature, power and holder, refreshed");
  top->add_option("--interval", tf->interval, "time between refreshes: 2s (default), 10s, 1m");
  top->add_option("--node", tf->node, "only the GPUs of this node (name or id)");
  top->add_flag("--once", tf->once, "print one frame and exit");
  top->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      auto interval = ParseDurationSeconds(tf->interval);
      if (!interval) return s.Usage(interval.error());
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        if (f == OutputFormat::kTable) return RunTop(s, c, *tf, *interval);
        // JSON and YAML are for scripts: one snapshot, no refreshing.
        HANGAR_ASSIGN_OR_RETURN_API(auto live, c.Get<api::GpuLiveList>(kGpus + "/live"));
        return RenderTree(OnNode(std::move(live.items), tf->node), f);
      });
    };
  });
}

// ---- nodes
// ---------------------------------------------------------------------------------------

// Polls the node until no workload runs on it; progress lines go to stderr. A drain that ends
// while work remains (someone uncordoned the node) ends the wait as a failure.
ApiResult<api::Node> WaitUntilDrained(Session& s, ApiClient& c, const std::string& path,
                                      api::Node node) {
  int64_t last_running = -1;
  while (true) {
    if (node.workloads_running != last_running) {
      last_running = node.workloads_running;
      s.err() << "node " << node.name << ": "
              << (last_running == 0
                      ? std::string("drained, no workloads running")
                      : "draining, " + std::to_string(last_running) + " workload(s) still running")
              << "\n";
    }
    if (node.workloads_running == 0) return node;
    if (!node.draining && !node.cordoned) {
      return std::unexpected(client::ApiError{
          .error = Error::Conflict("the drain of node " + node.name + " ended with " +
                                   std::to_string(node.workloads_running) +
                                   " workload(s) still running: the node was uncordoned"),
          .http_status = 409});
    }
    s.Sleep(kDrainPollInterval);
    HANGAR_ASSIGN_OR_RETURN_API(node, c.Get<api::Node>(path));
  }
}

// "key", "key=value" or either with ":Effect" (only NoSchedule exists so far).
Result<api::NodeTaint> ParseTaint(const std::string& text) {
  api::NodeTaint taint;
  std::string rest = text;
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    taint.effect = rest.substr(colon + 1);
    rest.resize(colon);
  }
  if (auto eq = rest.find('='); eq != std::string::npos) {
    taint.value = rest.substr(eq + 1);
    rest.resize(eq);
  }
  taint.key = rest;
  if (taint.key.empty() || (taint.effect && taint.effect->empty()) ||
      (taint.value && taint.value->empty())) {
    return std::unexpected(Error::Invalid("bad taint '" + text + "'")
                               .Hint("use key, key=value or key=value:NoSchedule"));
  }
  return taint;
}

void AddNodeCommands(CLI::App& app, Session& s, Action& action) {
  auto* nodes =
      app.add_subcommand("nodes", "nodes (hosts running hangar-agent)")->require_subcommand(1);

  auto list_limit = std::make_shared<int64_t>(0);
  auto* list = nodes->add_subcommand("list", "list nodes (all pages)");
  list->add_option("--limit", *list_limit, "show at most N nodes");
  list->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) {
        return Rendered(ListAll<api::NodeList>(c, kNodes, "", *list_limit), f);
      });
    };
  });

  auto get_node = std::make_shared<std::string>();
  auto* get = nodes->add_subcommand("get", "show one node");
  get->add_option("NODE", *get_node, "node id or name")->required();
  get->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, *get_node));
        return Rendered(c.Get<api::Node>(path), f);
      });
    };
  });

  struct CordonFlags {
    std::string node, reason;
  };
  auto cf = std::make_shared<CordonFlags>();
  auto* cordon = nodes->add_subcommand("cordon", "stop placing new work on a node");
  cordon->add_option("NODE", cf->node, "node id or name")->required();
  cordon->add_option("--reason", cf->reason, "why, for other operators (shown by nodes list)");
  cordon->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, cf->node));
        api::UpdateNodeRequest patch{.cordoned = true};
        if (!cf->reason.empty()) patch.cordon_reason = cf->reason;
        return Rendered(c.Patch<api::Node>(path, patch), f);
      });
    };
  });
  auto uncordon_node = std::make_shared<std::string>();
  auto* uncordon = nodes->add_subcommand(
      "uncordon", "allow new work on a node again (also ends a drain in progress)");
  uncordon->add_option("NODE", *uncordon_node, "node id or name")->required();
  uncordon->callback([=, &s, &action] {
    action = [=, &s] {
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, *uncordon_node));
        return Rendered(c.Patch<api::Node>(path, api::UpdateNodeRequest{.cordoned = false}), f);
      });
    };
  });

  struct DrainFlags {
    std::string node, reason, timeout;
    bool wait = false;
  };
  auto df = std::make_shared<DrainFlags>();
  auto* drain = nodes->add_subcommand(
      "drain",
      "cordon a node and move its work off: preemptible work is requeued at once, the rest may "
      "finish (until --timeout)");
  drain->add_option("NODE", df->node, "node id or name")->required();
  drain->add_option("--reason", df->reason, "why, for other operators");
  drain->add_option("--timeout", df->timeout,
                    "stop work still running after this long: 30m, 2h (default: let it finish)");
  drain->add_flag("--wait", df->wait,
                  "wait until no workload runs on the node (progress on stderr)");
  drain->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      api::DrainNodeRequest req;
      if (!df->reason.empty()) req.reason = df->reason;
      if (!df->timeout.empty()) {
        auto timeout = ParseDurationSeconds(df->timeout);
        if (!timeout) return s.Usage(timeout.error());
        req.timeout_seconds = *timeout;
      }
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, df->node));
        HANGAR_ASSIGN_OR_RETURN_API(auto node, c.Post<api::Node>(path + "/drain", req));
        if (df->wait) {
          HANGAR_ASSIGN_OR_RETURN_API(node, WaitUntilDrained(s, c, path, node));
        }
        return RenderOne(node, f);
      });
    };
  });

  struct TaintFlags {
    std::string node;
    std::vector<std::string> add, remove;
  };
  auto xf = std::make_shared<TaintFlags>();
  auto* taint = nodes->add_subcommand(
      "taint", "add or replace taints (key[=value][:NoSchedule]) or remove them (--remove key)");
  taint->add_option("NODE", xf->node, "node id or name")->required();
  taint->add_option("TAINTS", xf->add, "key, key=value or key=value:NoSchedule");
  taint->add_option("--remove", xf->remove, "remove the taint with this key (repeatable)");
  taint->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      if (xf->add.empty() && xf->remove.empty()) {
        return s.Usage(Error::Invalid("no taint given").Hint("name taints to set or --remove KEY"));
      }
      std::vector<api::NodeTaint> additions;
      for (const auto& text : xf->add) {
        auto parsed = ParseTaint(text);
        if (!parsed) return s.Usage(parsed.error());
        additions.push_back(std::move(*parsed));
      }
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, xf->node));
        // The PATCH replaces the whole array: read it, edit it, and send it back under If-Match
        // so that a concurrent edit fails (412) instead of being overwritten.
        HANGAR_ASSIGN_OR_RETURN_API(auto node, c.Get<api::Node>(path));
        std::vector<api::NodeTaint> taints = node.taints;
        auto drop_key = [&](const std::string& key) {
          std::erase_if(taints, [&](const api::NodeTaint& t) { return t.key == key; });
        };
        for (const auto& key : xf->remove) drop_key(key);
        for (const auto& added : additions) {
          drop_key(added.key);
          taints.push_back(added);
        }
        std::vector<std::pair<std::string, std::string>> headers;
        if (!node.etag.empty()) headers.emplace_back("If-Match", node.etag);
        return Rendered(c.Call<api::Node>(client::HttpRequest{
                            .method = "PATCH",
                            .target = path,
                            .body = client::SerializeMergePatch(
                                json::Encode(api::UpdateNodeRequest{.taints = std::move(taints)})),
                            .content_type = "application/merge-patch+json",
                            .headers = std::move(headers)}),
                        f);
      });
    };
  });

  struct LabelFlags {
    std::string node;
    std::vector<std::string> labels;
  };
  auto lf = std::make_shared<LabelFlags>();
  auto* label = nodes->add_subcommand("label", "set (k=v) or remove (k-) node labels");
  label->add_option("NODE", lf->node, "node id or name")->required();
  label->add_option("LABELS", lf->labels, "k=v to set, k- to remove")->required();
  label->callback([=, &s, &action] {
    action = [=, &s]() -> int {
      std::map<std::string, std::optional<std::string>> changes;
      for (const auto& l : lf->labels) {
        auto eq = l.find('=');
        if (eq != std::string::npos && eq > 0) {
          changes[l.substr(0, eq)] = l.substr(eq + 1);
        } else if (l.size() > 1 && l.back() == '-' && eq == std::string::npos) {
          changes[l.substr(0, l.size() - 1)] = std::nullopt;
        } else {
          return s.Usage(Error::Invalid("bad label '" + l + "'")
                             .Hint("use key=value to set a label and key- to remove it"));
        }
      }
      return s.WithClient([&](ApiClient& c, OutputFormat f) -> ApiResult<std::string> {
        HANGAR_ASSIGN_OR_RETURN_API(auto path, NodePath(c, lf->node));
        return Rendered(c.Patch<api::Node>(path, api::UpdateNodeRequest{.labels = changes}), f);
      });
    };
  });
}

}  // namespace

void AddFleetCommands(CLI::App& app, Session& s, Action& action) {
  AddGpuCommands(app, s, action);
  AddNodeCommands(app, s, action);
}

}  // namespace hangar::cli
