#include "agent/nvml_probe.h"

#include <gtest/gtest.h>

namespace hangar::agent {
namespace {

TEST(NvmlProbeTest, MissingLibraryIsUnavailable) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create("/nonexistent/libnvidia-ml.so.1", clock);
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("NVML not found"), std::string::npos);
  EXPECT_NE(probe.error().message().find("--simulate"), std::string::npos);

  auto via_factory = NewGpuProbe({.nvml_library = "/nonexistent/libnvidia-ml.so.1"}, clock);
  ASSERT_FALSE(via_factory.has_value());
  EXPECT_EQ(via_factory.error().code(), ErrorCode::kUnavailable);
}

TEST(NvmlProbeTest, LibraryWithoutNvmlSymbolsIsUnavailable) {
  FakeClock clock(FromUnixMicros(0));
  auto probe = NvmlProbe::Create("libc.so.6", clock);
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("nvmlInit_v2"), std::string::npos);
}

TEST(NvmlProbeTest, ArchitectureAndCudaVersionNames) {
  EXPECT_EQ(NvmlArchitectureName(7), "ampere");
  EXPECT_EQ(NvmlArchitectureName(8), "ada");
  EXPECT_EQ(NvmlArchitectureName(9), "hopper");
  EXPECT_EQ(NvmlArchitectureName(10), "blackwell");
  EXPECT_EQ(NvmlArchitectureName(0xffffffff), "unknown");
  EXPECT_EQ(NvmlCudaVersionString(12040), "12.4");
  EXPECT_EQ(NvmlCudaVersionString(11080), "11.8");
}

}  // namespace
}  // namespace hangar::agent
