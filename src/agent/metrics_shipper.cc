#include "agent/metrics_shipper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hangar::agent {

using std::chrono::microseconds;

namespace {

int64_t UnixMillis(Timestamp t) { return ToUnixMicros(t) / 1000; }

api::GpuMetricPoint ToPoint(const GpuSample& s) {
  return api::GpuMetricPoint{
      .t = UnixMillis(s.at),
      .utilization = static_cast<double>(s.utilization_percent),
      .memory_used_mib = s.memory_used_mib,
      .temperature_c = static_cast<double>(s.temperature_c),
      .power_watts = static_cast<double>(s.power_milliwatts) / 1000.0,
      .sm_clock_mhz = s.sm_clock_mhz,
      .ecc_sbe_total = s.ecc_sbe_total,
      .ecc_dbe_total = s.ecc_dbe_total,
      .throttle_reasons = static_cast<int64_t>(s.throttle_reasons),
  };
}

}  // namespace

MetricsShipper::MetricsShipper(ShipperOptions options, GpuProbe& probe, const Clock& clock)
    : options_(options),
      probe_(probe),
      clock_(clock),
      batch_points_(std::max<size_t>(1, options.max_points_per_batch)) {}

MetricsShipper::~MetricsShipper() { Stop(); }

void MetricsShipper::SetIdentity(const std::optional<AgentState>& identity) {
  std::lock_guard lock(mu_);
  identity_ = identity;
}

size_t MetricsShipper::buffered() const {
  std::lock_guard lock(mu_);
  return points_.size();
}

uint32_t MetricsShipper::GpuSlot(const std::string& uuid) {
  auto [it, inserted] = slots_.try_emplace(uuid, static_cast<uint32_t>(uuids_.size()));
  if (inserted) uuids_.push_back(uuid);
  return it->second;
}

void MetricsShipper::SampleOnce() {
  auto samples = probe_.Sample();
  if (!samples) {
    spdlog::warn("{} probe: {}; no GPU metrics this period", probe_.name(),
                 samples.error().ToString());
    return;
  }
  ++stats_.samples;
  bool debug = spdlog::should_log(spdlog::level::debug);
  std::lock_guard lock(mu_);
  int64_t taken = 0;
  for (const GpuSample& s : *samples) {
    if (!s.uuid.empty()) uuid_by_index_[s.index] = s.uuid;
    auto known = uuid_by_index_.find(s.index);
    if (known == uuid_by_index_.end()) continue;  // never identified: nothing to file it under
    uint32_t gpu = GpuSlot(known->second);
    for (const GpuXid& x : s.xids) {
      xids_.push_back({next_seq_++, gpu, {.t = UnixMillis(x.at), .xid = x.xid}});
    }
    if (debug) {
      spdlog::debug("gpu {}: {}{}% busy, {} MiB used, {} C, {} W, {} MHz", s.index,
                    s.lost ? "LOST " : "", s.utilization_percent, s.memory_used_mib,
                    s.temperature_c, s.power_milliwatts / 1000, s.sm_clock_mhz);
    }
    if (s.lost) continue;  // its values are absent, not zero
    points_.push_back({next_seq_++, gpu, ToPoint(s)});
    ++taken;
  }
  stats_.points_buffered += taken;
  int64_t dropped = 0;
  while (points_.size() > options_.buffer_points) {
    points_.pop_front();
    ++dropped;
  }
  while (xids_.size() > options_.max_buffered_xids) xids_.pop_front();
  if (dropped > 0) {
    // Said once per stretch of drops, not per sample.
    if (!warned_full_) {
      spdlog::warn("metric buffer full ({} points): dropping the oldest until hangard is back",
                   options_.buffer_points);
      warned_full_ = true;
    }
    dropped_total_ += dropped;
    stats_.points_dropped += dropped;
  }
}

std::optional<MetricsShipper::Batch> MetricsShipper::NextBatch() {
  if (!identity_ || (points_.empty() && xids_.empty())) return std::nullopt;
  Batch batch{.identity = *identity_};
  batch.request.dropped_samples = dropped_total_;
  batch.request.sample_period_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.sample_period).count();
  std::map<uint32_t, size_t> series_of;  // GPU slot -> index in request.gpus
  auto series = [&](uint32_t gpu) -> api::GpuMetricSeries& {
    auto [it, inserted] = series_of.try_emplace(gpu, batch.request.gpus.size());
    if (inserted) batch.request.gpus.push_back({.uuid = uuids_[gpu]});
    return batch.request.gpus[it->second];
  };
  size_t n = std::min(points_.size(), batch_points_);
  for (size_t i = 0; i < n; ++i) {
    const BufferedPoint& p = points_[i];
    series(p.gpu).points.push_back(p.point);
    batch.last_point_seq = p.seq;
  }
  batch.points = n;
  for (const BufferedXid& x : xids_) {
    auto& s = series(x.gpu);
    if (!s.xids) s.xids.emplace();
    s.xids->push_back(x.event);
    batch.last_xid_seq = x.seq;
    batch.has_xids = true;
  }
  return batch;
}

