/**
 * `npm run bench`: what the metered path costs against the limit, measured in one run on this machine (figures,
 * not assertions). Compare the ratios: the machine is shared and absolute times drift.
 *
 * Four paths to the same OpenAI-compatible model stand-in (its own process), alternated in rounds so drift hits
 * all alike:
 *   - floor:       the load generator straight to the model (what no gateway can beat);
 *   - proxy:       a minimal byte-piping proxy, plain node:http piping the upstream response's bytes (the baseline
 *                  any Node gateway can reach), its own process;
 *   - passthrough: a bare Hono route calling the AI SDK's streamText and streaming its text (no metering), its own
 *                  process, served chunked as the Node entry point serves the app;
 *   - metered:     the Redraft API as the Node entry point serves it — JWT verification, both rate windows, the Lua
 *                  quota reservation, streamText, settlement and ledger — against a real redis-server through the
 *                  Upstash REST bridge (its own process, standing in for Upstash), its own process.
 * The load generator is plain node:http (keep-alive); TTFB is the time to the first body byte. Each gateway process
 * reports its own CPU time (process.cpuUsage, over IPC) before and after each batch: CPU ms per request.
 * Printed: the goals of issue 14 as ratios, then req/s, TTFB p50/p99 and CPU ms per request at each concurrency,
 * then how the cost grows with the work (output tokens, input characters), then Redis commands per rewrite
 * (MONITOR: sent over REST, and run inside scripts) and round trips.
 *
 * Options (env): BENCH_LEVELS (in-flight levels, default "1,24,64"), BENCH_REQUESTS_<level> (per path per level,
 * defaults 1: 40, 24: 240, 64: 512), BENCH_ROUNDS (default 2), BENCH_SCALE (0 skips the growth table),
 * BENCH_SCALE_CONCURRENCY (default 8), BENCH_SCALE_REQUESTS (per path per row, default 24), BENCH_FIRST_TOKEN_MS
 * (150), BENCH_TOKENS_PER_SECOND (250), BENCH_OUTPUT_TOKENS (40), BENCH_PATHS (only these, e.g. "metered"),
 * BENCH_BASELINE (a copy of an earlier tree: its metered API as a fifth path), BENCH_PROFILE=metered|passthrough|proxy (that
 * process runs with --cpu-prof, profiles in BENCH_PROFILE_DIR, default /tmp/redraft-bench-prof).
 * `--role verify`: session JWT verification alone (cached key vs Clerk's verifyToken).
 * Loopback only; it stops every process it started and nothing else.
 */
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Hono } from 'hono';
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { streamText } from 'ai';
import { Redis as IORedis } from 'ioredis';
import { loadConfig } from '../api/config/env';
import { createServices } from '../api/services';
import { nodeFetch } from '../api/runtimes/node';
import { startRedisServer } from '../standins/redis';
import { startUpstashBridge } from '../standins/upstash-bridge';
import { createOpenAI } from '@ai-sdk/openai';
import { planPrompt } from '../api/model/estimate';
import { buildMessages } from '../shared/prompts';
import type { RewriteRequest } from '../shared/contract';
import { createDevIssuer, DEV_ISSUER } from '../api/auth/dev-issuer';
import { createSessionVerifier, type SessionVerifier } from '../api/auth/verify';
import { createRedis } from '../api/store/redis';
import { keys } from '../api/metering/keys';
import { createClerkSessionVerifier } from '../tests/support/clerk-verifier';
import { chatBody, post, startPipeProxy } from './lib/bench-http';
import { child, cpuOf, serveCpu, table, type Child } from './lib/bench-proc';

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,24,64').split(',').map(Number);
const DEFAULT_REQUESTS: Record<number, number> = { 1: 40, 24: 240, 64: 512 };
const requestsAt = (level: number) => env(`BENCH_REQUESTS_${level}`, DEFAULT_REQUESTS[level] ?? level * 8);
const ROUNDS = env('BENCH_ROUNDS', 2);
const SCALE = env('BENCH_SCALE', 1) !== 0;
const SCALE_CONCURRENCY = env('BENCH_SCALE_CONCURRENCY', 8);
const SCALE_REQUESTS = env('BENCH_SCALE_REQUESTS', 24);
const FIRST_TOKEN_MS = env('BENCH_FIRST_TOKEN_MS', 150);
const TOKENS_PER_SECOND = env('BENCH_TOKENS_PER_SECOND', 250);
const OUTPUT_TOKENS = env('BENCH_OUTPUT_TOKENS', 40);
const PROFILE = process.env.BENCH_PROFILE;
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ?? '/tmp/redraft-bench-prof';
const USERS = 50;

