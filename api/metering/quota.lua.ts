/**
 * Lua for the token quota, beside its caller (quota.ts). Every key one script touches shares the
 * user's hash tag {userId}, so each script runs on a single Redis Cluster slot.
 *
 * The quota hash holds: plan, start, end (period, epoch ms), anchor, used (settled + in-flight
 * reservations of the current period), capOverride (optional per-user hard cap) and, after a period
 * rolls over, `used:<start>` with the final count of earlier periods.
 */

/** Shared prelude: load the quota hash; returns plan caps and the current period. */
const LOAD = `
local q = KEYS[1]
local plans = cjson.decode(ARGV[PLANS_ARG])
local f = redis.call('HMGET', q, 'plan', 'start', 'end', 'anchor', 'used', 'capOverride')
local plan, pstart, pend, anchor, used, capOverride = f[1], tonumber(f[2]), tonumber(f[3]), f[4], tonumber(f[5]) or 0, tonumber(f[6])
`;

/**
 * RESERVE
 * KEYS: quota, request, inflight, cancel (this attempt's tombstone, set by a RELEASE that got here first)
 * ARGV: 1 want (tokens), 2 minimum grant, 3 now ms, 4 init start, 5 init end, 6 plans JSON,
 *       7 roll start ('' unless retrying after ROLL), 8 roll end, 9 request ttl s, 10 inflight deadline ms, 11 requestId,
 *       12 attempt (a nonce of this HTTP request: only its holder may release the reservation)
 * Returns one of:
 *   {'OK', granted, usedAfter, cap, start, end, plan}
 *   {'DENY', used, cap, start, end, plan}
 *   {'DUP', state}                 the requestId was already reserved or settled
 *   {'ROLL', anchor, end, plan}    the period ended: call again with the next period in ARGV 7/8
 *   {'CANCELLED'}                  this attempt was already given up (its reply would be too late)
 */
export const RESERVE_LUA = LOAD.replace('PLANS_ARG', '6') + `
local r, inflight = KEYS[2], KEYS[3]
local want, minGrant, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[4]) == 1 then return {'CANCELLED'} end

local state = redis.call('HGET', r, 'state')
if state and state ~= 'released' then return {'DUP', state} end

if not plan then
  plan, pstart, pend, anchor, used = 'free', tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[4], 0
  redis.call('HSET', q, 'plan', plan, 'start', pstart, 'end', pend, 'anchor', anchor, 'used', 0)
elseif now >= pend then
  if ARGV[7] == '' then return {'ROLL', anchor or tostring(pstart), tostring(pend), plan} end
  redis.call('HSET', q, 'used:' .. pstart, used, 'start', ARGV[7], 'end', ARGV[8], 'used', 0)
  pstart, pend, used = tonumber(ARGV[7]), tonumber(ARGV[8]), 0
end

-- Release reservations whose holder vanished (crashed before settling). A late settle still finds
-- its request hash and charges from zero, so nothing is counted twice.
local stale = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, 20)
for _, member in ipairs(stale) do
  local amount, period = string.match(member, '^[^|]+|(%d+)|(%d+)$')
  if amount then
    local field = (tonumber(period) == pstart) and 'used' or ('used:' .. period)
    redis.call('HINCRBY', q, field, -tonumber(amount))
    if field == 'used' then used = used - tonumber(amount) end
  end
  redis.call('ZREM', inflight, member)
end

local cap = capOverride or tonumber(plans[plan] and plans[plan].hardCap or 0)
local grant = math.min(want, cap - used)
if grant < minGrant then return {'DENY', used, cap, pstart, pend, plan} end

redis.call('HINCRBY', q, 'used', grant)
local member = ARGV[11] .. '|' .. grant .. '|' .. pstart
redis.call('ZADD', inflight, tonumber(ARGV[10]), member)
redis.call('HSET', r, 'state', 'reserved', 'amount', grant, 'period', pstart, 'member', member, 'attempt', ARGV[12])
redis.call('EXPIRE', r, tonumber(ARGV[9]))
return {'OK', grant, used + grant, cap, pstart, pend, plan}
`;

