// Tests for the strict trace reader: the columns land in the right fields, Pending rows without
// a scheduled time are accepted, and every kind of malformed row names its line.
#include "trace.h"

#include <gtest/gtest.h>

#include <string>

namespace hangar::sim {
namespace {

constexpr std::string_view kHeader =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";

std::string WithHeader(std::string_view rows) { return std::string(kHeader) + std::string(rows); }

TEST(TraceTest, ParsesRowsIncludingPendingWithoutScheduledTime) {
  auto pods =
      ParseTrace(WithHeader("openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0\n"
                            "openb-pod-0001,6000,12288,1,460,,BE,Succeeded,5,90,7\n"
                            "openb-pod-0061,11908,47104,1,1000,,BE,Pending,100,225,\n"
                            "openb-pod-0100,88000,327680,8,1000,,Guaranteed,Failed,1,2,1\n"
                            "openb-pod-0200,4000,8192,0,0,,Burstable,Running,3,4,3"));
  ASSERT_TRUE(pods) << pods.error().message();
  ASSERT_EQ(pods->size(), 5u);

  const TracePod& first = (*pods)[0];
  EXPECT_EQ(first.name, "openb-pod-0000");
  EXPECT_EQ(first.cpu_milli, 12000);
  EXPECT_EQ(first.memory_mib, 16384);
  EXPECT_EQ(first.num_gpu, 1);
  EXPECT_EQ(first.gpu_milli, 1000);
  EXPECT_TRUE(first.gpu_spec.empty());
  EXPECT_EQ(first.qos, Qos::kLatencySensitive);
  EXPECT_EQ(first.phase, PodPhase::kRunning);
  EXPECT_EQ(first.creation_time, 0);
  EXPECT_EQ(first.deletion_time, 12537496);
  EXPECT_EQ(first.scheduled_time, 0);

  EXPECT_EQ((*pods)[1].gpu_milli, 460);
  EXPECT_EQ((*pods)[1].TotalGpuMilli(), 460);
  EXPECT_EQ((*pods)[1].phase, PodPhase::kSucceeded);

  const TracePod& pending = (*pods)[2];
  EXPECT_EQ(pending.phase, PodPhase::kPending);
  EXPECT_EQ(pending.qos, Qos::kBestEffort);
  EXPECT_FALSE(pending.scheduled_time.has_value());
  EXPECT_EQ(pending.deletion_time, 225);

  EXPECT_EQ((*pods)[3].TotalGpuMilli(), 8000);
  EXPECT_EQ((*pods)[3].qos, Qos::kGuaranteed);
  EXPECT_EQ((*pods)[4].TotalGpuMilli(), 0);
  EXPECT_EQ((*pods)[4].qos, Qos::kBurstable);
}

TEST(TraceTest, ReadsGpuSpecAndCrlfLineEnds) {
  std::string text = WithHeader("p1,1000,1024,1,500,V100M16|V100M32,LS,Running,0,10,0\r\n");
  auto pods = ParseTrace(text);
  ASSERT_TRUE(pods) << pods.error().message();
  ASSERT_EQ(pods->size(), 1u);
  EXPECT_EQ((*pods)[0].gpu_spec, (std::vector<std::string>{"V100M16", "V100M32"}));
}

TEST(TraceTest, HeaderOnlyIsAnEmptyTrace) {
  auto pods = ParseTrace(kHeader);
  ASSERT_TRUE(pods);
  EXPECT_TRUE(pods->empty());
}

// Each malformed row sits on line 3, after a good row, so the line number is checked too.
struct MalformedCase {
  std::string_view row;
  std::string_view expected;  // a fragment of the message
};

class TraceMalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(TraceMalformedTest, NamesTheLine) {
  std::string text = WithHeader("ok,1000,1024,1,1000,,LS,Running,0,10,0\n");
  text += GetParam().row;
  text += "\n";
  auto pods = ParseTrace(text, "t.csv");
  ASSERT_FALSE(pods) << GetParam().row;
  EXPECT_EQ(pods.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(pods.error().message().find("t.csv:3: "), std::string::npos) << pods.error().message();
  EXPECT_NE(pods.error().message().find(GetParam().expected), std::string::npos)
      << pods.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TraceMalformedTest,
    ::testing::Values(
        MalformedCase{"p,1000,1024,1,1000,,LS,Running,0,10", "expected 11 fields, got 10"},
        MalformedCase{"p,1000,1024,1,1000,,LS,Running,0,10,0,9", "expected 11 fields"},
        MalformedCase{"p,12x,1024,1,1000,,LS,Running,0,10,0", "cpu_milli must be"},
        MalformedCase{"p,1000,,1,1000,,LS,Running,0,10,0", "memory_mib must be"},
        MalformedCase{"p,1000,1024,-1,1000,,LS,Running,0,10,0", "num_gpu must be in"},
        MalformedCase{"p,1000,1024,1,1001,,LS,Running,0,10,0", "gpu_milli must be in"},
        MalformedCase{"p,1000,1024,2,500,,LS,Running,0,10,0", "must be 1000 when num_gpu"},
        MalformedCase{"p,1000,1024,0,500,,LS,Running,0,10,0", "must be 0 when num_gpu is 0"},
        MalformedCase{"p,1000,1024,1,1000,,XX,Running,0,10,0", "qos must be"},
        MalformedCase{"p,1000,1024,1,1000,,LS,Lost,0,10,0", "pod_phase must be"},
        MalformedCase{"p,1000,1024,1,1000,,LS,Running,20,10,", "deletion_time is before"},
        MalformedCase{"p,1000,1024,1,1000,,LS,Running,5,10,4", "scheduled_time is outside"},
        MalformedCase{",1000,1024,1,1000,,LS,Running,0,10,0", "name is empty"},
        MalformedCase{"\"p\",1000,1024,1,1000,,LS,Running,0,10,0", "quoted fields"},
        MalformedCase{"p,1000,1024,1,1000,A||B,LS,Running,0,10,0", "empty model name"},
        MalformedCase{"ok,1000,1024,1,1000,,LS,Running,0,10,0", "duplicate pod name"},
        MalformedCase{"", "empty line"}));

TEST(TraceTest, RejectsAWrongHeader) {
  auto pods = ParseTrace("name,cpu,memory\np,1,2\n", "t.csv");
  ASSERT_FALSE(pods);
  EXPECT_NE(pods.error().message().find("t.csv:1: expected the header"), std::string::npos);
  EXPECT_FALSE(ParseTrace(""));
}

TEST(TraceTest, ReadTraceReportsAMissingFile) {
  auto pods = ReadTrace("/nonexistent/trace.csv");
  ASSERT_FALSE(pods);
  EXPECT_EQ(pods.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hangar::sim
