/**
 * Exact provider cost and prices without a redeploy, against a real redis-server and the model stand-in (which
 * caches repeated 1,024+-token prompt prefixes as OpenAI does, and reports reasoning tokens for models marked so):
 * - a repeated long prompt: cached tokens on the ledger, a lower cost, the same billed tokens (input + output);
 * - reasoning tokens recorded and priced as output (already in it);
 * - `npm run prices:publish FILE`: picked up by the running API within its refresh (the injected clock moved,
 *   never slept), the ledger's price version changes; an invalid list is refused (exit 65) and the old one stays;
 * - `npm run margin` reports the cost the ledger recorded for cached requests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_MODELS, PRICE_LISTS, providerCostUsd } from '../../api/config/model-prices';
import { keys } from '../../api/metering/keys';
import { runScript } from '../support/scripts';
import { ledgerOf, startStack, type Stack } from '../support/stack';

let stack: Stack;
let offset = 0;
const dir = mkdtempSync(join(tmpdir(), 'redraft-prices-'));

beforeAll(async () => {
  stack = await startStack({
    model: { outputTokens: 40 },
    env: { PRICE_REFRESH_MS: '60000' },
    services: { now: () => Date.now() + offset },
  });
});
afterAll(async () => {
  await stack?.close();
});

/** ~1,500 tokens of text: with the prompt around it, well past the 1,024 tokens caching starts at. */
const LONG = Array.from({ length: 150 }, (_, i) => `Line ${i}: our shoes are light and made from bottles.`).join(' ');
let seq = 0;
const user = () => `user_cost_${++seq}_${Math.random().toString(36).slice(2, 8)}`;

async function rewrite(userId: string, text: string): Promise<Record<string, string>> {
  const res = await stack.rewrite(await stack.token(userId), { text, action: 'rewrite' });
  expect(res.status).toBe(200);
  // The body ends once the request is settled: its ledger event is there.
  await res.text();
  return (await ledgerOf(stack.db, userId)).at(-1)!;
}

const current = PRICE_LISTS.at(-1)!;
const costOf = (e: Record<string, string>, price = current.models['gpt-4o-mini']!) =>
  providerCostUsd(price, {
    inputTokens: Number(e.in),
    cachedInputTokens: Number(e.cached),
    outputTokens: Number(e.out),
  });

const run = (script: string, args: string[]) => runScript(script, args, stack.services.config.redis);

describe('exact provider cost', () => {
  it('a repeated 1,024+-token prompt: cached tokens on the ledger, a lower cost, the same billed tokens', async () => {
    const u = user();
    const first = await rewrite(u, LONG);
    const second = await rewrite(u, LONG);
    expect(Number(first.in)).toBeGreaterThan(1024);
    expect(first.cached).toBe('0');
    expect(second.in).toBe(first.in);
    expect(second.out).toBe(first.out);
    const p = Number(second.in);
    expect(Number(second.cached)).toBe(1024 + Math.floor((p - 1024) / 128) * 128);
    // What the user is charged does not change with caching: input + output, as before.
    for (const e of [first, second]) expect(Number(e.billed)).toBe(Number(e.in) + Number(e.out));
    expect(second.billed).toBe(first.billed);
    // The cost is exact: the cached part at the cached price.
    expect(Number(first.cost)).toBe(costOf(first));
    expect(Number(second.cost)).toBe(costOf(second));
    expect(Number(second.cost)).toBeLessThan(Number(first.cost));
    const m = current.models['gpt-4o-mini']!;
    expect(Number(first.cost) - Number(second.cost)).toBeCloseTo(
      (Number(second.cached) * (m.inputUsdPer1k - m.cachedInputUsdPer1k!)) / 1000,
      8,
    );
    expect(first.prices).toBe(current.version);
    expect(second.prices).toBe(current.version);
    expect(second.anomalies).toBeUndefined();
    console.log(
      `cost: first ${first.cost} USD (in ${first.in}, cached 0, out ${first.out}); repeated ${second.cost} USD (cached ${second.cached}); billed ${first.billed} both`,
    );
    const metric = stack.services.metrics
      .render()
      .split('\n')
      .find((l) => l.startsWith('redraft_provider_cost_usd_total{model="gpt-4o-mini",provider="openai"}'));
    expect(metric).toBeDefined();
  });

  it('reasoning tokens are recorded and priced as output (they are in it, never added)', async () => {
    stack.model.setOptions({ reasoningModels: ['gpt-4o-mini'], reasoningTokens: 30 });
    try {
      const u = user();
      const e = await rewrite(u, 'Our shoes are light, fast and made from recycled plastic bottles.');
      expect(e.reasoning).toBe('30');
      expect(Number(e.out)).toBe(40 + 30);
      expect(Number(e.billed)).toBe(Number(e.in) + Number(e.out));
      expect(Number(e.cost)).toBe(costOf(e));
    } finally {
      stack.model.setOptions({ reasoningModels: [] });
    }
  });

  it('npm run margin reports the cost the ledger recorded for cached requests', async () => {
    const u = user();
    // Another beginning: the earlier test's prompt does not share this one's prefix.
    const first = await rewrite(u, `Margin. ${LONG}`);
    const second = await rewrite(u, `Margin. ${LONG}`);
    expect(first.cached).toBe('0');
    expect(Number(second.cached)).toBeGreaterThan(0);
    const r = await run('scripts/margin.ts', ['--csv']);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.out.trim().split('\n');
    const cols = header!.split(',');
    const row = rows.map((l) => l.split(',')).find((c) => c[cols.indexOf('user')] === u);
    expect(row).toBeDefined();
    const recorded = Math.round((Number(first.cost) + Number(second.cost)) * 1e8) / 1e8;
    expect(Number(row![cols.indexOf('cost_usd')])).toBe(recorded);
    // Less than two full-price requests: the saving of the cache shows in the unit economics.
    expect(recorded).toBeLessThan(2 * Number(first.cost));
    expect(Number(row![cols.indexOf('tokens')])).toBe(Number(first.billed) + Number(second.billed));
  });
});

