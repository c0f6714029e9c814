/**
 * The user's overage spending cap (GET/PUT /v1/settings) against the real API and redis-server: validated
 * against the plan's maximum, refused on the free plan, and applied at once by the reservation Lua — the
 * next rewrite is held to it — and shown by GET /v1/usage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import type { SettingsResponse, UsageResponse } from '../../shared/contract';
import { planPrompt } from '../../api/model/estimate';
import { keys } from '../../api/metering/keys';

let stack: Stack;
let n = 0;
const freshUser = () => `user_set${++n}_${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startStack({
    env: { RATE_LIMIT_RPM: '1000', RATE_LIMIT_ACCOUNT_RPM: '1000' },
    model: { outputTokens: 40 },
  });
});
afterAll(async () => {
  await stack?.close();
});

const api = async (token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${stack.api}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};
const usage = async (token: string) => (await api(token, 'GET', '/v1/usage')).json as unknown as UsageResponse;
const setCap = (token: string, overageCapUsd: unknown) => api(token, 'PUT', '/v1/settings', { overageCapUsd });

/** A Pro user, as the billing webhooks leave one (plan on the quota hash), with `used` tokens this period. */
async function proUser(used = 0): Promise<{ user: string; token: string }> {
  const user = freshUser();
  const token = await stack.token(user);
  expect((await api(token, 'GET', '/v1/usage')).status).toBe(200); // anchors the period
  await stack.db.hset(keys.quota(user), 'plan', 'pro', 'used', used);
  return { user, token };
}

describe('GET/PUT /v1/settings', () => {
  it('free plan: no cap to set (403 overage_not_available), null is accepted', async () => {
    const token = await stack.token(freshUser());
    expect(await api(token, 'GET', '/v1/settings')).toEqual({
      status: 200,
      json: { plan: 'free', overageCapUsd: null, maxOverageCapUsd: null } satisfies SettingsResponse,
    });
    const refused = await setCap(token, 10);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({
      error: {
        code: 'overage_not_available',
        message: expect.stringMatching(/free plan has no overage.*Upgrade to Pro/),
      },
    });
    expect(await setCap(token, null)).toEqual({
      status: 200,
      json: { plan: 'free', overageCapUsd: null, maxOverageCapUsd: null },
    });
    const u = await usage(token);
    expect(u).toMatchObject({ plan: 'free', overageCapUsd: null, hardCapTokens: 20_000 });
  });

  it('pro plan: the default is the plan maximum; a lower cap shows in settings and usage at once', async () => {
    const { user, token } = await proUser();
    expect((await api(token, 'GET', '/v1/settings')).json).toEqual({
      plan: 'pro',
      overageCapUsd: null,
      maxOverageCapUsd: 50,
    });
    expect(await usage(token)).toMatchObject({
      plan: 'pro',
      overageCapUsd: 50,
      hardCapTokens: 25_500_000,
      includedTokens: 500_000,
    });

    expect(await setCap(token, 12.34)).toEqual({
      status: 200,
      json: { plan: 'pro', overageCapUsd: 12.34, maxOverageCapUsd: 50 },
    });
    expect((await api(token, 'GET', '/v1/settings')).json).toEqual({
      plan: 'pro',
      overageCapUsd: 12.34,
      maxOverageCapUsd: 50,
    });
    // $12.34 at $0.002 per 1K tokens = 6,170,000 overage tokens.
    expect(await usage(token)).toMatchObject({
      overageCapUsd: 12.34,
      hardCapTokens: 500_000 + 6_170_000,
      remainingTokens: 6_670_000,
    });
    expect(await stack.db.hget(keys.quota(user), 'overageCapCents')).toBe('1234');

    expect((await setCap(token, 50)).status).toBe(200);
    expect((await setCap(token, 0)).json).toMatchObject({ overageCapUsd: 0 });
    expect(await usage(token)).toMatchObject({ overageCapUsd: 0, hardCapTokens: 500_000 });
    expect((await setCap(token, null)).json).toEqual({ plan: 'pro', overageCapUsd: null, maxOverageCapUsd: 50 });
    expect(await usage(token)).toMatchObject({ overageCapUsd: 50, hardCapTokens: 25_500_000 });
    expect(await stack.db.hexists(keys.quota(user), 'overageCapCents')).toBe(0);
  });

  it('refuses amounts that are not a USD amount within the plan maximum, naming the rule', async () => {
    const { token } = await proUser();
    expect((await setCap(token, 7)).status).toBe(200);
    const cases: [unknown, RegExp][] = [
      [50.01, /at most 50/],
      [1000, /at most 50/],
      [12.345, /at most 2 decimals/],
      [-1, />= 0/],
      [-0.01, />= 0/],
      ['10', /number of USD or null/],
      [true, /number of USD or null/],
      [[10], /number of USD or null/],
      [{ usd: 10 }, /number of USD or null/],
    ];
    for (const [value, message] of cases) {
      const r = await setCap(token, value);
      expect(r.status, JSON.stringify(value)).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'invalid_request', message: expect.stringMatching(message) } });
    }
    for (const body of [
      '{"overageCapUsd":1e999}',
      '{}',
      '{"overageCapUsd":5,"plan":"pro"}',
      '{"overageCapUsd":NaN}',
      '[5]',
      'null',
    ]) {
      const r = await api(token, 'PUT', '/v1/settings', body);
      expect(r.status, body).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
    const big = await api(token, 'PUT', '/v1/settings', JSON.stringify({ overageCapUsd: 5, pad: 'x'.repeat(2000) }));
    expect(big).toMatchObject({ status: 413, json: { error: { code: 'payload_too_large' } } });
    // Nothing of it changed the cap.
    expect((await api(token, 'GET', '/v1/settings')).json).toMatchObject({ overageCapUsd: 7 });
  });
});

