/**
 * Per-user sliding windows (@upstash/ratelimit): requests per minute, and tokens per minute where
 * each request consumes its token reservation (`rate`). The limiter's own timeout would let a request
 * through (reason "timeout"); we treat that, and any Redis error, as a refusal: fail closed.
 */
import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '../store/redis';
import { keys } from '../metering/keys';

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
  const tokens = new Ratelimit({
    ...common,
    prefix: 'rd:rl:tok',
    limiter: Ratelimit.slidingWindow(opts.tokensPerMinute, '1 m'),
  });
  const account = new Ratelimit({
    ...common,
    prefix: 'rd:rl:acct',
    limiter: Ratelimit.slidingWindow(opts.accountRequestsPerMinute, '1 m'),
  });

  return {
    async check(userId, estimate) {
      const id = keys.rateLimitId(userId);
      // Both calls are issued in the same tick, so auto-pipelining sends them in one round trip.
      const [r, t] = await Promise.all([requests.limit(id), tokens.limit(id, { rate: Math.max(1, estimate) })]);
      if (r.reason === 'timeout' || t.reason === 'timeout') throw new RateLimiterUnavailable('rate limiter timed out');
      const base = { limit: r.limit, remaining: r.remaining, reset: r.reset };
      if (!r.success) return { allowed: false, refusedBy: 'requests', ...base };
      if (!t.success) return { allowed: false, refusedBy: 'tokens', ...base, reset: t.reset };
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
