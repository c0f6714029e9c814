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

/** Shared prelude: load the quota hash (quotaKey); returns plan caps (plansJson) and the current period. */
const LOAD = `
local q = quotaKey
local plans = cjson.decode(plansJson)
local f = redis.call('HMGET', q, 'plan', 'start', 'end', 'anchor', 'used', 'capOverride', 'pastDue', 'cancelAtEnd', 'customer',
  'overageCapCents')
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
 * RESERVE. cancelKey: this attempt's tombstone, set by a RELEASE that got here first. rollStart/rollEnd: ''
 * unless retrying after ROLL, with the next period computed from the ended period's end rolledFrom, and the
 * plan and anchor after the roll. attempt: a nonce of this HTTP request (only its holder may release).
 * Returns one of (kind first):
 * wantsJson: '' or a JSON map plan -> [want, minGrant] that replaces wantArg/minGrantArg for that plan.
 *   OK granted usedAfter cap start end plan
 *   DENY used cap start end plan
 *   DUP state                      the requestId was already reserved or settled
 *   ROLL anchor end plan cancelAtEnd confirmed   the period ended: call again with the next period
 *                                  (asked again if the hash changed in between, e.g. a webhook moved the period)
 *   CANCELLED                      this attempt was already given up (its reply would be too late)
 */
export const RESERVE = {
  keys: ['quotaKey', 'requestKey', 'inflightKey', 'cancelKey'],
  args: [
    'wantArg',
    'minGrantArg',
    'nowArg',
    'initStart',
    'initEnd',
    'plansJson',
    'rollStart',
    'rollEnd',
    'requestTtlSec',
    'inflightDeadline',
    'requestId',
    'rolledFrom',
    'rollPlan',
    'rollAnchor',
    'attempt',
    'wantsJson',
  ],
  body: `${LOAD}
local r, inflight = requestKey, inflightKey
local want, minGrant, now = tonumber(wantArg), tonumber(minGrantArg), tonumber(nowArg)
if redis.call('EXISTS', cancelKey) == 1 then return {'kind', 'CANCELLED'} end

local state = redis.call('HGET', r, 'state')
if state and state ~= 'released' then return {'kind', 'DUP', 'state', state} end

if not plan then
  plan, pstart, pend, anchor, used = 'free', tonumber(initStart), tonumber(initEnd), initStart, 0
  redis.call('HSET', q, 'plan', plan, 'start', pstart, 'end', pend, 'anchor', anchor, 'used', 0)
elseif now >= pend then
  if rollStart == '' or tonumber(rolledFrom) ~= pend then
    local confirmed = tonumber(redis.call('HGET', q, 'confirmed')) == pstart
    return {'kind', 'ROLL', 'anchor', anchor or tostring(pstart), 'end', tostring(pend), 'plan', plan,
      'cancelAtEnd', cancelAtEnd and '1' or '0', 'confirmed', confirmed and '1' or '0'}
  end
  redis.call('HINCRBY', q, 'used:' .. pstart, used)
  redis.call('HSET', q, 'start', rollStart, 'end', rollEnd, 'used', 0, 'plan', rollPlan, 'anchor', rollAnchor)
  if rollPlan ~= plan then
    redis.call('HDEL', q, 'cancelAtEnd', 'pastDue')
    pastDue, cancelAtEnd = false, false
  end
  pstart, pend, used, plan = tonumber(rollStart), tonumber(rollEnd), 0, rollPlan
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

-- The size may depend on the plan (each plan runs its own models): wantsJson maps plan -> {want, minGrant}.
local sized = wantsJson ~= '' and cjson.decode(wantsJson)[plan] or nil
if sized then want, minGrant = tonumber(sized[1]), tonumber(sized[2]) end
local cap = capOf(plan)
local grant = math.min(want, cap - used)
if grant < minGrant then
  return {'kind', 'DENY', 'used', used, 'cap', cap, 'start', pstart, 'end', pend, 'plan', plan}
end

redis.call('HINCRBY', q, 'used', grant)
local member = requestId .. '|' .. grant .. '|' .. pstart
redis.call('ZADD', inflight, tonumber(inflightDeadline), member)
-- The plan and period end travel with the reservation: settle records them on the ledger event, so usage
-- is billed (or not) by the plan it was granted under, in the period it was granted in.
redis.call('HSET', r, 'state', 'reserved', 'amount', grant, 'period', pstart, 'pend', pend, 'plan', plan, 'member', member,
  'attempt', attempt)
