#include "monitoring/metric_hub.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/json_codec.h"

namespace hangar::monitoring {
namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
// A query may return at most this many buckets (Prometheus allows 11,000 points per series).
constexpr int64_t kMaxBuckets = 11'000;
constexpr size_t kMaxPointsPerBatch = 200'000;
constexpr std::array<MetricInfo, store::kRolledUpMetricCount> kMetrics{{
    {"utilization", "percent"},
    {"memory_used_mib", "MiB"},
    {"temperature_c", "celsius"},
    {"power_watts", "watts"},
    {"sm_clock_mhz", "MHz"},
}};

int64_t FloorTo(int64_t value, int64_t step) {
  int64_t q = value / step;
  if (value % step != 0 && value < 0) --q;
  return q * step;
}

std::string BucketKey(const std::string& scope_id, int64_t bucket) {
  return scope_id + "@" + std::to_string(bucket);
}

void Merge(store::RollupRecord& into, const store::RollupRecord& from) {
  if (into.samples == 0) {
    int64_t keep_bucket = into.bucket, keep_resolution = into.resolution_seconds;
    into = from;
    into.bucket = keep_bucket;
    into.resolution_seconds = keep_resolution;
    return;
  }
  for (size_t m = 0; m < store::kRolledUpMetricCount; ++m) {
    into.metrics[m].min = std::min(into.metrics[m].min, from.metrics[m].min);
    into.metrics[m].max = std::max(into.metrics[m].max, from.metrics[m].max);
    into.metrics[m].sum += from.metrics[m].sum;
  }
  into.samples += from.samples;
  into.sample_seconds += from.sample_seconds;
}

// Prometheus text format label value escaping: backslash, double quote and newline.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool Finite(double v) { return std::isfinite(v); }

}  // namespace

std::optional<size_t> MetricIndex(std::string_view name) {
  for (size_t i = 0; i < kMetrics.size(); ++i) {
    if (kMetrics[i].name == name) return i;
  }
  return std::nullopt;
}

MetricInfo MetricAt(size_t index) { return kMetrics.at(index); }

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kGpu:
      return "gpu";
    case Scope::kNode:
      return "node";
    case Scope::kProject:
      return "project";
    case Scope::kTeam:
      return "team";
  }
  return "gpu";
}

MetricHub::MetricHub(store::Store& store, const Clock& clock, const workloads::GpuHolders& holders,
                     MetricHubOptions options)
    : store_(store),
      clock_(clock),
      holders_(holders),
      options_(options),
      last_retention_(clock.Now()) {}

void MetricHub::ForgetNode(const NodeId& node) {
  std::lock_guard lock(mutex_);
  if (auto it = nodes_.find(node.str()); it != nodes_.end()) it->second.stale = true;
}

