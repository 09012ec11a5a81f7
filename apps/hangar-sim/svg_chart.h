// A hand-written SVG chart of a replay: two panels over the same virtual-time axis (hours), the
// number of jobs waiting on top and the GPU allocation (percent of capacity) below, one line per
// policy with a legend. Plain text, no dependencies; every label is XML-escaped.
//
// Thread-safety: a pure function.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replay.h"

namespace hangar::sim {

struct ChartSeries {
  std::string name;  // the legend entry (a policy)
  std::vector<SeriesPoint> points;
};

// The whole SVG document. Each series is a <polyline> per panel carrying
// data-series="<name>"; an empty series list gives empty panels with axes.
std::string RenderChart(std::span<const ChartSeries> series, std::string_view title);

}  // namespace hangar::sim
