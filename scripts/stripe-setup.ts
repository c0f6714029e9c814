/**
 * `npm run stripe:setup`: creates (idempotently — safe to run again) the Redraft Pro product, the token
 * meter (sum, customer mapped by id), the $20/month base price and the graduated metered price, then
 * prints the env lines to paste. Needs STRIPE_SECRET_KEY (test mode first); STRIPE_API_BASE points it at
 * another Stripe-compatible server (the local stand-in); STRIPE_METER_EVENT_NAME names the meter event.
 */
import { loadStripeSetupConfig } from '../api/config/env';
import { createStripeClient } from '../api/billing/stripe';
import { setupStripe, WEBHOOK_EVENTS } from '../api/billing/setup';
import { configOrExit } from './lib/config-or-exit';

const config = configOrExit(loadStripeSetupConfig);
const b = config.billing;
const where = b.api ? `${b.api.protocol}://${b.api.host}:${b.api.port}${b.standIn ? ' (OFFLINE STAND-IN, not Stripe)' : ''}` : 'https://api.stripe.com';
const mode = b.secretKey.includes('_live_') ? 'LIVE MODE' : 'test mode';
console.log(`Setting up Stripe for Redraft (${mode}) at ${where}`);

try {
  const result = await setupStripe(createStripeClient(b), { meterEventName: b.meterEventName, log: (l) => console.log(`  ${l}`) });
  for (const w of result.warnings) console.log(`  WARNING: ${w}`);
  console.log(result.created.length > 0 ? `Created: ${result.created.join(', ')}` : 'Nothing to create: already set up.');
  console.log(`
Paste into the API's environment:

STRIPE_PRICE_BASE=${result.basePriceId}
STRIPE_PRICE_METERED=${result.meteredPriceId}
STRIPE_METER_EVENT_NAME=${b.meterEventName}

Then add a webhook endpoint https://<your-api>/webhooks/stripe (Dashboard → Developers → Webhooks,
or locally: stripe listen --forward-to localhost:8787/webhooks/stripe) with these events:
  ${WEBHOOK_EVENTS.join('\n  ')}
and set STRIPE_WEBHOOK_SECRET=whsec_… from it. Also set CHECKOUT_SUCCESS_URL, CHECKOUT_CANCEL_URL and
PORTAL_RETURN_URL (see README: Billing), and activate the customer portal in the Dashboard (Settings → Billing → Customer portal).`);
} catch (err) {
  console.error(`Stripe setup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
