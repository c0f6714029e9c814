/** Starts the Stripe stand-in: its state, routes and HTTP server, and the handle tests and dev drive it with. */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type Stripe from 'stripe';
import { renderEvent } from './events';
import { handle } from './http';
import { renderInvoice } from './invoices';
import { send } from './reply';
import { apiRoutes } from './routes';
import * as scenarios from './scenarios';
import { StripeState } from './state';
import type { StripeServer, StripeServerOptions } from './types';
import { deliver, flushMeterErrors } from './webhooks';

export async function startStripeServer(opts: StripeServerOptions = {}): Promise<StripeServer> {
  const s = new StripeState(opts);
  const router = apiRoutes(s);
  const sockets = new Set<Socket>();

  const http = createServer((req, res) => {
    handle(s, router, req, res).catch((err) => {
      const body = JSON.stringify({ error: { type: 'api_error', message: `stand-in bug: ${String(err)}` } });
      if (!res.headersSent) send(res, 500, body);
    });
  });
  http.keepAliveTimeout = 30_000;
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  s.base = base;
  const flushEvery = opts.meterErrorFlushMs;
  const flushTimer = flushEvery ? setInterval(() => void flushMeterErrors(s).catch(() => {}), flushEvery) : undefined;
  flushTimer?.unref?.();

  return {
    url: base,
    port,
    env: (extra = {}) => ({
      STRIPE_SECRET_KEY: opts.apiKey ?? 'sk_test_standin',
      STRIPE_API_BASE: base,
      STRIPE_STAND_IN: '1',
      STRIPE_WEBHOOK_SECRET: extra.webhookSecret ?? s.webhookTarget?.secret ?? 'whsec_standin',
      ...(extra.thinWebhookSecret ? { STRIPE_THIN_WEBHOOK_SECRET: extra.thinWebhookSecret } : {}),
      ...(extra.priceBase ? { STRIPE_PRICE_BASE: extra.priceBase } : {}),
      ...(extra.priceMetered ? { STRIPE_PRICE_METERED: extra.priceMetered } : {}),
      CHECKOUT_SUCCESS_URL: `${base}/done?checkout=success`,
      CHECKOUT_CANCEL_URL: `${base}/done?checkout=cancel`,
      PORTAL_RETURN_URL: `${base}/done?portal=return`,
    }),
    stats: s.stats,
    injectFaults: (plan) => s.faults.inject(plan),
    clearFaults: () => s.faults.clear(),
    meterEvents: (customer) => (customer ? [...(s.meterEventsByCustomer.get(customer) ?? [])] : [...s.meterEventLog]),
    totals: (range) => s.totals(range),
    meterEventErrors: () => s.meterErrors.map((e) => ({ ...e })),
    flushMeterErrors: () => flushMeterErrors(s),
    invoices: (customer) =>
      [...s.invoices.values()]
        .filter((i) => !customer || i.customer === customer)
        .sort((a, b) => a.created - b.created)
        .map((i) => renderInvoice(s, i)),
    invoiceItems: (customer) =>
      [...s.invoiceItems.values()]
        .filter((i) => !customer || i.customer === customer)
        .map((i) => structuredClone(i) as unknown as Stripe.InvoiceItem),
    webhookEndpoints: () =>
      [...s.endpoints.values()].map((e) => ({
        id: e.id,
        url: e.url,
        api_version: e.api_version,
        enabled_events: [...e.enabled_events],
        secret: e.secret,
        status: e.status,
      })),
    eventDestinations: () =>
      [...s.destinations.values()].map((d) => ({
        id: d.id,
        name: d.name,
        url: d.url,
        enabled_events: [...d.enabled_events],
        event_payload: d.event_payload,
        secret: d.secret,
        status: d.status,
      })),
    renderEvent,
    subscription: (sid) => s.subscriptions.get(sid),
    checkoutSession: (sid) => s.sessions.get(sid),
    customer: (cid) => s.customers.get(cid),
    deleteCustomer(cid) {
      const cust = s.customers.get(cid);
      if (!cust) throw new Error(`stand-in: no customer ${cid}`);
      cust.deleted = true;
    },
    setPortalConfigured(configured) {
      s.portalConfigured = configured;
    },
    setDuplicateAnswer(answer) {
      s.duplicateAnswer = answer;
    },
    completeCheckout: (sessionId, at) => scenarios.completeCheckout(s, sessionId, at),
    renew: (subscriptionId, at) => scenarios.renew(s, subscriptionId, at),
    setCancelAtPeriodEnd: (subscriptionId, cancel) => scenarios.setCancelAtPeriodEnd(s, subscriptionId, cancel),
    endSubscription: (subscriptionId, at) => scenarios.endSubscription(s, subscriptionId, at),
    failPayment: (subscriptionId) => scenarios.failPayment(s, subscriptionId),
    payInvoice: (subscriptionId) => scenarios.payInvoice(s, subscriptionId),
    deliver: (events, to) => deliver(s, events, to),
    setWebhook(to) {
      s.webhookTarget = to;
    },
    setThinWebhook(to) {
      s.thinTarget = to;
    },
    deliveries: () => s.deliveryLog.map((d) => ({ ...d })),
    async close() {
      if (flushTimer) clearInterval(flushTimer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
