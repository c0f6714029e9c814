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
 * to maxEvents events. Events that are not billable (free plan, zero tokens) are passed over; when nothing
 * billable is found the cursor moves past what was scanned (at most scanLimit entries).
 * Returns qplan, qend (the quota's plan and period end) and kind:
 *   'PENDING' | 'CLAIMED', with plast, pperiod, ppend, pcust, pvalue, pcount, pended, more, pclaimed, proute,
 *     sent, item, err (the batch period's totals so far), sub (the user's subscription)
 *     (more = '0' when the batch reaches the end of the ledger: no need to claim again after committing it)
 *   'SKIPPED', with scanned (cursor advanced; call again)
 *   'NONE'
 */
export const CLAIM = {
  keys: ['reportKey', 'ledgerKey', 'quotaKey', 'billingKey'],
  args: ['maxEventsArg', 'scanLimitArg', 'nowArg'],
  body: `
local rep = reportKey
local qf = redis.call('HMGET', quotaKey, 'plan', 'end')
local function reply(kind, t)
  local out = {'qplan', qf[1] or '', 'qend', qf[2] or '', 'kind', kind}
  for _, v in ipairs(t) do out[#out + 1] = v end
  return out
end
local function totals(period)
  local t = redis.call('HMGET', rep, 'sent:' .. period, 'item:' .. period, 'err:' .. period)
  return {'sent', t[1] or '0', 'item', t[2] or '0', 'err', t[3] or '0'}
end
local function batch(kind, f)
  local out = reply(kind, f)
  for _, v in ipairs(totals(f[4])) do out[#out + 1] = v end
  out[#out + 1] = 'sub'
  out[#out + 1] = redis.call('HGET', billingKey, 'sub') or ''
  return out
end

local p = redis.call('HMGET', rep, ${PENDING_FIELDS})
if p[1] then
  return batch('PENDING', {'plast', p[1], 'pperiod', p[2], 'ppend', p[3], 'pcust', p[4], 'pvalue', p[5], 'pcount', p[6],
    'pended', p[7], 'more', '1', 'pclaimed', p[9] or '0', 'proute', p[10] or ''})
end

local maxEvents, scanLimit = tonumber(maxEventsArg), tonumber(scanLimitArg)
local cursor = redis.call('HGET', rep, 'cursor') or '0-0'
local entries = redis.call('XRANGE', ledgerKey, '(' .. cursor, '+', 'COUNT', scanLimit)
if #entries == 0 then return reply('NONE', {}) end

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
  return reply('SKIPPED', {'scanned', tostring(#entries)})
end
redis.call('HSET', rep, 'plast', last, 'pperiod', period, 'ppend', pend, 'pcust', cust, 'pvalue', value, 'pcount', count,
  'pended', ended, 'pfirst', first, 'pclaimed', nowArg)
return batch('CLAIMED', {'plast', last, 'pperiod', period, 'ppend', pend, 'pcust', cust, 'pvalue', tostring(value),
  'pcount', tostring(count), 'pended', tostring(ended), 'more', more, 'pclaimed', nowArg, 'proute', ''})
`,
} as const;

/**
 * ROUTE: the pending batch ending at lastId is billed as an invoice item from now on (written before the
 * first attempt, so a resumed batch knows to look for its item, never to send a meter event).
 * Returns set '1', or '0' when the batch is no longer pending.
 */
export const ROUTE = {
  keys: ['reportKey'],
  args: ['lastId', 'route'],
  body: `
if redis.call('HGET', reportKey, 'plast') ~= lastId then return {'set', '0'} end
redis.call('HSET', reportKey, 'proute', route)
return {'set', '1'}
`,
} as const;

/**
 * COMMIT: the pending batch ending at lastId was delivered, billed as an invoice item, or set aside as too
 * old: advance the cursor, count it, log it, clear it — only if it is still the pending batch (another
 * reporter may have committed it). outcome: 'sent' | 'item' | 'late'; how: 'accepted' | 'duplicate' |
 * 'summary' | 'invoice' | 'item' | 'late'; item: the invoice item id; overage: the overage tokens it billed.
 * Returns committed '1', or '0' when the batch was no longer pending.
 */
export const COMMIT = {
  keys: ['reportKey', 'lateKey', 'logKey'],
  args: ['lastId', 'outcome', 'nowArg', 'identifier', 'how', 'item', 'overage'],
  body: `
local rep = reportKey
local p = redis.call('HMGET', rep, 'plast', 'pperiod', 'pvalue', 'pcount', 'pcust', 'ppend')
if p[1] ~= lastId then return {'committed', '0'} end
redis.call('HSET', rep, 'cursor', p[1], 'lastSentAt', nowArg, 'lastIdentifier', identifier)
if outcome == 'late' then
  redis.call('RPUSH', lateKey, cjson.encode({identifier = identifier, period = p[2], pend = p[6], customer = p[5],
    value = tonumber(p[3]), events = tonumber(p[4]), at = tonumber(nowArg)}))
  redis.call('HINCRBY', rep, 'late:' .. p[2], p[3])
elseif outcome == 'item' then
  redis.call('HINCRBY', rep, 'item:' .. p[2], p[3])
  redis.call('HINCRBY', rep, 'items', 1)
  redis.call('HSET', rep, 'at:' .. p[2], nowArg)
else
  redis.call('HINCRBY', rep, 'sent:' .. p[2], p[3])
  redis.call('HINCRBY', rep, 'events:' .. p[2], p[4])
  redis.call('HSET', rep, 'at:' .. p[2], nowArg)
end
if how == 'summary' or how == 'invoice' then redis.call('HINCRBY', rep, 'confirmed', 1) end
redis.call('RPUSH', logKey, cjson.encode({id = identifier, period = p[2], pend = p[6], customer = p[5], value = tonumber(p[3]),
  events = tonumber(p[4]), route = outcome, how = how, item = item, overage = tonumber(overage) or 0, at = tonumber(nowArg)}))
redis.call('LTRIM', logKey, -${REPORT_LOG_LENGTH}, -1)
redis.call('HINCRBY', rep, 'batches', 1)
redis.call('HDEL', rep, ${PENDING_FIELDS})
return {'committed', '1'}
`,
} as const;

/**
 * METER_ERROR: Stripe's asynchronous validation refused the meter event with this identifier (reported later
 * in a v1.billing.meter.* event): tie it to its batch — a committed one from the log, or the pending one
 * (lastId = the identifier's ledger id) — count its tokens under err:<period> once, and record it.
 * Returns outcome ('RECORDED' | 'DUPLICATE' | 'UNKNOWN'), period, tokens, customer.
 */
export const METER_ERROR = {
  keys: ['reportKey', 'logKey', 'errorsKey'],
  args: ['identifier', 'code', 'message', 'stripeEventId', 'nowArg', 'lastId'],
  body: `
local rep, log, errors = reportKey, logKey, errorsKey
local function answer(outcome, period, tokens, customer)
  return {'outcome', outcome, 'period', period, 'tokens', tokens, 'customer', customer}
end
if redis.call('HEXISTS', rep, 'errid:' .. identifier) == 1 then return answer('DUPLICATE', '', '0', '') end
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
  if p[1] and p[1] == lastId then period, tokens, customer, where = p[2], tonumber(p[3]), p[4], 'pending' end
end
redis.call('HSET', rep, 'errid:' .. identifier, stripeEventId)
redis.call('RPUSH', errors, cjson.encode({identifier = identifier, code = code, message = message, event = stripeEventId,
  at = tonumber(nowArg), period = period, tokens = tokens, customer = customer, batch = where}))
redis.call('LTRIM', errors, -1000, -1)
if where == 'unknown' then return answer('UNKNOWN', '', '0', '') end
redis.call('HINCRBY', rep, 'err:' .. period, tokens)
return answer('RECORDED', period, tostring(tokens), customer)
`,
} as const;
