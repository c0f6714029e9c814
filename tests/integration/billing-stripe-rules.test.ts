/**
 * Billing under Stripe's real rules (issue 10), against the strict Stripe stand-in through the real SDK, with
 * the clock owned by the test (API, reporter, reconcile and stand-in share it: "26 h later" moves it):
 * eventually consistent summaries and the window reconcile reads, the identifier window, invoices that
 * finalize, asynchronous meter errors, webhook API versions, duplicate answers, the portal's configuration.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import {
  applyEvents,
  billedFor,
  seedUsage,
  startBillingStack,
  subscribeDirect,
  type BillingStack,
} from '../support/billing';
import { runReport, type ReportOptions } from '../../api/billing/reporting/reporter';
import { createReportStore, type ReportStore } from '../../api/billing/reporting/store';
import { reconcile } from '../../api/billing/operator/reconcile';
import { meterEventIdentifier } from '../../api/billing/reporting/batches';
import type { StripeGateway } from '../../api/billing/stripe/gateway';
import { createRedis, type Redis } from '../../api/store/redis';
import { keys } from '../../api/metering/keys';

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
/** Figures for the record, printed at the end. */
const figures: string[] = [];

const report = (extra: Partial<ReportOptions> = {}) =>
  runReport(store, gateway, {
    concurrency: 4,
    periodEndFlushDelayMs: 4 * MIN,
    mode: 'full',
    now,
    sleep: noSleep,
    ...extra,
  });
const rec = (users: string[]) => reconcile(redis, gateway, { users, since: 0, now });

beforeAll(async () => {
  b = await startBillingStack({ stripe: { now }, services: { now } });
  redis = createRedis(b.stack.services.config.redis);
  store = await createReportStore(redis);
  gateway = b.stack.services.billing!.gateway;
});
afterAll(async () => {
  if (figures.length > 0) console.log(figures.join('\n'));
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
    expect(soon.rows.map((r) => [r.ledgerTokens, r.sentTokens, r.stripeTokens, r.status])).toEqual([
      [tokens, tokens, 0, 'settling'],
    ]);
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
    expect((await rec([userId])).rows.map((r) => [r.ledgerTokens, r.stripeTokens, r.status])).toEqual([
      [tokens, tokens, 'ok'],
    ]);
  });
});

describe('the identifier window: a commit lost, the next run 26 h later (point 1)', () => {
  it('Stripe got the batch: the next run sees it in Stripe’s summary and commits it without sending — billed once', async () => {
    clock = Date.now() - 17 * DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 5_000, (clock += MIN));
    // A run claims the batch and Stripe accepts it… then the process dies before the commit.
    const claim = await store.claim(userId, clock);
    if (claim.kind !== 'batch') throw new Error('expected a batch');
    expect(
      await gateway.sendMeterEvent({
        identifier: await meterEventIdentifier(claim.batch),
        customerId,
        value: tokens,
        timestamp: Math.floor(clock / 1000),
      }),
    ).toBe('accepted');
    clock += 26 * HOUR; // a long outage, or a daily-only cron: Stripe no longer remembers the identifier
    const sent = b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0;
    const summary = await report();
    expect({ stripe: b.stripe.totals().get(customerId), ledger: tokens }).toEqual({ stripe: tokens, ledger: tokens });
    expect(summary).toMatchObject({ failures: 0, resumed: 1, batches: 1, tokens });
    expect((b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0) - sent).toBe(0); // not re-sent
    expect(b.stripe.meterEvents(customerId)).toHaveLength(1);
    expect((await b.stack.db.hgetall(keys.report(userId))).plast).toBeUndefined();
    figures.push(
      `point 1, landed: ${summary.resumed} batch resumed 26 h later, re-sent ${(b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0) - sent}, Stripe holds ${b.stripe.totals().get(customerId)} = ledger ${tokens}`,
    );
  });

  it('Stripe never got the batch: the next run sees it missing from the summary and sends it — billed once', async () => {
    clock = Date.now() - 16 * DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 4_000, (clock += MIN));
    // A run claims the batch; its call fails before Stripe records anything; the run dies.
    const claim = await store.claim(userId, clock);
    if (claim.kind !== 'batch') throw new Error('expected a batch');
    b.stripe.injectFaults({ times: 1, kinds: ['server_error'], route: /meter_events/ });
    await expect(
      gateway.sendMeterEvent({
        identifier: await meterEventIdentifier(claim.batch),
        customerId,
        value: tokens,
        timestamp: Math.floor(clock / 1000),
      }),
    ).rejects.toMatchObject({ kind: 'retry' });
    b.stripe.clearFaults();
    clock += 26 * HOUR;
    const sent = b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0;
    const summary = await report();
    expect(summary).toMatchObject({ failures: 0, resumed: 1, batches: 1, tokens });
    expect((b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0) - sent).toBe(1);
    expect(b.stripe.totals().get(customerId)).toBe(tokens);
    figures.push(
      `point 1, not landed: ${summary.resumed} batch resumed 26 h later, sent ${(b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0) - sent}, Stripe holds ${b.stripe.totals().get(customerId)} = ledger ${tokens}`,
    );
  });
});

