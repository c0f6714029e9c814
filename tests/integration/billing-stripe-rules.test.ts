/**
 * Billing under Stripe's real rules (issue 10), against the strict Stripe stand-in through the real SDK, with
 * the clock owned by the test (API, reporter, reconcile and stand-in share it: "26 h later" moves it):
 * eventually consistent summaries and the window reconcile reads, the identifier window, invoices that
 * finalize, asynchronous meter errors, webhook API versions, duplicate answers, the portal's configuration.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedUsage, startBillingStack, subscribeDirect, type BillingStack } from '../support/billing';
import { createReportStore, runReport, type ReportOptions, type ReportStore } from '../../api/billing/reporter';
import { reconcile } from '../../api/billing/reconcile';
import type { StripeGateway } from '../../api/billing/stripe';
import { createRedis, type Redis } from '../../api/store/redis';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let clock = Date.now() - 20 * DAY;
const now = () => clock;
let b: BillingStack;
let store: ReportStore;
let gateway: StripeGateway;
let redis: Redis;
let n = 0;
const freshUser = () => `user_sr${++n}_${Date.now().toString(36)}`;
const noSleep = async () => {};

const report = (extra: Partial<ReportOptions> = {}) => runReport(store, gateway, { concurrency: 4, periodEndFlushDelayMs: 4 * MIN, mode: 'full', now, sleep: noSleep, ...extra });
const rec = (users: string[]) => reconcile(redis, gateway, { users, since: 0, now });

beforeAll(async () => {
  b = await startBillingStack({ stripe: { now }, services: { now } });
  redis = createRedis(b.stack.services.config.redis);
  store = await createReportStore(redis);
  gateway = b.stack.services.billing!.gateway;
});
afterAll(async () => {
  await b?.close();
});
beforeEach(() => {
  b.stripe.clearFaults();
});

describe('eventually consistent summaries, and the window reconcile reads (point 5)', () => {
  it('calls a period with a batch sent minutes ago "settling", then "ok" once Stripe caught up', async () => {
    clock = Date.now() - 19 * DAY;
    const userId = freshUser();
    await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 2_000, (clock += MIN));
    clock += MIN;
    expect(await report()).toMatchObject({ batches: 1, tokens });
    const soon = await rec([userId]);
    expect(soon.rows.map((r) => [r.ledgerTokens, r.sentTokens, r.stripeTokens, r.status])).toEqual([[tokens, tokens, 0, 'settling']]);
    clock += 2 * MIN; // the stand-in's summaries lag 60 s
    expect((await rec([userId])).rows.map((r) => [r.stripeTokens, r.status])).toEqual([[tokens, 'ok']]);
  });

  it('usage in a period’s first, partial minute, reported within that minute, is where reconcile looks', async () => {
    clock = Math.floor((Date.now() - 18 * DAY) / MIN) * MIN + 30_000; // hh:mm:30
    const userId = freshUser();
    const { customerId, period } = await subscribeDirect(b, userId);
    expect(period.start % MIN).toBe(30_000);
    const tokens = await seedUsage(b.stack, userId, 1_500, period.start + 10_000);
    clock = period.start + 20_000; // still the period's first minute
    expect(await report()).toMatchObject({ batches: 1, tokens });
    const [e] = b.stripe.meterEvents(customerId);
    expect(e!.timestamp * 1000).toBeGreaterThanOrEqual(period.start); // Stripe bills it in this period
    clock += 2 * MIN;
    expect((await rec([userId])).rows.map((r) => [r.ledgerTokens, r.stripeTokens, r.status])).toEqual([[tokens, tokens, 'ok']]);
  });
});
