/**
 * The Stripe stand-in behaves like Stripe for what Redraft calls, as seen through the real SDK: the
 * idempotent setup, meter event identifiers (and their 24 h window) and timestamps, validation after
 * acceptance (reported as thin events), eventually consistent summaries, invoices that finalize after the
 * grace period, invoice items, webhook endpoints rendered in their API version, the portal's configuration,
 * idempotency keys, Checkout rules, and each injected fault as the SDK reports it (and as our reporter
 * classifies it). The test owns the stand-in's clock.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { parseForm, startStripeServer, type FaultKind, type StripeServer } from '../../standins/stripe';
import { standInSetup } from '../support/billing';
import { createStripeClient, createStripeGateway, StripeCallError } from '../../api/billing/stripe/gateway';
import { classifyFailure } from '../../api/billing/stripe/failures';
import { LOOKUP_KEYS, setupStripe, WEBHOOK_EVENTS } from '../../api/billing/operator/setup';
import { loadJobConfig } from '../../api/config/env';

const MIN = 60_000;
const HOUR = 60 * MIN;
let clock = Date.now();
let s: StripeServer;
let sdk: Stripe;
/** A local receiver for webhook deliveries (what the stand-in POSTs, with its headers). */
let hooks: { server: Server; url: string; got: { body: string; headers: IncomingHttpHeaders }[] };
beforeAll(async () => {
  s = await startStripeServer({ now: () => clock });
  sdk = createStripeClient(
    { secretKey: 'sk_test_standin', api: { host: '127.0.0.1', port: s.port, protocol: 'http' }, timeoutMs: 1000 },
    { maxNetworkRetries: 0 },
  );
  const got: { body: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ body, headers: req.headers });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hooks = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
});
afterAll(async () => {
  await s?.close();
  await new Promise((r) => hooks?.server.close(r));
});

const nowSec = () => Math.floor(clock / 1000);
const customer = async () => (await sdk.customers.create({})).id;
const meterEvent = (customerId: string, value: string, identifier: string, timestamp = nowSec()) =>
  sdk.billing.meterEvents.create({
    event_name: 'redraft_tokens',
    payload: { stripe_customer_id: customerId, value },
    identifier,
    timestamp,
  });

