-- wrk script: GET <prefix><id> rotating over the ids in a file, one id per line.
--   wrk ... -s bench/get_by_id.lua URL -- IDS_FILE PATH_PREFIX
-- Each thread starts at a different offset so the threads do not walk the ids in lockstep.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local threads_started = 0
function setup(thread)
  thread:set("thread_index", threads_started)
  threads_started = threads_started + 1
end

local requests_by_id = {}
local next_index = 1

function init(args)
  local ids_file, prefix = args[1], args[2] or "/api/v1/gpus/"
  for id in io.lines(ids_file) do
    if id ~= "" then
      -- Preformatted once: request() then costs a table lookup, not a string build.
      requests_by_id[#requests_by_id + 1] = wrk.format("GET", prefix .. id)
    end
  end
  if #requests_by_id == 0 then error("no ids in " .. ids_file) end
  next_index = ((thread_index or 0) * 997) % #requests_by_id + 1
end

function request()
  local r = requests_by_id[next_index]
  next_index = next_index % #requests_by_id + 1
  return r
end

function done(summary, latency, requests)
  bench_report(summary, latency)
end
