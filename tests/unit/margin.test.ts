/**
 * Unit economics (api/billing/margin.ts, margin-report.ts): hand-checked numbers for a Pro user under and
 * over the allowance, an upgrade in the middle of the month, a free user, a cross-subsidised heavy user,
 * model price versions, the month/period attribution, and the cost by model of mixed models (a Pro user
 * served by OpenAI and, on fallback, by Anthropic; a free user; an event settled before the ledger recorded
 * the provider).
 */
import { describe, expect, it } from 'vitest';
import {
  inMonth,
  marginReport,
  monthOf,
  parseMarginEvent,
  periodRevenue,
  USD,
  userMargin,
  type MarginEvent,
  type ModelMargin,
  type UserMargin,
} from '../../api/billing/operator/margin';
import {
  BY_MODEL_CSV_COLUMNS,
  CSV_COLUMNS,
  formatUsd8,
  marginByModelCsv,
  marginCsv,
  marginTable,
  parseCsvLine,
} from '../../api/billing/operator/margin-report';
import { userOfLedgerKey } from '../../api/billing/operator/margin-read';
import { PLANS } from '../../api/config/plans';
import { priceListAt, providerCostUsd, type PriceList } from '../../api/config/model-prices';
import { ConfigError, loadRedisJobConfig } from '../../api/config/env';
import { keys } from '../../api/metering/keys';

const at = (iso: string) => Date.parse(iso);
const NOV = monthOf('2026-11', 0);
let seq = 0;

/** A ledger entry as SETTLE writes it (quota.lua.ts), parsed the way the script parses it. */
function ev(o: {
  period: string;
  pend: string;
  billable: boolean;
  billed: number;
  cost?: string;
  ended?: string;
  model?: string;
  /** The provider field (`prov`); absent, as on events settled before the ledger recorded it. */
  prov?: string;
  in?: number;
  cached?: number;
  out?: number;
}): MarginEvent {
  const ended = at(o.ended ?? o.period) + (o.ended ? 0 : 3_600_000);
  const f: Record<string, string> = {
    id: `req_${++seq}`,
    user: 'u',
    action: 'rewrite',
    model: o.model ?? 'gpt-4o-mini',
    in: String(o.in ?? o.billed),
    out: String(o.out ?? 0),
    status: 'completed',
    source: 'provider',
    started: String(ended - 2000),
    ended: String(ended),
    prompt: 'v1',
    billed: String(o.billed),
    period: String(at(o.period)),
    pend: String(at(o.pend)),
    billable: o.billable ? '1' : '0',
  };
  if (o.cost !== undefined) f.cost = o.cost;
  if (o.prov !== undefined) f.prov = o.prov;
  if (o.cached !== undefined) f.cached = String(o.cached);
  if (o.billable) f.cust = 'cus_x';
  return parseMarginEvent(f, `${ended}-0`);
}

const usd = (x: number) => Math.round(x * USD);

describe('the month and what belongs to it', () => {
  it('parses YYYY-MM as a UTC calendar month, defaulting to the current one', () => {
    expect(monthOf('2026-11', 0)).toEqual({
      label: '2026-11',
      start: at('2026-11-01T00:00:00Z'),
      end: at('2026-12-01T00:00:00Z'),
    });
    expect(monthOf('2026-12', 0).end).toBe(at('2027-01-01T00:00:00Z'));
    expect(monthOf(undefined, at('2027-02-28T23:59:59.999Z'))).toMatchObject({
      label: '2027-02',
      start: at('2027-02-01T00:00:00Z'),
      end: at('2027-03-01T00:00:00Z'),
    });
    for (const bad of ['2026-13', '2026-00', '2026-1', '26-11', 'november', '2026-11-01'])
      expect(() => monthOf(bad, 0)).toThrow(/YYYY-MM/);
  });

  it('attributes an event by the start of its billing period, not by when it ran', () => {
    const lateRequest = ev({
      period: '2026-11-03T10:00:00Z',
      pend: '2026-12-03T10:00:00Z',
      billable: true,
      billed: 1,
      ended: '2026-12-03T10:00:20Z',
    });
    expect(inMonth(lateRequest, NOV)).toBe(true);
    expect(inMonth(lateRequest, monthOf('2026-12', 0))).toBe(false);
    const octPeriod = ev({
      period: '2026-10-31T23:59:59Z',
      pend: '2026-11-30T23:59:59Z',
      billable: true,
      billed: 1,
      ended: '2026-11-20T00:00:00Z',
    });
    expect(inMonth(octPeriod, NOV)).toBe(false);
    // An event without a period (none should exist) counts by when it ended.
    const bare = parseMarginEvent(
      { billed: '5', cost: '0.00000100', ended: String(at('2026-11-15T00:00:00Z')) },
      '1-0',
    );
    expect(bare.periodStart).toBeNull();
    expect(inMonth(bare, NOV)).toBe(true);
  });

  it('reads ledger fields as SETTLE writes them: billable → the paid plan; cost to the 1e-8 USD', () => {
    const e = ev({
      period: '2026-11-03T10:00:00Z',
      pend: '2026-12-03T10:00:00Z',
      billable: true,
      billed: 1234,
      cost: '0.00012345',
      in: 1000,
      out: 234,
    });
    expect(e).toMatchObject({
      plan: 'pro',
      billedTokens: 1234,
      costUsd8: 12345,
      inputTokens: 1000,
      outputTokens: 234,
      periodStart: at('2026-11-03T10:00:00Z'),
      periodEnd: at('2026-12-03T10:00:00Z'),
    });
    expect(ev({ period: '2026-11-03T10:00:00Z', pend: '2026-12-03T10:00:00Z', billable: false, billed: 1 }).plan).toBe(
      'free',
    );
    expect(
      ev({ period: '2026-11-03T10:00:00Z', pend: '2026-12-03T10:00:00Z', billable: false, billed: 1 }).costUsd8,
    ).toBeNull();
  });

  it('finds user ids in ledger keys only', () => {
    expect(userOfLedgerKey(keys.ledger('user_2abc'))).toBe('user_2abc');
    expect(userOfLedgerKey(keys.ledger('someone@example.com:dev'))).toBe('someone@example.com:dev');
    expect(userOfLedgerKey(keys.quota('user_2abc'))).toBeUndefined();
    expect(userOfLedgerKey(keys.billingUsers)).toBeUndefined();
  });
});

