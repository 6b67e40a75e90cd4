-- wrk script: each thread sends its own slice of pre-signed requests once, then stops.
-- The file (REQUESTS_FILE) holds one request per line: path \t content-type \t header \t ... \t body
-- (headers as "Name: value"); threads take lines round-robin. Prints one JSON line of totals.
-- Once its slice is sent, a thread sends GET /healthz (not counted) until every answer is in, then stops.
local path_file = os.getenv("REQUESTS_FILE")
local thread_count = tonumber(os.getenv("WRK_THREADS") or "1")
local threads = {}
local counter = 0

setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function split(line)
  local parts = {}
  for piece in string.gmatch(line, "([^\t]*)\t?") do
    table.insert(parts, piece)
  end
  if parts[#parts] == "" then table.remove(parts) end
  return parts
end

init = function(args)
  requests = {}
  local n = 0
  for line in io.lines(path_file) do
    if n % thread_count == id then
      local parts = split(line)
      local headers = { ["Content-Type"] = parts[2] }
      for i = 3, #parts - 1 do
        local name, value = string.match(parts[i], "^([^:]+): (.*)$")
        headers[name] = value
      end
      table.insert(requests, wrk.format("POST", parts[1], headers, parts[#parts]))
    end
    n = n + 1
  end
  filler = wrk.format("GET", "/healthz")
  nxt = 1
  sent = 0
  ok = 0
  duplicates = 0
  refused = 0
end

request = function()
  if nxt > #requests then
    -- the slice is sent: keep the connection busy with something harmless until every answer is in
    return filler
  end
  local r = requests[nxt]
  nxt = nxt + 1
  sent = sent + 1
  return r
end

response = function(status, headers, body)
  if string.find(body, '"database"', 1, true) then
    -- an answer to the filler
  elseif status == 200 then
    ok = ok + 1
    if string.find(body, '"duplicate": true', 1, true) or string.find(body, '"duplicate":true', 1, true) then
      duplicates = duplicates + 1
    end
  else
    refused = refused + 1
  end
  if nxt > #requests and ok + refused >= sent then
    wrk.thread:stop()
  end
end

done = function(summary, latency, reqs)
  local sent_total, ok_total, dup_total, refused_total = 0, 0, 0, 0
  local per_thread = {}
  for _, t in ipairs(threads) do
    sent_total = sent_total + t:get("sent")
    ok_total = ok_total + t:get("ok")
    dup_total = dup_total + t:get("duplicates")
    refused_total = refused_total + t:get("refused")
    table.insert(per_thread, string.format("%d", t:get("sent")))
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "sent": %d, "ok": %d, "duplicates": %d, "refused": %d, ' ..
    '"sent_per_thread": [%s], "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, sent_total, ok_total, dup_total, refused_total,
    table.concat(per_thread, ", "), summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
