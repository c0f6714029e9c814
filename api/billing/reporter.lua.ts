/**
 * Lua for the usage reporter, beside its caller (reporter.ts). Write-ahead batches: a batch is claimed
 * (stored as pending) before anything is sent, and only an accepted (or duplicate-rejected) send advances
 * the cursor, in one atomic step with clearing the batch.
 *
 * The report hash holds: cursor (last ledger stream id accounted for), the pending batch (p* fields),
 * `sent:<periodStart>` / `events:<periodStart>` (tokens and events delivered per period), `at:<periodStart>`
 * (when the period's last batch was delivered: its summary may still be catching up), batches,
 * lastSentAt, lastIdentifier.
 */

const PENDING_FIELDS = `'plast', 'pperiod', 'ppend', 'pcust', 'pvalue', 'pcount', 'pended', 'pfirst', 'pclaimed'`;

/**
 * CLAIM: the user's pending batch if there is one (re-sent as is: same events, same identifier);
 * otherwise a new batch from the cursor: consecutive billable events of one period and one customer, up
 * to N events. Events that are not billable (free plan, zero tokens) are passed over; when nothing
 * billable is found the cursor moves past what was scanned.
 * KEYS: report, ledger, quota
 * ARGV: 1 max billable events per batch, 2 max stream entries scanned, 3 now ms
 * Returns {qplan, qend, kind, ...}:
 *   kind 'PENDING' | 'CLAIMED', then plast, pperiod, ppend, pcust, pvalue, pcount, pended, more
 *   (more = '0' when the batch reaches the end of the ledger: no need to claim again after committing it)
 *   kind 'SKIPPED', scanned (cursor advanced; call again)
 *   kind 'NONE'
 */
export const CLAIM_LUA = `
local rep, ledger, q = KEYS[1], KEYS[2], KEYS[3]
local qf = redis.call('HMGET', q, 'plan', 'end')
local head = {qf[1] or '', qf[2] or ''}
local function reply(t)
  local out = {head[1], head[2]}
  for _, v in ipairs(t) do out[#out + 1] = v end
  return out
end

local p = redis.call('HMGET', rep, ${PENDING_FIELDS})
if p[1] then return reply({'PENDING', p[1], p[2], p[3], p[4], p[5], p[6], p[7], '1'}) end

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
return reply({'CLAIMED', last, period, pend, cust, tostring(value), tostring(count), tostring(ended), more})
`;

/**
 * COMMIT: the pending batch ending at ARGV[1] was delivered (or set aside as too old): advance the cursor,
 * count it, clear it — only if it is still the pending batch (another reporter may have committed it).
 * KEYS: report, late list
 * ARGV: 1 batch last id, 2 outcome ('sent' | 'late'), 3 now ms, 4 identifier
 * Returns 1 when committed, 0 when the batch was no longer pending.
 */
export const COMMIT_LUA = `
local rep, late = KEYS[1], KEYS[2]
local p = redis.call('HMGET', rep, 'plast', 'pperiod', 'pvalue', 'pcount', 'pcust', 'ppend')
if p[1] ~= ARGV[1] then return 0 end
redis.call('HSET', rep, 'cursor', p[1], 'lastSentAt', ARGV[3], 'lastIdentifier', ARGV[4])
if ARGV[2] == 'late' then
  redis.call('RPUSH', late, cjson.encode({identifier = ARGV[4], period = p[2], pend = p[6], customer = p[5], value = tonumber(p[3]), events = tonumber(p[4]), at = tonumber(ARGV[3])}))
  redis.call('HINCRBY', rep, 'late:' .. p[2], p[3])
else
  redis.call('HINCRBY', rep, 'sent:' .. p[2], p[3])
  redis.call('HINCRBY', rep, 'events:' .. p[2], p[4])
  redis.call('HSET', rep, 'at:' .. p[2], ARGV[3])
end
redis.call('HINCRBY', rep, 'batches', 1)
redis.call('HDEL', rep, ${PENDING_FIELDS})
return 1
`;
