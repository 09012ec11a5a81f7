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

-- Shared by the write scripts (create_gpu_type.lua, submit_job.lua): each thread counts
-- 201 Created in `created` and everything else in `bad`, keeping the first bad answer; the
-- script's response() calls count_created and its done() calls report_created.
created = 0
bad = 0
first_bad_status = 0
first_bad_body = ""

function count_created(status, body)
  if status == 201 then
    created = created + 1
  else
    bad = bad + 1
    if first_bad_status == 0 then
      first_bad_status = status
      first_bad_body = string.sub(body or "", 1, 300)
    end
  end
end

-- Sums the threads' counts and writes the BENCH and BENCH_WRITES lines.
function report_created(threads, summary, latency)
  local total_created, total_bad, first, first_body = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    total_created = total_created + t:get("created")
    total_bad = total_bad + t:get("bad")
    if first == 0 then
      first = t:get("first_bad_status")
      first_body = t:get("first_bad_body")
    end
  end
  -- wrk already counts status >= 400 in summary.errors.status; add only the rest (2xx/3xx
  -- other than 201) so nothing is counted twice.
  local non201_below_400 = total_bad - summary.errors.status
  if non201_below_400 < 0 then non201_below_400 = 0 end
  bench_report(summary, latency, non201_below_400)
  io.write(string.format("BENCH_WRITES created=%d not_created=%d first_bad_status=%d " ..
                         "created_per_s=%.1f\n", total_created, total_bad, first,
                         total_created / (summary.duration / 1e6)))
  if first ~= 0 then io.write("BENCH_FIRST_BAD_BODY " .. first_body:gsub("\n", " ") .. "\n") end
end
