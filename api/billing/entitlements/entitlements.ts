/**
 * Entitlements: each user's plan, Stripe customer, subscription item and billing period, kept in Redis
 * from Stripe's webhook events. Applying an event is one Lua step per user (entitlements.lua.ts):
 * idempotent by event id, and an out-of-order delivery can never replace a newer state.
 */
import type Stripe from 'stripe';
import { defineNamedScript, type Redis } from '../../store/redis';
import { keys } from '../../metering/keys';
import { monthlyPeriodAt } from '../../metering/periods';
import { APPLY, LINK } from './entitlements.lua';
import { entitlementOf, subscriptionOfInvoice, type Entitlement } from './subscription';
import type { StripeGateway } from '../stripe/gateway';

/** Stripe retries a webhook for up to 3 days; remember processed event ids for 30. */
const EVENT_MARKER_TTL_S = 30 * 86_400;

export type ApplyResult =
  | { outcome: 'applied'; plan: string; period: { start: number; end: number }; rolled: boolean }
  | { outcome: 'duplicate' }
  | { outcome: 'stale'; why: string };

export interface EntitlementStore {
  apply(
    userId: string,
    e: Entitlement,
    event: { id: string; created: number; deleted: boolean },
    now: number,
  ): Promise<ApplyResult>;
  /** The user's Stripe customer, stored once (an existing one wins). */
  linkCustomer(userId: string, customerId: string, now: number): Promise<string>;
  customerOf(userId: string): Promise<string | undefined>;
  userOfCustomer(customerId: string): Promise<string | undefined>;
}

export async function createEntitlementStore(
  redis: Redis,
  opts: { periodEndFlushDelayMs: number },
): Promise<EntitlementStore> {
  const [applyScript, linkScript] = await Promise.all([
    defineNamedScript(redis, APPLY),
    defineNamedScript(redis, LINK),
  ]);

  return {
    async apply(userId, e, event, now) {
      const free = monthlyPeriodAt(now, now);
      const marker = keys.stripeEvent(userId, event.id);
      // Global bookkeeping of an applied event (single-key commands: other Redis Cluster slots): the
      // customer → user map, the reporter's list of paid users, the period-end flush. Only after the
      // script said the event is applied; it marked the event 'pending' until this is done, so if this
      // fails (503), Stripe's retry finds 'pending' and finishes it. A stale or duplicate event changes none of it.
      const bookkeep = async () => {
        await Promise.all([
          redis.set(keys.customerUser(e.customerId), userId),
          redis.sadd(keys.billingUsers, userId),
          // LT: never postpone a flush already due earlier (a renewal must not skip the ended period's flush).
          e.entitled && !event.deleted
            ? redis.zadd(
                keys.reportDue,
                { lt: true },
                { score: e.periodEnd + opts.periodEndFlushDelayMs, member: userId },
              )
            : Promise.resolve(0),
        ]);
        await redis.set(marker, String(now), { xx: true, keepTtl: true });
      };
      const r = await applyScript.run(
        { quotaKey: keys.quota(userId), billingKey: keys.billing(userId), markerKey: marker },
        {
          eventId: event.id,
          createdArg: event.created,
          kind: event.deleted ? 'deleted' : 'state',
          sub: e.subscriptionId,
          customer: e.customerId,
          itemId: e.meteredItemId ?? '',
          status: e.status,
          entitledArg: e.entitled ? '1' : '0',
          pastDueArg: e.pastDue ? '1' : '0',
          pstartArg: e.periodStart,
          pendArg: e.periodEnd,
          anchorArg: e.anchor,
          cancelAtEndArg: e.cancelAtPeriodEnd ? '1' : '0',
          nowArg: now,
          freeStart: free.start,
          freeEnd: free.end,
          markerTtlSec: EVENT_MARKER_TTL_S,
        },
      );
      if (r.result === 'DUP') {
        if (r.marker === 'pending') await bookkeep(); // applied earlier, its bookkeeping failed then
        return { outcome: 'duplicate' };
      }
      if (r.result === 'STALE') return { outcome: 'stale', why: String(r.why) };
      if (r.result === 'OK') {
        await bookkeep();
        return {
          outcome: 'applied',
          plan: String(r.plan),
          period: { start: Number(r.start), end: Number(r.end) },
          rolled: r.rolled === '1',
        };
      }
      throw new Error(`unexpected entitlement reply: ${JSON.stringify(r)}`);
    },

    async linkCustomer(userId, customerId, now) {
      await redis.set(keys.customerUser(customerId), userId);
      const free = monthlyPeriodAt(now, now);
      const r = await linkScript.run(
        { quota: keys.quota(userId) },
        { customer: customerId, freeStart: free.start, freeEnd: free.end },
      );
      return r.customer!;
    },

    async customerOf(userId) {
      const v = (await redis.hget(keys.quota(userId), 'customer')) as string | null;
      return v ?? undefined;
    },

    async userOfCustomer(customerId) {
      const v = (await redis.get(keys.customerUser(customerId))) as string | null;
      return v ?? undefined;
    },
  };
}

