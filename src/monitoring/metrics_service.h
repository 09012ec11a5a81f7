// MetricsService: the API face of GPU metrics — who may ship and read which series, over a
// MetricHub (metric_hub.h) that holds the data.
//
// Authorisation: a batch is accepted only from the node's own credential. GPU and node series,
// and the live fleet view, need gpus:read / nodes:read in the organisation (route permissions).
// A project's or team's series needs metrics:read on it; a caller who may not even read the
// project or team gets 404, as for any other object of another tenant.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>

#include "api/metric_types.h"
#include "common/clock.h"
#include "common/error.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "monitoring/metric_hub.h"
#include "store/store.h"
#include "workloads/gpu_holders.h"

namespace hangar::monitoring {

// The query parameters as the API takes them (all optional; RFC 3339 times, steps like "60",
// "60s", "5m", "1h").
struct MetricParams {
  std::string metric;
  std::string from;
  std::string to;
  std::string step;
};

class MetricsService {
 public:
  MetricsService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                 MetricHub& hub, const workloads::GpuHolders& holders);

  Result<api::MetricBatchResponse> Ingest(const identity::Principal& who, const NodeId& node,
                                          const api::MetricBatchRequest& batch);

  Result<api::MetricSeries> Query(const identity::Principal& who, Scope scope,
                                  const std::string& id, const MetricParams& params);

  // The latest sample of every GPU of the caller's organisation, with who holds it.
  Result<api::GpuLiveList> Live(const identity::Principal& who);

 private:
  Status CheckScope(const identity::Principal& who, Scope scope, const std::string& id);

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  MetricHub& hub_;
  const workloads::GpuHolders& holders_;
};

}  // namespace hangar::monitoring
