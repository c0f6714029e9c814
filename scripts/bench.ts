/**
 * `npm run bench`: what metering costs, measured in one run on this machine (figures, not assertions).
 *
 * Both paths stream the same prompts from the same OpenAI-compatible stand-in through the real AI SDK
 * on @hono/node-server, served by one API process:
 *   - metered:     the Redraft API — JWT verification, both rate windows, the Lua quota reservation,
 *                  streamText, settlement and ledger — against a real redis-server through the Upstash
 *                  REST bridge (the real @upstash/redis client, auto-pipelined);
 *   - passthrough: a bare Hono route in the same process that calls streamText and streams the text;
 *   - read-ahead:  the metered app as @hono/node-server serves it by default (before the Node entry point sent
 *                  streams chunked: the head waits for a read-ahead, a timer tick, to look for a Content-Length).
 * As in production, Redis (+ its REST bridge, standing in for Upstash) and the model run in processes of
 * their own, and the load comes from this process. Prints requests/s and time-to-first-byte p50/p99
 * for each, their ratios, and the Redis round trips (HTTP requests to the bridge) per request: before
 * the first byte, and in all.
 *
 * Options (env): BENCH_REQUESTS (per path, default 600), BENCH_CONCURRENCY (default 24),
 * BENCH_FIRST_TOKEN_MS (default 150), BENCH_TOKENS_PER_SECOND (default 250), BENCH_OUTPUT_TOKENS (default 40).
 * Last, session JWT verification alone: the cached-key verifier against Clerk's verifyToken (the previous
 * one), µs per call and their ratio (`--role verify` prints only that).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Hono } from 'hono';
import { serve, type Http2Bindings, type HttpBindings, type ServerType } from '@hono/node-server';
import { streamText } from 'ai';
import { parseArgs } from 'node:util';
import { loadConfig } from '../api/config/env';
import { createServices } from '../api/services';
import { createApp } from '../api/app';
import { nodeFetch } from '../api/runtimes/node';
import { startRedisServer } from '../standins/redis';
import { startUpstashBridge } from '../standins/upstash-bridge';
import { createOpenAI } from '@ai-sdk/openai';
import { buildMessages } from '../shared/prompts';
import type { RewriteRequest } from '../shared/contract';
import { createDevIssuer, DEV_ISSUER } from '../api/auth/dev-issuer';
import { createSessionVerifier, type SessionVerifier } from '../api/auth/verify';
import { createClerkSessionVerifier } from '../tests/support/clerk-verifier';

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const REQUESTS = env('BENCH_REQUESTS', 600);
const CONCURRENCY = env('BENCH_CONCURRENCY', 24);
const FIRST_TOKEN_MS = env('BENCH_FIRST_TOKEN_MS', 150);
const TOKENS_PER_SECOND = env('BENCH_TOKENS_PER_SECOND', 250);
const OUTPUT_TOKENS = env('BENCH_OUTPUT_TOKENS', 40);

const BODIES: RewriteRequest[] = [
  { text: 'Our running shoes are light, fast and made from recycled plastic bottles.', action: 'rewrite' },
  { text: 'Fresh bread every morning, baked with local flour and a lot of patience.', action: 'shorten' },
  { text: 'The new espresso blend: chocolate, cherry and a long finish.', action: 'tone', tone: 'friendly' },
  { text: 'Spring sale: 30% off all jackets this weekend only.', action: 'social_post', platform: 'x' },
];

interface Run {
  rps: number;
  ttfb: number[];
  failures: number;
}

/** A closed-loop load: CONCURRENCY workers, REQUESTS in all; TTFB = time to the first body chunk. */
async function load(
  send: (body: RewriteRequest, i: number) => Promise<Response>,
  requests = REQUESTS,
  concurrency = CONCURRENCY,
): Promise<Run> {
  const ttfb: number[] = [];
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const start = performance.now();
        const res = await send(BODIES[i % BODIES.length]!, i);
        if (res.status !== 200 || !res.body) {
          failures++;
          await res.arrayBuffer();
          continue;
        }
        const reader = res.body.getReader();
        const first = await reader.read();
        ttfb.push(performance.now() - start);
        if (first.done) continue;
        while (!(await reader.read()).done);
      }
    }),
  );
  return { rps: requests / ((performance.now() - t0) / 1000), ttfb: ttfb.sort((a, b) => a - b), failures };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const f1 = (n: number) => n.toFixed(1);

/** Starts a child process and resolves with the JSON it prints on its first line. */
async function child<T>(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ info: T; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  process.once('exit', () => proc.kill());
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // Resolves once the child has cleaned up after itself (the Redis role stops its redis-server).
  return { info: JSON.parse(line) as T, stop: () => (proc.kill('SIGTERM'), exited) };
}

