/**
 * Subscriptions through Checkout and webhooks, against the Stripe stand-in through the real SDK; webhook
 * payloads signed with stripe.webhooks.generateTestHeaderString. The test owns the clock (API and
 * stand-in share it), so periods can end without waiting a month.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { startBillingStack, type BillingStack } from '../support/billing';
import { ledgerOf, startStack, usedOf } from '../support/stack';
import type { UsageResponse } from '../../shared/contract';
import { addMonths } from '../../api/metering/periods';
import { keys } from '../../api/metering/keys';

let clock = Date.now();
const now = () => clock;
let b: BillingStack;
let n = 0;
const freshUser = () => `user_wh${++n}_${Date.now().toString(36)}`;

beforeAll(async () => {
  b = await startBillingStack({ stripe: { now }, services: { now } });
});
afterAll(async () => {
  await b?.close();
});

type Api = Awaited<ReturnType<BillingStack['as']>>;
const usage = async (api: Api) => (await (await api('/v1/usage')).json()) as UsageResponse;
const quota = (userId: string) => b.stack.db.hgetall(keys.quota(userId));
async function rewrite(api: Api, text = 'Tell our customers the new shoes are light and fast.') {
  const res = await api('/v1/rewrite', { method: 'POST', body: JSON.stringify({ text, action: 'rewrite' }) });
  const body = await res.text();
  return { status: res.status, body };
}

/** A signed-in user who upgraded through Checkout (events delivered in the given order). */
async function subscribed(order: (e: Stripe.Event[]) => Stripe.Event[] = (e) => e) {
  const userId = freshUser();
  const api = await b.as(userId);
  const res = await api('/v1/billing/checkout', { method: 'POST' });
  expect(res.status).toBe(200);
  const { url } = (await res.json()) as { url: string };
  const sessionId = url.split('/').pop()!;
  const events = b.stripe.completeCheckout(sessionId);
  expect(await b.deliver(order(events))).toEqual([200, 200, 200]);
  const subId = b.stripe.checkoutSession(sessionId)!.subscription as string;
  return { userId, api, sessionId, subId, sub: () => b.stripe.subscription(subId)! };
}

const periodOf = (sub: Stripe.Subscription) => ({
  start: sub.items.data[0]!.current_period_start * 1000,
  end: sub.items.data[0]!.current_period_end * 1000,
});

describe('checkout and the billing portal', () => {
  it('upgrades a free user to Pro on the Stripe period, whatever order the events arrive in', async () => {
    const userId = freshUser();
    const api = await b.as(userId);
    const before = await usage(api);
    expect(before).toMatchObject({
      plan: 'free',
      billing: { enabled: true, canUpgrade: true, canManage: false },
      alerts: [],
    });
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(() => ledgerOf(b.stack.db, userId)).toHaveLength(1);
    const freeUsed = await usedOf(b.stack.db, userId);
    const freeStart = Number((await quota(userId)).start);

    const res = await api('/v1/billing/checkout', { method: 'POST' });
    expect(res.status).toBe(200);
    const { url } = (await res.json()) as { url: string };
    expect(url).toMatch(new RegExp(`^${b.stripe.url}/checkout/cs_test_`));
    const sessionId = url.split('/').pop()!;
    const session = b.stripe.checkoutSession(sessionId)!;
    expect(session).toMatchObject({
      mode: 'subscription',
      client_reference_id: userId,
      line_items_prices: [b.setup.basePriceId, b.setup.meteredPriceId],
    });
    expect(b.stripe.customer(String(session.customer))).toMatchObject({ metadata: { userId } });

    // Stripe does not promise an order: the invoice first, the checkout last.
    const events = b.stripe.completeCheckout(sessionId);
    const byType = (t: string) => events.find((e) => e.type === t)!;
    expect(
      await b.deliver([
        byType('invoice.paid'),
        byType('customer.subscription.created'),
        byType('checkout.session.completed'),
      ]),
    ).toEqual([200, 200, 200]);

    const sub = b.stripe.subscription(String(b.stripe.checkoutSession(sessionId)!.subscription))!;
    const p = periodOf(sub);
    const after = await usage(api);
    expect(after).toMatchObject({
      plan: 'pro',
      usedTokens: 0,
      includedTokens: 500_000,
      hardCapTokens: 25_500_000,
      billing: { enabled: true, canUpgrade: false, canManage: true },
    });
    expect(after.period).toEqual({ start: new Date(p.start).toISOString(), end: new Date(p.end).toISOString() });
    // The free period's usage is kept under its own start; the paid period starts from zero.
    expect(Number((await quota(userId))[`used:${freeStart}`])).toBe(freeUsed);
    expect(await b.stack.db.hgetall(keys.billing(userId))).toMatchObject({
      sub: sub.id,
      customer: String(session.customer),
      item: sub.items.data[1]!.id,
      status: 'active',
    });
    expect(await b.stack.db.get(`rd:stripe:customer:${session.customer}`)).toBe(userId);
    expect(await b.stack.db.sismember(keys.billingUsers, userId)).toBe(1);

    const again = await api('/v1/billing/checkout', { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'already_subscribed' } });

    const portal = await api('/v1/billing/portal', { method: 'POST' });
    expect(portal.status).toBe(200);
    expect(((await portal.json()) as { url: string }).url).toMatch(new RegExp(`^${b.stripe.url}/portal/bps_`));
  });

  it('reuses one Stripe customer per user, even for concurrent checkouts', async () => {
    const userId = freshUser();
    const api = await b.as(userId);
    const urls = await Promise.all(
      [1, 2, 3].map(
        async () => ((await (await api('/v1/billing/checkout', { method: 'POST' })).json()) as { url: string }).url,
      ),
    );
    const customers = new Set(urls.map((u) => b.stripe.checkoutSession(u.split('/').pop()!)!.customer));
    expect(customers.size).toBe(1);
    expect((await quota(userId)).customer).toBe([...customers][0]);
  });

  it('has no portal before a customer exists', async () => {
    const api = await b.as(freshUser());
    const res = await api('/v1/billing/portal', { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'no_billing_account' } });
  });

  it('answers 503 when Stripe fails, and changes nothing', async () => {
    const userId = freshUser();
    const api = await b.as(userId);
    b.stripe.injectFaults({ times: 10, kinds: ['server_error'], route: /customers/ });
    const res = await api('/v1/billing/checkout', { method: 'POST' });
    b.stripe.clearFaults();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'billing_unavailable' } });
    expect((await quota(userId)).customer).toBeUndefined();
  });
});

