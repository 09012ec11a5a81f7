// Scheduling core, event-driven (event_scheduler.h), at the scale issue 4 names: 1,250 nodes x 8
// GPUs with 9,000 busy as running allocations (60 % with run-time limits), 100 projects in 10
// teams with guarantees, borrowing limits and weights, 3 priority classes, and 100,000 pending
// jobs sized like the shared Alibaba trace (about 44 % shared-GPU requests, mostly single GPUs,
// some 2/4/8) plus 2 % multi-node gangs, 60 % with run-time limits.
//
// BM_EventStream drives a virtual-time event stream through one engine: 500 submits/s, a burst of
// 5,000 submits at once every 10 s, and 50 completions/s (of running work chosen at random), for
// the given virtual seconds. Each event is timed with a steady clock outside the engine.
// Counters: per-event latency p50/p99/p999/max (all events, and completions alone), placements
// per second of processing time, the time to construct the engine and to run its first walk,
// and peak RSS (VmHWM).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <string>

#include "scheduling/event_scheduler.h"

namespace hangar::scheduling {
namespace {

const Timestamp kT0 = FromUnixMicros(1'795'000'000'000'000);

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // A job sized like the trace: 44 % shares, mostly 1 GPU, some 2/4/8, 2 % gangs of 2-4 nodes.
  Workload Job(std::string id, Timestamp submitted) {
    Workload w;
    w.id = std::move(id);
    w.queue = static_cast<uint32_t>(11 + Pick(0, 99));
    w.priority = Pick(0, 2) * 100;
    w.submitted_at = submitted;
    int kind = Pick(0, 99);
    if (kind < 44) {
      w.request.gpu_milli = std::vector<int>{810, 470, 320, 650, 250, 500}[Pick(0, 5)];
    } else if (kind < 96) {
      w.request.gpus_per_node = std::vector<int>{1, 1, 1, 1, 2, 4, 8}[Pick(0, 6)];
    } else if (kind < 98) {
      w.request.gpus_per_node = 8;
    } else {
      w.request.gpus_per_node = 8;
      w.request.nodes = Pick(2, 4);
    }
    if (Pick(0, 9) < 6) w.run_time_limit = std::chrono::minutes(Pick(10, 600));
    return w;
  }

 private:
  std::mt19937_64 rng_;
};

Input BuildInput(int nodes, int busy_gpus, int jobs, Generator& gen) {
  Input in;
  in.now = kT0;
  in.cluster.gpu_types = {"H100-80GB"};
  for (int n = 0; n < nodes; ++n) {
    Node node{.id = "node-" + std::to_string(n),
              .cpu_milli_free = 96000,
              .memory_mib_free = 384 * 1024,
              .cuda_version = 12040};
    node.gpus.assign(8, Gpu{.type = 0, .memory_mib = 81920});
    in.cluster.nodes.push_back(std::move(node));
  }
  in.queues.push_back(Queue{.id = "org"});
  for (int t = 0; t < 10; ++t) {
    in.queues.push_back(Queue{.id = "team-" + std::to_string(t),
                              .parent = 0,
                              .guaranteed_milli = int64_t{nodes} * 8 * 80,  // 8 % each
                              .limit_milli = int64_t{nodes} * 8 * 150,      // 15 % each
                              .weight = 1.0 + t % 3});
  }
  for (int p = 0; p < 100; ++p) {
    in.queues.push_back(Queue{.id = "proj-" + std::to_string(p),
                              .parent = static_cast<uint32_t>(1 + p % 10),
                              .decayed_usage = static_cast<double>(gen.Pick(0, 1000))});
  }
  // Running work: whole-GPU jobs of 1, 2 or 4 GPUs on random nodes until `busy_gpus` are taken.
  std::vector<int> idle(nodes, 8);
  for (int busy = 0, r = 0; busy < busy_gpus; ++r) {
    int want = std::min(std::vector<int>{1, 1, 2, 4}[gen.Pick(0, 3)], busy_gpus - busy);
    int n = gen.Pick(0, nodes - 1);
    if (idle[n] < want) continue;
    Workload w;
    w.id = "run-" + std::to_string(r);
    w.queue = static_cast<uint32_t>(11 + gen.Pick(0, 99));
    w.priority = gen.Pick(0, 2) * 100;
    w.request.gpus_per_node = want;
    Allocation a;
    if (gen.Pick(0, 9) < 6) {
      w.run_time_limit = std::chrono::minutes(gen.Pick(10, 600));
      a.started_at = kT0 - std::chrono::minutes(
                               gen.Pick(0, static_cast<int>(w.run_time_limit->count() / 60e6)));
    } else {
      a.started_at = kT0 - std::chrono::minutes(gen.Pick(0, 600));
    }
    w.submitted_at = a.started_at - std::chrono::minutes(1);
    Allocation::Slice slice{static_cast<uint32_t>(n), {}, kWholeGpu};
    for (int g = 8 - idle[n]; g < 8 - idle[n] + want; ++g) {
      slice.gpus.push_back(static_cast<uint16_t>(g));
    }
    idle[n] -= want;
    busy += want;
    a.workload = std::move(w);
    a.slices.push_back(std::move(slice));
    Apply(in.cluster, a.slices, a.workload.request);
    in.running.push_back(std::move(a));
  }
  for (int j = 0; j < jobs; ++j) {
    in.pending.push_back(
        gen.Job("job-" + std::to_string(j), kT0 - std::chrono::seconds(gen.Pick(0, 86400))));
  }
  return in;
}

double PeakRssMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void BM_EventStream(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const int jobs = static_cast<int>(state.range(1));
  const int seconds = static_cast<int>(state.range(2));
  const int busy = nodes * 8 * 9 / 10;
  const int submits_per_s = 500, completions_per_s = 50, burst = 5000, burst_every_s = 10;

  for (auto _ : state) {
    Generator gen(42);
    Input in = BuildInput(nodes, busy, jobs, gen);
    std::vector<std::string> running;
    for (const Allocation& a : in.running) running.push_back(a.workload.id);

    using Clock = std::chrono::steady_clock;
    auto us_since = [](Clock::time_point t0) {
      return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    };
    auto t = Clock::now();
    EventScheduler engine(in);
    double construct_us = us_since(t);
    t = Clock::now();
    EventDecisions first = engine.Start(kT0);
    double start_us = us_since(t);
    for (const StartedWork& s : first.started) running.push_back(s.id);

    std::vector<double> all, completes, submits;
    size_t placements = 0;
    double busy_us = 0;
    int next_job = jobs;
    // Events in virtual time, one tick per millisecond: a submit every 2 ms, a completion every
    // 20 ms, and the burst at the start of every 10th second.
    for (int64_t ms = 0; ms < int64_t{seconds} * 1000; ++ms) {
      Timestamp now = kT0 + std::chrono::milliseconds(ms);
      int submits_now = ms % (1000 / submits_per_s) == 0 ? 1 : 0;
      if (ms % (int64_t{burst_every_s} * 1000) == 0 && ms > 0) submits_now += burst;
      for (int i = 0; i < submits_now; ++i) {
        Workload w = gen.Job("job-" + std::to_string(next_job++), now);
        auto t0 = Clock::now();
        auto d = engine.Submit(std::move(w), now);
        double us = us_since(t0);
        all.push_back(us), submits.push_back(us), busy_us += us;
        if (!d) {
          state.SkipWithError(d.error().ToString().c_str());
          return;
        }
        placements += d->started.size();
        for (const StartedWork& s : d->started) running.push_back(s.id);
      }
      if (ms % (1000 / completions_per_s) == 0 && !running.empty()) {
        auto r = static_cast<size_t>(gen.Pick(0, static_cast<int>(running.size()) - 1));
        std::swap(running[r], running.back());
        std::string id = std::move(running.back());
        running.pop_back();
        auto t0 = Clock::now();
        auto d = engine.Complete(id, now);
        double us = us_since(t0);
        all.push_back(us), completes.push_back(us), busy_us += us;
        if (!d) {
          state.SkipWithError(d.error().ToString().c_str());
          return;
        }
        placements += d->started.size();
        for (const StartedWork& s : d->started) running.push_back(s.id);
      }
    }
    state.SetIterationTime(busy_us / 1e6);
    state.counters["events"] = static_cast<double>(all.size());
    state.counters["placements"] = static_cast<double>(placements);
    state.counters["placements_per_s"] = static_cast<double>(placements) / (busy_us / 1e6);
    state.counters["p50_us"] = Percentile(all, 0.50);
    state.counters["p99_us"] = Percentile(all, 0.99);
    state.counters["p999_us"] = Percentile(all, 0.999);
    state.counters["max_us"] = *std::max_element(all.begin(), all.end());
    state.counters["submit_p99_us"] = Percentile(submits, 0.99);
    state.counters["complete_p50_us"] = Percentile(completes, 0.50);
    state.counters["complete_p99_us"] = Percentile(completes, 0.99);
    state.counters["construct_ms"] = construct_us / 1000;
    state.counters["first_walk_ms"] = start_us / 1000;
    state.counters["first_walk_placed"] = static_cast<double>(first.started.size());
    state.counters["pending_end"] = static_cast<double>(engine.pending_count());
    state.counters["peak_rss_mib"] = PeakRssMib();
  }
}
// nodes, pending jobs, virtual seconds
BENCHMARK(BM_EventStream)
    ->Args({1250, 100'000, 60})
    ->Args({125, 10'000, 5})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hangar::scheduling

BENCHMARK_MAIN();
