/**
 * Exactly-once usage reporting under faults, with real processes:
 * 1,000 users with random usage (paid over two periods, paid over one, free only), the Stripe stand-in
 * failing 20% of calls (429, 500 before/after taking effect, timeouts before/after, dropped connections
 * before/after), `scripts/report-usage.ts` killed (SIGKILL) mid-run, then restarted together with a second
 * reporter, then re-run until nothing is pending. Afterwards what the stand-in bills per customer and period
 * equals our ledger exactly — the meter for the running period, invoice items (for the next invoice) for the
 * period whose invoice was already final, none of it twice — and `npm run reconcile` reports no difference.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../support/prng';
import {
  applyEvents,
  billedFor,
  seedUsage,
  startBillingStack,
  subscribeDirect,
  type BillingStack,
} from '../support/billing';
import { ledgerOf } from '../support/stack';
import { ALL_FAULTS } from '../../standins/stripe';
import { keys } from '../../api/metering/keys';

const DAY = 86_400_000;
const USERS = 1_000;
let clock = Date.now();
const now = () => clock;
let b: BillingStack;

beforeAll(async () => {
  // The stand-in runs on the real clock here (the reporters are separate processes), so its summaries cannot
  // be given time to catch up by moving a clock: they are immediate in this test (summaryLagMs: 0).
  b = await startBillingStack({ services: { now }, stripe: { summaryLagMs: 0 } });
});
afterAll(async () => {
  await b?.close();
});

function jobEnv(): Record<string, string> {
  const c = b.stack.services.config;
  return {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    UPSTASH_REDIS_REST_URL: c.redis.url,
    UPSTASH_REDIS_REST_TOKEN: c.redis.token,
    ...b.stripe.env({
      webhookSecret: b.webhook.secret,
      priceBase: b.setup.basePriceId,
      priceMetered: b.setup.meteredPriceId,
    }),
    STRIPE_TIMEOUT_MS: '1000',
    REPORT_USAGE_CONCURRENCY: '16',
  };
}

interface Run {
  child: ChildProcess;
  progress: { users: number }[];
  summary?: Record<string, number>;
  exit: Promise<number | null>;
}

/** `scripts/report-usage.ts` as its own process (node --import tsx: one process, so SIGKILL kills the reporter itself). */
function reporter(args: string[] = []): Run {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/report-usage.ts', '--no-lock', '--progress-every', '20', ...args],
    { env: jobEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const run: Run = { child, progress: [], exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const msg = JSON.parse(line) as { progress?: { users: number }; summary?: Record<string, number> };
        if (msg.progress) run.progress.push(msg.progress);
        if (msg.summary) run.summary = msg.summary;
      } catch {
        /* not a JSON line */
      }
    }
  });
  child.stderr!.resume();
  return run;
}

