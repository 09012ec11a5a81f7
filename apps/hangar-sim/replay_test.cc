// Tests for the time-based replay and its pieces: a hand-made workload whose FIFO and
// FIFO + EASY schedules are known exactly, the metric definitions, load scaling, determinism of
// the generator and the replay, the job CSV reader's errors, the trace-to-job rules, and the SVG.
#include "replay.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "cluster.h"
#include "metrics.h"
#include "svg_chart.h"
#include "workload.h"
#include "workload_gen.h"

namespace hangar::sim {
namespace {

using std::chrono::seconds;

scheduling::ClusterSnapshot OneNode(int32_t gpus) {
  static constexpr std::array<GpuModel, 1> kModels = {{{"G", 32768}}};
  const std::array<NodeShape, 1> shapes = {{{"G", gpus, 64000, 262144, 1}}};
  auto cluster = BuildCluster(shapes, kModels);
  EXPECT_TRUE(cluster.has_value());
  return *cluster;
}

Job MakeJob(std::string id, int64_t submit_s, int64_t duration_s, int32_t gpus,
            std::optional<int64_t> limit_s) {
  Job job;
  job.id = std::move(id);
  job.submit = seconds(submit_s);
  job.duration = seconds(duration_s);
  job.request.gpus_per_node = gpus;
  if (limit_s) job.run_time_limit = seconds(*limit_s);
  return job;
}

// One node of 4 GPUs. A (2 GPUs, 100 s) starts at 0. B (4 GPUs, 100 s) arrives at 1 and must
// wait for A: it can start at 100. C (1 GPU, 50 s) arrives at 2 and fits at once.
//   fifo:      C waits behind B: A 0-100, B 100-200, C 200-250.
//   fifo-easy: C ends at 52, before B's reservation at 100, so it backfills: A 0-100, C 2-52,
//              B 100-200.
JobSet HeadOfLineWorkload() {
  JobSet set;
  set.tenants = {"t"};
  set.jobs = {MakeJob("a", 0, 100, 2, 100), MakeJob("b", 1, 100, 4, 100),
              MakeJob("c", 2, 50, 1, 50)};
  return set;
}

ReplayResult MustReplay(const JobSet& set, const scheduling::ClusterSnapshot& cluster,
                        std::string_view policy_name, const ReplayOptions& options = {}) {
  auto policy = ParseReplayPolicy(policy_name);
  EXPECT_TRUE(policy.has_value());
  auto result = Replay(set, cluster, *policy, options);
  EXPECT_TRUE(result.has_value()) << result.error().message();
  return *result;
}

TEST(ReplayTest, FifoBlocksBehindTheHeadOfTheQueue) {
  ReplayResult r = MustReplay(HeadOfLineWorkload(), OneNode(4), "fifo");
  EXPECT_EQ(r.completed, 3);
  // Waits 0, 99, 198; completion times 100, 199, 248.
  EXPECT_DOUBLE_EQ(r.wait.mean, 99);
  EXPECT_DOUBLE_EQ(r.wait.p99, 198);
  EXPECT_DOUBLE_EQ(r.jct.mean, (100.0 + 199 + 248) / 3);
  EXPECT_DOUBLE_EQ(r.makespan_s, 250);
  EXPECT_EQ(r.preemptions, 0);
}

TEST(ReplayTest, EasyBackfillsTheShortJobWithoutDelayingTheReservation) {
  ReplayResult r = MustReplay(HeadOfLineWorkload(), OneNode(4), "fifo-easy");
  EXPECT_EQ(r.completed, 3);
  // Waits 0, 99, 0: B still starts at 100.
  EXPECT_DOUBLE_EQ(r.wait.mean, 33);
  EXPECT_DOUBLE_EQ(r.wait.p99, 99);
  EXPECT_DOUBLE_EQ(r.jct.mean, (100.0 + 199 + 50) / 3);
  EXPECT_DOUBLE_EQ(r.makespan_s, 200);
}

TEST(ReplayTest, MeasuresAllocationAndIdleCapacityWhileWorkWaits) {
  // A (2 of 4 GPUs) runs 0-100 while B (4 GPUs) waits from 1 to 100: the window is [0, 1]
  // (first to last submit), half the cluster busy, B waiting from 1 on, so nothing waits inside.
  JobSet set;
  set.tenants = {"t"};
  set.jobs = {MakeJob("a", 0, 100, 2, 100), MakeJob("b", 10, 100, 4, 100)};
  ReplayResult r = MustReplay(set, OneNode(4), "fifo");
  EXPECT_DOUBLE_EQ(r.gpu_allocation, 0.5);
  EXPECT_DOUBLE_EQ(r.waiting_fraction, 0);
  // B waits 10-100 outside the window; a third job keeps the window open until 20.
  set.jobs.push_back(MakeJob("c", 20, 10, 4, 10));
  r = MustReplay(set, OneNode(4), "fifo");
  EXPECT_DOUBLE_EQ(r.waiting_fraction, 0.5);    // 10-20 of 0-20
  EXPECT_DOUBLE_EQ(r.idle_while_waiting, 0.5);  // 2 of 4 GPUs idle while B waits
  EXPECT_DOUBLE_EQ(r.idle_while_fit, 0);        // but B needs all 4: nothing waiting fits
}

TEST(ReplayTest, PolicyModifiersChangeOnePartEach) {
  auto p = ParseReplayPolicy("hangar+no-preemption+fgd+reservations=3");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->name, "hangar+no-preemption+fgd+reservations=3");
  EXPECT_FALSE(p->options.preemption);
  EXPECT_TRUE(p->fragmentation_aware);
  EXPECT_EQ(p->options.reservations, 3);
  EXPECT_TRUE(p->quotas);
  auto greedy = ParseReplayPolicy("fifo-easy+greedy+no-quotas");
  ASSERT_TRUE(greedy.has_value());
  EXPECT_EQ(greedy->options.backfill, scheduling::Backfill::kGreedy);
  EXPECT_FALSE(greedy->quotas);
  for (std::string_view bad : {"hangar+turbo", "hangar+reservations=x", "nope+greedy"}) {
    auto error = ParseReplayPolicy(bad);
    ASSERT_FALSE(error.has_value()) << bad;
    EXPECT_NE(error.error().message().find(std::string(bad.substr(0, bad.find('+')))),
              std::string::npos)
        << error.error().message();
  }
  // The modifier reaches the core: strict fifo keeps C behind B, fifo+greedy starts it at once.
  ReplayResult strict = MustReplay(HeadOfLineWorkload(), OneNode(4), "fifo");
  ReplayResult relaxed = MustReplay(HeadOfLineWorkload(), OneNode(4), "fifo+greedy");
  EXPECT_LT(relaxed.wait.mean, strict.wait.mean);
}

TEST(ReplayTest, FragmentedFreeCountsSharesLeftOnPartlyUsedGpus) {
  // One 4-GPU node; a job holding a quarter of one GPU for 100 s, alone: the free capacity is
  // 3.75 GPUs, of which 0.75 sits on the partly used GPU, for the whole window.
  JobSet set;
  set.tenants = {"t"};
  Job shared = MakeJob("shared", 0, 100, 1, 100);
  shared.request.gpu_milli = 250;
  Job later = MakeJob("later", 100, 10, 1, 10);  // closes the window at 100 s
  set.jobs = {shared, later};
  ReplayResult r = MustReplay(set, OneNode(4), "fifo");
  EXPECT_NEAR(r.fragmented_free, 0.75 / 3.75, 1e-9);
}

TEST(ReplayTest, EveryJobEndsAccountedFor) {
  JobSet set = GenerateSynthetic({.jobs = 300, .seed = 3});
  ASSERT_TRUE(ScaleToLoad(set, 16'000, 1.1).has_value());
  ApplyRunTimeLimitRule(set, 600);
  // Two nodes of 8 GPUs: the synthetic gangs of 2 x 8 fit, those of 3 or 4 nodes never do.
  static constexpr std::array<GpuModel, 1> kModels = {{{"G", 32768}}};
  const std::array<NodeShape, 1> shapes = {{{"G", 8, 64000, 262144, 2}}};
  auto cluster = BuildCluster(shapes, kModels);
  ASSERT_TRUE(cluster.has_value());
  for (std::string_view policy : {"fifo", "fifo-easy", "sjf", "hangar"}) {
    ReplayResult r = MustReplay(set, *cluster, policy);
    EXPECT_EQ(r.completed + r.rejected + r.never_started, r.jobs) << policy;
    EXPECT_GT(r.completed, 250) << policy;
    EXPECT_LE(r.gpu_allocation, 1.0) << policy;
    EXPECT_GE(r.jain, 0.0) << policy;
    EXPECT_LE(r.jain, 1.0 + 1e-12) << policy;
  }
}

TEST(ReplayTest, SameSeedSameResults) {
  auto run = [](uint64_t seed) {
    JobSet set = GenerateSynthetic({.jobs = 400, .seed = seed});
    EXPECT_TRUE(ScaleToLoad(set, 16'000, 0.9).has_value());
    static constexpr std::array<GpuModel, 1> kModels = {{{"G", 32768}}};
    const std::array<NodeShape, 1> shapes = {{{"G", 8, 64000, 262144, 2}}};
    return MustReplay(set, *BuildCluster(shapes, kModels), "hangar");
  };
  ReplayResult a = run(11);
  ReplayResult b = run(11);
  ReplayResult c = run(12);
  EXPECT_EQ(a.completed, b.completed);
  EXPECT_EQ(a.passes, b.passes);
  EXPECT_DOUBLE_EQ(a.jct.mean, b.jct.mean);
  EXPECT_DOUBLE_EQ(a.wait.p99, b.wait.p99);
  EXPECT_DOUBLE_EQ(a.gpu_allocation, b.gpu_allocation);
  EXPECT_DOUBLE_EQ(a.jain, b.jain);
  EXPECT_NE(a.jct.mean, c.jct.mean);
}

TEST(WorkloadGenTest, SameSeedSameJobsAndTraceLikeSizes) {
  JobSet a = GenerateSynthetic({.jobs = 20'000, .seed = 5});
  JobSet b = GenerateSynthetic({.jobs = 20'000, .seed = 5});
  JobSet c = GenerateSynthetic({.jobs = 20'000, .seed = 6});
  ASSERT_EQ(a.jobs.size(), 20'000u);
  int gangs = 0;
  int shares = 0;
  bool differs = false;
  for (size_t i = 0; i < a.jobs.size(); ++i) {
    EXPECT_EQ(a.jobs[i].submit, b.jobs[i].submit);
    EXPECT_EQ(a.jobs[i].duration, b.jobs[i].duration);
    EXPECT_EQ(a.jobs[i].request.TotalGpuMilli(), b.jobs[i].request.TotalGpuMilli());
    EXPECT_EQ(a.jobs[i].tenant, b.jobs[i].tenant);
    differs |= a.jobs[i].duration != c.jobs[i].duration;
    gangs += a.jobs[i].request.nodes > 1;
    shares += a.jobs[i].request.gpu_milli < 1000;
  }
  EXPECT_TRUE(differs);
  EXPECT_NEAR(gangs / 20'000.0, 0.02, 0.004);
  EXPECT_NEAR(shares / 20'000.0, 0.436 * 0.98, 0.02);  // 3,078 of 7,064 trace GPU pods
  EXPECT_EQ(a.tenants.size(), 16u);
}

TEST(MetricsTest, PercentileIsNearestRank) {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(Percentile(v, 50), 5);
  EXPECT_EQ(Percentile(v, 10), 1);
  EXPECT_EQ(Percentile(v, 95), 10);
  EXPECT_EQ(Percentile(v, 99.9), 10);
  EXPECT_EQ(Percentile(v, 100), 10);
  EXPECT_EQ(Percentile(std::vector<double>{}, 50), 0);
  std::vector<double> thousand(1000);
  for (int i = 0; i < 1000; ++i) thousand[i] = i + 1;
  EXPECT_EQ(Percentile(thousand, 99.9), 999);
  EXPECT_EQ(Percentile(thousand, 99), 990);
}

TEST(MetricsTest, JainIndex) {
  EXPECT_DOUBLE_EQ(JainIndex(std::vector<double>{3, 3, 3}), 1);
  EXPECT_DOUBLE_EQ(JainIndex(std::vector<double>{1, 0, 0, 0}), 0.25);
  EXPECT_DOUBLE_EQ(JainIndex(std::vector<double>{1, 2}), 0.9);
  EXPECT_DOUBLE_EQ(JainIndex(std::vector<double>{}), 1);
}

TEST(MetricsTest, WaterFillIsMaxMinFair) {
  EXPECT_EQ(WaterFill(std::vector<double>{1, 5, 10}, 9), (std::vector<double>{1, 4, 4}));
  EXPECT_EQ(WaterFill(std::vector<double>{1, 5, 10}, 100), (std::vector<double>{1, 5, 10}));
  EXPECT_EQ(WaterFill(std::vector<double>{6, 6}, 6), (std::vector<double>{3, 3}));
  EXPECT_EQ(WaterFill(std::vector<double>{0, 4}, 2), (std::vector<double>{0, 2}));
}

TEST(WorkloadTest, ScalesInterArrivalTimesToTheOfferedLoad) {
  JobSet set;
  set.tenants = {"t"};
  set.jobs = {MakeJob("a", 5, 100, 1, {}), MakeJob("b", 15, 100, 1, {}),
              MakeJob("c", 25, 100, 1, {})};
  // 3 x 1 GPU x 100 s over 20 s on 10 GPUs: 1.5.
  ASSERT_DOUBLE_EQ(*OfferedLoad(set, 10'000), 1.5);
  auto factor = ScaleToLoad(set, 10'000, 0.75);
  ASSERT_TRUE(factor.has_value());
  EXPECT_DOUBLE_EQ(*factor, 2);
  EXPECT_EQ(set.jobs[0].submit, seconds(5));  // the first submit stays
  EXPECT_EQ(set.jobs[1].submit, seconds(25));
  EXPECT_EQ(set.jobs[2].submit, seconds(45));
  EXPECT_DOUBLE_EQ(*OfferedLoad(set, 10'000), 0.75);
  EXPECT_FALSE(ScaleToLoad(set, 10'000, 0).has_value());
  JobSet single;
  single.jobs = {MakeJob("a", 5, 100, 1, {})};
  EXPECT_FALSE(ScaleToLoad(single, 10'000, 0.9).has_value());
}

TEST(WorkloadTest, RunTimeLimitAndDeadlineRules) {
  JobSet set = GenerateSynthetic({.jobs = 2000, .seed = 1});
  set.jobs[0].run_time_limit = seconds(7);  // a declared limit is kept
  ApplyRunTimeLimitRule(set, 600);
  ApplyDeadlineRule(set, 100);
  int known = 0;
  int deadlines = 0;
  for (size_t i = 1; i < set.jobs.size(); ++i) {
    const Job& job = set.jobs[i];
    if (job.run_time_limit) {
      ++known;
      EXPECT_GE(*job.run_time_limit, job.duration);
      EXPECT_EQ(job.run_time_limit->count() % 3'600'000'000, 0);
      EXPECT_LT(*job.run_time_limit - job.duration, std::chrono::hours(1));
    }
    if (job.deadline) {
      ++deadlines;
      EXPECT_EQ(*job.deadline, 2 * job.duration + std::chrono::minutes(30));
    }
  }
  EXPECT_EQ(set.jobs[0].run_time_limit, seconds(7));
  EXPECT_NEAR(known / 2000.0, 0.6, 0.04);
  EXPECT_NEAR(deadlines / 2000.0, 0.1, 0.03);
  MakeRunTimesExact(set);
  for (const Job& job : set.jobs) EXPECT_EQ(job.run_time_limit, job.duration);
}

constexpr std::string_view kCsvHeader =
    "id,submit_s,duration_s,gpus,gpu_milli,nodes,tenant,priority,limit_s,deadline_s\n";

TEST(JobsCsvTest, ParsesJobsAndTenants) {
  auto set = ParseJobsCsv(std::string(kCsvHeader) +
                          "# a comment\n"
                          "j2,10,60,8,1000,2,team-b,1,3600,\n"
                          "j1,0,30,1,500,1,team-a,0,,100\r\n");
  ASSERT_TRUE(set.has_value()) << set.error().message();
  ASSERT_EQ(set->jobs.size(), 2u);
  EXPECT_EQ(set->tenants, (std::vector<std::string>{"team-b", "team-a"}));
  const Job& first = set->jobs[0];  // sorted by submit
  EXPECT_EQ(first.id, "j1");
  EXPECT_EQ(first.request.gpu_milli, 500);
  EXPECT_FALSE(first.run_time_limit.has_value());
  EXPECT_EQ(first.deadline, seconds(100));
  EXPECT_EQ(first.tenant, 1u);
  const Job& second = set->jobs[1];
  EXPECT_EQ(second.request.nodes, 2);
  EXPECT_EQ(second.request.gpus_per_node, 8);
  EXPECT_EQ(second.request.TotalGpuMilli(), 16'000);
  EXPECT_EQ(second.priority, 1);
  EXPECT_EQ(second.run_time_limit, seconds(3600));
  EXPECT_FALSE(second.deadline.has_value());
}

TEST(JobsCsvTest, ErrorsNameTheLineAndTheField) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string h(kCsvHeader);
  const std::vector<Case> cases = {
      {"id,submit\n", "jobs:1: expected the header"},
      {"", "jobs: empty file, no header"},
      {h + "j1,0,30,1,1000,1,t,0,,\n\n", "jobs:3: empty line"},
      {h + "j1,0,30,1,1000,1,t,0,\n", "jobs:2: expected 10 fields, got 9"},
      {h + "j1,0,30,x,1000,1,t,0,,\n", "jobs:2: field gpus (column 4): not an integer: \"x\""},
      {h + "j1,0,0,1,1000,1,t,0,,\n", "jobs:2: field duration_s (column 3): must be in 1.."},
      {h + "j1,0,30,2,500,1,t,0,,\n",
       "jobs:2: field gpu_milli (column 5): must be 1000 when gpus is above 1"},
      {h + "j1,0,30,1,1000,1,t,0,,\nj1,0,30,1,1000,1,t,0,,\n",
       "jobs:3: field id (column 1): duplicate id \"j1\""},
      {h + "j1,0,30,1,1000,1,,0,,\n", "jobs:2: field tenant (column 7): empty"},
      {h + "j1,50,30,1,1000,1,t,0,,10\n", "jobs:2: field deadline_s (column 10): must be in 50.."},
      {h + "j1,0,30,1,1000,0,t,0,,\n", "jobs:2: field nodes (column 6): must be in 1.."},
      {h + "\"j1\",0,30,1,1000,1,t,0,,\n", "jobs:2: quoted fields are not supported"},
  };
  for (const Case& c : cases) {
    auto set = ParseJobsCsv(c.text);
    ASSERT_FALSE(set.has_value()) << c.text;
    EXPECT_EQ(set.error().code(), ErrorCode::kMalformed);
    EXPECT_NE(set.error().message().find(c.expected), std::string::npos)
        << set.error().message() << " does not contain " << c.expected;
  }
}

TEST(WorkloadTest, TraceJobsDropPodsWithoutAUsableDurationOrGpu) {
  std::vector<TracePod> pods(4);
  pods[0] = {.name = "ran",
             .num_gpu = 2,
             .gpu_milli = 1000,
             .qos = Qos::kBestEffort,
             .creation_time = 100,
             .deletion_time = 400,
             .scheduled_time = 150};
  pods[1] = {.name = "never",
             .num_gpu = 1,
             .gpu_milli = 1000,
             .phase = PodPhase::kPending,
             .creation_time = 0,
             .deletion_time = 10};
  pods[2] = {.name = "instant",
             .num_gpu = 1,
             .gpu_milli = 1000,
             .creation_time = 0,
             .deletion_time = 5,
             .scheduled_time = 5};
  pods[3] = {.name = "cpu", .creation_time = 0, .deletion_time = 50, .scheduled_time = 0};
  auto set = FromTrace(pods, OneNode(8));
  ASSERT_TRUE(set.has_value());
  ASSERT_EQ(set->jobs.size(), 1u);
  EXPECT_EQ(set->dropped_never_ran, 1);
  EXPECT_EQ(set->dropped_zero_duration, 1);
  EXPECT_EQ(set->dropped_cpu_only, 1);
  const Job& job = set->jobs[0];
  EXPECT_EQ(job.submit, seconds(0));  // relative to the earliest kept creation time
  EXPECT_EQ(job.duration, seconds(250));
  EXPECT_EQ(job.request.TotalGpuMilli(), 2000);
  EXPECT_EQ(set->tenants.size(), 16u);
  EXPECT_EQ(set->tenants[job.tenant], fmt::format("BE-{}", Fnv1a("ran") % 4));
  EXPECT_EQ(Fnv1a(""), 2166136261u);
  EXPECT_EQ(Fnv1a("a"), 0xe40c292cu);  // the published FNV-1a test vector
  auto capped = FromTrace(pods, OneNode(8), seconds(100));
  EXPECT_EQ(capped->jobs[0].duration, seconds(100));
  EXPECT_EQ(capped->capped_durations, 1);
}

// Checks that start and end tags nest, ignoring <?...?> and self-closing tags.
bool TagsBalance(const std::string& svg) {
  std::vector<std::string> open;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    size_t end = svg.find('>', pos);
    if (end == std::string::npos) return false;
    std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty() || tag[0] == '?') continue;
    if (tag.back() == '/') continue;
    std::string name = tag.substr(tag[0] == '/' ? 1 : 0);
    name = name.substr(0, name.find(' '));
    if (tag[0] == '/') {
      if (open.empty() || open.back() != name) return false;
      open.pop_back();
    } else {
      open.push_back(name);
    }
  }
  return open.empty();
}

TEST(SvgChartTest, IsWellFormedAndContainsEverySeries) {
  std::vector<ChartSeries> series = {
      {"fifo", {{3600, 5, 0.5}, {7200, 2, 0.9}}},
      {"a&b", {{3600, 1, 0.2}, {7200, 0, 0.4}}},
  };
  std::string svg = RenderChart(series, "load <0.9>");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_NE(svg.find("data-series=\"fifo\""), std::string::npos);
  EXPECT_NE(svg.find("data-series=\"a&amp;b\""), std::string::npos);
  EXPECT_NE(svg.find("load &lt;0.9&gt;"), std::string::npos);
  EXPECT_NE(svg.find("jobs waiting"), std::string::npos);
  EXPECT_NE(svg.find("GPU allocation (%)"), std::string::npos);
  EXPECT_NE(svg.find("virtual time (h)"), std::string::npos);
  EXPECT_TRUE(TagsBalance(RenderChart({}, "empty")));
}

}  // namespace
}  // namespace hangar::sim
