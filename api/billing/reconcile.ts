/**
 * Reconciliation: our ledger against Stripe's meter event summaries, per user, Stripe customer and
 * billing period. Every difference is listed with what we know about it (delivered, pending, set aside).
 */
import type { Redis } from '../store/redis';
import { keys } from '../metering/keys';
import { flatToRecord, streamEntries } from '../metering/ledger';
import { periodWindowSec } from './batches';
import type { StripeGateway } from './stripe';

export interface ReconcileRow {
  userId: string;
  customerId: string;
  periodStart: number;
  periodEnd: number;
  /** Billable tokens in our ledger for this period. */
  ledgerTokens: number;
  /** Tokens our reporter recorded as delivered. */
  sentTokens: number;
  /** Tokens in the user's pending (claimed, unconfirmed) batch for this period. */
  pendingTokens: number;
  /** Tokens set aside because the period was too old for Stripe. */
  lateTokens: number;
  /** What Stripe's meter holds for the customer in the period's window. */
  stripeTokens: number;
  /** When the period's last batch was delivered (epoch ms), if ever. */
  lastSentAt: number | undefined;
  /**
   * ok: Stripe = ledger. unreported: Stripe = what we delivered, the rest is not sent yet (the next run
   * sends it). late: the rest was too old for Stripe (set aside). settling: Stripe differs from what we
   * delivered, but a batch went out in the last few minutes and meter event summaries are eventually
   * consistent — run reconcile again later. mismatch: Stripe holds something other than what we
   * delivered — investigate.
   */
  status: 'ok' | 'unreported' | 'late' | 'settling' | 'mismatch';
}

/** How long after a delivery a period's meter summary may still be catching up (Stripe aggregates asynchronously). */
export const SETTLE_MS = 10 * 60_000;

export interface ReconcileResult {
  rows: ReconcileRow[];
  /** Rows that need attention (every status but ok and settling). */
  differences: ReconcileRow[];
  /** Rows whose meter summary may still be catching up with a recent delivery: reconcile again in a few minutes. */
  settling: ReconcileRow[];
  users: number;
  stripeCalls: number;
}

interface PeriodSum {
  customerId: string;
  periodStart: number;
  periodEnd: number;
  tokens: number;
}

/** Billable ledger totals of one user by (period, customer). */
export async function ledgerTotals(redis: Redis, userId: string): Promise<PeriodSum[]> {
  const sums = new Map<string, PeriodSum>();
  let start = '-';
  for (;;) {
    const page = streamEntries(await redis.xrange(keys.ledger(userId), start, '+', 1000));
    for (const [, f] of page) {
      if (f.billable !== '1') continue;
      const key = `${f.period}|${f.cust ?? ''}`;
      let s = sums.get(key);
      if (!s) sums.set(key, (s = { customerId: f.cust ?? '', periodStart: Number(f.period), periodEnd: Number(f.pend), tokens: 0 }));
      s.tokens += Number(f.billed ?? 0);
    }
    if (page.length < 1000) break;
    start = `(${page[page.length - 1]![0]}`;
  }
  return [...sums.values()];
}

export async function reconcile(
  redis: Redis,
  gateway: StripeGateway,
  opts: { users?: string[]; since: number; concurrency?: number; now?: () => number; settleMs?: number },
): Promise<ReconcileResult> {
  const now = opts.now ?? Date.now;
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const meterId = await gateway.meterId();
  const callsBefore = gateway.calls;
  let userIds = opts.users;
  if (!userIds) {
    userIds = [];
    let cursor = '0';
    do {
      const [next, members] = (await redis.sscan(keys.billingUsers, cursor, { count: 1000 })) as [string | number, string[]];
      cursor = String(next);
      userIds.push(...members.map(String));
    } while (cursor !== '0');
  }
  const rows: ReconcileRow[] = [];
  const queue = [...userIds];

  async function one(userId: string): Promise<void> {
    const [sums, rep] = await Promise.all([ledgerTotals(redis, userId), redis.hgetall(keys.report(userId))]);
    const r = flatToRecord(rep);
    for (const s of sums) {
      if (s.periodEnd <= opts.since) continue;
      const w = periodWindowSec(s.periodStart, s.periodEnd);
      const stripeTokens = s.customerId ? await gateway.meterTotal(meterId, s.customerId, w.start, w.end) : 0;
      const sentTokens = Number(r[`sent:${s.periodStart}`] ?? 0);
      const lateTokens = Number(r[`late:${s.periodStart}`] ?? 0);
      const pendingTokens = r.pperiod === String(s.periodStart) && (r.pcust ?? '') === s.customerId ? Number(r.pvalue ?? 0) : 0;
      const lastSentAt = r[`at:${s.periodStart}`] ? Number(r[`at:${s.periodStart}`]) : undefined;
      let status: ReconcileRow['status'] = 'ok';
      if (stripeTokens !== s.tokens) {
        if (stripeTokens !== sentTokens) status = lastSentAt !== undefined && now() - lastSentAt < settleMs ? 'settling' : 'mismatch';
        else if (sentTokens + lateTokens === s.tokens && lateTokens > 0) status = 'late';
        else status = 'unreported';
      }
      rows.push({ userId, customerId: s.customerId, periodStart: s.periodStart, periodEnd: s.periodEnd, ledgerTokens: s.tokens, sentTokens, pendingTokens, lateTokens, stripeTokens, lastSentAt, status });
    }
  }

  await Promise.all(
    Array.from({ length: opts.concurrency ?? 8 }, async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) await one(u);
    }),
  );
  rows.sort((a, b) => a.userId.localeCompare(b.userId) || a.periodStart - b.periodStart);
  return { rows, differences: rows.filter((r) => r.status !== 'ok' && r.status !== 'settling'), settling: rows.filter((r) => r.status === 'settling'), users: userIds.length, stripeCalls: gateway.calls - callsBefore };
}
