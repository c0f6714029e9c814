/**
 * Per-plan model chains and fallback, end to end: the API on real redis-server with two model stand-ins — the
 * primary (OpenAI's protocol) and a second server that is both an OpenAI-compatible provider (`backup`) and
 * Anthropic (`anthropic`, its Messages API through @ai-sdk/anthropic). A model that fails before its first token
 * hands over to the next model of the plan's chain within the same reservation (re-sized atomically when the
 * next model counts the prompt or caps the output differently); after the first token there is no switch; when
 * every model fails, 503 and nothing is charged.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { priceListAt, providerCostUsd } from '../../api/config/model-prices';
import { sizeFor } from '../../api/config/models';
import { keys } from '../../api/metering/keys';
import { reservationFor } from '../../api/metering/settlement';
import { planPrompt } from '../../api/model/estimate';
import type { RewriteRequest } from '../../shared/contract';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';

let stack: Stack;
let seq = 0;
const freshUser = () => `user_fb_${++seq}_${Math.random().toString(36).slice(2, 8)}`;

const ROUTES = {
  free: ['openai/gpt-4o-mini', 'backup/gpt-4.1-nano'],
  pro: {
    default: ['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5'],
    actions: { shorten: ['backup/gpt-4.1-nano'], tone: ['down/gpt-4o-mini', 'openai/gpt-4.1-mini'] },
  },
};

let closedPort = 0;
beforeAll(async () => {
  // A port that was free a moment ago and that nobody listens on.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  stack = await startStack({
    fallback: {},
    env: ({ fallback }) => ({
      RATE_LIMIT_RPM: '100000',
      RATE_LIMIT_TPM: '1000000000',
      MODEL_ROUTES: JSON.stringify(ROUTES),
      MODEL_PROVIDERS: JSON.stringify({
        backup: { baseURL: fallback!.url, apiKey: 'stand-in' },
        // A provider that is down: nothing listens there (connection refused).
        down: { baseURL: `http://127.0.0.1:${closedPort}/v1`, apiKey: 'stand-in' },
      }),
      ANTHROPIC_API_KEY: 'stand-in',
      ANTHROPIC_BASE_URL: fallback!.anthropicUrl,
      MODEL_FIRST_TOKEN_TIMEOUT_MS: '400',
      // Breakers are tested on their own stack below: here every request sees the whole chain.
      MODEL_BREAKER_FAILURES: '1000000',
    }),
  });
}, 60_000);
afterAll(async () => stack?.close());
beforeEach(() => {
  stack.model.clearFaults();
  stack.fallback!.clearFaults();
  stack.model.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo' });
  stack.fallback!.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo' });
});

const TEXT = 'Our running shoes are light, fast and made from recycled plastic bottles collected on beaches.';

async function proUser(used = 0): Promise<{ user: string; token: string }> {
  const user = freshUser();
  const token = await stack.token(user);
  expect((await fetch(`${stack.api}/v1/usage`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  await stack.db.hset(keys.quota(user), 'plan', 'pro', 'used', used);
  return { user, token };
}

async function freeUser(): Promise<{ user: string; token: string }> {
  const user = freshUser();
  return { user, token: await stack.token(user) };
}

/** The one ledger event of a user, once settled. */
async function settledEvent(user: string): Promise<Record<string, string>> {
  await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
  return (await ledgerOf(stack.db, user))[0]!;
}

function costOf(e: Record<string, string>): number {
  const price = priceListAt(new Date(Number(e.started))).models[e.model!]!;
  return providerCostUsd(price, {
    inputTokens: Number(e.in),
    cachedInputTokens: Number(e.cached),
    outputTokens: Number(e.out),
  });
}

/** The reservation a model of this request's chain asks for, and the least it can use. */
function sizeOf(model: string, req: RewriteRequest): { want: number; minGrant: number } {
  const plan = planPrompt(req);
  const size = sizeFor(model, plan.inputTokens, plan.outputCap);
  return reservationFor(size.inputTokens, size.outputCap);
}
const wantOf = (model: string, req: RewriteRequest) => sizeOf(model, req).want;