export type WebhookOutcome = {
  type: string;
  outcome: ApplyResult['outcome'] | 'ignored';
  userId?: string;
  why?: string;
};

/**
 * One verified Stripe event → entitlement changes.
 * - customer.subscription.created/updated/deleted carry the subscription: applied as is.
 * - checkout.session.completed and invoice.paid / invoice.payment_failed name a subscription: it is
 *   retrieved (its current state), then applied. A failed invoice marks the user past due (capped at the
 *   included allowance) until an invoice is paid; Stripe's own retries decide when it is canceled.
 * The user is found by our customer → user map (written when we created the customer), else the
 * subscription's `metadata.userId`, else the Checkout Session's `client_reference_id`.
 */
export async function handleStripeEvent(
  event: Stripe.Event,
  deps: {
    store: EntitlementStore;
    gateway: Pick<StripeGateway, 'retrieveSubscription'>;
    meteredPriceId: string;
    now: () => number;
  },
): Promise<WebhookOutcome> {
  const { store, gateway } = deps;
  const meta = { id: event.id, created: event.created, deleted: false };
  let sub: Stripe.Subscription | undefined;
  let userHint: string | undefined;
  let pastDueOverride: boolean | undefined;

  switch (event.type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      sub = event.data.object;
      meta.deleted = event.type === 'customer.subscription.deleted';
      break;
    case 'checkout.session.completed': {
      const session = event.data.object;
      if (session.mode !== 'subscription' || !session.subscription)
        return { type: event.type, outcome: 'ignored', why: 'not a subscription checkout' };
      // The user and customer are recorded when the subscription's state is applied (not before the
      // duplicate and ordering checks).
      userHint = session.client_reference_id ?? session.metadata?.userId ?? undefined;
      sub = await gateway.retrieveSubscription(
        typeof session.subscription === 'string' ? session.subscription : session.subscription.id,
      );
      break;
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const subId = subscriptionOfInvoice(event.data.object);
      if (!subId) return { type: event.type, outcome: 'ignored', why: 'not a subscription invoice' };
      sub = await gateway.retrieveSubscription(subId);
      pastDueOverride = event.type === 'invoice.payment_failed';
      break;
    }
    default:
      return { type: event.type, outcome: 'ignored', why: 'event type not used' };
  }

  const ent = entitlementOf(sub, deps.meteredPriceId);
  if (pastDueOverride !== undefined && ent.entitled) ent.pastDue = pastDueOverride || ent.status === 'past_due';
  const userId = (await store.userOfCustomer(ent.customerId)) ?? ent.userIdHint ?? userHint;
  if (!userId) return { type: event.type, outcome: 'ignored', why: `no Redraft user for customer ${ent.customerId}` };
  const result = await store.apply(userId, ent, meta, deps.now());
  return {
    type: event.type,
    userId,
    outcome: result.outcome,
    ...(result.outcome === 'stale' ? { why: result.why } : {}),
  };
}
