import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { classifyFailure } from '../../api/billing/stripe/failures';
import {
  backoffMs,
  landedFromSummary,
  meterEventIdentifier,
  overageTokens,
  parseIdentifier,
  periodState,
  periodWindowSec,
  placeBatch,
  STRIPE_BACKDATE_LIMIT_MS,
} from '../../api/billing/reporting/batches';
import { entitlementOf, subscriptionOfInvoice } from '../../api/billing/entitlements/subscription';
import { meteredTiers, recommendedGraceHours } from '../../api/billing/operator/setup';
import { periodAfter, addMonths } from '../../api/metering/periods';
import { ConfigError, loadConfig, loadJobConfig, loadStripeSetupConfig } from '../../api/config/env';
import { overageCentsPerToken, PLANS } from '../../api/config/plans';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);

describe('meter event identifiers', () => {
  it('name the user, the period and the batch position, the same every time', async () => {
    const b = { userId: 'user_2abcDEF', periodStart: at('2026-11-03T10:15:30.000Z'), lastId: '1764160000000-3' };
    expect(await meterEventIdentifier(b)).toBe('rd_user_2abcDEF_1793700930_1764160000000-3');
    expect(await meterEventIdentifier({ ...b })).toBe(await meterEventIdentifier(b));
    expect(await meterEventIdentifier({ ...b, lastId: '1764160000000-4' })).not.toBe(await meterEventIdentifier(b));
    expect(await meterEventIdentifier({ ...b, periodStart: b.periodStart + 1000 })).not.toBe(
      await meterEventIdentifier(b),
    );
  });

  it('hash a user id that is long or has other characters, staying deterministic and within 100 characters', async () => {
    const odd = { userId: 'someone@example.com:dev', periodStart: 0, lastId: '1-0' };
    const long = { userId: 'u'.repeat(128), periodStart: at('2026-11-03T00:00:00Z'), lastId: '1764160000000-12345' };
    for (const b of [odd, long]) {
      const id = await meterEventIdentifier(b);
      expect(id).toMatch(/^rd_h[0-9a-f]{32}_\d+_\d+-\d+$/);
      expect(id.length).toBeLessThanOrEqual(100);
      expect(await meterEventIdentifier(b)).toBe(id);
    }
    expect(await meterEventIdentifier({ ...odd, userId: 'someone@example.com:dev2' })).not.toBe(
      await meterEventIdentifier(odd),
    );
  });
});

describe('where a batch lands on Stripe’s time line', () => {
  const period = { periodStart: at('2026-11-03T10:15:30.500Z'), periodEnd: at('2026-12-03T10:15:30.500Z') };
  const w = periodWindowSec(period.periodStart, period.periodEnd);

  it('reads whole minutes (what meter event summaries can be asked for): from the minute the period starts in to the minute it ends in', () => {
    expect(w).toEqual({ start: at('2026-11-03T10:15:00Z') / 1000, end: at('2026-12-03T10:15:00Z') / 1000 });
    // Consecutive periods' windows meet without overlapping.
    expect(periodWindowSec(period.periodEnd, period.periodEnd + 30 * DAY).start).toBe(w.end);
  });

  it('is when the last event ended, clamped into the period and never in the future', () => {
    const now = at('2026-12-04T00:00:00Z');
    expect(placeBatch({ ...period, lastEndedAt: at('2026-11-20T08:00:00.900Z') }, now)).toEqual({
      ok: true,
      timestamp: at('2026-11-20T08:00:00Z') / 1000,
    });
    // A request that ended after the period (granted before its end) still lands in the period: its last minute.
    expect(placeBatch({ ...period, lastEndedAt: period.periodEnd + 20_000 }, now)).toEqual({
      ok: true,
      timestamp: w.end - 1,
    });
    expect(placeBatch({ ...period, lastEndedAt: period.periodEnd - 10_000 }, now)).toEqual({
      ok: true,
      timestamp: w.end - 1,
    });
    expect(placeBatch({ ...period, lastEndedAt: period.periodStart + 1000 }, now)).toEqual({
      ok: true,
      timestamp: at('2026-11-03T10:15:31Z') / 1000,
    });
    const during = at('2026-11-20T08:00:00Z');
    expect(placeBatch({ ...period, lastEndedAt: during + 5000 }, during)).toEqual({
      ok: true,
      timestamp: during / 1000,
    });
  });

  it('puts usage of the period’s first, partial minute, reported within that minute, inside both the period and the window', () => {
    const placed = placeBatch({ ...period, lastEndedAt: at('2026-11-03T10:15:40Z') }, at('2026-11-03T10:15:50Z'));
    expect(placed).toEqual({ ok: true, timestamp: at('2026-11-03T10:15:40Z') / 1000 });
    expect(placed.ok && placed.timestamp >= w.start && placed.timestamp * 1000 >= period.periodStart).toBe(true);
    // Never before the period: within its first (fractional) second, the batch waits for the next run.
    expect(placeBatch({ ...period, lastEndedAt: period.periodStart }, period.periodStart + 100)).toEqual({
      ok: false,
      reason: 'too_early',
    });
  });

  it('refuses a period Stripe no longer accepts (35 days back, with an hour of margin)', () => {
    const ended = { ...period, lastEndedAt: period.periodEnd - HOUR };
    expect(placeBatch(ended, period.periodEnd + 30 * DAY).ok).toBe(true);
    expect(placeBatch(ended, ended.lastEndedAt + STRIPE_BACKDATE_LIMIT_MS)).toEqual({ ok: false, reason: 'too_old' });
  });
});