describe('duplicate answers (point 6)', () => {
  it('a 400 it cannot classify, for a batch that may have landed, falls back to the summary check instead of stalling the user', async () => {
    clock = Date.now() - 15 * DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 3_000, (clock += MIN));
    // Stripe records the event but the answer is lost; the retry's duplicate comes back worded differently.
    b.stripe.setDuplicateAnswer({ message: (i) => `Identifier ${i} is already in use.` });
    b.stripe.injectFaults({ times: 1, kinds: ['timeout_after'], route: /meter_events/, holdMs: 2_500 });
    try {
      const first = await report();
      expect(first.failures).toBe(1); // not confirmable yet: the summary has not caught up (60 s)
      clock += 2 * MIN;
      const second = await report();
      expect(second).toMatchObject({ failures: 0, resumed: 1, batches: 1, tokens });
      expect(b.stripe.totals().get(customerId)).toBe(tokens);
      expect((await b.stack.db.hgetall(keys.report(userId))).plast).toBeUndefined();
      // The user's reports go on.
      const more = await seedUsage(b.stack, userId, 700, (clock += MIN));
      expect(await report()).toMatchObject({ failures: 0, batches: 1, tokens: more });
    } finally {
      b.stripe.setDuplicateAnswer(undefined);
    }
  });
});

const billedTokens = (customerId: string, period: { start: number; end: number }) => {
  const { invoice, onInvoice, items, itemCents } = billedFor(b.stripe, customerId, period);
  return { invoice, onInvoice, items, itemCents };
};