describe('exactly-once usage reporting under faults', () => {
  it('bills every token once: 1,000 users, 20% failing calls, a killed reporter, two reporters at once', {
    timeout: 300_000,
  }, async () => {
    const rand = mulberry32(20261125);
    const realNow = Date.now();
    const users = Array.from({ length: USERS }, (_, i) => ({
      id: `user_eo${i.toString().padStart(4, '0')}_${realNow.toString(36)}`,
      kind: i % 10 < 4 ? 'two-periods' : i % 10 < 8 ? 'one-period' : 'free',
    }));
    const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    let events = 0;

    // --- usage -------------------------------------------------------------------------------------
    const t0 = realNow - 33 * DAY; // two-period users subscribe here: P1 ends ~3 days ago, P2 runs now
    const t1 = realNow - 2 * DAY; // one-period users subscribe here
    const seedOne = async (u: (typeof users)[number]) => {
      if (u.kind === 'free') {
        for (let k = pick(1, 6); k > 0; k--, events++)
          await seedUsage(b.stack, u.id, pick(50, 3000), realNow - pick(1, 20) * 3_600_000);
        return;
      }
      const start = u.kind === 'two-periods' ? t0 : t1;
      await seedUsage(b.stack, u.id, pick(50, 500), start - 3_600_000); // free usage before upgrading: never billed
      events++;
    };
    // Subscriptions and usage go through the real code, with the service clock moved per phase.
    clock = t0 - 2 * 3_600_000;
    for (const u of users) await seedOne(u);
    clock = t0;
    const subs = new Map<
      string,
      { subscriptionId: string; customerId: string; period: { start: number; end: number } }
    >();
    await inBatches(
      users.filter((u) => u.kind === 'two-periods'),
      25,
      async (u) => subs.set(u.id, await subscribeDirect(b, u.id)),
    );
    await inBatches(
      users.filter((u) => u.kind === 'two-periods'),
      25,
      async (u) => {
        const p = subs.get(u.id)!.period;
        for (let k = pick(1, 8); k > 0; k--, events++)
          await seedUsage(
            b.stack,
            u.id,
            pick(100, 20_000),
            p.start + pick(60, Math.floor((p.end - p.start) / 1000) - 60) * 1000,
          );
        // Granted just before the period ended, finished after: still P1's.
        if (rand() < 0.3) {
          await seedUsage(b.stack, u.id, pick(100, 5000), p.end - 5_000, p.end + 15_000);
          events++;
        }
      },
    );
    clock = Math.max(...[...subs.values()].map((s) => s.period.end)) + 60_000;
    await inBatches(
      users.filter((u) => u.kind === 'two-periods'),
      25,
      async (u) => {
        await applyEvents(b, b.stripe.renew(subs.get(u.id)!.subscriptionId));
      },
    );
    clock = t1;
    await inBatches(
      users.filter((u) => u.kind === 'one-period'),
      25,
      async (u) => subs.set(u.id, await subscribeDirect(b, u.id)),
    );
    clock = realNow;
    await inBatches(
      users.filter((u) => u.kind !== 'free'),
      25,
      async (u) => {
        const from = u.kind === 'two-periods' ? subs.get(u.id)!.period.end + 60_000 : t1 + 60_000;
        for (let k = pick(0, 8); k > 0; k--, events++)
          await seedUsage(b.stack, u.id, pick(100, 20_000), from + Math.floor(rand() * (realNow - 120_000 - from)));
      },
    );

    // --- reporting under faults -----------------------------------------------------------------------
    b.stripe.injectFaults({ rate: 0.2, kinds: ALL_FAULTS, holdMs: 1_500, seed: 99 });
    const acceptedBefore = b.stripe.stats.meterEvents.accepted;

    const first = reporter();
    await waitFor(() => (first.progress.at(-1)?.users ?? 0) >= 200 || first.child.exitCode !== null, 120_000);
    const killedAfterUsers = first.progress.at(-1)?.users ?? 0;
    expect(first.child.exitCode).toBeNull(); // still running: the kill lands mid-run
    first.child.kill('SIGKILL');
    await first.exit;
    // The kill left batches claimed (written ahead) but not committed: the crash window being tested.
    let pendingAfterKill = 0;
    for (const u of users) if (await b.stack.db.hexists(keys.report(u.id), 'plast')) pendingAfterKill++;
    expect(pendingAfterKill).toBeGreaterThan(0);

    const [restarted, second] = [reporter(), reporter()];
    await Promise.all([restarted.exit, second.exit]);
    const sweeps: (number | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const r = reporter();
      const code = await r.exit;
      sweeps.push(code);
      if (code === 0) break;
    }
    expect(sweeps.at(-1)).toBe(0);
    const faults = { ...b.stripe.stats.faults };
    b.stripe.clearFaults();

    // --- the stand-in holds exactly our ledger ---------------------------------------------------------
    let ledgerTotal = 0;
    let itemTokens = 0;
    let mismatches = 0;
    for (const u of users) {
      const ledger = await ledgerOf(b.stack.db, u.id);
      const billable = ledger.filter((e) => e.billable === '1');
      const report = await b.stack.db.hgetall(keys.report(u.id));
      expect(report.plast).toBeUndefined(); // nothing left pending
      if (u.kind === 'free') {
        expect(billable).toEqual([]);
        continue;
      }
      const customer = subs.get(u.id)!.customerId;
      const sum = billable.reduce((s, e) => s + Number(e.billed), 0);
      ledgerTotal += sum;
      // Per period, what Stripe bills: P1's invoice was final before this run (it ended ~3 days ago), so its
      // usage is on invoice items for the next invoice — never on the meter, where it would be billed nowhere;
      // P2's is on the meter (by Stripe's own timestamps), its invoice still to come.
      let billed = 0;
      for (const period of new Set(billable.map((e) => e.period))) {
        const inPeriod = billable.filter((e) => e.period === period);
        const b1 = billedFor(b.stripe, customer, { start: Number(period), end: Number(inPeriod[0]!.pend) });
        expect(b1.billed).toBe(inPeriod.reduce((s, e) => s + Number(e.billed), 0));
        if (b1.invoice === 'paid') expect(b1.meter).toBe(0);
        billed += b1.billed;
        itemTokens += b1.items;
      }
      if (billed !== sum) mismatches++;
    }
    expect(mismatches).toBe(0);
    const stripeTotal = [...b.stripe.totals().values()].reduce((s, v) => s + v, 0);
    expect(stripeTotal + itemTokens).toBe(ledgerTotal);

    // --- and npm run reconcile agrees ----------------------------------------------------------------
    const rec = spawn('npm', ['run', '-s', 'reconcile'], { env: jobEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    rec.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    rec.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const recCode = await new Promise((resolve) => rec.once('exit', resolve));
    expect(out).toMatch(/No differences/);
    expect(recCode).toBe(0);

    const accepted = b.stripe.stats.meterEvents.accepted - acceptedBefore;
    console.log(
      `exactly-once: ${USERS} users (${subs.size} paid), ${events} ledger events, ${ledgerTotal} billable tokens; ` +
        `${accepted} meter events accepted, ${b.stripe.stats.meterEvents.duplicates} duplicate identifiers rejected (counted delivered); ` +
        `${b.stripe.invoiceItems().length} invoice items (${itemTokens} tokens of periods whose invoice was final); ` +
        `faults injected ${JSON.stringify(faults)}; reporter killed after ${killedAfterUsers} users with ${pendingAfterKill} batches pending; ` +
        `restart + second reporter exits ${await restarted.exit}/${await second.exit}; sweep exits ${JSON.stringify(sweeps)}; ` +
        `Stripe calls on meter_events ${b.stripe.stats.byRoute['POST /v1/billing/meter_events']}`,
    );
  });
});

async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