describe('Stripe’s record and invoices', () => {
  it('reads our identifiers back: the user (or the hash to look up), the period and the batch', async () => {
    expect(parseIdentifier('rd_user_a_b_1700000000_1700000000123-4')).toEqual({
      userId: 'user_a_b',
      periodSec: 1700000000,
      lastId: '1700000000123-4',
    });
    const hashed = await meterEventIdentifier({
      userId: 'user@example.com',
      periodStart: 1_700_000_000_000,
      lastId: '1-0',
    });
    expect(parseIdentifier(hashed)).toMatchObject({
      hash: hashed.slice(4, 36),
      periodSec: 1_700_000_000,
      lastId: '1-0',
    });
    expect(parseIdentifier('evt_someone_else')).toBeUndefined();
  });

  it('tells from the period’s summary whether a pending batch landed', () => {
    expect(landedFromSummary(1_500, 1_000, 500)).toBe('yes');
    expect(landedFromSummary(1_000, 1_000, 500)).toBe('no');
    expect(landedFromSummary(1_200, 1_000, 500)).toBe('unclear');
  });

  it('sends meter events only while the period’s invoice takes usage, with a margin before it finalizes', () => {
    const end = at('2026-12-01T00:00:00Z');
    const draft = (finalizesIn: number) => ({ status: 'draft', autoFinalizesAt: (end + finalizesIn) / 1000 });
    expect(periodState(end, undefined, end - 1000)).toBe('open');
    expect(periodState(end, undefined, end + 30 * 60_000)).toBe('open'); // not created yet, inside Stripe's default hour
    expect(periodState(end, undefined, end + 50 * 60_000)).toBe('closed');
    expect(periodState(end, draft(HOUR), end + 10 * 60_000)).toBe('open');
    expect(periodState(end, draft(HOUR), end + 50 * 60_000)).toBe('closing');
    expect(periodState(end, { status: 'draft', autoFinalizesAt: null }, end + DAY)).toBe('open');
    for (const status of ['open', 'paid', 'uncollectible', 'void'])
      expect(periodState(end, { status, autoFinalizesAt: null }, end + 2 * HOUR)).toBe('closed');
  });

  it('charges late usage at the graduated price after what the period was billed', () => {
    expect(overageTokens(550_000, 100_000, 500_000)).toBe(100_000);
    expect(overageTokens(450_000, 100_000, 500_000)).toBe(50_000);
    expect(overageTokens(0, 20_000, 500_000)).toBe(0);
  });

  it('recommends a finalization grace period that outlasts the gap between report runs', () => {
    expect([
      recommendedGraceHours(5),
      recommendedGraceHours(60),
      recommendedGraceHours(1440),
      recommendedGraceHours(10_000),
    ]).toEqual([1, 2, 25, 72]);
  });
});

