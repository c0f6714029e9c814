/**
 * Webhook events as Stripe sends them: made in the SDK's API version, rendered for an endpoint of another
 * version (before 2025-03-31: the subscription's period on the subscription, not its items;
 * `invoice.subscription` instead of `invoice.parent`).
 */
import Stripe from 'stripe';
import type { StripeState } from './state';
import type { Obj } from './types';

/** Webhook events of API versions before 2025-03-31 (basil) carry the older shapes. */
const OLD_SHAPES_BEFORE = '2025-03-31';

/** An event of `type` about (a snapshot of) `object`, with the attributes it changed. */
export const event = (s: StripeState, type: string, object: unknown, previous?: Obj): Stripe.Event =>
  ({
    id: s.id('evt'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: s.nowSec(),
    data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  }) as unknown as Stripe.Event;

/** An event as an endpoint of `apiVersion` receives it (the shapes Redraft reads changed in 2025-03-31). */
export function renderEvent(e: Stripe.Event, apiVersion: string): Stripe.Event {
  if (e.api_version === apiVersion) return e;
  const out = structuredClone(e) as unknown as Obj & { data: { object: Obj; previous_attributes?: Obj } };
  out.api_version = apiVersion;
  if (apiVersion < OLD_SHAPES_BEFORE) {
    const o = out.data.object;
    if (o.object === 'subscription') {
      const items = (o.items as { data: Obj[] }).data;
      o.current_period_start = items[0]?.current_period_start;
      o.current_period_end = items[0]?.current_period_end;
      for (const item of items) {
        delete item.current_period_start;
        delete item.current_period_end;
      }
      delete out.data.previous_attributes?.items;
    }
    if (o.object === 'invoice') {
      o.subscription = ((o.parent as Obj | null)?.subscription_details as Obj | undefined)?.subscription ?? null;
      delete o.parent;
    }
  }
  return out as unknown as Stripe.Event;
}