/**
 * SETTLE: charge what was actually used, once. Appends the ledger event and the daily count in the
 * same atomic step, so the ledger always sums to the counter.
 * KEYS: quota, request, inflight, ledger (stream), daily (hash)
 * ARGV: 1 actual tokens, 2 plans JSON, 3 day (YYYY-MM-DD), 4 ledger MINID (trim by age),
 *       5.. ledger event fields as alternating name, value (billed is added here)
 * Returns {'OK', billed, usedAfter, cap} | {'DUP', billed} | {'MISSING'}
 */
export const SETTLE_LUA = LOAD.replace('PLANS_ARG', '2') + `
local r, inflight, ledger, daily = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local actual = tonumber(ARGV[1])
local req = redis.call('HMGET', r, 'state', 'amount', 'period', 'member')
local state, reserved, period, member = req[1], tonumber(req[2]), tonumber(req[3]), req[4]
if state == 'settled' then return {'DUP', tonumber(redis.call('HGET', r, 'billed'))} end
if state ~= 'reserved' then return {'MISSING'} end

-- Still holding the reservation? (It may have been swept as stale if we were very slow.)
local held = redis.call('ZREM', inflight, member) == 1 and reserved or 0
local field = (period == pstart) and 'used' or ('used:' .. period)
local counted = tonumber(redis.call('HGET', q, field)) or 0
local cap = capOverride or tonumber(plans[plan] and plans[plan].hardCap or 0)
local headroom = math.max(0, cap - (counted - held))
local billed = math.min(actual, headroom)
redis.call('HINCRBY', q, field, billed - held)
redis.call('HSET', r, 'state', 'settled', 'billed', billed)

local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'billed'
fields[#fields + 1] = tostring(billed)
fields[#fields + 1] = 'period'
fields[#fields + 1] = tostring(period)
redis.call('XADD', ledger, 'MINID', '~', ARGV[4], '*', unpack(fields))
redis.call('HINCRBY', daily, ARGV[3], billed)
redis.call('EXPIRE', daily, 40 * 86400 * 12)
return {'OK', billed, counted - held + billed, cap}
`;

/**
 * RELEASE: the request failed before any token was generated; give the whole reservation back.
 * The request may then be retried with the same requestId. Only the attempt that made the reservation
 * may release it: a late release (after a Redis timeout) never frees a retry's reservation. When the
 * attempt's RESERVE has not run yet (its request is still in flight), a tombstone makes it a no-op.
 * KEYS: quota, request, inflight, cancel. ARGV: 1 attempt, 2 tombstone ttl s
 * Returns 1 when released, 0 when there was nothing to release.
 */
export const RELEASE_LUA = `
local q, r, inflight = KEYS[1], KEYS[2], KEYS[3]
local req = redis.call('HMGET', r, 'state', 'amount', 'period', 'member', 'attempt')
if req[1] ~= 'reserved' or req[5] ~= ARGV[1] then
  redis.call('SET', KEYS[4], '1', 'EX', tonumber(ARGV[2]))
  return 0
end
local held = redis.call('ZREM', inflight, req[4]) == 1 and tonumber(req[2]) or 0
local pstart = tonumber(redis.call('HGET', q, 'start'))
local field = (tonumber(req[3]) == pstart) and 'used' or ('used:' .. req[3])
redis.call('HINCRBY', q, field, -held)
redis.call('HSET', r, 'state', 'released')
return 1
`;

/**
 * ENSURE: create the quota hash for a user seen for the first time (anchors the free period).
 * KEYS: quota. ARGV: 1 start, 2 end. Returns 1 when created.
 */
export const ENSURE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'plan', 'free', 'start', ARGV[1], 'end', ARGV[2], 'anchor', ARGV[1], 'used', 0)
return 1
`;
