/**
 * Stripe down for an hour of reporter runs. A billing stack whose clock the test owns; paid users with usage
 * before and during the outage; the Stripe stand-in failing every call (500s, timeouts, dropped connections)
 * while the scheduled runs keep coming — the period-end pass every 5 minutes and a full pass every 15, over a
 * simulated hour in which one user's billing period ends. Then Stripe recovers (its first answers lost after
 * taking effect) and the late renewal webhook arrives. Afterwards: nothing was accepted during the outage,
 * every run reported its failures instead of crashing, every customer's total per period on the stand-in
 * equals the ledger's billable sum, each batch was accepted exactly once, reconcile finds no difference and
 * nothing is left pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvents, seedUsage, startBillingStack, subscribeDirect, type BillingStack } from '../support/billing';
import { ledgerOf } from '../support/stack';
import { periodWindowSec } from '../../api/billing/reporting/batches';
import { reconcile } from '../../api/billing/operator/reconcile';
import type { ReportSummary } from '../../api/billing/reporting/reporter';
import { createRedis } from '../../api/store/redis';
import { keys } from '../../api/metering/keys';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let clock = Date.now();
const now = () => clock;
let b: BillingStack;
const tag = Date.now().toString(36);
const noSleep = async () => {};

beforeAll(async () => {
  // Short Stripe timeouts keep the hour of failing runs to seconds of wall time.
  b = await startBillingStack({ stripe: { now }, services: { now }, env: { STRIPE_TIMEOUT_MS: '400' } });
});
afterAll(async () => {
  await b?.close();
});

/** One scheduled run (under the scheduler's lock, the service clock), without real backoff sleeps. */
async function run(mode: 'due' | 'full'): Promise<ReportSummary> {
  const summary = await b.stack.services.billing!.reports.run(mode, { sleep: noSleep, maxAttempts: 3 });
  if (!summary) throw new Error('the report lock was held');
  return summary;
}

interface Paid {
  userId: string;
  customerId: string;
  subscriptionId: string;
  period: { start: number; end: number };
}

