// Percentiles, Jain's index and water-filling. See metrics.h.
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hangar::sim {

double Percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  // The tolerance keeps ranks that are whole numbers in exact arithmetic (99.9 % of 1,000) from
  // rounding up because p / 100 is not exact in binary.
  double rank = std::ceil(p * static_cast<double>(sorted.size()) / 100.0 - 1e-9);
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

double Mean(std::span<const double> values) {
  if (values.empty()) return 0;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double JainIndex(std::span<const double> values) {
  double sum = 0;
  double squares = 0;
  for (double x : values) {
    sum += x;
    squares += x * x;
  }
  if (values.empty() || squares == 0) return 1;
  return sum * sum / (static_cast<double>(values.size()) * squares);
}

std::vector<double> WaterFill(std::span<const double> demands, double capacity) {
  std::vector<size_t> order(demands.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return demands[a] < demands[b]; });
  std::vector<double> shares(demands.size(), 0);
  double left = std::max(capacity, 0.0);
  for (size_t k = 0; k < order.size(); ++k) {
    // The smallest remaining demand is met in full if an equal split of what is left covers it;
    // otherwise everyone left gets the equal split.
    double equal = left / static_cast<double>(order.size() - k);
    double give = std::min(demands[order[k]], equal);
    shares[order[k]] = give;
    left -= give;
  }
  return shares;
}

}  // namespace hangar::sim