void MetricsShipper::Remove(const Batch& batch) {
  // Drops may have taken part of the batch from the front meanwhile: remove by sequence.
  while (!points_.empty() && points_.front().seq <= batch.last_point_seq) points_.pop_front();
  if (batch.has_xids) {
    while (!xids_.empty() && xids_.front().seq <= batch.last_xid_seq) xids_.pop_front();
  }
}

MetricsShipper::SendResult MetricsShipper::Send(client::ApiClient& client, const Batch& batch) {
  auto res = client.Call<api::MetricBatchResponse>(client::HttpRequest{
      .method = "POST",
      .target = "/api/v1/nodes/" + client::UrlEncode(batch.identity.node_id) + "/metrics",
      .body = json::Serialize(batch.request),
      .token = batch.identity.credential,
  });
  if (res) {
    if (res->ignored > 0) {
      spdlog::debug("hangard ignored {} of {} metric points", res->ignored, batch.points);
    }
    return SendResult::kSent;
  }
  const auto& err = res.error();
  int status = err.http_status;
  // No answer, the server in trouble or shedding load, or the credential being replaced (the
  // agent loop re-registers and hands over the new identity): keep the batch for later.
  if (status == 0 || status >= 500 || status == 429 || status == 401) {
    spdlog::warn("sending {} metric points failed: {}", batch.points, err.error.ToString());
    return SendResult::kRetry;
  }
  if (status == 413 && batch.points > 1) {
    spdlog::warn("hangard found {} metric points too large (HTTP 413): sending smaller batches",
                 batch.points);
    return SendResult::kTooLarge;
  }
  spdlog::warn("hangard refused {} metric points (HTTP {}): {}; dropping them", batch.points,
               status, err.error.ToString());
  return SendResult::kRejected;
}

microseconds MetricsShipper::Flush(client::ApiClient& client) {
  for (;;) {
    std::optional<Batch> batch;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return options_.flush_period;
      batch = NextBatch();
    }
    if (!batch) break;
    SendResult result = Send(client, *batch);
    if (result == SendResult::kRetry) {
      ++stats_.failures;
      int shift = std::min(consecutive_failures_++, 16);
      return std::min(options_.max_flush_backoff, options_.flush_period * (int64_t{1} << shift));
    }
    if (result == SendResult::kTooLarge) {
      std::lock_guard lock(mu_);
      batch_points_ = std::max<size_t>(1, batch->points / 2);
      continue;  // the same points again, in smaller batches
    }
    consecutive_failures_ = 0;
    {
      std::lock_guard lock(mu_);
      Remove(*batch);
      warned_full_ = false;
    }
    if (result == SendResult::kRejected) {
      stats_.points_rejected += static_cast<int64_t>(batch->points);
      break;  // the rest waits for the next flush, so a refusing server is not flooded
    }
    ++stats_.batches_sent;
    stats_.points_sent += static_cast<int64_t>(batch->points);
  }
  return options_.flush_period;
}

bool MetricsShipper::Pause(microseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void MetricsShipper::SampleLoop() {
  // Samples on a fixed grid, so a slow probe call does not make the period drift.
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    SampleOnce();
    next += options_.sample_period;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // fell behind (a stalled probe): start a new grid
    std::unique_lock lock(mu_);
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

void MetricsShipper::SendLoop() {
  microseconds wait = options_.flush_period;
  while (Pause(wait)) wait = Flush(*client_);
}

Status MetricsShipper::Start(const client::ClientOptions& client_options) {
  HANGAR_ASSIGN_OR_RETURN(client_, client::ApiClient::Create(client_options));
  sampler_ = std::thread([this] { SampleLoop(); });
  sender_ = std::thread([this] { SendLoop(); });
  return Ok();
}

void MetricsShipper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (client_) client_->Abort();
  if (sampler_.joinable()) sampler_.join();
  if (sender_.joinable()) sender_.join();
}

}  // namespace hangar::agent