describe('Stripe failures', () => {
  it('counts a duplicate identifier as delivered: v1’s message or v2’s code', () => {
    expect(
      classifyFailure({
        statusCode: 400,
        type: 'StripeInvalidRequestError',
        code: 'duplicate_meter_event',
        message: 'A meter event with this identifier already exists.',
      }),
    ).toBe('duplicate');
    expect(
      classifyFailure({
        statusCode: 400,
        type: 'StripeInvalidRequestError',
        message: 'An event already exists with identifier rd_u_1_2-0.',
        headers: { 'stripe-should-retry': 'false' },
      }),
    ).toBe('duplicate');
  });
  it('retries rate limits, conflicts, server errors, timeouts and dropped connections', () => {
    expect(classifyFailure({ statusCode: 429, type: 'StripeRateLimitError' })).toBe('retry');
    expect(classifyFailure({ statusCode: 409, type: 'StripeIdempotencyError' })).toBe('retry');
    expect(classifyFailure({ statusCode: 500, type: 'StripeAPIError' })).toBe('retry');
    expect(classifyFailure({ statusCode: 503, type: 'StripeAPIError' })).toBe('retry');
    expect(classifyFailure({ type: 'StripeConnectionError', message: 'Request aborted due to timeout' })).toBe('retry');
  });
  it('does not retry what will fail again, and follows Stripe-Should-Retry', () => {
    expect(
      classifyFailure({ statusCode: 400, type: 'StripeInvalidRequestError', message: 'No active meter found' }),
    ).toBe('permanent');
    expect(classifyFailure({ statusCode: 401, type: 'StripeAuthenticationError' })).toBe('permanent');
    expect(classifyFailure({ statusCode: 500, headers: { 'Stripe-Should-Retry': 'false' } })).toBe('permanent');
    expect(classifyFailure({ statusCode: 400, headers: { 'stripe-should-retry': 'true' } })).toBe('retry');
  });
  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffMs(0, { random: () => 1 })).toBe(250);
    expect(backoffMs(3, { random: () => 1 })).toBe(2000);
    expect(backoffMs(10, { random: () => 1 })).toBe(8000);
    expect(backoffMs(5, { random: () => 0 })).toBe(0);
  });
});

describe('entitlements from a subscription', () => {
  const item = (id: string, price: string, metered: boolean, start: number, end: number) =>
    ({
      id,
      price: { id: price, recurring: { usage_type: metered ? 'metered' : 'licensed' } },
      current_period_start: start / 1000,
      current_period_end: end / 1000,
    }) as unknown as Stripe.SubscriptionItem;
  const start = at('2026-11-03T10:15:30Z');
  const end = at('2026-12-03T10:15:30Z');
  const sub = (over: Partial<Stripe.Subscription> = {}) =>
    ({
      id: 'sub_1',
      customer: 'cus_1',
      status: 'active',
      billing_cycle_anchor: start / 1000,
      cancel_at_period_end: false,
      cancel_at: null,
      metadata: { userId: 'user_1' },
      items: {
        data: [item('si_base', 'price_base', false, start, end), item('si_meter', 'price_meter', true, start, end)],
      },
      ...over,
    }) as unknown as Stripe.Subscription;

  it('reads the period from the metered item (current API shape) and the plan from the status', () => {
    expect(entitlementOf(sub(), 'price_meter')).toEqual({
      subscriptionId: 'sub_1',
      customerId: 'cus_1',
      userIdHint: 'user_1',
      status: 'active',
      entitled: true,
      pastDue: false,
      meteredItemId: 'si_meter',
      periodStart: start,
      periodEnd: end,
      anchor: start,
      cancelAtPeriodEnd: false,
      ended: false,
    });
  });

  it.each([
    ['trialing', true, false, false],
    ['past_due', true, true, false],
    ['unpaid', false, false, false],
    ['incomplete', false, false, false],
    ['paused', false, false, false],
    ['canceled', false, false, true],
    ['incomplete_expired', false, false, true],
  ] as const)('status %s → entitled %s, past due %s, ended %s', (status, entitled, pastDue, ended) => {
    expect(entitlementOf(sub({ status }), 'price_meter')).toMatchObject({ entitled, pastDue, ended });
  });

  it('knows a cancellation at period end, either way Stripe says it', () => {
    expect(entitlementOf(sub({ cancel_at_period_end: true }), 'price_meter').cancelAtPeriodEnd).toBe(true);
    expect(entitlementOf(sub({ cancel_at: end / 1000 }), 'price_meter').cancelAtPeriodEnd).toBe(true);
    expect(entitlementOf(sub({ cancel_at: end / 1000 + 30 * 86_400 }), 'price_meter').cancelAtPeriodEnd).toBe(false);
  });

  it('finds an invoice’s subscription under parent.subscription_details', () => {
    expect(
      subscriptionOfInvoice({
        parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_9' } },
      } as unknown as Stripe.Invoice),
    ).toBe('sub_9');
    expect(
      subscriptionOfInvoice({
        parent: { type: 'subscription_details', subscription_details: { subscription: { id: 'sub_8' } } },
      } as unknown as Stripe.Invoice),
    ).toBe('sub_8');
    expect(subscriptionOfInvoice({ parent: null } as unknown as Stripe.Invoice)).toBeUndefined();
  });
});