describe('prices without a redeploy', () => {
  const listFile = (name: string, body: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(body));
    return f;
  };
  const newList = {
    version: 'test-2026-12-02',
    effectiveFrom: new Date(Date.now() - 1000).toISOString(),
    models: Object.fromEntries(
      KNOWN_MODELS.map((m) => [m, { inputUsdPer1k: 0.0003, cachedInputUsdPer1k: 0.0001, outputUsdPer1k: 0.0012 }]),
    ),
  };

  it('a published list is used by the running API within its refresh, and the ledger says which version', async () => {
    const u = user();
    const before = await rewrite(u, 'A first request, before the new prices.');
    expect(before.prices).toBe(current.version);

    const r = await run('scripts/prices-publish.ts', [listFile('new.json', newList)]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Published price list test-2026-12-02/);
    expect(await stack.db.hexists(keys.modelPrices, newList.version)).toBe(1);

    // Within the refresh interval the instance still costs with the lists it read.
    offset += 30_000;
    expect((await rewrite(u, 'Still within the refresh interval.')).prices).toBe(current.version);
    // A minute after its last read, the next settlement reads the published lists.
    offset += 30_000;
    const after = await rewrite(u, 'After the refresh: the new prices.');
    expect(after.prices).toBe(newList.version);
    expect(Number(after.cost)).toBe(costOf(after, newList.models['gpt-4o-mini']!));

    // Publishing the same list again changes nothing.
    const again = await run('scripts/prices-publish.ts', [listFile('new.json', newList)]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already published with these prices: nothing changed/);
  });

  it('an invalid list is refused with a clear message (non-zero exit), and the running one stays', async () => {
    const stored = await stack.db.hgetall(keys.modelPrices);
    const bad = {
      ...newList,
      version: 'test-bad',
      effectiveFrom: 'tomorrow',
      models: { 'gpt-4o-mini': { inputUsdPer1k: 0.0003, cachedInputUsdPer1k: 0.001, outputUsdPer1k: -1 } },
    };
    const r = await run('scripts/prices-publish.ts', [listFile('bad.json', bad)]);
    expect(r.code).toBe(65);
    expect(r.err).toMatch(/^The price list was refused:/);
    expect(r.err).toMatch(/effectiveFrom: must be YYYY-MM-DD or an ISO date-time/);
    expect(r.err).toMatch(/models\.gpt-4o-mini\.outputUsdPer1k: must not be negative/);
    expect(r.err).toMatch(/models\.gpt-4o-mini\.cachedInputUsdPer1k: .*must not be more than inputUsdPer1k/);
    expect(r.err).toMatch(/The price lists in force stay\./);
    // A reused version with other prices is refused too.
    const reused = { ...newList, models: { ...newList.models, 'gpt-4o': { inputUsdPer1k: 1, outputUsdPer1k: 1 } } };
    const r2 = await run('scripts/prices-publish.ts', [listFile('reused.json', reused)]);
    expect(r2.code).toBe(65);
    expect(r2.err).toMatch(/version test-2026-12-02 already exists with other prices/);
    // --check validates without Redis: the same verdicts.
    const checked = await runScript('scripts/prices-publish.ts', ['--check', listFile('bad.json', bad)]);
    expect(checked.code).toBe(65);
    expect(checked.err).toMatch(/outputUsdPer1k: must not be negative/);
    const fine = await runScript('scripts/prices-publish.ts', ['--check', listFile('fine.json', newList)]);
    expect(fine).toMatchObject({ code: 0, out: expect.stringMatching(/fine\.json: valid/) });
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "version": ');
    expect((await run('scripts/prices-publish.ts', [notJson])).code).toBe(65);
    expect(await stack.db.hgetall(keys.modelPrices)).toEqual(stored);

    offset += 61_000;
    expect((await rewrite(user(), 'After the refused publish.')).prices).toBe(newList.version);
  });

  it('Redis unreachable at a refresh: the last good list stays in use (a warning, no refused request)', async () => {
    const failures = () =>
      stack.services.metrics
        .render()
        .split('\n')
        .find((l) => l.startsWith('redraft_price_refresh_failures_total'));
    expect(failures()).toBeUndefined();
    // The next settlement's refresh fails; the book keeps the published list.
    offset += 61_000;
    const ok = await stack.services.prices.quote(Date.now() + offset, 'gpt-4o-mini');
    expect(ok?.version).toBe(newList.version);
    await stack.redis.stop();
    try {
      offset += 61_000;
      const quote = await stack.services.prices.quote(Date.now() + offset, 'gpt-4o-mini');
      expect(quote?.version).toBe(newList.version);
      // The quote does not wait for a failing read longer than its waitMs; the read fails in the background.
      await expect.poll(failures, { timeout: 10_000 }).toBe('redraft_price_refresh_failures_total 1');
      expect(stack.logs.some((l) => l.msg === 'price lists not refreshed; the last good ones stay in use')).toBe(true);
      expect((await stack.services.prices.quote(Date.now() + offset, 'gpt-4o-mini'))?.version).toBe(newList.version);
    } finally {
      await stack.redis.start();
    }
  });
});
