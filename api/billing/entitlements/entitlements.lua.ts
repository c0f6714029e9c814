/**
 * Lua for entitlements, beside its caller (entitlements.ts). One script applies one Stripe event to one
 * user, atomically: the event marker (idempotency), the ordering check, the billing hash and the quota
 * hash's plan/period. All keys share the user's hash tag.
 *
 * The marker of an applied event holds 'pending' until the caller has done the event's global
 * bookkeeping (customer → user, the reporter's lists; other slots, so not in this script) and set it to
 * the time; a redelivery that finds 'pending' answers {'DUP', 'pending'}, so the caller finishes it.
 *
 * The billing hash holds: sub, customer, item, status, pstart, pend (the metered item's current period,
 * epoch ms), anchor, cancelAtEnd, created (Stripe `created` of the newest applied event), event, updated,
 * and `ended:<subscriptionId>` tombstones of deleted subscriptions.
 *
 * APPLY
 * KEYS: quota, billing, event marker
 * ARGV: 1 event id, 2 event created (s), 3 kind ('state' | 'deleted'), 4 subscription id, 5 customer id,
 *       6 metered item id, 7 status, 8 entitled ('1'|'0'), 9 pastDue ('1'|'0'), 10 period start ms,
 *       11 period end ms, 12 anchor ms, 13 cancelAtEnd ('1'|'0'), 14 now ms, 15 free period start,
 *       16 free period end, 17 marker ttl s
 * Returns {'DUP'} | {'DUP', 'pending'} | {'STALE', why} | {'OK', plan, periodStart, periodEnd, rolled ('1'|'0')}
 */
export const APPLY_LUA = `
local q, b, mark = KEYS[1], KEYS[2], KEYS[3]
local seen = redis.call('GET', mark)
if seen == 'pending' then return {'DUP', 'pending'} end
if seen then return {'DUP'} end
redis.call('SET', mark, ARGV[14], 'EX', tonumber(ARGV[17]))

local created, kind, sub, customer = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local pstart, pend, now = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[14])
local cur = redis.call('HMGET', b, 'sub', 'pstart', 'created')
local curSub, curStart, curCreated = cur[1], tonumber(cur[2]), tonumber(cur[3])

-- Ordering. A deleted subscription never comes back; an event about another subscription than the
-- current one only wins if it is newer; for the current subscription, a state with an older period,
-- or the same period from an older event, is stale.
if kind == 'deleted' then
  redis.call('HSET', b, 'ended:' .. sub, created)
  if curSub and curSub ~= sub then return {'STALE', 'deletion of a subscription that is no longer current'} end
else
  if redis.call('HEXISTS', b, 'ended:' .. sub) == 1 then return {'STALE', 'the subscription was already deleted'} end
  if curSub then
    if pstart < curStart then return {'STALE', 'older billing period than the state we hold'} end
    if pstart == curStart and created < curCreated then return {'STALE', 'older event than the state we hold'} end
  end
end

local entitled = ARGV[8] == '1' and kind ~= 'deleted'
redis.call('HSET', b, 'sub', sub, 'customer', customer, 'item', ARGV[6], 'status', ARGV[7], 'pstart', pstart, 'pend', pend,
  'anchor', ARGV[12], 'cancelAtEnd', ARGV[13], 'created', created, 'event', ARGV[1], 'updated', now)

local f = redis.call('HMGET', q, 'plan', 'start', 'end', 'used')
local qplan, qstart, qend, used = f[1], tonumber(f[2]), tonumber(f[3]), tonumber(f[4]) or 0
if not qplan then
  -- Never seen by the API (should not happen: checkout needs a signed-in user). Start a free period now.
  qplan, qstart, qend, used = 'free', tonumber(ARGV[15]), tonumber(ARGV[16]), 0
  redis.call('HSET', q, 'plan', 'free', 'start', qstart, 'end', qend, 'anchor', qstart, 'used', 0)
end
redis.call('HSET', q, 'customer', customer)

-- Close the current period (its final count stays in used:<start>) and open [s, e).
local rolled = '0'
local function roll(s, e)
  if qstart then redis.call('HINCRBY', q, 'used:' .. qstart, used) end
  redis.call('HSET', q, 'start', s, 'end', e, 'used', 0)
  qstart, qend, used, rolled = s, e, 0, '1'
end

if entitled then
  -- The quota follows the subscription item's period while that period is current. An ended period is
  -- left alone: the next reservation rolls forward from the anchor (and the renewal event corrects it).
  if pend > now then
    if qplan ~= 'pro' or pstart ~= qstart then roll(pstart, pend)
    elseif pend ~= qend then redis.call('HSET', q, 'end', pend); qend = pend end
  end
  redis.call('HSET', q, 'plan', 'pro', 'anchor', ARGV[12], 'pastDue', ARGV[9], 'cancelAtEnd', ARGV[13])
  qplan = 'pro'
  -- Stripe confirmed the period the quota is in: the next one may be guessed before its event arrives.
  if qstart == pstart then redis.call('HSET', q, 'confirmed', pstart) end
else
  if qplan == 'pro' then
    -- Downgrade: the paid period closes now and a free monthly period starts.
    roll(tonumber(ARGV[15]), tonumber(ARGV[16]))
    redis.call('HSET', q, 'plan', 'free', 'anchor', ARGV[15])
    qplan = 'free'
  end
  redis.call('HDEL', q, 'pastDue', 'cancelAtEnd')
end
redis.call('SET', mark, 'pending', 'KEEPTTL')
return {'OK', qplan, tostring(qstart), tostring(qend), rolled}
`;

/**
 * LINK: remember a user's Stripe customer on their quota hash (created at first checkout).
 * KEYS: quota. ARGV: 1 customer id, 2 free start, 3 free end. Returns the customer id now stored
 * (an existing one wins, so concurrent checkouts agree).
 */
export const LINK_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'plan', 'free', 'start', ARGV[2], 'end', ARGV[3], 'anchor', ARGV[2], 'used', 0)
end
if redis.call('HSETNX', KEYS[1], 'customer', ARGV[1]) == 1 then return ARGV[1] end
return redis.call('HGET', KEYS[1], 'customer')
`;
