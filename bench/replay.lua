-- wrk script: replays HTTP requests that were signed beforehand (by @smithy/signature-v4 in
-- the Node side of the benchmark), round robin, and prints the result as one JSON line.
--
-- Request file format, repeated: "<byte length>\n<raw HTTP/1.1 request>".
-- Usage: wrk -t1 -cN -dS -s replay.lua https://host:port -- <request file>

local requests = {}
local count = 0
local index = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    requests[#requests + 1] = string.sub(data, nl + 1, nl + len)
    pos = nl + len + 1
  end
  count = #requests
  if count == 0 then error("no requests in " .. args[1]) end
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
