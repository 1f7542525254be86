-- wrk script: trust lookups of random real identifiers at random dates, or the standard protocols' queries.
-- Arguments after "--": identifiers file (percent-encoded, one a line), the kind of request, and for
-- "lookup" an optional Accept header, for "trqp" the registry's identifier (TRQP authority_id).
--   lookup: GET /api/v1/trust?identifier=…&at=<random date>
--   fetch:  GET /federation/fetch?sub=…               (OpenID Federation subordinate statement, signed)
--   trqp:   POST /trqp/authorization {entity_id, authority_id, action: "issue"}
--   revalidate: a lookup with If-None-Match: the ETag of its answer (the file's lines: identifier TAB date TAB ETag)

local identifiers = {}
local kind = "lookup"
local extra = nil
local first_day = os.time({year = 2008, month = 1, day = 1, hour = 12})
local days = 6900

local function decode(value)
  return (value:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function json_string(value)
  return '"' .. value:gsub('[\\"]', function(c) return "\\" .. c end) .. '"'
end

function init(args)
  kind = args[2] or "lookup"
  for line in io.lines(args[1]) do
    if #line > 0 then
      if kind == "revalidate" then
        -- identifier, date and the ETag of its answer, tab-separated
        local identifier, at, tag = line:match("([^\t]+)\t([^\t]+)\t(.+)")
        line = {identifier, at, tag}
      end
      identifiers[#identifiers + 1] = line
    end
  end
  extra = args[3]
  -- Threads start together; seed each differently so they ask different questions.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  local identifier = identifiers[math.random(#identifiers)]
  if kind == "revalidate" then
    local path = "/api/v1/trust?identifier=" .. identifier[1] .. "&at=" .. identifier[2]
    return wrk.format("GET", path, {["If-None-Match"] = identifier[3]})
  end
  if kind == "fetch" then
    return wrk.format("GET", "/federation/fetch?sub=" .. identifier)
  end
  if kind == "trqp" then
    local body = '{"entity_id":' .. json_string(decode(identifier)) .. ',"authority_id":' .. json_string(extra)
      .. ',"action":"issue"}'
    return wrk.format("POST", "/trqp/authorization", {["Content-Type"] = "application/json"}, body)
  end
  local at = os.date("!%Y-%m-%d", first_day + math.random(0, days) * 86400)
  local headers = {}
  if extra then
    headers["Accept"] = extra
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
