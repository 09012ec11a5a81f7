// The schema's history and the code that applies it. See migrations.h.
#include "store/migrations.h"

#include <spdlog/spdlog.h>

namespace hangar::store {
namespace {

// One statement written once for both engines, with placeholders for what differs:
//  - `{text}`: text columns that are compared or sorted. Plain TEXT on SQLite (which compares
//    bytes) and TEXT COLLATE "C" on PostgreSQL, so both engines order strings the same way (by
//    code point) whatever the server's locale, and keyset pagination agrees on both.
//  - `{serial}`: an increasing 64-bit primary key assigned on insert.
MigrationStep Shared(std::string_view sql) {
  auto expand = [&](std::string_view text, std::string_view serial) {
    std::string out(sql);
    for (auto [placeholder, replacement] : {std::pair{std::string_view("{text}"), text},
                                            std::pair{std::string_view("{serial}"), serial}}) {
      for (size_t pos; (pos = out.find(placeholder)) != std::string::npos;) {
        out.replace(pos, placeholder.size(), replacement);
      }
    }
    return out;
  };
  return {expand("TEXT", "INTEGER PRIMARY KEY AUTOINCREMENT"),
          expand("TEXT COLLATE \"C\"", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")};
}

constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)";

// An arbitrary constant: the advisory lock key that serialises migrations across replicas.
constexpr int64_t kMigrationLockKey = 0x48414e474152;  // "HANGAR"

std::vector<Migration> BuildMigrations() {
  std::vector<Migration> m;
  m.push_back(Migration{
      1,
      "fleet and identity",
      {
          Shared("CREATE TABLE orgs ("
                 " id {text} PRIMARY KEY,"
                 " name {text} NOT NULL,"
                 " created_at BIGINT NOT NULL)"),
          Shared("CREATE TABLE api_keys ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " secret_hash {text} NOT NULL UNIQUE,"
                 " kind {text} NOT NULL,"
                 " subject_id {text} NOT NULL DEFAULT '',"
                 " expires_at BIGINT,"
                 " revoked_at BIGINT,"
                 " created_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX api_keys_subject ON api_keys (org_id, subject_id)"),
          Shared("CREATE TABLE join_tokens ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " description {text} NOT NULL,"
                 " secret_hash {text} NOT NULL UNIQUE,"
                 " expires_at BIGINT NOT NULL,"
                 " uses BIGINT NOT NULL DEFAULT 0,"
                 " last_used_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX join_tokens_org_created ON join_tokens (org_id, created_at, id)"),
          Shared("CREATE INDEX join_tokens_org_expires ON join_tokens (org_id, expires_at, id)"),
          Shared("CREATE TABLE gpu_types ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " vendor {text} NOT NULL,"
                 " architecture {text} NOT NULL,"
                 " product_name {text} NOT NULL,"
                 " memory_mib BIGINT NOT NULL,"
                 " compute_capability {text} NOT NULL,"
                 " hourly_price_micros BIGINT NOT NULL,"
                 " currency {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name),"
                 " UNIQUE (org_id, product_name))"),
          Shared("CREATE INDEX gpu_types_org_created ON gpu_types (org_id, created_at, id)"),
          Shared("CREATE TABLE nodes ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " hostname {text} NOT NULL,"
                 " agent_version {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " cordoned INTEGER NOT NULL,"
                 " labels TEXT NOT NULL,"
                 " gpu_count BIGINT NOT NULL,"
                 " last_heartbeat_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX nodes_org_created ON nodes (org_id, created_at, id)"),
          Shared("CREATE INDEX nodes_state_heartbeat ON nodes (state, last_heartbeat_at)"),
          Shared("CREATE TABLE gpus ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " node_id {text} NOT NULL REFERENCES nodes(id),"
                 " idx BIGINT NOT NULL,"
                 " uuid {text} NOT NULL,"
                 " gpu_type_id {text} REFERENCES gpu_types(id),"
                 " product_name {text} NOT NULL,"
                 " memory_mib BIGINT NOT NULL,"
                 " driver_version {text} NOT NULL,"
                 " cuda_version {text} NOT NULL,"
                 " compute_capability {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, uuid),"
                 " UNIQUE (node_id, idx))"),
          Shared("CREATE INDEX gpus_org_created ON gpus (org_id, created_at, id)"),
          Shared("CREATE INDEX gpus_org_node ON gpus (org_id, node_id, idx)"),
          Shared("CREATE INDEX gpus_type ON gpus (gpu_type_id)"),
          Shared("CREATE TABLE events ("
                 " seq {serial},"
                 " id {text} NOT NULL UNIQUE,"
                 " org_id {text} NOT NULL,"
                 " type {text} NOT NULL,"
                 " source {text} NOT NULL,"
                 " subject {text} NOT NULL,"
                 " time BIGINT NOT NULL,"
                 " data TEXT NOT NULL)"),
          Shared("CREATE INDEX events_org_seq ON events (org_id, seq)"),
          Shared("CREATE TABLE idempotency_keys ("
                 " scope {text} NOT NULL,"
                 " key {text} NOT NULL,"
                 " method_path {text} NOT NULL,"
                 " request_hash {text} NOT NULL,"
                 " completed INTEGER NOT NULL,"
                 " status BIGINT NOT NULL,"
                 " response_headers TEXT NOT NULL,"
                 " response_body TEXT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " PRIMARY KEY (scope, key))"),
          Shared("CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)"),
      }});
  m.push_back(Migration{
      2,
      "tenancy, users, roles and audit",
      {
          Shared("ALTER TABLE orgs ADD COLUMN display_name {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE orgs ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'"),
          Shared("ALTER TABLE orgs ADD COLUMN version BIGINT NOT NULL DEFAULT 1"),
          Shared("ALTER TABLE orgs ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0"),
          Shared("UPDATE orgs SET updated_at = created_at"),
          Shared("CREATE UNIQUE INDEX orgs_name ON orgs (name)"),
          Shared("CREATE INDEX orgs_created ON orgs (created_at, id)"),
          Shared("CREATE TABLE teams ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX teams_org_created ON teams (org_id, created_at, id)"),
          Shared("CREATE TABLE projects ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " team_id {text} NOT NULL REFERENCES teams(id),"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX projects_org_created ON projects (org_id, created_at, id)"),
          Shared("CREATE INDEX projects_team ON projects (team_id)"),
          Shared("CREATE TABLE users ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " email {text} NOT NULL,"
                 " display_name TEXT NOT NULL,"
                 " state {text} NOT NULL,"
                 " password_hash TEXT NOT NULL,"
                 " invitation_hash {text} UNIQUE,"
                 " invitation_expires_at BIGINT,"
                 " failed_logins BIGINT NOT NULL,"
                 " locked_until BIGINT,"
                 " last_login_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, email))"),
          Shared("CREATE INDEX users_org_created ON users (org_id, created_at, id)"),
          Shared("CREATE TABLE service_accounts ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " disabled INTEGER NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX service_accounts_org_created"
                 " ON service_accounts (org_id, created_at, id)"),
          Shared("CREATE TABLE roles ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " permissions TEXT NOT NULL,"
                 " includes TEXT NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX roles_org_created ON roles (org_id, created_at, id)"),
          Shared("CREATE TABLE role_bindings ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " principal_type {text} NOT NULL,"
                 " principal_id {text} NOT NULL,"
                 " role {text} NOT NULL,"
                 " scope_type {text} NOT NULL,"
                 " scope_id {text} NOT NULL,"
                 " expires_at BIGINT,"
                 " justification TEXT NOT NULL,"
                 " created_by {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared(
              "CREATE INDEX role_bindings_org_created ON role_bindings (org_id, created_at, id)"),
          Shared("CREATE INDEX role_bindings_principal ON role_bindings (org_id, principal_id)"),
          Shared("CREATE INDEX role_bindings_scope ON role_bindings (scope_id)"),
          Shared("ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[\"*\"]'"),
          Shared("ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '[]'"),
          Shared("ALTER TABLE api_keys ADD COLUMN rate_limit BIGINT NOT NULL DEFAULT 0"),
          Shared("ALTER TABLE api_keys ADD COLUMN rate_burst BIGINT NOT NULL DEFAULT 0"),
          Shared("ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT"),
          Shared("ALTER TABLE api_keys ADD COLUMN last_used_address {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE api_keys ADD COLUMN rotated_to {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE api_keys ADD COLUMN display_prefix {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE api_keys ADD COLUMN created_by {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE api_keys ADD COLUMN version BIGINT NOT NULL DEFAULT 1"),
          Shared("ALTER TABLE api_keys ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0"),
          Shared("UPDATE api_keys SET updated_at = created_at"),
          Shared("CREATE INDEX api_keys_org_created ON api_keys (org_id, created_at, id)"),
          Shared("ALTER TABLE events ADD COLUMN actor {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE events ADD COLUMN outcome {text} NOT NULL DEFAULT ''"),
      }});
  m.push_back(Migration{
      3,
      "oauth",
      {
          Shared("CREATE TABLE signing_keys ("
                 " kid {text} PRIMARY KEY,"
                 " sealed_private_key TEXT NOT NULL,"
                 " public_jwk TEXT NOT NULL,"
                 " created_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX signing_keys_created ON signing_keys (created_at)"),
          Shared("CREATE TABLE oauth_grants ("
                 " id {text} PRIMARY KEY,"
                 " kind {text} NOT NULL,"
                 " code_hash {text} NOT NULL UNIQUE,"
                 " user_code {text} UNIQUE,"
                 " client_id {text} NOT NULL,"
                 " org_id {text} NOT NULL,"
                 " user_id {text} NOT NULL,"
                 " redirect_uri TEXT NOT NULL,"
                 " code_challenge {text} NOT NULL,"
                 " scope TEXT NOT NULL,"
                 " state {text} NOT NULL,"
                 " expires_at BIGINT NOT NULL,"
                 " last_polled_at BIGINT,"
                 " created_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX oauth_grants_expires ON oauth_grants (expires_at)"),
          Shared("CREATE TABLE refresh_tokens ("
                 " id {text} PRIMARY KEY,"
                 " token_hash {text} NOT NULL UNIQUE,"
                 " family_id {text} NOT NULL,"
                 " org_id {text} NOT NULL,"
                 " subject_id {text} NOT NULL,"
                 " client_id {text} NOT NULL,"
                 " scope TEXT NOT NULL,"
                 " expires_at BIGINT NOT NULL,"
                 " used_at BIGINT,"
                 " revoked_at BIGINT,"
                 " created_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)"),
          Shared("CREATE INDEX refresh_tokens_subject ON refresh_tokens (org_id, subject_id)"),
          Shared("CREATE TABLE revoked_tokens ("
                 " jti {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL,"
                 " expires_at BIGINT NOT NULL,"
                 " revoked_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at)"),
      }});
  m.push_back(Migration{
      4,
      "workloads",
      {
          // One row per job (later also per instance): what was asked (`spec`, JSON, never
          // changed) and where it stands (state, placement, outcome).
          Shared("CREATE TABLE workloads ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " kind {text} NOT NULL,"
                 " project_id {text} NOT NULL,"
                 " team_id {text} NOT NULL,"
                 " name {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " priority_class {text} NOT NULL,"
                 " spec TEXT NOT NULL,"
                 " array_id {text},"
                 " array_index BIGINT,"
                 " attempt BIGINT NOT NULL,"
                 " failures BIGINT NOT NULL,"
                 " node_id {text},"
                 " gpu_indexes TEXT NOT NULL,"
                 " desired {text} NOT NULL,"
                 " stop_reason {text} NOT NULL,"
                 " exit_code BIGINT,"
                 " exit_signal BIGINT,"
                 " state_reason {text} NOT NULL,"
                 " state_message TEXT NOT NULL,"
                 " created_by {text} NOT NULL,"
                 " scheduled_at BIGINT,"
                 " started_at BIGINT,"
                 " finished_at BIGINT,"
                 " stop_requested_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX workloads_org_created ON workloads (org_id, created_at, id)"),
          Shared("CREATE INDEX workloads_state ON workloads (state, org_id)"),
          Shared("CREATE INDEX workloads_node ON workloads (node_id, state)"),
          // Output is append-only. byte_offset/byte_end locate the chunk in the run's raw
          // stream (the text is that output made valid UTF-8), so a repeated upload is stored once.
          Shared("CREATE TABLE workload_output ("
                 " seq {serial},"
                 " org_id {text} NOT NULL,"
                 " workload_id {text} NOT NULL,"
                 " attempt BIGINT NOT NULL,"
                 " stream {text} NOT NULL,"
                 " byte_offset BIGINT NOT NULL,"
                 " byte_end BIGINT NOT NULL,"
                 " text TEXT NOT NULL,"
                 " time BIGINT NOT NULL)"),
          Shared("CREATE INDEX workload_output_run ON workload_output"
                 " (workload_id, attempt, stream, byte_offset)"),
          Shared("CREATE INDEX workload_output_seq ON workload_output (workload_id, seq)"),
      }});
  m.push_back(Migration{
      5,
      "instances and metering",
      {
          // Instances share the workloads table (kind = 'instance'). Every workload now meters
          // its GPUs: the price while placed, and what was accrued up to billed_until.
          Shared("ALTER TABLE workloads ADD COLUMN hourly_price_micros BIGINT NOT NULL DEFAULT 0"),
          Shared("ALTER TABLE workloads ADD COLUMN currency {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE workloads ADD COLUMN cost_micros BIGINT NOT NULL DEFAULT 0"),
          Shared("ALTER TABLE workloads ADD COLUMN gpu_milli_seconds BIGINT NOT NULL DEFAULT 0"),
          Shared("ALTER TABLE workloads ADD COLUMN billed_until BIGINT"),
          Shared("ALTER TABLE workloads ADD COLUMN expires_at BIGINT"),
          Shared("ALTER TABLE workloads ADD COLUMN expiry_warned_at BIGINT"),
          Shared("ALTER TABLE workloads ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'"),
          Shared("CREATE INDEX workloads_expiry ON workloads (state, expires_at)"),
      }});
  m.push_back(Migration{6,
                        "quotas",
                        {
                            // One row per team or project with a quota; scopes without a row have
                            // none (no guarantee, no limit, weight 1).
                            Shared("CREATE TABLE quotas ("
                                   " org_id {text} NOT NULL REFERENCES orgs(id),"
                                   " scope_id {text} NOT NULL,"
                                   " gpus BIGINT NOT NULL,"
                                   " gpu_limit BIGINT,"
                                   " weight BIGINT NOT NULL,"
                                   " updated_by {text} NOT NULL,"
                                   " version BIGINT NOT NULL,"
                                   " updated_at BIGINT NOT NULL,"
                                   " PRIMARY KEY (org_id, scope_id))"),
                        }});
  m.push_back(Migration{
      7,
      "snapshots and approvals",
      {
          // A snapshot is an instance's workspace saved by the server. The row is the index; the
          // archive itself is a file in the server's snapshot directory, named by the id. The
          // agent of node_id takes it (state pending), uploads it (ready) or reports why not
          // (failed).
          Shared("CREATE TABLE snapshots ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " project_id {text} NOT NULL,"
                 " team_id {text} NOT NULL,"
                 " name {text} NOT NULL,"
                 " instance_id {text} NOT NULL,"
                 " node_id {text} NOT NULL,"
                 " workspace {text} NOT NULL,"
                 " purpose {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " state_message TEXT NOT NULL,"
                 " size_bytes BIGINT NOT NULL,"
                 " sha256 {text} NOT NULL,"
                 " created_by {text} NOT NULL,"
                 " ready_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE UNIQUE INDEX snapshots_name ON snapshots (org_id, project_id, name)"),
          Shared("CREATE INDEX snapshots_org_created ON snapshots (org_id, created_at, id)"),
          Shared("CREATE INDEX snapshots_node ON snapshots (node_id, state)"),
          // What a project requires approval for. No row: nothing does.
          Shared("CREATE TABLE approval_policies ("
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " project_id {text} NOT NULL,"
                 " gpus_over BIGINT,"
                 " hourly_cost_over_micros BIGINT,"
                 " updated_by {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " PRIMARY KEY (org_id, project_id))"),
          // One decision someone must take: a workload held in awaiting_approval, or a quota
          // increase request (subject_kind 'quota', details holding the quota asked for).
          // `level` numbers the steps of a chain (one step today).
          Shared("CREATE TABLE approvals ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " subject_kind {text} NOT NULL,"
                 " subject_id {text} NOT NULL,"
                 " scope_id {text} NOT NULL,"
                 " team_id {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " level BIGINT NOT NULL,"
                 " reasons TEXT NOT NULL,"
                 " details TEXT NOT NULL,"
                 " requested_by {text} NOT NULL,"
                 " decided_by {text} NOT NULL,"
                 " comment TEXT NOT NULL,"
                 " decided_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX approvals_org_created ON approvals (org_id, created_at, id)"),
          Shared("CREATE INDEX approvals_subject ON approvals (subject_id)"),
      }});
  // Full-text search over workloads' output (GET /api/v1/logs), kept in step with every insert
  // by the engine itself. Both index words as they are, without stemming or stop words (log
  // lines are not prose): SQLite's FTS5 with its default unicode61 tokenizer, as an external-
  // content table over workload_output kept by triggers; PostgreSQL's 'simple' configuration,
  // as a generated tsvector column under a GIN index.
  m.push_back(Migration{
      8,
      "log search",
      {
          {"CREATE VIRTUAL TABLE workload_output_fts USING fts5("
           "text, content='workload_output', content_rowid='seq')",
           "ALTER TABLE workload_output ADD COLUMN text_search tsvector"
           " GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED"},
          {"CREATE TRIGGER workload_output_fts_insert AFTER INSERT ON workload_output BEGIN"
           " INSERT INTO workload_output_fts (rowid, text) VALUES (new.seq, new.text); END",
           "CREATE INDEX workload_output_text_search ON workload_output USING GIN (text_search)"},
          {"CREATE TRIGGER workload_output_fts_delete AFTER DELETE ON workload_output BEGIN"
           " INSERT INTO workload_output_fts (workload_output_fts, rowid, text)"
           " VALUES ('delete', old.seq, old.text); END",
           "SELECT 1"},
          // Output stored before this migration.
          {"INSERT INTO workload_output_fts (workload_output_fts) VALUES ('rebuild')", "SELECT 1"},
      }});
  // Recurring jobs. next_run_at is the nominal time of the next run (NULL while suspended or
  // when the cron never matches), indexed for the control loop's "what is due" query. The
  // owner_* columns are the principal that runs submit as (checked again at every run).
  m.push_back(Migration{
      9,
      "schedules",
      {
          Shared("CREATE TABLE schedules ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " project_id {text} NOT NULL,"
                 " team_id {text} NOT NULL,"
                 " name {text} NOT NULL,"
                 " cron {text} NOT NULL,"
                 " time_zone {text} NOT NULL,"
                 " missed_runs {text} NOT NULL,"
                 " concurrency {text} NOT NULL,"
                 " starting_deadline_seconds BIGINT NOT NULL,"
                 " suspended BIGINT NOT NULL,"
                 " job TEXT NOT NULL,"
                 " owner_kind {text} NOT NULL,"
                 " owner_subject {text} NOT NULL,"
                 " owner_key {text} NOT NULL,"
                 " owner_scopes TEXT NOT NULL,"
                 " next_run_at BIGINT,"
                 " last_run_at BIGINT,"
                 " last_result {text} NOT NULL,"
                 " last_message TEXT NOT NULL,"
                 " last_job_id {text},"
                 " runs_started BIGINT NOT NULL,"
                 " runs_skipped BIGINT NOT NULL,"
                 " created_by {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE UNIQUE INDEX schedules_name ON schedules (org_id, project_id, name)"),
          Shared("CREATE INDEX schedules_org_created ON schedules (org_id, created_at, id)"),
          Shared("CREATE INDEX schedules_due ON schedules (next_run_at)"),
      }});
  // Advance reservations. `reserved_gpus` is a JSON array of the GPUs set aside while the
  // window is active ({node_id, index}); cancelled_at ends the reservation early.
  m.push_back(Migration{
      10,
      "reservations",
      {
          Shared("CREATE TABLE reservations ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " project_id {text} NOT NULL,"
                 " team_id {text} NOT NULL,"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " gpu_type {text} NOT NULL,"
                 " gpus BIGINT NOT NULL,"
                 " start_at BIGINT NOT NULL,"
                 " end_at BIGINT NOT NULL,"
                 " cancelled_at BIGINT,"
                 " reserved_gpus TEXT NOT NULL,"
                 " created_by {text} NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX reservations_org_created ON reservations (org_id, created_at, id)"),
          Shared("CREATE INDEX reservations_org_end ON reservations (org_id, end_at)"),
      }});
  // Per-user limits and overage grace on quotas. over_limit_since is the scheduler loop's
  // record of when the scope's running work went over its gpu_limit (NULL: within it, or no
  // grace to measure).
  m.push_back(
      Migration{11,
                "quota per-user limits and overage grace",
                {
                    Shared("ALTER TABLE quotas ADD COLUMN gpu_limit_per_user BIGINT NULL"),
                    Shared("ALTER TABLE quotas ADD COLUMN overage_grace_seconds BIGINT NULL"),
                    Shared("ALTER TABLE quotas ADD COLUMN over_limit_since BIGINT NULL"),
                }});
  // Fleet monitoring. metric_rollups holds 1-minute and 1-hour min/max/sum per metric of a GPU,
  // node, project or team (scope_id says which); samples and sample_seconds give the mean and
  // how many GPUs reported. Rows are merged (upserted) so late samples land in their bucket.
  // alert_rules and alerts are the alerting state; gpus learn why they are unhealthy and where
  // they sit on the PCI bus; nodes learn drains, why they were cordoned, and taints.
  m.push_back(Migration{
      12,
      "metrics, alerts, node drain and GPU health",
      {
          Shared("CREATE TABLE metric_rollups ("
                 " scope_id {text} NOT NULL,"
                 " resolution BIGINT NOT NULL,"
                 " bucket BIGINT NOT NULL,"
                 " org_id {text} NOT NULL,"
                 " samples BIGINT NOT NULL,"
                 " sample_seconds DOUBLE PRECISION NOT NULL,"
                 " utilization_min DOUBLE PRECISION NOT NULL,"
                 " utilization_max DOUBLE PRECISION NOT NULL,"
                 " utilization_sum DOUBLE PRECISION NOT NULL,"
                 " memory_used_mib_min DOUBLE PRECISION NOT NULL,"
                 " memory_used_mib_max DOUBLE PRECISION NOT NULL,"
                 " memory_used_mib_sum DOUBLE PRECISION NOT NULL,"
                 " temperature_c_min DOUBLE PRECISION NOT NULL,"
                 " temperature_c_max DOUBLE PRECISION NOT NULL,"
                 " temperature_c_sum DOUBLE PRECISION NOT NULL,"
                 " power_watts_min DOUBLE PRECISION NOT NULL,"
                 " power_watts_max DOUBLE PRECISION NOT NULL,"
                 " power_watts_sum DOUBLE PRECISION NOT NULL,"
                 " sm_clock_mhz_min DOUBLE PRECISION NOT NULL,"
                 " sm_clock_mhz_max DOUBLE PRECISION NOT NULL,"
                 " sm_clock_mhz_sum DOUBLE PRECISION NOT NULL,"
                 " PRIMARY KEY (scope_id, resolution, bucket))"),
          Shared("CREATE INDEX metric_rollups_age ON metric_rollups (resolution, bucket)"),
          Shared("CREATE TABLE alert_rules ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " name {text} NOT NULL,"
                 " description TEXT NOT NULL,"
                 " metric {text} NOT NULL,"
                 " op {text} NOT NULL,"
                 " threshold DOUBLE PRECISION NOT NULL,"
                 " duration_seconds BIGINT NOT NULL,"
                 " scope {text} NOT NULL,"
                 " selector TEXT NOT NULL,"
                 " severity {text} NOT NULL,"
                 " enabled INTEGER NOT NULL,"
                 " builtin INTEGER NOT NULL,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL,"
                 " UNIQUE (org_id, name))"),
          Shared("CREATE INDEX alert_rules_org_created ON alert_rules (org_id, created_at, id)"),
          Shared("CREATE TABLE alerts ("
                 " id {text} PRIMARY KEY,"
                 " org_id {text} NOT NULL REFERENCES orgs(id),"
                 " rule_id {text} NOT NULL,"
                 " rule_name {text} NOT NULL,"
                 " subject {text} NOT NULL,"
                 " state {text} NOT NULL,"
                 " severity {text} NOT NULL,"
                 " value DOUBLE PRECISION NOT NULL,"
                 " message TEXT NOT NULL,"
                 " started_at BIGINT NOT NULL,"
                 " fired_at BIGINT,"
                 " resolved_at BIGINT,"
                 " version BIGINT NOT NULL,"
                 " created_at BIGINT NOT NULL,"
                 " updated_at BIGINT NOT NULL)"),
          Shared("CREATE INDEX alerts_org_created ON alerts (org_id, created_at, id)"),
          Shared("CREATE INDEX alerts_open ON alerts (org_id, rule_id, subject, state)"),
          Shared("ALTER TABLE gpus ADD COLUMN health_reasons TEXT NOT NULL DEFAULT '[]'"),
          Shared("ALTER TABLE gpus ADD COLUMN pci_bus_id {text} NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE nodes ADD COLUMN cordon_reason TEXT NOT NULL DEFAULT ''"),
          Shared("ALTER TABLE nodes ADD COLUMN drain_requested_at BIGINT NULL"),
          Shared("ALTER TABLE nodes ADD COLUMN drain_deadline BIGINT NULL"),
          Shared("ALTER TABLE nodes ADD COLUMN taints TEXT NOT NULL DEFAULT '[]'"),
      }});
  // GPU topology as the agent reports it: MIG mode, and the PCI bus ids of the GPUs reached
  // over an active NVLink (JSON array), for placement.
  m.push_back(
      Migration{13,
                "GPU MIG mode and NVLink peers",
                {
                    Shared("ALTER TABLE gpus ADD COLUMN mig_enabled INTEGER NOT NULL DEFAULT 0"),
                    Shared("ALTER TABLE gpus ADD COLUMN nvlink_peers TEXT NOT NULL DEFAULT '[]'"),
                }});
  return m;
}

Status ApplyOne(Store& store, const Migration& migration, bool* applied) {
  *applied = false;
  return store.Write([&](Tx& tx) -> Status {
    bool pg = tx.dialect() == Dialect::kPostgres;
    if (pg) {
      HANGAR_TRY(tx.Query("SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))", {kMigrationLockKey}));
    }
    HANGAR_TRY(tx.Exec(kCreateSchemaMigrations));
    HANGAR_ASSIGN_OR_RETURN(
        auto rows,
        tx.Query("SELECT 1 FROM schema_migrations WHERE version = $1", {migration.version}));
    if (!rows.empty()) return Ok();  // another replica (or an earlier start) applied it
    for (const MigrationStep& step : migration.steps) {
      HANGAR_TRY(tx.Exec(pg ? step.postgres : step.sqlite));
    }
    HANGAR_TRY(
        tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                {migration.version, migration.name, ToUnixMicros(SystemClock().Now())}));
    *applied = true;
    return Ok();
  });
}

}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> migrations = BuildMigrations();
  return migrations;
}

