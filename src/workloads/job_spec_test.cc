#include "workloads/job_spec.h"

#include <gtest/gtest.h>

namespace hangar::workloads {
namespace {

const Timestamp kNow = *ParseRfc3339("2026-11-23T10:00:00Z");

api::SubmitJobRequest Minimal() {
  return api::SubmitJobRequest{.project = "ml", .command = {"/usr/bin/python3", "train.py"}};
}

std::vector<std::string> Pointers(const Error& e) {
  std::vector<std::string> out;
  for (const auto& v : e.violations()) out.push_back(v.pointer);
  return out;
}

TEST(JobSpec, FillsEveryDefault) {
  auto spec = NormalizeJobRequest(Minimal(), kNow);
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(*spec->name, "python3");
  EXPECT_EQ(*spec->resources->gpus, 1);
  EXPECT_EQ(*spec->resources->gpu_milli, 1000);
  EXPECT_EQ(*spec->priority_class, api::PriorityClass::normal);
  EXPECT_EQ(*spec->preemption, api::PreemptionPolicy::requeue);
  EXPECT_EQ(*spec->retries, 0);
  EXPECT_EQ(*spec->array_size, 1);
  EXPECT_FALSE(*spec->hold);
  EXPECT_EQ(*spec->on_node_loss, api::NodeLossPolicy::requeue);
  EXPECT_TRUE(spec->environment->empty());
}

TEST(JobSpec, NamesEveryBadField) {
  api::SubmitJobRequest r{
      .project = "",
      .command = {},
      .environment = api::Labels{{"CUDA_VISIBLE_DEVICES", "0"}, {"1X", "y"}},
      .resources = api::JobResources{.gpus = 65, .gpu_milli = 0, .min_cuda_version = "twelve"},
      .time_limit_seconds = 0,
      .deadline = "tomorrow",
      .retries = 11,
      .dependencies = std::vector<api::JobDependency>{{.job = "node_1"}},
      .array_size = 1001};
  auto spec = NormalizeJobRequest(r, kNow);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code(), ErrorCode::kInvalidArgument);
  auto pointers = Pointers(spec.error());
  for (const char* p :
       {"/project", "/command", "/environment/CUDA_VISIBLE_DEVICES", "/environment/1X",
        "/resources/gpus", "/resources/gpu_milli", "/resources/min_cuda_version",
        "/time_limit_seconds", "/deadline", "/retries", "/dependencies/0/job", "/array_size"}) {
    EXPECT_NE(std::find(pointers.begin(), pointers.end(), p), pointers.end()) << p;
  }
}

TEST(JobSpec, AShareOfAGpuNeedsOneGpu) {
  auto r = Minimal();
  r.resources = api::JobResources{.gpus = 2, .gpu_milli = 500};
  auto spec = NormalizeJobRequest(r, kNow);
  ASSERT_FALSE(spec);
  EXPECT_EQ(Pointers(spec.error()), std::vector<std::string>{"/resources/gpu_milli"});
}

TEST(JobSpec, CpuOnlyJobsTakeNoGpuProperties) {
  auto r = Minimal();
  r.resources = api::JobResources{.gpus = 0, .gpu_type = "H100-80GB"};
  auto spec = NormalizeJobRequest(r, kNow);
  ASSERT_FALSE(spec);
  EXPECT_EQ(Pointers(spec.error()), std::vector<std::string>{"/resources/gpus"});
}

TEST(JobSpec, TimesAreNormalisedToUtc) {
  auto r = Minimal();
  r.start_after = "2026-11-23T12:00:00+02:00";
  auto spec = NormalizeJobRequest(r, kNow);
  ASSERT_TRUE(spec);
  EXPECT_EQ(*spec->start_after, "2026-11-23T10:00:00Z");
  r.start_after = "2028-01-01T00:00:00Z";
  EXPECT_FALSE(NormalizeJobRequest(r, kNow));
}

TEST(JobSpec, CheckpointPreemptionGetsALongerDefaultGrace) {
  auto r = Minimal();
  r.preemption = api::PreemptionPolicy::checkpoint;
  EXPECT_EQ(*NormalizeJobRequest(r, kNow)->checkpoint_grace_seconds, 60);
  EXPECT_EQ(*NormalizeJobRequest(Minimal(), kNow)->checkpoint_grace_seconds, 10);
}

TEST(JobSpec, CudaVersions) {
  EXPECT_EQ(ParseCudaVersion("12.4"), 12040);
  EXPECT_EQ(ParseCudaVersion("11.0"), 11000);
  EXPECT_FALSE(ParseCudaVersion("12"));
  EXPECT_FALSE(ParseCudaVersion("12.x"));
  EXPECT_FALSE(ParseCudaVersion(".4"));
}

TEST(JobSpec, PriorityClassesAreOrdered) {
  EXPECT_LT(PriorityValue(api::PriorityClass::low), PriorityValue(api::PriorityClass::normal));
  EXPECT_LT(PriorityValue(api::PriorityClass::normal), PriorityValue(api::PriorityClass::high));
}

}  // namespace
}  // namespace hangar::workloads
