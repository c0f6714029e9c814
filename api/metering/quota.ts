/**
 * Token quota per user per billing period, enforced atomically in Redis:
 * reserve (before the model runs) → settle (after, to actual usage) or release (failed before any token).
 */
import { overageTokensPerCent, PLANS, type PlanId } from '../config/plans';
import { defineNamedScript, type Redis } from '../store/redis';
import { keys } from './keys';
import { monthlyPeriodAt, periodAfter, utcDay, type Period } from './periods';
import { ENSURE, RELEASE, RESERVE, RESIZE, SETTLE } from './quota.lua';

export type Reservation =
  | { ok: true; granted: number; usedAfter: number; cap: number; period: Period; plan: PlanId }
  | { ok: false; reason: 'exhausted'; used: number; cap: number; period: Period; plan: PlanId }
  | { ok: false; reason: 'duplicate'; state: string }
  | { ok: false; reason: 'cancelled' };

export type SizeByPlan = Partial<Record<PlanId, { want: number; minGrant: number }>>;

export type Resize =
  | { ok: true; granted: number; usedAfter: number; cap: number }
  | { ok: false; reason: 'exhausted'; granted: number }
  | { ok: false; reason: 'gone' };

export interface LedgerEvent {
  requestId: string;
  userId: string;
  action: string;
  /** The model that served (the price list's key), and its provider (`openai`, `anthropic`, …). */
  model: string;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  /** Of inputTokens, read from the provider's prompt cache (priced at the cached price). */
  cachedInputTokens: number;
  /** Of outputTokens, reasoning tokens (priced as output). */
  reasoningTokens: number;
  /** Provider usage details that were not trusted as reported (clamped or ignored), e.g. cached_over_input. */
  usageAnomalies: string[];
  costUsd: number;
  /** The version of the price list costUsd was computed with ('' when the model had no price). */
  priceVersion: string;
  status: 'completed' | 'aborted' | 'error';
  /** Whether the token counts came from the provider or were counted by us (abort, error). */
  source: 'provider' | 'counted';
  startedAt: number;
  endedAt: number;
  promptVersion: string;
}

export type Settlement =
  | {
      ok: true;
      billed: number;
      usedAfter: number;
      cap: number;
      duplicate: boolean /** Alert thresholds (% of the included allowance) this settlement reached first. */;
      alerts: number[];
    }
  | { ok: false; reason: 'missing' };

