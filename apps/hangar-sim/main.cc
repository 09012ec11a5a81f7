// hangar-sim: replays cluster traces against Hangar's scheduling core in virtual time, to measure
// placement quality and queueing without a cluster. Composition root only: parse the command
// line, read the workload, build the cluster, run the experiment (packing.h for `pack`, replay.h
// for `replay`), print the tables. docs/simulator.md is the user's guide.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cluster.h"
#include "common/markup.h"
#include "packing.h"
#include "replay.h"
#include "scheduling/placement.h"
#include "svg_chart.h"
#include "trace.h"
#include "workload_gen.h"

namespace hangar::sim {
namespace {

int Fail(const Error& error) {
  std::cerr << "hangar-sim: " << error.message() << "\n";
  if (!error.hint().empty()) std::cerr << "hint: " << error.hint() << "\n";
  return 2;
}

// Means over 10 seeds (42-51) published with the FGD paper for openb_pod_list_default at load
// 1.3 (kubernetes-scheduler-simulator, experiments/analysis/expected_results/
// analysis_allo_discrete.csv), in percent of GPU capacity.
struct Published {
  std::string_view policy;
  double at_full;
  double at_end;
};
constexpr Published kPublished[] = {
    {"random", 86.30, 87.47},
    {"best-fit", 92.86, 93.08},
    {"fgd", 95.23, 95.39},
};

struct PackOptions {
  std::string trace;
  std::string seeds = "42-51";
  double load = 1.3;
  std::vector<std::string> policies = {"best-fit"};
  std::string sampling = "fgd";
};

struct Stats {
  double mean = 0;
  double stddev = 0;  // sample standard deviation; 0 for one value
};

Stats Summarise(const std::vector<double>& values) {
  Stats s;
  if (values.empty()) return s;
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(values.size() - 1));
  }
  return s;
}

std::string Percent(std::optional<double> fraction) {
  return fraction ? fmt::format("{:.2f} %", *fraction * 100) : "n/a";
}

