-- wrk script of the soak: a mix of every feed, page and format, plain, gzipped and
-- conditional, from a list of "target<TAB>etag<TAB>gzip-etag" lines (bench/reliability/soak.py
-- writes it from a build of the store as it starts). Records the status of every response
-- and checks nothing else; bench/reliability/verify.py checks bodies and ETags.
--
--   wrk -t2 -c64 -d60s -s bench/reliability/mix.lua http://127.0.0.1:PORT -- targets.tsv SEED

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  targets = {}
  for line in io.lines(args[1]) do
    local path, etag, gz = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    if path then
      table.insert(targets, {path = path, etag = etag, gz = gz})
    end
  end
  math.randomseed((tonumber(args[2]) or 1) * 7919 + id)
  statuses = {}
end

-- The ETags are those of the store as the run starts: as posts change, a conditional request
-- for a changed document gets a 200 instead of a 304, like a feed reader's would.
function request()
  local t = targets[math.random(#targets)]
  local r = math.random()
  local headers = {}
  if r < 0.35 then
    -- plain GET
  elseif r < 0.60 then
    headers["If-None-Match"] = t.etag
  elseif r < 0.70 then
    headers["Accept-Encoding"] = "gzip"
    headers["If-None-Match"] = t.gz
  elseif r < 0.80 then
    headers["Accept-Encoding"] = "gzip, deflate, br"
  elseif r < 0.90 then
    headers["If-None-Match"] = '"0123", W/' .. t.etag
  else
    headers["If-Modified-Since"] = "Sat, 01 Jun 2024 00:00:00 GMT"
  end
  return wrk.format("GET", t.path, headers)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      total[key] = (total[key] or 0) + count
    end
  end
  local parts = {}
  for key, count in pairs(total) do
    table.insert(parts, string.format('"%s": %d', key, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'SOAK_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "socket_errors": '
    .. '{"connect": %d, "read": %d, "write": %d, "timeout": %d}, "status_errors": %d, '
    .. '"latency_ms": {"p50": %.2f, "p99": %.2f, "max": %.2f}}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), errors.connect, errors.read,
    errors.write, errors.timeout, errors.status, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