describe('POST /webhooks/stripe', () => {
  it('refuses a bad signature, a tampered body and a missing header, changing nothing', async () => {
    const { userId, subId } = await subscribed();
    const before = await quota(userId);
    const [update] = b.stripe.setCancelAtPeriodEnd(subId, true);
    const payload = JSON.stringify(update);
    const post = (body: string, sig?: string) =>
      fetch(b.webhook.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(sig ? { 'Stripe-Signature': sig } : {}) },
        body,
      });

    const wrongSecret = await post(
      payload,
      Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_ours' }),
    );
    expect(wrongSecret.status).toBe(400);
    expect(await wrongSecret.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    const tampered = await post(
      payload.replace('"cancel_at_period_end":true', '"cancel_at_period_end":false'),
      Stripe.webhooks.generateTestHeaderString({ payload, secret: b.webhook.secret }),
    );
    expect(tampered.status).toBe(400);
    const stale = await post(
      payload,
      Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: b.webhook.secret,
        timestamp: Math.floor(Date.now() / 1000) - 3600,
      }),
    );
    expect(stale.status).toBe(400);
    expect((await post(payload)).status).toBe(400);
    expect(await quota(userId)).toEqual(before);
    b.stripe.setCancelAtPeriodEnd(subId, false);
  });

  it('applies a replayed event once: usage since then is not reset again', async () => {
    const { userId, api, subId, sub } = await subscribed();
    const startedAt = clock;
    clock = sub().items.data[0]!.current_period_end * 1000 + 1000;
    const renewal = b.stripe.renew(subId);
    expect(await b.deliver(renewal)).toEqual([200, 200]);
    const q1 = await quota(userId);
    expect(Number(q1.start)).toBe(periodOf(sub()).start);
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(() => usedOf(b.stack.db, userId)).toBeGreaterThan(0);
    const used = await usedOf(b.stack.db, userId);

    const replay = await fetch(b.webhook.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({
          payload: JSON.stringify(renewal[0]),
          secret: b.webhook.secret,
        }),
      },
      body: JSON.stringify(renewal[0]),
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ received: true, outcome: 'duplicate' });
    expect(await usedOf(b.stack.db, userId)).toBe(used);
    expect(await quota(userId)).toEqual({ ...q1, used: String(used) });
    clock = startedAt;
  });

  it('keeps the newest state when subscription updates arrive out of order', async () => {
    const { userId, subId, sub } = await subscribed();
    const p1 = periodOf(sub());
    const startedAt = clock;
    clock += 5_000;
    const [older] = b.stripe.setCancelAtPeriodEnd(subId, true); // sent first…
    clock += 5_000;
    const [newer] = b.stripe.setCancelAtPeriodEnd(subId, false);
    // …but delivered after the newer one.
    expect(await b.deliver([newer!, older!])).toEqual([200, 200]);
    expect((await quota(userId)).cancelAtEnd).toBe('0');

    // A renewal, then a late update still about the previous period: the period does not go back.
    clock = p1.end + 2_000;
    const [renewed] = b.stripe.renew(subId);
    const p2 = periodOf(sub());
    const res = await fetch(b.webhook.url, {
      method: 'POST',
      headers: {
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({
          payload: JSON.stringify(renewed),
          secret: b.webhook.secret,
        }),
      },
      body: JSON.stringify(renewed),
    });
    expect(res.status).toBe(200);
    const lateAboutP1 = structuredClone(older!);
    lateAboutP1.id = `${older!.id}_late`;
    lateAboutP1.created = Math.floor(clock / 1000) + 10; // even with a newer timestamp, an older period loses
    const outcome = await (async () => {
      const payload = JSON.stringify(lateAboutP1);
      const r = await fetch(b.webhook.url, {
        method: 'POST',
        headers: {
          'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: b.webhook.secret }),
        },
        body: payload,
      });
      return (await r.json()) as { outcome: string };
    })();
    expect(outcome.outcome).toBe('stale');
    const q = await quota(userId);
    expect({ start: Number(q.start), end: Number(q.end), plan: q.plan, cancelAtEnd: q.cancelAtEnd }).toEqual({
      start: p2.start,
      end: p2.end,
      plan: 'pro',
      cancelAtEnd: '0',
    });

    // Deleted, then an older "active" update: the subscription never comes back.
    clock += 5_000;
    const [activeUpdate] = b.stripe.setCancelAtPeriodEnd(subId, false);
    clock += 5_000;
    expect(await b.deliver(b.stripe.endSubscription(subId))).toEqual([200]);
    expect(await b.deliver([activeUpdate!])).toEqual([200]);
    expect((await quota(userId)).plan).toBe('free');
    clock = startedAt;
  });

  it('cancels at period end: Pro until the end (billed), free after it — even before the deletion event arrives', async () => {
    const { userId, api, subId, sub } = await subscribed();
    const p = periodOf(sub());
    const startedAt = clock;
    expect(await b.deliver(b.stripe.setCancelAtPeriodEnd(subId, true))).toEqual([200]);
    expect(await quota(userId)).toMatchObject({ plan: 'pro', cancelAtEnd: '1' });
    expect((await usage(api)).billing).toMatchObject({ endsAtPeriodEnd: true, pastDue: false, canManage: true });

    clock = p.end - 30 * 60_000; // the last hour of the paid period
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(() => ledgerOf(b.stack.db, userId)).toHaveLength(1);
    const [paid] = await ledgerOf(b.stack.db, userId);
    expect(paid).toMatchObject({
      billable: '1',
      period: String(p.start),
      pend: String(p.end),
      cust: String(sub().customer),
    });

    clock = p.end + 60_000; // the period is over; Stripe's deletion event has not arrived yet
    expect(await usage(api)).toMatchObject({ plan: 'free', billing: { endsAtPeriodEnd: false } });
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(() => ledgerOf(b.stack.db, userId)).toHaveLength(2);
    const [, free] = await ledgerOf(b.stack.db, userId);
    expect(free).toMatchObject({ billable: '0', period: String(p.end) });
    const q = await quota(userId);
    expect(q).toMatchObject({ plan: 'free', start: String(p.end), [`used:${p.start}`]: paid!.billed });
    expect(q.cancelAtEnd).toBeUndefined();

    // The deletion arrives (with the last invoice, for the period's usage): nothing more to change; the pro
    // period's usage is still there to report.
    expect(await b.deliver(b.stripe.endSubscription(subId, p.end))).toEqual([200, 200]);
    expect(await quota(userId)).toMatchObject({
      plan: 'free',
      start: String(p.end),
      [`used:${p.start}`]: paid!.billed,
    });
    const u = await usage(api);
    expect(u).toMatchObject({ plan: 'free', hardCapTokens: 20_000, billing: { canUpgrade: true, canManage: true } });
    clock = startedAt;
  });

  it('rolls a paid period on its own when the renewal event is late, but guesses only one unconfirmed period', async () => {
    const { userId, api, subId, sub } = await subscribed();
    const p1 = periodOf(sub());
    const startedAt = clock;
    clock = p1.end + 60_000; // renewed at Stripe, event not here yet
    expect((await rewrite(api)).status).toBe(200);
    const q2 = await quota(userId);
    expect({ plan: q2.plan, start: Number(q2.start) }).toEqual({ plan: 'pro', start: p1.end });
    const [guessedEvent] = await ledgerOf(b.stack.db, userId);
    expect(guessedEvent).toMatchObject({ billable: '1', period: String(p1.end) });
    // The renewal arrives and agrees with the guess: nothing is reset.
    const used = await usedOf(b.stack.db, userId);
    expect(await b.deliver(b.stripe.renew(subId))).toEqual([200, 200]);
    expect(await usedOf(b.stack.db, userId)).toBe(used);
    const p2 = periodOf(sub());
    expect(Number((await quota(userId)).end)).toBe(p2.end);
    // Then no event at all for a month (the subscription ended at Stripe, the event was lost): the guessed
    // month stays paid, the one after is free.
    clock = p2.end + 60_000;
    expect((await rewrite(api)).status).toBe(200);
    expect((await quota(userId)).plan).toBe('pro'); // P2 was confirmed, P3 is the one guess
    clock = addMonths(p2.end, 1) + 60_000;
    expect((await rewrite(api)).status).toBe(200);
    expect((await quota(userId)).plan).toBe('free');
    clock = startedAt;
  });

  it('caps a past-due user at the included allowance until an invoice is paid', async () => {
    const { userId, api, subId } = await subscribed();
    expect(await b.deliver(b.stripe.failPayment(subId))).toEqual([200, 200]);
    expect((await usage(api)).hardCapTokens).toBe(500_000);
    expect((await usage(api)).billing.pastDue).toBe(true);
    await b.stack.db.hset(keys.quota(userId), 'used', 499_990);
    const refused = await rewrite(api);
    expect(refused.status).toBe(402);
    expect(await b.deliver(b.stripe.payInvoice(subId))).toEqual([200, 200]);
    expect((await usage(api)).hardCapTokens).toBe(25_500_000);
    expect((await usage(api)).billing.pastDue).toBe(false);
    expect((await rewrite(api)).status).toBe(200);
  });

  it('does the bookkeeping (customer map, report schedule) only for an event that is applied, never for a stale or replayed one', async () => {
    const { userId, subId, sub } = await subscribed();
    const due = () => b.stack.db.zscore(keys.reportDue, userId);
    const startedAt = clock;
    const p1 = periodOf(sub());
    clock += 5_000;
    const [update] = b.stripe.setCancelAtPeriodEnd(subId, false);
    expect(await b.deliver([update!])).toEqual([200]);
    clock = p1.end + 2_000;
    expect(await b.deliver(b.stripe.renew(subId))).toEqual([200, 200]);
    const p2 = periodOf(sub());
    const delay = b.stack.services.config.reporter.periodEndFlushDelayMs;
    expect(Number(await due())).toBe(p1.end + delay); // the ended period is still to be flushed (never postponed)
    await b.stack.db.zadd(keys.reportDue, p2.end + delay, userId); // as the reporter leaves it once P1 is flushed

    // A late update about P1, from another customer: stale. Nothing of it may land anywhere.
    const late = structuredClone(update!) as Stripe.Event & { data: { object: Stripe.Subscription } };
    late.id = `${update!.id}_late_other_customer`;
    late.data.object.customer = 'cus_stale_other';
    const post = async (event: Stripe.Event) => {
      const payload = JSON.stringify(event);
      const res = await fetch(b.webhook.url, {
        method: 'POST',
        headers: {
          'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: b.webhook.secret }),
        },
        body: payload,
      });
      return (await res.json()) as { outcome: string };
    };
    expect((await post(late)).outcome).toBe('stale');
    expect(await b.stack.db.get(keys.customerUser('cus_stale_other'))).toBeNull();
    expect(Number(await due())).toBe(p2.end + delay);

    // A replay of the applied update, after the reporter dropped the user from the schedule: a duplicate, not rescheduled.
    await b.stack.db.zrem(keys.reportDue, userId);
    expect((await post(update!)).outcome).toBe('duplicate');
    expect(await due()).toBeNull();
    clock = startedAt;
  });

  it("redoes the bookkeeping on Stripe's retry when it failed after the event was applied", async () => {
    const { userId, subId } = await subscribed();
    await b.stack.db.zrem(keys.reportDue, userId);
    // The schedule key of the wrong type: the ZADD of the bookkeeping fails (WRONGTYPE), after the state was applied.
    const kept = await b.stack.db.zrange(keys.reportDue, 0, -1, 'WITHSCORES');
    await b.stack.db.del(keys.reportDue);
    await b.stack.db.set(keys.reportDue, 'not a sorted set');
    const [update] = b.stripe.setCancelAtPeriodEnd(subId, true);
    expect(await b.deliver([update!])).toEqual([503]);
    await b.stack.db.del(keys.reportDue);
    if (kept.length > 0)
      await b.stack.db.zadd(keys.reportDue, ...kept.flatMap((_v, i) => (i % 2 === 0 ? [] : [kept[i]!, kept[i - 1]!])));
    expect(await b.deliver([update!])).toEqual([200]);
    expect((await quota(userId)).cancelAtEnd).toBe('1');
    const item = (update!.data.object as Stripe.Subscription).items.data[0]!;
    expect(Number(await b.stack.db.zscore(keys.reportDue, userId))).toBe(
      item.current_period_end * 1000 + b.stack.services.config.reporter.periodEndFlushDelayMs,
    );
    // Done once: a further replay changes nothing.
    await b.stack.db.zrem(keys.reportDue, userId);
    expect(await b.deliver([update!])).toEqual([200]);
    expect(await b.stack.db.zscore(keys.reportDue, userId)).toBeNull();
  });

  it('acknowledges events it does not use, and answers 503 (Stripe retries) when it cannot process one', async () => {
    const { subId } = await subscribed();
    const other = { ...b.stripe.payInvoice(subId)[0]!, type: 'customer.created', id: 'evt_unused_1' } as Stripe.Event;
    const payload = JSON.stringify(other);
    const res = await fetch(b.webhook.url, {
      method: 'POST',
      headers: { 'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: b.webhook.secret }) },
      body: payload,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'ignored' });

    // invoice.paid needs the subscription from Stripe: Stripe down → 503, and the event is not marked seen.
    const [paid] = b.stripe.payInvoice(subId);
    b.stripe.injectFaults({ times: 10, kinds: ['server_error'], route: /subscriptions/ });
    expect(await b.deliver([paid!])).toEqual([503]);
    b.stripe.clearFaults();
    expect(await b.deliver([paid!])).toEqual([200]);
  });
});

