/**
 * The usage reporter against the Stripe stand-in through the real SDK: what is billable, where its
 * timestamps land, retries, duplicates, crashes between Stripe's answer and our commit, two reporters at
 * once, the period-end pass, and the cron endpoint. The test owns the clock (API, reporter, stand-in).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  applyEvents,
  CRON_SECRET,
  seedUsage,
  startBillingStack,
  subscribeDirect,
  type BillingStack,
} from '../support/billing';
import { ledgerOf } from '../support/stack';
import { runReport, type ReportOptions } from '../../api/billing/reporting/reporter';
import { createReportStore, type ReportStore } from '../../api/billing/reporting/store';
import { meterEventIdentifier, periodWindowSec } from '../../api/billing/reporting/batches';
import { reconcile } from '../../api/billing/operator/reconcile';
import type { StripeGateway } from '../../api/billing/stripe/gateway';
import { createRedis } from '../../api/store/redis';
import { keys } from '../../api/metering/keys';

const DAY = 86_400_000;
let clock = Date.now() - 20 * DAY; // room to move forward within Stripe's 35-day window
const now = () => clock;
let b: BillingStack;
let store: ReportStore;
let gateway: StripeGateway;
let n = 0;
const freshUser = () => `user_rp${++n}_${Date.now().toString(36)}`;
const noSleep = async () => {};

const report = (extra: Partial<ReportOptions> = {}) =>
  runReport(store, gateway, {
    concurrency: 4,
    periodEndFlushDelayMs: 4 * 60_000,
    mode: 'full',
    now,
    sleep: noSleep,
    ...extra,
  });
const ledgerSum = async (userId: string, pred: (e: Record<string, string>) => boolean = () => true) =>
  (await ledgerOf(b.stack.db, userId))
    .filter((e) => e.billable === '1' && pred(e))
    .reduce((s, e) => s + Number(e.billed), 0);

beforeAll(async () => {
  b = await startBillingStack({ stripe: { now }, services: { now } });
  store = await createReportStore(createRedis(b.stack.services.config.redis));
  gateway = b.stack.services.billing!.gateway;
});
afterAll(async () => {
  await b?.close();
});
beforeEach(() => {
  b.stripe.clearFaults();
});

describe('usage reporter', () => {
  it('reports paid usage once per period with a timestamp inside it, and never free usage', async () => {
    clock = Date.now() - 20 * DAY;
    const userId = freshUser();
    await seedUsage(b.stack, userId, 700, clock); // free: never sent
    clock += 60_000;
    const { customerId, subscriptionId, period: p1 } = await subscribeDirect(b, userId);
    let p1Tokens = 0;
    for (const t of [1_000, 2_500, 300]) p1Tokens += await seedUsage(b.stack, userId, t, (clock += 3_600_000));
    // A request granted 10 s before the period ends and finished 20 s after it: it belongs to P1.
    p1Tokens += await seedUsage(b.stack, userId, 4_000, p1.end - 10_000, p1.end + 20_000);
    clock = p1.end + 30_000;
    await applyEvents(b, b.stripe.renew(subscriptionId));
    const p2 = { start: p1.end, end: b.stripe.subscription(subscriptionId)!.items.data[0]!.current_period_end * 1000 };
    const p2Tokens =
      (await seedUsage(b.stack, userId, 900, clock + 60_000)) +
      (await seedUsage(b.stack, userId, 100, clock + 120_000));
    clock += 180_000;

    const summary = await report();
    expect(summary).toMatchObject({
      batches: 2,
      tokens: p1Tokens + p2Tokens,
      failures: 0,
      duplicates: 0,
      complete: true,
    });
    const events = b.stripe.meterEvents(customerId).sort((x, y) => x.timestamp - y.timestamp);
    expect(events.map((e) => e.value)).toEqual([p1Tokens, p2Tokens]);
    // Identifier: user, period and the stream id of the batch's last ledger event.
    const raw = await b.stack.db.xrange(keys.ledger(userId), '-', '+');
    const lastP1Id = raw.filter(([, f]) => f[f.indexOf('period') + 1] === String(p1.start)).at(-1)![0];
    expect(events[0]!.identifier).toBe(`rd_${userId}_${Math.floor(p1.start / 1000)}_${lastP1Id}`);
    expect(events[0]!.identifier).toBe(await meterEventIdentifier({ userId, periodStart: p1.start, lastId: lastP1Id }));
    // The P1 batch's last request ended after P1: its timestamp is clamped to P1's last whole minute.
    const w1 = periodWindowSec(p1.start, p1.end);
    expect(events[0]!.timestamp).toBe(w1.end - 1);
    expect(events[0]!.timestamp * 1000).toBeLessThan(p1.end);
    const w2 = periodWindowSec(p2.start, p2.end);
    expect(events[1]!.timestamp).toBeGreaterThanOrEqual(w2.start);
    expect(events[1]!.timestamp).toBeLessThan(w2.end);
    expect(await ledgerSum(userId)).toBe(p1Tokens + p2Tokens);

    // Nothing new: no Stripe call at all.
    const calls = gateway.calls;
    expect(await report()).toMatchObject({ batches: 0, tokens: 0 });
    expect(gateway.calls).toBe(calls);
    // Stripe's summaries are eventually consistent: right after the run both periods are settling…
    const soon = await reconcile(createRedis(b.stack.services.config.redis), gateway, {
      users: [userId],
      since: 0,
      now,
    });
    expect(soon.rows.map((r) => r.status)).toEqual(['settling', 'settling']);
    expect(soon.differences).toEqual([]);
    clock += 2 * 60_000; // …and caught up a minute later (the stand-in lags 60 s)
    const rec = await reconcile(createRedis(b.stack.services.config.redis), gateway, {
      users: [userId],
      since: 0,
      now,
    });
    expect(rec.rows.map((r) => [r.periodStart, r.ledgerTokens, r.stripeTokens, r.status])).toEqual([
      [p1.start, p1Tokens, p1Tokens, 'ok'],
      [p2.start, p2Tokens, p2Tokens, 'ok'],
    ]);
  });

  it('retries 429, 500, timeouts and dropped connections; a duplicate rejection counts as delivered', async () => {
    clock = Date.now() - 10 * DAY;
    const users = [freshUser(), freshUser(), freshUser()];
    for (const u of users) {
      await subscribeDirect(b, u);
      await seedUsage(b.stack, u, 1234, clock + 1000);
    }
    // Every one of the first 14 meter event calls fails, two of each kind (timeouts hold past the client's 2 s).
    const kinds = [
      'rate_limit',
      'server_error',
      'server_error_after',
      'timeout',
      'timeout_after',
      'drop',
      'drop_after',
    ] as const;
    const before = b.stripe.stats.meterEvents.accepted;
    b.stripe.injectFaults({ times: 14, kinds: [...kinds], route: /meter_events/, holdMs: 2_500, seed: 7 });
    const summary = await report({ maxAttempts: 20 });
    b.stripe.clearFaults();
    expect(summary.failures).toBe(0);
    expect(summary.batches).toBe(3);
    expect(summary.retries).toBeGreaterThanOrEqual(14 - 3);
    const injected = b.stripe.stats.faults;
    const after = (injected.server_error_after ?? 0) + (injected.timeout_after ?? 0) + (injected.drop_after ?? 0);
    // Stripe recorded an event whose answer was lost: the retry is rejected as a duplicate and counted delivered.
    expect(summary.duplicates).toBeGreaterThanOrEqual(Math.min(1, after));
    expect(b.stripe.stats.meterEvents.accepted - before).toBe(3);
    for (const u of users) {
      const cust = (await b.stack.db.hget(keys.quota(u), 'customer'))!;
      expect(b.stripe.totals().get(cust)).toBe(await ledgerSum(u));
    }

    // Each way of losing Stripe's answer after it recorded the event: exactly one duplicate, billed once.
    // (A closed connection is retried once inside the SDK with the same Idempotency-Key — Stripe answers
    // that replay with the original success — so it takes two drops in a row to reach our retry.)
    for (const kind of ['server_error_after', 'timeout_after', 'drop_after'] as const) {
      const u = freshUser();
      const { customerId } = await subscribeDirect(b, u);
      const tokens = await seedUsage(b.stack, u, 4_000, clock + 2000);
      const accepted = b.stripe.stats.meterEvents.accepted;
      b.stripe.injectFaults({
        times: kind === 'drop_after' ? 2 : 1,
        kinds: [kind],
        route: /meter_events/,
        holdMs: 2_500,
      });
      const s = await report();
      b.stripe.clearFaults();
      expect({ kind, failures: s.failures, retries: s.retries, duplicates: s.duplicates, batches: s.batches }).toEqual({
        kind,
        failures: 0,
        retries: 1,
        duplicates: 1,
        batches: 1,
      });
      expect(b.stripe.stats.meterEvents.accepted - accepted).toBe(1);
      expect(b.stripe.totals().get(customerId)).toBe(tokens);
    }
  });

  it('a crash between Stripe accepting a batch and our commit is repaired by the next run, without billing twice', async () => {
    clock = Date.now() - 5 * DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 5_000, clock + 1000);
    // The first half of a run: claim and send… then the process dies before commit.
    const claim = await store.claim(userId, clock);
    if (claim.kind !== 'batch') throw new Error('expected a batch');
    const identifier = await meterEventIdentifier(claim.batch);
    expect(
      await gateway.sendMeterEvent({
        identifier,
        customerId,
        value: claim.batch.value,
        timestamp: Math.floor(clock / 1000),
      }),
    ).toBe('accepted');
    // New usage arrives meanwhile.
    const more = await seedUsage(b.stack, userId, 600, clock + 2000);

    const summary = await report();
    expect(summary).toMatchObject({ resumed: 1, duplicates: 1, batches: 2, tokens: tokens + more });
    expect(b.stripe.meterEvents(customerId).map((e) => e.value)).toEqual([tokens, more]);
    expect(b.stripe.totals().get(customerId)).toBe(tokens + more);
  });

  it('two reporters at once bill each batch once', async () => {
    clock = Date.now() - 3 * DAY;
    const users = Array.from({ length: 30 }, freshUser);
    for (const u of users) {
      await subscribeDirect(b, u);
      for (let i = 0; i < 3; i++) await seedUsage(b.stack, u, 100 + Math.floor(Math.random() * 900), clock + 1000 + i);
    }
    const before = b.stripe.stats.meterEvents.accepted;
    const [r1, r2] = await Promise.all([report({ concurrency: 3 }), report({ concurrency: 5 })]);
    expect(r1.failures + r2.failures).toBe(0);
    expect(b.stripe.stats.meterEvents.accepted - before).toBe(30);
    for (const u of users) {
      const cust = (await b.stack.db.hget(keys.quota(u), 'customer'))!;
      expect(b.stripe.totals().get(cust)).toBe(await ledgerSum(u));
    }
  });

  it('leaves a batch Stripe refuses pending (and says so) while other users are reported', async () => {
    clock = Date.now() - 2 * DAY;
    const [a, c] = [freshUser(), freshUser()];
    for (const u of [a, c]) {
      await subscribeDirect(b, u);
      await seedUsage(b.stack, u, 777, clock + 1000);
    }
    b.stripe.injectFaults({ times: 1, kinds: ['bad_request'], route: /meter_events/ });
    const first = await report({ concurrency: 1 });
    expect(first.failures).toBe(1);
    expect(first.failed[0]!.error).toMatch(/400/);
    expect(first.batches).toBeGreaterThanOrEqual(1);
    const stuck = first.failed[0]!.userId;
    expect((await b.stack.db.hgetall(keys.report(stuck))).pvalue).toBe('777');
    const second = await report();
    expect(second).toMatchObject({ failures: 0, resumed: 1 });
    for (const u of [a, c])
      expect(b.stripe.totals().get((await b.stack.db.hget(keys.quota(u), 'customer'))!)).toBe(777);
  });

  it('flushes an ended period in the period-end pass, minutes after it ends', async () => {
    clock = Date.now() - 40 * DAY;
    const userId = freshUser();
    const { customerId, subscriptionId, period } = await subscribeDirect(b, userId);
    expect(Number(await b.stack.db.zscore(keys.reportDue, userId))).toBe(
      period.end + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
    const tokens = await seedUsage(b.stack, userId, 2_000, period.end - 30 * 60_000); // the last hour
    clock = period.end + 60_000;
    await applyEvents(b, b.stripe.renew(subscriptionId)); // the renewal does not postpone the flush
    expect(Number(await b.stack.db.zscore(keys.reportDue, userId))).toBe(
      period.end + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
    expect(
      (await report({ mode: 'due', periodEndFlushDelayMs: b.stack.services.config.reporter.periodEndFlushDelayMs }))
        .users,
    ).toBe(0); // not due yet

    clock = period.end + b.stack.services.config.reporter.periodEndFlushDelayMs + 1;
    const summary = await report({
      mode: 'due',
      periodEndFlushDelayMs: b.stack.services.config.reporter.periodEndFlushDelayMs,
    });
    expect(summary).toMatchObject({ users: 1, batches: 1, tokens });
    const [e] = b.stripe.meterEvents(customerId);
    expect(e!.timestamp * 1000).toBeGreaterThanOrEqual(period.end - 30 * 60_000);
    expect(e!.timestamp * 1000).toBeLessThan(period.end);
    // Next flush: the end of the new period.
    const next = b.stripe.subscription(subscriptionId)!.items.data[0]!.current_period_end * 1000;
    expect(Number(await b.stack.db.zscore(keys.reportDue, userId))).toBe(
      next + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
  });

  it('sets aside usage too old for Stripe and reconcile lists it', async () => {
    clock = Date.now() - 80 * DAY;
    const userId = freshUser();
    await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 3_000, clock + 1000);
    clock = Date.now();
    const summary = await report();
    expect(summary.late).toBeGreaterThanOrEqual(1);
    const late = await b.stack.db.lrange(keys.reportLate(userId), 0, -1);
    expect(late.map((l) => JSON.parse(l).value)).toEqual([tokens]);
    const rec = await reconcile(createRedis(b.stack.services.config.redis), gateway, {
      users: [userId],
      since: 0,
      now,
    });
    expect(rec.differences).toMatchObject([
      { userId, ledgerTokens: tokens, lateTokens: tokens, stripeTokens: 0, status: 'late' },
    ]);
  });
});

describe('POST /internal/report-usage', () => {
  it('needs the cron secret and runs one report at a time', async () => {
    clock = Date.now() - DAY;
    const userId = freshUser();
    const { customerId } = await subscribeDirect(b, userId);
    const tokens = await seedUsage(b.stack, userId, 4_321, clock + 1000);
    const call = (auth?: string, method = 'POST') =>
      fetch(`${b.stack.api}/internal/report-usage`, { method, headers: auth ? { Authorization: auth } : {} });
    for (const refused of [
      await call(),
      await call('Bearer wrong-secret-wrong-secret'),
      await call(`Bearer ${CRON_SECRET.slice(0, -1)}`),
    ]) {
      expect(refused.status).toBe(401);
      // The same bearer check as /metrics.
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="redraft"');
      expect(await refused.json()).toMatchObject({
        error: { code: 'unauthenticated', message: expect.stringContaining('CRON_SECRET') },
      });
    }

    await b.stack.db.set(keys.reportLock, 'someone-else', 'PX', 60_000);
    const busy = await call(`Bearer ${CRON_SECRET}`);
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ error: { code: 'report_in_progress' } });
    await b.stack.db.del(keys.reportLock);

    const ok = await call(`Bearer ${CRON_SECRET}`, 'GET'); // Vercel Cron sends GET
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ mode: 'full', failures: 0, complete: true });
    expect(b.stripe.totals().get(customerId)).toBe(tokens);
    expect(await b.stack.db.get(keys.reportLock)).toBeNull();
    const health = (await (await fetch(`${b.stack.api}/health`)).json()) as { billing: Record<string, unknown> };
    expect(health.billing).toMatchObject({
      enabled: true,
      standIn: expect.stringMatching(/STAND-IN/),
      meterEventName: 'redraft_tokens',
      lastReport: { mode: 'full', failures: 0 },
    });
  });
});
