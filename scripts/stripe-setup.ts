/**
 * `npm run stripe:setup`: creates (idempotently — safe to run again) the Redraft Pro product, the token
 * meter (sum, customer mapped by id), the $20/month base price and the graduated metered price; with
 * `--api-url https://<your-api>` also the webhook endpoint (`/webhooks/stripe`, in the SDK's pinned API
 * version, with the events the handler needs) and the event destination for Stripe's asynchronous meter
 * errors (`/webhooks/stripe/thin`, thin payloads); then prints the env lines to paste (signing secrets are
 * shown by Stripe only when an endpoint is created) and the invoice finalization grace period to set.
 * Needs STRIPE_SECRET_KEY (test mode first); STRIPE_API_BASE points it at another Stripe-compatible server
 * (the local stand-in); STRIPE_METER_EVENT_NAME names the meter event.
 */
import { parseArgs } from 'node:util';
import { loadStripeSetupConfig } from '../api/config/env';
import { createStripeClient, STRIPE_API_VERSION } from '../api/billing/stripe/gateway';
import { recommendedGraceHours, setupStripe, THIN_EVENTS, WEBHOOK_EVENTS } from '../api/billing/operator/setup';
import { configOrExit } from './lib/config-or-exit';

const { values } = parseArgs({ options: { 'api-url': { type: 'string' } } });
const config = configOrExit(loadStripeSetupConfig);
const b = config.billing;
const where = b.api
  ? `${b.api.protocol}://${b.api.host}:${b.api.port}${b.standIn ? ' (OFFLINE STAND-IN, not Stripe)' : ''}`
  : 'https://api.stripe.com';
const mode = b.secretKey.includes('_live_') ? 'LIVE MODE' : 'test mode';
let webhookUrl: string | undefined;
if (values['api-url']) {
  try {
    webhookUrl = `${new URL(values['api-url']).origin}/webhooks/stripe`;
  } catch {
    console.error(`--api-url must be the API's URL, e.g. https://api.example.com (got "${values['api-url']}")`);
    process.exit(64);
  }
}
const interval = Number(process.env.REPORT_USAGE_INTERVAL_MINUTES ?? 60);
console.log(`Setting up Stripe for Redraft (${mode}) at ${where}`);

try {
  const result = await setupStripe(createStripeClient(b), {
    meterEventName: b.meterEventName,
    ...(webhookUrl ? { webhookUrl } : {}),
    log: (l) => console.log(`  ${l}`),
  });
  for (const w of result.warnings) console.log(`  WARNING: ${w}`);
  console.log(
    result.created.length > 0 ? `Created: ${result.created.join(', ')}` : 'Nothing to create: already set up.',
  );
  const secretLine = (name: string, r: typeof result.webhook) =>
    !r
      ? `# ${name}: pass --api-url https://<your-api> to create its endpoint`
      : r.secret
        ? `${name}=${r.secret}`
        : `# ${name}: unchanged (endpoint ${r.id} existed; Stripe shows a secret only when it creates an endpoint)`;
  console.log(`
Paste into the API's environment:

STRIPE_PRICE_BASE=${result.basePriceId}
STRIPE_PRICE_METERED=${result.meteredPriceId}
STRIPE_METER_EVENT_NAME=${b.meterEventName}
${secretLine('STRIPE_WEBHOOK_SECRET', result.webhook)}
${secretLine('STRIPE_THIN_WEBHOOK_SECRET', result.thinWebhook)}
`);
  if (!webhookUrl) {
    console.log(`Webhooks: run again with --api-url https://<your-api> to create them, or create by hand (Dashboard → Developers →
Webhooks) an endpoint https://<your-api>/webhooks/stripe in API version ${STRIPE_API_VERSION} (the API refuses events of any
other version) with: ${WEBHOOK_EVENTS.join(', ')};
and an event destination (thin payload) https://<your-api>/webhooks/stripe/thin with: ${THIN_EVENTS.join(', ')}.
Locally: stripe listen --forward-to localhost:8787/webhooks/stripe (its events use your account's version).
`);
  }
  const h = (gap: number) => `${recommendedGraceHours(gap)} h`;
  console.log(`Invoice finalization grace period — set it in the Dashboard (Settings → Billing → Invoices → invoice
finalization grace period; Stripe's default is 1 hour, up to 72). A period's usage reaches its own invoice only until
that invoice finalizes; usage reported later is billed as an invoice item on the customer's next invoice. Recommended:
  - Node server (REPORT_USAGE_INTERVAL_MINUTES=${interval}${interval > 0 ? ', period-end pass every minute' : ': schedule off'}) or a ?mode=due cron every 5 minutes: ${h(5)}
  - an hourly cron only: ${h(60)}
  - a daily cron only (e.g. Vercel Hobby): ${h(1440)}
`);
  console.log(
    `${result.portalConfigured === false ? 'Customer portal: save its settings once (Dashboard → Settings → Billing → Customer portal), in test and live mode.\n' : ''}Also set CHECKOUT_SUCCESS_URL, CHECKOUT_CANCEL_URL and PORTAL_RETURN_URL (see README: Billing).`,
  );
} catch (err) {
  console.error(`Stripe setup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
