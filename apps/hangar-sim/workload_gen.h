// The synthetic workload generator: `jobs` jobs sized like the openb trace's GPU pods, with 2 %
// multi-node gangs, Poisson arrivals and log-normal run times, from one seed. The sizes and
// tenants follow the trace's mix (docs/simulator.md, "Synthetic workloads", gives the tables).
//
// Randomness: std::mt19937_64 seeded with the seed; uniform doubles are the top 53 bits of one
// output, normals come from Box-Muller written out here, so a seed gives the same jobs with every
// standard library (std::*_distribution algorithms are implementation-defined).
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>

#include "workload.h"

namespace hangar::sim {

struct SyntheticOptions {
  int64_t jobs = 1000;
  uint64_t seed = 1;
  double gang_fraction = 0.02;  // multi-node jobs: 2 to 4 nodes x 8 GPUs
  // Mean inter-arrival time before any ScaleToLoad.
  Micros mean_interarrival = std::chrono::seconds(60);
};

// Ids "syn-0000001", ...; tenants as FromTrace's ("<qos>-<b>", sixteen); priority 0; no limits,
// no deadlines (the rules in workload.h add them); no CPU or memory request.
JobSet GenerateSynthetic(const SyntheticOptions& options);

}  // namespace hangar::sim