int64_t LatestSchemaVersion() { return AllMigrations().back().version; }

Status ApplyMigrations(Store& store) {
  HANGAR_ASSIGN_OR_RETURN(int64_t current, SchemaVersion(store));
  for (const Migration& m : AllMigrations()) {
    if (m.version <= current) continue;
    bool applied = false;
    if (Status s = ApplyOne(store, m, &applied); !s) {
      spdlog::error("schema migration {} ({}) failed: {}", m.version, m.name, s.error().ToString());
      return s;
    }
    if (applied) spdlog::info("applied schema migration {} ({})", m.version, m.name);
  }
  return Ok();
}

Result<int64_t> SchemaVersion(Store& store) {
  int64_t version = 0;
  HANGAR_TRY(store.Read([&](Tx& tx) -> Status {
    // The table itself is created by the first migration's transaction; before that, version 0.
    std::string_view exists_sql =
        tx.dialect() == Dialect::kPostgres
            ? "SELECT 1 FROM pg_catalog.pg_tables"
              " WHERE tablename = 'schema_migrations' AND schemaname = current_schema()"
            : "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
    HANGAR_ASSIGN_OR_RETURN(auto exists, tx.Query(exists_sql));
    if (exists.empty()) return Ok();
    HANGAR_ASSIGN_OR_RETURN(auto rows,
                            tx.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    version = rows.at(0).Int(0);
    return Ok();
  }));
  return version;
}

}  // namespace hangar::store
