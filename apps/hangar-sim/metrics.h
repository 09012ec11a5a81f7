// The statistics hangar-sim's replay reports (docs/simulator.md, "Metrics", defines each one
// for users): percentiles, Jain's fairness index, and the max-min fair split of capacity that
// the fairness index compares tenants against.
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <vector>

namespace hangar::sim {

// The p-th percentile (0 < p <= 100) by the nearest-rank method: the value at rank
// ceil(p / 100 x n) (1-based) of the sorted values. `sorted` must be sorted ascending; 0 when
// empty.
double Percentile(std::span<const double> sorted, double p);

double Mean(std::span<const double> values);  // 0 when empty

// Jain's fairness index (sum x)^2 / (n x sum x^2) over n >= 1 non-negative values: 1 when all are
// equal, 1/n when one value holds everything. 1 when empty or all zero (nothing to be unfair
// about).
double JainIndex(std::span<const double> values);

// Max-min fair (water-filling) split of `capacity` among claimants with equal weights: each gets
// min(demand, level), with the level chosen so the shares add up to min(capacity, sum of
// demands). Demands must be non-negative.
std::vector<double> WaterFill(std::span<const double> demands, double capacity);

}  // namespace hangar::sim