int RunPack(const PackOptions& options) {
  if (!(options.load > 0 && options.load <= 10)) {
    return Fail(Error::Invalid(fmt::format("--load {} is outside (0, 10]", options.load)));
  }
  auto seeds = ParseSeeds(options.seeds);
  if (!seeds) return Fail(seeds.error());
  std::vector<Policy> policies;
  for (const std::string& name : options.policies) {
    auto policy = ParsePolicy(name);
    if (!policy) return Fail(policy.error());
    policies.push_back(*policy);
  }
  auto sampling = ParseSampling(options.sampling);
  if (!sampling) return Fail(sampling.error());
  auto pods = ReadTrace(options.trace);
  if (!pods) return Fail(pods.error());

  const scheduling::ClusterSnapshot cluster = OpenbCluster();
  const scheduling::Capacity capacity = scheduling::MeasureCapacity(cluster);
  const auto target =
      static_cast<int64_t>(std::llround(options.load * static_cast<double>(capacity.total_milli)));
  const std::string end_label = fmt::format("alloc @{:.0f}%", options.load * 100);
  fmt::print(
      "hangar-sim pack: {} pods from {}; openb cluster, {} nodes, {} GPUs; load {:.2f} "
      "({} milli-GPU); sampling {}\n\n",
      pods->size(), options.trace, cluster.nodes.size(), capacity.total_milli / 1000, options.load,
      target, SamplingName(*sampling));
  fmt::print(
      "| policy | seed | pods | placed | skipped GPU/CPU | GPU skipped for CPU/mem | CPU pods on "
      "GPU nodes | arrived | alloc @100% | {} | s |\n",
      end_label);
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");

  const auto run_start = std::chrono::steady_clock::now();
  struct Row {
    Policy policy;
    std::vector<double> at_full;
    std::vector<double> at_end;
    double seconds = 0;
  };
  std::vector<Row> rows;
  for (Policy policy : policies) {
    Row row{policy, {}, {}, 0};
    for (uint64_t seed : *seeds) {
      const auto start = std::chrono::steady_clock::now();
      auto order = SampleWorkload(*pods, target, seed, *sampling);
      if (!order) return Fail(order.error());
      auto result = Pack(cluster, *pods, *order, policy, seed);
      if (!result) return Fail(result.error());
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      row.seconds += seconds;
      if (result->allocation_at_full) row.at_full.push_back(*result->allocation_at_full * 100);
      row.at_end.push_back(result->allocation_at_end * 100);
      fmt::print("| {} | {} | {} | {} | {}/{} | {} | {} | {:.2f} % | {} | {} | {:.2f} |\n",
                 PolicyName(policy), seed, result->pods_submitted, result->pods_placed,
                 result->gpu_pods_skipped, result->cpu_pods_skipped,
                 result->gpu_pods_skipped_for_cpu_or_memory, result->cpu_pods_on_gpu_nodes,
                 100.0 * static_cast<double>(result->arrived_milli) /
                     static_cast<double>(result->capacity_milli),
                 Percent(result->allocation_at_full), Percent(result->allocation_at_end), seconds);
      std::fflush(stdout);
    }
    rows.push_back(std::move(row));
  }
  const double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();

  fmt::print(
      "\nMean (sample std dev) over {} seed(s), beside the FGD paper's published means "
      "(openb_pod_list_default, load 1.3, seeds 42-51):\n\n",
      seeds->size());
  fmt::print("| policy | alloc @100% | {} | published @100% | published @130% | s |\n", end_label);
  fmt::print("|---|---:|---:|---:|---:|---:|\n");
  auto published = [](std::string_view policy) -> const Published* {
    for (const Published& p : kPublished) {
      if (p.policy == policy) return &p;
    }
    return nullptr;
  };
  for (const Row& row : rows) {
    const Published* p = published(PolicyName(row.policy));
    Stats full = Summarise(row.at_full);
    Stats end = Summarise(row.at_end);
    fmt::print("| {} | {} | {:.2f} % ({:.2f}) | {} | {} | {:.2f} |\n", PolicyName(row.policy),
               row.at_full.empty() ? std::string("n/a")
                                   : fmt::format("{:.2f} % ({:.2f})", full.mean, full.stddev),
               end.mean, end.stddev, p ? fmt::format("{:.2f} %", p->at_full) : "",
               p ? fmt::format("{:.2f} %", p->at_end) : "", row.seconds);
  }
  for (const Published& p : kPublished) {
    bool ran = false;
    for (const Row& row : rows) ran |= PolicyName(row.policy) == p.policy;
    if (!ran) {
      fmt::print("| {} | | | {:.2f} % | {:.2f} % | |\n", p.policy, p.at_full, p.at_end);
    }
  }
  fmt::print("\nwall time {:.2f} s\n", total_seconds);
  return 0;
}

struct ReplayFlags {
  std::string trace;
  std::string jobs;
  int64_t synthetic = 0;
  uint64_t seed = 1;
  double load = 0;  // 0: keep the workload's own times
  std::vector<std::string> policies = {"fifo", "fifo-easy", "sjf", "hangar"};
  double half_life_days = 7;
  double burst_limit = 1.0;
  double known_fraction = 0.6;
  bool all_known = false;
  double deadline_fraction = 0.1;
  double checkpoint_grace_s = 0;
  double max_duration_s = 0;
  double window_s = 3600;
  double chart_hours = 0;
  double pass_interval_s = 0;
  bool no_skip = false;
  double cluster_fraction = 1.0;
  bool any_gpu_type = false;
  std::string json;
  std::string svg;
};

Micros SecondsToMicros(double s) { return Micros(std::llround(s * 1e6)); }

Result<void> WriteFile(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return {};
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return std::unexpected(Error::Unavailable("cannot write " + path));
  return {};
}

