/**
 * Scaling out: two API processes (the real Node entry point, `api/runtimes/node.ts`) share one Redis.
 * 500 concurrent rewrites for one user, split across both, against a quota that fits about 40: the
 * hard cap still holds and the ledger still sums to the counter. Tokens are verified offline by both
 * processes with the same public key (CLERK_JWT_KEY), as with Clerk in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis as IORedis } from 'ioredis';
import { createDevIssuer, type DevIssuer } from '../../api/auth/dev-issuer';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge';
import { startModelServer, type ModelServer } from '../support/model-server';
import { ledgerOf, usedOf } from '../support/stack';
import { buildMessages, outputTokenCap } from '../../api/model/prompts';
import { countChatTokens } from '../../api/model/estimate';
import { reservationFor } from '../../api/metering/settlement';

let redis: RedisServer;
let bridge: UpstashBridge;
let model: ModelServer;
let issuer: DevIssuer;
let db: IORedis;
const apis: { proc: ChildProcess; url: string }[] = [];

async function startApi(env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'api/runtimes/node.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`API process exited (${code})`)));
  });
  return { proc, url };
}

beforeAll(async () => {
  redis = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: redis.url });
  model = await startModelServer({ outputTokens: 100_000 });
  issuer = await createDevIssuer();
  db = new IORedis(redis.url);
  const env = {
    NODE_ENV: 'production',
    PORT: '0',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    OPENAI_API_KEY: 'stand-in',
    OPENAI_BASE_URL: model.url,
    MODEL_MAX_RETRIES: '0',
    CLERK_JWT_KEY: issuer.publicKeyPem,
    RATE_LIMIT_RPM: '10000',
    // 500 requests at once on a small machine: give Redis time rather than failing closed (tested elsewhere).
    REDIS_TIMEOUT_MS: '10000',
    RATE_LIMIT_TPM: '100000000',
    CLERK_TELEMETRY_DISABLED: '1',
  };
  apis.push(...(await Promise.all([startApi(env), startApi(env)])));
});

afterAll(async () => {
  for (const a of apis) a.proc.kill('SIGTERM');
  db?.disconnect();
  await Promise.allSettled([model?.close(), bridge?.close()]);
  await redis?.stop();
});

describe('two API processes, one Redis', () => {
  it('never charges past the hard cap with 500 requests in flight across both', async () => {
    const user = 'user_two_instances';
    const token = await issuer.issue({ userId: user });
    const body = { text: 'Announce our spring sale on all running shoes, this weekend only.', action: 'rewrite' as const };
    const input = countChatTokens(buildMessages(body));
    const { want } = reservationFor(input, outputTokenCap(body, input));
    const send = (i: number) => fetch(`${apis[i % 2]!.url}/v1/rewrite`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    // Warm up both processes (scripts loaded), then leave room for about 40 requests.
    for (const i of [0, 1]) {
      const res = await send(i);
      expect(res.status).toBe(200);
      await res.text();
    }
    await expect.poll(() => ledgerOf(db, user)).toHaveLength(2);
    const seeded = 20_000 - 40 * want;
    await db.hset(`rd:{${user}}:quota`, 'used', seeded);

    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const res = await send(i);
        if (res.status === 200) await res.text();
        else await res.arrayBuffer();
        return { status: res.status, instance: i % 2 };
      }),
    );
    const served = results.filter((r) => r.status === 200);
    expect(results.filter((r) => r.status !== 200 && r.status !== 402).map((r) => r.status)).toEqual([]);
    expect(served.length).toBeGreaterThanOrEqual(35);
    expect(served.length).toBeLessThanOrEqual(60);
    // Both instances served part of the burst.
    expect(served.some((r) => r.instance === 0) && served.some((r) => r.instance === 1)).toBe(true);

    await expect.poll(async () => (await ledgerOf(db, user)).length, { timeout: 20_000 }).toBe(2 + served.length);
    const used = await usedOf(db, user);
    const ledger = await ledgerOf(db, user);
    expect(used).toBeLessThanOrEqual(20_000);
    expect(used - seeded).toBe(ledger.slice(2).reduce((s, e) => s + Number(e.billed), 0));
    expect(new Set(ledger.map((e) => e.id)).size).toBe(ledger.length);
    expect(await db.zcard(`rd:{${user}}:inflight`)).toBe(0);
    console.log(`two instances: ${served.length} served (${served.filter((r) => r.instance === 0).length} + ${served.filter((r) => r.instance === 1).length}), ${500 - served.length} refused; used ${used}/20000`);
  });
});
