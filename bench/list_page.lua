-- wrk script: the URL given on the command line (a 100-item list page), summary via report.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

function done(summary, latency, requests)
  bench_report(summary, latency)
end
