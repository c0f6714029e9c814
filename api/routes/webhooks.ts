/**
 * POST /webhooks/stripe — Stripe's events keep entitlements in Redis. The signature is verified on the
 * raw body; each event is applied idempotently (api/billing/entitlements.ts). A 2xx tells Stripe to stop
 * retrying: events we do not use, duplicates and stale (out-of-order) events are 200; a failure on our
 * side (Redis, Stripe) is 503, and an event rendered in another API version than the SDK's is 400
 * (webhook_api_version), so Stripe delivers the event again later.
 */
import { Hono } from 'hono';
import type Stripe from 'stripe';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';
import { handleStripeEvent } from '../billing/entitlements/entitlements';
import { STRIPE_API_VERSION } from '../billing/stripe/gateway';
import { billingDisabled } from './billing';
import { readBody } from '../middleware/body-limit';

/** Stripe's events are far smaller; the cap holds while the body streams, before the signature is checked. */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

export type WebhookRouteDeps = Pick<Services, 'billing' | 'log' | 'now'> & {
  /** The metered price of the subscription (STRIPE_PRICE_METERED); undefined when billing is off. */
  meteredPriceId: string | undefined;
};

export function webhookRoutes(s: WebhookRouteDeps) {
  const app = new Hono<AppEnv>();
  app.post('/webhooks/stripe', async (c) => {
    const b = s.billing;
    if (!b || !s.meteredPriceId) throw billingDisabled();
    const signature = c.req.header('Stripe-Signature');
    if (!signature) throw new AppError('invalid_signature', 'Missing Stripe-Signature header.');
    const raw = new TextDecoder().decode(await readBody(c, MAX_WEBHOOK_BYTES)); // the exact body: the signature covers these bytes
    let event: Stripe.Event;
    try {
      event = await b.gateway.verifyWebhook(raw, signature);
    } catch (err) {
      s.log({
        level: 'warn',
        msg: 'stripe webhook rejected: bad signature',
        error: err instanceof Error ? err.message : String(err),
      });
      throw new AppError(
        'invalid_signature',
        'The Stripe-Signature header does not match this body and the webhook secret.',
      );
    }
    // Stripe renders an event in the endpoint's API version; the handler reads this SDK's shapes only
    // (items.data[].current_period_*, invoice.parent). Another version is refused, not misread: a non-2xx
    // makes Stripe retry it (up to 3 days) while the operator re-creates the endpoint.
    if (event.api_version !== STRIPE_API_VERSION) {
      s.log({
        level: 'error',
        msg: 'stripe webhook refused: API version',
        event: event.id,
        type: event.type,
        apiVersion: event.api_version,
        expected: STRIPE_API_VERSION,
      });
      throw new AppError(
        'webhook_api_version',
        `Event ${event.id} is rendered in Stripe API version ${event.api_version ?? '(none)'}; this server reads ${STRIPE_API_VERSION} only. Create the webhook endpoint in that version (npm run stripe:setup -- --api-url <this API> does it) and set STRIPE_WEBHOOK_SECRET to its secret; Stripe retries this event meanwhile.`,
      );
    }
    try {
      const result = await handleStripeEvent(event, {
        store: b.entitlements,
        gateway: b.gateway,
        meteredPriceId: s.meteredPriceId,
        now: s.now,
      });
      s.log({ msg: 'stripe webhook', event: event.id, ...result });
      return c.json({ received: true, ...result });
    } catch (err) {
      s.log({
        level: 'error',
        msg: 'stripe webhook failed; Stripe will retry',
        event: event.id,
        type: event.type,
        error: err instanceof Error ? err.message : String(err),
      });
      throw new AppError('billing_unavailable', 'Could not process the event right now; Stripe will retry it.', {
        cause: err,
      });
    }
  });
  return app;
}
