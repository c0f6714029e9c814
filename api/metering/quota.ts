/**
 * Token quota per user per billing period, enforced atomically in Redis:
 * reserve (before the model runs) → settle (after, to actual usage) or release (failed before any token).
 */
import { overageTokensPerCent, PLANS, type PlanId } from '../config/plans';
import { defineScript, type Redis } from '../store/redis';
import { keys } from './keys';
import { monthlyPeriodAt, periodAfter, utcDay, type Period } from './periods';
import { ENSURE_LUA, RELEASE_LUA, RESERVE_LUA, SETTLE_LUA } from './quota.lua';

export type Reservation =
  | { ok: true; granted: number; usedAfter: number; cap: number; period: Period; plan: PlanId }
  | { ok: false; reason: 'exhausted'; used: number; cap: number; period: Period; plan: PlanId }
  | { ok: false; reason: 'duplicate'; state: string }
  | { ok: false; reason: 'cancelled' };

export interface LedgerEvent {
  requestId: string;
  userId: string;
  action: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  status: 'completed' | 'aborted' | 'error';
  /** Whether the token counts came from the provider or were counted by us (abort, error). */
  source: 'provider' | 'counted';
  startedAt: number;
  endedAt: number;
  promptVersion: string;
}

export type Settlement =
  | { ok: true; billed: number; usedAfter: number; cap: number; duplicate: boolean; /** Alert thresholds (% of the included allowance) this settlement reached first. */ alerts: number[] }
  | { ok: false; reason: 'missing' };

export interface QuotaStore {
  /** `attempt`: a nonce of this HTTP request; release needs it, so only the reserving attempt can release. */
  reserve(userId: string, requestId: string, want: number, minGrant: number, now: number, attempt: string): Promise<Reservation>;
  settle(userId: string, period: Period, event: LedgerEvent): Promise<Settlement>;
  release(userId: string, requestId: string, attempt: string): Promise<boolean>;
  ensure(userId: string, now: number): Promise<void>;
}

export interface QuotaOptions {
  /** How long a request id is remembered (dedupe window), seconds. */
  requestTtlSeconds: number;
  /** A reservation not settled after this long is considered abandoned (its holder crashed). */
  abandonAfterMs: number;
  ledgerRetentionDays: number;
}

const PLANS_JSON = JSON.stringify(Object.fromEntries(Object.values(PLANS).map((p) => [p.id, { hardCap: p.hardCapTokens, included: p.includedTokens, perCent: overageTokensPerCent(p) }])));
const num = (v: unknown) => Number(v);

export async function createQuotaStore(redis: Redis, opts: QuotaOptions): Promise<QuotaStore> {
  const [reserveScript, settleScript, releaseScript, ensureScript] = await Promise.all([
    defineScript<unknown[]>(redis, RESERVE_LUA),
    defineScript<unknown[]>(redis, SETTLE_LUA),
    defineScript<number>(redis, RELEASE_LUA),
    defineScript<number>(redis, ENSURE_LUA),
  ]);

  async function reserve(userId: string, requestId: string, want: number, minGrant: number, now: number, attempt: string): Promise<Reservation> {
    const init = monthlyPeriodAt(now, now);
    let roll: { from: number; to: Period; plan: PlanId; anchor: number } | undefined;
    // A period that ended is rolled over inside the script, with the next period computed here (calendar
    // arithmetic); asked again if the hash changed in between (e.g. a webhook moved the period meanwhile).
    for (let round = 0; round < 4; round++) {
      const reply = await reserveScript.run(
        [keys.quota(userId), keys.request(userId, requestId), keys.inflight(userId), keys.cancel(userId, attempt)],
        [want, minGrant, now, init.start, init.end, PLANS_JSON, roll?.to.start ?? '', roll?.to.end ?? '', opts.requestTtlSeconds, now + opts.abandonAfterMs, requestId, roll?.from ?? '', roll?.plan ?? '', roll?.anchor ?? '', attempt],
      );
      const [kind, ...r] = reply;
      switch (kind) {
        case 'OK':
          return { ok: true, granted: num(r[0]), usedAfter: num(r[1]), cap: num(r[2]), period: { start: num(r[3]), end: num(r[4]) }, plan: r[5] as PlanId };
        case 'DENY':
          return { ok: false, reason: 'exhausted', used: num(r[0]), cap: num(r[1]), period: { start: num(r[2]), end: num(r[3]) }, plan: r[4] as PlanId };
        case 'DUP':
          return { ok: false, reason: 'duplicate', state: String(r[0]) };
        case 'CANCELLED':
          return { ok: false, reason: 'cancelled' };
        case 'ROLL': {
          const ended = { anchor: num(r[0]), end: num(r[1]), plan: (r[2] === 'pro' ? 'pro' : 'free') as PlanId, cancelAtEnd: String(r[3]) === '1', confirmed: String(r[4]) === '1' };
          const next = periodAfter(ended, now);
          roll = { from: ended.end, to: next.period, plan: next.plan, anchor: next.anchor };
          continue;
        }
        default:
          throw new Error(`unexpected reserve reply: ${JSON.stringify(reply)}`);
      }
    }
    throw new Error('quota period did not roll over');
  }

  return {
    reserve,

    async settle(userId, period, event) {
      const minId = event.endedAt - opts.ledgerRetentionDays * 86_400_000;
      const fields: Record<string, string | number> = {
        id: event.requestId,
        user: event.userId,
        action: event.action,
        model: event.model,
        in: event.inputTokens,
        out: event.outputTokens,
        cost: event.costUsd.toFixed(8),
        status: event.status,
        source: event.source,
        started: event.startedAt,
        ended: event.endedAt,
        prompt: event.promptVersion,
      };
      const reply = await settleScript.run(
        [keys.quota(userId), keys.request(userId, event.requestId), keys.inflight(userId), keys.ledger(userId), keys.daily(userId, period.start), keys.alerts(userId)],
        [event.inputTokens + event.outputTokens, PLANS_JSON, utcDay(event.endedAt), Math.max(0, minId), event.endedAt, ...Object.entries(fields).flat()],
      );
      const [kind, ...r] = reply;
      if (kind === 'OK') return { ok: true, billed: num(r[0]), usedAfter: num(r[1]), cap: num(r[2]), duplicate: false, alerts: r.slice(3).map(num) };
      if (kind === 'DUP') return { ok: true, billed: num(r[0]), usedAfter: NaN, cap: NaN, duplicate: true, alerts: [] };
      return { ok: false, reason: 'missing' };
    },

    async release(userId, requestId, attempt) {
      return (await releaseScript.run([keys.quota(userId), keys.request(userId, requestId), keys.inflight(userId), keys.cancel(userId, attempt)], [attempt, 3600])) === 1;
    },

    async ensure(userId, now) {
      const p = monthlyPeriodAt(now, now);
      await ensureScript.run([keys.quota(userId)], [p.start, p.end]);
    },
  };
}
