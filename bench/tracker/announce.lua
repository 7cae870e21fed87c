-- wrk script: random announces of the peers preload put in the tracker, over
-- keep-alive connections. Swarm s has info hash 5b 00 s(4 bytes) 5b*14; peer p
-- is port 10000+p, peer id "-BENCH-" s(7 digits) p(6 digits), a seeder when
-- p%5 == 0. Settings come from the environment: SWARMS, PEERS, TRACKER_NAME,
-- and PASSKEYS, a file of passkeys (private mode): peer p of swarm s then
-- announces to /PASSKEY/announce as user (s*PEERS+p) mod the number of keys.
-- uploaded and downloaded grow with the clock from BENCH_EPOCH (unix
-- seconds) at 1 MiB/s, so private mode has bytes to account; a public
-- tracker ignores them. done() prints one JSON line.

local swarms = tonumber(os.getenv("SWARMS") or "10000")
local peers = tonumber(os.getenv("PEERS") or "100")
local suffix = string.rep("%5B", 14)
local epoch = tonumber(os.getenv("BENCH_EPOCH") or "0")
local keys = nil
local passkeys = os.getenv("PASSKEYS")
if passkeys and passkeys ~= "" then
  keys = {}
  for line in io.lines(passkeys) do
    if line ~= "" then keys[#keys + 1] = line end
  end
end

local function hash(s)
  return string.format("%%5B%%00%%%02X%%%02X%%%02X%%%02X",
    math.floor(s / 16777216) % 256, math.floor(s / 65536) % 256,
    math.floor(s / 256) % 256, s % 256) .. suffix
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local s = math.random(0, swarms - 1)
  local p = math.random(0, peers - 1)
  local left = 1048576
  if p % 5 == 0 then left = 0 end
  local prefix = ""
  if keys then prefix = "/" .. keys[(s * peers + p) % #keys + 1] end
  local moved = math.max(os.time() - epoch, 0) * 1048576
  local path = prefix .. "/announce?info_hash=" .. hash(s) ..
    string.format("&peer_id=-BENCH-%07d%06d&port=%d&uploaded=%d&downloaded=%d&left=%d&numwant=50&compact=1",
      s, p, 10000 + p, moved, moved, left)
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"tracker":"%s","announces_per_s":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"duration_s":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    os.getenv("TRACKER_NAME") or "?", summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, secs, e.connect, e.read, e.write, e.status, e.timeout))
end