redis.call('EXPIRE', r, tonumber(requestTtlSec))
return {'kind', 'OK', 'granted', grant, 'usedAfter', used + grant, 'cap', cap, 'start', pstart, 'end', pend, 'plan', plan}
`,
} as const;

/**
 * SETTLE: charge what was actually used, once. Appends the ledger event and the daily count in the
 * same atomic step, so the ledger always sums to the counter.
 * The event also records what billing needs: billable ('1' when granted under a paid plan), period /
 * pend (the period it belongs to), cust (the Stripe customer, when billable). Usage alerts (50/80/100 %
 * of the included allowance) are recorded once per threshold per period.
 * day: YYYY-MM-DD; minId: the ledger's MINID (trim by age). After the named arguments: the ledger event's
 * fields as alternating name, value (billed, billable, period, pend, cust are added here).
 * Returns: OK billed usedAfter cap alerts (thresholds reached by this settlement, comma-separated) | DUP billed | MISSING
 */
const SETTLE_ARGS = ['actualArg', 'plansJson', 'day', 'minId', 'nowArg'] as const;
/** The ledger event's fields start after SETTLE's named arguments. */
const SETTLE_FIELDS_FROM = SETTLE_ARGS.length + 1;

export const SETTLE = {
  keys: ['quotaKey', 'requestKey', 'inflightKey', 'ledgerKey', 'dailyKey', 'alertsKey'],
  args: SETTLE_ARGS,
  body: `${LOAD}
local r, inflight, ledger, daily, alerts = requestKey, inflightKey, ledgerKey, dailyKey, alertsKey
local actual = tonumber(actualArg)
local req = redis.call('HMGET', r, 'state', 'amount', 'period', 'member', 'plan', 'pend')
local state, reserved, period, member = req[1], tonumber(req[2]), tonumber(req[3]), req[4]
local rplan = req[5] or plan
local rpend = req[6] or ((period == pstart) and tostring(pend) or '')
if state == 'settled' then return {'kind', 'DUP', 'billed', tonumber(redis.call('HGET', r, 'billed'))} end
if state ~= 'reserved' then return {'kind', 'MISSING'} end

-- Still holding the reservation? (It may have been swept as stale if we were very slow.)
local held = redis.call('ZREM', inflight, member) == 1 and reserved or 0
local field = (period == pstart) and 'used' or ('used:' .. period)
-- The current period's count was loaded above (LOAD); an earlier period's is read.
local counted = (field == 'used') and used or (tonumber(redis.call('HGET', q, field)) or 0)
local cap = capOf(plan)
local headroom = math.max(0, cap - (counted - held))
local billed = math.min(actual, headroom)
redis.call('HINCRBY', q, field, billed - held)
redis.call('HSET', r, 'state', 'settled', 'billed', billed)