const BODIES: RewriteRequest[] = [
  { text: 'Our running shoes are light, fast and made from recycled plastic bottles.', action: 'rewrite' },
  { text: 'Fresh bread every morning, baked with local flour and a lot of patience.', action: 'shorten' },
  { text: 'The new espresso blend: chocolate, cherry and a long finish.', action: 'tone', tone: 'friendly' },
  { text: 'Spring sale: 30% off all jackets this weekend only.', action: 'social_post', platform: 'x' },
];

const PROSE =
  'Our running shoes are light, fast and made from recycled plastic bottles. Fresh bread every morning, baked with ' +
  'local flour and a lot of patience. The new espresso blend brings chocolate, cherry and a long finish to your ' +
  'cup. Spring sale: thirty percent off all jackets this weekend only, in every store and online. ';
/** English prose of exactly `chars` characters. */
const proseOf = (chars: number) => PROSE.repeat(Math.ceil(chars / PROSE.length)).slice(0, chars);

type PathName = 'floor' | 'proxy' | 'passthrough' | 'metered' | 'baseline';
/**
 * BENCH_BASELINE: a copy of an earlier tree (with this bench script and node_modules in it): its metered API runs as
 * a fifth path, `baseline`, alternated with the others, for before/after figures from one run.
 */
const BASELINE = process.env.BENCH_BASELINE;
const PATHS: PathName[] = ['floor', 'proxy', 'passthrough', 'metered', ...(BASELINE ? (['baseline'] as const) : [])];
/** BENCH_PATHS (e.g. "metered", for a profile): only these paths are loaded; the others print as —. */
const ONLY = process.env.BENCH_PATHS?.split(',') as PathName[] | undefined;
const NONE: Merged = {
  rps: Number.NaN,
  p50: Number.NaN,
  p99: Number.NaN,
  cpuPerRequest: Number.NaN,
  failures: 0,
  failed: {},
  bytesPerRequest: 0,
};

interface Run {
  n: number;
  seconds: number;
  ttfb: number[];
  failures: number;
  /** Failed requests by HTTP status (0: no answer). */
  failed: Record<string, number>;
  bytes: number;
  /** API process CPU ms over the run (undefined for the floor: no gateway). */
  cpuMs: number | undefined;
}

interface Target {
  name: PathName;
  url: URL;
  headers: (i: number) => Record<string, string>;
  body: (r: RewriteRequest) => string;
  cpu?: () => Promise<number>;
  /** The process's CPU ms per ms when idle (timers, the tsx loader), subtracted from each batch. */
  idlePerMs: number;
  agent: Agent;
}

/** Each gateway's idle CPU rate, measured over the same second for all. */
async function calibrateIdle(targets: Target[]): Promise<void> {
  const before = await Promise.all(targets.map((t) => t.cpu?.()));
  const t0 = performance.now();
  await sleep(1000);
  const after = await Promise.all(targets.map((t) => t.cpu?.()));
  const ms = performance.now() - t0;
  targets.forEach((t, i) => {
    t.idlePerMs = before[i] === undefined ? 0 : Math.max(0, (after[i]! - before[i]!) / ms);
  });
}

/** A closed loop: `concurrency` workers, `requests` in all, cycling through `bodies` (pre-serialized). */
async function load(t: Target, bodies: RewriteRequest[], requests: number, concurrency: number): Promise<Run> {
  const serialized = bodies.map((b) => t.body(b));
  const ttfb: number[] = [];
  let failures = 0;
  const failed: Record<string, number> = {};
  let bytes = 0;
  let next = 0;
  const cpu0 = await t.cpu?.();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const r = await post(t.agent, t.url, t.headers(i), serialized[i % serialized.length]!);
        if (r.status !== 200 || r.bytes === 0) {
          failures++;
          failed[r.status] = (failed[r.status] ?? 0) + 1;
        } else ttfb.push(r.ttfb);
        bytes += r.bytes;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await sleep(100); // settlements of the last streams land in this batch
  const cpu1 = await t.cpu?.();
  const idle = t.idlePerMs * (performance.now() - t0);
  return {
    n: requests,
    seconds,
    ttfb,
    failures,
    failed,
    bytes,
    cpuMs: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 - idle,
  };
}

