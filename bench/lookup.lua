-- wrk script: trust lookups of random real identifiers at random dates.
-- Arguments after "--": identifiers file (percent-encoded, one a line), optional Accept header.

local identifiers = {}
local accept = nil
local first_day = os.time({year = 2008, month = 1, day = 1, hour = 12})
local days = 6900

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      identifiers[#identifiers + 1] = line
    end
  end
  accept = args[2]
  -- Threads start together; seed each differently so they ask different questions.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  local identifier = identifiers[math.random(#identifiers)]
  local at = os.date("!%Y-%m-%d", first_day + math.random(0, days) * 86400)
  local headers = {}
  if accept then
    headers["Accept"] = accept
  end
  return wrk.format("GET", "/api/v1/trust?identifier=" .. identifier .. "&at=" .. at, headers)
end

function done(summary, latency, requests)
  local non_2xx = summary.errors.status
  local socket_errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), non_2xx, socket_errors
  ))
end