local billable = (rplan == 'pro') and '1' or '0'
local fields = {}
for i = ${SETTLE_FIELDS_FROM}, #ARGV do fields[#fields + 1] = ARGV[i] end
for _, v in ipairs({'billed', tostring(billed), 'period', tostring(period), 'pend', rpend, 'billable', billable}) do
  fields[#fields + 1] = v
end
if billable == '1' then
  fields[#fields + 1] = 'cust'
  fields[#fields + 1] = customer or ''
end
redis.call('XADD', ledger, 'MINID', '~', minId, '*', unpack(fields))
-- The daily counts live 480 days after the day's first settlement (the TTL is set when a day's count starts).
if redis.call('HINCRBY', daily, day, billed) == billed then redis.call('EXPIRE', daily, 40 * 86400 * 12) end

local usedAfter = counted - held + billed
local reached = {}
if period == pstart then
  local included = tonumber(plans[plan] and plans[plan].included or 0)
  for _, t in ipairs({50, 80, 100}) do
    if included > 0 and usedAfter * 100 >= included * t and redis.call('HSETNX', alerts, pstart .. ':' .. t, nowArg) == 1 then
      reached[#reached + 1] = t
    end
  end
end
return {'kind', 'OK', 'billed', billed, 'usedAfter', usedAfter, 'cap', cap, 'alerts', table.concat(reached, ',')}
`,
} as const;

/**
 * RESIZE: the request moves to another model before any token was generated (fallback), whose prompt count or
 * output cap differs: its reservation becomes min(want, what the cap leaves), in the same step, by the attempt
 * that made it only. Never a second reservation: the one request holds one amount, so concurrent requests can
 * never together hold more than the cap. Returns: OK granted usedAfter cap | DENY granted (unchanged: the cap
 * leaves less than minGrant) | GONE (not reserved by this attempt, or swept as abandoned).
 */
export const RESIZE = {
  keys: ['quotaKey', 'requestKey', 'inflightKey'],
  args: ['attempt', 'requestId', 'wantArg', 'minGrantArg', 'plansJson'],
  body: `${LOAD}
local r, inflight = requestKey, inflightKey
local want, minGrant = tonumber(wantArg), tonumber(minGrantArg)
local req = redis.call('HMGET', r, 'state', 'amount', 'period', 'member', 'attempt')
if req[1] ~= 'reserved' or req[5] ~= attempt then return {'kind', 'GONE'} end
local held, period, member = tonumber(req[2]), tonumber(req[3]), req[4]
local deadline = redis.call('ZSCORE', inflight, member)
if not deadline then return {'kind', 'GONE'} end
local field = (period == pstart) and 'used' or ('used:' .. period)
local counted = tonumber(redis.call('HGET', q, field)) or 0
local cap = capOf(plan)
local grant = math.min(want, cap - (counted - held))
if grant < minGrant then return {'kind', 'DENY', 'granted', held} end
local resized = requestId .. '|' .. grant .. '|' .. period
redis.call('HINCRBY', q, field, grant - held)
redis.call('ZREM', inflight, member)
redis.call('ZADD', inflight, deadline, resized)
redis.call('HSET', r, 'amount', grant, 'member', resized)
return {'kind', 'OK', 'granted', grant, 'usedAfter', counted - held + grant, 'cap', cap}
`,
} as const;

/**
 * RELEASE: the request failed before any token was generated; give the whole reservation back.
 * The request may then be retried with the same requestId. Only the attempt that made the reservation
 * may release it: a late release (after a Redis timeout) never frees a retry's reservation. When the
 * attempt's RESERVE has not run yet (its request is still in flight), a tombstone (kept tombstoneTtlSec)
 * makes it a no-op. Returns: released '1' | '0' (nothing to release).
 */
export const RELEASE = {
  keys: ['quotaKey', 'requestKey', 'inflightKey', 'cancelKey'],
  args: ['attempt', 'tombstoneTtlSec'],
  body: `
local req = redis.call('HMGET', requestKey, 'state', 'amount', 'period', 'member', 'attempt')
if req[1] ~= 'reserved' or req[5] ~= attempt then
  redis.call('SET', cancelKey, '1', 'EX', tonumber(tombstoneTtlSec))
  return {'released', '0'}
end
local held = redis.call('ZREM', inflightKey, req[4]) == 1 and tonumber(req[2]) or 0
local pstart = tonumber(redis.call('HGET', quotaKey, 'start'))
local field = (tonumber(req[3]) == pstart) and 'used' or ('used:' .. req[3])
redis.call('HINCRBY', quotaKey, field, -held)
redis.call('HSET', requestKey, 'state', 'released')
return {'released', '1'}
`,
} as const;

/**
 * The Lua line that starts a user's quota hash on the free plan, its period [start, end) anchored at start:
 * the one shape every script that may meet a new user writes (`quota`, `start`, `end` are Lua expressions).
 */
export const newFreeQuotaLua = (quota: string, start: string, end: string) =>
  `redis.call('HSET', ${quota}, 'plan', 'free', 'start', ${start}, 'end', ${end}, 'anchor', ${start}, 'used', 0)`;

/** ENSURE: create the quota hash for a user seen for the first time (anchors the free period). Returns: created '1' | '0'. */
export const ENSURE = {
  keys: ['quotaKey'],
  args: ['periodStart', 'periodEnd'],
  body: `
if redis.call('EXISTS', quotaKey) == 1 then return {'created', '0'} end
${newFreeQuotaLua('quotaKey', 'periodStart', 'periodEnd')}
return {'created', '1'}
`,
} as const;
