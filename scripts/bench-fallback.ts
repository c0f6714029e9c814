/**
 * `npm run bench:fallback` (part of `npm run bench`): what a fallback costs the user in time to first byte,
 * measured in one run (figures, not assertions). One API (the real app, real redis-server behind the Upstash
 * REST bridge) whose free chain is `openai/gpt-4o-mini → backup/gpt-4.1-nano`, two model stand-ins (first
 * token BENCH_FIRST_TOKEN_MS, default 150 ms), and these cases, interleaved request by request:
 *   - healthy:     the primary answers (the baseline);
 *   - 5xx:         the primary answers 500 at once, the backup serves;
 *   - 429:         the primary answers 429 at once, the backup serves;
 *   - timeout:     the primary sends no first token within MODEL_FIRST_TOKEN_TIMEOUT_MS (BENCH_FT_TIMEOUT_MS,
 *                  default 1000), the backup serves;
 *   - open:        a second API whose breaker has left the failing primary out: the backup serves directly.
 * Prints TTFB p50/p99 per case and what each adds over the healthy case. BENCH_FALLBACK_REQUESTS per case
 * (default 40), one at a time. Loopback only; stops by itself.
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { loadConfig } from '../api/config/env';
import { createServices } from '../api/services';
import { startModelServer, type ModelServer } from '../standins/model';
import { startRedisServer } from '../standins/redis';
import { startUpstashBridge } from '../standins/upstash-bridge';

const N = Number(process.env.BENCH_FALLBACK_REQUESTS ?? 40);
const FIRST_TOKEN_MS = Number(process.env.BENCH_FIRST_TOKEN_MS ?? 150);
const FT_TIMEOUT_MS = Number(process.env.BENCH_FT_TIMEOUT_MS ?? 1000);

const redis = await startRedisServer();
const bridge = await startUpstashBridge({ redisUrl: redis.url });
const standIn = { firstTokenDelayMs: FIRST_TOKEN_MS, tokensPerSecond: 250, outputTokens: 40 };
const primary = await startModelServer(standIn);
const backup = await startModelServer(standIn);
const dead = await startModelServer(standIn); // the primary of the second API: always failing

async function api(primaryServer: ModelServer, breakerFailures: string) {
  const config = loadConfig({
    NODE_ENV: 'test',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    OPENAI_API_KEY: 'stand-in',
    OPENAI_BASE_URL: primaryServer.url,
    MODEL_STAND_IN: '1',
    MODEL_MAX_RETRIES: '0',
    DEV_AUTH: '1',
    RATE_LIMIT_RPM: '1000000',
    RATE_LIMIT_TPM: '1000000000',
    MODEL_FIRST_TOKEN_TIMEOUT_MS: String(FT_TIMEOUT_MS),
    MODEL_BREAKER_FAILURES: breakerFailures,
    MODEL_BREAKER_OPEN_MS: '3600000',
    MODEL_ROUTES: JSON.stringify({
      free: ['openai/gpt-4o-mini', 'backup/gpt-4.1-nano'],
      pro: ['openai/gpt-4o-mini', 'backup/gpt-4.1-nano'],
    }),
    MODEL_PROVIDERS: JSON.stringify({ backup: { baseURL: backup.url, apiKey: 'stand-in' } }),
  });
  const services = await createServices(config, { log: () => {} });
  const server = serve({ fetch: createApp(services).fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, services, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const main = await api(primary, '1000000');
const open = await api(dead, '1');
dead.injectFault({ kind: 'status', status: 500 }, 1_000_000);
// A new free user per request (20,000 tokens each would run out over a long run).
const tokenFor = (a: typeof main, id: string) =>
  a.services.devIssuer!.issue({ userId: `user_fb_${id}`, ttlSeconds: 3600 });

async function one(base: string, bearer: string, i: number): Promise<{ ttfb: number; model: string | null }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/rewrite`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      text: `Our shoes are light and fast, made from recycled bottles. Variant ${i}.`,
      action: 'rewrite',
    }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  const ttfb = performance.now() - t0;
  while (!(await reader.read()).done) {}
  if (res.status !== 200) throw new Error(`case answered ${res.status}`);
  return { ttfb, model: res.headers.get('x-model') };
}

type Case = 'healthy' | '5xx' | '429' | 'timeout' | 'open';
const cases: Case[] = ['healthy', '5xx', '429', 'timeout', 'open'];
const ttfb: Record<Case, number[]> = { healthy: [], '5xx': [], '429': [], timeout: [], open: [] };
const servedBy: Record<Case, Set<string>> = {
  healthy: new Set(),
  '5xx': new Set(),
  '429': new Set(),
  timeout: new Set(),
  open: new Set(),
};
await one(main.url, await tokenFor(main, 'warm'), -1); // warm up both paths
await one(open.url, await tokenFor(open, 'warm_open'), -1);
for (let i = 0; i < N; i++) {
  for (const c of cases) {
    if (c === '5xx') primary.injectFault({ kind: 'status', status: 500 });
    if (c === '429') primary.injectFault({ kind: 'status', status: 429 });
    if (c === 'timeout') primary.injectFault({ kind: 'slow-first-token', delayMs: FT_TIMEOUT_MS * 3 });
    const app = c === 'open' ? open : main;
    const r = await one(app.url, await tokenFor(app, `${c}_${i}`), i);
    ttfb[c].push(r.ttfb);
    servedBy[c].add(r.model ?? '?');
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f1 = (n: number) => n.toFixed(1);
const base50 = pct(ttfb.healthy, 50);
const base99 = pct(ttfb.healthy, 99);
console.log(
  `\nFallback: time to first byte, ${N} requests per case, one at a time (model first token ${FIRST_TOKEN_MS} ms, first-token timeout ${FT_TIMEOUT_MS} ms)`,
);
console.log(['case', 'served by', 'TTFB p50 ms', 'TTFB p99 ms', 'added p50 ms', 'added p99 ms'].join(' | '));
for (const c of cases) {
  const p50 = pct(ttfb[c], 50);
  const p99 = pct(ttfb[c], 99);
  console.log([c, [...servedBy[c]].join(', '), f1(p50), f1(p99), f1(p50 - base50), f1(p99 - base99)].join(' | '));
}
const m = main.services.metrics.render();
const fallbacks = m.split('\n').find((l) => l.startsWith('redraft_model_fallbacks_total'));
console.log(`metrics: ${fallbacks ?? 'no fallbacks counted'}`);

await Promise.all([main.close(), open.close()]);
await Promise.all([primary.close(), backup.close(), dead.close(), bridge.close()]);
await redis.stop();
process.exit(0);