interface Merged {
  rps: number;
  p50: number;
  p99: number;
  cpuPerRequest: number;
  failures: number;
  failed: Record<string, number>;
  bytesPerRequest: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

function merge(rs: Run[]): Merged {
  const ttfb = rs.flatMap((r) => r.ttfb).sort((a, b) => a - b);
  const n = rs.reduce((s, r) => s + r.n, 0);
  const cpu = rs.every((r) => r.cpuMs !== undefined) ? rs.reduce((s, r) => s + r.cpuMs!, 0) / n : Number.NaN;
  return {
    rps: n / rs.reduce((s, r) => s + r.seconds, 0),
    p50: pct(ttfb, 50),
    p99: pct(ttfb, 99),
    cpuPerRequest: cpu,
    failures: rs.reduce((s, r) => s + r.failures, 0),
    failed: rs.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.failed)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    bytesPerRequest: rs.reduce((s, r) => s + r.bytes, 0) / n,
  };
}

/** Runs every path `ROUNDS` times, alternating, and merges each path's batches. */
async function alternate(
  targets: Target[],
  bodies: RewriteRequest[],
  requests: number,
  concurrency: number,
): Promise<Record<PathName, Merged>> {
  targets = targets.filter((t) => !ONLY || ONLY.includes(t.name));
  const runs = Object.fromEntries(targets.map((t) => [t.name, [] as Run[]])) as Record<PathName, Run[]>;
  const perRound = Math.max(1, Math.round(requests / ROUNDS));
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      runs[t.name].push(await load(t, bodies, perRound, concurrency));
    }
  }
  return Object.fromEntries(PATHS.map((p) => [p, runs[p] ? merge(runs[p]) : NONE])) as Record<PathName, Merged>;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '—');
const signed = (n: number) => `${n >= 0 ? '+' : ''}${f1(n)}`;

async function listen(fetch: (req: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  // The load generator keeps connections open across the other paths' batches.
  (server as { keepAliveTimeout?: number }).keepAliveTimeout = 120_000;
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A bare Hono route: streamText, its text as bytes, sent chunked (as the Node entry point sends the app's streams). */
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
      maxOutputTokens: 20_000,
      maxRetries: 0,
      temperature: 0.7,
    });
    return new Response(result.textStream.pipeThrough(new TextEncoderStream()), {
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' },
    });
  });
  return app;
}

/**
 * Session verification alone, in this process, on the same 16 tokens, interleaved in rounds so drift hits all:
 * `@clerk/backend`'s `verifyToken` with the PEM key (what we had first), our verifier (api/auth/verify.ts) on a
 * token it has not seen (its key imported once, the signature checked: `keep: 1` so the 16 never stay), and on a
 * token it verified before (claims and clock only). Returns µs per verification (median of the rounds).
 */