Result<MetricHub::NodeEntry*> MetricHub::LoadNodeLocked(std::unique_lock<std::mutex>& lock,
                                                        const OrgId& org, const NodeId& node) {
  if (auto it = nodes_.find(node.str()); it != nodes_.end() && !it->second.stale) {
    return &it->second;
  }
  // Read the node's GPUs without holding the hub: other nodes' batches go on meanwhile.
  lock.unlock();
  std::optional<store::NodeRecord> record;
  std::vector<store::GpuRecord> gpus;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    HANGAR_ASSIGN_OR_RETURN(record, store::GetNode(tx, org, node));
    if (record) {
      HANGAR_ASSIGN_OR_RETURN(gpus, store::ListGpusOfNode(tx, org, node));
    }
    return Ok();
  });
  lock.lock();
  if (!read) return std::unexpected(read.error());
  if (!record) return std::unexpected(Error::NotFound("no node " + node.str()));
  if (auto it = nodes_.find(node.str()); it != nodes_.end() && !it->second.stale) {
    return &it->second;  // another batch of the node loaded it meanwhile
  }
  NodeEntry entry{.org_id = org.str()};
  std::unordered_map<std::string, GpuSeries> kept;  // samples of GPUs the node still has
  if (auto old = nodes_.find(node.str()); old != nodes_.end()) {
    entry.agent_dropped = old->second.agent_dropped;
    for (const auto& id : old->second.gpu_ids) {
      if (auto g = gpus_.find(id); g != gpus_.end()) {
        kept.emplace(id, std::move(g->second));
        gpus_.erase(g);
      }
    }
  }
  for (const auto& g : gpus) {
    GpuSeries series{.snapshot = {.id = g.id,
                                  .org_id = g.org_id,
                                  .node_id = g.node_id,
                                  .node_name = record->name,
                                  .index = g.index,
                                  .uuid = g.uuid,
                                  .product_name = g.product_name,
                                  .gpu_type = g.gpu_type_name,
                                  .driver_version = g.driver_version,
                                  .memory_mib = g.memory_mib,
                                  .state = g.state}};
    if (auto k = kept.find(g.id.str()); k != kept.end()) {
      series.raw = std::move(k->second.raw);
      series.snapshot.latest = k->second.snapshot.latest;
      series.snapshot.last_xid = k->second.snapshot.last_xid;
      series.snapshot.received_at = k->second.snapshot.received_at;
    }
    entry.gpu_ids.push_back(g.id.str());
    entry.by_uuid[g.uuid] = g.id.str();
    gpus_[g.id.str()] = std::move(series);
  }
  auto [it, inserted] = nodes_.insert_or_assign(node.str(), std::move(entry));
  return &it->second;
}

void MetricHub::AddToBucket(const std::string& scope_id, const std::string& org_id, int64_t bucket,
                            const RawPoint& p, double sample_seconds) {
  auto [it, inserted] = open_.try_emplace(BucketKey(scope_id, bucket));
  store::RollupRecord& r = it->second;
  if (inserted) {
    r.scope_id = scope_id;
    r.resolution_seconds = kMinute;
    r.bucket = bucket;
    r.org_id = OrgId::FromTrusted(org_id);
  }
  for (size_t m = 0; m < store::kRolledUpMetricCount; ++m) {
    double v = p.v[m];
    auto& s = r.metrics[m];
    s.min = r.samples == 0 ? v : std::min(s.min, v);
    s.max = r.samples == 0 ? v : std::max(s.max, v);
    s.sum += v;
  }
  ++r.samples;
  r.sample_seconds += sample_seconds;
}