int RunReplay(const ReplayFlags& flags) {
  const int sources = !flags.trace.empty() + !flags.jobs.empty() + (flags.synthetic > 0);
  if (sources != 1) {
    return Fail(Error::Invalid("give exactly one of --trace, --jobs and --synthetic N"));
  }
  if (flags.load < 0 || flags.load > 100) {
    return Fail(Error::Invalid(fmt::format("--load {} is outside [0, 100]", flags.load)));
  }
  if (!(flags.known_fraction >= 0 && flags.known_fraction <= 1) ||
      !(flags.deadline_fraction >= 0 && flags.deadline_fraction <= 1)) {
    return Fail(Error::Invalid("--known-fraction and --deadline-fraction must be in [0, 1]"));
  }
  if (!(flags.burst_limit > 0 && flags.burst_limit <= 1) || !(flags.half_life_days > 0) ||
      !(flags.window_s > 0)) {
    return Fail(
        Error::Invalid("--burst-limit must be in (0, 1], --half-life-days and --window-s above 0"));
  }
  std::vector<ReplayPolicy> policies;
  for (const std::string& name : flags.policies) {
    auto policy = ParseReplayPolicy(name);
    if (!policy) return Fail(policy.error());
    policies.push_back(std::move(*policy));
  }
  if (!(flags.cluster_fraction > 0 && flags.cluster_fraction <= 1)) {
    return Fail(Error::Invalid("--cluster-fraction must be in (0, 1]"));
  }
  // The openb cluster, each node shape's count scaled by --cluster-fraction (rounded; shapes
  // that round to 0 nodes are left out).
  std::vector<NodeShape> shapes(OpenbNodeShapes().begin(), OpenbNodeShapes().end());
  for (NodeShape& shape : shapes) {
    shape.count = static_cast<int32_t>(std::llround(shape.count * flags.cluster_fraction));
  }
  auto built = BuildCluster(shapes, OpenbGpuModels());
  if (!built) return Fail(built.error());
  const scheduling::ClusterSnapshot cluster = std::move(*built);
  const int64_t capacity = scheduling::MeasureCapacity(cluster).total_milli;

  const auto load_start = std::chrono::steady_clock::now();
  JobSet set;
  std::string source;
  if (!flags.trace.empty()) {
    auto pods = ReadTrace(flags.trace);
    if (!pods) return Fail(pods.error());
    auto jobs = FromTrace(*pods, cluster, SecondsToMicros(flags.max_duration_s));
    if (!jobs) return Fail(jobs.error());
    set = std::move(*jobs);
    source = fmt::format(
        "trace {} ({} pods; dropped: {} never ran, {} zero run time, {} CPU-only; {} run times "
        "capped{})",
        flags.trace, pods->size(), set.dropped_never_ran, set.dropped_zero_duration,
        set.dropped_cpu_only, set.capped_durations,
        flags.any_gpu_type ? "; GPU models ignored" : "");
    // A shrunk cluster keeps few nodes of each model (small shapes round to none), so the
    // trace's model constraints would make queues of one model beside idle GPUs of another.
    if (flags.any_gpu_type) {
      for (Job& job : set.jobs) job.request.gpu_types.clear();
    }
  } else if (!flags.jobs.empty()) {
    auto jobs = ReadJobsCsv(flags.jobs);
    if (!jobs) return Fail(jobs.error());
    set = std::move(*jobs);
    source = "jobs " + flags.jobs;
  } else {
    set = GenerateSynthetic(SyntheticOptions{.jobs = flags.synthetic, .seed = flags.seed});
    source = fmt::format("synthetic, {} jobs, seed {}", flags.synthetic, flags.seed);
  }
  const std::optional<double> native_load = OfferedLoad(set, capacity);
  if (flags.load > 0) {
    auto factor = ScaleToLoad(set, capacity, flags.load);
    if (!factor) return Fail(factor.error());
  }
  ApplyRunTimeLimitRule(
      set, flags.all_known ? 1000 : static_cast<int>(std::lround(flags.known_fraction * 1000)));
  ApplyDeadlineRule(set, static_cast<int>(std::lround(flags.deadline_fraction * 1000)));
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  ReplayOptions options;
  options.half_life = SecondsToMicros(flags.half_life_days * 86400);
  options.fairness_window = SecondsToMicros(flags.window_s);
  options.burst_limit_fraction = flags.burst_limit;
  if (flags.checkpoint_grace_s > 0)
    options.checkpoint_grace = SecondsToMicros(flags.checkpoint_grace_s);
  options.pass_interval = SecondsToMicros(flags.pass_interval_s);
  options.skip_passes = !flags.no_skip;
  if (flags.chart_hours > 0) options.chart_end = SecondsToMicros(flags.chart_hours * 3600);

  const double span_h =
      set.jobs.empty()
          ? 0
          : static_cast<double>((set.jobs.back().submit - set.jobs.front().submit).count()) / 3.6e9;
  fmt::print(
      "hangar-sim replay: {}\n{} jobs, {} tenants; openb cluster, {} nodes, {} GPUs; offered "
      "load {} (native {}), arrivals over {:.2f} h; limits known for {}; deadline rule {:.0f} %; "
      "preemption by {}; fair-share half-life {} d; burst limit {:.0f} % of capacity; workload "
      "prepared in {:.2f} s; pass interval {}\n\n",
      source, set.jobs.size(), set.tenants.size(), cluster.nodes.size(), capacity / 1000,
      flags.load > 0 ? fmt::format("{:.2f}", flags.load) : "as given",
      native_load ? fmt::format("{:.4f}", *native_load) : "n/a", span_h,
      flags.all_known ? "all jobs" : fmt::format("{:.0f} % of jobs", flags.known_fraction * 100),
      flags.deadline_fraction * 100,
      options.checkpoint_grace ? fmt::format("checkpoint, {} s grace", flags.checkpoint_grace_s)
                               : "requeue",
      flags.half_life_days, flags.burst_limit * 100, load_seconds,
      flags.pass_interval_s > 0 ? fmt::format("{} s", flags.pass_interval_s) : "none (exact)");

  std::vector<ReplayResult> results;
  for (const ReplayPolicy& policy : policies) {
    auto result = Replay(set, cluster, policy, options);
    if (!result) return Fail(result.error());
    results.push_back(std::move(*result));
  }
  fmt::print("{}", FormatReplayTables(results));
  std::fflush(stdout);
  if (!flags.json.empty()) {
    std::string context = fmt::format(
        R"({{"source": "{}", "jobs": {}, "tenants": {}, "gpus": {}, "load": {}, "seed": {}}})",
        EscapeMarkup(source), set.jobs.size(), set.tenants.size(), capacity / 1000, flags.load,
        flags.seed);
    if (auto written = WriteFile(flags.json, FormatReplayJson(results, context)); !written) {
      return Fail(written.error());
    }
  }
  if (!flags.svg.empty()) {
    std::vector<ChartSeries> series;
    for (ReplayResult& r : results) series.push_back({r.policy, std::move(r.series)});
    std::string title =
        fmt::format("hangar-sim replay: {} jobs, load {}", set.jobs.size(),
                    flags.load > 0 ? fmt::format("{:.2f}", flags.load) : "as given");
    if (auto written = WriteFile(flags.svg, RenderChart(series, title)); !written) {
      return Fail(written.error());
    }
  }
  return 0;
}

}  // namespace
}  // namespace hangar::sim

