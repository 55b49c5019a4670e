// The Lua side of the rate limiter (rate-limit.ts), kept apart: it is the shared algorithm every instance runs in
// Redis, read and reviewed on its own.

/**
 * GCRA (the token bucket as one timestamp per key) in Redis, handed out in leases. The script reads
 * Redis' own clock, so every gateway instance agrees whatever their clocks say. One call takes, for
 * each bucket of a request (the account and the client address), up to `want` tokens at once, all or
 * nothing (every bucket must have one, or none is taken), and gives back the unspent tokens of an
 * expired lease (`back`). It also answers whether ARGV[1] (auth's revocation marker of the credential,
 * '' when there is none to ask) exists; a revoked answer takes nothing. The marker's name is an argument,
 * not a declared key: Redis checks declared keys for write access, and the gateway's ACL user may only
 * read auth's markers. KEYS: the buckets. ARGV: the marker, then per bucket `want, back, rate, burst`. Returns {revoked, then per bucket: granted,
 * remaining, retry_after_ms, reset_ms}.
 */
export const LEASE_LUA = `
local out = {0}
if ARGV[1] ~= '' and redis.call('EXISTS', ARGV[1]) == 1 then out[1] = 1 end
local n = #KEYS
if n == 0 or out[1] == 1 then return out end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats, avail, interval, tolerance = {}, {}, {}, {}
local ok = true
for i = 1, n do
  interval[i] = 1000000 / tonumber(ARGV[4 * i])
  tolerance[i] = interval[i] * tonumber(ARGV[4 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) - tonumber(ARGV[4 * i - 1]) * interval[i]
  if tat < now then tat = now end
  tats[i] = tat
  avail[i] = math.floor((now + tolerance[i] - tat) / interval[i])
  if avail[i] < 1 then ok = false end
end
for i = 1, n do
  local g = 0
  if ok then g = math.min(tonumber(ARGV[4 * i - 2]), avail[i]) end
  local tat = tats[i] + g * interval[i]
  if g > 0 or tonumber(ARGV[4 * i - 1]) > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  local retry = 0
  if g == 0 then retry = math.max(0, math.ceil((tat + interval[i] - tolerance[i] - now) / 1000)) end
  out[#out + 1] = g
  out[#out + 1] = avail[i] - g
  out[#out + 1] = retry
  out[#out + 1] = math.ceil((tat - now) / 1000)
end
return out
`;