describe('revenue of one billing period', () => {
  it('is the base price plus the overage of the whole period at the metered price', () => {
    expect(periodRevenue(PLANS.pro, 0)).toEqual({ baseUsd8: usd(20), overageTokens: 0, overageUsd8: 0 });
    expect(periodRevenue(PLANS.pro, 500_000)).toEqual({ baseUsd8: usd(20), overageTokens: 0, overageUsd8: 0 });
    // 1 token over: $0.002 / 1,000 = $0.000002 = 200 × 1e-8.
    expect(periodRevenue(PLANS.pro, 500_001)).toEqual({ baseUsd8: usd(20), overageTokens: 1, overageUsd8: 200 });
    // The spending cap: 25,000,000 tokens over = $50.
    expect(periodRevenue(PLANS.pro, PLANS.pro.hardCapTokens)).toEqual({
      baseUsd8: usd(20),
      overageTokens: 25_000_000,
      overageUsd8: usd(50),
    });
    expect(periodRevenue(PLANS.free, 20_000)).toEqual({ baseUsd8: 0, overageTokens: 0, overageUsd8: 0 });
  });
});

describe('per user', () => {
  it('Pro under the allowance: the base price only', () => {
    const p = { period: '2026-11-10T08:00:00Z', pend: '2026-12-10T08:00:00Z', billable: true };
    const u = userMargin(
      'pro_under',
      [
        ev({ ...p, billed: 100_000, cost: '0.04500000' }),
        ev({ ...p, billed: 150_000, cost: '0.06000000' }),
        ev({ ...p, billed: 50_000, cost: '0.01500000' }),
      ],
      undefined,
      NOV,
    )!;
    expect(u).toMatchObject({
      plans: ['pro'],
      requests: 3,
      tokens: 300_000,
      billableTokens: 300_000,
      overageTokens: 0,
      costUsd8: usd(0.12),
      baseUsd8: usd(20),
      overageUsd8: 0,
      revenueUsd8: usd(20),
      marginUsd8: usd(19.88),
      marginPct: 99.4,
      crossSubsidised: false,
    });
  });

  it('Pro over the allowance: overage on the period total, never per event; the period’s late request counts, the previous period does not', () => {
    const p = { period: '2026-11-03T10:00:00Z', pend: '2026-12-03T10:00:00Z', billable: true };
    const events = [
      ev({
        period: '2026-10-03T10:00:00Z',
        pend: '2026-11-03T10:00:00Z',
        billable: true,
        billed: 450_000,
        cost: '0.20000000',
      }), // October's period
      ev({ ...p, billed: 400_000, cost: '0.30000000' }),
      ev({ ...p, billed: 350_000, cost: '0.26250000', ended: '2026-12-03T10:00:20Z' }), // granted before the end, finished after
    ];
    const u = userMargin(
      'pro_over',
      events,
      { plan: 'pro', start: at('2026-12-03T10:00:00Z'), end: at('2027-01-03T10:00:00Z') },
      NOV,
    )!;
    // Each event is under 500,000; the period's 750,000 is 250,000 over: 250 × $0.002 = $0.50.
    expect(u).toMatchObject({
      requests: 2,
      tokens: 750_000,
      overageTokens: 250_000,
      overageUsd8: usd(0.5),
      revenueUsd8: usd(20.5),
      costUsd8: usd(0.5625),
      marginUsd8: usd(19.9375),
      marginPct: 97.3,
    });
    expect(u.periods).toHaveLength(1);
    // October sees its own period: 450,000 tokens, no overage.
    expect(userMargin('pro_over', events, undefined, monthOf('2026-10', 0))).toMatchObject({
      tokens: 450_000,
      overageTokens: 0,
      revenueUsd8: usd(20),
      costUsd8: usd(0.2),
    });
  });

  it('an upgrade in the middle of the month: the free period is acquisition cost, the paid period is billed on its own', () => {
    const free = { period: '2026-11-01T00:00:00Z', pend: '2026-12-01T00:00:00Z', billable: false };
    const pro = { period: '2026-11-14T12:00:00Z', pend: '2026-12-14T12:00:00Z', billable: true };
    const events = [
      ev({ ...free, billed: 12_000, cost: '0.00720000' }),
      ev({ ...free, billed: 3_000, cost: '0.00180000' }),
      ev({ ...pro, billed: 300_000, cost: '0.18000000' }),
      ev({ ...pro, billed: 300_000, cost: '0.18000000' }),
    ];
    const u = userMargin('upgrader', events, { plan: 'pro', start: at(pro.period), end: at(pro.pend) }, NOV)!;
    // Free tokens never count toward the paid allowance: 600,000 paid → 100,000 over = $0.20.
    expect(u).toMatchObject({
      plans: ['free', 'pro'],
      tokens: 615_000,
      billableTokens: 600_000,
      overageTokens: 100_000,
      revenueUsd8: usd(20.2),
      costUsd8: usd(0.369),
      marginUsd8: usd(19.831),
      marginPct: 98.2,
    });
    expect(u.periods.map((p) => [p.plan, p.tokens, p.costUsd8, p.baseUsd8 + p.overageUsd8])).toEqual([
      ['free', 15_000, usd(0.009), 0],
      ['pro', 600_000, usd(0.36), usd(20.2)],
    ]);
  });

  it('a free user: no revenue, the cost is the acquisition cost, not flagged', () => {
    const p = { period: '2026-11-07T09:30:00Z', pend: '2026-12-07T09:30:00Z', billable: false };
    const u = userMargin(
      'free_a',
      [ev({ ...p, billed: 8_000, cost: '0.00120000' }), ev({ ...p, billed: 4_000, cost: '0.00060000' })],
      { plan: 'free', start: at(p.period), end: at(p.pend) },
      NOV,
    )!;
    expect(u).toMatchObject({
      plans: ['free'],
      tokens: 12_000,
      revenueUsd8: 0,
      costUsd8: usd(0.0018),
      marginUsd8: -usd(0.0018),
      marginPct: null,
      crossSubsidised: false,
    });
  });

  it('flags a paying user who costs more than they pay (gpt-4o output costs more than the overage price)', () => {
    const p = { period: '2026-11-20T00:00:00Z', pend: '2026-12-20T00:00:00Z', billable: true };
    // 5,000,000 tokens, 4,500,000 of them output at $0.01/1K: $45 (+ 500,000 in at $0.0025/1K... recorded as one cost).
    const u = userMargin(
      'heavy_4o',
      [ev({ ...p, billed: 5_000_000, cost: '45.00000000', model: 'gpt-4o', in: 500_000, out: 4_500_000 })],
      undefined,
      NOV,
    )!;
    // Revenue $20 + 4,500,000 over × $0.002/1K = $29.
    expect(u).toMatchObject({
      revenueUsd8: usd(29),
      costUsd8: usd(45),
      marginUsd8: -usd(16),
      marginPct: -55.2,
      crossSubsidised: true,
    });
  });

  it('a paid period that started in the month with no usage yet still brings its base price', () => {
    const current = { plan: 'pro' as const, start: at('2026-11-05T00:00:00Z'), end: at('2026-12-05T00:00:00Z') };
    expect(userMargin('idle', [], current, NOV)).toMatchObject({
      plans: ['pro'],
      tokens: 0,
      costUsd8: 0,
      revenueUsd8: usd(20),
      marginPct: 100,
    });
    expect(userMargin('idle', [], current, monthOf('2026-12', 0))).toBeUndefined();
    expect(userMargin('idle', [], { ...current, plan: 'free' }, NOV)).toBeUndefined();
  });

  it('takes each event’s recorded cost; prices an event without one from the price list in force when it started', () => {
    const lists: PriceList[] = [
      { version: 'a', effectiveFrom: '2026-01-01', models: { m: { inputUsdPer1k: 1, outputUsdPer1k: 2 } } },
      { version: 'b', effectiveFrom: '2026-11-15', models: { m: { inputUsdPer1k: 0.5, outputUsdPer1k: 1 } } },
    ];
    const p = {
      period: '2026-11-01T00:00:00Z',
      pend: '2026-12-01T00:00:00Z',
      billable: false,
      model: 'm',
      in: 1000,
      out: 1000,
      billed: 2000,
    };
    const events = [
      ev({ ...p, ended: '2026-11-10T00:00:00Z' }), // list a: $1 + $2 = $3
      ev({ ...p, ended: '2026-11-20T00:00:00Z' }), // list b: $0.5 + $1 = $1.5
      ev({ ...p, ended: '2026-11-21T00:00:00Z', cost: '0.99000000' }), // recorded: kept as is, never re-priced
      ev({ ...p, ended: '2026-11-22T00:00:00Z', model: 'unknown-model' }), // no cost, no price: 0, reported
    ];
    const u = userMargin('versions', events, undefined, NOV, { priceLists: lists })!;
    expect(u).toMatchObject({ costUsd8: usd(3 + 1.5 + 0.99), pricedHere: 2, unpriced: 1 });
  });

  it('sums money in integer units: a million 1e-8 USD costs are exactly $0.01', () => {
    const p = {
      period: '2026-11-01T00:00:00Z',
      pend: '2026-12-01T00:00:00Z',
      billable: false,
      billed: 1,
      cost: '0.00000001',
    };
    const one = ev(p);
    const u = userMargin(
      'tiny',
      Array.from({ length: 1_000_000 }, () => one),
      undefined,
      NOV,
    )!;
    expect(u.costUsd8).toBe(1_000_000);
    expect(formatUsd8(u.costUsd8)).toBe('0.01000000');
  });

  it('has nothing for a user with nothing in the month', () => {
    expect(
      userMargin(
        'none',
        [ev({ period: '2026-10-01T00:00:00Z', pend: '2026-11-01T00:00:00Z', billable: false, billed: 5, cost: '0' })],
        undefined,
        NOV,
      ),
    ).toBeUndefined();
  });
});