int main(int argc, char** argv) {
  using hangar::sim::PackOptions;
  CLI::App app{"hangar-sim: replays GPU-cluster traces against Hangar's scheduling core"};
  app.require_subcommand(1);
  PackOptions pack;
  CLI::App* pack_cmd = app.add_subcommand(
      "pack",
      "FGD packing experiment: resampled trace pods arrive on the 1,523-node openb cluster and "
      "never leave; reports the GPU allocation rate at 100 % and at --load of capacity");
  pack_cmd->add_option("--trace", pack.trace, "openb_pod_list_*.csv (alibaba/clusterdata)")
      ->required();
  pack_cmd->add_option("--seeds", pack.seeds, "seeds: 42-51, 7, or a list like 1-3,9")
      ->capture_default_str();
  pack_cmd->add_option("--load", pack.load, "GPU requested, as a multiple of cluster capacity")
      ->capture_default_str();
  pack_cmd
      ->add_option("--policy", pack.policies,
                   "best-fit, fgd, random, or a list: best-fit,fgd,random")
      ->delimiter(',')
      ->capture_default_str();
  pack_cmd
      ->add_option("--sampling", pack.sampling,
                   "fgd: the trace shuffled, topped up by draws with replacement (as the Go "
                   "simulator); iid: draws with replacement only")
      ->capture_default_str();

  hangar::sim::ReplayFlags replay;
  CLI::App* replay_cmd = app.add_subcommand(
      "replay",
      "time-based replay: jobs arrive in virtual time and run for their durations under each "
      "policy (fifo, fifo-easy, sjf, hangar); prints queueing, JCT, allocation and fairness");
  replay_cmd->add_option("--trace", replay.trace, "openb_pod_list_*.csv (alibaba/clusterdata)");
  replay_cmd->add_option("--jobs", replay.jobs, "a job CSV in hangar-sim's format");
  replay_cmd->add_option("--synthetic", replay.synthetic, "generate N synthetic jobs");
  replay_cmd->add_option("--seed", replay.seed, "seed of --synthetic")->capture_default_str();
  replay_cmd
      ->add_option("--load", replay.load,
                   "scale inter-arrival times to this offered load (GPU-time offered per unit of "
                   "time / GPU capacity); 0 keeps the workload's times")
      ->capture_default_str();
  replay_cmd->add_option("--policies", replay.policies, "fifo,fifo-easy,sjf,hangar")
      ->delimiter(',')
      ->capture_default_str();
  replay_cmd->add_option("--half-life-days", replay.half_life_days, "fair-share usage half-life")
      ->capture_default_str();
  replay_cmd
      ->add_option("--burst-limit", replay.burst_limit,
                   "each tenant's burst limit, as a fraction of cluster capacity (hangar)")
      ->capture_default_str();
  replay_cmd
      ->add_option("--known-fraction", replay.known_fraction,
                   "share of jobs declaring a run-time limit (duration rounded up to the hour)")
      ->capture_default_str();
  replay_cmd->add_flag("--all-known", replay.all_known, "every job declares a run-time limit");
  replay_cmd
      ->add_option("--deadline-fraction", replay.deadline_fraction,
                   "share of jobs without one that get a deadline (submit + 2 x duration + 30 min)")
      ->capture_default_str();
  replay_cmd
      ->add_option("--checkpoint-grace", replay.checkpoint_grace_s,
                   "seconds; above 0: victims checkpoint (keep progress) instead of requeueing")
      ->capture_default_str();
  replay_cmd
      ->add_option("--max-duration", replay.max_duration_s,
                   "seconds; above 0: cap trace run times (counted in the header)")
      ->capture_default_str();
  replay_cmd->add_option("--window-s", replay.window_s, "fairness entitlement window, seconds")
      ->capture_default_str();
  replay_cmd->add_option("--chart-hours", replay.chart_hours,
                         "chart time range; 0: twice the arrival span");
  replay_cmd
      ->add_option("--pass-interval", replay.pass_interval_s,
                   "seconds; above 0: scheduling passes only at multiples of this (a cycle)")
      ->capture_default_str();
  replay_cmd
      ->add_option("--cluster-fraction", replay.cluster_fraction,
                   "shrink the openb cluster: each node shape's count times this, rounded")
      ->capture_default_str();
  replay_cmd->add_flag("--any-gpu-type", replay.any_gpu_type,
                       "trace: drop the pods' GPU model constraints (any GPU will do)");
  replay_cmd->add_flag("--no-skip", replay.no_skip,
                       "run a pass after every instant with pending work (for checking the skip)");
  replay_cmd->add_option("--json", replay.json, "write the results as JSON to FILE (- : stdout)");
  replay_cmd->add_option("--svg", replay.svg, "write a chart of queue length and allocation");
  CLI11_PARSE(app, argc, argv);
  if (pack_cmd->parsed()) return hangar::sim::RunPack(pack);
  if (replay_cmd->parsed()) return hangar::sim::RunReplay(replay);
  return 1;
}
