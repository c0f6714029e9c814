/**
 * `npm run dev` (scripts/dev.ts, which `bash scripts/run.sh dev` runs) is the whole product offline by
 * default: the Stripe stand-in is started and labelled, set up with npm run stripe:setup's code (webhook
 * endpoint and meter-error destination pointing at the API), so Upgrade, Checkout, the portal and metered
 * usage work without any account; DEV_STRIPE=0 turns billing off. Runs the script as its own process on a
 * free port with a temporary data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

const running: { child: ChildProcess; dir: string }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.child.kill('SIGTERM');
    await new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : r.child.once('exit', resolve)));
    rmSync(r.dir, { recursive: true, force: true });
  }
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts scripts/dev.ts; resolves with its API URL and everything it printed once the banner is out. */
async function dev(extra: Record<string, string> = {}): Promise<{ api: string; out: string[] }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redraft-dev-'));
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), DEV_DATA_DIR: dir, ...extra };
  for (const k of ['OPENAI_API_KEY', 'STRIPE_SECRET_KEY', 'DEV_STRIPE', 'REDIS_PORT', 'DEV_STRIPE_PORT'])
    if (!(k in extra)) delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push({ child, dir });
  const out: string[] = [];
  const api = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      out.push(line);
      const m = /^\s+API\s+(http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`dev exited (${code}) before its banner:\n${out.join('\n')}`)));
  });
  return { api, out };
}

describe('npm run dev', () => {
  it('starts the offline Stripe stand-in by default: Upgrade, Checkout (Pay), the portal and metered usage with no account', {
    timeout: 90_000,
  }, async () => {
    const cron = 'dev-stack-test-cron-secret-0123456789';
    const { api, out } = await dev({ CRON_SECRET: cron });
    const stripeLine = out.find((l) => l.trimStart().startsWith('stripe'))!;
    expect(stripeLine).toMatch(/OFFLINE STRIPE STAND-IN, not Stripe/);
    const standIn = /stripe\s+(http:\/\/\S+)/.exec(stripeLine)![1]!;
    const health = (await (await fetch(`${api}/health`)).json()) as { billing: Record<string, unknown> };
    expect(health.billing).toMatchObject({ enabled: true, standIn: expect.stringMatching(/STAND-IN/) });

    const { token } = (await (
      await fetch(`${api}/dev/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ userId: 'user_devstack' }),
      })
    ).json()) as { token: string };
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${api}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      });
    expect(((await (await call('/v1/usage')).json()) as { billing: { canUpgrade: boolean } }).billing.canUpgrade).toBe(
      true,
    );
    const { url } = (await (await call('/v1/billing/checkout', { method: 'POST' })).json()) as { url: string };
    expect(url.startsWith(`${standIn}/checkout/`)).toBe(true);
    expect(await (await fetch(url)).text()).toMatch(/OFFLINE STRIPE STAND-IN/);
    // Pay: the stand-in completes the subscription and sends signed webhooks to the endpoint setup created.
    const paid = await fetch(`${url}/complete`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    const usage = (await (await call('/v1/usage')).json()) as { plan: string; billing: { canManage: boolean } };
    expect(usage).toMatchObject({ plan: 'pro', billing: { canManage: true } });
    const portal = await call('/v1/billing/portal', { method: 'POST' });
    expect(portal.status).toBe(200);
    expect(((await portal.json()) as { url: string }).url.startsWith(`${standIn}/portal/`)).toBe(true);

    // A rewrite, then a report run: the usage is on the stand-in's meter.
    const res = await call('/v1/rewrite', {
      method: 'POST',
      body: JSON.stringify({ text: 'Our shoes are good and you should buy them.', action: 'rewrite' }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await expect
      .poll(async () => ((await (await call('/v1/usage')).json()) as { usedTokens: number }).usedTokens, {
        timeout: 10_000,
      })
      .toBeGreaterThan(0);
    const run = await fetch(`${api}/internal/report-usage`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${cron}` },
    });
    expect(await run.json()).toMatchObject({ failures: 0, batches: 1 });
    const totals = (await (await fetch(`${standIn}/_standin/totals`)).json()) as Record<string, number>;
    expect(Object.values(totals).reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
  });

  it('DEV_STRIPE=0 turns billing off', { timeout: 60_000 }, async () => {
    const { api, out } = await dev({ DEV_STRIPE: '0' });
    expect(out.find((l) => l.trimStart().startsWith('stripe'))).toMatch(/billing disabled/);
    const health = (await (await fetch(`${api}/health`)).json()) as { billing: Record<string, unknown> };
    expect(health.billing).toMatchObject({ enabled: false });
  });
});
