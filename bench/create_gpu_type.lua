-- wrk script: POST /api/v1/gpu-types with a unique name per request; only 201 counts.
--   wrk ... -s bench/create_gpu_type.lua URL -- RUN_TAG
-- Names are bench-<run tag>-<thread>-<counter>, unique across threads and runs (the product
-- name, also unique in the catalogue, embeds it). Every response that is not 201 Created is
-- counted in `bad` and reported as an HTTP error, so the created/s figure is exactly the
-- acknowledged (durable) creates.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

local run_tag = "run"
local counter = 0
created = 0
bad = 0
first_bad_status = 0
first_bad_body = ""

local headers = {}

function init(args)
  run_tag = args[1] or "run"
  -- wrk.format uses the table it is given instead of wrk.headers (the -H flags, which carry
  -- Authorization), so merge them.
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local name = string.format("bench-%s-%d-%d", run_tag, thread_index or 0, counter)
  local body = string.format(
    '{"name":"%s","vendor":"nvidia","architecture":"hopper","product_name":"bench product %s",' ..
    '"memory_mib":81559,"compute_capability":"9.0","hourly_price_micros":1}', name, name)
  return wrk.format("POST", "/api/v1/gpu-types", headers, body)
end

function response(status, headers, body)
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

function done(summary, latency, requests)
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
