#include "workloads/run_lifecycle.h"

#include <charconv>

#include "common/json_codec.h"
#include "store/repos.h"
#include "workloads/views.h"

namespace hangar::workloads {

namespace {

// The milli-GPUs the workload holds: its GPU count times its share of each.
int64_t HeldMilliGpus(const store::WorkloadRecord& r) {
  int64_t share = 1000;
  if (auto spec = SpecOf(r); spec && spec->resources && spec->resources->gpu_milli) {
    share = *spec->resources->gpu_milli;
  }
  return static_cast<int64_t>(r.gpu_indexes.size()) * share;
}

Metered SegmentCost(const store::WorkloadRecord& r, Timestamp now) {
  if (!store::HoldsGpus(r.state)) return {};
  std::optional<Timestamp> from = r.billed_until ? r.billed_until : r.scheduled_at;
  if (!from || now <= *from) return {};
  auto micros = static_cast<__int128>(std::chrono::duration_cast<Micros>(now - *from).count());
  constexpr __int128 kMicrosPerHour = 3'600'000'000;
  return Metered{
      .cost_micros = static_cast<int64_t>(micros * r.hourly_price_micros / kMicrosPerHour),
      .gpu_milli_seconds = static_cast<int64_t>(micros * HeldMilliGpus(r) / 1'000'000)};
}

}  // namespace

std::string DescribeExit(const std::optional<int64_t>& code, const std::optional<int64_t>& sig) {
  if (sig) return "killed by signal " + std::to_string(*sig);
  if (code) return "exited with code " + std::to_string(*code);
  return "ended";
}

void Accrue(store::WorkloadRecord& r, Timestamp now) {
  Metered segment = SegmentCost(r, now);
  r.cost_micros += segment.cost_micros;
  r.gpu_milli_seconds += segment.gpu_milli_seconds;
  if (store::HoldsGpus(r.state)) r.billed_until = now;
}

Metered MeteredAt(const store::WorkloadRecord& r, Timestamp now) {
  Metered segment = SegmentCost(r, now);
  return Metered{.cost_micros = r.cost_micros + segment.cost_micros,
                 .gpu_milli_seconds = r.gpu_milli_seconds + segment.gpu_milli_seconds};
}

Status TransitionWorkload(store::Tx& tx, store::WorkloadRecord& r, store::WorkloadState state,
                          std::string reason, std::string message, Timestamp now,
                          const std::string& actor) {
  if (store::HoldsGpus(r.state) && !store::HoldsGpus(state)) Accrue(r, now);
  if (!store::HoldsGpus(r.state) && store::HoldsGpus(state)) r.billed_until = now;
  r.state = state;
  r.state_reason = std::move(reason);
  r.state_message = std::move(message);
  r.updated_at = now;
  HANGAR_TRY(store::UpdateWorkload(tx, r));
  ++r.version;
  FakeClock at(now);  // the event id carries the transition's time
  bool instance = r.kind == "instance";
  return store::AppendEvent(
      tx, store::EventRecord{.id = EventId::Generate(at),
                             .org_id = r.org_id,
                             .type = "hangar." + r.kind + "." + std::string(json::EnumName(state)),
                             .source = instance ? "/api/v1/instances" : "/api/v1/jobs",
                             .subject = r.id,
                             .time = now,
                             .data_json = instance ? json::Serialize(ToApiInstance(r, now))
                                                   : json::Serialize(ToApiJob(r, now)),
                             .actor = actor});
}

Status RequestStop(store::Tx& tx, store::WorkloadRecord& r, std::string reason, std::string message,
                   Timestamp now, const std::string& actor) {
  r.desired = "stop";
  r.stop_reason = reason;
  if (!r.stop_requested_at) r.stop_requested_at = now;
  return TransitionWorkload(tx, r, store::WorkloadState::stopping, std::move(reason),
                            std::move(message), now, actor);
}

Status BackToQueue(store::Tx& tx, store::WorkloadRecord& r, std::string reason, std::string message,
                   Timestamp now, const std::string& actor) {
  if (store::HoldsGpus(r.state)) Accrue(r, now);  // before the placement it is priced on goes
  r.node_id.reset();
  r.gpu_indexes.clear();
  r.desired = "run";
  r.stop_reason.clear();
  r.stop_requested_at.reset();
  r.scheduled_at.reset();
  r.started_at.reset();
  r.billed_until.reset();
  r.hourly_price_micros = 0;
  return TransitionWorkload(tx, r, store::WorkloadState::pending, std::move(reason),
                            std::move(message), now, actor);
}

Status FinishRun(store::Tx& tx, store::WorkloadRecord& r, store::WorkloadState state,
                 std::string reason, std::string message, Timestamp now, const std::string& actor) {
  r.finished_at = now;
  r.desired = "run";
  return TransitionWorkload(tx, r, state, std::move(reason), std::move(message), now, actor);
}

std::string RunIdOf(const store::WorkloadRecord& record) {
  return record.id + "-a" + std::to_string(record.attempt);
}

std::optional<std::pair<std::string, int64_t>> ParseRunId(std::string_view run_id) {
  size_t dash = run_id.rfind("-a");
  if (dash == std::string_view::npos) return std::nullopt;
  int64_t attempt = 0;
  auto digits = run_id.substr(dash + 2);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), attempt);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || attempt < 1) {
    return std::nullopt;
  }
  return std::pair{std::string(run_id.substr(0, dash)), attempt};
}

}  // namespace hangar::workloads
