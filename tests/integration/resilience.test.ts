/**
 * Money is guarded by Redis: when it is down, nothing is served (503) and nothing is lost; when it
 * comes back, service resumes by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_RPM: '1000' } });
});
afterAll(async () => {
  await stack?.close();
});

describe('Redis down', () => {
  it('fails closed with 503, then recovers', async () => {
    const user = 'user_redis_down';
    const token = await stack.token(user);
    const ok = await stack.rewrite(token, { text: 'Before the outage.', action: 'rewrite' });
    expect(ok.status).toBe(200);
    await ok.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    const usedBefore = await usedOf(stack.db, user);
    const modelCallsBefore = stack.model.stats.completions;

    await stack.redis.stop();
    const down = await stack.rewrite(token, { text: 'During the outage.', action: 'rewrite' });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: { code: 'metering_unavailable' } });
    const usageDown = await fetch(`${stack.api}/v1/usage`, { headers: { Authorization: `Bearer ${token}` } });
    expect(usageDown.status).toBe(503);
    const health = await fetch(`${stack.api}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', redis: { ok: false } });
    // No unmetered inference: the model was never called while Redis was down.
    expect(stack.model.stats.completions).toBe(modelCallsBefore);

    await stack.redis.start();
    // redis-server runs without persistence here: the restart lost its data, as a real failover could.
    // What matters: the service comes back by itself and meters again.
    await expect
      .poll(async () => (await fetch(`${stack.api}/health`)).status, { timeout: 10_000, interval: 200 })
      .toBe(200);
    const after = await stack.rewrite(token, { text: 'After the outage.', action: 'rewrite' });
    expect(after.status).toBe(200);
    await after.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    expect(usedBefore).toBeGreaterThan(0);
  });
});
