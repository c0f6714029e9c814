/**
 * Security properties, as tests: CORS only for the configured extension origins, users isolated from
 * each other, dev-only routes absent in production, and tokens with a wrong issuer, a tampered payload,
 * `alg: none` or a hostile subject refused.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../api/config/env';
import { createServices } from '../../api/services';
import { startInfra, type Infra } from '../support/infra';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import { CRON_SECRET, startBillingStack, type BillingStack } from '../support/billing';
import { chunkedPost } from '../support/raw-http';
import { keys } from '../../api/metering/keys';

const EXT = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
const ISSUER = 'https://clerk.redraft.example';
const PROD_METRICS_TOKEN = 'metrics-token-of-the-production-app';

describe('production app (Clerk keys, no dev auth)', () => {
  let infra: Infra;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    infra = await startInfra();
    const config = loadConfig({
      ...infra.env,
      CLERK_AUTHORIZED_PARTIES: EXT,
      CLERK_ISSUER: ISSUER,
      ALLOWED_ORIGINS: EXT,
      METRICS_TOKEN: PROD_METRICS_TOKEN,
    });
    const app = createApp(await createServices(config, { log: () => {} }));
    server = createServer(getRequestListener(app.fetch));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await infra?.close();
  });

  const usage = (token: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/usage`, { headers: { Authorization: `Bearer ${token}`, ...headers } });
  const token = (userId: string, o: Omit<Parameters<Infra['issuer']['issue']>[0], 'userId'> = {}) =>
    infra.issuer.issue({ userId, azp: EXT, iss: ISSUER, ...o });

  it('accepts a token from the configured issuer and extension', async () => {
    expect((await usage(await token('user_sec_ok'))).status).toBe(200);
  });

  it('refuses a token from another issuer, even when signed by the right key', async () => {
    const res = await usage(await token('user_sec_iss', { iss: 'https://clerk.attacker.example' }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'unauthenticated', message: expect.stringContaining('token-wrong-issuer') },
    });
  });

  it('refuses alg:none, a tampered payload and a hostile subject', async () => {
    const good = await token('user_sec_victim');
    const [h, p, s] = good.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forge = (c: Record<string, unknown>) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const none = forge({ alg: 'none', typ: 'JWT' });
    for (const bad of [
      `${none}.${p}.`,
      `${none}.${forge({ ...claims, sub: 'user_attacker' })}.`,
      `${h}.${forge({ ...claims, sub: 'user_attacker' })}.${s}`,
      `${h}.${p}.${s!.slice(0, -4)}AAAA`,
    ]) {
      expect((await usage(bad)).status).toBe(401);
    }
    // A correctly signed token whose subject would break out of the Redis key layout.
    for (const sub of ['user}{evil', 'user with spaces', '', 'x'.repeat(200)]) {
      expect((await usage(await token(sub))).status).toBe(401);
    }
  });

  it('refuses a pending session and a token that is not a session (no sid), correctly signed', async () => {
    // Found by the outside attack run: `sts: "pending"` was served (200).
    const pending = await usage(await token('user_sec_pending', { sts: 'pending' }));
    expect(pending.status).toBe(401);
    expect(await pending.json()).toMatchObject({
      error: { code: 'unauthenticated', message: expect.stringContaining('session-not-active') },
    });
    const rewrite = await fetch(`${base}/v1/rewrite`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await token('user_sec_pending', { sts: 'pending' })}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ text: 'Spend my tokens while my session is pending.', action: 'rewrite' }),
    });
    expect(rewrite.status).toBe(401);
    // A JWT-template token of the same instance: same key, issuer and azp, but no session id.
    const template = await usage(await token('user_sec_template', { sid: null, sts: null }));
    expect(template.status).toBe(401);
    expect(await template.json()).toMatchObject({
      error: { code: 'unauthenticated', message: expect.stringContaining('token-not-a-session') },
    });
    expect(await infra.db.exists(keys.quota('user_sec_pending'), keys.quota('user_sec_template'))).toBe(0);
  });

  it('serves CORS only to the configured extension origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/v1/rewrite`, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
      });
    const ok = await preflight(EXT);
    expect(ok.headers.get('access-control-allow-origin')).toBe(EXT);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    for (const evil of ['https://evil.example', 'chrome-extension://otherextensionidotherextensionid', 'null']) {
      const res = await preflight(evil);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const get = await usage(await token('user_sec_cors'), { Origin: evil });
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
    }
    const own = await usage(await token('user_sec_cors'), { Origin: EXT });
    expect(own.headers.get('access-control-allow-origin')).toBe(EXT);
    expect(own.headers.get('access-control-expose-headers')).toContain('X-Tokens-Remaining');
  });

  it('public /health is up/down only, from a cached probe; details need the metrics token', async () => {
    // Found by the outside attack run: details (report runs, addresses) for anyone, and an outbound
    // model call (GET /models with our API key) plus Redis commands on every call.
    const health = (headers: Record<string, string> = {}) => fetch(`${base}/health`, { headers });
    const models = infra.model.stats.requests;
    const commands = infra.bridge.stats.commands;
    const answers = await Promise.all(Array.from({ length: 20 }, () => health()));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ status: 'ok', redis: { ok: true }, model: { ok: true } });
    }
    for (let i = 0; i < 5; i++) await (await health({ Authorization: 'Bearer not-the-metrics-token' })).json();
    // One probe for all 25 calls, not one each.
    expect(infra.model.stats.requests - models).toBe(1);
    expect(infra.bridge.stats.commands - commands).toBeLessThanOrEqual(1);

    const detailed = (await (await health({ Authorization: `Bearer ${PROD_METRICS_TOKEN}` })).json()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(detailed).toMatchObject({
      status: 'ok',
      redis: { ok: true, latencyMs: expect.any(Number) },
      model: {
        ok: true,
        routes: { free: { default: ['openai/gpt-4o-mini', 'openai/gpt-4.1-nano'] } },
        providers: { openai: { kind: 'openai', baseURL: infra.model.url } },
      },
      auth: { mode: expect.stringMatching(/clerk/) },
      billing: { enabled: false },
    });
    expect(infra.model.stats.requests - models).toBe(1); // the same cached probe
  });

  it('marks every answer no-store and nosniff: usage, errors, metrics', async () => {
    const answers = [
      await usage(await token('user_sec_headers')),
      await usage('not-a-token'),
      await fetch(`${base}/nowhere`),
      await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${PROD_METRICS_TOKEN}` } }),
    ];
    for (const res of answers) {
      expect(res.headers.get('cache-control'), res.url).toBe('no-store');
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
    }
    expect(answers.map((r) => r.status)).toEqual([200, 401, 404, 200]);
  });

  it('has no dev routes: /dev/session does not exist without DEV_AUTH', async () => {
    const res = await fetch(`${base}/dev/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"userId":"user_dev"}',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('user isolation', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a user cannot name another user's account, and the same request id is separate per user", async () => {
    const [a, b] = [await stack.token('user_iso_a'), await stack.token('user_iso_b')];
    // The body cannot carry a user: the schema is strict.
    const smuggled = await stack.rewrite(a, { text: 'hello', action: 'rewrite', userId: 'user_iso_b' });
    expect(smuggled.status).toBe(400);
    // The same requestId from both users: two separate requests, each charged to its own user.
    for (const t of [a, b]) {
      const res = await stack.rewrite(t, {
        text: 'Fresh flowers every Friday.',
        action: 'shorten',
        requestId: 'shared_id_0001',
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    await expect
      .poll(
        async () => (await ledgerOf(stack.db, 'user_iso_a')).length + (await ledgerOf(stack.db, 'user_iso_b')).length,
      )
      .toBe(2);
    for (const [user, t] of [
      ['user_iso_a', a],
      ['user_iso_b', b],
    ] as const) {
      const ledger = await ledgerOf(stack.db, user);
      expect(ledger.map((e) => e.user)).toEqual([user]);
      const u = (await (
        await fetch(`${stack.api}/v1/usage`, { headers: { Authorization: `Bearer ${t}` } })
      ).json()) as { usedTokens: number; recent: { requestId: string }[] };
      expect(u.usedTokens).toBe(await usedOf(stack.db, user));
      expect(u.usedTokens).toBe(Number(ledger[0]!.billed));
      expect(u.recent.map((r) => r.requestId)).toEqual(['shared_id_0001']);
    }
  });
});

describe('request bodies: capped as they stream, and a client going away is not our error', () => {
  const METRICS_TOKEN = 'metrics-token-for-security-tests';
  let b: BillingStack;
  beforeAll(async () => {
    b = await startBillingStack({ env: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await b?.close();
  });
  const metric = async (series: string) => {
    const text = await (
      await fetch(`${b.stack.api}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(series))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('refuses an unbounded chunked webhook body once it passes the cap, without reading the rest (no authentication needed)', async () => {
    // Found by the outside attack run: 64 MB without Content-Length was read whole before the signature
    // check (+290 MiB of API memory).
    for (const path of ['/webhooks/stripe', '/webhooks/stripe/thin']) {
      const res = await chunkedPost(b.stack.api, path, {
        headers: { 'Stripe-Signature': 't=1,v1=00' },
        total: 64 * 1024 * 1024,
      });
      expect(res.status, path).toBe(413);
      expect(JSON.parse(res.body), path).toMatchObject({ error: { code: 'payload_too_large' } });
      // The answer came once the 1 MB cap was passed (plus what the sockets buffer), not after 64 MB.
      expect(res.sent, path).toBeLessThan(16 * 1024 * 1024);
    }
  });

  it('caps chunked bodies on the rewrite and billing routes too', async () => {
    const auth = { Authorization: `Bearer ${await b.stack.token('user_sec_chunked')}` };
    for (const path of ['/v1/rewrite', '/v1/billing/checkout', '/v1/billing/portal']) {
      const res = await chunkedPost(b.stack.api, path, { headers: auth, total: 32 * 1024 * 1024 });
      expect(res.status, path).toBe(413);
      expect(JSON.parse(res.body), path).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(res.sent, path).toBeLessThan(16 * 1024 * 1024);
    }
  });

  it('shows the last usage-report run only with the metrics token', async () => {
    expect(
      (
        await fetch(`${b.stack.api}/internal/report-usage`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${CRON_SECRET}` },
        })
      ).status,
    ).toBe(200);
    const open = await (await fetch(`${b.stack.api}/health`)).json();
    expect(open).toEqual({ status: 'ok', redis: { ok: true }, model: { ok: true } });
    const detailed = (await (
      await fetch(`${b.stack.api}/health`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })
    ).json()) as { billing: Record<string, unknown> };
    expect(detailed.billing).toMatchObject({
      enabled: true,
      mode: 'test',
      lastReport: { mode: 'full', complete: true, users: expect.any(Number) },
    });
  });

  it('a client that disconnects mid-body gets no 5xx and no error-level log line', async () => {
    // Found by the outside attack run: logged as "unhandled error" and counted as a 500.
    const auth = { Authorization: `Bearer ${await b.stack.token('user_sec_gone')}` };
    const served5xx = await metric('redraft_http_requests_total{code="internal"');
    const before = b.stack.logs.length;
    for (const [path, headers] of [
      ['/webhooks/stripe', { 'Stripe-Signature': 't=1,v1=00' }],
      ['/v1/rewrite', auth],
    ] as const) {
      await chunkedPost(b.stack.api, path, { headers, total: 200_000, chunk: 1000, disconnectAfter: 5000 });
      await expect
        .poll(() => b.stack.logs.slice(before).some((l) => l.msg === 'request' && l.route === path))
        .toBe(true);
    }
    const lines = b.stack.logs.slice(before);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request').map((l) => [l.route, l.status, l.code])).toEqual([
      ['/webhooks/stripe', 400, 'request_incomplete'],
      ['/v1/rewrite', 400, 'request_incomplete'],
    ]);
    expect(await metric('redraft_http_requests_total{code="internal"')).toBe(served5xx);
    expect(await metric('redraft_http_requests_total{code="request_incomplete"')).toBe(2);
    expect(await ledgerOf(b.stack.db, 'user_sec_gone')).toEqual([]);
  });
});
