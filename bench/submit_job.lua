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

created = 0
bad = 0
first_bad_status = 0
first_bad_body = ""
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
  local non201_below_400 = total_bad - summary.errors.status
  if non201_below_400 < 0 then non201_below_400 = 0 end
  bench_report(summary, latency, non201_below_400)
  io.write(string.format("BENCH_WRITES created=%d not_created=%d first_bad_status=%d " ..
                         "created_per_s=%.1f\n", total_created, total_bad, first,
                         total_created / (summary.duration / 1e6)))
  if first ~= 0 then io.write("BENCH_FIRST_BAD_BODY " .. first_body:gsub("\n", " ") .. "\n") end
end