describe('invoice finalization (point 2)', () => {
  it('usage that missed its period’s invoice is billed on the next invoice as an invoice item, once — never as a meter event on no invoice', async () => {
    clock = Date.now() - 33 * DAY;
    const userId = freshUser();
    const { customerId, subscriptionId, period: p1 } = await subscribeDirect(b, userId);
    // 550,000 tokens reported in time, then 100,000 more in the period's last hour.
    const early = await seedUsage(b.stack, userId, 550_000, p1.start + DAY);
    clock = p1.start + DAY + HOUR;
    expect(await report()).toMatchObject({ batches: 1, tokens: early });
    const late = await seedUsage(b.stack, userId, 100_000, p1.end - 30 * MIN);
    // The period ends; Stripe renews it and drafts the invoice — the reporter is down (a daily-only cron).
    clock = p1.end + MIN;
    await applyEvents(b, b.stripe.renew(subscriptionId));
    clock = p1.end + 26 * HOUR; // the invoice was finalized 25 hours ago
    const sentBefore = b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0;
    const summary = await report();
    expect(summary.failures).toBe(0);
    const billed = billedTokens(customerId, p1);
    expect({ ...billed, ledger: early + late }).toEqual({
      invoice: 'paid',
      onInvoice: early,
      items: late,
      itemCents: 20,
      ledger: early + late,
    }); // 100,000 over the included 500,000 × 0.0002 ¢
    expect((b.stripe.stats.byRoute['POST /v1/billing/meter_events'] ?? 0) - sentBefore).toBe(0); // nothing into the finalized period
    // Once: another run bills nothing more.
    expect(await report()).toMatchObject({ failures: 0, batches: 0 });
    expect(b.stripe.invoiceItems(customerId)).toHaveLength(1);
    // The item is on the customer's next invoice.
    const p2 = { start: p1.end, end: b.stripe.subscription(subscriptionId)!.items.data[0]!.current_period_end * 1000 };
    clock = p2.end + MIN;
    await applyEvents(b, b.stripe.renew(subscriptionId));
    const next = b.stripe.invoices(customerId).find((i) => i.period_end === p2.end / 1000)!;
    expect(
      next.lines.data
        .filter((l) => l.parent?.type === 'invoice_item_details')
        .map((l) => [l.amount, l.metadata.rd_tokens]),
    ).toEqual([[20, String(late)]]);
    // Reconcile compares the invoice, not only the summaries.
    clock += 2 * MIN;
    const r = await rec([userId]);
    expect(r.rows.find((x) => x.periodStart === p1.start)).toMatchObject({
      ledgerTokens: early + late,
      status: 'ok',
      invoicedTokens: early + late,
    });
    figures.push(
      `point 2: ${early + late} tokens in the period, ${early} on its invoice, ${late} after it was finalized → 1 invoice item (${billed.itemCents} ¢) on the next invoice; meter events into the finalized period: 0`,
    );
  });

  it('an invoice item created but its commit lost, the next run 26 h later (its idempotency key pruned): found in Stripe, not billed twice', async () => {
    clock = Date.now() - 33 * DAY;
    const userId = freshUser();
    const { customerId, subscriptionId, period: p1 } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 520_000, p1.end - 2 * HOUR);
    clock = p1.end + MIN;
    await applyEvents(b, b.stripe.renew(subscriptionId));
    clock = p1.end + 2 * HOUR;
    // The item is created, then Redis is gone before the commit: the batch stays pending (route: item).
    const lossy: ReportStore = {
      ...store,
      commit: async (...a) => (a[2] === 'item' ? Promise.reject(new Error('redis unavailable')) : store.commit(...a)),
    };
    const first = await runReport(lossy, gateway, {
      concurrency: 2,
      periodEndFlushDelayMs: 4 * MIN,
      mode: 'full',
      now,
      sleep: noSleep,
    });
    expect(first.failures).toBe(1);
    expect(b.stripe.invoiceItems(customerId)).toHaveLength(1);
    expect((await b.stack.db.hgetall(keys.report(userId))).proute).toBe('item');
    clock += 26 * HOUR;
    const second = await report();
    expect(second).toMatchObject({ failures: 0, resumed: 1, confirmed: 1, items: 1, itemTokens: tokens });
    const items = b.stripe.invoiceItems(customerId);
    expect(items.map((i) => [i.metadata!.rd_tokens, i.amount])).toEqual([[String(tokens), 4]]); // 20,000 over × 0.0002 ¢
    expect(billedTokens(customerId, p1)).toMatchObject({ onInvoice: 0, items: tokens });
  });

  it('reconcile says "uninvoiced" for delivered usage that is on no invoice, where summaries alone say "ok"', async () => {
    clock = Date.now() - 33 * DAY;
    const userId = freshUser();
    const { customerId, subscriptionId, period: p1 } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 9_000, p1.end - HOUR);
    clock = p1.end + MIN;
    await applyEvents(b, b.stripe.renew(subscriptionId));
    clock = p1.end + 3 * HOUR;
    // An old reporter (or a script) sends the batch after the invoice was finalized, and commits it.
    const claim = await store.claim(userId, clock);
    if (claim.kind !== 'batch') throw new Error('expected a batch');
    const identifier = await meterEventIdentifier(claim.batch);
    await gateway.sendMeterEvent({
      identifier,
      customerId,
      value: tokens,
      timestamp: Math.floor((p1.end - HOUR) / 1000),
    });
    await store.commit(userId, claim.batch.lastId, 'sent', identifier, clock);
    clock += 2 * MIN;
    const r = await rec([userId]);
    expect(r.rows).toMatchObject([
      {
        periodStart: p1.start,
        ledgerTokens: tokens,
        sentTokens: tokens,
        stripeTokens: tokens,
        invoicedTokens: 0,
        status: 'uninvoiced',
      },
    ]);
  });
});

