import { describe, expect, it } from 'vitest';
import {
  KNOWN_MODELS,
  PRICE_LISTS,
  priceListAt,
  priceListProblems,
  providerCostUsd,
  type ModelPrice,
  type PriceList,
} from '../../api/config/model-prices';
import { keys } from '../../api/metering/keys';
import { createPriceBook, mergePublished, publishPriceList } from '../../api/metering/prices';
import { tokenDetails, usageToCharge, type StreamOutcome } from '../../api/metering/settlement';

/** The newest list in the repository: what every date after its effective date is costed with. */
const NEWEST_FILE_LIST = priceListAt(new Date('2027-01-01T00:00:00Z')).version;

const price: ModelPrice = { inputUsdPer1k: 0.00015, cachedInputUsdPer1k: 0.000075, outputUsdPer1k: 0.0006 };

describe('providerCostUsd', () => {
  it('prices cached input at the cached price, the rest of the input at the input price', () => {
    // 2,000 in of which 1,536 cached, 100 out: 464 × 0.00015 + 1,536 × 0.000075 + 100 × 0.0006, per 1K.
    expect(providerCostUsd(price, { inputTokens: 2000, cachedInputTokens: 1536, outputTokens: 100 })).toBe(0.0002448);
    expect(providerCostUsd(price, { inputTokens: 2000, cachedInputTokens: 0, outputTokens: 100 })).toBe(0.00036);
  });

  it('is cheaper with cache, never more than without, and cached tokens are never added on top of the input', () => {
    const full = providerCostUsd(price, { inputTokens: 1200, cachedInputTokens: 0, outputTokens: 50 });
    const cached = providerCostUsd(price, { inputTokens: 1200, cachedInputTokens: 1024, outputTokens: 50 });
    expect(cached).toBeLessThan(full);
    // All input cached: exactly half the input price here (the saving is the whole cached part, once).
    expect(providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 0 })).toBe(0.000075);
  });

  it('clamps a cached count outside [0, input] instead of trusting it (LiteLLM #6215, #11789, #14849)', () => {
    const all = providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 10 });
    expect(providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: 5000, outputTokens: 10 })).toBe(all);
    const none = providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 10 });
    expect(providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: -300, outputTokens: 10 })).toBe(none);
  });

  it('charges cached input at the full input price when the list has no cached price (older lists)', () => {
    const old = { inputUsdPer1k: 0.00015, outputUsdPer1k: 0.0006 };
    expect(providerCostUsd(old, { inputTokens: 2000, cachedInputTokens: 1536, outputTokens: 100 })).toBe(0.00036);
  });
});

