// hangar-sim: replays cluster traces against Hangar's scheduling core in virtual time, to measure
// placement quality without a cluster. Composition root only: parse the command line, read the
// trace, build the cluster, run the experiment (packing.h), print the tables. docs/simulator.md
// is the user's guide.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "cluster.h"
#include "packing.h"
#include "scheduling/placement.h"
#include "trace.h"

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
    {"fgd (not in hangar-sim)", 95.23, 95.39},
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
  pack_cmd->add_option("--policy", pack.policies, "best-fit, random, or both: best-fit,random")
      ->delimiter(',')
      ->capture_default_str();
  pack_cmd
      ->add_option("--sampling", pack.sampling,
                   "fgd: the trace shuffled, topped up by draws with replacement (as the Go "
                   "simulator); iid: draws with replacement only")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (pack_cmd->parsed()) return hangar::sim::RunPack(pack);
  return 1;
}
