// The synthetic workload generator. See workload_gen.h.
#include "workload_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <random>
#include <span>

namespace hangar::sim {
namespace {

// A uniform double in [0, 1): the top 53 bits of one engine output.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// A standard normal by Box-Muller (one of the pair; the other is discarded for simplicity).
double Normal(std::mt19937_64& rng) {
  double u1 = 1.0 - Uniform(rng);  // (0, 1]
  double u2 = Uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Picks an index with the given weights.
size_t Pick(std::mt19937_64& rng, std::span<const double> weights) {
  double total = 0;
  for (double w : weights) total += w;
  double x = Uniform(rng) * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return weights.size() - 1;
}

// The trace's GPU pods (7,064): 3,911 whole single GPUs, 3,078 shares, 16 x 2, 15 x 4, 44 x 8.
// Shares: 810 (1,078), 470 (750), 320 (328), 650 (253), the other 669 spread over 100..900.
struct Size {
  int32_t gpus;
  int32_t milli;  // 0: one of the "other" shares
};
constexpr std::array<Size, 9> kSizes = {
    {{1, 1000}, {1, 810}, {1, 470}, {1, 320}, {1, 650}, {1, 0}, {2, 1000}, {4, 1000}, {8, 1000}}};
constexpr std::array<double, 9> kSizeWeights = {3911, 1078, 750, 328, 253, 669, 16, 15, 44};

// QoS mix of the trace: LS 4,647, BE 3,398, Burstable 100, Guaranteed 7.
constexpr std::array<double, 4> kQosWeights = {4647, 3398, 100, 7};
constexpr std::array<std::string_view, 4> kQosNames = {"LS", "BE", "Burstable", "Guaranteed"};

// Run times: log-normal with the trace's median (653 s for GPU pods) and p90 (7,380 s):
// sigma = ln(7380 / 653) / 1.2816 = 1.89; clamped to [10 s, 14 days].
constexpr double kMedianSeconds = 653;
constexpr double kSigma = 1.89;
constexpr double kMinSeconds = 10;
constexpr double kMaxSeconds = 14 * 86400;

}  // namespace

JobSet GenerateSynthetic(const SyntheticOptions& options) {
  JobSet set;
  for (std::string_view qos : kQosNames) {
    for (uint32_t b = 0; b < kTenantBucketsPerQos; ++b) {
      set.tenants.push_back(fmt::format("{}-{}", qos, b));
    }
  }
  std::mt19937_64 rng(options.seed);
  double now_us = 0;
  const double mean_gap = static_cast<double>(options.mean_interarrival.count());
  set.jobs.reserve(static_cast<size_t>(std::max<int64_t>(options.jobs, 0)));
  for (int64_t i = 0; i < options.jobs; ++i) {
    Job job;
    job.id = fmt::format("syn-{:07}", i + 1);
    if (i > 0) now_us += -std::log(1.0 - Uniform(rng)) * mean_gap;
    job.submit = Micros(std::llround(now_us));
    double run_s = kMedianSeconds * std::exp(kSigma * Normal(rng));
    run_s = std::clamp(run_s, kMinSeconds, kMaxSeconds);
    job.duration = Micros(std::llround(run_s * 1e6));
    if (Uniform(rng) < options.gang_fraction) {
      job.request.nodes = 2 + static_cast<int32_t>(Uniform(rng) * 3);  // 2..4
      job.request.gpus_per_node = 8;
      job.request.gpu_milli = scheduling::kWholeGpu;
    } else {
      const Size& size = kSizes[Pick(rng, kSizeWeights)];
      job.request.gpus_per_node = size.gpus;
      job.request.gpu_milli =
          size.milli > 0 ? size.milli : 100 + 10 * static_cast<int32_t>(Uniform(rng) * 81);
    }
    size_t qos = Pick(rng, kQosWeights);
    job.tenant =
        static_cast<uint32_t>(qos) * kTenantBucketsPerQos + Fnv1a(job.id) % kTenantBucketsPerQos;
    set.jobs.push_back(std::move(job));
  }
  return set;  // generated in submit order, ids increasing
}

}  // namespace hangar::sim