describe('fallback before the first token', () => {
  it.each([
    ['a 500', { kind: 'status', status: 500 } as const],
    ['a 429 (quota or overload)', { kind: 'status', status: 429 } as const],
    ['a dropped connection', { kind: 'drop-mid-stream', afterChunks: 0 } as const],
    ['no first token within the timeout', { kind: 'slow-first-token', delayMs: 3000 } as const],
  ])('the primary fails with %s: the next model of the chain serves, in the same reservation', async (_, fault) => {
    const { user, token } = await freeUser();
    const before = { primary: stack.model.stats.completions, backup: stack.fallback!.stats.completions };
    stack.model.injectFault(fault);
    const res = await stack.rewrite(token, { text: TEXT, action: 'rewrite', requestId: `fb_first_fails_${seq}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toBe('backup/gpt-4.1-nano');
    const text = await res.text();
    expect(text.length).toBeGreaterThan(10);
    expect(stack.model.stats.completions - before.primary).toBe(1);
    expect(stack.fallback!.stats.completions - before.backup).toBe(1);

    const e = await settledEvent(user);
    expect(e).toMatchObject({ model: 'gpt-4.1-nano', prov: 'backup', status: 'completed', source: 'provider' });
    expect(e.prices).toBe(priceListAt(new Date(Number(e.started))).version);
    expect(Number(e.cost)).toBe(costOf(e));
    // Charged once, what the serving model reported; nothing left reserved.
    expect(Number(e.billed)).toBe(Number(e.in) + Number(e.out));
    expect(await usedOf(stack.db, user)).toBe(Number(e.billed));
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
  });

  it('the provider is down (connection refused): the next provider serves', async () => {
    const { user, token } = await proUser();
    const res = await stack.rewrite(token, { text: TEXT, action: 'tone', tone: 'friendly' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toBe('openai/gpt-4.1-mini');
    await res.text();
    expect(await settledEvent(user)).toMatchObject({ model: 'gpt-4.1-mini', prov: 'openai', status: 'completed' });
    expect(stack.services.metrics.render()).toMatch(
      /redraft_model_attempts_total\{model="down\/gpt-4o-mini",outcome="failed"\} [1-9]/,
    );
  });

  it('re-sizes the one reservation when the next model counts the prompt differently (Anthropic), atomically', async () => {
    const { user, token } = await proUser();
    const req: RewriteRequest = { text: TEXT, action: 'rewrite', requestId: 'fb_resize_1' };
    expect(wantOf('claude-haiku-4-5', req)).toBeGreaterThan(wantOf('gpt-4.1-mini', req));
    stack.model.injectFault({ kind: 'status', status: 503 });
    stack.fallback!.setOptions({ tokensPerSecond: 40 }); // paced: the reservation is still held while we look
    const res = await stack.rewrite(token, req);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toBe('anthropic/claude-haiku-4-5');
    // While it streams: one reservation, of the Anthropic model's size, and the balance says so.
    const request = await stack.db.hgetall(keys.request(user, 'fb_resize_1'));
    expect(Number(request.amount)).toBe(wantOf('claude-haiku-4-5', req));
    expect(await stack.db.zcard(keys.inflight(user))).toBe(1);
    expect(await usedOf(stack.db, user)).toBe(wantOf('claude-haiku-4-5', req));
    expect(Number(res.headers.get('x-tokens-remaining'))).toBe(
      (await stack.services.usage.balance(user, Date.now(), 0))!.hardCapTokens - wantOf('claude-haiku-4-5', req),
    );
    await res.text();
    const e = await settledEvent(user);
    expect(e).toMatchObject({ model: 'claude-haiku-4-5', prov: 'anthropic', status: 'completed', source: 'provider' });
    expect(Number(e.cost)).toBe(costOf(e));
    expect(await usedOf(stack.db, user)).toBe(Number(e.billed));
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
  });

  it('skips a model whose size the cap cannot hold, and never reserves twice: 503, nothing charged', async () => {
    const req: RewriteRequest = { text: TEXT, action: 'rewrite', requestId: 'fb_nocap_1' };
    // Room for the primary's smallest useful grant, not for the Anthropic model's (its prompt counts more).
    const room = sizeOf('gpt-4.1-mini', req).minGrant;
    expect(sizeOf('claude-haiku-4-5', req).minGrant).toBeGreaterThan(room);
    const { user, token } = await proUser(0);
    const cap = (await stack.services.usage.balance(user, Date.now(), 0))!.hardCapTokens;
    await stack.db.hset(keys.quota(user), 'used', cap - room);
    stack.model.injectFault({ kind: 'status', status: 500 });
    const before = stack.fallback!.stats.completions;
    const res = await stack.rewrite(token, req);
    expect(res.status).toBe(503);
    expect((await res.json()).error).toMatchObject({
      code: 'model_unavailable',
      message: expect.stringContaining('Nothing was charged'),
    });
    expect(stack.fallback!.stats.completions).toBe(before); // the Anthropic model was not called
    expect(await usedOf(stack.db, user)).toBe(cap - room);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
    expect(await ledgerOf(stack.db, user)).toHaveLength(0);
  });

  it('every model fails: 503 with Retry-After, nothing charged, and the same requestId may retry', async () => {
    const { user, token } = await freeUser();
    stack.model.injectFault({ kind: 'status', status: 500 });
    stack.fallback!.injectFault({ kind: 'status', status: 502 });
    const res = await stack.rewrite(token, { text: TEXT, action: 'rewrite', requestId: 'fb_all_down_1' });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = await res.json();
    expect(body.error).toMatchObject({ code: 'model_unavailable', retryAfterSeconds: expect.any(Number) });
    expect(body.error.message).toContain('None of the 2 AI models answered');
    expect(await usedOf(stack.db, user)).toBe(0);
    expect(await stack.db.hget(keys.request(user, 'fb_all_down_1'), 'state')).toBe('released');
    expect(await ledgerOf(stack.db, user)).toHaveLength(0);

    const retry = await stack.rewrite(token, { text: TEXT, action: 'rewrite', requestId: 'fb_all_down_1' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-model')).toBe('openai/gpt-4o-mini');
    await retry.text();
    expect((await settledEvent(user)).model).toBe('gpt-4o-mini');
  });

  it('after the first token there is no switch: a failure mid-stream ends the stream and charges what was sent', async () => {
    const { user, token } = await freeUser();
    const before = stack.fallback!.stats.completions;
    stack.model.injectFault({ kind: 'error-mid-stream', afterChunks: 3 });
    const res = await stack.rewrite(token, { text: TEXT, action: 'rewrite', requestId: 'fb_mid_1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toBe('openai/gpt-4o-mini');
    await expect(res.text()).rejects.toThrow();
    const e = await settledEvent(user);
    expect(e).toMatchObject({ model: 'gpt-4o-mini', prov: 'openai', status: 'error', source: 'counted' });
    expect(Number(e.out)).toBe(3);
    expect(stack.fallback!.stats.completions).toBe(before);
    expect(await usedOf(stack.db, user)).toBe(Number(e.billed));
  });

  it('a plan may route an action to its own chain (pro shorten → backup), told by X-Model', async () => {
    const { user, token } = await proUser();
    const before = stack.model.stats.completions;
    const res = await stack.rewrite(token, { text: TEXT, action: 'shorten' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toBe('backup/gpt-4.1-nano');
    await res.text();
    expect((await settledEvent(user)).model).toBe('gpt-4.1-nano');
    expect(stack.model.stats.completions).toBe(before);
  });

  it('a burst of 500 concurrent requests while the primary fails midway never overspends a cap', async () => {
    // 10 Pro users with 6,000 tokens left each × 50 concurrent requests reserving about 450 tokens each.
    // After the first 150 completions the primary fails its next 250 calls (500): those requests move to the
    // Anthropic model, whose reservation is larger (re-sized in place, or skipped when the cap cannot hold it).
    const users = await Promise.all(Array.from({ length: 10 }, () => proUser()));
    const cap = (await stack.services.usage.balance(users[0]!.user, Date.now(), 0))!.hardCapTokens;
    for (const u of users) await stack.db.hset(keys.quota(u.user), 'used', cap - 6_000);
    stack.model.setOptions({ tokensPerSecond: 400 });
    stack.fallback!.setOptions({ tokensPerSecond: 400 });
    const primaryBefore = stack.model.stats.completions;
    let armed = false;
    const arm = setInterval(() => {
      if (!armed && stack.model.stats.completions - primaryBefore >= 150) {
        armed = true;
        stack.model.injectFault({ kind: 'status', status: 500 }, 250);
      }
    }, 5);
    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const u = users[i % users.length]!;
        const res = await stack.rewrite(u.token, { text: `${TEXT} Variant ${i}.`, action: 'rewrite' });
        const model = res.headers.get('x-model');
        await res.text().catch(() => '');
        return { status: res.status, model };
      }),
    );
    clearInterval(arm);
    const byStatus: Record<number, number> = {};
    const byModel: Record<string, number> = {};
    for (const r of results) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      if (r.model) byModel[r.model] = (byModel[r.model] ?? 0) + 1;
    }
    expect(armed).toBe(true);
    expect(Object.keys(byStatus).every((s) => ['200', '402', '503'].includes(s))).toBe(true);
    expect(byModel['anthropic/claude-haiku-4-5']).toBeGreaterThan(0);
    expect(byModel['openai/gpt-4.1-mini']).toBeGreaterThan(0);
    expect(byStatus[402]).toBeGreaterThan(0); // the caps did bind
    for (const u of users) {
      await expect.poll(() => stack.db.zcard(keys.inflight(u.user)), { timeout: 20_000 }).toBe(0);
      const ledger = await ledgerOf(stack.db, u.user);
      const billed = ledger.reduce((n, e) => n + Number(e.billed), 0);
      const used = await usedOf(stack.db, u.user);
      expect(used).toBe(cap - 6_000 + billed);
      expect(used).toBeLessThanOrEqual(cap);
      expect(new Set(ledger.map((e) => e.id)).size).toBe(ledger.length);
      for (const e of ledger) expect(Number(e.cost)).toBe(costOf(e));
    }
    console.log(`burst: statuses ${JSON.stringify(byStatus)}, served by ${JSON.stringify(byModel)}`);
  }, 120_000);
});

describe('circuit breaker', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      fallback: {},
      env: ({ fallback }) => ({
        RATE_LIMIT_RPM: '100000',
        MODEL_ROUTES: JSON.stringify({
          free: ['openai/gpt-4o-mini', 'backup/gpt-4.1-nano'],
          pro: ['openai/gpt-4.1-mini'],
        }),
        MODEL_PROVIDERS: JSON.stringify({ backup: { baseURL: fallback!.url, apiKey: 'stand-in' } }),
        MODEL_BREAKER_FAILURES: '2',
        MODEL_BREAKER_OPEN_MS: '1500',
      }),
    });
  }, 60_000);
  afterAll(async () => s?.close());

  const gauge = async (model: string) => {
    const text = await (await fetch(`${s.api}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`redraft_model_breaker_open{model="${model}"}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  const run = async (user: string) => {
    const res = await s.rewrite(await s.token(user), { text: TEXT, action: 'rewrite' });
    const model = res.headers.get('x-model');
    const body = res.status === 200 ? await res.text() : await res.json();
    return { status: res.status, model, body, retryAfter: res.headers.get('retry-after') };
  };

  it('opens after repeated failures (the primary is then not called), half-opens after a while, closes on success', async () => {
    expect(await gauge('openai/gpt-4o-mini')).toBe(0);
    s.model.injectFault({ kind: 'status', status: 500 }, 2);
    expect((await run(freshUser())).model).toBe('backup/gpt-4.1-nano');
    expect((await run(freshUser())).model).toBe('backup/gpt-4.1-nano');
    expect(await gauge('openai/gpt-4o-mini')).toBe(1);
    expect(s.services.metrics.render()).toContain('redraft_model_breaker_opened_total{model="openai/gpt-4o-mini"} 1');

    // Open: requests go straight to the next model, without waiting for the primary.
    const calls = s.model.stats.completions;
    for (let i = 0; i < 3; i++) expect((await run(freshUser())).model).toBe('backup/gpt-4.1-nano');
    expect(s.model.stats.completions).toBe(calls);
    expect(s.services.metrics.render()).toMatch(
      /redraft_model_attempts_total\{model="openai\/gpt-4o-mini",outcome="skipped"\} 3/,
    );

    // After the open time one request may try the primary again; its success closes the breaker.
    await new Promise((r) => setTimeout(r, 1600));
    expect(await gauge('openai/gpt-4o-mini')).toBe(0.5);
    expect((await run(freshUser())).model).toBe('openai/gpt-4o-mini');
    expect(await gauge('openai/gpt-4o-mini')).toBe(0);
    expect(s.model.stats.completions).toBe(calls + 1);
  });

  it('every model of the chain open: 503 at once with Retry-After, no model called, nothing charged', async () => {
    s.model.injectFault({ kind: 'status', status: 500 }, 2);
    s.fallback!.injectFault({ kind: 'status', status: 500 }, 2);
    expect((await run(freshUser())).status).toBe(503);
    expect((await run(freshUser())).status).toBe(503);
    const calls = s.model.stats.completions + s.fallback!.stats.completions;
    const user = freshUser();
    const r = await run(user);
    expect(r.status).toBe(503);
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(r.retryAfter)).toBeLessThanOrEqual(2);
    expect(r.body.error.code).toBe('model_unavailable');
    expect(s.model.stats.completions + s.fallback!.stats.completions).toBe(calls);
    expect(await usedOf(s.db, user)).toBe(0);
    expect(await ledgerOf(s.db, user)).toHaveLength(0);
    expect(s.services.metrics.render()).toMatch(/redraft_model_unavailable_total \d+/);
  });
});