/** The five users above, for the report. */
function novemberUsers(): UserMargin[] {
  const mk = (
    id: string,
    period: string,
    pend: string,
    billable: boolean,
    rows: [number, string][],
    current?: boolean,
  ) =>
    userMargin(
      id,
      rows.map(([billed, cost]) => ev({ period, pend, billable, billed, cost })),
      current ? { plan: billable ? 'pro' : 'free', start: at(period), end: at(pend) } : undefined,
      NOV,
    )!;
  const upgrader = userMargin(
    'upgrader',
    [
      ev({
        period: '2026-11-01T00:00:00Z',
        pend: '2026-12-01T00:00:00Z',
        billable: false,
        billed: 15_000,
        cost: '0.00900000',
      }),
      ev({
        period: '2026-11-14T12:00:00Z',
        pend: '2026-12-14T12:00:00Z',
        billable: true,
        billed: 600_000,
        cost: '0.36000000',
      }),
    ],
    undefined,
    NOV,
  )!;
  return [
    mk('free_a', '2026-11-07T09:30:00Z', '2026-12-07T09:30:00Z', false, [
      [8_000, '0.00120000'],
      [4_000, '0.00060000'],
    ]),
    mk('pro_under', '2026-11-10T08:00:00Z', '2026-12-10T08:00:00Z', true, [
      [100_000, '0.04500000'],
      [150_000, '0.06000000'],
      [50_000, '0.01500000'],
    ]),
    upgrader,
    mk('pro_over', '2026-11-03T10:00:00Z', '2026-12-03T10:00:00Z', true, [
      [400_000, '0.30000000'],
      [350_000, '0.26250000'],
    ]),
    mk('heavy_4o', '2026-11-20T00:00:00Z', '2026-12-20T00:00:00Z', true, [[5_000_000, '45.00000000']]),
  ];
}

