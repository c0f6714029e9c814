/**
 * POST /v1/billing/checkout — a Stripe Checkout Session (subscription: base + metered price) for the
 * signed-in user; POST /v1/billing/portal — a Stripe billing portal session. Both answer `{ url }`.
 */
import { Hono } from 'hono';
import type { BillingRedirectResponse } from '../../shared/contract';
import type { BillingServices, Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError, meteringUnavailable } from '../errors';
import { StripeCallError } from '../billing/stripe/gateway';

export const billingDisabled = () =>
  new AppError(
    'billing_disabled',
    'Billing is not enabled on this server (no STRIPE_SECRET_KEY): everyone is on the free plan.',
  );
const portalNotConfigured = (cause: unknown) =>
  new AppError(
    'billing_portal_not_configured',
    "Managing billing is not set up on this server yet: its Stripe customer portal has no configuration. The operator has to save the portal's settings once in the Stripe Dashboard (Settings → Billing → Customer portal, in the mode the key is for). Nothing was changed.",
    { cause },
  );
const stripeUnavailable = (cause: unknown) =>
  new AppError('billing_unavailable', 'Stripe is unavailable right now. Nothing was changed; try again shortly.', {
    cause,
  });

/** Stripe failures are 503 billing_unavailable; Redis failures 503 metering_unavailable; AppErrors pass. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof StripeCallError && err.reason === 'portal_not_configured') throw portalNotConfigured(err);
    if (err instanceof StripeCallError) throw stripeUnavailable(err);
    throw meteringUnavailable(err);
  }
}

export type BillingRouteDeps = Pick<Services, 'usage' | 'billing' | 'now'>;

export function billingRoutes(s: BillingRouteDeps) {
  const app = new Hono<AppEnv>();
  const need = (): BillingServices => {
    if (!s.billing) throw billingDisabled();
    return s.billing;
  };

  app.post('/v1/billing/checkout', async (c) => {
    const b = need();
    const { userId } = c.get('user');
    const now = s.now();
    const url = await guarded(async () => {
      const balance = await s.usage.balance(userId, now, 1);
      if (balance?.plan.id === 'pro') {
        throw new AppError(
          'already_subscribed',
          'You already have Redraft Pro. Manage your subscription in the billing portal (POST /v1/billing/portal).',
        );
      }
      // One Stripe customer per user, created once (an idempotency key makes concurrent calls agree) and
      // remembered with metadata.userId, so every later webhook maps back to this user.
      let customerId = balance?.customerId ?? (await b.entitlements.customerOf(userId));
      if (!customerId)
        customerId = await b.entitlements.linkCustomer(userId, await b.gateway.createCustomer(userId), now);
      return b.gateway.createCheckoutSession({ userId, customerId });
    });
    return c.json<BillingRedirectResponse>({ url });
  });

  app.post('/v1/billing/portal', async (c) => {
    const b = need();
    const { userId } = c.get('user');
    const url = await guarded(async () => {
      const customerId = await b.entitlements.customerOf(userId);
      if (!customerId)
        throw new AppError(
          'no_billing_account',
          'You have no billing account yet: upgrade to Pro first (POST /v1/billing/checkout).',
        );
      return b.gateway.createPortalSession(customerId);
    });
    return c.json<BillingRedirectResponse>({ url });
  });

  return app;
}
