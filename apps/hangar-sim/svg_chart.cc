// The SVG chart. See svg_chart.h.
#include "svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "common/markup.h"

namespace hangar::sim {
namespace {

constexpr double kWidth = 960;
constexpr double kPanelHeight = 260;
constexpr double kLeft = 70;
constexpr double kRight = 180;  // room for the legend
constexpr double kTop = 40;
constexpr double kGap = 60;
constexpr std::array<std::string_view, 8> kColours = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                                      "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};

// A "nice" axis maximum (1, 2 or 5 x 10^k) at or above `v`.
double NiceMax(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

std::string Tick(double v) {
  if (v == std::floor(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

struct Panel {
  double top;
  double y_max;
  std::string y_label;
  std::function<double(const SeriesPoint&)> value;
};

}  // namespace

std::string RenderChart(std::span<const ChartSeries> series, std::string_view title) {
  double x_max = 0;
  double pending_max = 0;
  for (const ChartSeries& s : series) {
    for (const SeriesPoint& p : s.points) {
      x_max = std::max(x_max, p.t_s / 3600);
      pending_max = std::max(pending_max, p.pending);
    }
  }
  x_max = NiceMax(x_max);
  const double plot_width = kWidth - kLeft - kRight;
  const double height = kTop + 2 * kPanelHeight + kGap + 50;
  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"15\">{3}</text>\n",
      kWidth, height, kLeft, EscapeMarkup(title));
  const std::array<Panel, 2> panels = {{
      {kTop, NiceMax(pending_max), "jobs waiting", [](const SeriesPoint& p) { return p.pending; }},
      {kTop + kPanelHeight + kGap, 100, "GPU allocation (%)",
       [](const SeriesPoint& p) { return p.allocation * 100; }},
  }};
  for (const Panel& panel : panels) {
    const double bottom = panel.top + kPanelHeight;
    out += fmt::format(
        "<g class=\"panel\">\n"
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n"
        "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\" stroke=\"black\"/>\n"
        "<text x=\"16\" y=\"{4}\" transform=\"rotate(-90 16 {4})\" "
        "text-anchor=\"middle\">{5}</text>\n",
        kLeft, panel.top, bottom, kLeft + plot_width, panel.top + kPanelHeight / 2,
        EscapeMarkup(panel.y_label));
    for (int i = 0; i <= 5; ++i) {
      const double v = panel.y_max * i / 5;
      const double y = bottom - kPanelHeight * i / 5;
      const double x = kLeft + plot_width * i / 5;
      out += fmt::format(
          "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n"
          "<text x=\"{6:.1f}\" y=\"{7}\" text-anchor=\"middle\">{8}</text>\n",
          kLeft, y, kLeft + plot_width, kLeft - 6, y + 4, Tick(v), x, bottom + 16,
          Tick(x_max * i / 5));
    }
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">virtual time (h)</text>\n",
                       kLeft + plot_width / 2, bottom + 34);
    for (size_t k = 0; k < series.size(); ++k) {
      const ChartSeries& s = series[k];
      out += fmt::format(
          "<polyline data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" "
          "points=\"",
          EscapeMarkup(s.name), kColours[k % kColours.size()]);
      for (size_t i = 0; i < s.points.size(); ++i) {
        const SeriesPoint& p = s.points[i];
        const double x = kLeft + plot_width * (p.t_s / 3600) / x_max;
        const double y = bottom - kPanelHeight * std::min(panel.value(p) / panel.y_max, 1.0);
        out += fmt::format("{}{:.1f},{:.1f}", i == 0 ? "" : " ", x, y);
      }
      out += "\"/>\n";
    }
    out += "</g>\n";
  }
  for (size_t k = 0; k < series.size(); ++k) {
    const double y = kTop + 10 + 20 * static_cast<double>(k);
    const double x = kWidth - kRight + 20;
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>"
        "<text x=\"{4}\" y=\"{5}\">{6}</text>\n",
        x, y, x + 24, kColours[k % kColours.size()], x + 30, y + 4, EscapeMarkup(series[k].name));
  }
  out += "</svg>\n";
  return out;
}

}  // namespace hangar::sim