describe('the report', () => {
  const report = marginReport(NOV, novemberUsers(), { top: 3 });

  it('totals per plan: free is its own row (an upgrader’s free period included), pro carries the revenue', () => {
    expect(report.plans.map((p) => p.plan)).toEqual(['free', 'pro']);
    const [free, pro] = report.plans;
    expect(free).toMatchObject({
      users: 2,
      periods: 2,
      requests: 3,
      tokens: 27_000,
      costUsd8: usd(0.0108),
      revenueUsd8: 0,
      marginUsd8: -usd(0.0108),
      marginPct: null,
      crossSubsidised: 0,
    });
    // Costs 0.5625 + 0.12 + 0.36 + 45; revenue 4 × $20 + overage $0.50 + $0.20 + $9.
    expect(pro).toMatchObject({
      users: 4,
      periods: 4,
      requests: 7,
      tokens: 6_650_000,
      overageTokens: 4_850_000,
      costUsd8: usd(46.0425),
      baseUsd8: usd(80),
      overageUsd8: usd(9.7),
      revenueUsd8: usd(89.7),
      marginUsd8: usd(43.6575),
      marginPct: 48.7,
      crossSubsidised: 1,
    });
    expect(report.total).toMatchObject({
      plan: 'total',
      users: 5,
      periods: 6,
      requests: 10,
      tokens: 6_677_000,
      costUsd8: usd(46.0533),
      revenueUsd8: usd(89.7),
      marginUsd8: usd(43.6467),
      marginPct: 48.7,
      crossSubsidised: 1,
    });
    // The plan rows add up to the users.
    const sum = (k: 'tokens' | 'costUsd8' | 'revenueUsd8' | 'marginUsd8') => report.users.reduce((s, u) => s + u[k], 0);
    for (const k of ['tokens', 'costUsd8', 'revenueUsd8', 'marginUsd8'] as const)
      expect(report.plans.reduce((s, p) => s + p[k], 0)).toBe(sum(k));
  });

  it('lists the heaviest users by tokens and every cross-subsidised one', () => {
    expect(report.users.map((u) => u.userId)).toEqual(['heavy_4o', 'pro_over', 'upgrader', 'pro_under', 'free_a']);
    expect(report.heaviest.map((u) => u.userId)).toEqual(['heavy_4o', 'pro_over', 'upgrader']);
    expect(report.crossSubsidised.map((u) => u.userId)).toEqual(['heavy_4o']);
  });

  it('writes CSV with exact amounts: a row per user, heaviest first, then per plan and the total', () => {
    const lines = marginCsv(report).trimEnd().split('\n').map(parseCsvLine);
    expect(lines[0]).toEqual([...CSV_COLUMNS]);
    const rows = lines.slice(1).map((l) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, l[i]])));
    expect(rows.map((r) => [r.kind, r.user || r.plan])).toEqual([
      ['user', 'heavy_4o'],
      ['user', 'pro_over'],
      ['user', 'upgrader'],
      ['user', 'pro_under'],
      ['user', 'free_a'],
      ['plan', 'free'],
      ['plan', 'pro'],
      ['total', 'total'],
    ]);
    expect(rows[0]).toMatchObject({
      rank: '1',
      plan: 'pro',
      tokens: '5000000',
      overage_tokens: '4500000',
      cost_usd: '45.00000000',
      revenue_usd: '29.00000000',
      margin_usd: '-16.00000000',
      margin_pct: '-55.2',
      flag: 'cross-subsidised',
    });
    expect(rows[2]).toMatchObject({
      rank: '3',
      plan: 'free+pro',
      periods: '2',
      tokens: '615000',
      billable_tokens: '600000',
      base_usd: '20.00000000',
      overage_usd: '0.20000000',
      margin_usd: '19.83100000',
      flag: '',
    });
    expect(rows[4]).toMatchObject({
      plan: 'free',
      revenue_usd: '0.00000000',
      margin_usd: '-0.00180000',
      margin_pct: '',
    });
    expect(rows[7]).toMatchObject({
      users: '5',
      cost_usd: '46.05330000',
      revenue_usd: '89.70000000',
      margin_usd: '43.64670000',
      flag: '1 cross-subsidised',
    });
  });

  it('quotes CSV cells that need it', () => {
    const odd = userMargin(
      'a,"b"',
      [ev({ period: '2026-11-01T00:00:00Z', pend: '2026-12-01T00:00:00Z', billable: false, billed: 1, cost: '0' })],
      undefined,
      NOV,
    )!;
    const line = marginCsv(marginReport(NOV, [odd])).split('\n')[1]!;
    expect(line.startsWith('user,1,"a,""b""",free,')).toBe(true);
    expect(parseCsvLine(line)[2]).toBe('a,"b"');
  });

  it('prints a table with the plan rows, the heaviest users and the cross-subsidised ones', () => {
    const text = marginTable(report);
    expect(text).toMatch(/billing periods that started in 2026-11 \(UTC\)/);
    expect(text).toMatch(/^pro\s+4\s+4\s+7\s+6,650,000\s+4,850,000\s+46\.0425\s+89\.7000\s+43\.6575\s+48\.7\s+1$/m);
    expect(text).toMatch(/^free\s+2\s+2\s+3\s+27,000\s+0\s+0\.0108\s+0\.0000\s+-0\.0108\s+—\s+0$/m);
    expect(text).toMatch(/Heaviest 3 user\(s\)/);
    expect(text).toMatch(
      /Cross-subsidised users \(paying less than their usage costs\): 1\n.*\n.*\n\s*1\s+heavy_4o\s+pro\s+5,000,000/,
    );
    expect(marginTable(marginReport(NOV, []))).toMatch(/No usage and no paid period in this month/);
  });

  it('formats 1e-8 USD amounts exactly', () => {
    expect(formatUsd8(0)).toBe('0.00000000');
    expect(formatUsd8(1)).toBe('0.00000001');
    expect(formatUsd8(-123_456_789)).toBe('-1.23456789');
    expect(formatUsd8(2_000_000_000, 2)).toBe('20.00');
    expect(formatUsd8(4_365_750_000, 4)).toBe('43.6575');
    // 4 places: units of 10,000 × 1e-8 USD, half away from zero; what rounds to zero has no sign.
    expect(formatUsd8(-4_999, 4)).toBe('0.0000');
    expect(formatUsd8(-5_000, 4)).toBe('-0.0001');
    expect(formatUsd8(15_000, 4)).toBe('0.0002');
  });
});

