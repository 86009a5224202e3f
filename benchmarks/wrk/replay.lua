-- wrk script of the benchmark runner (benchmarks/acme_bench/drivers.py).
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
-- done() prints one machine-readable line, ACME_BENCH_WRK {json}: wrk's own summary
-- in the runner's units (requests/s, milliseconds; failures are socket errors and
-- statuses other than 2xx and 3xx).

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
    'ACME_BENCH_WRK {"requests":%d,"failures":%d,"rps":%.3f,'
      .. '"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, e.connect + e.read + e.write + e.timeout + e.status,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
