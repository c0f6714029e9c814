/**
 * The built deploy targets, not the sources: `npm run build` bundles the app for Node, Cloudflare
 * Workers and Vercel; each bundle then serves a metered rewrite against real Redis and the model
 * stand-in. The Workers bundle is driven through its module interface (fetch(request, env, ctx)) with
 * an execution context that records `waitUntil`, so a client abort is still settled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis as IORedis } from 'ioredis';
import { createDevIssuer, type DevIssuer } from '../../api/auth/dev-issuer';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge';
import { startModelServer, type ModelServer } from '../support/model-server';
import { ledgerOf } from '../support/stack';

let redis: RedisServer;
let bridge: UpstashBridge;
let model: ModelServer;
let issuer: DevIssuer;
let db: IORedis;
let env: Record<string, string>;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stdout}\n${built.stderr}`);
  console.log(built.stdout.trim());
  redis = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: redis.url });
  model = await startModelServer({ outputTokens: 60, tokensPerSecond: 200 });
  issuer = await createDevIssuer();
  db = new IORedis(redis.url);
  env = {
    NODE_ENV: 'production',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    OPENAI_API_KEY: 'stand-in',
    OPENAI_BASE_URL: model.url,
    MODEL_MAX_RETRIES: '0',
    CLERK_JWT_KEY: issuer.publicKeyPem,
    CLERK_TELEMETRY_DISABLED: '1',
  };
}, 120_000);

afterAll(async () => {
  for (const c of cleanups) await c();
  db?.disconnect();
  await Promise.allSettled([model?.close(), bridge?.close()]);
  await redis?.stop();
});

const rewriteInit = (token: string, text: string): RequestInit => ({
  method: 'POST',
  headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ text, action: 'rewrite' }),
});

/** Health, then one full rewrite charged to the ledger, through `fetchFn` (any target). */
async function servesAMeteredRewrite(fetchFn: (path: string, init?: RequestInit) => Promise<Response>, user: string) {
  const health = await fetchFn('/health');
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok', redis: { ok: true }, model: { ok: true } });
  const res = await fetchFn('/v1/rewrite', rewriteInit(await issuer.issue({ userId: user }), 'Our bakery opens at seven with fresh croissants.'));
  expect(res.status).toBe(200);
  expect((await res.text()).length).toBeGreaterThan(20);
  await expect.poll(() => ledgerOf(db, user)).toHaveLength(1);
  expect((await ledgerOf(db, user))[0]).toMatchObject({ status: 'completed', source: 'provider' });
}

describe('Cloudflare Workers bundle (dist/worker/index.js)', () => {
  type Worker = { fetch(req: Request, env: Record<string, unknown>, ctx: { waitUntil(p: Promise<unknown>): void; passThroughOnException(): void; props: unknown }): Promise<Response> };
  let worker: Worker;
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} };

  beforeAll(async () => {
    worker = (await import(pathToFileURL(resolve('dist/worker/index.js')).href)).default as Worker;
  });

  it('refuses to serve with a JSON 500 when its configuration is invalid, without leaking it', async () => {
    const res = await worker.fetch(new Request('https://api.example/health'), { NODE_ENV: 'production' }, ctx);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal', message: expect.stringMatching(/misconfigured/) } });
  });

  it('serves a metered rewrite', async () => {
    await servesAMeteredRewrite((path, init) => worker.fetch(new Request(`https://api.example${path}`, init), env, ctx), 'user_worker');
  });

  it('keeps the settlement of an aborted stream alive with waitUntil', async () => {
    model.setOptions({ outputTokens: 2000, tokensPerSecond: 200 });
    const user = 'user_worker_abort';
    pending.length = 0;
    const res = await worker.fetch(new Request('https://api.example/v1/rewrite', rewriteInit(await issuer.issue({ userId: user }), 'A long story. '.repeat(30))), env, ctx);
    expect(res.status).toBe(200);
    expect(pending).toHaveLength(1); // registered before the body is read
    const reader = res.body!.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    await reader.cancel();
    await Promise.all(pending);
    const ledger = await ledgerOf(db, user);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ status: 'aborted', source: 'counted' });
    model.setOptions({ outputTokens: 60 });
  });
});

describe('Vercel function (.vercel/output/functions/index.func)', () => {
  it('is a Node request listener that serves a metered rewrite', async () => {
    Object.assign(process.env, env);
    const mod = (await import(pathToFileURL(resolve('.vercel/output/functions/index.func/index.mjs')).href)) as { default: RequestListener };
    const server: Server = createServer(mod.default);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await servesAMeteredRewrite((path, init) => fetch(base + path, init), 'user_vercel');
  });
});

describe('Node bundle (dist/node/index.mjs)', () => {
  it('starts with `node` alone and serves a metered rewrite', async () => {
    const proc: ChildProcess = spawn(process.execPath, ['dist/node/index.mjs'], { env: { ...process.env, ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => proc.kill('SIGTERM'));
    const base = await new Promise<string>((resolveUrl, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) resolveUrl(m[1]!);
      });
      proc.once('exit', (code) => reject(new Error(`node bundle exited (${code})`)));
    });
    await servesAMeteredRewrite((path, init) => fetch(base + path, init), 'user_node_bundle');
  });
});
