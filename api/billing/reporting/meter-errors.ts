/**
 * Stripe's asynchronous meter errors. Stripe validates some meter events after answering 200 (an unknown
 * or deleted customer, a value that is not a whole number, an event name no meter has, …) and reports them
 * in thin v2 events — `v1.billing.meter.error_report_triggered` (per meter) and
 * `v1.billing.meter.no_meter_found` — sent to an event destination (POST /webhooks/stripe/thin), each
 * with a count per error code and a few samples naming the meter event's identifier. The reporter
 * committed those batches as delivered; here each sample is tied back to its batch and user (the
 * identifier names both), its tokens are counted under the period's `err:` total (reconcile lists them as
 * `meter_error`), and the error is logged and counted in /metrics.
 */
import type Stripe from 'stripe';
import { defineNamedScript, type Redis } from '../../store/redis';
import { keys } from '../../metering/keys';
import type { Metrics } from '../../observe/metrics';
import { parseIdentifier } from './batches';
import { METER_ERROR } from './reporter.lua';

/** Stripe retries an event destination's deliveries for up to 3 days; remember handled events for 30. */
const THIN_EVENT_MARKER_TTL_S = 30 * 86_400;

export const METER_ERROR_EVENT_TYPES = [
  'v1.billing.meter.error_report_triggered',
  'v1.billing.meter.no_meter_found',
] as const;

export interface MeterErrorStore {
  /** The user behind one of our identifiers (hashed ones are looked up), undefined for identifiers not ours. */
  userOf(identifier: string): Promise<string | undefined>;
  record(
    userId: string,
    e: { identifier: string; code: string; message: string; eventId: string; lastId: string },
    now: number,
  ): Promise<{ outcome: 'recorded' | 'duplicate' | 'unknown'; period?: number; tokens: number; customer?: string }>;
  handled(eventId: string): Promise<boolean>;
  markHandled(eventId: string): Promise<void>;
}

export async function createMeterErrorStore(redis: Redis): Promise<MeterErrorStore> {
  const script = await defineNamedScript(redis, METER_ERROR);
  return {
    async userOf(identifier) {
      const id = parseIdentifier(identifier);
      if (!id) return undefined;
      if (id.hash) {
        const user = (await redis.get(keys.identifierUser(id.hash))) as string | null;
        if (user) return user;
      }
      return id.userId;
    },
    async record(userId, e, now) {
      const { outcome, period, tokens, customer } = await script.run(
        { reportKey: keys.report(userId), logKey: keys.reportLog(userId), errorsKey: keys.reportErrors(userId) },
        {
          identifier: e.identifier,
          code: e.code,
          message: e.message,
          stripeEventId: e.eventId,
          nowArg: now,
          lastId: e.lastId,
        },
      );
      return {
        outcome: outcome === 'RECORDED' ? 'recorded' : outcome === 'DUPLICATE' ? 'duplicate' : 'unknown',
        ...(period ? { period: Number(period) } : {}),
        tokens: Number(tokens ?? 0),
        ...(customer ? { customer } : {}),
      };
    },
    async handled(eventId) {
      return (await redis.exists(keys.thinEvent(eventId))) === 1;
    },
    async markHandled(eventId) {
      await redis.set(keys.thinEvent(eventId), '1', { ex: THIN_EVENT_MARKER_TTL_S });
    },
  };
}

type MeterErrorEvent =
  | Stripe.V2.Core.Events.V1BillingMeterErrorReportTriggeredEvent
  | Stripe.V2.Core.Events.V1BillingMeterNoMeterFoundEvent;

export interface MeterErrorOutcome {
  type: string;
  outcome: 'recorded' | 'duplicate' | 'ignored';
  /** Errors Stripe counted in the report, samples tied to one of our batches, samples naming no batch we know. */
  errors: number;
  tied: number;
  untied: number;
}

/** One fetched thin event → every sampled error tied to its batch; logs and metrics for all of them. */
export async function handleMeterErrorEvent(
  event: Stripe.V2.Core.Event,
  deps: { store: MeterErrorStore; log: (line: Record<string, unknown>) => void; metrics: Metrics; now: () => number },
): Promise<MeterErrorOutcome> {
  if (!(METER_ERROR_EVENT_TYPES as readonly string[]).includes(event.type))
    return { type: event.type, outcome: 'ignored', errors: 0, tied: 0, untied: 0 };
  if (await deps.store.handled(event.id))
    return { type: event.type, outcome: 'duplicate', errors: 0, tied: 0, untied: 0 };
  const data = (event as MeterErrorEvent).data;
  let tied = 0;
  let untied = 0;
  for (const t of data.reason.error_types) {
    deps.metrics.inc('redraft_meter_errors_total', { code: t.code }, t.error_count);
    for (const sample of t.sample_errors) {
      const identifier = sample.request.identifier;
      const userId = await deps.store.userOf(identifier);
      const lastId = userId ? (parseIdentifier(identifier)?.lastId ?? '') : '';
      const r = userId
        ? await deps.store.record(
            userId,
            { identifier, code: t.code, message: sample.error_message, eventId: event.id, lastId },
            deps.now(),
          )
        : { outcome: 'unknown' as const, tokens: 0 };
      if (r.outcome === 'duplicate') continue;
      if (r.outcome === 'recorded') tied++;
      else untied++;
      deps.log({
        level: 'error',
        msg: 'stripe refused a delivered meter event',
        event: event.id,
        code: t.code,
        error: sample.error_message,
        identifier,
        ...(userId ? { user: userId } : {}),
        ...(r.outcome === 'recorded'
          ? { tokens: r.tokens, periodStart: new Date(r.period!).toISOString(), customer: r.customer }
          : { note: 'no batch of ours has this identifier' }),
      });
    }
    const unsampled = t.error_count - t.sample_errors.length;
    if (unsampled > 0) {
      untied += unsampled;
      deps.log({
        level: 'error',
        msg: 'stripe refused more meter events than it named',
        event: event.id,
        code: t.code,
        count: unsampled,
        note: 'Stripe sends a few samples per error code: see the meter’s errors in the Stripe Dashboard; npm run reconcile shows the periods that differ',
      });
    }
  }
  deps.metrics.inc('redraft_meter_error_batches_total', { outcome: 'tied' }, tied);
  deps.metrics.inc('redraft_meter_error_batches_total', { outcome: 'untied' }, untied);
  await deps.store.markHandled(event.id);
  return { type: event.type, outcome: 'recorded', errors: data.reason.error_count, tied, untied };
}
