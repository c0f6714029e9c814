/**
 * Read side of metering: a user's balance for the current period, daily totals and recent ledger
 * events, fetched together (one auto-pipelined round trip).
 */
import { hardCapOf, planOf, type Plan } from '../config/plans';
import { ALERT_THRESHOLDS, type AlertThreshold } from '../../shared/contract';
import type { Redis } from '../store/redis';
import { keys } from './keys';
import { periodAfter, type Period } from './periods';

export interface LedgerEntry {
  requestId: string;
  action: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  billedTokens: number;
  costUsd: number;
  status: string;
  at: number;
}

export interface Balance {
  plan: Plan;
  period: Period;
  usedTokens: number;
  hardCapTokens: number;
  daily: Record<string, number>;
  recent: LedgerEntry[];
  /** The user's Stripe customer, once they started a checkout. */
  customerId: string | undefined;
  /** A payment failed: capped at the included allowance until it is paid. */
  pastDue: boolean;
  /** The paid plan ends with this period (cancelled at period end). */
  endsAtPeriodEnd: boolean;
  /** Usage alerts reached in this period, oldest first. */
  alerts: { threshold: AlertThreshold; at: number }[];
  /** The user's own overage spending cap in US cents (PUT /v1/settings); null = the plan's default. */
  overageCapCents: number | null;
}

export interface UsageReader {
  /** Null when the user has never been seen (no quota hash yet). */
  balance(userId: string, now: number, recentCount: number): Promise<Balance | null>;
}

/** Ledger stream fields as the client returns them (values may arrive already parsed as numbers). */
export function parseLedgerEntry(fields: Record<string, unknown>, streamId: string): LedgerEntry {
  return {
    requestId: String(fields.id ?? ''),
    action: String(fields.action ?? ''),
    model: String(fields.model ?? ''),
    inputTokens: Number(fields.in ?? 0),
    outputTokens: Number(fields.out ?? 0),
    billedTokens: Number(fields.billed ?? 0),
    costUsd: Number(fields.cost ?? 0),
    status: String(fields.status ?? ''),
    at: Number(fields.ended ?? streamId.split('-')[0]),
  };
}

/** Raw reply helpers: the client runs with automaticDeserialization off, so replies arrive as Redis sends them. */
export const flatToRecord = (flat: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  const a = Array.isArray(flat) ? flat : [];
  for (let i = 0; i + 1 < a.length; i += 2) out[String(a[i])] = String(a[i + 1]);
  return out;
};

/** XRANGE/XREVRANGE reply: [[id, [field, value, ...]], ...]. */
export const streamEntries = (reply: unknown): [string, Record<string, string>][] =>
  (Array.isArray(reply) ? reply : []).map((e) => [String((e as unknown[])[0]), flatToRecord((e as unknown[])[1])]);

const QUOTA_FIELDS = [
  'plan',
  'start',
  'end',
  'anchor',
  'used',
  'capOverride',
  'pastDue',
  'cancelAtEnd',
  'customer',
  'confirmed',
  'overageCapCents',
] as const;

/** Alerts of one period from the alerts hash (fields `<periodStart>:<threshold>` → epoch ms). */
export function alertsOfPeriod(
  flat: Record<string, string>,
  periodStart: number,
): { threshold: AlertThreshold; at: number }[] {
  return ALERT_THRESHOLDS.filter((t) => flat[`${periodStart}:${t}`] != null)
    .map((threshold) => ({ threshold, at: Number(flat[`${periodStart}:${threshold}`]) }))
    .sort((a, b) => a.threshold - b.threshold);
}

export function createUsageReader(redis: Redis): UsageReader {
  return {
    async balance(userId, now, recentCount) {
      const raw = (await redis.hmget(keys.quota(userId), ...QUOTA_FIELDS)) as unknown as (string | null)[] | null;
      const q = Object.fromEntries(QUOTA_FIELDS.map((f, i) => [f, raw?.[i] ?? null])) as Record<
        (typeof QUOTA_FIELDS)[number],
        string | null
      >;
      if (q.plan == null) return null;
      let plan = planOf(q.plan);
      let period: Period = { start: Number(q.start), end: Number(q.end) };
      let used = Number(q.used ?? 0);
      let pastDue = q.pastDue === '1';
      if (now >= period.end) {
        // No request since the period ended: show the new, empty period (the next reserve rolls it for real).
        const next = periodAfter(
          {
            plan: plan.id,
            anchor: Number(q.anchor ?? q.start),
            end: period.end,
            cancelAtEnd: q.cancelAtEnd === '1',
            confirmed: q.confirmed === q.start,
          },
          now,
        );
        if (next.plan !== plan.id) pastDue = false;
        plan = planOf(next.plan);
        period = next.period;
        used = 0;
      }
      const overageCapCents = q.overageCapCents != null ? Number(q.overageCapCents) : null;
      const cap = hardCapOf(plan, {
        capOverride: q.capOverride != null ? Number(q.capOverride) : null,
        overageCapCents,
        pastDue,
      });
      const [daily, recent, alerts] = await Promise.all([
        redis.hgetall(keys.daily(userId, period.start)),
        redis.xrevrange(keys.ledger(userId), '+', '-', recentCount),
        redis.hgetall(keys.alerts(userId)),
      ]);
      return {
        plan,
        period,
        usedTokens: used,
        hardCapTokens: cap,
        overageCapCents,
        customerId: q.customer ?? undefined,
        pastDue,
        endsAtPeriodEnd: plan.id !== 'free' && q.cancelAtEnd === '1' && now < Number(q.end),
        alerts: alertsOfPeriod(flatToRecord(alerts), period.start),
        daily: Object.fromEntries(Object.entries(flatToRecord(daily)).map(([d, n]) => [d, Number(n)])),
        recent: streamEntries(recent).map(([id, fields]) => parseLedgerEntry(fields, id)),
      };
    },
  };
}
