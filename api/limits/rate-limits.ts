/**
 * Per-user sliding windows (@upstash/ratelimit): requests per minute, and tokens per minute where
 * each request consumes its token reservation (`rate`). The limiter's own timeout would let a request
 * through (reason "timeout"); we treat that, and any Redis error, as a refusal: fail closed.
 *
 * A rewrite's two windows are counted by one script of ours (CHECK_BOTH), on the library's keys with the
 * library's sliding-window arithmetic: one command over REST instead of two (`npm run bench` counts them).
 * `peek` and the account window still go through the library and read the same keys.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { defineNamedScript, type Redis } from '../store/redis';
import { keys } from '../metering/keys';

/** Both windows are one minute long (`Ratelimit.slidingWindow(n, '1 m')`). */
const WINDOW_MS = 60_000;

/**
 * CHECK_BOTH: @upstash/ratelimit's single-region sliding window (its `slidingWindowLimitScript`), for the request
 * window (by 1) and the token window (by tokensArg), each counted on its own as two library calls would. Keys:
 * each window's current and previous bucket (`<prefix>:<id>:<window index>`). Returns each window's remaining
 * count after this request, -1 where it refused (nothing added to that window).
 */
export const CHECK_BOTH = {
  keys: ['reqCurrent', 'reqPrevious', 'tokCurrent', 'tokPrevious'],
  args: ['reqLimitArg', 'tokLimitArg', 'nowArg', 'windowArg', 'tokensArg'],
  body: `
local now, window = tonumber(nowArg), tonumber(windowArg)
local inPrevious = 1 - (now % window) / window

local reqLimit = tonumber(reqLimitArg)
local reqCur = tonumber(redis.call('GET', reqCurrent) or '0')
local reqPrev = math.floor(inPrevious * tonumber(redis.call('GET', reqPrevious) or '0'))
local reqRemaining = -1
if reqPrev + reqCur < reqLimit then
  local v = redis.call('INCRBY', reqCurrent, 1)
  if v == 1 then redis.call('PEXPIRE', reqCurrent, window * 2 + 1000) end
  reqRemaining = reqLimit - (v + reqPrev)
end

local tokLimit, tokens = tonumber(tokLimitArg), tonumber(tokensArg)
local tokCur = tonumber(redis.call('GET', tokCurrent) or '0')
local tokPrev = math.floor(inPrevious * tonumber(redis.call('GET', tokPrevious) or '0'))
local tokRemaining = -1
if tokPrev + tokCur < tokLimit then
  local v = redis.call('INCRBY', tokCurrent, tokens)
  if v == tokens then redis.call('PEXPIRE', tokCurrent, window * 2 + 1000) end
  tokRemaining = tokLimit - (v + tokPrev)
end
return {'requests', reqRemaining, 'tokens', tokRemaining}
`,
} as const;

export interface RateDecision {
  allowed: boolean;
  /** Which window refused, when one did. */
  refusedBy?: 'requests' | 'tokens';
  limit: number;
  remaining: number;
  /** Epoch ms when the request window has room again. */
  reset: number;
}

export interface RateLimits {
  /** Count one request of `tokens` estimated tokens against both windows. Throws when Redis is unavailable. */
  check(userId: string, tokens: number): Promise<RateDecision>;
  /** The request window's state, without consuming it. */
  peek(userId: string): Promise<{ limit: number; remaining: number; reset: number }>;
  /** Count one account call (usage, billing) against its own window. Throws when Redis is unavailable. */
  account(userId: string): Promise<Omit<RateDecision, 'refusedBy'>>;
}

export class RateLimiterUnavailable extends Error {}

export function createRateLimits(
  redis: Redis,
  opts: {
    requestsPerMinute: number;
    tokensPerMinute: number;
    accountRequestsPerMinute: number;
    timeoutMs: number;
    ephemeralCache?: boolean;
  },
): RateLimits {
  const common = {
    redis,
    timeout: opts.timeoutMs,
    analytics: false,
    ...(opts.ephemeralCache === false ? { ephemeralCache: false as const } : {}),
  };
  const requests = new Ratelimit({
    ...common,
    prefix: 'rd:rl:req',
    limiter: Ratelimit.slidingWindow(opts.requestsPerMinute, '1 m'),
  });
  const account = new Ratelimit({
    ...common,
    prefix: 'rd:rl:acct',
    limiter: Ratelimit.slidingWindow(opts.accountRequestsPerMinute, '1 m'),
  });

  // The script's SHA is computed once; a check issued with the reservation still joins its pipeline.
  const both = defineNamedScript(redis, CHECK_BOTH);

  return {
    async check(userId, estimate) {
      const id = keys.rateLimitId(userId);
      const now = Date.now();
      const w = Math.floor(now / WINDOW_MS);
      const call = (await both).run(
        {
          reqCurrent: `rd:rl:req:${id}:${w}`,
          reqPrevious: `rd:rl:req:${id}:${w - 1}`,
          tokCurrent: `rd:rl:tok:${id}:${w}`,
          tokPrevious: `rd:rl:tok:${id}:${w - 1}`,
        },
        {
          reqLimitArg: opts.requestsPerMinute,
          tokLimitArg: opts.tokensPerMinute,
          nowArg: now,
          windowArg: WINDOW_MS,
          tokensArg: Math.max(1, Math.round(estimate)),
        },
      );
      // As the library's own timeout did, a slow answer refuses (never lets the request through).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RateLimiterUnavailable('rate limiter timed out')), opts.timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      const requestsLeft = Number(r.requests);
      const base = { limit: opts.requestsPerMinute, remaining: Math.max(0, requestsLeft), reset: (w + 1) * WINDOW_MS };
      if (requestsLeft < 0) return { allowed: false, refusedBy: 'requests', ...base };
      if (Number(r.tokens) < 0) return { allowed: false, refusedBy: 'tokens', ...base };
      return { allowed: true, ...base };
    },
    async account(userId) {
      const r = await account.limit(keys.rateLimitId(userId));
      if (r.reason === 'timeout') throw new RateLimiterUnavailable('rate limiter timed out');
      return { allowed: r.success, limit: r.limit, remaining: r.remaining, reset: r.reset };
    },
    async peek(userId) {
      const { limit, remaining, reset } = await requests.getRemaining(keys.rateLimitId(userId));
      return { limit, remaining, reset };
    },
  };
}
