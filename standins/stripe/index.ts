/**
 * OFFLINE STAND-IN for the parts of Stripe's API that Redraft calls — dev, tests and benchmarks only,
 * never on a production code path. The real `stripe` SDK talks to it through
 * `new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })` (STRIPE_API_BASE).
 *
 * It keeps state the way Stripe does for what we use, and is as strict as Stripe wherever Redraft's
 * billing depends on it:
 * - products (custom ids), prices (lookup keys, graduated tiers, metered on a meter), meters (one active
 *   meter per event name), customers (deletable), Checkout Sessions, billing portal sessions (only with a
 *   portal configuration: a new account has none until its settings are saved once), subscriptions;
 * - meter events: an `identifier` (at most 100 characters) is rejected with Stripe's 400 ("An event already
 *   exists with identifier …", `Stripe-Should-Retry: false`) only within a rolling window (24 h by default,
 *   `identifierWindowMs`) — after it the same identifier is accepted and counted again; timestamps must be
 *   within 35 days back / 5 minutes ahead; values with more than 15 digits are refused. Like Stripe, some
 *   checks happen after the event was accepted (200): an unknown or deleted customer, no customer, a value
 *   that is not a whole number, an event name no meter has. Such events are not counted; they are reported
 *   as thin v2 events (`v1.billing.meter.error_report_triggered`, `v1.billing.meter.no_meter_found`) to the
 *   event destinations (`POST /v2/core/event_destinations`), fetched in full from `GET /v2/core/events/:id`;
 * - event summaries aggregate (sum) per customer over minute-aligned windows, eventually: an event shows
 *   in them `summaryLagMs` (60 s by default) after it was received;
 * - invoices: when a period ends (`renew`, or a subscription ending at its period end), the period's
 *   invoice is created as a draft and finalized `invoiceGraceMs` later (1 h by default, as Stripe's default
 *   finalization grace period). Its metered line is the meter's sum for the period as aggregated when it
 *   finalized: events received later are accepted and show in summaries, but are on no invoice. Pending
 *   invoice items (`POST /v1/invoiceitems`) go onto the customer's next invoice;
 * - webhook endpoints (`POST /v1/webhook_endpoints`, with `api_version`): events are rendered in the
 *   endpoint's API version (before 2025-03-31: the subscription's period on the subscription, not its items;
 *   `invoice.subscription` instead of `invoice.parent`);
 * - `Idempotency-Key`: a POST replayed with the same key gets the first answer back (as Stripe does), for
 *   24 h (`idempotencyKeyTtlMs`): Stripe may prune keys after that.
 *
 * Faults can be injected per route: 429, 500 (before or after the request took effect), a timeout (no
 * answer; before or after taking effect) and a dropped connection (before or after). "After" faults are
 * the dangerous ones for billing: Stripe recorded the event but the caller never heard so.
 *
 * Scenario helpers do what Stripe would do on its side (complete a Checkout, renew a period, schedule a
 * cancellation, end a subscription, fail or pay an invoice) and return the webhook events Stripe would send;
 * `deliver` signs them with `stripe.webhooks.generateTestHeaderString` and POSTs them to a webhook URL
 * (or to every registered endpoint, each in its API version).
 *
 * Standalone (dev, bench): `tsx standins/stripe/main.ts --port 0` prints `{"url": ...}` on one line;
 * `GET /_standin/stats`, `GET /_standin/totals`, `POST /_standin/faults` expose the same controls over HTTP.
 *
 * Layout: state.ts (the stores, clock, identifier window, kept idempotent answers), routes/ (one module per
 * resource, each given the state), invoices.ts and events.ts (objects as Stripe renders them), scenarios.ts,
 * webhooks.ts (deliveries and thin meter-error events), faults.ts, pages.ts (Checkout and portal pages),
 * control.ts (/_standin/), http.ts (one request), server.ts (start and the StripeServer handle).
 */
export { ALL_FAULTS, type FaultKind, type FaultPlan } from './faults';
export { parseForm } from './form';
export { startStripeServer } from './server';
export type {
  EventDestinationRecord,
  MeterEventError,
  MeterEventRecord,
  StripeServer,
  StripeServerOptions,
  StripeServerStats,
  WebhookDelivery,
  WebhookEndpointRecord,
} from './types';
