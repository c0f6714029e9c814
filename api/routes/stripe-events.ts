/**
 * POST /webhooks/stripe/thin — thin v2 events from a Stripe event destination (npm run stripe:setup creates
 * it): Stripe's asynchronous meter errors (`v1.billing.meter.error_report_triggered`,
 * `v1.billing.meter.no_meter_found`). The signature is verified on the raw body with
 * STRIPE_THIN_WEBHOOK_SECRET (the SDK's parseEventNotification); the event's data is then fetched from
 * Stripe (thin payloads carry none) and each error tied to its batch (api/billing/meter-errors.ts).
 * 200 when handled (or a type we do not use), 503 when it cannot be handled now (Stripe retries).
 */
import { Hono } from 'hono';
import { readBody } from '../middleware/body-limit';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';
import { handleMeterErrorEvent } from '../billing/reporting/meter-errors';
import { billingDisabled } from './billing';

const MAX_WEBHOOK_BYTES = 1024 * 1024;

export type StripeEventRouteDeps = Pick<Services, 'billing' | 'log' | 'metrics' | 'now'> & {
  thinWebhookSecret: string | undefined;
};

export function stripeEventRoutes(s: StripeEventRouteDeps) {
  const app = new Hono<AppEnv>();
  app.post('/webhooks/stripe/thin', async (c) => {
    const b = s.billing;
    if (!b) throw billingDisabled();
    if (!s.thinWebhookSecret)
      throw new AppError(
        'billing_disabled',
        'Thin Stripe events are not received here: STRIPE_THIN_WEBHOOK_SECRET is not set (npm run stripe:setup prints it).',
      );
    const signature = c.req.header('Stripe-Signature');
    if (!signature) throw new AppError('invalid_signature', 'Missing Stripe-Signature header.');
    // Capped as it streams (with or without Content-Length), before the signature check.
    const raw = new TextDecoder().decode(await readBody(c, MAX_WEBHOOK_BYTES));
    let thin: Awaited<ReturnType<typeof b.gateway.thinEvent>>;
    try {
      thin = await b.gateway.thinEvent(raw, signature);
    } catch (err) {
      s.log({
        level: 'warn',
        msg: 'stripe thin event rejected: bad signature',
        error: err instanceof Error ? err.message : String(err),
      });
      throw new AppError(
        'invalid_signature',
        'The Stripe-Signature header does not match this body and STRIPE_THIN_WEBHOOK_SECRET.',
      );
    }
    try {
      const result = await handleMeterErrorEvent(await thin.fetch(), {
        store: b.meterErrors,
        log: s.log,
        metrics: s.metrics,
        now: s.now,
      });
      s.log({ msg: 'stripe thin event', event: thin.notification.id, ...result });
      return c.json({ received: true, ...result });
    } catch (err) {
      s.log({
        level: 'error',
        msg: 'stripe thin event failed; Stripe will retry',
        event: thin.notification.id,
        type: thin.notification.type,
        error: err instanceof Error ? err.message : String(err),
      });
      throw new AppError('billing_unavailable', 'Could not process the event right now; Stripe will retry it.', {
        cause: err,
      });
    }
  });
  return app;
}