async function verifierBench(rounds = 10, perRound = 300): Promise<Record<'clerk' | 'fresh' | 'remembered', number>> {
  const issuer = await createDevIssuer();
  const EXT = 'chrome-extension://benchbenchbenchbenchbenchbenchbe';
  const opts = { jwtKey: issuer.publicKeyPem, authorizedParties: [EXT], issuer: DEV_ISSUER };
  const tokens = await Promise.all(
    Array.from({ length: 16 }, (_, i) => issuer.issue({ userId: `user_v${i}`, azp: EXT })),
  );
  const names = ['clerk', 'fresh', 'remembered'] as const;
  const verifiers: Record<(typeof names)[number], SessionVerifier> = {
    clerk: createClerkSessionVerifier(opts),
    fresh: createSessionVerifier({ ...opts, keep: 1 }),
    remembered: createSessionVerifier(opts),
  };
  const times = { clerk: [] as number[], fresh: [] as number[], remembered: [] as number[] };
  for (let round = -1; round < rounds; round++) {
    for (const name of names) {
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        if (!(await verifiers[name](tokens[i % tokens.length]!)).ok) throw new Error(`${name} refused a valid token`);
      }
      if (round >= 0) times[name].push(((performance.now() - t0) * 1000) / perRound); // round -1 warms up
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { clerk: median(times.clerk), fresh: median(times.fresh), remembered: median(times.remembered) };
}

async function printVerifierBench() {
  const v = await verifierBench();
  console.log(
    `session JWT verification (this process, one at a time): Clerk verifyToken with the PEM key ${f1(v.clerk)} µs; ours, a new token (key imported once) ${f1(v.fresh)} µs (×${(v.fresh / v.clerk).toFixed(3)}), a token verified before ${f1(v.remembered)} µs (×${(v.remembered / v.clerk).toFixed(3)})`,
  );
}

const { values } = parseArgs({
  options: { role: { type: 'string', default: 'main' }, path: { type: 'string', default: '' } },
});

if (values.role === 'verify') {
  await printVerifierBench();
} else if (values.role === 'redis') {
  // Redis and its REST bridge: the "Upstash" of this benchmark.
  const redis = await startRedisServer();
  const bridge = await startUpstashBridge({ redisUrl: redis.url });
  console.log(JSON.stringify({ url: bridge.url, token: bridge.token, redisUrl: redis.url }));
  process.once(
    'SIGTERM',
    () =>
      void bridge
        .close()
        .then(() => redis.stop())
        .then(() => process.exit(0)),
  );
} else if (values.role === 'api') {
  // One gateway under test per process: its CPU time is its own.
  const modelUrl = process.env.OPENAI_BASE_URL!;
  if (values.path === 'proxy') {
    console.log(JSON.stringify({ url: (await startPipeProxy(modelUrl)).url }));
  } else if (values.path === 'passthrough') {
    console.log(JSON.stringify({ url: await listen(passthroughApp(modelUrl).fetch) }));
  } else {
    const config = loadConfig({
      ...process.env,
      NODE_ENV: 'test',
      DEV_AUTH: '1',
      MODEL_STAND_IN: '1',
      MODEL_MAX_RETRIES: '0',
      RATE_LIMIT_RPM: '1000000',
      RATE_LIMIT_TPM: '1000000000',
    });
    const services = await createServices(config, { log: () => {} });
    // Room for every request of the run: a per-user cap far above the free plan's (the quota hash starts with it).
    const redis = createRedis({
      url: process.env.UPSTASH_REDIS_REST_URL!,
      token: process.env.UPSTASH_REDIS_REST_TOKEN!,
      timeoutMs: 5000,
    });
    const users = Array.from({ length: USERS }, (_, i) => `user_bench_${i}`);
    await Promise.all(users.map((u) => redis.hset(keys.quota(u), { capOverride: 1e12 })));
    const tokens = await Promise.all(users.map((userId) => services.devIssuer!.issue({ userId, ttlSeconds: 3600 })));
    console.log(JSON.stringify({ url: await listen(nodeFetch(services)), tokens }));
  }
  serveCpu();
} else {
  const started: Child<unknown>[] = [];
  const start = async <T>(args: string[], env: Record<string, string> = {}, flags: string[] = [], cwd?: string) => {
    const c = await child<T>(args, env, flags, cwd);
    started.push(c as Child<unknown>);
    return c;
  };
  const stopAll = () => Promise.all(started.splice(0).map((c) => c.stop()));

  const startModel = (outputTokens: number) =>
    start<{ url: string }>([
      'standins/model/main.ts',
      '--port',
      '0',
      '--first-token-ms',
      String(FIRST_TOKEN_MS),
      '--tokens-per-second',
      String(TOKENS_PER_SECOND),
      '--output-tokens',
      String(outputTokens),
    ]);
  const redis = await start<{ url: string; token: string; redisUrl: string }>(['scripts/bench.ts', '--role', 'redis']);

  /** The three gateways in front of one model stand-in, and the floor (the model itself). */
  async function gateways(outputTokens: number): Promise<{ targets: Target[]; stop: () => Promise<void> }> {
    const model = await startModel(outputTokens);
    const apiEnv = {
      UPSTASH_REDIS_REST_URL: redis.info.url,
      UPSTASH_REDIS_REST_TOKEN: redis.info.token,
      OPENAI_API_KEY: 'stand-in',
      OPENAI_BASE_URL: model.info.url,
      CLERK_TELEMETRY_DISABLED: '1',
    };
    const api = (path: Exclude<PathName, 'floor'>) =>
      start<{ url: string; tokens?: string[] }>(
        ['scripts/bench.ts', '--role', 'api', '--path', path === 'baseline' ? 'metered' : path],
        apiEnv,
        PROFILE === path ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
        path === 'baseline' ? BASELINE : undefined,
      );
    const [proxy, passthrough, metered, baseline] = await Promise.all([
      api('proxy'),
      api('passthrough'),
      api('metered'),
      ...(BASELINE ? [api('baseline')] : []),
    ]);
    const tokens = metered.info.tokens!;
    const agent = () => new Agent({ keepAlive: true, maxSockets: 256 });
    const json = (r: RewriteRequest) => JSON.stringify(r);
    const targets: Target[] = [
      {
        name: 'floor',
        url: new URL(`${model.info.url}/chat/completions`),
        headers: () => ({ Authorization: 'Bearer stand-in' }),
        body: chatBody,
        idlePerMs: 0,
        agent: agent(),
      },
      {
        name: 'proxy',
        url: new URL(`${proxy.info.url}/v1/rewrite`),
        headers: () => ({}),
        body: json,
        cpu: cpuOf(proxy.proc),
        idlePerMs: 0,
        agent: agent(),
      },
      {
        name: 'passthrough',
        url: new URL(`${passthrough.info.url}/v1/rewrite`),
        headers: () => ({}),
        body: json,
        cpu: cpuOf(passthrough.proc),
        idlePerMs: 0,
        agent: agent(),
      },
      {
        name: 'metered',
        url: new URL(`${metered.info.url}/v1/rewrite`),
        headers: (i) => ({ Authorization: `Bearer ${tokens[i % USERS]}` }),
        body: json,
        cpu: cpuOf(metered.proc),
        idlePerMs: 0,
        agent: agent(),
      },
    ];
    if (baseline) {
      const baseTokens = baseline.info.tokens!;
      targets.push({
        name: 'baseline',
        url: new URL(`${baseline.info.url}/v1/rewrite`),
        headers: (i) => ({ Authorization: `Bearer ${baseTokens[i % USERS]}` }),
        body: json,
        cpu: cpuOf(baseline.proc),
        idlePerMs: 0,
        agent: agent(),
      });
    }
    const mine = [model, proxy, passthrough, metered, ...(baseline ? [baseline] : [])] as Child<unknown>[];
    return {
      targets,
      stop: async () => {
        for (const t of targets) t.agent.destroy();
        await Promise.all(mine.map((c) => c.stop()));
        started.splice(0, started.length, ...started.filter((c) => !mine.includes(c)));
      },
    };
  }

  const t0 = performance.now();
  const main = await gateways(OUTPUT_TOKENS);
  // Warm-up: scripts loaded, connections open, JIT.
  await alternate(main.targets, BODIES, 64, 8);
  await calibrateIdle(main.targets);

  const levels: Record<number, Record<PathName, Merged>> = {};
  for (const level of LEVELS) levels[level] = await alternate(main.targets, BODIES, requestsAt(level), level);

  // Redis commands and round trips per metered rewrite, one at a time (requests do not share pipelines).
  const metered = main.targets.find((t) => t.name === 'metered')!;
  const monitor = new IORedis(redis.info.redisUrl);
  const seen = { rest: new Map<string, number>(), lua: new Map<string, number>() };
  const bridgeRequests = async () =>
    ((await (await fetch(`${redis.info.url}/_bridge/stats`)).json()) as { requests: number }).requests;
  const mon = await monitor.monitor();
  mon.on('monitor', (_time: string, args: string[], source: string) => {
    const m = source === 'lua' ? seen.lua : seen.rest;
    const name = String(args[0]).toUpperCase();
    m.set(name, (m.get(name) ?? 0) + 1);
  });
  await sleep(50);
  const SEQ = 40;
  let beforeFirstByte = 0;
  let roundTrips = 0;
  for (let i = 0; i < SEQ; i++) {
    const r0 = await bridgeRequests();
    let atFirstByte: Promise<number> | undefined;
    const body = JSON.stringify(BODIES[i % BODIES.length]);
    await post(metered.agent, metered.url, metered.headers(i), body, () => {
      atFirstByte = bridgeRequests();
    });
    beforeFirstByte += (await atFirstByte!) - r0;
    roundTrips += (await bridgeRequests()) - r0;
  }
  await sleep(100);
  await mon.disconnect();
  monitor.disconnect();
  const rewrites = SEQ;
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${f1(v / rewrites)}`)
      .join(', ');

  // How the cost grows with the work: output tokens (model stand-ins of their own), input characters.
  const growth: { label: string; r: Record<PathName, Merged>; cap?: number; outputTokens: number }[] = [];
  if (SCALE) {
    const row = async (targets: Target[], outputTokens: number, chars: number, action: RewriteRequest['action']) => {
      const req = { text: proseOf(chars), action };
      growth.push({
        label: `${outputTokens} out, ${chars.toLocaleString('en-US')} chars in`,
        outputTokens,
        cap: planPrompt(req).outputCap,
        r: await alternate(targets, [req], SCALE_REQUESTS, SCALE_CONCURRENCY),
      });
    };
    await row(main.targets, OUTPUT_TOKENS, 300, 'rewrite');
    await row(main.targets, OUTPUT_TOKENS, 20_000, 'rewrite');
    // The output rows share one input (long enough for the expand action's cap to allow 1,000 tokens).
    await row(main.targets, OUTPUT_TOKENS, 1000, 'expand');
    await main.stop();
    for (const out of [300, 1000]) {
      const g = await gateways(out);
      // Warm-up, all paths at once (JIT, connections): the batches below are alternated as everywhere.
      await Promise.all(g.targets.map((t) => load(t, [{ text: proseOf(1000), action: 'expand' }], 2, 2)));
      await calibrateIdle(g.targets);
      await row(g.targets, out, 1000, 'expand');
      await g.stop();
    }
  } else {
    await main.stop();
  }
  const elapsed = (performance.now() - t0) / 1000;

  console.log(
    `Redraft bench — model stand-in: first token ${FIRST_TOKEN_MS} ms, ${TOKENS_PER_SECOND} tokens/s, ${OUTPUT_TOKENS} tokens; ${USERS} users; ${ROUNDS} alternating rounds per table; ${f1(elapsed)} s`,
  );
  console.log(
    `gateway idle CPU (subtracted from each batch): ${main.targets
      .filter((t) => t.cpu)
      .map((t) => `${t.name} ${f2(t.idlePerMs * 1000)} ms/s`)
      .join(', ')}`,
  );
  console.log('\nIssue 14 goals (ratios within this run):');
  const hi = levels[Math.max(...LEVELS)];
  if (hi) {
    const at = Math.max(...LEVELS);
    console.log(
      `  at ${at} in flight: metered throughput ${f3(hi.metered.rps / hi.proxy.rps)} × proxy (goal ≥ 0.9; passthrough ${f3(hi.passthrough.rps / hi.proxy.rps)}, proxy ${f3(hi.proxy.rps / hi.floor.rps)} × floor); API CPU per request ${f2(hi.metered.cpuPerRequest / hi.proxy.cpuPerRequest)} × proxy (goal ≤ 1.3; passthrough ${f2(hi.passthrough.cpuPerRequest / hi.proxy.cpuPerRequest)})`,
    );
  }
  if (BASELINE) {
    for (const level of LEVELS) {
      const r = levels[level]!;
      console.log(
        `  metered against the baseline (${BASELINE}) at ${level} in flight: CPU per request ×${f3(r.metered.cpuPerRequest / r.baseline.cpuPerRequest)}, throughput ×${f3(r.metered.rps / r.baseline.rps)}, TTFB p50 ${signed(r.metered.p50 - r.baseline.p50)} ms, p99 ${signed(r.metered.p99 - r.baseline.p99)} ms`,
      );
    }
  }
  const one = levels[1];
  if (one) {
    console.log(
      `  one at a time: metered TTFB p50 ${signed(one.metered.p50 - one.floor.p50)} ms over the floor (goal ≤ +4), p99 ${signed(one.metered.p99 - one.floor.p99)} ms (goal ≤ +10); proxy ${signed(one.proxy.p50 - one.floor.p50)} / ${signed(one.proxy.p99 - one.floor.p99)}, passthrough ${signed(one.passthrough.p50 - one.floor.p50)} / ${signed(one.passthrough.p99 - one.floor.p99)}`,
    );
  }
  if (growth.length > 0) {
    const per = (g: (typeof growth)[number]) => g.r.metered.cpuPerRequest - g.r.proxy.cpuPerRequest;
    const a = growth.find((g) => g.label === `${OUTPUT_TOKENS} out, 1,000 chars in`);
    const b = growth.find((g) => g.label.startsWith('1000 out'));
    if (a && b) {
      console.log(
        `  per output token, over the proxy: metered ${f1(((per(b) - per(a)) * 1000) / (b.outputTokens - a.outputTokens))} µs, passthrough ${f1(((b.r.passthrough.cpuPerRequest - b.r.proxy.cpuPerRequest - (a.r.passthrough.cpuPerRequest - a.r.proxy.cpuPerRequest)) * 1000) / (b.outputTokens - a.outputTokens))} µs (CPU ms per request ${f2(a.r.metered.cpuPerRequest)} → ${f2(b.r.metered.cpuPerRequest)} metered, ${f2(a.r.proxy.cpuPerRequest)} → ${f2(b.r.proxy.cpuPerRequest)} proxy)`,
      );
    }
  }

  for (const level of LEVELS) {
    const r = levels[level]!;
    console.log(`\n${level} in flight, ${requestsAt(level)} requests per path:`);
    const rows = [['path', 'req/s', 'TTFB p50 ms', 'TTFB p99 ms', 'CPU ms/req', '× proxy CPU', 'failures']];
    for (const p of PATHS) {
      const m = r[p];
      rows.push([
        p,
        f1(m.rps),
        `${f1(m.p50)} (${signed(m.p50 - r.floor.p50)})`,
        `${f1(m.p99)} (${signed(m.p99 - r.floor.p99)})`,
        f2(m.cpuPerRequest),
        f2(m.cpuPerRequest / r.proxy.cpuPerRequest),
        m.failures === 0
          ? '0'
          : `${m.failures} (${Object.entries(m.failed)
              .map(([k, v]) => `${k === '0' ? 'no answer' : k} ×${v}`)
              .join(', ')})`,
      ]);
    }
    console.log(table(rows));
    console.log(
      `  throughput × proxy: passthrough ${f3(r.passthrough.rps / r.proxy.rps)}, metered ${f3(r.metered.rps / r.proxy.rps)}; proxy × floor ${f3(r.proxy.rps / r.floor.rps)}`,
    );
  }

  if (growth.length > 0) {
    console.log(
      `\nCost with the work (${SCALE_CONCURRENCY} in flight, ${SCALE_REQUESTS} requests per path per row): CPU ms per request, TTFB p50 over the floor`,
    );
    const rows = [
      [
        'work',
        'proxy CPU',
        'passthrough CPU',
        'metered CPU',
        'metered × proxy',
        ...(BASELINE ? ['baseline CPU', 'metered × baseline'] : []),
        `TTFB p50 +ms proxy / pass / metered${BASELINE ? ' / baseline' : ''}`,
        'failures',
      ],
    ];
    for (const g of growth) {
      const r = g.r;
      rows.push([
        g.label + (g.cap !== undefined && g.cap < g.outputTokens ? ` (metered cap ${g.cap})` : ''),
        f2(r.proxy.cpuPerRequest),
        f2(r.passthrough.cpuPerRequest),
        f2(r.metered.cpuPerRequest),
        f2(r.metered.cpuPerRequest / r.proxy.cpuPerRequest),
        ...(BASELINE ? [f2(r.baseline.cpuPerRequest), f2(r.metered.cpuPerRequest / r.baseline.cpuPerRequest)] : []),
        `${signed(r.proxy.p50 - r.floor.p50)} / ${signed(r.passthrough.p50 - r.floor.p50)} / ${signed(r.metered.p50 - r.floor.p50)}${BASELINE ? ` / ${signed(r.baseline.p50 - r.floor.p50)}` : ''}`,
        String(PATHS.reduce((s, p) => s + r[p].failures, 0)),
      ]);
    }
    console.log(table(rows));
  }

  console.log(
    `\nRedis per metered rewrite (one at a time, MONITOR): ${f1(sum(seen.rest) / rewrites)} commands over REST (${list(seen.rest)}), ${f1(sum(seen.lua) / rewrites)} inside scripts (${list(seen.lua)})`,
  );
  console.log(
    `Redis round trips (HTTP requests to the bridge) per rewrite: ${f1(beforeFirstByte / SEQ)} before the first byte, ${f1(roundTrips / SEQ)} in all`,
  );

  await stopAll();
  await printVerifierBench();
  process.exit(0);
}
