/**
 * `npm run soak`: a bounded soak (default 3 minutes) at a steady load against one API process (the real
 * Node entry point), with its memory sampled from /proc while it runs. Prints throughput, the API's
 * resident memory at the start (after a warm-up), at the end and at its peak, the growth and its
 * trend (least-squares slope), the heap after a full GC at the start and the end (the leak figure: RSS
 * also grows while V8 sizes its heap; tests/support/heap-probe.cjs answers SIGUSR2), and checks the books afterwards (ledger sum = usage counter for every
 * soak user, no reservation left). Stops by itself.
 *
 * Options (env): SOAK_SECONDS (default 180), SOAK_CONCURRENCY (default 16), SOAK_USERS (default 40).
 */
import { readFileSync } from 'node:fs';
import { startInfra, spawnApi } from '../tests/support/infra';
import { ledgerOf, usedOf } from '../tests/support/stack';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const USERS = Number(process.env.SOAK_USERS ?? 40);
const ACTIONS = [
  { action: 'rewrite' },
  { action: 'shorten' },
  { action: 'tone', tone: 'friendly' },
  { action: 'social_post', platform: 'linkedin' },
] as const;

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

const infra = await startInfra({ outputTokens: 60, tokensPerSecond: 400, firstTokenDelayMs: 30 });
// Free users' 20,000 tokens would run out during a long soak: give the soak users a larger cap.
const api = await spawnApi({ ...infra.env, RATE_LIMIT_RPM: '100000', RATE_LIMIT_TPM: '1000000000' }, [
  '--expose-gc',
  '--require',
  './tests/support/heap-probe.cjs',
  '--import',
  'tsx',
  'api/runtimes/node.ts',
]);

/** Heap used after a full GC in the API process, in KB (asks heap-probe.cjs with SIGUSR2). */
async function heapAfterGcKb(): Promise<number> {
  const seen = api.output.length;
  api.proc.kill('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    const line = api.output.slice(seen).find((l) => l.startsWith('{"heapProbe"'));
    if (line) return (JSON.parse(line) as { heapProbe: number }).heapProbe / 1024;
    await new Promise((r) => setTimeout(r, 50));
  }
  return NaN;
}
const pid = api.proc.pid!;
const users = Array.from({ length: USERS }, (_, i) => `user_soak_${i}`);
const tokens = await Promise.all(users.map((u) => infra.issuer.issue({ userId: u, ttlSeconds: SECONDS + 600 })));

async function run(untilMs: number, counts: Record<string, number>) {
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (Date.now() < untilMs) {
        const i = n++;
        const body = {
          text: `Soak request ${i}: our winter boots are warm, waterproof and light.`,
          ...ACTIONS[i % ACTIONS.length]!,
        };
        try {
          const res = await fetch(`${api.url}/v1/rewrite`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${tokens[(w + i) % USERS]}`, 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
          });
          await res.arrayBuffer();
          counts[res.status] = (counts[res.status] ?? 0) + 1;
        } catch {
          counts.network = (counts.network ?? 0) + 1;
        }
      }
    }),
  );
}

console.log(`Redraft soak — ${SECONDS} s at ${CONCURRENCY} requests in flight, ${USERS} users, API pid ${pid}`);
for (const u of users)
  await infra.db.hset(
    `rd:{${u}}:quota`,
    'plan',
    'free',
    'capOverride',
    1_000_000_000,
    'start',
    Date.now() - 1000,
    'end',
    Date.now() + 30 * 86_400_000,
    'anchor',
    Date.now() - 1000,
    'used',
    0,
  );
await run(Date.now() + 15_000, {}); // warm-up: JIT, connection pools, scripts loaded

const samples: { t: number; kb: number }[] = [];
const counts: Record<string, number> = {};
const t0 = Date.now();
const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, kb: rssKb(pid) }), 5000);
samples.push({ t: 0, kb: rssKb(pid) });
const heapStart = await heapAfterGcKb();
await run(t0 + SECONDS * 1000, counts);
clearInterval(sampler);
samples.push({ t: (Date.now() - t0) / 1000, kb: rssKb(pid) });
const heapEnd = await heapAfterGcKb();

const total = Object.values(counts).reduce((a, b) => a + b, 0);
const n = samples.length;
const mt = samples.reduce((s, x) => s + x.t, 0) / n;
const mk = samples.reduce((s, x) => s + x.kb, 0) / n;
const slope =
  samples.reduce((s, x) => s + (x.t - mt) * (x.kb - mk), 0) / samples.reduce((s, x) => s + (x.t - mt) ** 2, 0); // KB per second
const start = samples[0]!.kb;
const end = samples[n - 1]!.kb;

let ledgerEvents = 0;
let unbalanced = 0;
let held = 0;
for (const u of users) {
  const ledger = await ledgerOf(infra.db, u);
  ledgerEvents += ledger.length;
  if (ledger.reduce((s, e) => s + Number(e.billed), 0) !== (await usedOf(infra.db, u))) unbalanced++;
  held += await infra.db.zcard(`rd:{${u}}:inflight`);
}

console.log(
  `requests: ${total} in ${SECONDS} s (${(total / SECONDS).toFixed(1)}/s); statuses ${JSON.stringify(counts)}`,
);
console.log(
  `API resident memory: start ${mb(start)}, end ${mb(end)}, peak ${mb(Math.max(...samples.map((s) => s.kb)))}; growth ${mb(end - start)} (${(((end - start) / start) * 100).toFixed(1)}%), trend ${((slope * 60) / 1024).toFixed(2)} MB/min over ${n} samples`,
);
console.log(
  `API heap after a full GC: start ${mb(heapStart)}, end ${mb(heapEnd)}; growth ${mb(heapEnd - heapStart)} over ${total} requests (${(((heapEnd - heapStart) * 1024) / Math.max(1, total)).toFixed(0)} bytes per request)`,
);
console.log(`samples (s, MB): ${samples.map((s) => `${s.t.toFixed(0)}:${(s.kb / 1024).toFixed(0)}`).join(' ')}`);
console.log(
  `books: ${ledgerEvents} ledger events for ${counts['200'] ?? 0} served; users whose ledger ≠ counter: ${unbalanced}; reservations still held: ${held}`,
);

api.proc.kill('SIGTERM');
await api.exited;
await infra.close();
process.exit(unbalanced === 0 && held === 0 ? 0 : 1);
