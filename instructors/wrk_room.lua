-- A room of attendees as wrk sees it: every connection POSTs the recorded streaming request
-- and reads the whole SSE answer, again and again. wrk is a C load generator, so unlike
-- instructors/bench_room.py's Python clients it does not share the server's cores through a GIL.
--
--   python -m glm_offline serve --port 8000            # in another terminal
--   wrk -t2 -c100 -d10s -s instructors/wrk_room.lua http://127.0.0.1:8000/api/paas/v4/chat/completions
--   python instructors/bench_room.py --wrk                 # the same, server started and measured
--
-- WRK_BODY_FILE: a file with the request body to send (bench_room.py writes the recorded
-- one, "hello-zh-stream" in glm_offline/cassettes/server-basics.json); without it, a copy of
-- that request below. WRK_API_KEY: the key (default: the offline key `serve` prints).
-- At the end one line sums up what came back, for people and for bench_room.py to read.

local DEFAULT_BODY = '{"model": "glm-4-flash-250414", "messages": [{"role": "user", '
  .. '"content": "用一句话打个招呼。"}], "stream": true}'
local DEFAULT_KEY = "glm-offline.this-secret-only-unlocks-the-recorded-server"

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

local body_file = os.getenv("WRK_BODY_FILE")
wrk.method = "POST"
wrk.body = body_file and read_file(body_file) or DEFAULT_BODY
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_API_KEY") or DEFAULT_KEY)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, refused, other, incomplete = 0, 0, 0, 0  -- per thread (each has its own Lua state)
end

function response(status, headers, body)
  if status == 200 then
    if body:find("data: [DONE]", 1, true) then ok = ok + 1 else incomplete = incomplete + 1 end
  elseif status == 503 then
    refused = refused + 1  -- the server at its connection cap: a fast answer, not an error
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok_, refused_, other_, incomplete_ = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_ = ok_ + thread:get("ok")
    refused_ = refused_ + thread:get("refused")
    other_ = other_ + thread:get("other")
    incomplete_ = incomplete_ + thread:get("incomplete")
  end
  local e = summary.errors
  io.write(string.format(
    "wrk_room: requests=%d streams_to_done=%d refused_503=%d other_status=%d incomplete=%d "
      .. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
      .. "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f seconds=%.2f\n",
    summary.requests, ok_, refused_, other_, incomplete_, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.duration / 1e6))
end