describe('cost by model: mixed models and providers', () => {
  const DEC = monthOf('2026-12', 0);
  const pro = { period: '2026-12-03T10:00:00Z', pend: '2027-01-03T10:00:00Z', billable: true };
  const free = { period: '2026-12-04T10:00:00Z', pend: '2027-01-04T10:00:00Z', billable: false };
  /** The price list in force when these events ran (each started an hour after its period started). */
  const list = priceListAt(new Date('2026-12-03T11:00:00Z'));
  type Use = { model: string; in: number; cached: number; out: number };
  /** What SETTLE records: the provider cost from the price list, to 8 decimals. */
  const costOf = (u: Use) =>
    providerCostUsd(list.models[u.model]!, { inputTokens: u.in, cachedInputTokens: u.cached, outputTokens: u.out });
  const settled = (p: typeof pro, prov: string, u: Use) =>
    ev({ ...p, ...u, prov, billed: u.in + u.out, cost: costOf(u).toFixed(8) });
  const e8 = (uses: Use[]) => uses.reduce((s, u) => s + Math.round(costOf(u) * USD), 0);

  const mini1: Use = { model: 'gpt-4.1-mini', in: 10_000, cached: 4_000, out: 2_000 };
  const mini2: Use = { model: 'gpt-4.1-mini', in: 20_000, cached: 0, out: 5_000 };
  const haiku: Use = { model: 'claude-haiku-4-5', in: 13_000, cached: 3_000, out: 2_500 }; // gpt-4.1-mini failed first
  const miniB: Use = { model: 'gpt-4.1-mini', in: 5_000, cached: 0, out: 1_000 };
  const fourO: Use = { model: 'gpt-4o-mini', in: 3_000, cached: 0, out: 1_000 };
  /** Settled before the ledger recorded the provider or the cost: no `prov`, no `cost` (priced here). */
  const oldFourO: Use = { model: 'gpt-4o-mini', in: 2_000, cached: 0, out: 500 };

  const users = [
    userMargin(
      'pro_mixed',
      [settled(pro, 'openai', mini1), settled(pro, 'anthropic', haiku), settled(pro, 'openai', mini2)],
      undefined,
      DEC,
    )!,
    userMargin('pro_b', [settled(pro, 'openai', miniB)], undefined, DEC)!,
    userMargin(
      'free_4o',
      [
        settled(free, 'openai', fourO),
        ev({ ...free, model: oldFourO.model, in: oldFourO.in, out: oldFourO.out, billed: oldFourO.in + oldFourO.out }),
      ],
      undefined,
      DEC,
    )!,
  ];
  const report = marginReport(DEC, users);
  const row = (rows: ModelMargin[], plan: string, label: string) =>
    rows.find((m) => m.plan === plan && `${m.provider || '?'}/${m.model}` === label);

  it('reads the provider from `prov`; an event without it has provider ""', () => {
    expect(settled(pro, 'anthropic', haiku)).toMatchObject({
      model: 'claude-haiku-4-5',
      provider: 'anthropic',
      inputTokens: 13_000,
      cachedInputTokens: 3_000,
      outputTokens: 2_500,
    });
    expect(ev({ ...free, billed: 1 }).provider).toBe('');
  });

  it('has a row per provider/model with its requests, tokens and exact provider cost, most cost first', () => {
    // By hand (list 2026-12-02): gpt-4.1-mini 6,000 × $0.0004 + 4,000 × $0.0001 + 2,000 × $0.0016 per 1K = $0.006,
    // + $0.008 + $0.008, + $0.002 + $0.0016 = $0.0256; claude-haiku-4-5 10,000 × $0.001 + 3,000 × $0.0001 +
    // 2,500 × $0.005 = $0.0228; gpt-4o-mini 3,000 × $0.00015 + 1,000 × $0.0006 = $0.00105; the old event
    // 2,000 × $0.00015 + 500 × $0.0006 = $0.0006.
    expect(list.version).toBe('2026-12-02');
    expect([e8([mini1, mini2, miniB]), e8([haiku]), e8([fourO]), e8([oldFourO])]).toEqual([
      usd(0.0256),
      usd(0.0228),
      usd(0.00105),
      usd(0.0006),
    ]);
    expect(report.models).toEqual([
      {
        plan: 'all',
        provider: 'openai',
        model: 'gpt-4.1-mini',
        users: 2,
        requests: 3,
        tokens: 43_000,
        inputTokens: 35_000,
        cachedInputTokens: 4_000,
        outputTokens: 8_000,
        costUsd8: e8([mini1, mini2, miniB]),
        pricedHere: 0,
        unpriced: 0,
        requestSharePct: 50,
        costSharePct: 51.1,
      },
      {
        plan: 'all',
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        users: 1,
        requests: 1,
        tokens: 15_500,
        inputTokens: 13_000,
        cachedInputTokens: 3_000,
        outputTokens: 2_500,
        costUsd8: e8([haiku]),
        pricedHere: 0,
        unpriced: 0,
        requestSharePct: 16.7,
        costSharePct: 45.6,
      },
      {
        plan: 'all',
        provider: 'openai',
        model: 'gpt-4o-mini',
        users: 1,
        requests: 1,
        tokens: 4_000,
        inputTokens: 3_000,
        cachedInputTokens: 0,
        outputTokens: 1_000,
        costUsd8: e8([fourO]),
        pricedHere: 0,
        unpriced: 0,
        requestSharePct: 16.7,
        costSharePct: 2.1,
      },
      {
        plan: 'all',
        provider: '',
        model: 'gpt-4o-mini',
        users: 1,
        requests: 1,
        tokens: 2_500,
        inputTokens: 2_000,
        cachedInputTokens: 0,
        outputTokens: 500,
        costUsd8: e8([oldFourO]),
        pricedHere: 1,
        unpriced: 0,
        requestSharePct: 16.7,
        costSharePct: 1.2,
      },
    ]);
    expect(report.pricedHere).toBe(1);
  });

  it('adds up to the report’s totals, in the same 1e-8 USD units', () => {
    const sum = (rows: ModelMargin[], k: 'requests' | 'tokens' | 'costUsd8') => rows.reduce((s, m) => s + m[k], 0);
    expect(report.total.costUsd8).toBe(e8([mini1, mini2, miniB, haiku, fourO, oldFourO]));
    expect(report.total.costUsd8).toBe(usd(0.05005));
    for (const k of ['requests', 'tokens', 'costUsd8'] as const) {
      expect(sum(report.models, k)).toBe(report.total[k]);
      expect(sum(report.planModels, k)).toBe(report.total[k]);
      expect(report.modelTotal[k]).toBe(report.total[k]);
      for (const p of report.plans)
        expect(
          sum(
            report.planModels.filter((m) => m.plan === p.plan),
            k,
          ),
        ).toBe(p[k]);
    }
    // Each user's own rows add up to the user.
    for (const u of users) expect(u.models.reduce((s, m) => s + m.costUsd8, 0)).toBe(u.costUsd8);
    expect(report.modelTotal).toMatchObject({
      users: 3,
      requests: 6,
      tokens: 65_000,
      inputTokens: 53_000,
      cachedInputTokens: 7_000,
      outputTokens: 12_000,
      pricedHere: 1,
    });
  });

  it('per plan × model: which models serve each plan’s users, with shares of the plan', () => {
    expect(
      report.planModels.map((m) => [
        m.plan,
        `${m.provider || '?'}/${m.model}`,
        m.users,
        m.requests,
        m.costUsd8,
        m.requestSharePct,
        m.costSharePct,
      ]),
    ).toEqual([
      ['free', 'openai/gpt-4o-mini', 1, 1, e8([fourO]), 50, 63.6],
      ['free', '?/gpt-4o-mini', 1, 1, e8([oldFourO]), 50, 36.4],
      ['pro', 'openai/gpt-4.1-mini', 2, 3, e8([mini1, mini2, miniB]), 75, 52.9],
      ['pro', 'anthropic/claude-haiku-4-5', 1, 1, e8([haiku]), 25, 47.1],
    ]);
    expect(row(report.planModels, 'pro', 'anthropic/claude-haiku-4-5')?.cachedInputTokens).toBe(3_000);
  });

  it('prints a "Cost by model" section with the rows, their total and the plan × model rows', () => {
    const text = marginTable(report);
    const section = text.slice(text.indexOf('Cost by model'), text.indexOf('Heaviest'));
    expect(section).toMatch(/^openai\/gpt-4\.1-mini\s+2\s+3\s+43,000\s+35,000\s+4,000\s+8,000\s+0\.0256\s+51\.1$/m);
    expect(section).toMatch(
      /^anthropic\/claude-haiku-4-5\s+1\s+1\s+15,500\s+13,000\s+3,000\s+2,500\s+0\.0228\s+45\.6$/m,
    );
    expect(section).toMatch(/^openai\/gpt-4o-mini\s+1\s+1\s+4,000\s+3,000\s+0\s+1,000\s+0\.0011\s+2\.1$/m);
    expect(section).toMatch(/^\?\/gpt-4o-mini\s+1\s+1\s+2,500\s+2,000\s+0\s+500\s+0\.0006\s+1\.2$/m);
    expect(section).toMatch(/^total\s+3\s+6\s+65,000\s+53,000\s+7,000\s+12,000\s+0\.0501\s+100\.0$/m);
    expect(section).toMatch(/^pro\s+anthropic\/claude-haiku-4-5\s+1\s+1\s+25\.0\s+15,500\s+0\.0228\s+47\.1$/m);
    expect(section).toMatch(/^free\s+\?\/gpt-4o-mini\s+1\s+1\s+50\.0\s+2,500\s+0\.0006\s+36\.4$/m);
    expect(section).toMatch(/\? = not recorded: 1 request\(s\)/);
    // The plan table's total is the same cost.
    expect(text).toMatch(/^total\s+3\s+3\s+6\s+65,000\s+0\s+0\.0501\s/m);
    expect(
      marginTable(
        marginReport(DEC, [userMargin('idle', [], { plan: 'pro', start: at(pro.period), end: at(pro.pend) }, DEC)!]),
      ),
    ).toMatch(/Cost by model: no requests\./);
  });

  it('writes the cost by model as its own CSV (--by-model), whose total is the per-user CSV’s total', () => {
    const lines = marginByModelCsv(report).trimEnd().split('\n').map(parseCsvLine);
    expect(lines[0]).toEqual([...BY_MODEL_CSV_COLUMNS]);
    expect(lines.every((l) => l.length === BY_MODEL_CSV_COLUMNS.length)).toBe(true);
    const rows = lines.slice(1).map((l) => Object.fromEntries(BY_MODEL_CSV_COLUMNS.map((c, i) => [c, l[i]!])));
    expect(rows.map((r) => [r.kind, r.plan, r.provider, r.model])).toEqual([
      ['model', '', 'openai', 'gpt-4.1-mini'],
      ['model', '', 'anthropic', 'claude-haiku-4-5'],
      ['model', '', 'openai', 'gpt-4o-mini'],
      ['model', '', '', 'gpt-4o-mini'],
      ['plan-model', 'free', 'openai', 'gpt-4o-mini'],
      ['plan-model', 'free', '', 'gpt-4o-mini'],
      ['plan-model', 'pro', 'openai', 'gpt-4.1-mini'],
      ['plan-model', 'pro', 'anthropic', 'claude-haiku-4-5'],
      ['total', '', '', ''],
    ]);
    expect(rows[1]).toMatchObject({
      users: '1',
      requests: '1',
      request_share_pct: '16.7',
      tokens: '15500',
      input_tokens: '13000',
      cached_input_tokens: '3000',
      output_tokens: '2500',
      cost_usd: '0.02280000',
      cost_share_pct: '45.6',
      priced_here: '0',
      unpriced: '0',
    });
    expect(rows[3]).toMatchObject({ cost_usd: '0.00060000', priced_here: '1' });
    const cost = (kind: string) =>
      rows.filter((r) => r.kind === kind).reduce((s, r) => s + Math.round(Number(r.cost_usd) * USD), 0);
    expect(cost('model')).toBe(report.total.costUsd8);
    expect(cost('plan-model')).toBe(report.total.costUsd8);
    const perUser = marginCsv(report).trimEnd().split('\n').map(parseCsvLine);
    const total = perUser.find((l) => l[0] === 'total')!;
    expect(rows[8]).toMatchObject({
      requests: total[CSV_COLUMNS.indexOf('requests')],
      tokens: total[CSV_COLUMNS.indexOf('tokens')],
      cost_usd: total[CSV_COLUMNS.indexOf('cost_usd')],
    });
    expect(rows[8]!.cost_usd).toBe('0.05005000');
  });

  it('names the models that had neither a recorded cost nor a price', () => {
    const u = userMargin('odd', [ev({ ...free, billed: 10, model: 'mystery-1', prov: 'together' })], undefined, DEC)!;
    const r = marginReport(DEC, [u]);
    expect(r.models[0]).toMatchObject({ provider: 'together', model: 'mystery-1', unpriced: 1, costUsd8: 0 });
    expect(r.models[0]!.costSharePct).toBeNull();
    expect(marginTable(r)).toMatch(/no price for their model \(together\/mystery-1\): counted at 0/);
    expect(marginTable(r)).toMatch(/^together\/mystery-1\s+1\s+1\s+10\s+10\s+0\s+0\s+0\.0000\s+—$/m);
  });
});

describe('the script’s configuration', () => {
  it('needs Redis only (no Stripe key, model or auth), and names what is missing', () => {
    expect(
      loadRedisJobConfig({ UPSTASH_REDIS_REST_URL: 'https://eu1-x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't' }),
    ).toEqual({
      env: 'development',
      redis: { url: 'https://eu1-x.upstash.io', token: 't', timeoutMs: 2000 },
    });
    expect(() => loadRedisJobConfig({})).toThrow(ConfigError);
    expect(() => loadRedisJobConfig({ UPSTASH_REDIS_REST_URL: 'not a url', UPSTASH_REDIS_REST_TOKEN: 't' })).toThrow(
      /UPSTASH_REDIS_REST_URL must be a URL/,
    );
  });
});
