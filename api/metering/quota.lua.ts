/**
 * Lua for the token quota, beside its caller (quota.ts). Every key one script touches shares the
 * user's hash tag {userId}, so each script runs on a single Redis Cluster slot.
 *
 * The quota hash holds: plan, start, end (period, epoch ms), anchor, used (settled + in-flight
 * reservations of the current period), capOverride (optional per-user hard cap, set by an operator),
 * overageCapCents (the user's own overage spending cap in US cents, PUT /v1/settings) and, after a period
 * rolls over, `used:<start>` with the final count of earlier periods. Billing (api/billing/entitlements)
 * adds: customer (Stripe customer id), pastDue ('1': a payment failed, capped at the included
 * allowance), cancelAtEnd ('1': the subscription ends with this period), confirmed (start of the last
 * paid period a Stripe event confirmed).
 */

/** Shared prelude: load the quota hash; returns plan caps and the current period. */
const LOAD = `
local q = KEYS[1]
local plans = cjson.decode(ARGV[PLANS_ARG])
local f = redis.call('HMGET', q, 'plan', 'start', 'end', 'anchor', 'used', 'capOverride', 'pastDue', 'cancelAtEnd', 'customer', 'overageCapCents')
local plan, pstart, pend, anchor, used, capOverride = f[1], tonumber(f[2]), tonumber(f[3]), f[4], tonumber(f[5]) or 0, tonumber(f[6])
local pastDue, cancelAtEnd, customer, overageCapCents = f[7] == '1', f[8] == '1', f[9], tonumber(f[10])
-- The hard cap of the current plan (hardCapOf in api/config/plans.ts): the user's own spending cap lowers it
-- on plans with overage; a failed payment caps a paid plan at its included allowance (no new overage).
local function capOf(p)
  local c = capOverride or tonumber(plans[p] and plans[p].hardCap or 0)
  local included = tonumber(plans[p] and plans[p].included or 0)
  local perCent = tonumber(plans[p] and plans[p].perCent or 0)
  if overageCapCents and perCent > 0 then c = math.min(c, included + overageCapCents * perCent) end
  if pastDue then c = math.min(c, included) end
  return c
end
`;

/**
 * RESERVE
 * KEYS: quota, request, inflight, cancel (this attempt's tombstone, set by a RELEASE that got here first)
 * ARGV: 1 want (tokens), 2 minimum grant, 3 now ms, 4 init start, 5 init end, 6 plans JSON,
 *       7 roll start ('' unless retrying after ROLL), 8 roll end, 9 request ttl s, 10 inflight deadline ms, 11 requestId,
 *       12 the ended period's end the roll was computed from, 13 plan after the roll, 14 anchor after the roll,
 *       15 attempt (a nonce of this HTTP request: only its holder may release the reservation)
 * Returns one of:
 *   {'OK', granted, usedAfter, cap, start, end, plan}
 *   {'DENY', used, cap, start, end, plan}
 *   {'DUP', state}                 the requestId was already reserved or settled
 *   {'ROLL', anchor, end, plan, cancelAtEnd, confirmed}  the period ended: call again with the next period in ARGV 7/8/12/13/14
 *                                  (asked again if the hash changed in between, e.g. a webhook moved the period)
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
  if ARGV[7] == '' or tonumber(ARGV[12]) ~= pend then
    local confirmed = tonumber(redis.call('HGET', q, 'confirmed')) == pstart
    return {'ROLL', anchor or tostring(pstart), tostring(pend), plan, cancelAtEnd and '1' or '0', confirmed and '1' or '0'}
  end
  redis.call('HINCRBY', q, 'used:' .. pstart, used)
  redis.call('HSET', q, 'start', ARGV[7], 'end', ARGV[8], 'used', 0, 'plan', ARGV[13], 'anchor', ARGV[14])
  if ARGV[13] ~= plan then
    redis.call('HDEL', q, 'cancelAtEnd', 'pastDue')
    pastDue, cancelAtEnd = false, false
  end
  pstart, pend, used, plan = tonumber(ARGV[7]), tonumber(ARGV[8]), 0, ARGV[13]
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

local cap = capOf(plan)
local grant = math.min(want, cap - used)
if grant < minGrant then return {'DENY', used, cap, pstart, pend, plan} end

redis.call('HINCRBY', q, 'used', grant)
local member = ARGV[11] .. '|' .. grant .. '|' .. pstart
redis.call('ZADD', inflight, tonumber(ARGV[10]), member)
-- The plan and period end travel with the reservation: settle records them on the ledger event, so usage
-- is billed (or not) by the plan it was granted under, in the period it was granted in.
redis.call('HSET', r, 'state', 'reserved', 'amount', grant, 'period', pstart, 'pend', pend, 'plan', plan, 'member', member, 'attempt', ARGV[15])
redis.call('EXPIRE', r, tonumber(ARGV[9]))
return {'OK', grant, used + grant, cap, pstart, pend, plan}
`;

/**
 * SETTLE: charge what was actually used, once. Appends the ledger event and the daily count in the
 * same atomic step, so the ledger always sums to the counter.
 * The event also records what billing needs: billable ('1' when granted under a paid plan), period /
 * pend (the period it belongs to), cust (the Stripe customer, when billable). Usage alerts (50/80/100 %
 * of the included allowance) are recorded once per threshold per period.
 * KEYS: quota, request, inflight, ledger (stream), daily (hash), alerts (hash)
 * ARGV: 1 actual tokens, 2 plans JSON, 3 day (YYYY-MM-DD), 4 ledger MINID (trim by age), 5 now ms,
 *       6.. ledger event fields as alternating name, value (billed, billable, period, pend, cust are added here)
 * Returns {'OK', billed, usedAfter, cap, thresholds reached by this settlement...} | {'DUP', billed} | {'MISSING'}
 */
