/**
 * `npm run bench:ladder` (part of `npm run bench`): where a streamed rewrite's CPU goes, one layer at a time,
 * measured in one run against the same model stand-in (first token 150 ms, 250 tokens/s, 40 tokens), each gateway
 * in its own process, alternated in rounds, at 64 in flight:
 *   1. proxy      plain node:http in and out, bytes piped (the baseline of `npm run bench`);
 *   2. fetch      the same, but the upstream call through `fetch` (undici: what the AI SDK's providers and
 *                 @upstash/redis call the network with), bytes piped;
 *   3. provider   + @ai-sdk/openai parsing the event stream into parts (`doStream`), text written;
 *   4. streamText + `streamText` over that provider (one consumer, as api/model/stream.ts runs it), text written;
 *   5. coalesced  4 with the provider's text deltas merged in 16 ms windows (api/model/coalesce.ts), as the API
 *                 runs it by default.
 * Each row: CPU ms per request of that process (process.cpuUsage over IPC), × proxy, what the layer added, and
 * throughput × proxy. Figures, not assertions. Env: LADDER_REQUESTS (per path per round, 512), LADDER_ROUNDS (2),
 * LADDER_CONCURRENCY (64). Loopback only; stops the processes it started.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import { coalescingFetch } from '../api/model/coalesce';
import { buildMessages } from '../shared/prompts';
import type { RewriteRequest } from '../shared/contract';
import { chatBody, post, startPipeProxy } from './lib/bench-http';
import { child, cpuOf, serveCpu, table, type Child } from './lib/bench-proc';

const LAYERS = ['proxy', 'fetch', 'provider', 'streamText', 'coalesced'] as const;
type Layer = (typeof LAYERS)[number];
const env = (name: string, def: number) => Number(process.env[name] ?? def);
const REQUESTS = env('LADDER_REQUESTS', 512);
const ROUNDS = env('LADDER_ROUNDS', 2);
const CONCURRENCY = env('LADDER_CONCURRENCY', 64);
const BODY: RewriteRequest = {
  text: 'Our running shoes are light, fast and made from recycled plastic bottles.',
  action: 'rewrite',
};

const readJson = (req: IncomingMessage) =>
  new Promise<RewriteRequest>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RewriteRequest);
      } catch (err) {
        reject(err);
      }
    });
  });

type Write = (piece: string | Uint8Array) => void;

/** A node:http server whose handler `answer`s each request by writing its pieces. */
async function serveText(answer: (body: RewriteRequest, write: Write) => Promise<void>): Promise<string> {
  const server = createServer((req, res: ServerResponse) => {
    void (async () => {
      try {
        const body = await readJson(req);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        await answer(body, (piece) => res.write(piece));
        res.end();
      } catch {
        res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Reads `stream` to its end with one reader (no async-iterator layer), handing each value to `each`. */
async function readAll<T>(stream: ReadableStream<T>, each: (value: T) => void): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    each(r.value);
  }
}

async function startLayer(layer: Layer, modelUrl: string): Promise<string> {
  if (layer === 'proxy') return (await startPipeProxy(modelUrl)).url;
  if (layer === 'fetch')
    return serveText(async (body, write) => {
      const res = await fetch(`${modelUrl}/chat/completions`, {
        method: 'POST',
        headers: { Authorization: 'Bearer stand-in', 'Content-Type': 'application/json' },
        body: chatBody(body),
      });
      await readAll(res.body!, write);
    });
  const fetchFn = layer === 'coalesced' ? coalescingFetch(globalThis.fetch, { windowMs: 16 }) : undefined;
  const model = createOpenAI({ apiKey: 'stand-in', baseURL: modelUrl, ...(fetchFn ? { fetch: fetchFn } : {}) }).chat(
    'gpt-4o-mini',
  );
  if (layer === 'provider')
    return serveText(async (body, write) => {
      const m = buildMessages(body);
      const { stream } = await model.doStream({
        prompt: [
          { role: 'system', content: m[0]!.content },
          { role: 'user', content: [{ type: 'text', text: m[1]!.content }] },
        ],
        maxOutputTokens: 20_000,
        temperature: 0.7,
        includeRawChunks: false,
      });
      await readAll(stream, (p) => {
        if (p.type === 'text-delta') write(p.delta);
      });
    });
  return serveText(async (body, write) => {
    const m = buildMessages(body);
    const result = streamText({
      model,
      system: m[0]!.content,
      messages: [{ role: 'user', content: m[1]!.content }],
      maxOutputTokens: 20_000,
      maxRetries: 0,
      temperature: 0.7,
      onError: () => {},
      // As api/model/stream.ts: one consumer, nothing kept for projections.
      _internal: { retention: { replay: false, collectContent: false } },
    } as Parameters<typeof streamText>[0]);
    const parts = result.stream as unknown as ReadableStream<{ type: string; text?: string }>;
    await readAll(parts, (p) => {
      if (p.type === 'text-delta' && p.text) write(p.text);
    });
  });
}

async function batch(
  c: Child<{ url: string }>,
  n: number,
): Promise<{ cpuMs: number; seconds: number; failures: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL(`${c.info.url}/v1/rewrite`);
  const cpu = cpuOf(c.proc);
  const body = JSON.stringify(BODY);
  let next = 0;
  let failures = 0;
  const cpu0 = await cpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) {
        const r = await post(agent, url, {}, body);
        if (r.status !== 200 || r.bytes === 0) failures++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = (await cpu()) - cpu0;
  agent.destroy();
  return { cpuMs, seconds, failures };
}

const { values } = parseArgs({
  options: { role: { type: 'string', default: 'main' }, layer: { type: 'string' }, model: { type: 'string' } },
});

if (values.role === 'layer') {
  console.log(JSON.stringify({ url: await startLayer(values.layer as Layer, values.model!) }));
  serveCpu();
} else {
  const started = performance.now();
  const model = await child<{ url: string }>([
    'standins/model/main.ts',
    '--port',
    '0',
    '--first-token-ms',
    '150',
    '--tokens-per-second',
    '250',
    '--output-tokens',
    '40',
  ]);
  const layers = await Promise.all(
    LAYERS.map((l) =>
      child<{ url: string }>(['scripts/bench-ladder.ts', '--role', 'layer', '--layer', l, '--model', model.info.url]),
    ),
  );
  const sums = LAYERS.map(() => ({ cpuMs: 0, seconds: 0, n: 0, failures: 0 }));
  for (const c of layers) await batch(c, Math.min(REQUESTS, 128)); // warm-up: JIT, connections
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [...layers.keys()] : [...layers.keys()].reverse();
    for (const i of order) {
      const r = await batch(layers[i]!, REQUESTS);
      sums[i]!.cpuMs += r.cpuMs;
      sums[i]!.seconds += r.seconds;
      sums[i]!.n += REQUESTS;
      sums[i]!.failures += r.failures;
    }
  }
  const cpu = sums.map((s) => s.cpuMs / s.n);
  const rps = sums.map((s) => s.n / s.seconds);
  console.log(
    `Redraft bench ladder — ${CONCURRENCY} in flight, ${ROUNDS} × ${REQUESTS} requests per layer, model stand-in 150 ms / 250 tokens/s / 40 tokens; ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const rows = [['layer', 'CPU ms/req', '× proxy CPU', 'added ms', 'req/s', '× proxy req/s', 'failures']];
  LAYERS.forEach((l, i) => {
    const prev = l === 'coalesced' ? LAYERS.indexOf('streamText') : i - 1;
    rows.push([
      l,
      cpu[i]!.toFixed(2),
      (cpu[i]! / cpu[0]!).toFixed(2),
      i === 0
        ? '—'
        : `${cpu[i]! - cpu[prev]! >= 0 ? '+' : ''}${(cpu[i]! - cpu[prev]!).toFixed(2)} (vs ${LAYERS[prev]})`,
      rps[i]!.toFixed(1),
      (rps[i]! / rps[0]!).toFixed(3),
      String(sums[i]!.failures),
    ]);
  });
  console.log(table(rows));
  await Promise.all([...layers, model].map((c) => c.stop()));
  process.exit(0);
}
