/**
 * The Stripe stand-in behaves like Stripe for what Redraft calls, as seen through the real SDK: the
 * idempotent setup, meter event identifiers and timestamps, summaries, idempotency keys, Checkout rules,
 * and each injected fault as the SDK reports it (and as our reporter classifies it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { parseForm, startStripeServer, type FaultKind, type StripeServer } from '../support/stripe-server';
import { standInSetup } from '../support/billing';
import { createStripeClient, createStripeGateway, StripeCallError } from '../../api/billing/stripe';
import { classifyFailure } from '../../api/billing/batches';
import { LOOKUP_KEYS } from '../../api/billing/setup';
import { loadJobConfig } from '../../api/config/env';

let s: StripeServer;
let sdk: Stripe;
beforeAll(async () => {
  s = await startStripeServer();
  sdk = createStripeClient({ secretKey: 'sk_test_standin', api: { host: '127.0.0.1', port: s.port, protocol: 'http' }, timeoutMs: 1000 }, { maxNetworkRetries: 0 });
});
afterAll(async () => {
  await s?.close();
});

const nowSec = () => Math.floor(Date.now() / 1000);

describe('Stripe stand-in', () => {
  it('decodes the SDK’s bracket form encoding', () => {
    expect(parseForm('a=1&b[c]=2&d[0][e]=3&d[1][e]=4&f[]=x&f[]=y&g=%20sp+ace')).toEqual({ a: '1', b: { c: '2' }, d: [{ e: '3' }, { e: '4' }], f: ['x', 'y'], g: ' sp ace' });
  });

  it('is set up idempotently by npm run stripe:setup’s code', async () => {
    const first = await standInSetup(s);
    expect(first.created).toHaveLength(4);
    const second = await standInSetup(s);
    expect(second).toMatchObject({ created: [], warnings: [], productId: first.productId, meterId: first.meterId, basePriceId: first.basePriceId, meteredPriceId: first.meteredPriceId });
    const metered = await sdk.prices.retrieve(first.meteredPriceId);
    expect(metered).toMatchObject({ lookup_key: LOOKUP_KEYS.metered, billing_scheme: 'tiered', tiers_mode: 'graduated', recurring: { interval: 'month', usage_type: 'metered', meter: first.meterId } });
    expect(metered.tiers!.map((t) => [t.up_to, t.unit_amount, String(t.unit_amount_decimal)])).toEqual([
      [500_000, 0, '0'],
      [null, null, '0.0002'],
    ]);
    const base = await sdk.prices.retrieve(first.basePriceId);
    expect(base).toMatchObject({ unit_amount: 2000, currency: 'usd', recurring: { interval: 'month', usage_type: 'licensed' }, lookup_key: LOOKUP_KEYS.base });
    const meter = await sdk.billing.meters.retrieve(first.meterId);
    expect(meter).toMatchObject({ event_name: 'redraft_tokens', default_aggregation: { formula: 'sum' }, customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' } });
  });

  it('rejects a repeated meter event identifier like Stripe (400, Stripe-Should-Retry: false) and sums the rest', async () => {
    const e = { event_name: 'redraft_tokens', payload: { stripe_customer_id: 'cus_sum', value: '120' }, identifier: 'rd_test_dup_1', timestamp: nowSec() - 120 };
    await sdk.billing.meterEvents.create(e);
    const err = (await sdk.billing.meterEvents.create(e).then(
      () => expect.unreachable(),
      (x: unknown) => x,
    )) as Stripe.errors.StripeError;
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, message: 'An event already exists with identifier rd_test_dup_1.' });
    expect(classifyFailure({ statusCode: err.statusCode, type: err.type, message: err.message, headers: err.headers })).toBe('duplicate');
    await sdk.billing.meterEvents.create({ ...e, identifier: 'rd_test_dup_2', payload: { ...e.payload, value: '30' } });

    const meterId = (await standInSetup(s)).meterId;
    const start = Math.floor((nowSec() - 3600) / 60) * 60;
    const list = await sdk.billing.meters.listEventSummaries(meterId, { customer: 'cus_sum', start_time: start, end_time: start + 7200 });
    expect(list.data.map((x) => x.aggregated_value)).toEqual([150]);
    const unaligned = await sdk.billing.meters.listEventSummaries(meterId, { customer: 'cus_sum', start_time: start + 1, end_time: start + 7200 }).catch((x: Stripe.errors.StripeError) => x);
    expect(unaligned).toMatchObject({ statusCode: 400 });
  });

  it('accepts timestamps from 35 days back to 5 minutes ahead only', async () => {
    const send = (timestamp: number, identifier: string) => sdk.billing.meterEvents.create({ event_name: 'redraft_tokens', payload: { stripe_customer_id: 'cus_ts', value: '1' }, identifier, timestamp });
    await expect(send(nowSec() - 34 * 86_400, 'ts_ok_old')).resolves.toMatchObject({ identifier: 'ts_ok_old' });
    await expect(send(nowSec() + 240, 'ts_ok_ahead')).resolves.toMatchObject({ identifier: 'ts_ok_ahead' });
    await expect(send(nowSec() - 36 * 86_400, 'ts_too_old')).rejects.toMatchObject({ statusCode: 400, param: 'timestamp' });
    await expect(send(nowSec() + 600, 'ts_too_far')).rejects.toMatchObject({ statusCode: 400 });
  });

  it('replays a POST with the same Idempotency-Key, and applies Checkout’s rules for metered prices', async () => {
    const a = await sdk.customers.create({ metadata: { userId: 'u1' } }, { idempotencyKey: 'redraft-customer-u1' });
    const b = await sdk.customers.create({ metadata: { userId: 'u1' } }, { idempotencyKey: 'redraft-customer-u1' });
    expect(b.id).toBe(a.id);
    const { basePriceId, meteredPriceId } = await standInSetup(s);
    const bad = sdk.checkout.sessions.create({ mode: 'subscription', customer: a.id, line_items: [{ price: basePriceId, quantity: 1 }, { price: meteredPriceId, quantity: 1 }], success_url: 'https://x.example/ok' });
    await expect(bad).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/metered/) });
    const ok = await sdk.checkout.sessions.create({ mode: 'subscription', customer: a.id, line_items: [{ price: basePriceId, quantity: 1 }, { price: meteredPriceId }], success_url: 'https://x.example/ok' });
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
    const err = await sdk.billing.meterEvents.create({ event_name: 'redraft_tokens', payload: { stripe_customer_id: 'cus_f', value: '5' }, identifier, timestamp: nowSec() }).catch((x: Stripe.errors.StripeError) => x);
    s.clearFaults();
    expect(err).toMatchObject({ type, ...(status ? { statusCode: status } : {}) });
    expect(classifyFailure({ statusCode: (err as Stripe.errors.StripeError).statusCode, type: (err as Stripe.errors.StripeError).type, message: (err as Error).message })).toBe('retry');
    expect(s.stats.meterEvents.accepted - before).toBe(tookEffect ? 1 : 0);
  });

  it('a single dropped connection is absorbed by the SDK’s own retry (Stripe replays the original answer)', async () => {
    s.injectFaults({ times: 1, kinds: ['drop_after'], route: /meter_events/ });
    const before = { ...s.stats.meterEvents };
    const e = await sdk.billing.meterEvents.create({ event_name: 'redraft_tokens', payload: { stripe_customer_id: 'cus_f', value: '5' }, identifier: `replay_${Date.now()}`, timestamp: nowSec() });
    s.clearFaults();
    expect(e.object).toBe('billing.meter_event');
    expect(s.stats.meterEvents.accepted - before.accepted).toBe(1);
    // The replay came from the idempotency cache: not a second event, not a duplicate rejection.
    expect(s.stats.meterEvents.duplicates - before.duplicates).toBe(0);
  });

  it('the gateway reports a duplicate as delivered and other failures as typed errors', async () => {
    const cfg = loadJobConfig({ UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1', UPSTASH_REDIS_REST_TOKEN: 't', ...s.env({ priceBase: 'price_a', priceMetered: 'price_b' }), STRIPE_TIMEOUT_MS: '1000' });
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
});