export const SETTLE_LUA = LOAD.replace('PLANS_ARG', '2') + `
local r, inflight, ledger, daily, alerts = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local actual = tonumber(ARGV[1])
local req = redis.call('HMGET', r, 'state', 'amount', 'period', 'member', 'plan', 'pend')
local state, reserved, period, member = req[1], tonumber(req[2]), tonumber(req[3]), req[4]
local rplan = req[5] or plan
local rpend = req[6] or ((period == pstart) and tostring(pend) or '')
if state == 'settled' then return {'DUP', tonumber(redis.call('HGET', r, 'billed'))} end
if state ~= 'reserved' then return {'MISSING'} end

-- Still holding the reservation? (It may have been swept as stale if we were very slow.)
local held = redis.call('ZREM', inflight, member) == 1 and reserved or 0
local field = (period == pstart) and 'used' or ('used:' .. period)
local counted = tonumber(redis.call('HGET', q, field)) or 0
local cap = capOf(plan)
local headroom = math.max(0, cap - (counted - held))
local billed = math.min(actual, headroom)
redis.call('HINCRBY', q, field, billed - held)
redis.call('HSET', r, 'state', 'settled', 'billed', billed)

local billable = (rplan == 'pro') and '1' or '0'
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
for _, v in ipairs({'billed', tostring(billed), 'period', tostring(period), 'pend', rpend, 'billable', billable}) do fields[#fields + 1] = v end
if billable == '1' then
  fields[#fields + 1] = 'cust'
  fields[#fields + 1] = customer or ''
end
redis.call('XADD', ledger, 'MINID', '~', ARGV[4], '*', unpack(fields))
redis.call('HINCRBY', daily, ARGV[3], billed)
redis.call('EXPIRE', daily, 40 * 86400 * 12)

local usedAfter = counted - held + billed
local reply = {'OK', billed, usedAfter, cap}
if period == pstart then
  local included = tonumber(plans[plan] and plans[plan].included or 0)
  for _, t in ipairs({50, 80, 100}) do
    if included > 0 and usedAfter * 100 >= included * t and redis.call('HSETNX', alerts, pstart .. ':' .. t, ARGV[5]) == 1 then
      reply[#reply + 1] = t
    end
  end
end
return reply
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
