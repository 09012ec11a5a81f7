// The public API's routes: each Add*Routes function registers one area's routes on the router.
// Handlers parse the request, call one service function, and render the result; nothing else.
//
// Thread-safety: registration happens once at start-up; handlers run concurrently on worker
// threads and touch only the services (which are thread-safe).
#pragma once

#include <memory>
#include <string>

#include "events/event_service.h"
#include "fleet/fleet_service.h"
#include "gateway/router.h"
#include "gateway/static_files.h"
#include "identity/access_service.h"
#include "identity/directory_service.h"
#include "identity/token_service.h"
#include "monitoring/alert_service.h"
#include "monitoring/metrics_service.h"
#include "store/store.h"
#include "telemetry/metrics.h"
#include "workloads/approval_service.h"
#include "workloads/instance_service.h"
#include "workloads/job_service.h"
#include "workloads/log_search.h"
#include "workloads/quota_service.h"
#include "workloads/reservation_service.h"
#include "workloads/schedule_service.h"
#include "workloads/snapshot_service.h"

namespace hangar::routes {

// /api/v1/gpu-types, /nodes, /gpus, /nodes/join-tokens and the agent endpoints.
void AddFleetRoutes(gateway::Router& router, fleet::FleetService& fleet);

// GPU metrics: the agents' batches (POST /api/v1/nodes/{id}/metrics), the history of a GPU,
// node, project or team (GET …/{id}/metrics) and the live fleet (GET /api/v1/gpus/live).
void AddMetricRoutes(gateway::Router& router, monitoring::MetricsService& metrics);
// /api/v1/alert-rules (CRUD; built-in rules can be tuned and disabled) and /api/v1/alerts.
void AddAlertRoutes(gateway::Router& router, monitoring::AlertService& alerts);

// /api/v1/jobs (submit, read, cancel, hold, release, requeue, logs) and the agents' run
// endpoints (/api/v1/agent/nodes/{id}/assignments, /reports).
void AddWorkloadRoutes(gateway::Router& router, workloads::JobService& jobs);
void AddInstanceRoutes(gateway::Router& router, workloads::InstanceService& instances);
void AddQuotaRoutes(gateway::Router& router, workloads::QuotaService& quotas);
// /api/v1/instances/{id}/snapshot|clone|migrate, /api/v1/snapshots and the agents' snapshot
// transfers (/api/v1/agent/nodes/{id}/snapshots/{snapshot}/…).
void AddSnapshotRoutes(gateway::Router& router, workloads::InstanceService& instances,
                       workloads::SnapshotService& snapshots);
// /api/v1/approval-policies/{project} and /api/v1/approvals (list, get, approve, reject).
void AddApprovalRoutes(gateway::Router& router, workloads::ApprovalService& approvals);

// /api/v1/schedules (recurring jobs) and /api/v1/schedules/{id}/trigger.
void AddScheduleRoutes(gateway::Router& router, workloads::ScheduleService& schedules);

// /api/v1/reservations (advance reservations) and /api/v1/reservations/calendar.
void AddReservationRoutes(gateway::Router& router, workloads::ReservationService& reservations);

// GET /api/v1/jobs/{id}/logs and /instances/{id}/logs (JSON pages, or followed as Server-Sent
// Events, woken by `bell`), and GET /api/v1/logs (search).
void AddLogRoutes(gateway::Router& router, workloads::JobService& jobs,
                  workloads::InstanceService& instances, workloads::OutputBell& bell,
                  workloads::LogSearch& search);

// /api/v1/events (the domain-event log) and /api/v1/audit (the audit log).
void AddEventRoutes(gateway::Router& router, events::EventService& events);

// /api/v1/organizations, /teams, /projects, /users, /service-accounts, /api-keys, /roles,
// /role-bindings, /access-review, /permissions, /whoami and /invitations/accept.
void AddIdentityRoutes(gateway::Router& router, identity::DirectoryService& directory,
                       identity::AccessService& access, const Clock& clock);

// /.well-known/openid-configuration, /.well-known/jwks.json, /oauth/token, /oauth/revoke,
// /oauth/introspect, /oauth/device_authorization and the sign-in pages (/oauth/authorize,
// /oauth/device, /login).
void AddOAuthRoutes(gateway::Router& router, identity::TokenService& tokens,
                    identity::DirectoryService& directory);

// GET /metrics: `registry` in the Prometheus text format (telemetry/metrics.h), for scrapers.
// Public like /healthz unless `bearer_token` is set; then only `Authorization: Bearer <token>`
// is answered (401 otherwise). The registry must outlive the router. Call before
// AddSystemRoutes, so the OpenAPI document lists it.
struct PrometheusRouteOptions {
  std::string bearer_token;  // empty: no credential needed
};
void AddPrometheusRoute(gateway::Router& router, const telemetry::Registry& registry,
                        PrometheusRouteOptions options = {});

// /healthz, /readyz, /api/v1/openapi.json and /docs. Call last: the OpenAPI document is built
// from every route added before.
void AddSystemRoutes(gateway::Router& router, store::Store& store,
                     std::shared_ptr<const gateway::StaticFiles> docs, std::string version);

}  // namespace hangar::routes
