/**
 * The account window: per-user requests per minute on the routes around the rewrites (GET /v1/usage,
 * POST /v1/billing/*, where every call goes to Stripe; /v1/styles, /v1/settings), separate from and more generous than the
 * rewrite windows (RATE_LIMIT_ACCOUNT_RPM, 120 by default). A full window is 429 with Retry-After; Redis
 * unavailable is 503 (fail closed, as everywhere). Put it in front of any new signed-in route:
 * `app.use('/v1/<route>', account)` with the app's one accountLimit(…) (after requireUser).
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../app-env';
import { AppError, meteringUnavailable } from '../../errors';
import type { RateLimits } from '../../limits/rate-limits';

export function accountLimit(s: { rateLimits: Pick<RateLimits, 'account'>; accountRequestsPerMinute: number }) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { userId } = c.get('user');
    const r = await s.rateLimits.account(userId).catch((err: unknown) => {
      throw meteringUnavailable(err);
    });
    if (!r.allowed) {
      const retryAfter = Math.max(1, Math.ceil((r.reset - Date.now()) / 1000)); // the limiter's clock
      throw new AppError(
        'rate_limited',
        `Too many requests: the limit is ${s.accountRequestsPerMinute} account requests per minute (usage, billing, styles and settings). Try again in ${retryAfter} s.`,
        { details: { retryAfterSeconds: retryAfter }, headers: { 'Retry-After': String(retryAfter) } },
      );
    }
    await next();
  });
}
