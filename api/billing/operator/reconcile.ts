/**
 * Reconciliation: our ledger against what Stripe holds and bills, per user, Stripe customer and billing
 * period: the meter event summaries over the period's window while its invoice takes usage; once the
 * period's invoice is final, that invoice's metered quantity plus our invoice items for the period (usage
 * that missed the invoice). Every difference is listed with what we know about it (delivered, billed as
 * items, pending, set aside, refused by Stripe's asynchronous validation).
 */
import type { Redis } from '../../store/redis';
import { keys } from '../../metering/keys';
import { flatToRecord, streamEntries } from '../../metering/ledger';
import { periodWindowSec } from '../reporting/batches';
import type { PeriodInvoice, StripeGateway, UsageItem } from '../stripe/gateway';

/** An asynchronous meter error Stripe reported for one of our batches. */
export interface MeterErrorRecord {
  identifier: string;
  code: string;
  message: string;
  event: string;
  at: number;
  period: string;
  tokens: number;
  customer: string;
  batch: 'committed' | 'pending' | 'unknown';
}

export interface ReconcileRow {
  userId: string;
  customerId: string;
  periodStart: number;
  periodEnd: number;
  /** Billable tokens in our ledger for this period. */
  ledgerTokens: number;
  /** Tokens our reporter recorded as delivered as meter events. */
  sentTokens: number;
  /** Tokens our reporter billed as invoice items (usage that missed the period's invoice). */
  itemTokens: number;
  /** Tokens in the user's pending (claimed, unconfirmed) batch for this period. */
  pendingTokens: number;
  /** Tokens set aside because the period was too old for Stripe. */
  lateTokens: number;
  /** Tokens of delivered batches that Stripe's asynchronous validation refused (see `errors`). */
  errorTokens: number;
  /** What Stripe's meter holds for the customer in the period's window. */
  stripeTokens: number;
  /** The period's invoice once the period ended (as far as Stripe has created it). */
  invoice: { id: string; status: string } | undefined;
  /** Once that invoice is final: its metered quantity plus Stripe's invoice items for the period — what is billed. */
  invoicedTokens: number | undefined;
  /** Tokens of our invoice items for the period, as Stripe holds them. */
  stripeItemTokens: number;
  /** When the period's last batch was delivered (epoch ms), if ever. */
  lastSentAt: number | undefined;
  errors: MeterErrorRecord[];
  /**
   * ok: Stripe holds (or, once the invoice is final, bills) exactly the ledger. unreported: Stripe has what
   * we delivered, the rest is not delivered yet (the next run does it). late: the rest was too old for
   * Stripe (set aside). meter_error: Stripe's asynchronous validation refused some of what we delivered
   * (see errors: fix the cause, e.g. the customer). settling: Stripe's summary differs from what we
   * delivered, but a batch went out in the last few minutes and summaries are eventually consistent — run
   * reconcile again later. uninvoiced: the period's invoice is final and bills less than we delivered
   * (usage that reached the meter too late: no one pays for it — bill it by hand). mismatch: Stripe holds
   * something other than what we delivered — investigate.
   */
  status: 'ok' | 'unreported' | 'late' | 'meter_error' | 'settling' | 'uninvoiced' | 'mismatch';
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
      if (!s)
        sums.set(
          key,
          (s = { customerId: f.cust ?? '', periodStart: Number(f.period), periodEnd: Number(f.pend), tokens: 0 }),
        );
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
      const [next, members] = (await redis.sscan(keys.billingUsers, cursor, { count: 1000 })) as [
        string | number,
        string[],
      ];
      cursor = String(next);
      userIds.push(...members.map(String));
    } while (cursor !== '0');
  }
  const rows: ReconcileRow[] = [];
  const queue = [...userIds];

  async function one(userId: string): Promise<void> {
    const [sums, rep, errorList] = await Promise.all([
      ledgerTotals(redis, userId),
      redis.hgetall(keys.report(userId)),
      redis.lrange(keys.reportErrors(userId), 0, -1),
    ]);
    const r = flatToRecord(rep);
    const errors = (errorList as unknown[]).map((e) => (typeof e === 'string' ? JSON.parse(e) : e) as MeterErrorRecord);
    const itemsOf = new Map<string, Promise<UsageItem[]>>();
    for (const s of sums) {
      if (s.periodEnd <= opts.since) continue;
      const w = periodWindowSec(s.periodStart, s.periodEnd);
      const n = (field: string) => Number(r[`${field}:${s.periodStart}`] ?? 0);
      const sentTokens = n('sent');
      const itemTokens = n('item');
      const lateTokens = n('late');
      const errorTokens = n('err');
      const pendingTokens =
        r.pperiod === String(s.periodStart) && (r.pcust ?? '') === s.customerId ? Number(r.pvalue ?? 0) : 0;
      const lastSentAt = r[`at:${s.periodStart}`] ? Number(r[`at:${s.periodStart}`]) : undefined;
      let stripeTokens = 0;
      let invoice: PeriodInvoice | undefined;
      let stripeItemTokens = 0;
      if (s.customerId) {
        stripeTokens = await gateway.meterTotal(meterId, s.customerId, w.start, w.end);
        if (now() >= s.periodEnd) {
          invoice = await gateway.periodInvoice(s.customerId, s.periodStart, s.periodEnd);
          if (!itemsOf.has(s.customerId)) itemsOf.set(s.customerId, gateway.usageItems(s.customerId));
          stripeItemTokens = (await itemsOf.get(s.customerId)!)
            .filter((it) => it.periodStart === Math.floor(s.periodStart / 1000) * 1000)
            .reduce((sum, it) => sum + it.tokens, 0);
        }
      }
      const final = invoice !== undefined && invoice.status !== 'draft';
      const invoicedTokens = final ? invoice!.meteredQuantity + stripeItemTokens : undefined;
      // What Stripe holds (or bills) for the period, against what we delivered to it.
      const stripeHas = (final ? invoice!.meteredQuantity : stripeTokens) + stripeItemTokens;
      const delivered = sentTokens - errorTokens + itemTokens;
      const undelivered = s.tokens - sentTokens - itemTokens - lateTokens;
      let status: ReconcileRow['status'];
      if (stripeHas === s.tokens) status = 'ok';
      else if (stripeHas === delivered || (pendingTokens > 0 && stripeHas === delivered + pendingTokens)) {
        status =
          undelivered > 0 ? 'unreported' : errorTokens > 0 ? 'meter_error' : lateTokens > 0 ? 'late' : 'mismatch';
      } else if (final && stripeHas < delivered) status = 'uninvoiced';
      else if (!final && lastSentAt !== undefined && now() - lastSentAt < settleMs) status = 'settling';
      else
        status = errorTokens > 0 || errors.some((e) => e.period === String(s.periodStart)) ? 'meter_error' : 'mismatch';
      rows.push({
        userId,
        customerId: s.customerId,
        periodStart: s.periodStart,
        periodEnd: s.periodEnd,
        ledgerTokens: s.tokens,
        sentTokens,
        itemTokens,
        pendingTokens,
        lateTokens,
        errorTokens,
        stripeTokens,
        invoice: invoice ? { id: invoice.id, status: invoice.status } : undefined,
        invoicedTokens,
        stripeItemTokens,
        lastSentAt,
        errors: errors.filter((e) => e.period === String(s.periodStart)),
        status,
      });
    }
  }

  await Promise.all(
    Array.from({ length: opts.concurrency ?? 8 }, async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) await one(u);
    }),
  );
  rows.sort((a, b) => a.userId.localeCompare(b.userId) || a.periodStart - b.periodStart);
  return {
    rows,
    differences: rows.filter((r) => r.status !== 'ok' && r.status !== 'settling'),
    settling: rows.filter((r) => r.status === 'settling'),
    users: userIds.length,
    stripeCalls: gateway.calls - callsBefore,
  };
}
