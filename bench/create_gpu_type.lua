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
  count_created(status, body)
end

function done(summary, latency, requests)
  report_created(threads, summary, latency)
end
