-- wrk script: POST /api/v1/jobs (held, so nothing runs: the same workload as Slurm's
-- `sbatch --hold --wrap true`); only 201 Created counts, so jobs/s is acknowledged (durable)
-- submissions.
--   wrk ... -s bench/submit_job.lua URL -- PROJECT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

local headers = {}
local body = ""

function init(args)
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/json"
  body = string.format('{"project":"%s","command":["true"],"hold":true}', args[1] or "bench")
end

function request()
  return wrk.format("POST", "/api/v1/jobs", headers, body)
end

function response(status, headers, body)
  count_created(status, body)
end

function done(summary, latency, requests)
  report_created(threads, summary, latency)
end