describe('tokenDetails (the cost breakdown of what is charged)', () => {
  const outcome = (
    u: StreamOutcome['providerUsage'],
    status: StreamOutcome['status'] = 'completed',
  ): StreamOutcome => ({
    status,
    providerUsage: u,
    estimatedInputTokens: 1300,
    countedOutputTokens: 40,
  });
  const details = (o: StreamOutcome) => tokenDetails(o, usageToCharge(o));

  it('reads cached and reasoning tokens as subsets; what the user is charged does not change', () => {
    const o = outcome({ inputTokens: 1300, outputTokens: 90, cachedInputTokens: 1152, reasoningTokens: 50 });
    expect(usageToCharge(o)).toEqual({ inputTokens: 1300, outputTokens: 90, source: 'provider' });
    expect(details(o)).toEqual({ cachedInputTokens: 1152, reasoningTokens: 50, anomalies: [] });
    // Reasoning is priced as output because it is in the output: the cost is the output's, not output + reasoning.
    expect(providerCostUsd(price, { ...usageToCharge(o), cachedInputTokens: 1152 })).toBe(
      Math.round(((148 * 0.00015 + 1152 * 0.000075 + 90 * 0.0006) / 1000) * 1e8) / 1e8,
    );
  });

  it('missing details: nothing cached, no reasoning (all at full price), nothing flagged', () => {
    expect(details(outcome({ inputTokens: 1300, outputTokens: 90 }))).toEqual({
      cachedInputTokens: 0,
      reasoningTokens: 0,
      anomalies: [],
    });
  });

  it('our own counts (abort, error, no usage) have no details, whatever the provider said', () => {
    const u = { inputTokens: 1300, outputTokens: 90, cachedInputTokens: 1152, reasoningTokens: 50 };
    expect(details(outcome(u, 'aborted'))).toEqual({ cachedInputTokens: 0, reasoningTokens: 0, anomalies: [] });
    expect(details(outcome({ ...u, inputTokens: undefined }))).toEqual({
      cachedInputTokens: 0,
      reasoningTokens: 0,
      anomalies: [],
    });
  });

  it('clamps a cached count above the input (and reasoning above the output) and flags it', () => {
    expect(
      details(outcome({ inputTokens: 1300, outputTokens: 90, cachedInputTokens: 2600, reasoningTokens: 200 })),
    ).toEqual({
      cachedInputTokens: 1300,
      reasoningTokens: 90,
      anomalies: ['cached_over_input', 'reasoning_over_output'],
    });
  });

  it('a detail that is not a count is 0 (full price) and flagged', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(details(outcome({ inputTokens: 1300, outputTokens: 90, cachedInputTokens: bad }))).toEqual({
        cachedInputTokens: 0,
        reasoningTokens: 0,
        anomalies: ['cached_invalid'],
      });
  });
});

const list = (version: string, effectiveFrom: string, inputUsdPer1k = 0.0002): PriceList => ({
  version,
  effectiveFrom,
  models: Object.fromEntries(
    KNOWN_MODELS.map((m) => [m, { inputUsdPer1k, cachedInputUsdPer1k: inputUsdPer1k / 2, outputUsdPer1k: 0.001 }]),
  ),
});

describe('price list validation', () => {
  it('accepts the repository lists and a complete new one', () => {
    for (const l of PRICE_LISTS) expect(priceListProblems(l)).toEqual([]);
    expect(priceListProblems(list('2027-01-01', '2027-01-01'), { requiredModels: KNOWN_MODELS })).toEqual([]);
    expect(priceListProblems(list('fix-1', '2027-01-01T12:30:00Z'))).toEqual([]);
  });

  it('names each problem: types, negative prices, cached above input, bad dates, unknown fields, missing models', () => {
    const bad = {
      version: 'has spaces',
      effectiveFrom: '1 Jan 2027',
      models: {
        'gpt-4o-mini': { inputUsdPer1k: -1, outputUsdPer1k: '0.1' },
        'gpt-4o': { inputUsdPer1k: 0.001, cachedInputUsdPer1k: 0.002, outputUsdPer1k: 0.01, extra: 1 },
      },
    };
    const problems = priceListProblems(bad).join('\n');
    expect(problems).toMatch(/^version: must be 1-64 characters/m);
    expect(problems).toMatch(/^effectiveFrom: must be YYYY-MM-DD/m);
    expect(problems).toMatch(/^models\.gpt-4o-mini\.inputUsdPer1k: must not be negative/m);
    expect(problems).toMatch(/^models\.gpt-4o-mini\.outputUsdPer1k: must be a number/m);
    expect(problems).toMatch(/^models\.gpt-4o: .*extra/m);
    const l = list('v', '2027-01-01');
    l.models['gpt-4o'] = { inputUsdPer1k: 0.001, cachedInputUsdPer1k: 0.002, outputUsdPer1k: 0.01 };
    expect(priceListProblems(l)).toEqual([
      'models.gpt-4o.cachedInputUsdPer1k: cachedInputUsdPer1k must not be more than inputUsdPer1k (cached input is a discount)',
    ]);
    const { 'gpt-4o': _, ...rest } = list('v', '2027-01-01').models;
    expect(priceListProblems({ ...l, models: rest }, { requiredModels: ['gpt-4o', 'gpt-4o-mini'] })).toEqual([
      'models: no price for gpt-4o (every model the API may run must have a price)',
    ]);
    expect(priceListProblems('nonsense')[0]).toMatch(/^\(the list\): /);
  });
});