Result<api::MetricBatchResponse> MetricHub::Ingest(const OrgId& org, const NodeId& node,
                                                   const api::MetricBatchRequest& batch) {
  Error invalid = Error::Invalid("the metric batch is not valid");
  if (batch.sample_period_ms < 100 || batch.sample_period_ms > 3'600'000) {
    invalid.AddField("/sample_period_ms", "must be 100..3600000");
  }
  if (batch.dropped_samples < 0) invalid.AddField("/dropped_samples", "must be >= 0");
  size_t total = 0;
  for (size_t g = 0; g < batch.gpus.size() && invalid.violations().size() < 10; ++g) {
    const auto& series = batch.gpus[g];
    std::string at = "/gpus/" + std::to_string(g);
    if (series.uuid.empty() || series.uuid.size() > 128) {
      invalid.AddField(at + "/uuid", "must be 1..128 characters");
    }
    total += series.points.size();
    for (size_t i = 0; i < series.points.size(); ++i) {
      const auto& p = series.points[i];
      std::string pat = at + "/points/" + std::to_string(i);
      if (p.t <= 0) invalid.AddField(pat + "/t", "must be Unix milliseconds");
      if (!Finite(p.utilization) || p.utilization < 0 || p.utilization > 100) {
        invalid.AddField(pat + "/utilization", "must be 0..100");
      }
      if (p.memory_used_mib < 0) invalid.AddField(pat + "/memory_used_mib", "must be >= 0");
      if (!Finite(p.temperature_c) || !Finite(p.power_watts) || p.power_watts < 0) {
        invalid.AddField(pat, "temperature_c and power_watts must be finite, power >= 0");
      }
      if (invalid.violations().size() >= 10) break;
    }
  }
  if (total > kMaxPointsPerBatch) {
    invalid.AddField("/gpus", fmt::format("at most {} points per batch", kMaxPointsPerBatch));
  }
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));

  Timestamp now = clock_.Now();
  int64_t now_ms = ToUnixMicros(now) / 1000;
  int64_t oldest_ms = now_ms - options_.minute_retention.count() / 1000;
  int64_t newest_ms = now_ms + 5 * 60 * 1000;
  int64_t raw_horizon_ms = now_ms - options_.raw_retention.count() / 1000;
  double sample_seconds = static_cast<double>(batch.sample_period_ms) / 1000.0;
  auto holders = holders_.Of(org.str());

  api::MetricBatchResponse response;
  std::unique_lock lock(mutex_);
  HANGAR_ASSIGN_OR_RETURN(NodeEntry * entry, LoadNodeLocked(lock, org, node));
  ++counters_.batches;
  counters_.agent_dropped += std::max<int64_t>(0, batch.dropped_samples - entry->agent_dropped);
  entry->agent_dropped = std::max(entry->agent_dropped, batch.dropped_samples);
  bool unknown_gpu = false;
  for (const auto& series : batch.gpus) {
    auto id = entry->by_uuid.find(series.uuid);
    if (id == entry->by_uuid.end()) {
      unknown_gpu = true;
      response.ignored += static_cast<int64_t>(series.points.size());
      continue;
    }
    GpuSeries& gpu = gpus_.at(id->second);
    const std::string& gpu_id = id->second;
    const workloads::GpuHolder* holder = nullptr;
    if (auto h = holders->find(workloads::GpuHolders::GpuKey(node.str(), gpu.snapshot.index));
        h != holders->end()) {
      holder = &h->second;
    }
    for (const auto& p : series.points) {
      if (p.t < oldest_ms || p.t > newest_ms) {
        ++response.ignored;
        continue;
      }
      // An agent whose answer got lost sends the batch again: a point already in the ring is
      // a repeat, not a second sample (older repeats cannot be told apart and count twice).
      if (!gpu.raw.empty() && p.t <= gpu.raw.back().t_ms && p.t >= gpu.raw.front().t_ms) {
        auto at = std::lower_bound(gpu.raw.begin(), gpu.raw.end(), p.t,
                                   [](const RawPoint& r, int64_t t) { return r.t_ms < t; });
        if (at != gpu.raw.end() && at->t_ms == p.t) {
          ++response.ignored;
          continue;
        }
      }
      RawPoint raw{.t_ms = p.t,
                   .v = {static_cast<float>(p.utilization), static_cast<float>(p.memory_used_mib),
                         static_cast<float>(p.temperature_c), static_cast<float>(p.power_watts),
                         static_cast<float>(p.sm_clock_mhz)}};
      int64_t bucket = FloorTo(p.t / 1000, kMinute);
      AddToBucket(gpu_id, entry->org_id, bucket, raw, sample_seconds);
      AddToBucket(node.str(), entry->org_id, bucket, raw, sample_seconds);
      if (holder) {
        AddToBucket(holder->project_id, entry->org_id, bucket, raw, sample_seconds);
        AddToBucket(holder->team_id, entry->org_id, bucket, raw, sample_seconds);
      }
      if (p.t >= raw_horizon_ms) {
        // Usually in order; a late point is inserted where it belongs.
        if (gpu.raw.empty() || gpu.raw.back().t_ms <= p.t) {
          gpu.raw.push_back(raw);
        } else {
          auto pos = std::upper_bound(gpu.raw.begin(), gpu.raw.end(), p.t,
                                      [](int64_t t, const RawPoint& r) { return t < r.t_ms; });
          gpu.raw.insert(pos, raw);
        }
      }
      if (!gpu.snapshot.latest || gpu.snapshot.latest->t <= p.t) {
        gpu.snapshot.latest = p;
        gpu.snapshot.received_at = now;
      }
      ++response.accepted;
    }
    while (!gpu.raw.empty() && gpu.raw.front().t_ms < raw_horizon_ms) gpu.raw.pop_front();
    for (const auto& x : series.xids.value_or(std::vector<api::GpuXidEvent>{})) {
      gpu.snapshot.last_xid = x.xid;
    }
  }
  counters_.points_accepted += response.accepted;
  counters_.points_ignored += response.ignored;
  counters_.pending_buckets = static_cast<int64_t>(open_.size());
  // The node's inventory changed since it was loaded: reload it with the next batch.
  if (unknown_gpu) entry->stale = true;
  return response;
}

