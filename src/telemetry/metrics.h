// Telemetry: an in-process metrics registry and its Prometheus text exposition (format 0.0.4),
// which `GET /metrics` serves.
//
// Main types:
//   Registry           owns every metric family of a process and writes them as text; created
//                      once in main.cc and handed by reference to whoever defines metrics
//                      (no process-wide instance: tests build their own)
//   Family<M>          one metric name, its help text and fixed label names; WithLabels() finds
//                      or creates the series (a Counter, Gauge or Histogram) of one label-value
//                      tuple
//   Counter, Gauge,    the series; updates are lock-free atomics, cheap enough for every request
//   Histogram
//   Collector          a function that appends whole families of its own at scrape time (values
//                      that live elsewhere: /proc/self, per-GPU samples); AppendHeader() and
//                      AppendSample() write correctly escaped lines for it
//   ScopedTimer        observes the seconds a scope took into a Histogram
//
// Invariants (checked at registration with HANGAR_CHECK: a violation is a programming error):
// metric and label names follow the Prometheus data model; a name is registered once; counter
// names end in `_total`; histogram bucket bounds are finite and strictly increasing, and `le` is
// never a label name. Label values are arbitrary UTF-8 and escaped on output, but each distinct
// tuple is a new series that lives as long as the Registry: callers pass bounded values only
// (a route pattern, never a raw path).
//
// Output: families in registration order, then collectors in registration order; a family's
// series sorted by label values; a labelled family with no series yet is omitted. A histogram's
// `_count` equals its `+Inf` bucket in every scrape; `_sum` is read separately and may trail an
// observation that is being recorded during the scrape.
//
// Thread-safety: everything may be called from any thread, concurrently. Series updates are
// atomic; WithLabels() takes the family's shared lock (exclusive only to create a series);
// references it returns stay valid for the Registry's lifetime. Collectors run on the scraping
// thread, one scrape's collectors one after another, and must be safe against the threads that
// change the values they report. Whatever a collector refers to must outlive the last scrape.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hangar::telemetry {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing value (requests served, errors). Reset only by a restart, which
// Prometheus' rate() understands.
class Counter {
 public:
  // `amount` must be >= 0 (negative amounts are ignored: a counter never goes down).
  void Increment(double amount = 1.0) {
    if (amount > 0) value_.fetch_add(amount, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (requests in flight, queue length).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Increment() { Add(1.0); }
  void Decrement() { Add(-1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (latencies, in seconds by convention).
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, owned by the family and outliving this histogram.
  explicit Histogram(std::span<const double> bounds);

  void Observe(double value) {
    // Bucket i counts observations <= bounds[i] (and > bounds[i-1]); the last one is +Inf.
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::span<const double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Times a scope into a histogram, in seconds (steady clock). A null histogram times nothing, so
// components whose metrics are optional need no branches.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram* histogram)
      : histogram_(histogram), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    if (histogram_ != nullptr) {
      histogram_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram* histogram_;
  std::chrono::steady_clock::time_point start_;
};

namespace internal {
// Orders series by their label values; transparent, so lookups by string_view allocate nothing.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }
};

// What the Registry needs of a family of any metric type.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  // Appends this family in text format (nothing when it has no series).
  virtual void WriteText(std::string& out) const = 0;
};
}  // namespace internal

template <typename MetricT>
class Family final : public internal::FamilyBase {
 public:
  // The series with `values` (one per label name, in the order the names were registered),
  // created on first use. HANGAR_CHECKs the number of values.
  MetricT& WithLabels(std::span<const std::string_view> values);
  MetricT& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  void WriteText(std::string& out) const override;

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds);

  struct Series {
    std::string labels;  // `a="x",b="y"`, escaped once at creation
    std::unique_ptr<MetricT> metric;
  };

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, Series, internal::LabelValuesLess> series_;  // by mutex_
};

// Appends one scrape's families (see the header comment).
using Collector = std::function<void(std::string& out)>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. The returned reference lives as long as the Registry. A family without
  // labels has its one series from the start, so it is exposed (as 0) before its first update.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bucket_bounds);

  // Registers a collector, called at every scrape after the families. It must append complete
  // families (AppendHeader, then AppendSample lines) whose names no other family uses.
  void AddCollector(Collector collector);

  // Appends the text exposition of every family and collector to `out`.
  void WriteText(std::string& out) const;
  std::string Text() const;

 private:
  template <typename MetricT>
  Family<MetricT>& Add(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds);
  // HANGAR_CHECKs the names and records `name`; called with mutex_ held.
  void CheckNewName(const std::string& name, const std::vector<std::string>& label_names);

  mutable std::mutex mutex_;  // guards families_, names_ and collectors_ (not the families' data)
  std::vector<std::unique_ptr<internal::FamilyBase>> families_;
  std::vector<std::string> names_;
  std::vector<Collector> collectors_;
};

// ---- Text format helpers, for collectors
// ---------------------------------------------------------

// The media type of the text format, for the Content-Type of a scrape.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Label {
  std::string_view name;
  std::string_view value;
};

// Appends `# HELP name help` and `# TYPE name type` (help escaped: backslash, newline).
void AppendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type);
// Appends `name{labels} value` (label values escaped: backslash, double quote, newline; values
// as the shortest text that round-trips, +Inf, -Inf or NaN).
void AppendSample(std::string& out, std::string_view name, std::span<const Label> labels,
                  double value);
inline void AppendSample(std::string& out, std::string_view name,
                         std::initializer_list<Label> labels, double value) {
  AppendSample(out, name, std::span<const Label>(labels.begin(), labels.size()), value);
}
// Appends `value` escaped for a label value (without the quotes).
void AppendEscapedLabelValue(std::string& out, std::string_view value);
// Appends `value` as the format writes sample values.
void AppendValue(std::string& out, double value);

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace hangar::telemetry
