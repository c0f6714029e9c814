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
 * APPLY: created is the event's Stripe `created` (s); kind 'state' | 'deleted'; entitled, pastDue, cancelAtEnd
 * '1' | '0'; the period (pstart, pend) and anchor in epoch ms; freeStart/freeEnd: the free period that starts
 * on a downgrade; the marker is kept markerTtlSec.
 * Returns result: DUP (marker 'pending' when the caller must finish the bookkeeping) | STALE why |
 *   OK plan start end rolled ('1'|'0')
 */
import { newFreeQuotaLua } from '../../metering/quota.lua';
export const APPLY = {
  keys: ['quotaKey', 'billingKey', 'markerKey'],
  args: [
    'eventId',
    'createdArg',
    'kind',
    'sub',
    'customer',
    'itemId',
    'status',
    'entitledArg',
    'pastDueArg',
    'pstartArg',
    'pendArg',
    'anchorArg',
    'cancelAtEndArg',
    'nowArg',
    'freeStart',
    'freeEnd',
    'markerTtlSec',
  ],
  body: `
local q, b, mark = quotaKey, billingKey, markerKey
local seen = redis.call('GET', mark)
if seen == 'pending' then return {'result', 'DUP', 'marker', 'pending'} end
if seen then return {'result', 'DUP', 'marker', 'done'} end
redis.call('SET', mark, nowArg, 'EX', tonumber(markerTtlSec))

local created = tonumber(createdArg)
local pstart, pend, now = tonumber(pstartArg), tonumber(pendArg), tonumber(nowArg)
local cur = redis.call('HMGET', b, 'sub', 'pstart', 'created')
local curSub, curStart, curCreated = cur[1], tonumber(cur[2]), tonumber(cur[3])

-- Ordering. A deleted subscription never comes back; an event about another subscription than the
-- current one only wins if it is newer; for the current subscription, a state with an older period,
-- or the same period from an older event, is stale.
if kind == 'deleted' then
  redis.call('HSET', b, 'ended:' .. sub, created)
  if curSub and curSub ~= sub then return {'result', 'STALE', 'why', 'deletion of a subscription that is no longer current'} end
else
  if redis.call('HEXISTS', b, 'ended:' .. sub) == 1 then return {'result', 'STALE', 'why', 'the subscription was already deleted'} end
  if curSub then
    if pstart < curStart then return {'result', 'STALE', 'why', 'older billing period than the state we hold'} end
    if pstart == curStart and created < curCreated then return {'result', 'STALE', 'why', 'older event than the state we hold'} end
  end
end

local entitled = entitledArg == '1' and kind ~= 'deleted'
redis.call('HSET', b, 'sub', sub, 'customer', customer, 'item', itemId, 'status', status, 'pstart', pstart, 'pend', pend,
  'anchor', anchorArg, 'cancelAtEnd', cancelAtEndArg, 'created', created, 'event', eventId, 'updated', now)

local f = redis.call('HMGET', q, 'plan', 'start', 'end', 'used')
local qplan, qstart, qend, used = f[1], tonumber(f[2]), tonumber(f[3]), tonumber(f[4]) or 0
if not qplan then
  -- Never seen by the API (should not happen: checkout needs a signed-in user). Start a free period now.
  qplan, qstart, qend, used = 'free', tonumber(freeStart), tonumber(freeEnd), 0
  ${newFreeQuotaLua('q', 'qstart', 'qend')}
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
  redis.call('HSET', q, 'plan', 'pro', 'anchor', anchorArg, 'pastDue', pastDueArg, 'cancelAtEnd', cancelAtEndArg)
  qplan = 'pro'
  -- Stripe confirmed the period the quota is in: the next one may be guessed before its event arrives.
  if qstart == pstart then redis.call('HSET', q, 'confirmed', pstart) end
else
  if qplan == 'pro' then
    -- Downgrade: the paid period closes now and a free monthly period starts.
    roll(tonumber(freeStart), tonumber(freeEnd))
    redis.call('HSET', q, 'plan', 'free', 'anchor', freeStart)
    qplan = 'free'
  end
  redis.call('HDEL', q, 'pastDue', 'cancelAtEnd')
end
redis.call('SET', mark, 'pending', 'KEEPTTL')
return {'result', 'OK', 'plan', qplan, 'start', tostring(qstart), 'end', tostring(qend), 'rolled', rolled}
`,
} as const;

/**
 * LINK: remember a user's Stripe customer on their quota hash (created at first checkout).
 * Replies {customer = the id now stored} (an existing one wins, so concurrent checkouts agree).
 */
export const LINK = {
  keys: ['quota'],
  args: ['customer', 'freeStart', 'freeEnd'],
  body: `
if redis.call('EXISTS', quota) == 0 then
  ${newFreeQuotaLua('quota', 'freeStart', 'freeEnd')}
end
redis.call('HSETNX', quota, 'customer', customer)
return {'customer', redis.call('HGET', quota, 'customer')}
`,
} as const;
