// The metrics registry and the Prometheus text format 0.0.4 writer. See metrics.h.
#include "telemetry/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace hangar::telemetry {
namespace {

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <typename MetricT>
constexpr MetricType TypeOf() {
  if constexpr (std::is_same_v<MetricT, Counter>) return MetricType::kCounter;
  if constexpr (std::is_same_v<MetricT, Gauge>) return MetricType::kGauge;
  return MetricType::kHistogram;
}

// `name{labels}` or `name` when there are none; `extra` (already escaped) goes last.
void AppendSeriesName(std::string& out, std::string_view name, std::string_view suffix,
                      std::string_view labels, std::string_view extra = {}) {
  out.append(name);
  out.append(suffix);
  if (labels.empty() && extra.empty()) return;
  out.push_back('{');
  out.append(labels);
  if (!labels.empty() && !extra.empty()) out.push_back(',');
  out.append(extra);
  out.push_back('}');
}

}  // namespace

// ---- Text helpers
// ----------------------------------------------------------------------------------

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out.append("NaN");
  } else if (std::isinf(value)) {
    out.append(value > 0 ? "+Inf" : "-Inf");
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);  // shortest round-trip text
  }
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out.append("# HELP ");
  out.append(name);
  out.push_back(' ');
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  out.append("\n# TYPE ");
  out.append(name);
  out.push_back(' ');
  out.append(TypeName(type));
  out.push_back('\n');
}

void AppendSample(std::string& out, std::string_view name, std::span<const Label> labels,
                  double value) {
  out.append(name);
  if (!labels.empty()) {
    out.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(labels[i].name);
      out.append("=\"");
      AppendEscapedLabelValue(out, labels[i].value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  AppendValue(out, value);
  out.push_back('\n');
}

// ---- Histogram
// -------------------------------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the bucket total, so `_count` and the `+Inf` bucket always agree.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- Family
// ----------------------------------------------------------------------------------------

template <typename MetricT>
Family<MetricT>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                        std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename MetricT>
MetricT& Family<MetricT>::WithLabels(std::span<const std::string_view> values) {
  HANGAR_CHECK(values.size() == label_names_.size(),
               "metric " + name_ + " takes " + std::to_string(label_names_.size()) + " labels");
  {
    std::shared_lock lock(mutex_);
    if (auto it = series_.find(values); it != series_.end()) return *it->second.metric;
  }
  std::unique_lock lock(mutex_);
  if (auto it = series_.find(values); it != series_.end()) return *it->second.metric;
  Series series;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) series.labels.push_back(',');
    series.labels.append(label_names_[i]);
    series.labels.append("=\"");
    AppendEscapedLabelValue(series.labels, values[i]);
    series.labels.push_back('"');
  }
  if constexpr (std::is_same_v<MetricT, Histogram>) {
    series.metric = std::make_unique<Histogram>(bounds_);
  } else {
    series.metric = std::make_unique<MetricT>();
  }
  MetricT& metric = *series.metric;
  series_.emplace(std::vector<std::string>(values.begin(), values.end()), std::move(series));
  return metric;
}

template <typename MetricT>
void Family<MetricT>::WriteText(std::string& out) const {
  std::shared_lock lock(mutex_);
  if (series_.empty()) return;
  AppendHeader(out, name_, help_, TypeOf<MetricT>());
  for (const auto& [values, series] : series_) {
    if constexpr (std::is_same_v<MetricT, Histogram>) {
      Histogram::Snapshot snapshot = series.metric->Read();
      std::string le;
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        le.assign("le=\"");
        if (i < bounds_.size()) {
          AppendValue(le, bounds_[i]);
        } else {
          le.append("+Inf");
        }
        le.push_back('"');
        AppendSeriesName(out, name_, "_bucket", series.labels, le);
        out.push_back(' ');
        fmt::format_to(std::back_inserter(out), "{}\n", snapshot.cumulative[i]);
      }
      AppendSeriesName(out, name_, "_sum", series.labels);
      out.push_back(' ');
      AppendValue(out, snapshot.sum);
      out.push_back('\n');
      AppendSeriesName(out, name_, "_count", series.labels);
      fmt::format_to(std::back_inserter(out), " {}\n", snapshot.count);
    } else {
      AppendSeriesName(out, name_, "", series.labels);
      out.push_back(' ');
      AppendValue(out, series.metric->Value());
      out.push_back('\n');
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry
// --------------------------------------------------------------------------------------

void Registry::CheckNewName(const std::string& name, const std::vector<std::string>& label_names) {
  HANGAR_CHECK(IsValidName(name, /*allow_colon=*/true), "invalid metric name: " + name);
  for (const auto& label : label_names) {
    HANGAR_CHECK(IsValidName(label, /*allow_colon=*/false) && !label.starts_with("__"),
                 "invalid label name " + label + " of metric " + name);
  }
  HANGAR_CHECK(std::find(names_.begin(), names_.end(), name) == names_.end(),
               "metric registered twice: " + name);
  names_.push_back(name);
}

template <typename MetricT>
Family<MetricT>& Registry::Add(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  CheckNewName(name, label_names);
  bool unlabelled = label_names.empty();
  std::unique_ptr<Family<MetricT>> family(new Family<MetricT>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  Family<MetricT>& added = *family;
  families_.push_back(std::move(family));
  if (unlabelled) added.WithLabels({});
  return added;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  HANGAR_CHECK(name.ends_with("_total"), "counter names end in _total: " + name);
  return Add<Counter>(std::move(name), std::move(help), std::move(label_names), {});
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(std::move(name), std::move(help), std::move(label_names), {});
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bucket_bounds) {
  HANGAR_CHECK(!bucket_bounds.empty(), "histogram without buckets: " + name);
  for (size_t i = 0; i < bucket_bounds.size(); ++i) {
    HANGAR_CHECK(
        std::isfinite(bucket_bounds[i]) && (i == 0 || bucket_bounds[i - 1] < bucket_bounds[i]),
        "histogram bounds must be finite and increasing: " + name);
  }
  HANGAR_CHECK(std::find(label_names.begin(), label_names.end(), "le") == label_names.end(),
               "`le` is reserved for histogram buckets: " + name);
  return Add<Histogram>(std::move(name), std::move(help), std::move(label_names),
                        std::move(bucket_bounds));
}

void Registry::AddCollector(Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

void Registry::WriteText(std::string& out) const {
  // Write outside the lock: a slow collector must not hold up registration, and a collector may
  // itself use the registry. Families are never removed, so the pointers stay valid.
  std::vector<const internal::FamilyBase*> families;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const auto& family : families_) families.push_back(family.get());
    collectors = collectors_;
  }
  for (const auto* family : families) family->WriteText(out);
  for (const auto& collector : collectors) collector(out);
}

std::string Registry::Text() const {
  std::string out;
  WriteText(out);
  return out;
}

}  // namespace hangar::telemetry