describe('periods without a webhook', () => {
  it('roll a paid period monthly from the Stripe anchor, as Stripe does (Jan 31 → Feb 28 → Mar 31)', () => {
    const anchor = at('2027-01-31T09:00:00Z');
    const r = periodAfter(
      { plan: 'pro', anchor, end: addMonths(anchor, 1), cancelAtEnd: false, confirmed: true },
      at('2027-03-01T00:00:00Z'),
    );
    expect(r).toEqual({
      plan: 'pro',
      anchor,
      period: { start: at('2027-02-28T09:00:00Z'), end: at('2027-03-31T09:00:00Z') },
    });
  });
  it('turn a subscription set to cancel at period end into the free plan, anchored at that end', () => {
    const end = at('2026-12-03T10:15:30Z');
    expect(
      periodAfter(
        { plan: 'pro', anchor: at('2026-11-03T10:15:30Z'), end, cancelAtEnd: true, confirmed: true },
        end + 1000,
      ),
    ).toEqual({ plan: 'free', anchor: end, period: { start: end, end: at('2027-01-03T10:15:30Z') } });
  });
  it('guess at most one paid period Stripe has not confirmed (a lost cancellation costs one month, not forever)', () => {
    const end = at('2026-12-03T10:15:30Z');
    expect(
      periodAfter(
        { plan: 'pro', anchor: at('2026-11-03T10:15:30Z'), end, cancelAtEnd: false, confirmed: false },
        end + 1000,
      ),
    ).toMatchObject({ plan: 'free', anchor: end });
    expect(
      periodAfter(
        { plan: 'free', anchor: at('2026-11-03T10:15:30Z'), end, cancelAtEnd: false, confirmed: false },
        end + 1000,
      ),
    ).toMatchObject({ plan: 'free', period: { start: end } });
  });
});

describe('prices', () => {
  it('bill overage per token in a decimal that never rounds per batch: $0.002 per 1,000 = 0.0002 cents', () => {
    expect(overageCentsPerToken(PLANS.pro.overageUsdPer1k)).toBe('0.0002');
    const [included, over] = meteredTiers();
    expect(included).toEqual({ up_to: 500_000, unit_amount: 0 });
    expect(over!.up_to).toBe('inf');
    expect(String(over!.unit_amount_decimal)).toBe('0.0002');
    // 3,185,000 tokens over at 0.0002 cents = 637 cents = $6.37 (the brief's heavy user).
    expect((3_185_000 * Number(overageCentsPerToken(PLANS.pro.overageUsdPer1k))) / 100).toBeCloseTo(6.37, 10);
  });
});