describe('the cap applies to the next reservation', () => {
  it('a lower cap makes the next rewrite 402 once it is reached; raising it serves again', async () => {
    // 100 tokens into overage: past the included 500,000.
    const { user, token } = await proUser(500_100);
    const text = 'Our spring sale starts now: every running shoe is 20% off this weekend.';
    const ok = await stack.rewrite(token, { text, action: 'shorten' });
    expect(ok.status).toBe(200);
    await ok.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    const usedAfterFirst = await usedOf(stack.db, user);

    // $0 overage: the hard cap falls to the included allowance, which is already used.
    expect((await setCap(token, 0)).status).toBe(200);
    const refused = await stack.rewrite(token, { text, action: 'shorten' });
    expect(refused.status).toBe(402);
    expect(await refused.json()).toMatchObject({
      error: { code: 'quota_exhausted', message: expect.stringContaining('500,000 tokens') },
    });
    expect(await usedOf(stack.db, user)).toBe(usedAfterFirst);
    expect(await ledgerOf(stack.db, user)).toHaveLength(1);

    // $0.01 = 5,000 overage tokens: room for a request again, and the grant stays within the cap.
    expect((await setCap(token, 0.01)).status).toBe(200);
    const again = await stack.rewrite(token, { text, action: 'shorten' });
    expect(again.status).toBe(200);
    expect(Number(again.headers.get('x-tokens-remaining'))).toBeLessThanOrEqual(505_000 - usedAfterFirst);
    await again.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(2);
    expect(await usedOf(stack.db, user)).toBeLessThanOrEqual(505_000);
    const u = await usage(token);
    expect(u).toMatchObject({ hardCapTokens: 505_000, overageCapUsd: 0.01 });
    expect(u.remainingTokens).toBe(505_000 - u.usedTokens);
  });

  it('a cap below what remains shrinks the grant to what fits, never past the cap', async () => {
    const { user, token } = await proUser(500_000);
    // $0.01 = 5,000 tokens of overage; use all but 400 of them.
    await stack.db.hset(keys.quota(user), 'used', 504_600);
    expect((await setCap(token, 0.01)).status).toBe(200);
    stack.model.setOptions({ outputTokens: 100_000 });
    try {
      const req = { text: 'A short line.', action: 'expand' } as const;
      const plan = planPrompt(req);
      const res = await stack.rewrite(token, req);
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('x-tokens-remaining'))).toBe(0);
      await res.text();
      const body = stack.model.lastRequestBody as { max_tokens?: number; max_completion_tokens?: number };
      // The whole 400 left is granted: the prompt, and the rest (less than the action's cap) for the answer.
      expect(body.max_completion_tokens ?? body.max_tokens).toBe(400 - plan.inputTokens);
      expect(400 - plan.inputTokens).toBeLessThan(plan.outputCap);
      await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
      expect(await usedOf(stack.db, user)).toBeLessThanOrEqual(505_000);
    } finally {
      stack.model.setOptions({ outputTokens: 40 });
    }
  });

  it('a cap kept from a Pro period does not change the free plan', async () => {
    const { user, token } = await proUser();
    expect((await setCap(token, 1)).status).toBe(200);
    await stack.db.hset(keys.quota(user), 'plan', 'free');
    expect(await usage(token)).toMatchObject({ plan: 'free', hardCapTokens: 20_000, overageCapUsd: null });
    expect((await api(token, 'GET', '/v1/settings')).json).toEqual({
      plan: 'free',
      overageCapUsd: null,
      maxOverageCapUsd: null,
    });
    const res = await stack.rewrite(token, { text: 'Fresh bread daily.', action: 'shorten' });
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('GET /v1/usage: the Upgrade offer', () => {
  it("carries the Pro plan's price and allowance for every user", async () => {
    const free = await usage(await stack.token(freshUser()));
    expect(free.proPlan).toEqual({
      id: 'pro',
      monthlyPriceUsd: 20,
      includedTokens: 500_000,
      overageUsdPer1kTokens: 0.002,
      maxOverageCapUsd: 50,
    });
    expect((await usage((await proUser()).token)).proPlan).toEqual(free.proPlan);
  });
});