describe('usage alerts', () => {
  it('reaches 50, 80 and 100 % of the included allowance once each per period', async () => {
    const { userId, api } = await subscribed();
    const q = keys.quota(userId);
    await b.stack.db.hset(q, 'used', 249_990);
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(async () => (await usage(api)).alerts.map((a) => a.threshold)).toEqual([50]);
    expect((await rewrite(api)).status).toBe(200);
    await b.stack.db.hset(q, 'used', 499_990);
    expect((await rewrite(api)).status).toBe(200);
    await expect.poll(async () => (await usage(api)).alerts.map((a) => a.threshold)).toEqual([50, 80, 100]);
    const u = await usage(api);
    expect(u.alerts.every((a) => !Number.isNaN(Date.parse(a.at)))).toBe(true);
    expect(b.stack.logs.filter((l) => l.msg === 'usage alert' && l.user === userId).map((l) => l.thresholds)).toEqual([
      [50],
      [80, 100],
    ]);
  });
});

describe('billing disabled', () => {
  it('runs everyone on the free plan and says so', async () => {
    const plain = await startStack();
    try {
      const token = await plain.token('user_nobilling');
      const h = { Authorization: `Bearer ${token}` };
      const health = (await (await fetch(`${plain.api}/health`)).json()) as {
        billing: { enabled: boolean; note: string };
      };
      expect(health.billing).toMatchObject({ enabled: false, note: expect.stringMatching(/free plan/) });
      const u = (await (await fetch(`${plain.api}/v1/usage`, { headers: h })).json()) as UsageResponse;
      expect(u).toMatchObject({ plan: 'free', billing: { enabled: false, canUpgrade: false, canManage: false } });
      for (const path of ['/v1/billing/checkout', '/v1/billing/portal']) {
        const res = await fetch(`${plain.api}${path}`, { method: 'POST', headers: h });
        expect(res.status).toBe(501);
        expect(await res.json()).toMatchObject({ error: { code: 'billing_disabled' } });
      }
      expect((await fetch(`${plain.api}/webhooks/stripe`, { method: 'POST', body: '{}' })).status).toBe(501);
      expect((await fetch(`${plain.api}/internal/report-usage`, { method: 'POST' })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