describe('Stripe stand-in', () => {
  it('decodes the SDK’s bracket form encoding', () => {
    expect(parseForm('a=1&b[c]=2&d[0][e]=3&d[1][e]=4&f[]=x&f[]=y&g=%20sp+ace')).toEqual({
      a: '1',
      b: { c: '2' },
      d: [{ e: '3' }, { e: '4' }],
      f: ['x', 'y'],
      g: ' sp ace',
    });
  });

  it('is set up idempotently by npm run stripe:setup’s code', async () => {
    const first = await standInSetup(s);
    expect(first.created).toHaveLength(4);
    expect(first.warnings).toEqual([expect.stringMatching(/customer portal is not configured/)]);
    s.setPortalConfigured(true); // its settings saved in the Dashboard
    const second = await standInSetup(s);
    s.setPortalConfigured(false);
    expect(second).toMatchObject({
      created: [],
      warnings: [],
      productId: first.productId,
      meterId: first.meterId,
      basePriceId: first.basePriceId,
      meteredPriceId: first.meteredPriceId,
    });
    const metered = await sdk.prices.retrieve(first.meteredPriceId);
    expect(metered).toMatchObject({
      lookup_key: LOOKUP_KEYS.metered,
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      recurring: { interval: 'month', usage_type: 'metered', meter: first.meterId },
    });
    expect(metered.tiers!.map((t) => [t.up_to, t.unit_amount, String(t.unit_amount_decimal)])).toEqual([
      [500_000, 0, '0'],
      [null, null, '0.0002'],
    ]);
    const base = await sdk.prices.retrieve(first.basePriceId);
    expect(base).toMatchObject({
      unit_amount: 2000,
      currency: 'usd',
      recurring: { interval: 'month', usage_type: 'licensed' },
      lookup_key: LOOKUP_KEYS.base,
    });
    const meter = await sdk.billing.meters.retrieve(first.meterId);
    expect(meter).toMatchObject({
      event_name: 'redraft_tokens',
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
    });
  });

  it('npm run stripe:setup’s code creates the webhook endpoint (the SDK’s API version, the handler’s events) and the meter-error destination, showing their secrets once', async () => {
    const setup = (webhookUrl: string) =>
      setupStripe(sdk, { meterEventName: 'redraft_tokens', webhookUrl } as Parameters<typeof setupStripe>[1]);
    const url = 'https://api.example.test/webhooks/stripe';
    const first = await setup(url);
    expect(first.webhook).toMatchObject({
      url,
      apiVersion: Stripe.API_VERSION,
      secret: expect.stringMatching(/^whsec_/),
      created: true,
    });
    expect(first.thinWebhook).toMatchObject({
      url: `${url}/thin`,
      secret: expect.stringMatching(/^whsec_/),
      created: true,
    });
    const ep = s.webhookEndpoints().find((e) => e.url === url)!;
    expect(ep).toMatchObject({ api_version: Stripe.API_VERSION, secret: first.webhook!.secret });
    expect([...ep.enabled_events].sort()).toEqual([...WEBHOOK_EVENTS].sort());
    expect(s.eventDestinations().find((d) => d.url === `${url}/thin`)).toMatchObject({
      event_payload: 'thin',
      enabled_events: ['v1.billing.meter.error_report_triggered', 'v1.billing.meter.no_meter_found'],
      secret: first.thinWebhook!.secret,
    });
    // Again: nothing new, no secret (Stripe shows it once).
    const second = await setup(url);
    expect(second.webhook).toMatchObject({ id: first.webhook!.id, created: false, updated: false, secret: undefined });
    expect(second.thinWebhook).toMatchObject({ created: false, secret: undefined });
    // An endpoint missing an event gets it; one of another API version is replaced (its version cannot change).
    await sdk.webhookEndpoints.update(ep.id, { enabled_events: ['invoice.paid'] });
    expect((await setup(url)).webhook).toMatchObject({ id: ep.id, updated: true });
    expect([...s.webhookEndpoints().find((e) => e.id === ep.id)!.enabled_events].sort()).toEqual(
      [...WEBHOOK_EVENTS].sort(),
    );
    const oldUrl = 'https://old.example.test/webhooks/stripe';
    const old = await sdk.webhookEndpoints.create({
      url: oldUrl,
      enabled_events: [...WEBHOOK_EVENTS],
      api_version: '2024-06-20',
    });
    const replaced = await setup(oldUrl);
    expect(replaced.webhook).toMatchObject({
      created: true,
      apiVersion: Stripe.API_VERSION,
      secret: expect.stringMatching(/^whsec_/),
    });
    expect(replaced.warnings.join('\n')).toMatch(new RegExp(`${old.id}.*2024-06-20`));
    for (const e of s.webhookEndpoints()) await sdk.webhookEndpoints.del(e.id);
    for (const d of s.eventDestinations()) await sdk.v2.core.eventDestinations.del(d.id);
  });

  it('rejects a repeated meter event identifier like Stripe (400, Stripe-Should-Retry: false) and sums the rest', async () => {
    const cus = await customer();
    const e = {
      event_name: 'redraft_tokens',
      payload: { stripe_customer_id: cus, value: '120' },
      identifier: 'rd_test_dup_1',
      timestamp: nowSec() - 120,
    };
    await sdk.billing.meterEvents.create(e);
    const err = (await sdk.billing.meterEvents.create(e).then(
      () => expect.unreachable(),
      (x: unknown) => x,
    )) as Stripe.errors.StripeError;
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, message: 'An event already exists with identifier rd_test_dup_1.' });
    expect(
      classifyFailure({ statusCode: err.statusCode, type: err.type, message: err.message, headers: err.headers }),
    ).toBe('duplicate');
    await sdk.billing.meterEvents.create({ ...e, identifier: 'rd_test_dup_2', payload: { ...e.payload, value: '30' } });

    const meterId = (await standInSetup(s)).meterId;
    const start = Math.floor((nowSec() - 3600) / 60) * 60;
    const summary = async () =>
      (
        await sdk.billing.meters.listEventSummaries(meterId, {
          customer: cus,
          start_time: start,
          end_time: start + 7200,
        })
      ).data.map((x) => x.aggregated_value);
    // Summaries are eventually consistent: the events show a minute after they were received.
    expect(await summary()).toEqual([0]);
    clock += MIN;
    expect(await summary()).toEqual([150]);
    const unaligned = await sdk.billing.meters
      .listEventSummaries(meterId, { customer: cus, start_time: start + 1, end_time: start + 7200 })
      .catch((x: Stripe.errors.StripeError) => x);
    expect(unaligned).toMatchObject({ statusCode: 400 });
  });

  it('accepts timestamps from 35 days back to 5 minutes ahead only', async () => {
    const send = (timestamp: number, identifier: string) =>
      sdk.billing.meterEvents.create({
        event_name: 'redraft_tokens',
        payload: { stripe_customer_id: 'cus_ts', value: '1' },
        identifier,
        timestamp,
      });
    await expect(send(nowSec() - 34 * 86_400, 'ts_ok_old')).resolves.toMatchObject({ identifier: 'ts_ok_old' });
    await expect(send(nowSec() + 240, 'ts_ok_ahead')).resolves.toMatchObject({ identifier: 'ts_ok_ahead' });
    await expect(send(nowSec() - 36 * 86_400, 'ts_too_old')).rejects.toMatchObject({
      statusCode: 400,
      param: 'timestamp',
    });
    await expect(send(nowSec() + 600, 'ts_too_far')).rejects.toMatchObject({ statusCode: 400 });
  });

  it('replays a POST with the same Idempotency-Key, and applies Checkout’s rules for metered prices', async () => {
    const a = await sdk.customers.create({ metadata: { userId: 'u1' } }, { idempotencyKey: 'redraft-customer-u1' });
    const b = await sdk.customers.create({ metadata: { userId: 'u1' } }, { idempotencyKey: 'redraft-customer-u1' });
    expect(b.id).toBe(a.id);
    const { basePriceId, meteredPriceId } = await standInSetup(s);
    const bad = sdk.checkout.sessions.create({
      mode: 'subscription',
      customer: a.id,
      line_items: [
        { price: basePriceId, quantity: 1 },
        { price: meteredPriceId, quantity: 1 },
      ],
      success_url: 'https://x.example/ok',
    });
    await expect(bad).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/metered/) });
    const ok = await sdk.checkout.sessions.create({
      mode: 'subscription',
      customer: a.id,
      line_items: [{ price: basePriceId, quantity: 1 }, { price: meteredPriceId }],
      success_url: 'https://x.example/ok',
    });
    expect(ok.url).toMatch(/\/checkout\/cs_test_/);
  });

  it.each<[FaultKind, string, number | undefined, boolean]>([
    ['rate_limit', 'StripeRateLimitError', 429, false],
    ['server_error', 'StripeAPIError', 500, false],
    ['server_error_after', 'StripeAPIError', 500, true],
    ['timeout', 'StripeConnectionError', undefined, false],
    ['timeout_after', 'StripeConnectionError', undefined, true],
    ['drop', 'StripeConnectionError', undefined, false],
    ['drop_after', 'StripeConnectionError', undefined, true],
  ])('fault %s reaches the SDK as %s (%s) and is retried; took effect: %s', async (kind, type, status, tookEffect) => {
    // The SDK retries a closed connection once by itself (same Idempotency-Key): two drops reach the caller.
    s.injectFaults({ times: kind.startsWith('drop') ? 2 : 1, kinds: [kind], route: /meter_events/, holdMs: 1500 });
    const identifier = `fault_${kind}_${Date.now()}`;
    const before = s.stats.meterEvents.accepted;
    const err = await sdk.billing.meterEvents
      .create({
        event_name: 'redraft_tokens',
        payload: { stripe_customer_id: 'cus_f', value: '5' },
        identifier,
        timestamp: nowSec(),
      })
      .catch((x: Stripe.errors.StripeError) => x);
    s.clearFaults();
    expect(err).toMatchObject({ type, ...(status ? { statusCode: status } : {}) });
    expect(
      classifyFailure({
        statusCode: (err as Stripe.errors.StripeError).statusCode,
        type: (err as Stripe.errors.StripeError).type,
        message: (err as Error).message,
      }),
    ).toBe('retry');
    expect(s.stats.meterEvents.accepted - before).toBe(tookEffect ? 1 : 0);
  });

  it('a single dropped connection is absorbed by the SDK’s own retry (Stripe replays the original answer)', async () => {
    s.injectFaults({ times: 1, kinds: ['drop_after'], route: /meter_events/ });
    const before = { ...s.stats.meterEvents };
    const e = await sdk.billing.meterEvents.create({
      event_name: 'redraft_tokens',
      payload: { stripe_customer_id: 'cus_f', value: '5' },
      identifier: `replay_${Date.now()}`,
      timestamp: nowSec(),
    });
    s.clearFaults();
    expect(e.object).toBe('billing.meter_event');
    expect(s.stats.meterEvents.accepted - before.accepted).toBe(1);
    // The replay came from the idempotency cache: not a second event, not a duplicate rejection.
    expect(s.stats.meterEvents.duplicates - before.duplicates).toBe(0);
  });

  it('the gateway reports a duplicate as delivered and other failures as typed errors', async () => {
    const cfg = loadJobConfig({
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
      UPSTASH_REDIS_REST_TOKEN: 't',
      ...s.env({ priceBase: 'price_a', priceMetered: 'price_b' }),
      STRIPE_TIMEOUT_MS: '1000',
    });
    const gw = createStripeGateway(cfg.billing);
    const e = { identifier: `gw_${Date.now()}`, customerId: 'cus_gw', value: 42, timestamp: nowSec() };
    expect(await gw.sendMeterEvent(e)).toBe('accepted');
    expect(await gw.sendMeterEvent(e)).toBe('duplicate');
    s.injectFaults({ times: 1, kinds: ['bad_request'], route: /meter_events/ });
    const err = await gw.sendMeterEvent({ ...e, identifier: `${e.identifier}_x` }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(StripeCallError);
    expect(err).toMatchObject({ kind: 'permanent', statusCode: 400 });
    expect(gw.calls).toBe(3);
    expect(await gw.meterId()).toBe((await standInSetup(s)).meterId);
  });

  it('remembers an identifier for a rolling 24 h only: after that the same identifier is counted again', async () => {
    const cus = await customer();
    await meterEvent(cus, '100', 'rd_window_1');
    clock += 23 * HOUR;
    await expect(meterEvent(cus, '100', 'rd_window_1')).rejects.toMatchObject({
      statusCode: 400,
      message: 'An event already exists with identifier rd_window_1.',
    });
    clock += HOUR + 1000; // 24 h after the first one was received
    const reuses = s.stats.identifierReuses;
    await expect(meterEvent(cus, '100', 'rd_window_1')).resolves.toMatchObject({ identifier: 'rd_window_1' });
    expect(s.stats.identifierReuses - reuses).toBe(1);
    expect(s.totals().get(cus)).toBe(200); // Stripe would bill it twice
    // Configurable, e.g. a longer window.
    const long = await startStripeServer({ now: () => clock, identifierWindowMs: 48 * HOUR });
    try {
      const sdk2 = createStripeClient(
        {
          secretKey: 'sk_test_standin',
          api: { host: '127.0.0.1', port: long.port, protocol: 'http' },
          timeoutMs: 1000,
        },
        { maxNetworkRetries: 0 },
      );
      const e = {
        event_name: 'redraft_tokens',
        payload: { stripe_customer_id: 'cus_x', value: '1' },
        identifier: 'rd_window_2',
        timestamp: nowSec(),
      };
      await sdk2.billing.meterEvents.create(e);
      clock += 30 * HOUR;
      await expect(sdk2.billing.meterEvents.create({ ...e, timestamp: nowSec() })).rejects.toMatchObject({
        statusCode: 400,
      });
    } finally {
      await long.close();
    }
  });

  it('refuses identifiers over 100 characters and values over 15 digits at once; other invalid events are accepted, not counted, and reported as thin events', async () => {
    await expect(meterEvent('cus_any', '1', 'x'.repeat(101))).rejects.toMatchObject({
      statusCode: 400,
      param: 'identifier',
    });
    await expect(meterEvent('cus_any', '1234567890123456', 'rd_digits')).rejects.toMatchObject({
      statusCode: 400,
      param: 'payload[value]',
    });
    const cus = await customer();
    const gone = await customer();
    await sdk.customers.del(gone);
    await s.flushMeterErrors(); // earlier tests' errors (no destination yet): reported already
    const errorsBefore = s.meterEventErrors().length;
    for (const [c, v, idf] of [
      [cus, '1.5', 'rd_async_fraction'],
      [cus, '-3', 'rd_async_negative'],
      ['cus_nobody', '10', 'rd_async_unknown'],
      [gone, '10', 'rd_async_deleted'],
      [cus, '7', 'rd_async_ok'],
    ] as const) {
      await expect(meterEvent(c, v, idf)).resolves.toMatchObject({ identifier: idf }); // 200 for all of them
    }
    await expect(
      sdk.billing.meterEvents.create({
        event_name: 'no_such_meter',
        payload: { stripe_customer_id: cus, value: '1' },
        identifier: 'rd_async_nometer',
      }),
    ).resolves.toBeDefined();
    clock += MIN;
    expect(s.totals().get(cus)).toBe(7);
    expect(s.totals().get('cus_nobody')).toBeUndefined();
    expect(
      s
        .meterEventErrors()
        .slice(errorsBefore)
        .map((e) => [e.identifier, e.code]),
    ).toEqual([
      ['rd_async_fraction', 'meter_event_invalid_value'],
      ['rd_async_negative', 'meter_event_invalid_value'],
      ['rd_async_unknown', 'meter_event_customer_not_found'],
      ['rd_async_deleted', 'meter_event_customer_not_found'],
      ['rd_async_nometer', 'no_meter'],
    ]);

    // A thin event destination created through the SDK receives the reports; the full event is fetched back.
    const dest = await sdk.v2.core.eventDestinations.create({
      name: 'test-meter-errors',
      type: 'webhook_endpoint',
      event_payload: 'thin',
      enabled_events: ['v1.billing.meter.error_report_triggered', 'v1.billing.meter.no_meter_found'],
      webhook_endpoint: { url: hooks.url },
      include: ['webhook_endpoint.signing_secret'],
    });
    const secret = dest.webhook_endpoint!.signing_secret!;
    expect(secret).toMatch(/^whsec_/);
    hooks.got.length = 0;
    expect(await s.flushMeterErrors()).toEqual([200, 200]);
    const notes = hooks.got.map((g) =>
      sdk.parseEventNotification(g.body, String(g.headers['stripe-signature']), secret),
    );
    expect(notes.map((n) => n.type).sort()).toEqual([
      'v1.billing.meter.error_report_triggered',
      'v1.billing.meter.no_meter_found',
    ]);
    const report = notes.find((n) => n.type === 'v1.billing.meter.error_report_triggered')!;
    const full = (await report.fetchEvent()) as Stripe.V2.Core.Events.V1BillingMeterErrorReportTriggeredEvent;
    expect(full.data.reason.error_count).toBe(4);
    expect(
      full.data.reason.error_types.map((t) => [
        t.code,
        t.error_count,
        t.sample_errors.map((x) => x.request.identifier),
      ]),
    ).toEqual([
      ['meter_event_invalid_value', 2, ['rd_async_fraction', 'rd_async_negative']],
      ['meter_event_customer_not_found', 2, ['rd_async_unknown', 'rd_async_deleted']],
    ]);
    expect(await s.flushMeterErrors()).toEqual([]); // each error is reported once
    await sdk.v2.core.eventDestinations.update(dest.id, { enabled_events: ['v2.core.event_destination.ping'] });
  });

  it('invoices a period when it ends: a draft, finalized after the grace period; later usage is accepted but on no invoice', async () => {
    const { basePriceId, meteredPriceId } = await standInSetup(s);
    const cus = await customer();
    const session = await sdk.checkout.sessions.create({
      mode: 'subscription',
      customer: cus,
      line_items: [{ price: basePriceId, quantity: 1 }, { price: meteredPriceId }],
      success_url: 'https://x.example/ok',
    });
    s.completeCheckout(session.id);
    const sub = s.subscription(String(s.checkoutSession(session.id)!.subscription))!;
    const p = { start: sub.items.data[0]!.current_period_start, end: sub.items.data[0]!.current_period_end };
    expect(
      (await sdk.invoices.list({ customer: cus })).data.map((i) => [i.billing_reason, i.status, i.amount_due]),
    ).toEqual([['subscription_create', 'paid', 2000]]);

    await meterEvent(cus, '600000', 'rd_inv_1', p.start + 60);
    clock = p.end * 1000 + 5 * MIN;
    await meterEvent(cus, '1000', 'rd_inv_2', p.end - 30); // within the grace period: on the invoice
    const [updated, created] = s.renew(sub.id);
    clock += MIN; // aggregated
    expect([updated!.type, created!.type]).toEqual(['customer.subscription.updated', 'invoice.created']);
    const draft = (await sdk.invoices.list({ customer: cus, limit: 1 })).data[0]!;
    expect(draft).toMatchObject({
      status: 'draft',
      billing_reason: 'subscription_cycle',
      period_start: p.start,
      period_end: p.end,
      automatically_finalizes_at: p.end + 3600,
    });
    const usage = (inv: Stripe.Invoice) =>
      inv.lines.data.find((l) => l.pricing?.price_details?.price === meteredPriceId)!;
    expect(usage(draft)).toMatchObject({ quantity: 601_000, period: { start: p.start, end: p.end }, amount: 20 }); // 101,000 over × 0.0002 ¢

    // A pending invoice item goes onto the customer's next invoice.
    const item = await sdk.invoiceItems.create({
      customer: cus,
      subscription: sub.id,
      currency: 'usd',
      quantity: 50_000,
      unit_amount_decimal: Stripe.Decimal.from('0.0002'),
      description: 'late usage',
      metadata: { rd_identifier: 'rd_item_1' },
    });
    expect(item).toMatchObject({ amount: 10, invoice: null });
    expect((await sdk.invoiceItems.list({ customer: cus, pending: true })).data.map((i) => i.id)).toEqual([item.id]);

    clock = (p.end + 3600) * 1000 + 1000; // the grace period is over
    const final = await sdk.invoices.retrieve(draft.id);
    expect(final).toMatchObject({
      status: 'paid',
      automatically_finalizes_at: null,
      status_transitions: { finalized_at: p.end + 3600 },
    });
    expect(usage(final).quantity).toBe(601_000);
    await meterEvent(cus, '5000', 'rd_inv_3', p.end - 20); // accepted, in the summaries…
    clock += MIN;
    const meterId = (await standInSetup(s)).meterId;
    const summary = await sdk.billing.meters.listEventSummaries(meterId, {
      customer: cus,
      start_time: Math.floor(p.start / 60) * 60,
      end_time: Math.ceil(p.end / 60) * 60,
    });
    expect(summary.data[0]!.aggregated_value).toBe(606_000);
    expect(usage(await sdk.invoices.retrieve(draft.id)).quantity).toBe(601_000); // …on no invoice

    s.renew(sub.id);
    const next = (await sdk.invoices.list({ customer: cus, limit: 1 })).data[0]!;
    expect(
      next.lines.data
        .filter((l) => l.parent?.type === 'invoice_item_details')
        .map((l) => [l.amount, l.metadata.rd_identifier]),
    ).toEqual([[10, 'rd_item_1']]);
    expect((await sdk.invoiceItems.list({ customer: cus, pending: true })).data).toEqual([]);
  });

  it('renders webhook events in each endpoint’s API version, and shows an endpoint’s secret only when it is created', async () => {
    const old = await sdk.webhookEndpoints.create({
      url: hooks.url,
      enabled_events: ['customer.subscription.updated'],
      api_version: '2024-06-20',
    });
    expect(old.secret).toMatch(/^whsec_/);
    const listed = (await sdk.webhookEndpoints.list()).data.find((e) => e.id === old.id)!;
    expect(listed.api_version).toBe('2024-06-20');
    expect(listed.secret).toBeUndefined();
    await expect(
      sdk.webhookEndpoints.update(old.id, { api_version: Stripe.API_VERSION } as Stripe.WebhookEndpointUpdateParams),
    ).rejects.toMatchObject({ statusCode: 400 });
    const fallback = await sdk.webhookEndpoints.create({ url: `${hooks.url}?default`, enabled_events: ['*'] });
    expect(fallback.api_version).not.toBe(Stripe.API_VERSION); // without api_version: the account's default, an older one

    const { basePriceId, meteredPriceId } = await standInSetup(s);
    const session = await sdk.checkout.sessions.create({
      mode: 'subscription',
      customer: await customer(),
      line_items: [{ price: basePriceId, quantity: 1 }, { price: meteredPriceId }],
      success_url: 'https://x.example/ok',
    });
    s.completeCheckout(session.id);
    const subId = String(s.checkoutSession(session.id)!.subscription);
    hooks.got.length = 0;
    await s.deliver(s.setCancelAtPeriodEnd(subId, true));
    const received = hooks.got.map((g) => JSON.parse(g.body) as Stripe.Event);
    expect(received.map((e) => e.api_version).sort()).toEqual([fallback.api_version, '2024-06-20'].sort());
    const forOld = received.find((e) => e.api_version === '2024-06-20')!;
    const subOld = forOld.data.object as unknown as Record<string, unknown> & {
      items: { data: Record<string, unknown>[] };
    };
    expect(typeof subOld.current_period_end).toBe('number');
    expect(subOld.items.data[0]!.current_period_end).toBeUndefined();
    await sdk.webhookEndpoints.del(old.id);
    await sdk.webhookEndpoints.del(fallback.id);
  });

  it('opens a billing portal session only with a portal configuration, as Stripe', async () => {
    const cus = await customer();
    const refused = await sdk.billingPortal.sessions
      .create({ customer: cus })
      .catch((x: Stripe.errors.StripeError) => x);
    expect(refused).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/default configuration has not been created/),
    });
    expect((await sdk.billingPortal.configurations.list({ is_default: true })).data).toEqual([]);
    s.setPortalConfigured(true);
    expect((await sdk.billingPortal.sessions.create({ customer: cus })).url).toMatch(/\/portal\/bps_/);
    expect((await sdk.billingPortal.configurations.list({ is_default: true })).data).toHaveLength(1);
    s.setPortalConfigured(false);
  });

  it('can answer a duplicate with the v2 code (or another message) than its usual 400', async () => {
    const cus = await customer();
    await meterEvent(cus, '1', 'rd_dup_v2');
    s.setDuplicateAnswer({
      code: 'duplicate_meter_event',
      message: (i) => `A meter event with identifier ${i} already exists.`,
    });
    const err = (await meterEvent(cus, '1', 'rd_dup_v2').catch((x: unknown) => x)) as Stripe.errors.StripeError;
    s.setDuplicateAnswer(undefined);
    expect(err).toMatchObject({
      statusCode: 400,
      code: 'duplicate_meter_event',
      message: 'A meter event with identifier rd_dup_v2 already exists.',
    });
  });
});