async function listen(app: {
  fetch: (req: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;
}): Promise<{ url: string; server: ServerType }> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

function passthroughApp(modelUrl: string) {
  const model = createOpenAI({ apiKey: 'stand-in', baseURL: modelUrl }).chat('gpt-4o-mini');
  const app = new Hono();
  app.post('/v1/rewrite', async (c) => {
    const body = (await c.req.json()) as RewriteRequest;
    const messages = buildMessages(body);
    const result = streamText({
      model,
      system: messages[0]!.content,
      messages: [{ role: 'user', content: messages[1]!.content }],
      maxOutputTokens: 2000,
      maxRetries: 0,
    });
    return new Response(result.textStream.pipeThrough(new TextEncoderStream()), {
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    });
  });
  return app;
}

/**
 * Session verification alone, in this process: the cached-key verifier (api/auth/verify.ts) against
 * `@clerk/backend`'s `verifyToken` with the PEM key (the previous one), on the same tokens, interleaved in
 * rounds so drift hits both. Returns µs per verification (median of the rounds).
 */
async function verifierBench(rounds = 10, perRound = 300): Promise<{ clerk: number; cached: number }> {
  const issuer = await createDevIssuer();
  const EXT = 'chrome-extension://benchbenchbenchbenchbenchbenchbe';
  const opts = { jwtKey: issuer.publicKeyPem, authorizedParties: [EXT], issuer: DEV_ISSUER };
  const tokens = await Promise.all(
    Array.from({ length: 16 }, (_, i) => issuer.issue({ userId: `user_v${i}`, azp: EXT })),
  );
  const verifiers: Record<'clerk' | 'cached', SessionVerifier> = {
    clerk: createClerkSessionVerifier(opts),
    cached: createSessionVerifier(opts),
  };
  const times: Record<'clerk' | 'cached', number[]> = { clerk: [], cached: [] };
  for (let round = -1; round < rounds; round++) {
    for (const name of ['clerk', 'cached'] as const) {
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        if (!(await verifiers[name](tokens[i % tokens.length]!)).ok) throw new Error(`${name} refused a valid token`);
      }
      if (round >= 0) times[name].push(((performance.now() - t0) * 1000) / perRound); // round -1 warms up
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { clerk: median(times.clerk), cached: median(times.cached) };
}

async function printVerifierBench() {
  const v = await verifierBench();
  console.log(
    `session JWT verification (this process, one at a time): Clerk verifyToken with the PEM key ${f1(v.clerk)} µs, cached key ${f1(v.cached)} µs — ×${(v.cached / v.clerk).toFixed(3)} (${(v.clerk / v.cached).toFixed(1)}× faster)`,
  );
}

const USERS = 50;
const { values } = parseArgs({ options: { role: { type: 'string', default: 'main' } } });

if (values.role === 'verify') {
  // `tsx scripts/bench.ts --role verify`: only the session verification figures.
  await printVerifierBench();
} else if (values.role === 'redis') {
  // Redis and its REST bridge: the "Upstash" of this benchmark.
  const redis = await startRedisServer();
  const bridge = await startUpstashBridge({ redisUrl: redis.url });
  console.log(JSON.stringify({ url: bridge.url, token: bridge.token }));
  process.once(
    'SIGTERM',
    () =>
      void bridge
        .close()
        .then(() => redis.stop())
        .then(() => process.exit(0)),
  );
} else if (values.role === 'api') {
  // The API under test, and the passthrough beside it in the same process.
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    DEV_AUTH: '1',
    MODEL_STAND_IN: '1',
    MODEL_MAX_RETRIES: '0',
    RATE_LIMIT_RPM: '1000000',
    RATE_LIMIT_TPM: '1000000000',
  });
  let logged = 0;
  const services = await createServices(config, { log: () => void logged++ });
  // As the Node entry point serves it (streams sent chunked), and the same app with @hono/node-server's read-ahead.
  const metered = await listen({ fetch: nodeFetch(services) });
  const readAhead = await listen(createApp(services));
  const passthrough = await listen(passthroughApp(config.model.providers.openai!.baseURL!));
  const tokens = await Promise.all(
    Array.from({ length: USERS }, (_, i) => services.devIssuer!.issue({ userId: `user_bench_${i}`, ttlSeconds: 3600 })),
  );
  console.log(JSON.stringify({ metered: metered.url, readAhead: readAhead.url, passthrough: passthrough.url, tokens }));
  process.once('SIGTERM', () => process.exit(0));
} else {
  const model = await child<{ url: string }>([
    'standins/model/main.ts',
    '--port',
    '0',
    '--first-token-ms',
    String(FIRST_TOKEN_MS),
    '--tokens-per-second',
    String(TOKENS_PER_SECOND),
    '--output-tokens',
    String(OUTPUT_TOKENS),
  ]);
  const redis = await child<{ url: string; token: string }>(['scripts/bench.ts', '--role', 'redis']);
  const api = await child<{ metered: string; readAhead: string; passthrough: string; tokens: string[] }>(
    ['scripts/bench.ts', '--role', 'api'],
    {
      UPSTASH_REDIS_REST_URL: redis.info.url,
      UPSTASH_REDIS_REST_TOKEN: redis.info.token,
      OPENAI_API_KEY: 'stand-in',
      OPENAI_BASE_URL: model.info.url,
      CLERK_TELEMETRY_DISABLED: '1',
    },
  );
  const bridgeRequests = async () =>
    ((await (await fetch(`${redis.info.url}/_bridge/stats`)).json()) as { requests: number }).requests;
  const { tokens } = api.info;
  const passthrough = (body: RewriteRequest) =>
    fetch(`${api.info.passthrough}/v1/rewrite`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const meteredAt = (base: string) => (body: RewriteRequest, i: number) =>
    fetch(`${base}/v1/rewrite`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[i % USERS]}` },
      body: JSON.stringify(body),
    });
  const metered = meteredAt(api.info.metered);
  const readAhead = meteredAt(api.info.readAhead);

  console.log(
    `Redraft bench — ${REQUESTS} requests per path, ${CONCURRENCY} in flight, ${USERS} users; model stand-in: first token ${FIRST_TOKEN_MS} ms, ${TOKENS_PER_SECOND} tokens/s, ${OUTPUT_TOKENS} tokens`,
  );

  // Warm up both paths (scripts loaded, connections open, JIT).
  await load(passthrough, 48, 8);
  await load(metered, 48, 8);
  await load(readAhead, 48, 8);

  // Redis round trips per request, measured sequentially so requests do not share pipelines.
  const SEQ = 40;
  let beforeFirstByte = 0;
  let total = 0;
  for (let i = 0; i < SEQ; i++) {
    const r0 = await bridgeRequests();
    const res = await metered(BODIES[i % BODIES.length]!, i);
    const reader = res.body!.getReader();
    await reader.read();
    beforeFirstByte += (await bridgeRequests()) - r0;
    while (!(await reader.read()).done);
    total += (await bridgeRequests()) - r0;
  }

  // Alternate the paths twice so drift on a noisy machine hits all alike.
  const runs = { passthrough: [] as Run[], metered: [] as Run[], readAhead: [] as Run[] };
  for (let round = 0; round < 2; round++) {
    runs.passthrough.push(await load(passthrough, REQUESTS / 2));
    runs.metered.push(await load(metered, REQUESTS / 2));
    runs.readAhead.push(await load(readAhead, REQUESTS / 2));
  }
  const merge = (rs: Run[]): Run => ({
    rps: rs.reduce((sum, r) => sum + r.rps, 0) / rs.length,
    ttfb: rs.flatMap((r) => r.ttfb).sort((a, b) => a - b),
    failures: rs.reduce((sum, r) => sum + r.failures, 0),
  });
  const p = merge(runs.passthrough);
  const m = merge(runs.metered);
  const ra = merge(runs.readAhead);

  const rows = [
    ['path', 'req/s', 'TTFB p50 ms', 'TTFB p99 ms', 'failures'],
    ['passthrough (no metering)', f1(p.rps), f1(pct(p.ttfb, 50)), f1(pct(p.ttfb, 99)), String(p.failures)],
    ['metered (full Redraft path)', f1(m.rps), f1(pct(m.ttfb, 50)), f1(pct(m.ttfb, 99)), String(m.failures)],
    ['metered, head after read-ahead', f1(ra.rps), f1(pct(ra.ttfb, 50)), f1(pct(ra.ttfb, 99)), String(ra.failures)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
  console.log(
    `ratio metered/passthrough: throughput ${(m.rps / p.rps).toFixed(3)}; TTFB p50 ×${(pct(m.ttfb, 50) / pct(p.ttfb, 50)).toFixed(3)} (+${f1(pct(m.ttfb, 50) - pct(p.ttfb, 50))} ms), p99 ×${(pct(m.ttfb, 99) / pct(p.ttfb, 99)).toFixed(3)}`,
  );
  console.log(
    `streams sent chunked vs after @hono/node-server's read-ahead: TTFB p50 ${f1(pct(m.ttfb, 50))} vs ${f1(pct(ra.ttfb, 50))} ms (${f1(pct(m.ttfb, 50) - pct(ra.ttfb, 50))} ms), p99 ${f1(pct(m.ttfb, 99))} vs ${f1(pct(ra.ttfb, 99))} ms; throughput ×${(m.rps / ra.rps).toFixed(3)}`,
  );
  console.log(
    `Redis round trips per request (sequential, ${SEQ} requests): ${f1(beforeFirstByte / SEQ)} before the first byte, ${f1(total / SEQ)} in all (incl. settlement)`,
  );

  await Promise.all([api, redis, model].map((c) => c.stop()));

  await printVerifierBench();
  process.exit(0);
}
