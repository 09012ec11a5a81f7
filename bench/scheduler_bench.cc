// Scheduling core: one full pass at the scale issue 4 names. 1,250 nodes x 8 GPUs (10,000 GPUs,
// 9,000 busy with running work, 60 % of it with run-time limits), 100 projects in 10 teams with
// guarantees, burst limits and weights, 3 priority classes, and 100,000 pending jobs sized like
// the shared Alibaba trace (about 44 % shared-GPU requests, mostly single GPUs, a few 2/4/8-GPU
// jobs) plus 2 % multi-node gangs; 60 % with run-time limits, 5 % with dependencies.
//
// BM_FullPass: the pass with EASY backfill and preemption (the defaults), then without them.
// BM_PreemptionDecision: a cluster full of low-priority work and one high-priority 8-GPU job;
// the pass is dominated by the victim search.
#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <string>

#include "scheduling/placement.h"
#include "scheduling/scheduler.h"

namespace hangar::scheduling {
namespace {

const Timestamp kNow = FromUnixMicros(1'795'000'000'000'000);

// Peak resident memory of this process in MiB (VmHWM), for the memory figure.
double PeakRssMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // A request sized like the trace: 44 % shares, then whole GPUs, 2 % gangs.
  Request TraceLike() {
    Request r;
    int kind = Pick(0, 99);
    if (kind < 44) {
      r.gpu_milli = std::vector<int>{810, 470, 320, 650, 250, 500}[Pick(0, 5)];
    } else if (kind < 96) {
      r.gpus_per_node = std::vector<int>{1, 1, 1, 1, 2, 4, 8}[Pick(0, 6)];
    } else if (kind < 98) {
      r.gpus_per_node = 8;
    } else {
      r.gpus_per_node = 8;
      r.nodes = Pick(2, 4);
    }
    r.cpu_milli = 1000 * Pick(1, 8);
    r.memory_mib = 1024 * Pick(4, 32);
    return r;
  }

 private:
  std::mt19937_64 rng_;
};

struct Options3 {
  int nodes = 1250;
  int busy_gpus = 9000;
  int pending = 100'000;
};

Input Build(const Options3& o, uint64_t seed) {
  Generator gen(seed);
  Input in;
  in.now = kNow;
  in.cluster.gpu_types = {"H100-80GB"};
  for (int n = 0; n < o.nodes; ++n) {
    Node node{.id = "node-" + std::to_string(n),
              .cpu_milli_free = 192'000,
              .memory_mib_free = 2048 * 1024,
              .cuda_version = 12040};
    node.gpus.assign(8, Gpu{.type = 0, .memory_mib = 81920});
    in.cluster.nodes.push_back(std::move(node));
  }
  in.queues.push_back(Queue{.id = "org"});
  for (int t = 0; t < 10; ++t) {
    in.queues.push_back(Queue{.id = "team-" + std::to_string(t),
                              .parent = 0,
                              .guaranteed_milli = 800'000,
                              .limit_milli = 1'500'000,
                              .weight = 1.0 + t % 3});
  }
  for (int p = 0; p < 100; ++p) {
    in.queues.push_back(Queue{.id = "proj-" + std::to_string(p),
                              .parent = static_cast<uint32_t>(1 + p % 10),
                              .decayed_usage = static_cast<double>(gen.Pick(0, 1000))});
  }
  auto workload = [&](std::string id) {
    Workload w;
    w.id = std::move(id);
    w.queue = static_cast<uint32_t>(11 + gen.Pick(0, 99));
    w.priority = gen.Pick(0, 2) * 100;
    w.submitted_at = kNow - std::chrono::seconds(gen.Pick(0, 86400));
    w.request = gen.TraceLike();
    if (gen.Pick(0, 9) < 6) w.run_time_limit = std::chrono::minutes(gen.Pick(10, 600));
    w.preemption = static_cast<PreemptionPolicy>(gen.Pick(0, 2));
    return w;
  };

  // Running work, placed by the core's own placement until 9,000 GPUs are in use.
  Placer placer(in.cluster);
  int64_t busy = 0;
  // Until the target, or until the cluster is as full as random work gets it.
  for (int r = 0, misses = 0; busy < int64_t{o.busy_gpus} * kWholeGpu && misses < 1000; ++r) {
    Workload w = workload("run-" + std::to_string(r));
    auto slices = placer.Place(w.request);
    if (!slices) {
      ++misses;
      continue;
    }
    misses = 0;
    placer.Apply(*slices, w.request);
    busy += w.request.TotalGpuMilli();
    Allocation a{.workload = std::move(w), .slices = std::move(*slices)};
    a.started_at = kNow - std::chrono::minutes(gen.Pick(0, 300));
    a.borrowed = gen.Pick(0, 4) == 0;
    in.running.push_back(std::move(a));
  }
  in.cluster = placer.cluster();

  for (int j = 0; j < o.pending; ++j) {
    Workload w = workload("job-" + std::to_string(j));
    if (gen.Pick(0, 99) < 5) {  // 5 % depend on another job, pending, running or finished
      int kind = gen.Pick(0, 2);
      std::string on = kind == 0   ? "job-" + std::to_string(gen.Pick(0, o.pending - 1))
                       : kind == 1 ? in.running[gen.Pick(0, in.running.size() - 1)].workload.id
                                   : "done-" + std::to_string(gen.Pick(0, 999));
      w.dependencies.push_back(Dependency{on, Dependency::Condition::kAfterOk});
    }
    in.pending.push_back(std::move(w));
  }
  for (int f = 0; f < 1000; ++f) {
    in.finished.push_back(
        Finished{"done-" + std::to_string(f),
                 f % 10 == 0 ? Finished::Outcome::kFailed : Finished::Outcome::kSucceeded});
  }
  return in;
}

void Report(benchmark::State& state, const Input& in, const Decisions& d) {
  state.counters["pending"] = static_cast<double>(in.pending.size());
  state.counters["running"] = static_cast<double>(in.running.size());
  state.counters["placed"] = static_cast<double>(d.placements.size());
  state.counters["backfilled"] = static_cast<double>(std::count_if(
      d.placements.begin(), d.placements.end(), [](const Placement& p) { return p.backfilled; }));
  state.counters["preempted"] = static_cast<double>(d.preemptions.size());
  state.counters["reservations"] = static_cast<double>(d.reservations.size());
  state.counters["peak_rss_mib"] = PeakRssMib();
}

// Args: pending jobs, backfill+preemption (1) or greedy without preemption (0).
void BM_FullPass(benchmark::State& state) {
  Input in = Build(Options3{.pending = static_cast<int>(state.range(0))}, 42);
  if (state.range(1) == 0) {
    in.options.backfill = Backfill::kGreedy;
    in.options.preemption = false;
  }
  Decisions d;
  for (auto _ : state) {
    d = Schedule(in);
    benchmark::DoNotOptimize(d);
  }
  Report(state, in, d);
}
BENCHMARK(BM_FullPass)
    ->Args({100'000, 1})
    ->Args({100'000, 0})
    ->Args({10'000, 1})
    ->Unit(benchmark::kMillisecond);

// The cluster as full as random work gets it, all preemptible priority-0 work; one
// priority-200 job of 8 GPUs.
void BM_PreemptionDecision(benchmark::State& state) {
  Input in = Build(Options3{.busy_gpus = 10'000, .pending = 0}, 7);
  for (auto& a : in.running) {
    a.workload.priority = 0;
    a.workload.preemption = PreemptionPolicy::kRequeue;
  }
  Workload urgent;
  urgent.id = "urgent";
  urgent.priority = 200;
  urgent.queue = 11;
  urgent.request.gpus_per_node = 8;
  in.pending.push_back(urgent);
  Decisions d;
  for (auto _ : state) {
    d = Schedule(in);
    benchmark::DoNotOptimize(d);
  }
  Report(state, in, d);
}
BENCHMARK(BM_PreemptionDecision)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hangar::scheduling

BENCHMARK_MAIN();