describe('published price lists', () => {
  it('adds the published lists that validate and price the running model; refuses the rest, naming why', () => {
    const good = list('2027-01-01', '2027-01-01');
    const { lists, refused } = mergePublished(
      {
        '2027-01-01': JSON.stringify(good),
        broken: '{not json',
        '2026-11-01': JSON.stringify({ ...list('2026-11-01', '2026-11-01') }),
        other: JSON.stringify(list('mismatch', '2027-02-01')),
      },
      ['gpt-4o-mini'],
    );
    expect(lists.map((l) => l.version)).toEqual([...PRICE_LISTS.map((l) => l.version), '2027-01-01']);
    expect(refused).toEqual([
      { version: '2026-11-01', problems: ['a list in api/config/model-prices.ts has this version'] },
      { version: 'broken', problems: ['not JSON'] },
      { version: 'other', problems: ['stored under version other but says mismatch'] },
    ]);
  });

  /** A Redis hash in memory; `down` makes every call fail as an unreachable Redis would. */
  function fakeRedis() {
    const hash = new Map<string, string>();
    const r = {
      down: false,
      reads: 0,
      hash,
      async hgetall(key: string) {
        r.reads++;
        if (r.down) throw new Error('fetch failed');
        expect(key).toBe(keys.modelPrices);
        return [...hash].flat() as unknown as Record<string, unknown>;
      },
      async hsetnx(key: string, field: string, value: string) {
        if (r.down) throw new Error('fetch failed');
        expect(key).toBe(keys.modelPrices);
        if (hash.has(field)) return 0;
        hash.set(field, value);
        return 1;
      },
    };
    return r;
  }

  it('a running book picks up a published list within its refresh, and keeps the last good one when Redis is down', async () => {
    const redis = fakeRedis();
    let now = Date.parse('2027-03-01T00:00:00Z');
    const logs: Record<string, unknown>[] = [];
    const failures: string[] = [];
    const book = createPriceBook(redis as never, {
      models: ['gpt-4o-mini'],
      refreshMs: 60_000,
      now: () => now,
      log: (l) => logs.push(l),
      metrics: { inc: (name) => failures.push(name) },
    });
    expect((await book.quote(now, 'gpt-4o-mini'))?.version).toBe(NEWEST_FILE_LIST);
    expect(redis.reads).toBe(1);

    await publishPriceList(redis as never, list('2027-03-01', '2027-03-01'));
    const reads = redis.reads; // publishing reads the hash too
    now += 30_000; // within the refresh: the lists read 30 s ago stay
    expect((await book.quote(now, 'gpt-4o-mini'))?.version).toBe(NEWEST_FILE_LIST);
    expect(redis.reads).toBe(reads);
    now += 30_000; // a minute after the last read: read again
    const quote = await book.quote(now, 'gpt-4o-mini');
    expect(quote).toEqual({ version: '2027-03-01', price: list('x', 'x').models['gpt-4o-mini'] });
    // A request that started before the new list took effect keeps the price in force then.
    expect((await book.quote(Date.parse('2027-02-28T23:59:59Z'), 'gpt-4o-mini'))?.version).toBe(NEWEST_FILE_LIST);

    redis.down = true;
    now += 60_000;
    expect((await book.quote(now, 'gpt-4o-mini'))?.version).toBe('2027-03-01');
    expect(failures).toEqual(['redraft_price_refresh_failures_total']);
    expect(logs.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'price lists not refreshed; the last good ones stay in use',
    });
    // Failed reads are retried once per refresh, not on every request.
    expect((await book.quote(now + 1000, 'gpt-4o-mini'))?.version).toBe('2027-03-01');
    expect(redis.reads).toBe(reads + 2);
  });

  it('concurrent requests on stale lists share one read', async () => {
    const redis = fakeRedis();
    const book = createPriceBook(redis as never, {
      models: ['gpt-4o-mini'],
      refreshMs: 0,
      now: () => 0,
      log: () => {},
    });
    await Promise.all([book.quote(0, 'gpt-4o-mini'), book.quote(0, 'gpt-4o-mini'), book.quote(0, 'gpt-4o-mini')]);
    expect(redis.reads).toBe(1);
  });

  it('a slow Redis holds a quote no longer than waitMs: it is costed with the lists in force, the read goes on', async () => {
    let answer: (v: unknown) => void = () => {};
    const slow = { hgetall: () => new Promise((resolve) => (answer = resolve)) };
    const book = createPriceBook(slow as never, {
      models: ['gpt-4o-mini'],
      refreshMs: 60_000,
      now: () => Date.parse('2027-03-02T00:00:00Z'),
      log: () => {},
      waitMs: 5,
    });
    expect((await book.quote(Date.parse('2027-03-02T00:00:00Z'), 'gpt-4o-mini'))?.version).toBe(NEWEST_FILE_LIST);
    answer(['2027-03-01', JSON.stringify(list('2027-03-01', '2027-03-01'))]);
    await new Promise((r) => setTimeout(r, 0));
    expect((await book.quote(Date.parse('2027-03-02T00:00:00Z'), 'gpt-4o-mini'))?.version).toBe('2027-03-01');
  });

  it('a stored entry without the running model is ignored (logged once), the lists in force stay', async () => {
    const redis = fakeRedis();
    const { 'gpt-4o-mini': _, ...others } = list('x', 'x').models;
    redis.hash.set(
      '2027-03-01',
      JSON.stringify({ version: '2027-03-01', effectiveFrom: '2027-03-01', models: others }),
    );
    const logs: Record<string, unknown>[] = [];
    let now = Date.parse('2027-04-01T00:00:00Z');
    const book = createPriceBook(redis as never, {
      models: ['gpt-4o-mini'],
      refreshMs: 1000,
      now: () => now,
      log: (l) => logs.push(l),
    });
    expect((await book.quote(now, 'gpt-4o-mini'))?.version).toBe(NEWEST_FILE_LIST);
    now += 5000;
    await book.quote(now, 'gpt-4o-mini');
    expect(logs).toEqual([
      {
        level: 'warn',
        msg: 'published price list ignored',
        version: '2027-03-01',
        problems: ['models: no price for gpt-4o-mini (every model the API may run must have a price)'],
      },
    ]);
  });

  it('publishing refuses an invalid list, a reused version with other prices, and a clashing instant; the old stays', async () => {
    const redis = fakeRedis();
    expect(await publishPriceList(redis as never, list('2027-03-01', '2027-03-01'))).toEqual({
      published: true,
      version: '2027-03-01',
    });
    // The same list again: nothing to do.
    expect(await publishPriceList(redis as never, list('2027-03-01', '2027-03-01'))).toEqual({
      published: false,
      version: '2027-03-01',
    });
    const before = [...redis.hash];
    await expect(publishPriceList(redis as never, { version: '2027-04-01' })).rejects.toThrow(
      /^The price list was refused:\n {2}- effectiveFrom: /,
    );
    await expect(publishPriceList(redis as never, list('2027-03-01', '2027-03-01', 0.0009))).rejects.toThrow(
      /version 2027-03-01 already exists with other prices: publish it as a new version/,
    );
    await expect(publishPriceList(redis as never, list('2026-12-01', '2027-05-01'))).rejects.toThrow(
      /version 2026-12-01 already exists/,
    );
    await expect(publishPriceList(redis as never, list('again', '2027-03-01T00:00:00Z'))).rejects.toThrow(
      /effectiveFrom 2027-03-01T00:00:00Z is when version 2027-03-01 takes effect/,
    );
    const { 'gpt-4o': _, ...partial } = list('x', 'x').models;
    await expect(
      publishPriceList(redis as never, { version: 'partial', effectiveFrom: '2027-06-01', models: partial }),
    ).rejects.toThrow(/models: no price for gpt-4o/);
    expect([...redis.hash]).toEqual(before);
  });
});
