/**
 * The rewrite service without HTTP (api/rewrite/service.ts): reserve → stream → settle or release, against
 * a real redis-server (through the Upstash bridge), the real AI SDK and the model stand-in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import { keys } from '../../api/metering/keys';
import { createRewriteService, type RewriteInput, type RewriteResult } from '../../api/rewrite/service';
import type { RewriteRequest } from '../../shared/contract';
import { createModelRegistry } from '../../api/model/provider';
import { createModelRouter } from '../../api/model/router';
import { planPrompt } from '../../api/model/estimate';
import { reservationFor } from '../../api/metering/settlement';

let stack: Stack;
let n = 0;
const freshUser = () => `user_svc${++n}_${Date.now().toString(36)}`;
const req: RewriteRequest = {
  text: 'Our shoes are light, fast and made from recycled plastic bottles.',
  action: 'rewrite',
};
const input = (userId: string, requestId: string, signal = new AbortController().signal): RewriteInput => ({
  userId,
  requestId,
  req,
  signal,
});

async function read(r: RewriteResult): Promise<string> {
  if (!r.ok) throw r.error;
  const text = await new Response(r.stream).text();
  await r.settled;
  return text;
}

beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_RPM: '1000' } });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.model.clearFaults();
  stack.model.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo' });
});

describe('rewrite service', () => {
  it('streams, then settles once: the ledger holds the request and the counter its billed tokens', async () => {
    const user = freshUser();
    const r = await stack.services.rewrites.run(input(user, 'svc_happy_0001'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.window).toMatchObject({ limit: 1000, remaining: 999 });
    expect(r.tokensRemaining).toBeLessThan(20_000);
    expect((await read(r)).length).toBeGreaterThan(10);
    const [event, ...more] = await ledgerOf(stack.db, user);
    expect(more).toHaveLength(0);
    expect(event).toMatchObject({
      id: 'svc_happy_0001',
      user,
      action: 'rewrite',
      status: 'completed',
      source: 'provider',
    });
    expect(await usedOf(stack.db, user)).toBe(Number(event!.billed));
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);

    const again = await stack.services.rewrites.run(input(user, 'svc_happy_0001'));
    expect(again.ok ? 'served' : again.error.code).toBe('duplicate_request');
    expect(await usedOf(stack.db, user)).toBe(Number(event!.billed)); // never charged twice
  });

  it('releases the whole reservation when the model fails before its first token; the same id may retry', async () => {
    const user = freshUser();
    stack.model.injectFault({ kind: 'status', status: 500 }, 2); // both models of the free chain
    const failed = await stack.services.rewrites.run(input(user, 'svc_fail_0001'));
    expect(failed.ok ? 'served' : failed.error.code).toBe('model_unavailable');
    expect(failed.tokensRemaining).toBeGreaterThan(0);
    expect(await usedOf(stack.db, user)).toBe(0);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
    expect(await stack.db.hget(keys.request(user, 'svc_fail_0001'), 'state')).toBe('released');

    await read(await stack.services.rewrites.run(input(user, 'svc_fail_0001')));
    expect(await ledgerOf(stack.db, user)).toHaveLength(1);
  });

  it('charges what was generated when the caller aborts mid-stream', async () => {
    stack.model.setOptions({ tokensPerSecond: 50, outputTokens: 400 });
    const user = freshUser();
    const client = new AbortController();
    const r = await stack.services.rewrites.run(input(user, 'svc_abort_0001', client.signal));
    if (!r.ok) throw r.error;
    const reader = r.stream.getReader();
    await reader.read();
    client.abort();
    await reader.cancel().catch(() => {});
    await r.settled;
    const [event] = await ledgerOf(stack.db, user);
    expect(event).toMatchObject({ status: 'aborted', source: 'counted' });
    expect(Number(event!.out)).toBeLessThan(400);
    expect(await usedOf(stack.db, user)).toBe(Number(event!.billed));
  });

  it('refuses an exhausted quota with the period end, and reserves nothing', async () => {
    const user = freshUser();
    await read(await stack.services.rewrites.run(input(user, 'svc_quota_0001')));
    await stack.db.hset(keys.quota(user), 'used', 20_000);
    const r = await stack.services.rewrites.run(input(user, 'svc_quota_0002'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('quota_exhausted');
    expect(r.error.details.periodEnd).toBeTypeOf('string');
    expect(r.window?.limit).toBe(1000);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
  });

  it('fails closed when Redis does not answer, and releases this attempt in the background', async () => {
    const released: string[] = [];
    const s = stack.services;
    const rewrites = createRewriteService({
      ...s,
      limits: s.config.limits,
      modelOptions: s.config.model,
      quota: {
        reserve: () => Promise.reject(new Error('timeout')),
        resize: s.quota.resize,
        settle: s.quota.settle,
        release: async (_u, requestId, attempt) => (released.push(`${requestId}/${attempt}`), true),
      },
      sleep: async () => {},
    });
    const r = await rewrites.run(input(freshUser(), 'svc_redis_0001'));
    expect(r.ok ? 'served' : r.error.code).toBe('metering_unavailable');
    await expect.poll(() => released).toHaveLength(1);
    expect(released[0]).toMatch(/^svc_redis_0001\/[0-9a-f-]{36}$/);
  });
  it('fails closed when the re-size for a fallback model cannot reach Redis, and releases the reservation', async () => {
    // A chain whose second model counts the prompt differently (claude-haiku-4-5's bound), so falling back re-sizes.
    const s = stack.services;
    const registry = createModelRegistry(s.config.model.providers);
    const chain = { default: ['openai/gpt-4o-mini', 'openai/claude-haiku-4-5'] };
    const router = createModelRouter({ free: chain, pro: chain }, registry, {
      failures: 100,
      openMs: 1,
      now: Date.now,
    });
    const resized: string[] = [];
    const rewrites = createRewriteService({
      ...s,
      router,
      limits: s.config.limits,
      modelOptions: s.config.model,
      quota: {
        ...s.quota,
        resize: async (_u, requestId) => {
          resized.push(requestId);
          throw new Error('timeout');
        },
      },
    });
    const user = freshUser();
    const calls = stack.model.stats.completions;
    stack.model.injectFault({ kind: 'status', status: 500 });
    const r = await rewrites.run(input(user, 'svc_resize_down'));
    expect(r.ok ? 'served' : r.error.code).toBe('metering_unavailable');
    expect(resized).toEqual(['svc_resize_down']);
    expect(stack.model.stats.completions - calls).toBe(1); // the fallback model was never called
    expect(await usedOf(stack.db, user)).toBe(0);
    expect(await stack.db.hget(keys.request(user, 'svc_resize_down'), 'state')).toBe('released');
  });

  it('a long text is reserved with its bound, asked again with the exact count when only that fits, charged what the provider reports', async () => {
    const user = freshUser();
    const long: RewriteRequest = {
      text: 'Light, fast shoes made from recycled bottles. '.repeat(150),
      action: 'rewrite',
    };
    const plan = planPrompt(long);
    expect(plan.bounded).toBe(true);
    const exact = reservationFor(plan.exactInputTokens(), planPrompt(long, {}, { exact: true }).outputCap);
    const bound = reservationFor(plan.inputTokens, plan.outputCap);
    // Room for the exact reservation's minimum, not for the bound's.
    await stack.services.quota.ensure(user, Date.now());
    const room = exact.minGrant + 10;
    expect(room).toBeLessThan(bound.minGrant);
    await stack.db.hset(keys.quota(user), 'used', 20_000 - room);

    const r = await stack.services.rewrites.run({ ...input(user, 'svc_long_0001'), req: long });
    expect(r.ok ? 'served' : r.error.code).toBe('served');
    await read(r);
    const [event] = await ledgerOf(stack.db, user);
    expect(event).toMatchObject({ status: 'completed', source: 'provider', in: String(plan.exactInputTokens()) });
    expect(await usedOf(stack.db, user)).toBe(20_000 - room + Number(event!.billed));
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
  });
});
