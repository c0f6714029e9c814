/**
 * A per-user sliding window for the account routes (styles, settings): as many requests per minute as
 * RATE_LIMIT_RPM allows rewrites, in a window of their own, so managing styles never uses up rewrites.
 * Fails closed like the rewrite windows: a Redis error or the limiter's own timeout answers 503.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { createMiddleware } from 'hono/factory';
import type { Redis } from '../store/redis';
import type { AppEnv } from '../context';
import { keys } from '../metering/keys';
import { AppError, meteringUnavailable } from '../errors';
import { HEADERS } from '../../shared/contract';

export interface AccountRateLimit {
  /** Throws AppError rate_limited (429) when the window is full, metering_unavailable (503) when Redis fails. */
  consume(userId: string, now: number): Promise<{ limit: number; remaining: number; reset: number }>;
}

export function createAccountRateLimit(redis: Redis, opts: { requestsPerMinute: number; timeoutMs: number; ephemeralCache?: boolean }): AccountRateLimit {
  const limiter = new Ratelimit({
    redis,
    timeout: opts.timeoutMs,
    analytics: false,
    ...(opts.ephemeralCache === false ? { ephemeralCache: false as const } : {}),
    prefix: 'rd:rl:acct',
    limiter: Ratelimit.slidingWindow(opts.requestsPerMinute, '1 m'),
  });
  return {
    async consume(userId, now) {
      let r: Awaited<ReturnType<typeof limiter.limit>>;
      try {
        r = await limiter.limit(keys.rateLimitId(userId));
      } catch (err) {
        throw meteringUnavailable(err);
      }
      if (r.reason === 'timeout') throw meteringUnavailable(new Error('rate limiter timed out'));
      if (!r.success) {
        const retryAfter = Math.max(1, Math.ceil((r.reset - now) / 1000));
        throw new AppError('rate_limited', `Too many requests: the limit is ${opts.requestsPerMinute} per minute for styles and settings. Try again in ${retryAfter} s.`, { retryAfterSeconds: retryAfter }, { 'Retry-After': String(retryAfter) });
      }
      return { limit: r.limit, remaining: r.remaining, reset: r.reset };
    },
  };
}

/** Hono middleware: one request counted per call, after requireUser (needs c.var.user). */
export function accountRateLimited(limit: AccountRateLimit, now: () => number) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = now();
    const r = await limit.consume(c.get('user').userId, started);
    c.header(HEADERS.rateLimitLimit, String(r.limit));
    c.header(HEADERS.rateLimitRemaining, String(Math.max(0, r.remaining)));
    c.header(HEADERS.rateLimitReset, String(Math.max(0, Math.ceil((r.reset - started) / 1000))));
    await next();
  });
}
