// The few functions of the model that are not plain data. See model.h.
#include "scheduling/model.h"

#include <cmath>

namespace hangar::scheduling {

double DecayUsage(double usage, Micros elapsed, Micros half_life) {
  if (half_life.count() <= 0 || elapsed.count() <= 0) return usage;
  return usage *
         std::exp2(-static_cast<double>(elapsed.count()) / static_cast<double>(half_life.count()));
}

std::string_view ReasonName(ReasonCode code) {
  switch (code) {
    case ReasonCode::kNone:
      return "none";
    case ReasonCode::kNoFeasibleNode:
      return "no_feasible_node";
    case ReasonCode::kInsufficientGpus:
      return "insufficient_gpus";
    case ReasonCode::kQuotaExceeded:
      return "quota_exceeded";
    case ReasonCode::kGangIncomplete:
      return "gang_incomplete";
    case ReasonCode::kInvalidRequest:
      return "invalid_request";
    case ReasonCode::kHeld:
      return "held";
    case ReasonCode::kDependencyPending:
      return "dependency_pending";
    case ReasonCode::kDependencyNeverSatisfied:
      return "dependency_never_satisfied";
    case ReasonCode::kStartTimeInFuture:
      return "start_time_in_future";
    case ReasonCode::kBudgetExhausted:
      return "budget_exhausted";
    case ReasonCode::kReservedForOther:
      return "reserved_for_other";
    case ReasonCode::kBlockedBehind:
      return "blocked_behind";
    case ReasonCode::kPreempting:
      return "preempting";
  }
  return "unknown";
}

}  // namespace hangar::scheduling