describe('billing configuration', () => {
  const base = {
    UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079',
    UPSTASH_REDIS_REST_TOKEN: 't',
    OPENAI_API_KEY: 'k',
    DEV_AUTH: '1',
  };
  const stripe = {
    STRIPE_SECRET_KEY: 'sk_test_abc',
    STRIPE_WEBHOOK_SECRET: 'whsec_abc',
    STRIPE_PRICE_BASE: 'price_base',
    STRIPE_PRICE_METERED: 'price_meter',
    CHECKOUT_SUCCESS_URL: 'https://redraft.example/done',
    CHECKOUT_CANCEL_URL: 'https://redraft.example/cancel',
    PORTAL_RETURN_URL: 'https://redraft.example/account',
  };

  it('disables billing without STRIPE_SECRET_KEY (an empty value counts as unset)', () => {
    expect(loadConfig(base).billing).toBeUndefined();
    expect(loadConfig({ ...base, STRIPE_SECRET_KEY: '' }).billing).toBeUndefined();
    expect(loadConfig(base).reporter).toMatchObject({
      intervalMinutes: 60,
      concurrency: 8,
      periodEndFlushDelayMs: 180_000 + 60_000,
      cronSecret: undefined,
    });
  });

  it('names every billing variable missing once the key is set', () => {
    try {
      loadConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_abc' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      for (const v of [
        'STRIPE_WEBHOOK_SECRET',
        'STRIPE_PRICE_BASE',
        'STRIPE_PRICE_METERED',
        'CHECKOUT_SUCCESS_URL',
        'CHECKOUT_CANCEL_URL',
        'PORTAL_RETURN_URL',
      ])
        expect((err as Error).message).toContain(`${v} is required with STRIPE_SECRET_KEY`);
    }
    expect(() => loadConfig({ ...base, ...stripe, STRIPE_SECRET_KEY: 'pk_test_abc' })).toThrow(
      /STRIPE_SECRET_KEY must be a Stripe secret/,
    );
    expect(() => loadConfig({ ...base, ...stripe, STRIPE_PRICE_METERED: 'prod_x' })).toThrow(
      /STRIPE_PRICE_METERED must be a price id/,
    );
    expect(() => loadConfig({ ...base, ...stripe, CRON_SECRET: 'short' })).toThrow(/CRON_SECRET must be at least 16/);
  });

  it('points the SDK at STRIPE_API_BASE, refused over http in production', () => {
    const c = loadConfig({ ...base, ...stripe, STRIPE_API_BASE: 'http://127.0.0.1:12111', STRIPE_STAND_IN: '1' });
    expect(c.billing).toMatchObject({
      api: { host: '127.0.0.1', port: 12111, protocol: 'http' },
      standIn: true,
      meterEventName: 'redraft_tokens',
      prices: { base: 'price_base', metered: 'price_meter' },
    });
    const prod = {
      ...base,
      ...stripe,
      DEV_AUTH: '0',
      CLERK_JWT_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----',
      CLERK_AUTHORIZED_PARTIES: 'chrome-extension://abc',
      CLERK_ISSUER: 'https://clerk.example.com',
      METRICS_TOKEN: 'metrics-token-0123456789',
      NODE_ENV: 'production',
    };
    expect(() => loadConfig({ ...prod, STRIPE_API_BASE: 'http://stripe-proxy.internal:8080' })).toThrow(
      /STRIPE_API_BASE must be https:\/\/ when NODE_ENV=production/,
    );
    expect(() => loadConfig({ ...prod, STRIPE_STAND_IN: '1' })).toThrow(/STRIPE_STAND_IN is refused/);
    expect(loadConfig({ ...prod, STRIPE_API_BASE: 'https://stripe-proxy.internal' }).billing?.api).toEqual({
      host: 'stripe-proxy.internal',
      port: 443,
      protocol: 'https',
    });
  });

  it('validates only what each job needs', () => {
    expect(() =>
      loadJobConfig({ UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1', UPSTASH_REDIS_REST_TOKEN: 't' }),
    ).toThrow(/STRIPE_SECRET_KEY is required for billing jobs/);
    expect(
      loadJobConfig({ UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1', UPSTASH_REDIS_REST_TOKEN: 't', ...stripe }).billing
        .secretKey,
    ).toBe('sk_test_abc');
    expect(loadStripeSetupConfig({ STRIPE_SECRET_KEY: 'sk_test_abc' }).billing).toMatchObject({
      meterEventName: 'redraft_tokens',
      api: undefined,
    });
    expect(() => loadStripeSetupConfig({})).toThrow(/STRIPE_SECRET_KEY is required/);
  });
});