Status MetricHub::Flush(bool everything) {
  Timestamp now = clock_.Now();
  int64_t now_s = ToUnixMicros(now) / 1'000'000;
  int64_t grace_s = options_.flush_grace.count() / 1'000'000;
  std::vector<store::RollupRecord> minutes;
  {
    std::lock_guard lock(mutex_);
    for (auto it = open_.begin(); it != open_.end();) {
      if (everything || it->second.bucket + kMinute + grace_s <= now_s) {
        minutes.push_back(std::move(it->second));
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
    counters_.pending_buckets = static_cast<int64_t>(open_.size());
  }
  // The same samples, merged into their hours.
  std::map<std::pair<std::string, int64_t>, store::RollupRecord> hours;
  for (const auto& m : minutes) {
    int64_t hour = FloorTo(m.bucket, kHour);
    auto [it, inserted] = hours.try_emplace({m.scope_id, hour});
    if (inserted) {
      it->second = m;
      it->second.bucket = hour;
      it->second.resolution_seconds = kHour;
    } else {
      Merge(it->second, m);
    }
  }
  std::vector<store::RollupRecord> hour_rows;
  hour_rows.reserve(hours.size());
  for (auto& [key, r] : hours) hour_rows.push_back(std::move(r));

  bool retention_due = now - last_retention_ >= std::chrono::minutes(1);
  if (minutes.empty() && !retention_due) return Ok();
  Status written = store_.Write([&](store::Tx& tx) -> Status {
    HANGAR_TRY(store::UpsertRollups(tx, minutes));
    HANGAR_TRY(store::UpsertRollups(tx, hour_rows));
    if (retention_due) {
      HANGAR_TRY(store::DeleteRollupsBefore(tx, kMinute,
                                            now_s - options_.minute_retention.count() / 1'000'000));
      HANGAR_TRY(store::DeleteRollupsBefore(tx, kHour,
                                            now_s - options_.hour_retention.count() / 1'000'000));
    }
    return Ok();
  });
  std::lock_guard lock(mutex_);
  if (!written) {
    // Keep the buckets for the next flush rather than lose them.
    for (auto& m : minutes) {
      auto [it, inserted] = open_.try_emplace(BucketKey(m.scope_id, m.bucket), m);
      if (!inserted) Merge(it->second, m);
    }
    counters_.pending_buckets = static_cast<int64_t>(open_.size());
    return written;
  }
  if (retention_due) last_retention_ = now;
  counters_.rows_flushed += static_cast<int64_t>(minutes.size() + hour_rows.size());
  return Ok();
}

std::vector<store::RollupRecord> MetricHub::PendingOf(const std::string& scope_id, int64_t from,
                                                      int64_t to) const {
  std::vector<store::RollupRecord> out;
  // Open buckets are never older than the minute retention nor far in the future (Ingest).
  int64_t now_s = ToUnixMicros(clock_.Now()) / 1'000'000;
  from = std::max(from, now_s - options_.minute_retention.count() / 1'000'000 - kMinute);
  to = std::min(to, now_s + 10 * kMinute);
  for (int64_t b = FloorTo(from, kMinute); b < to; b += kMinute) {
    if (auto it = open_.find(BucketKey(scope_id, b)); it != open_.end()) out.push_back(it->second);
  }
  return out;
}

Result<api::MetricSeries> MetricHub::Query(const MetricQuery& q) {
  Error invalid = Error::Invalid("the metric query is not valid");
  if (q.to <= q.from) invalid.AddField("query:from", "must be before `to`");
  if (q.step_seconds < 0) invalid.AddField("query:step", "must be positive");
  if (!invalid.violations().empty()) return std::unexpected(std::move(invalid));
  Timestamp now = clock_.Now();
  int64_t from_s = ToUnixMicros(q.from) / 1'000'000;
  int64_t to_s = (ToUnixMicros(q.to) + 999'999) / 1'000'000;
  int64_t range = to_s - from_s;
  int64_t step = q.step_seconds > 0 ? q.step_seconds : std::max<int64_t>(1, (range + 299) / 300);

  // The finest resolution that covers the range and is no finer than the step.
  bool raw_possible = (q.scope == Scope::kGpu || q.scope == Scope::kNode) &&
                      q.from >= now - options_.raw_retention - std::chrono::seconds(5);
  int64_t resolution = 0;  // 0: raw
  if (step < kMinute && raw_possible) {
    resolution = 0;
  } else if (step < kHour && q.from >= now - options_.minute_retention) {
    resolution = kMinute;
  } else {
    resolution = kHour;
  }
  if (resolution > 0)
    step = std::max(resolution, (step + resolution - 1) / resolution * resolution);
  if (range / step > kMaxBuckets) {
    return std::unexpected(
        Error::Invalid("the metric query is not valid")
            .Field("query:step", fmt::format("{} s over this range gives more than {} buckets",
                                             step, kMaxBuckets))
            .Hint(fmt::format("use step={}s or more", (range + kMaxBuckets - 1) / kMaxBuckets)));
  }

  // Accumulate into buckets aligned to multiples of `step`.
  std::map<int64_t, store::RollupRecord> buckets;
  auto add = [&](int64_t t_s, const store::RollupRecord& part) {
    int64_t b = FloorTo(t_s, step);
    auto [it, inserted] = buckets.try_emplace(b);
    if (inserted) it->second.bucket = b;
    Merge(it->second, part);
  };
  size_t metric = q.metric;
  if (resolution == 0) {
    std::lock_guard lock(mutex_);
    std::vector<const GpuSeries*> series;
    if (q.scope == Scope::kGpu) {
      if (auto it = gpus_.find(q.scope_id); it != gpus_.end()) series.push_back(&it->second);
    } else if (auto n = nodes_.find(q.scope_id); n != nodes_.end()) {
      for (const auto& id : n->second.gpu_ids) {
        if (auto it = gpus_.find(id); it != gpus_.end()) series.push_back(&it->second);
      }
    }
    int64_t from_ms = ToUnixMicros(q.from) / 1000, to_ms = ToUnixMicros(q.to) / 1000;
    for (const GpuSeries* s : series) {
      // The agent's period, from the spacing of the two newest samples (1 s when unknown).
      double period = 1.0;
      if (s->raw.size() >= 2) {
        period = std::max(0.001, (s->raw.back().t_ms - s->raw[s->raw.size() - 2].t_ms) / 1000.0);
      }
      for (const RawPoint& p : s->raw) {
        if (p.t_ms < from_ms || p.t_ms >= to_ms) continue;
        store::RollupRecord one{.samples = 1, .sample_seconds = period};
        for (size_t m = 0; m < store::kRolledUpMetricCount; ++m) {
          one.metrics[m] = {.min = p.v[m], .max = p.v[m], .sum = p.v[m]};
        }
        add(p.t_ms / 1000, one);
      }
    }
  } else {
    std::vector<store::RollupRecord> rows;
    HANGAR_TRY(store_.Read([&](store::Tx& tx) -> Status {
      HANGAR_ASSIGN_OR_RETURN(
          rows, store::ListRollups(tx, q.scope_id, resolution, FloorTo(from_s, resolution), to_s));
      return Ok();
    }));
    for (const auto& r : rows) add(r.bucket, r);
    std::lock_guard lock(mutex_);
    for (const auto& r : PendingOf(q.scope_id, FloorTo(from_s, resolution), to_s)) {
      add(r.bucket, r);
    }
  }

  api::MetricSeries out{.scope = std::string(ScopeName(q.scope)),
                        .scope_id = q.scope_id,
                        .metric = std::string(kMetrics[metric].name),
                        .unit = std::string(kMetrics[metric].unit),
                        .from = FormatRfc3339(q.from),
                        .to = FormatRfc3339(q.to),
                        .step_seconds = step,
                        .resolution = resolution == 0         ? "raw"
                                      : resolution == kMinute ? "1m"
                                                              : "1h"};
  for (const auto& [b, r] : buckets) {
    if (r.samples == 0) continue;
    const auto& s = r.metrics[metric];
    out.points.push_back(api::MetricBucket{.t = FormatRfc3339(FromUnixMicros(b * 1'000'000)),
                                           .min = s.min,
                                           .avg = s.sum / static_cast<double>(r.samples),
                                           .max = s.max,
                                           .samples = r.samples,
                                           .gpus = r.sample_seconds / static_cast<double>(step)});
  }
  return out;
}

std::vector<GpuSnapshot> MetricHub::Gpus(const std::string& org_id) const {
  std::lock_guard lock(mutex_);
  std::vector<GpuSnapshot> out;
  out.reserve(gpus_.size());
  for (const auto& [id, s] : gpus_) {
    if (org_id.empty() || s.snapshot.org_id.str() == org_id) out.push_back(s.snapshot);
  }
  std::sort(out.begin(), out.end(), [](const GpuSnapshot& a, const GpuSnapshot& b) {
    return std::tie(a.node_name, a.index) < std::tie(b.node_name, b.index);
  });
  return out;
}

void MetricHub::WritePrometheus(std::string& out) const {
  std::vector<GpuSnapshot> gpus = Gpus();
  // DCGM-exporter's names, so its Grafana dashboards work unchanged. Two deliberate
  // differences keep `promtool check metrics` clean: the model label is model_name (DCGM's
  // modelName is camelCase), and the ECC totals are typed gauge (a counter must end in _total).
  struct Family {
    std::string_view name;
    std::string_view help;
    double (*value)(const GpuSnapshot&);
  };
  static constexpr Family kFamilies[] = {
      {"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).",
       [](const GpuSnapshot& g) { return g.latest->utilization; }},
      {"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).",
       [](const GpuSnapshot& g) { return static_cast<double>(g.latest->memory_used_mib); }},
      {"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).",
       [](const GpuSnapshot& g) {
         return static_cast<double>(std::max<int64_t>(0, g.memory_mib - g.latest->memory_used_mib));
       }},
      {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).",
       [](const GpuSnapshot& g) { return g.latest->temperature_c; }},
      {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).",
       [](const GpuSnapshot& g) { return g.latest->power_watts; }},
      {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).",
       [](const GpuSnapshot& g) { return static_cast<double>(g.latest->sm_clock_mhz); }},
      {"DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "Total number of single-bit volatile ECC errors.",
       [](const GpuSnapshot& g) { return static_cast<double>(g.latest->ecc_sbe_total); }},
      {"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "Total number of double-bit volatile ECC errors.",
       [](const GpuSnapshot& g) { return static_cast<double>(g.latest->ecc_dbe_total); }},
      {"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "Current clock throttle reasons (bit mask).",
       [](const GpuSnapshot& g) { return static_cast<double>(g.latest->throttle_reasons); }},
      {"DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.",
       [](const GpuSnapshot& g) { return static_cast<double>(g.last_xid); }},
  };
  std::vector<std::string> labels;
  labels.reserve(gpus.size());
  for (const auto& g : gpus) {
    labels.push_back(
        fmt::format("gpu=\"{}\",UUID=\"{}\",device=\"nvidia{}\",model_name=\"{}\",Hostname=\"{}\","
                    "DCGM_FI_DRIVER_VERSION=\"{}\",hangar_gpu_id=\"{}\"",
                    g.index, EscapeLabel(g.uuid), g.index, EscapeLabel(g.product_name),
                    EscapeLabel(g.node_name), EscapeLabel(g.driver_version), g.id.str()));
  }
  for (const Family& f : kFamilies) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} gauge\n", f.name, f.help,
                   f.name);
    for (size_t i = 0; i < gpus.size(); ++i) {
      if (!gpus[i].latest) continue;
      fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", f.name, labels[i], f.value(gpus[i]));
    }
  }
}

MetricHub::Counters MetricHub::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace hangar::monitoring
