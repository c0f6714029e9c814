/**
 * Graceful shutdown of the Node server (SIGTERM, as from a deploy or an autoscaler): new connections
 * are refused, streams in progress finish within SHUTDOWN_GRACE_MS, longer ones are cut and charged for
 * what they generated; every one is settled before the process exits, so no usage is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, spawnApi, type Infra } from '../support/infra';
import { ledgerOf, usedOf } from '../support/stack';
import { keys } from '../../api/metering/keys';

let infra: Infra;
beforeAll(async () => {
  infra = await startInfra({ tokensPerSecond: 50 });
});
afterAll(async () => {
  await infra?.close();
});

async function startStream(url: string, user: string, outputTokens: number) {
  infra.model.setOptions({ outputTokens });
  const res = await fetch(`${url}/v1/rewrite`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${await infra.issuer.issue({ userId: user })}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      text: 'Our autumn collection is here: warm wool coats and soft scarves.',
      action: 'expand',
    }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = (await reader.read()).value ?? '';
  const rest = (async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
      return { text, cut: false };
    } catch {
      return { text, cut: true };
    }
  })();
  return { rest }; // wrapped: an async function returning the promise itself would wait for it
}

describe('SIGTERM', () => {
  it('lets a stream in progress finish within the grace period, settles it, and refuses new connections', async () => {
    const api = await spawnApi({ ...infra.env, SHUTDOWN_GRACE_MS: '10000' });
    const user = 'user_shutdown_finish';
    const stream = await startStream(api.url, user, 100); // ~2 s at 50 tokens/s
    api.proc.kill('SIGTERM');
    await expect.poll(() => api.output.some((l) => l.includes('"shutting down"'))).toBe(true);
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
    const { text, cut } = await stream.rest;
    expect(cut).toBe(false);
    expect(await api.exited).toBe(0);
    const ledger = await ledgerOf(infra.db, user);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ status: 'completed', source: 'provider', out: '100' });
    expect(text.length).toBeGreaterThan(100);
    expect(api.output.some((l) => l.includes('"stopped"') && l.includes('"finished":1') && l.includes('"cut":0'))).toBe(
      true,
    );
  });

  it('cuts a stream that outlasts the grace period and charges what it generated, before exiting', async () => {
    const api = await spawnApi({ ...infra.env, SHUTDOWN_GRACE_MS: '500' });
    const user = 'user_shutdown_cut';
    const stream = await startStream(api.url, user, 5000); // ~100 s: far past the grace period
    api.proc.kill('SIGTERM');
    const { cut } = await stream.rest;
    expect(cut).toBe(true);
    expect(await api.exited).toBe(0);
    const ledger = await ledgerOf(infra.db, user);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ status: 'aborted', source: 'counted' });
    expect(Number(ledger[0]!.out)).toBeGreaterThan(0);
    expect(Number(ledger[0]!.out)).toBeLessThan(5000);
    expect(await usedOf(infra.db, user)).toBe(Number(ledger[0]!.billed));
    expect(await infra.db.zcard(keys.inflight(user))).toBe(0);
    expect(
      api.output.some((l) => l.includes('"stopped"') && l.includes('"cut":1') && l.includes('"unsettled":0')),
    ).toBe(true);
  });
});
