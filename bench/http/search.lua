-- search.lua -- wrk script: POST one Qdrant search request per call,
-- cycling through the bodies in the file named by QUIVER_BODIES (one JSON
-- body per line, written by bench/http/make_bodies.py), and report the
-- latency percentiles in a line the driver script parses.  QUIVER_PATH and
-- QUIVER_METHOD change the target, so the writers of http_load.sh --writers
-- use the same script to PUT upsert bodies (make_upserts.py).
local bodies = {}
local path = os.getenv("QUIVER_BODIES")
local target = os.getenv("QUIVER_PATH") or "/collections/bench/points/search"
local method = os.getenv("QUIVER_METHOD") or "POST"
for line in io.lines(path) do
  bodies[#bodies + 1] = line
end
local i = 0

request = function()
  i = i % #bodies + 1
  return wrk.format(method, target,
                    {["Content-Type"] = "application/json"}, bodies[i])
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout))
end
