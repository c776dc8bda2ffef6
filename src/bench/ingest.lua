-- wrk script for the benchmarks. MODE=options|single|batch|wait, BATCH=events per batch, KEY=ingress key,
-- API=API key (wait mode), PRIORITY=high|normal|low (optional), CODE=the code to run (default: a trivial sum),
-- DELAY_MS=pause between requests of one connection (optional), SESSIONS=prefix of the session ids
-- (default bench-), SESSION_COUNT=how many sessions (default 16).
local mode = os.getenv("MODE") or "single"
local batch = tonumber(os.getenv("BATCH") or "100")
local key = os.getenv("KEY") or "bench-key"
local api = os.getenv("API") or "bench-api"
local priority = os.getenv("PRIORITY")
local code = os.getenv("CODE")
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local sessions = os.getenv("SESSIONS") or "bench-"
local sessionCount = tonumber(os.getenv("SESSION_COUNT") or "16")
if pause > 0 then
  delay = function() return pause end
end
local counter = 0
-- LuaJIT seeds math.random alike in every process: two wrk started in the same second would send
-- the same event ids (duplicates, not work). The wrk process id makes each run's names its own.
local stat = io.open("/proc/self/stat")
local pid = stat and stat:read("*n") or 0
if stat then stat:close() end
math.randomseed(os.time() * 100003 + pid)
local run = tostring(os.time()) .. "-" .. tostring(pid) .. "-" .. tostring(math.random(1, 1e9))

local function event()
  counter = counter + 1
  local extra = priority and ('"priority":"' .. priority .. '",') or ''
  local snippet = code or ('print(sum(range(' .. counter .. ')))')
  return '{"specversion":"1.0","id":"' .. run .. '-' .. counter .. '","source":"/bench/tenant-' .. (counter % 8) ..
    '","type":"io.sandstream.code.execute","subject":"code-execution/bench",' .. extra ..
    '"data":{"code":"' .. snippet .. '","sessionId":"' .. sessions .. (counter % sessionCount) .. '"}}'
end

request = function()
  if mode == "options" then
    return wrk.format("OPTIONS", "/events", {["WebHook-Request-Origin"] = "bench.example.com", ["aeg-sas-key"] = key})
  end
  if mode == "wait" then
    return wrk.format("POST", "/executions?wait=30", {["Authorization"] = "Bearer " .. api,
      ["Content-Type"] = "application/json"}, '{"code":"' .. (code or '1+1') .. '","sessionId":"bench-wait"}')
  end
  local headers = {["aeg-sas-key"] = key}
  if mode == "single" then
    headers["Content-Type"] = "application/cloudevents+json"
    return wrk.format("POST", "/events", headers, event())
  end
  local events = {}
  for i = 1, batch do events[i] = event() end
  headers["Content-Type"] = "application/cloudevents-batch+json"
  return wrk.format("POST", "/events", headers, "[" .. table.concat(events, ",") .. "]")
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  local per = (mode == "batch") and batch or ((mode == "single" or mode == "wait") and 1 or 0)
  io.write(string.format("RESULT requests_per_s=%.0f events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests / seconds, summary.requests * per / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, bad))
end
