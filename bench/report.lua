-- Shared by the wrk scripts of bench/http_bench.sh: one machine-readable summary line.
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B socket_errors=E http_errors=H
-- http_errors is wrk's own count of responses with status >= 400 (plus, for scripts that
-- count statuses themselves, their `bad` counter: see create_gpu_type.lua).
function bench_report(summary, latency, extra_bad)
  local s = summary.errors
  local socket_errors = s.connect + s.read + s.write + s.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f socket_errors=%d " ..
    "http_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, socket_errors,
    s.status + (extra_bad or 0)))
end