describe('asynchronous meter errors (point 3)', () => {
  it('a meter event Stripe accepted and then refused is tied to its batch and user: logged, counted in /metrics, listed by reconcile', async () => {
    clock = Date.now() - 14 * DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 6_000, (clock += MIN));
    b.stripe.deleteCustomer(customerId); // e.g. deleted in the Dashboard: Stripe still answers 200
    clock += MIN;
    expect(await report()).toMatchObject({ failures: 0, batches: 1, tokens });
    expect(b.stripe.totals().get(customerId)).toBeUndefined(); // not counted
    expect(await b.stripe.flushMeterErrors()).toEqual([200]); // the thin event reaches the API
    const logged = b.stack.logs.find((l) => l.msg === 'stripe refused a delivered meter event' && l.user === userId);
    expect(logged).toMatchObject({ level: 'error', code: 'meter_event_customer_not_found', tokens });
    const metrics = await (await fetch(`${b.stack.api}/metrics`)).text();
    expect(metrics).toMatch(/redraft_meter_errors_total\{code="meter_event_customer_not_found"\} [1-9]/);
    clock += 2 * MIN;
    const r = await rec([userId]);
    expect(r.rows).toMatchObject([
      {
        ledgerTokens: tokens,
        sentTokens: tokens,
        errorTokens: tokens,
        stripeTokens: 0,
        status: 'meter_error',
        errors: [{ code: 'meter_event_customer_not_found', tokens }],
      },
    ]);
    // The same report delivered again (Stripe retries deliveries) changes nothing.
    const delivery = b.stripe.deliveries().findLast((d) => d.type === 'v1.billing.meter.error_report_triggered')!;
    const payload = JSON.stringify({
      id: delivery.eventId,
      object: 'v2.core.event',
      type: delivery.type,
      created: new Date(clock).toISOString(),
      livemode: false,
    });
    const res = await fetch(b.thinWebhook.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: b.thinWebhook.secret }),
      },
      body: payload,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'duplicate' });
    const line = (text: string) =>
      text.split('\n').find((l) => l.startsWith('redraft_meter_errors_total{code="meter_event_customer_not_found"}'));
    expect(line(await (await fetch(`${b.stack.api}/metrics`)).text())).toBe(line(metrics));
    expect((await rec([userId])).rows[0]).toMatchObject({ errorTokens: tokens });
    figures.push(
      `point 3: 1 batch (${tokens} tokens) accepted with 200, refused asynchronously (meter_event_customer_not_found): tied to ${userId}, reconcile 'meter_error'`,
    );
  });
});

describe('webhook API versions (point 4)', () => {
  it('refuses (400, logged; Stripe retries) an event rendered in another API version instead of misreading its older shapes', async () => {
    clock = Date.now() - 13 * DAY;
    const userId = freshUser();
    const { subscriptionId } = await subscribeDirect(b, userId);
    const before = await b.stack.db.hgetall(keys.quota(userId));
    // An endpoint created in the Dashboard with the account's older default version: the period is on the
    // subscription, not its items.
    const [update] = b.stripe.setCancelAtPeriodEnd(subscriptionId, true);
    const old = b.stripe.renderEvent(update!, '2024-06-20');
    expect(
      (old.data.object as unknown as { items: { data: Record<string, unknown>[] } }).items.data[0]!.current_period_end,
    ).toBeUndefined();
    const [status] = await b.stripe.deliver([update!], { ...b.webhook, apiVersion: '2024-06-20' });
    expect(status).toBe(400);
    expect(
      b.stack.logs.find((l) => l.msg === 'stripe webhook refused: API version' && l.event === update!.id),
    ).toMatchObject({ level: 'error', apiVersion: '2024-06-20' });
    expect(await b.stack.db.hgetall(keys.quota(userId))).toEqual(before); // nothing applied
    // The same event in the SDK's version is applied.
    expect(await b.stripe.deliver([update!], b.webhook)).toEqual([200]);
    expect((await b.stack.db.hgetall(keys.quota(userId))).cancelAtEnd).toBe('1');
  });
});

describe('smaller Stripe rules (point 7)', () => {
  it('a billing portal that is not configured answers a clear error naming the fix, not "Stripe is unavailable"', async () => {
    clock = Date.now() - 12 * DAY;
    const userId = freshUser();
    await subscribeDirect(b, userId);
    const api = await b.as(userId);
    b.stripe.setPortalConfigured(false);
    try {
      const res = await api('/v1/billing/portal', { method: 'POST' });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ status: res.status, code: body.error.code }).toEqual({
        status: 501,
        code: 'billing_portal_not_configured',
      });
      expect(body.error.message).toMatch(/Settings → Billing → Customer portal/);
    } finally {
      b.stripe.setPortalConfigured(true);
    }
    expect((await api('/v1/billing/portal', { method: 'POST' })).status).toBe(200);
  });
});
