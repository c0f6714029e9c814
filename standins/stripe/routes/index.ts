/** Every API route of the Stripe stand-in, by resource. */
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { mustFind } from '../values';
import { billingPortalRoutes } from './billing-portal';
import { checkoutRoutes } from './checkout';
import { customerRoutes } from './customers';
import { invoiceRoutes } from './invoices';
import { meterEventRoutes } from './meter-events';
import { meterRoutes } from './meters';
import { productRoutes } from './products';
import { Router } from './router';
import { v2EventRoutes } from './v2-events';
import { webhookEndpointRoutes } from './webhook-endpoints';

export { Router, type Route } from './router';

export function apiRoutes(s: StripeState): Router {
  const r = new Router();
  productRoutes(s, r);
  meterRoutes(s, r);
  meterEventRoutes(s, r);
  customerRoutes(s, r);
  checkoutRoutes(s, r);
  billingPortalRoutes(s, r);
  invoiceRoutes(s, r);
  webhookEndpointRoutes(s, r);
  v2EventRoutes(s, r);
  // Subscriptions are read-only: the scenarios (scenarios.ts) change them, as Stripe does on its side.
  r.route('GET', '/v1/subscriptions/:id', (m) => mustFind(s.subscriptions, m[1]!, 'subscription') as unknown as Obj);
  return r;
}