describe('Stripe down for an hour of reporter runs', () => {
  it('loses no usage and bills none twice', { timeout: 120_000 }, async () => {
    // --- before: A subscribed a month ago (its period ends 30 minutes into the outage), B–D two days ago --
    const t0 = Date.now() - 32 * DAY;
    clock = t0;
    const a: Paid = { userId: `user_outA_${tag}`, ...(await subscribeDirect(b, `user_outA_${tag}`)) };
    const outageStart = a.period.end - 30 * MIN;
    clock = outageStart - 2 * DAY;
    const others: Paid[] = [];
    for (const name of ['B', 'C', 'D'])
      others.push({ userId: `user_out${name}_${tag}`, ...(await subscribeDirect(b, `user_out${name}_${tag}`)) });
    const paid = [a, ...others];
    const free = `user_outFree_${tag}`;

    for (const [i, u] of paid.entries()) {
      await seedUsage(b.stack, u.userId, 1_000 + i, Math.max(u.period.start, outageStart - DAY) + HOUR);
      await seedUsage(b.stack, u.userId, 2_000 + i, outageStart - 3 * HOUR);
    }
    await seedUsage(b.stack, free, 700, outageStart - 3 * HOUR);
    clock = outageStart - 10 * MIN;
    const baseline = await run('full');
    expect(baseline).toMatchObject({ failures: 0, batches: 4, complete: true });
    // More usage after that run: not reported yet when Stripe goes down.
    for (const [i, u] of paid.entries()) await seedUsage(b.stack, u.userId, 3_000 + i, outageStart - 5 * MIN);

    // --- the outage: every Stripe call fails, 12 steps of 5 minutes ------------------------------------
    const acceptedBefore = b.stripe.stats.meterEvents.accepted;
    const eventsBefore = b.stripe.meterEvents().length;
    b.stripe.injectFaults({ rate: 1, kinds: ['server_error', 'timeout', 'drop'], holdMs: 800, seed: 11 });
    const during: { step: number; mode: string; summary: ReportSummary }[] = [];
    const pendingSeen = new Map<string, string>();
    for (let step = 0; step < 12; step++) {
      clock = outageStart + step * 5 * MIN;
      // Usage keeps coming (the API does not need Stripe to meter).
      for (const [i, u] of others.entries()) await seedUsage(b.stack, u.userId, 500 + 10 * step + i, clock - 2 * MIN);
      if (clock < a.period.end - MIN) await seedUsage(b.stack, a.userId, 400 + step, clock - 2 * MIN);
      if (step === 6) {
        // A request granted 10 s before A's period ends and finished 20 s after it: it belongs to the old period.
        await seedUsage(b.stack, a.userId, 4_444, a.period.end - 10_000, a.period.end + 20_000);
      }
      if (clock > a.period.end) await seedUsage(b.stack, a.userId, 600 + step, clock - MIN); // the next period (rolled by the quota, no webhook yet)
      await seedUsage(b.stack, free, 10, clock - MIN);

      for (const mode of step % 3 === 0 ? (['due', 'full'] as const) : (['due'] as const)) {
        const summary = await run(mode);
        during.push({ step, mode, summary });
      }
      // A pending batch is never re-formed: the same batch is retried, whatever usage arrived meanwhile.
      for (const u of paid) {
        const plast = await b.stack.db.hget(keys.report(u.userId), 'plast');
        if (!plast) continue;
        if (pendingSeen.has(u.userId)) expect(plast).toBe(pendingSeen.get(u.userId));
        else pendingSeen.set(u.userId, plast);
      }
    }
    const faults = { ...b.stripe.stats.faults };

    // Nothing was accepted; every run that had something to send came back with failures, not an exception.
    expect(b.stripe.stats.meterEvents.accepted).toBe(acceptedBefore);
    expect(b.stripe.meterEvents().length).toBe(eventsBefore);
    for (const { summary } of during)
      expect(summary).toMatchObject({ batches: 0, tokens: 0, events: 0, duplicates: 0 });
    const full = during.filter((d) => d.mode === 'full');
    expect(full).toHaveLength(4);
    for (const { summary } of full) {
      expect(summary.failures).toBe(4);
      expect(summary.failed.map((f) => f.userId).sort()).toEqual(paid.map((u) => u.userId).sort());
    }
    // A's period-end pass is due 4 minutes after its end (step 7 on): it fails, and stays due for the next pass.
    const dueAfterEnd = during.filter(
      (d) =>
        d.mode === 'due' &&
        outageStart + d.step * 5 * MIN >= a.period.end + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
    expect(dueAfterEnd.length).toBeGreaterThanOrEqual(4);
    for (const { summary } of dueAfterEnd)
      expect(summary).toMatchObject({ users: 1, failures: 1, failed: [{ userId: a.userId }] });
    expect(Number(await b.stack.db.zscore(keys.reportDue, a.userId))).toBe(
      a.period.end + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
    expect(pendingSeen.size).toBe(4);
    for (const kind of ['server_error', 'timeout', 'drop'] as const) expect(faults[kind] ?? 0).toBeGreaterThan(0);
    expect(faults.server_error_after ?? 0).toBe(0);
    // …and said so in the logs: per user, and in each run's summary line.
    expect(b.stack.logs.filter((l) => String(l.msg).startsWith('usage report failed for user')).length).toBe(
      during.reduce((s, d) => s + d.summary.failures, 0),
    );
    expect(b.stack.logs.filter((l) => l.msg === 'usage report run' && l.level === 'warn').length).toBe(
      during.filter((d) => d.summary.failures > 0).length,
    );

    // --- recovery: the first answers are lost after Stripe recorded the event; the renewal webhook is late --
    clock = outageStart + HOUR;
    b.stripe.injectFaults({
      times: 2,
      kinds: ['server_error_after', 'timeout_after'],
      route: /meter_events/,
      holdMs: 800,
      seed: 5,
    });
    const after: ReportSummary[] = [await run('due'), await run('full')];
    b.stripe.clearFaults();
    // A's period-end pass: its pending batch of the ended period, the rest of that period, then the new period.
    // The first batch's answer is lost twice after Stripe recorded it; the third attempt is rejected as a
    // duplicate and counts as delivered.
    // (At least: on a loaded machine a call may also time out by itself — the totals below are exact either way.)
    expect(after[0]).toMatchObject({ users: 1, failures: 0, batches: 3 });
    expect(after[0]!.retries).toBeGreaterThanOrEqual(2);
    expect(after[0]!.duplicates).toBeGreaterThanOrEqual(1);
    const lost = b.stripe.stats.faults;
    expect((lost.server_error_after ?? 0) + (lost.timeout_after ?? 0)).toBe(2);
    expect(b.stripe.stats.meterEvents.duplicates).toBeGreaterThanOrEqual(2); // the two repeats of that identifier, both refused
    expect(after[1]).toMatchObject({ failures: 0, batches: 6 }); // B–D: the batch pending since the outage, then the rest
    expect(await applyEvents(b, b.stripe.renew(a.subscriptionId))).toContain('applied');
    // Life goes on: more usage, the regular passes.
    clock += MIN;
    for (const u of paid) await seedUsage(b.stack, u.userId, 250, clock);
    for (const mode of ['due', 'full', 'due', 'full'] as const) {
      clock += 5 * MIN;
      after.push(await run(mode));
    }
    expect(after.reduce((s, r) => s + r.failures, 0)).toBe(0);
    expect(after[3]).toMatchObject({ batches: 4, tokens: 4 * 250 });
    const callsBefore = b.stack.services.billing!.gateway.calls;
    expect(after.at(-1)).toMatchObject({ failures: 0, batches: 0, complete: true });
    expect(b.stack.services.billing!.gateway.calls).toBe(callsBefore); // nothing left to send

    // --- the stand-in holds exactly the ledger --------------------------------------------------------------
    const identifiers = b.stripe.meterEvents().map((e) => e.identifier);
    expect(new Set(identifiers).size).toBe(identifiers.length);
    expect(b.stripe.stats.meterEvents.accepted).toBe(identifiers.length);
    let committed = 0;
    for (const u of paid) {
      const report = await b.stack.db.hgetall(keys.report(u.userId));
      expect(report.plast).toBeUndefined(); // nothing pending
      expect(await b.stack.db.llen(keys.reportLate(u.userId))).toBe(0);
      committed += Number(report.batches ?? 0);

      const billable = (await ledgerOf(b.stack.db, u.userId)).filter((e) => e.billable === '1');
      expect(billable.every((e) => e.cust === u.customerId)).toBe(true);
      const periods = [...new Set(billable.map((e) => e.period!))];
      for (const period of periods) {
        const inPeriod = billable.filter((e) => e.period === period);
        const w = periodWindowSec(Number(period), Number(inPeriod[0]!.pend));
        expect({ user: u.userId, period, stripe: b.stripe.totals(w).get(u.customerId) ?? 0 }).toEqual({
          user: u.userId,
          period,
          stripe: inPeriod.reduce((s, e) => s + Number(e.billed), 0),
        });
      }
      expect(b.stripe.totals().get(u.customerId)).toBe(billable.reduce((s, e) => s + Number(e.billed), 0));
      // Every meter event names the period its timestamp lies in.
      for (const e of b.stripe.meterEvents(u.customerId)) {
        const periodSec = Number(/^rd_.+_(\d+)_\d+-\d+$/.exec(e.identifier)![1]);
        const period = periods.find((p) => Math.floor(Number(p) / 1000) === periodSec)!;
        const w = periodWindowSec(Number(period), Number(billable.find((x) => x.period === period)!.pend));
        expect(e.timestamp).toBeGreaterThanOrEqual(w.start);
        expect(e.timestamp).toBeLessThan(w.end);
      }
    }
    // One accepted meter event per committed batch: none sent twice, none lost.
    expect(committed).toBe(identifiers.length);

    // A's ended period got everything it was granted, the request that finished after the end included.
    const aLedger = (await ledgerOf(b.stack.db, a.userId)).filter((e) => e.billable === '1');
    const p1 = aLedger.filter((e) => Number(e.period) === a.period.start);
    const p2 = aLedger.filter((e) => Number(e.period) === a.period.end);
    expect(p1.some((e) => e.billed === '4444' && Number(e.ended) > a.period.end)).toBe(true);
    expect(p2.length).toBeGreaterThan(0);
    const w1 = periodWindowSec(a.period.start, a.period.end);
    expect(b.stripe.totals(w1).get(a.customerId)).toBe(p1.reduce((s, e) => s + Number(e.billed), 0));
    // …and A's next flush is its new period's end.
    const p2End = b.stripe.subscription(a.subscriptionId)!.items.data[0]!.current_period_end * 1000;
    expect(Number(await b.stack.db.zscore(keys.reportDue, a.userId))).toBe(
      p2End + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );

    // Free usage never reached Stripe.
    expect((await ledgerOf(b.stack.db, free)).every((e) => e.billable === '0' && !e.cust)).toBe(true);

    const rec = await reconcile(createRedis(b.stack.services.config.redis), b.stack.services.billing!.gateway, {
      since: 0,
      now,
    });
    expect(rec.users).toBe(4);
    expect(rec.rows.length).toBe(5); // B–D one period each, A two
    expect(rec.differences).toEqual([]);

    console.log(
      `outage: ${during.length} runs in the simulated hour (${full.length} full), ${during.reduce((s, d) => s + d.summary.failures, 0)} user failures reported, ` +
        `${during.reduce((s, d) => s + d.summary.retries, 0)} retries, faults ${JSON.stringify(faults)}, 0 meter events accepted; ` +
        `recovery: ${after.length} runs, ${after.reduce((s, r) => s + r.batches, 0)} batches, ${after.reduce((s, r) => s + r.tokens, 0)} tokens, ${after.reduce((s, r) => s + r.duplicates, 0)} duplicates; ` +
        `${identifiers.length} meter events in all = ${committed} committed batches; reconcile: ${rec.rows.length} periods, no difference`,
    );
  });
});
