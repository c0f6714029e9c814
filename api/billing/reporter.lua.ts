/**
 * Lua for the usage reporter, beside its caller (reporter.ts). Write-ahead batches: a batch is claimed
 * (stored as pending) before anything is sent, and only a delivery Stripe confirmed (accepted, rejected as
 * a duplicate, found in Stripe's own record, or billed as an invoice item) advances the cursor, in one
 * atomic step with clearing the batch.
 *
 * The report hash holds: cursor (last ledger stream id accounted for), the pending batch (p* fields;
 * `proute` = 'item' once it is being billed as an invoice item), per period `sent:<periodStart>` /
 * `events:<periodStart>` (tokens and events delivered as meter events), `item:<periodStart>` (tokens billed
 * as invoice items, their usage having missed the period's invoice), `late:<periodStart>` (set aside),
 * `err:<periodStart>` (tokens of delivered batches Stripe's asynchronous validation refused),
 * `at:<periodStart>` (when the period's last batch was delivered: its summary may still be catching up),
 * and batches, confirmed, items, lastSentAt, lastIdentifier.
 * The log list keeps the last committed batches (identifier, period, tokens, how): meter errors reported
 * later by Stripe name a batch by its identifier.
 */

const PENDING_FIELDS = `'plast', 'pperiod', 'ppend', 'pcust', 'pvalue', 'pcount', 'pended', 'pfirst', 'pclaimed', 'proute'`;

/** Committed batches kept in the log (per user): months of hourly runs. */
export const REPORT_LOG_LENGTH = 2000;

/**
 * CLAIM: the user's pending batch if there is one (re-sent as is: same events, same identifier);
 * otherwise a new batch from the cursor: consecutive billable events of one period and one customer, up
 * to N events. Events that are not billable (free plan, zero tokens) are passed over; when nothing
 * billable is found the cursor moves past what was scanned.
 * KEYS: report, ledger, quota, billing
 * ARGV: 1 max billable events per batch, 2 max stream entries scanned, 3 now ms
 * Returns {qplan, qend, kind, ...}:
 *   kind 'PENDING' | 'CLAIMED', then plast, pperiod, ppend, pcust, pvalue, pcount, pended, more,
 *     pclaimed, proute, sent, item, err (the batch period's totals so far), sub (the user's subscription)
 *   (more = '0' when the batch reaches the end of the ledger: no need to claim again after committing it)
 *   kind 'SKIPPED', scanned (cursor advanced; call again)
 *   kind 'NONE'
 */
export const CLAIM_LUA = `
local rep, ledger, q, bill = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local qf = redis.call('HMGET', q, 'plan', 'end')
local head = {qf[1] or '', qf[2] or ''}
local function reply(t)
  local out = {head[1], head[2]}
  for _, v in ipairs(t) do out[#out + 1] = v end
  return out
end
local function totals(period)
  local t = redis.call('HMGET', rep, 'sent:' .. period, 'item:' .. period, 'err:' .. period)
  return t[1] or '0', t[2] or '0', t[3] or '0'
end
local sub = redis.call('HGET', bill, 'sub') or ''

local p = redis.call('HMGET', rep, ${PENDING_FIELDS})
if p[1] then
  local sent, item, err = totals(p[2])
  return reply({'PENDING', p[1], p[2], p[3], p[4], p[5], p[6], p[7], '1', p[9] or '0', p[10] or '', sent, item, err, sub})
end

local maxEvents, scanLimit = tonumber(ARGV[1]), tonumber(ARGV[2])
local cursor = redis.call('HGET', rep, 'cursor') or '0-0'
local entries = redis.call('XRANGE', ledger, '(' .. cursor, '+', 'COUNT', scanLimit)
if #entries == 0 then return reply({'NONE'}) end

local last, first, period, pend, cust, value, count, ended = nil, nil, nil, nil, nil, 0, 0, 0
local more = #entries >= scanLimit and '1' or '0'
for _, e in ipairs(entries) do
  local id, flat = e[1], e[2]
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  local billed = tonumber(f.billed) or 0
  if f.billable == '1' and billed > 0 then
    if (period and (f.period ~= period or (f.cust or '') ~= cust)) or count >= maxEvents then
      more = '1'
      break
    end
    if not period then period, pend, cust, first = f.period, f.pend or '', f.cust or '', id end
    value = value + billed
    count = count + 1
    ended = tonumber(f.ended) or ended
  end
  last = id
end

if count == 0 then
  redis.call('HSET', rep, 'cursor', last)
  return reply({'SKIPPED', tostring(#entries)})
end
redis.call('HSET', rep, 'plast', last, 'pperiod', period, 'ppend', pend, 'pcust', cust, 'pvalue', value, 'pcount', count,
  'pended', ended, 'pfirst', first, 'pclaimed', ARGV[3])
local sent, item, err = totals(period)
return reply({'CLAIMED', last, period, pend, cust, tostring(value), tostring(count), tostring(ended), more, ARGV[3], '', sent, item, err, sub})
`;

