/**
 * Billing portal sessions, only with a portal configuration: a new account has none until its settings are saved
 * once (`portalConfigured`). The session's URL is the stand-in's own portal page (pages.ts).
 */
import type { StripeState } from '../state';
import { ApiError, listOf, meta, str } from '../values';
import { liveCustomer } from './customers';
import type { Router } from './router';

/** Stripe's answer on an account whose customer portal settings were never saved. */
const NO_DEFAULT_CONFIGURATION =
  'No configuration provided and your test mode default configuration has not been created. Provide a ' +
  'configuration or create your default by saving your customer portal settings in test mode at ' +
  'https://dashboard.stripe.com/test/settings/billing/portal.';

/** The configuration saving the portal settings in the Dashboard makes. */
const defaultPortalConfiguration = () => ({
  id: 'bpc_default_standin',
  object: 'billing_portal.configuration',
  active: true,
  is_default: true,
  features: { subscription_cancel: { enabled: true, mode: 'at_period_end' } },
  metadata: {},
  livemode: false,
});

export function billingPortalRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/billing_portal/sessions', (_m, p) => {
    const customer = str(p.customer);
    liveCustomer(s, customer, 'customer');
    const configuration = str(p.configuration);
    if (configuration && s.portalConfigurations.get(configuration)?.active !== true) {
      throw new ApiError(400, `No such configuration: '${configuration}'`, 'resource_missing', 'configuration');
    }
    if (!configuration && !s.portalConfigured) throw new ApiError(400, NO_DEFAULT_CONFIGURATION);
    const pid = s.id('bps');
    const portal = {
      id: pid,
      object: 'billing_portal.session',
      customer,
      return_url: str(p.return_url) ?? null,
      url: `${s.base}/portal/${pid}`,
      created: s.nowSec(),
      livemode: false,
    };
    s.portals.set(pid, portal);
    return portal;
  });

  r.route('GET', '/v1/billing_portal/configurations', (_m, _p, q) => {
    const all = [...s.portalConfigurations.values()];
    if (s.portalConfigured) all.unshift(defaultPortalConfiguration());
    const data = all
      .filter((c) => q.is_default === undefined || String(c.is_default) === q.is_default)
      .filter((c) => q.active === undefined || String(c.active) === q.active);
    return listOf(data, q, '/v1/billing_portal/configurations');
  });
  r.route('POST', '/v1/billing_portal/configurations', (_m, p) => {
    const cfg = {
      id: s.id('bpc'),
      object: 'billing_portal.configuration',
      active: true,
      is_default: false,
      features: p.features ?? {},
      metadata: meta(p.metadata),
      created: s.nowSec(),
      livemode: false,
    };
    s.portalConfigurations.set(cfg.id, cfg);
    return cfg;
  });
}
