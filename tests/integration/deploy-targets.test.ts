/**
 * The built deploy targets, not the sources: `npm run build` bundles the app for Node, Cloudflare
 * Workers and Vercel; each bundle then serves a metered rewrite against real Redis and the model
 * stand-in. The Workers bundle is driven through its module interface (fetch(request, env, ctx)) with
 * an execution context that records `waitUntil`, so a client abort is still settled.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, spawnApi, type Infra } from '../support/infra';
import { ledgerOf } from '../support/stack';
import { startStripeServer } from '../../standins/stripe';
import { standInSetup } from '../support/billing';
import { keys } from '../../api/metering/keys';

let infra: Infra;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stdout}\n${built.stderr}`);
  console.log(built.stdout.trim());
  infra = await startInfra({ outputTokens: 60, tokensPerSecond: 200 });
}, 120_000);

afterAll(async () => {
  for (const c of cleanups) await c();
  await infra?.close();
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
  const res = await fetchFn(
    '/v1/rewrite',
    rewriteInit(await infra.issuer.issue({ userId: user }), 'Our bakery opens at seven with fresh croissants.'),
  );
  expect(res.status).toBe(200);
  expect((await res.text()).length).toBeGreaterThan(20);
  await expect.poll(() => ledgerOf(infra.db, user)).toHaveLength(1);
  expect((await ledgerOf(infra.db, user))[0]).toMatchObject({ status: 'completed', source: 'provider' });
}

describe('Cloudflare Workers bundle (dist/worker/index.js)', () => {
  type Worker = {
    fetch(
      req: Request,
      env: Record<string, unknown>,
      ctx: { waitUntil(p: Promise<unknown>): void; passThroughOnException(): void; props: unknown },
    ): Promise<Response>;
  };
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
    await servesAMeteredRewrite(
      (path, init) => worker.fetch(new Request(`https://api.example${path}`, init), infra.env, ctx),
      'user_worker',
    );
  });

  it('keeps the settlement of an aborted stream alive with waitUntil', async () => {
    infra.model.setOptions({ outputTokens: 2000, tokensPerSecond: 200 });
    const user = 'user_worker_abort';
    pending.length = 0;
    const res = await worker.fetch(
      new Request(
        'https://api.example/v1/rewrite',
        rewriteInit(await infra.issuer.issue({ userId: user }), 'A long story. '.repeat(30)),
      ),
      infra.env,
      ctx,
    );
    expect(res.status).toBe(200);
    expect(pending).toHaveLength(1); // registered before the body is read
    const reader = res.body!.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    await reader.cancel();
    await Promise.all(pending);
    const ledger = await ledgerOf(infra.db, user);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ status: 'aborted', source: 'counted' });
    infra.model.setOptions({ outputTokens: 60 });
  });
});

describe('Cloudflare Workers bundle: Cron Triggers', () => {
  it('run the usage reporter when billing is on: a full pass on the hourly trigger', async () => {
    const stripe = await startStripeServer();
    cleanups.push(() => stripe.close());
    const setup = await standInSetup(stripe);
    // NODE_ENV=test: the configuration refuses a Stripe stand-in in production.
    const env = {
      ...infra.env,
      NODE_ENV: 'test',
      ...stripe.env({
        webhookSecret: 'whsec_worker_test_0123456789',
        priceBase: setup.basePriceId,
        priceMetered: setup.meteredPriceId,
      }),
    };
    // A fresh module instance: a Worker isolate has one environment, this one has billing on.
    const worker = (await import(`${pathToFileURL(resolve('dist/worker/index.js')).href}?billing`)).default as {
      scheduled(
        event: { cron: string; scheduledTime: number },
        env: Record<string, unknown>,
        ctx: unknown,
      ): Promise<void>;
    };
    await infra.db.del(keys.reportLastRun);
    await worker.scheduled({ cron: '0 * * * *', scheduledTime: Date.now() }, env, {
      waitUntil: () => {},
      passThroughOnException: () => {},
      props: {},
    });
    const lastRun = JSON.parse((await infra.db.get(keys.reportLastRun)) ?? 'null') as { mode?: string } | null;
    expect(lastRun).toMatchObject({ mode: 'full' });
  });
});

describe('Vercel function (.vercel/output/functions/index.func)', () => {
  it('is a Node request listener that serves a metered rewrite', async () => {
    Object.assign(process.env, infra.env);
    const mod = (await import(pathToFileURL(resolve('.vercel/output/functions/index.func/index.mjs')).href)) as {
      default: RequestListener;
    };
    const server: Server = createServer(mod.default);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await servesAMeteredRewrite((path, init) => fetch(base + path, init), 'user_vercel');

    // An aborted stream's settlement goes to Vercel's waitUntil (the request context @vercel/functions reads).
    const pending: Promise<unknown>[] = [];
    const key = Symbol.for('@vercel/request-context');
    (globalThis as Record<symbol, unknown>)[key] = {
      get: () => ({ waitUntil: (p: Promise<unknown>) => void pending.push(p) }),
    };
    try {
      infra.model.setOptions({ outputTokens: 2000, tokensPerSecond: 200 });
      const ctrl = new AbortController();
      const res = await fetch(`${base}/v1/rewrite`, {
        ...rewriteInit(await infra.issuer.issue({ userId: 'user_vercel_abort' }), 'A long story. '.repeat(30)),
        signal: ctrl.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      for (let i = 0; i < 5; i++) await reader.read();
      ctrl.abort();
      await expect.poll(() => pending.length).toBe(1);
      await Promise.all(pending);
      expect((await ledgerOf(infra.db, 'user_vercel_abort'))[0]).toMatchObject({
        status: 'aborted',
        source: 'counted',
      });
    } finally {
      delete (globalThis as Record<symbol, unknown>)[key];
      infra.model.setOptions({ outputTokens: 60 });
    }
  });
});

describe('Node bundle (dist/node/index.mjs)', () => {
  it('refuses to start in production without the authorized parties, the issuer and the metrics token, and says what to set', async () => {
    // (process.env may hold infra.env already: the Vercel test puts it there.)
    const env: Record<string, string | undefined> = { ...process.env, ...infra.env, PORT: '0' };
    for (const name of ['CLERK_AUTHORIZED_PARTIES', 'CLERK_ISSUER', 'METRICS_TOKEN']) delete env[name];
    const proc = spawn(process.execPath, ['dist/node/index.mjs'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => proc.kill('SIGKILL'));
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((r) => proc.once('close', r));
    expect(code).toBe(78);
    for (const name of ['CLERK_AUTHORIZED_PARTIES', 'CLERK_ISSUER', 'METRICS_TOKEN'])
      expect(stderr).toContain(`${name} is required when NODE_ENV=production`);
  });

  it('starts with `node` alone and serves a metered rewrite', async () => {
    const api = await spawnApi(infra.env, ['dist/node/index.mjs']);
    cleanups.push(() => api.proc.kill('SIGTERM'));
    const base = api.url;
    await servesAMeteredRewrite((path, init) => fetch(base + path, init), 'user_node_bundle');
  });
});