/**
 * ROUTE: the pending batch ending at ARGV[1] is billed as an invoice item from now on (written before the
 * first attempt, so a resumed batch knows to look for its item, never to send a meter event).
 * KEYS: report. ARGV: 1 batch last id, 2 route. Returns 1 when set, 0 when the batch is no longer pending.
 */
export const ROUTE_LUA = `
if redis.call('HGET', KEYS[1], 'plast') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'proute', ARGV[2])
return 1
`;

/**
 * COMMIT: the pending batch ending at ARGV[1] was delivered, billed as an invoice item, or set aside as too
 * old: advance the cursor, count it, log it, clear it — only if it is still the pending batch (another
 * reporter may have committed it).
 * KEYS: report, late list, log list
 * ARGV: 1 batch last id, 2 outcome ('sent' | 'item' | 'late'), 3 now ms, 4 identifier,
 *       5 how ('accepted' | 'duplicate' | 'summary' | 'invoice' | 'item' | 'late'), 6 invoice item id, 7 overage tokens billed
 * Returns 1 when committed, 0 when the batch was no longer pending.
 */
export const COMMIT_LUA = `
local rep, late, log = KEYS[1], KEYS[2], KEYS[3]
local p = redis.call('HMGET', rep, 'plast', 'pperiod', 'pvalue', 'pcount', 'pcust', 'ppend')
if p[1] ~= ARGV[1] then return 0 end
redis.call('HSET', rep, 'cursor', p[1], 'lastSentAt', ARGV[3], 'lastIdentifier', ARGV[4])
if ARGV[2] == 'late' then
  redis.call('RPUSH', late, cjson.encode({identifier = ARGV[4], period = p[2], pend = p[6], customer = p[5], value = tonumber(p[3]), events = tonumber(p[4]), at = tonumber(ARGV[3])}))
  redis.call('HINCRBY', rep, 'late:' .. p[2], p[3])
elseif ARGV[2] == 'item' then
  redis.call('HINCRBY', rep, 'item:' .. p[2], p[3])
  redis.call('HINCRBY', rep, 'items', 1)
  redis.call('HSET', rep, 'at:' .. p[2], ARGV[3])
else
  redis.call('HINCRBY', rep, 'sent:' .. p[2], p[3])
  redis.call('HINCRBY', rep, 'events:' .. p[2], p[4])
  redis.call('HSET', rep, 'at:' .. p[2], ARGV[3])
end
if ARGV[5] == 'summary' or ARGV[5] == 'invoice' then redis.call('HINCRBY', rep, 'confirmed', 1) end
redis.call('RPUSH', log, cjson.encode({id = ARGV[4], period = p[2], pend = p[6], customer = p[5], value = tonumber(p[3]), events = tonumber(p[4]), route = ARGV[2], how = ARGV[5], item = ARGV[6], overage = tonumber(ARGV[7]) or 0, at = tonumber(ARGV[3])}))
redis.call('LTRIM', log, -${REPORT_LOG_LENGTH}, -1)
redis.call('HINCRBY', rep, 'batches', 1)
redis.call('HDEL', rep, ${PENDING_FIELDS})
return 1
`;

/**
 * METER_ERROR: Stripe's asynchronous validation refused the meter event with identifier ARGV[1] (reported
 * later in a v1.billing.meter.* event): tie it to its batch — a committed one from the log, or the pending
 * one (ARGV[6] = the identifier's ledger id) — count its tokens under err:<period> once, and record it.
 * KEYS: report, log list, errors list
 * ARGV: 1 identifier, 2 code, 3 message, 4 Stripe event id, 5 now ms, 6 the batch's last ledger id
 * Returns {'RECORDED' | 'DUPLICATE' | 'UNKNOWN', period, tokens, customer}.
 */
export const METER_ERROR_LUA = `
local rep, log, errors = KEYS[1], KEYS[2], KEYS[3]
local identifier = ARGV[1]
if redis.call('HEXISTS', rep, 'errid:' .. identifier) == 1 then return {'DUPLICATE', '', '0', ''} end
local period, tokens, customer, where = '', 0, '', 'unknown'
local entries = redis.call('LRANGE', log, 0, -1)
for i = #entries, 1, -1 do
  local e = cjson.decode(entries[i])
  if e.id == identifier then
    period, tokens, customer, where = e.period, e.value, e.customer, 'committed'
    break
  end
end
if where == 'unknown' then
  local p = redis.call('HMGET', rep, 'plast', 'pperiod', 'pvalue', 'pcust')
  if p[1] and p[1] == ARGV[6] then period, tokens, customer, where = p[2], tonumber(p[3]), p[4], 'pending' end
end
redis.call('HSET', rep, 'errid:' .. identifier, ARGV[4])
redis.call('RPUSH', errors, cjson.encode({identifier = identifier, code = ARGV[2], message = ARGV[3], event = ARGV[4], at = tonumber(ARGV[5]), period = period, tokens = tokens, customer = customer, batch = where}))
redis.call('LTRIM', errors, -1000, -1)
if where == 'unknown' then return {'UNKNOWN', '', '0', ''} end
redis.call('HINCRBY', rep, 'err:' .. period, tokens)
return {'RECORDED', period, tostring(tokens), customer}
`;
