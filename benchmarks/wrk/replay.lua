-- wrk script of the benchmark runner (benchmarks/acme_bench/wrk.py).
--
--   wrk ... -s replay.lua URL -- TOKENS_FILE REQUESTS_FILE
--
-- TOKENS_FILE holds one access token a line (made with `acme-api token
-- issue` before the run).
-- REQUESTS_FILE holds one request a line:
--   TOKEN_INDEX <tab> METHOD <tab> PATH [<tab> JSON_BODY]
-- where TOKEN_INDEX counts from 0 ("-" sends no Authorization header).
-- Every request is formatted once in init(); each thread then replays the
-- list from its own offset, so a request costs wrk almost nothing.
-- done() prints one machine-readable line: ACME_BENCH_WRK {json}.

local requests = {}
local count = 0
local position = 0
local next_thread = 0

function setup(thread)
  thread:set("offset", next_thread)
  next_thread = next_thread + 1
end

local function load_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  return lines
end

function init(args)
  if #args < 2 then
    error("usage: -- TOKENS_FILE REQUESTS_FILE")
  end
  local tokens = load_lines(args[1])
  for _, line in ipairs(load_lines(args[2])) do
    local index, method, path, body = line:match("^([%d%-]+)\t(%u+)\t([^\t]+)\t?(.*)$")
    if not method then
      error("bad request line: " .. line)
    end
    local headers = {}
    if index ~= "-" then
      local token = tokens[tonumber(index) + 1]
      if not token then
        error("no token number " .. index .. " in " .. args[1])
      end
      headers["Authorization"] = "Bearer " .. token
    end
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  count = #requests
  if count == 0 then
    error("no requests in " .. args[2])
  end
  -- Spread the threads over the list so they do not send the same request at once.
  position = ((offset or 0) * 7919) % count
end

function request()
  position = position % count + 1
  return requests[position]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'ACME_BENCH_WRK {"requests":%d,"errors":%d,"non2xx":%d,"duration_us":%d,'
      .. '"mean_us":%.1f,"max_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status, summary.duration,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