export interface QuotaStore {
  /** `attempt`: a nonce of this HTTP request; release needs it, so only the reserving attempt can release. */
  reserve(
    userId: string,
    requestId: string,
    want: number,
    minGrant: number,
    now: number,
    attempt: string,
    /** Another size for some plans (each plan runs its own models): replaces want/minGrant for that plan. */
    byPlan?: SizeByPlan,
  ): Promise<Reservation>;
  /**
   * Re-size this attempt's reservation (a fallback to a model of another size), atomically: to min(want, what
   * the cap leaves), or unchanged when that is below minGrant.
   */
  resize(userId: string, requestId: string, attempt: string, want: number, minGrant: number): Promise<Resize>;
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

const PLANS_JSON = JSON.stringify(
  Object.fromEntries(
    Object.values(PLANS).map((p) => [
      p.id,
      { hardCap: p.hardCapTokens, included: p.includedTokens, perCent: overageTokensPerCent(p) },
    ]),
  ),
);
const num = (v: unknown) => Number(v);

export async function createQuotaStore(redis: Redis, opts: QuotaOptions): Promise<QuotaStore> {
  const [reserveScript, settleScript, releaseScript, ensureScript, resizeScript] = await Promise.all([
    defineNamedScript(redis, RESERVE),
    defineNamedScript(redis, SETTLE),
    defineNamedScript(redis, RELEASE),
    defineNamedScript(redis, ENSURE),
    defineNamedScript(redis, RESIZE),
  ]);

  async function reserve(
    userId: string,
    requestId: string,
    want: number,
    minGrant: number,
    now: number,
    attempt: string,
    byPlan?: SizeByPlan,
  ): Promise<Reservation> {
    const wantsJson = byPlan
      ? JSON.stringify(Object.fromEntries(Object.entries(byPlan).map(([p, s]) => [p, [s.want, s.minGrant]])))
      : '';
    const init = monthlyPeriodAt(now, now);
    let roll: { from: number; to: Period; plan: PlanId; anchor: number } | undefined;
    // A period that ended is rolled over inside the script, with the next period computed here (calendar
    // arithmetic); asked again if the hash changed in between (e.g. a webhook moved the period meanwhile).
    for (let round = 0; round < 4; round++) {
      const r = await reserveScript.run(
        {
          quotaKey: keys.quota(userId),
          requestKey: keys.request(userId, requestId),
          inflightKey: keys.inflight(userId),
          cancelKey: keys.cancel(userId, attempt),
        },
        {
          wantArg: want,
          minGrantArg: minGrant,
          nowArg: now,
          initStart: init.start,
          initEnd: init.end,
          plansJson: PLANS_JSON,
          rollStart: roll?.to.start ?? '',
          rollEnd: roll?.to.end ?? '',
          requestTtlSec: opts.requestTtlSeconds,
          inflightDeadline: now + opts.abandonAfterMs,
          requestId,
          rolledFrom: roll?.from ?? '',
          rollPlan: roll?.plan ?? '',
          rollAnchor: roll?.anchor ?? '',
          attempt,
          wantsJson,
        },
      );
      const period = () => ({ start: num(r.start), end: num(r.end) });
      switch (r.kind) {
        case 'OK':
          return {
            ok: true,
            granted: num(r.granted),
            usedAfter: num(r.usedAfter),
            cap: num(r.cap),
            period: period(),
            plan: r.plan as PlanId,
          };
        case 'DENY':
          return {
            ok: false,
            reason: 'exhausted',
            used: num(r.used),
            cap: num(r.cap),
            period: period(),
            plan: r.plan as PlanId,
          };
        case 'DUP':
          return { ok: false, reason: 'duplicate', state: String(r.state) };
        case 'CANCELLED':
          return { ok: false, reason: 'cancelled' };
        case 'ROLL': {
          const ended = {
            anchor: num(r.anchor),
            end: num(r.end),
            plan: (r.plan === 'pro' ? 'pro' : 'free') as PlanId,
            cancelAtEnd: r.cancelAtEnd === '1',
            confirmed: r.confirmed === '1',
          };
          const next = periodAfter(ended, now);
          roll = { from: ended.end, to: next.period, plan: next.plan, anchor: next.anchor };
          continue;
        }
        default:
          throw new Error(`unexpected reserve reply: ${JSON.stringify(r)}`);
      }
    }
    throw new Error('quota period did not roll over');
  }

  return {
    reserve,

    async resize(userId, requestId, attempt, want, minGrant) {
      const r = await resizeScript.run(
        {
          quotaKey: keys.quota(userId),
          requestKey: keys.request(userId, requestId),
          inflightKey: keys.inflight(userId),
        },
        { attempt, requestId, wantArg: want, minGrantArg: minGrant, plansJson: PLANS_JSON },
      );
      if (r.kind === 'OK') return { ok: true, granted: num(r.granted), usedAfter: num(r.usedAfter), cap: num(r.cap) };
      if (r.kind === 'DENY') return { ok: false, reason: 'exhausted', granted: num(r.granted) };
      return { ok: false, reason: 'gone' };
    },

    async settle(userId, period, event) {
      const minId = event.endedAt - opts.ledgerRetentionDays * 86_400_000;
      const fields: Record<string, string | number> = {
        id: event.requestId,
        user: event.userId,
        action: event.action,
        model: event.model,
        prov: event.provider,
        in: event.inputTokens,
        out: event.outputTokens,
        cached: event.cachedInputTokens,
        reasoning: event.reasoningTokens,
        cost: event.costUsd.toFixed(8),
        prices: event.priceVersion,
        ...(event.usageAnomalies.length > 0 ? { anomalies: event.usageAnomalies.join(',') } : {}),
        status: event.status,
        source: event.source,
        started: event.startedAt,
        ended: event.endedAt,
        prompt: event.promptVersion,
      };
      const r = await settleScript.run(
        {
          quotaKey: keys.quota(userId),
          requestKey: keys.request(userId, event.requestId),
          inflightKey: keys.inflight(userId),
          ledgerKey: keys.ledger(userId),
          dailyKey: keys.daily(userId, period.start),
          alertsKey: keys.alerts(userId),
        },
        {
          actualArg: event.inputTokens + event.outputTokens,
          plansJson: PLANS_JSON,
          day: utcDay(event.endedAt),
          minId: Math.max(0, minId),
          nowArg: event.endedAt,
        },
        Object.entries(fields).flat(),
      );
      const alerts = r.alerts ? r.alerts.split(',').map(num) : [];
      if (r.kind === 'OK')
        return {
          ok: true,
          billed: num(r.billed),
          usedAfter: num(r.usedAfter),
          cap: num(r.cap),
          duplicate: false,
          alerts,
        };
      if (r.kind === 'DUP')
        return { ok: true, billed: num(r.billed), usedAfter: NaN, cap: NaN, duplicate: true, alerts: [] };
      return { ok: false, reason: 'missing' };
    },

    async release(userId, requestId, attempt) {
      const keyed = {
        quotaKey: keys.quota(userId),
        requestKey: keys.request(userId, requestId),
        inflightKey: keys.inflight(userId),
        cancelKey: keys.cancel(userId, attempt),
      };
      return (await releaseScript.run(keyed, { attempt, tombstoneTtlSec: 3600 })).released === '1';
    },

    async ensure(userId, now) {
      const p = monthlyPeriodAt(now, now);
      await ensureScript.run({ quotaKey: keys.quota(userId) }, { periodStart: p.start, periodEnd: p.end });
    },
  };
}
