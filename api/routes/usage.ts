/**
 * GET /v1/usage — the signed-in user's balance for the current billing period.
 */
import { Hono } from 'hono';
import type { UsageResponse } from '../../shared/contract';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { meteringUnavailable } from '../errors';
import { overage, PLANS } from '../config/plans';
import { overageCapInForceUsd } from '../account/settings';
import { daysOfPeriod } from '../metering/periods';
import type { Balance } from '../metering/ledger';

export type UsageRouteDeps = Pick<Services, 'usage' | 'rateLimits' | 'quota' | 'now'> & {
  billingEnabled: boolean;
  maxTextChars: number;
};

export function usageRoutes(s: UsageRouteDeps) {
  const app = new Hono<AppEnv>();
  app.get('/v1/usage', async (c) => {
    const { userId } = c.get('user');
    const now = s.now();
    const [balance, rate] = await readBalance(s, userId, now).catch((err) => {
      throw meteringUnavailable(err);
    });
    return c.json(toUsageResponse(balance, rate, now, s.billingEnabled, s.maxTextChars));
  });
  return app;
}

async function readBalance(s: UsageRouteDeps, userId: string, now: number) {
  let [balance, rate] = await Promise.all([s.usage.balance(userId, now, 10), s.rateLimits.peek(userId)]);
  if (!balance) {
    await s.quota.ensure(userId, now); // first sight of this user anchors their free period
    balance = await s.usage.balance(userId, now, 10);
  }
  if (!balance) throw new Error('quota record missing after ensure');
  return [balance, rate] as const;
}

export function toUsageResponse(
  b: Balance,
  rate: { limit: number; remaining: number; reset: number },
  now: number,
  billingEnabled: boolean,
  maxTextChars: number,
): UsageResponse {
  const over = overage(b.plan, b.usedTokens);
  return {
    plan: b.plan.id,
    period: { start: new Date(b.period.start).toISOString(), end: new Date(b.period.end).toISOString() },
    usedTokens: b.usedTokens,
    includedTokens: b.plan.includedTokens,
    remainingTokens: Math.max(0, b.hardCapTokens - b.usedTokens),
    hardCapTokens: b.hardCapTokens,
    overageTokens: over.tokens,
    estimatedOverageUsd: over.usd,
    rateLimit: {
      limit: rate.limit,
      remaining: Math.max(0, rate.remaining),
      resetAt: new Date(rate.reset || now).toISOString(),
    },
    daily: daysOfPeriod(b.period, now).map((date) => ({ date, tokens: b.daily[date] ?? 0 })),
    recent: b.recent.map((e) => ({
      requestId: e.requestId,
      action: e.action,
      tokens: e.billedTokens,
      at: new Date(e.at).toISOString(),
    })),
    billing: {
      enabled: billingEnabled,
      canUpgrade: billingEnabled && b.plan.id !== 'pro',
      canManage: billingEnabled && b.customerId !== undefined,
      endsAtPeriodEnd: b.endsAtPeriodEnd,
      pastDue: b.pastDue,
    },
    alerts: b.alerts.map((a) => ({ threshold: a.threshold, at: new Date(a.at).toISOString() })),
    overageCapUsd: overageCapInForceUsd(b.plan.id, b.overageCapCents),
    proPlan: {
      id: 'pro',
      monthlyPriceUsd: PLANS.pro.baseUsdPerMonth,
      includedTokens: PLANS.pro.includedTokens,
      overageUsdPer1kTokens: PLANS.pro.overageUsdPer1k,
      maxOverageCapUsd: PLANS.pro.maxOverageCapUsd,
    },
    limits: { maxTextChars },
  };
}
