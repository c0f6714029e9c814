/**
 * Sliding windows on real Redis (the real @upstash/ratelimit through the bridge): requests per minute,
 * tokens per minute, and fail-closed when Redis is too slow to answer in time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import { startBillingStack, type BillingStack } from '../support/billing';
import { buildMessages } from '../../shared/prompts';
import { outputTokenCap } from '../../shared/actions';
import { countChatTokens } from '../../api/model/estimate';
import { reservationFor } from '../../api/metering/settlement';
import { keys } from '../../api/metering/keys';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_RPM: '3', RATE_LIMIT_TPM: '100000', REDIS_TIMEOUT_MS: '400' } });
});
afterAll(async () => {
  await stack?.close();
});

const body = { text: 'Short and sweet: our new cold brew.', action: 'shorten' as const };

/**
 * The sliding window weighs the previous minute's count and rounds it down, so requests a moment apart on both
 * sides of a minute's edge can count as fewer: a test that counts starts well inside a minute.
 */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 40_000) await new Promise((r) => setTimeout(r, 60_000 - into + 250));
}
const input = countChatTokens(buildMessages(body));
const { want } = reservationFor(input, outputTokenCap(body, input));

describe('request window', () => {
  it('serves 3 requests a minute, then answers 429 with Retry-After and charges nothing for the refusal', async () => {
    const user = 'user_rpm';
    const token = await stack.token(user);
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) {
      const res = await stack.rewrite(token, body);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-remaining')).toBe(String(2 - i));
      await res.text();
    }
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(3);
    const used = await usedOf(stack.db, user);

    const res = await stack.rewrite(token, body);
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    const json = (await res.json()) as { error: { code: string; retryAfterSeconds: number; message: string } };
    expect(json.error).toMatchObject({ code: 'rate_limited', retryAfterSeconds: retryAfter });
    expect(json.error.message).toContain('3 requests');
    // The refused request's reservation was given back.
    expect(await usedOf(stack.db, user)).toBe(used);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
  });

  it('counts each user separately', async () => {
    const res = await stack.rewrite(await stack.token('user_rpm_other'), body);
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('token window', () => {
  let tpm: Stack;
  beforeAll(async () => {
    // Room for two and a half reservations of this body a minute.
    tpm = await startStack({ env: { RATE_LIMIT_RPM: '100', RATE_LIMIT_TPM: String(Math.floor(2.5 * want)) } });
  });
  afterAll(async () => {
    await tpm?.close();
  });

  it('refuses once the reservations of the last minute would pass the token limit', async () => {
    const token = await tpm.token('user_tpm');
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await tpm.rewrite(token, body);
      statuses.push(res.status);
      if (res.status === 200) await res.text();
      else {
        expect(await res.json()).toMatchObject({
          error: { code: 'rate_limited', message: expect.stringContaining(`${Math.floor(2.5 * want)} tokens`) },
        });
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429]);
  });
});

describe('account window (/v1/usage and the billing routes)', () => {
  let b: BillingStack;
  beforeAll(async () => {
    // A separate window from the rewrite windows: 4 account calls a minute here (120 by default).
    b = await startBillingStack({ env: { RATE_LIMIT_ACCOUNT_RPM: '4', RATE_LIMIT_RPM: '100' } });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('counts usage and billing calls per user in their own window: 429 with Retry-After, Stripe not called', async () => {
    const api = await b.as('user_account_window');
    const statuses = [];
    for (const [path, method] of [
      ['/v1/usage', 'GET'],
      ['/v1/billing/portal', 'POST'],
      ['/v1/usage', 'GET'],
      ['/v1/billing/checkout', 'POST'],
    ] as const) {
      statuses.push((await api(path, { method })).status);
    }
    expect(statuses).toEqual([200, 409, 200, 200]); // portal: no customer yet (409); checkout made one
    const stripeCalls = b.stack.services.billing!.gateway.calls;
    for (const [path, method] of [
      ['/v1/usage', 'GET'],
      ['/v1/billing/checkout', 'POST'],
      ['/v1/billing/portal', 'POST'],
    ] as const) {
      const res = await api(path, { method });
      expect(res.status, path).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter, path).toBeGreaterThanOrEqual(1);
      expect(retryAfter, path).toBeLessThanOrEqual(60);
      expect(await res.json(), path).toMatchObject({
        error: {
          code: 'rate_limited',
          retryAfterSeconds: retryAfter,
          message: expect.stringContaining('4 account requests per minute'),
        },
      });
    }
    expect(b.stack.services.billing!.gateway.calls).toBe(stripeCalls);
    // Rewrites have their own windows, and other users their own account window.
    const rewrite = await api('/v1/rewrite', { method: 'POST', body: JSON.stringify(body) });
    expect(rewrite.status).toBe(200);
    await rewrite.text();
    expect((await (await b.as('user_account_window_other'))('/v1/usage')).status).toBe(200);
  });
});

describe('slow Redis', () => {
  /** One rewrite while every Redis reply takes 1.5 s (REDIS_TIMEOUT_MS is 400); the delay is lifted at the 503 or at the end. */
  async function slowRewrite(user: string, requestId: string, lift: 'at-response' | 'at-end') {
    const token = await stack.token(user);
    const calls = stack.model.stats.completions;
    stack.bridge.setDelay(1500);
    const res = await stack.rewrite(token, { ...body, requestId });
    if (lift === 'at-response') stack.bridge.setDelay(0);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'metering_unavailable' } });
    // No unmetered inference: the model was never called.
    expect(stack.model.stats.completions).toBe(calls);
    // Wait until Redis has run everything that was sent (the late reservation and the background releases).
    await expect.poll(() => stack.bridge.stats.inFlight, { timeout: 10_000 }).toBe(0);
    await expect
      .poll(
        async () =>
          (await stack.db.keys(keys.cancel(user, '*'))).length +
          ((await stack.db.hget(keys.request(user, requestId), 'state')) === 'released' ? 1 : 0),
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    stack.bridge.setDelay(0);
    return token;
  }

  it('fails closed (503) instead of letting the limiter time out open; the late reservation is released', async () => {
    // The delay stays on: the reservation runs first, then the background release frees it.
    const user = 'user_slow_redis_a';
    const token = await slowRewrite(user, 'slow_redis_0001', 'at-end');
    expect(await stack.db.hget(keys.request(user, 'slow_redis_0001'), 'state')).toBe('released');
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
    expect(await usedOf(stack.db, user)).toBe(0);
    const ok = await stack.rewrite(token, { ...body, requestId: 'slow_redis_0001' }); // the same id may be retried
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('when the release overtakes the slow reservation, a tombstone voids the reservation', async () => {
    // The delay is lifted at once: the release runs before the reservation, which then finds the tombstone.
    const user = 'user_slow_redis_b';
    await slowRewrite(user, 'slow_redis_0002', 'at-response');
    expect(await stack.db.exists(keys.request(user, 'slow_redis_0002'))).toBe(0);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
    expect(await usedOf(stack.db, user)).toBe(0);
  });
});
