/**
 * `npm run margin` end to end: ledgers written by the real quota scripts (reserve → settle, with the
 * provider cost the API records) on a real redis-server, subscriptions through the Stripe stand-in and the
 * real webhook handler, then `scripts/margin.ts` as its own process reading Redis through the Upstash
 * bridge. Its CSV is checked against the ledger, row by row, and against hand-checked amounts; its cost by
 * model against requests served by several models and providers (a Pro user on OpenAI and, on fallback,
 * Anthropic; a free user; an event written as before the ledger recorded the provider or the cost).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvents, startBillingStack, subscribeDirect, type BillingStack } from '../support/billing';
import { ledgerOf } from '../support/stack';
import { runScript, type ScriptRun } from '../support/scripts';
import { monthOf } from '../../api/billing/operator/margin';
import { BY_MODEL_CSV_COLUMNS, CSV_COLUMNS, parseCsvLine } from '../../api/billing/operator/margin-report';
import { priceListAt, providerCostUsd } from '../../api/config/model-prices';
import { keys } from '../../api/metering/keys';

const DAY = 86_400_000;
const HOUR = 3_600_000;
let clock = Date.now();
const now = () => clock;
let b: BillingStack;
const tag = Date.now().toString(36);
const U = {
  free: `user_mfree_${tag}`,
  freePrev: `user_mfreeprev_${tag}`,
  proUnder: `user_mprounder_${tag}`,
  proOver: `user_mproover_${tag}`,
  upgrader: `user_mupgrader_${tag}`,
  renewed: `user_mrenewed_${tag}`,
  idle: `user_midle_${tag}`,
  heavy: `user_mheavy_${tag}`,
};

beforeAll(async () => {
  b = await startBillingStack({ stripe: { now }, services: { now } });
});
afterAll(async () => {
  await b?.close();
});

let seq = 0;
/** One request through the real quota scripts, charged as the API charges it (cost from the price list in force). */
async function use(
  userId: string,
  o: { in: number; out: number; at: number; endedAt?: number; model?: string; cached?: number },
): Promise<number> {
  const requestId = `mg_${(++seq).toString(36)}_${tag}`;
  const model = o.model ?? 'gpt-4o-mini';
  const r = await b.stack.services.quota.reserve(userId, requestId, o.in + o.out, 1, o.at, `att_${requestId}`);
  if (!r.ok) throw new Error(`reservation refused: ${JSON.stringify(r)}`);
  const endedAt = o.endedAt ?? o.at + 1500;
  const price = priceListAt(new Date(o.at)).models[model]!;
  const s = await b.stack.services.quota.settle(userId, r.period, {
    requestId,
    userId,
    action: 'rewrite',
    model,
    provider: model.startsWith('claude') ? 'anthropic' : 'openai',
    inputTokens: o.in,
    outputTokens: o.out,
    cachedInputTokens: o.cached ?? 0,
    reasoningTokens: 0,
    usageAnomalies: [],
    costUsd: providerCostUsd(price, { inputTokens: o.in, cachedInputTokens: o.cached ?? 0, outputTokens: o.out }),
    priceVersion: priceListAt(new Date(o.at)).version,
    status: 'completed',
    source: 'provider',
    startedAt: o.at,
    endedAt,
    promptVersion: 'margin-test',
  });
  if (!s.ok) throw new Error('settlement missing');
  return s.billed;
}

function margin(args: string[]): Promise<ScriptRun> {
  return runScript('scripts/margin.ts', args, b.stack.services.config.redis);
}

/** What the ledger says about a user for periods that started in [start, end): an oracle written independently of the module. */
async function fromLedger(userId: string, start: number, end: number) {
  const events = (await ledgerOf(b.stack.db, userId)).filter(
    (e) => Number(e.period) >= start && Number(e.period) < end,
  );
  const paid = new Map<string, number>();
  let tokens = 0;
  let costE8 = 0;
  for (const e of events) {
    tokens += Number(e.billed);
    costE8 += Math.round(Number(e.cost) * 1e8);
    if (e.billable === '1') paid.set(e.period!, (paid.get(e.period!) ?? 0) + Number(e.billed));
  }
  let revenueE8 = 0;
  for (const t of paid.values()) revenueE8 += 20 * 1e8 + Math.max(0, t - 500_000) * 200; // $20 + $0.002 per 1,000 over
  return { events, tokens, costE8, revenueE8, paidPeriods: paid.size };
}

const e8 = (s: string) => Math.round(Number(s) * 1e8);

describe('npm run margin', () => {
  it('reports per user and per plan what the ledger holds, with the period rule and hand-checked revenue', {
    timeout: 120_000,
  }, async () => {
    const realNow = Date.now();
    const month = monthOf(undefined, realNow - 60 * DAY); // two months back: every period and request in it is in the past
    const M = month.start;

    // Free, first seen in the month.
    for (const [i, t] of [
      [0, 1200],
      [1, 800],
      [2, 3000],
    ] as const)
      await use(U.free, { in: t, out: t / 2, at: M + 2 * DAY + i * HOUR });
    // Free, first seen the month before: usage in this month belongs to a period that started before it.
    await use(U.freePrev, { in: 1000, out: 1000, at: M - 5 * DAY });
    await use(U.freePrev, { in: 2000, out: 500, at: M + 3 * DAY });

    // Pro under the allowance.
    clock = M + 3 * DAY;
    await subscribeDirect(b, U.proUnder);
    for (let i = 0; i < 3; i++) await use(U.proUnder, { in: 40_000, out: 20_000, at: clock + (i + 1) * HOUR });

    // Pro over the allowance: 300k + 300k + a request granted 10 s before the period ends and finished after it.
    clock = M + 1 * DAY;
    const over = await subscribeDirect(b, U.proOver);
    await use(U.proOver, { in: 200_000, out: 100_000, at: clock + HOUR });
    await use(U.proOver, { in: 200_000, out: 100_000, at: clock + 2 * HOUR });
    await use(U.proOver, { in: 30_000, out: 20_000, at: over.period.end - 10_000, endedAt: over.period.end + 20_000 });

    // Upgrade mid-month: free usage, then Pro.
    await use(U.upgrader, { in: 5000, out: 5000, at: M + 5 * DAY });
    clock = M + 12 * DAY;
    await subscribeDirect(b, U.upgrader);
    await use(U.upgrader, { in: 100_000, out: 50_000, at: clock + HOUR });

    // Subscribed the month before, renewed into this month: only the renewed period is this month's.
    clock = M - 10 * DAY;
    const renewed = await subscribeDirect(b, U.renewed);
    await use(U.renewed, { in: 50_000, out: 50_000, at: clock + HOUR });
    clock = renewed.period.end + 60_000;
    await applyEvents(b, b.stripe.renew(renewed.subscriptionId));
    await use(U.renewed, { in: 10_000, out: 10_000, at: clock + HOUR });

    // Pro with no usage at all (no ledger key): found through the subscription list; the base price only.
    clock = M + 20 * DAY;
    await subscribeDirect(b, U.idle);

    // A heavy gpt-4o user: 5,000,000 tokens, 4,500,000 of them output at $0.01 per 1K.
    clock = M + 8 * DAY;
    await subscribeDirect(b, U.heavy);
    for (let i = 0; i < 5; i++)
      await use(U.heavy, { in: 100_000, out: 900_000, at: clock + (i + 1) * HOUR, model: 'gpt-4o' });

    // --- the script, CSV on stdout and in a file --------------------------------------------------------
    const dir = mkdtempSync(join(tmpdir(), 'margin-'));
    try {
      const file = join(dir, 'margin.csv');
      const csvRun = await margin(['--period', month.label, '--csv']);
      expect(csvRun.err).toBe('');
      expect(csvRun.code).toBe(0);
      const tableRun = await margin(['--period', month.label, '--top', '3', '--out', file]);
      expect(tableRun.code).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe(csvRun.out);

      const lines = csvRun.out.trimEnd().split('\n').map(parseCsvLine);
      expect(lines[0]).toEqual([...CSV_COLUMNS]);
      const rows = lines.slice(1).map((l) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, l[i]!])));
      const users = new Map(rows.filter((r) => r.kind === 'user').map((r) => [r.user!, r]));
      const ours = Object.values(U);

      // Every user with something in the month is there; the one whose only period started before it is not.
      expect(ours.filter((u) => users.has(u)).sort()).toEqual(ours.filter((u) => u !== U.freePrev).sort());

      // Row by row against the ledger.
      for (const u of ours.filter((x) => x !== U.freePrev)) {
        const want = await fromLedger(u, month.start, month.end);
        const row = users.get(u)!;
        const wantRevenue = want.revenueE8 + (u === U.idle ? 20 * 1e8 : 0);
        expect({
          u,
          tokens: Number(row.tokens),
          requests: Number(row.requests),
          cost: e8(row.cost_usd!),
          revenue: e8(row.revenue_usd!),
          margin: e8(row.margin_usd!),
        }).toEqual({
          u,
          tokens: want.tokens,
          requests: want.events.length,
          cost: want.costE8,
          revenue: wantRevenue,
          margin: wantRevenue - want.costE8,
        });
        expect(row.flag).toBe(wantRevenue > 0 && wantRevenue < want.costE8 ? 'cross-subsidised' : '');
      }

      // Hand-checked: the Pro user over the allowance. 650,000 tokens in the period (the late request
      // included) → 150,000 over → $0.30 + $20. Cost: 430,000 in × $0.00015/1K + 220,000 out × $0.0006/1K.
      expect(users.get(U.proOver)).toMatchObject({
        plan: 'pro',
        tokens: '650000',
        overage_tokens: '150000',
        base_usd: '20.00000000',
        overage_usd: '0.30000000',
        revenue_usd: '20.30000000',
        cost_usd: '0.19650000',
      });
      expect(users.get(U.proUnder)).toMatchObject({
        plan: 'pro',
        tokens: '180000',
        overage_tokens: '0',
        revenue_usd: '20.00000000',
        cost_usd: '0.05400000',
        margin_usd: '19.94600000',
        margin_pct: '99.7',
      });
      expect(users.get(U.upgrader)).toMatchObject({
        plan: 'free+pro',
        periods: '2',
        tokens: '160000',
        billable_tokens: '150000',
        revenue_usd: '20.00000000',
      });
      expect(users.get(U.renewed)).toMatchObject({
        plan: 'pro',
        periods: '1',
        tokens: '20000',
        revenue_usd: '20.00000000',
      });
      expect(users.get(U.idle)).toMatchObject({
        plan: 'pro',
        tokens: '0',
        cost_usd: '0.00000000',
        revenue_usd: '20.00000000',
        margin_pct: '100.0',
      });
      expect(users.get(U.free)).toMatchObject({
        plan: 'free',
        tokens: '7500',
        revenue_usd: '0.00000000',
        margin_pct: '',
        flag: '',
      });
      // 500,000 in × $0.0025/1K + 4,500,000 out × $0.01/1K = $46.25; revenue $20 + 4,500,000 × $0.002/1K = $29.
      expect(users.get(U.heavy)).toMatchObject({
        rank: '1',
        plan: 'pro',
        tokens: '5000000',
        cost_usd: '46.25000000',
        revenue_usd: '29.00000000',
        margin_usd: '-17.25000000',
        flag: 'cross-subsidised',
      });

      // Plan rows and the total add up to the user rows (this Redis holds only this test's users).
      const plan = (p: string) => rows.find((r) => r.kind !== 'user' && r.plan === p)!;
      const sumUsers = (k: string, pred: (r: Record<string, string>) => boolean = () => true) =>
        rows.filter((r) => r.kind === 'user' && pred(r)).reduce((s, r) => s + e8(r[k]!), 0);
      expect(e8(plan('total').cost_usd!)).toBe(sumUsers('cost_usd'));
      expect(e8(plan('total').revenue_usd!)).toBe(sumUsers('revenue_usd'));
      expect(plan('total')).toMatchObject({ users: String(users.size), flag: '1 cross-subsidised' });
      expect(e8(plan('pro').revenue_usd!) + e8(plan('free').revenue_usd!)).toBe(e8(plan('total').revenue_usd!));
      expect(e8(plan('free').revenue_usd!)).toBe(0);
      // Free: the free user and the upgrader's free period (10,000 tokens).
      expect(plan('free')).toMatchObject({ users: '2', tokens: String(7500 + 10_000) });
      expect(plan('pro')).toMatchObject({ users: '6', periods: '6', base_usd: '120.00000000' });

      // The table: plan rows, the top 3, the cross-subsidised user.
      expect(tableRun.out).toMatch(
        new RegExp(`Heaviest 3 user\\(s\\) by tokens:\\n.*\\n.*\\n\\s*1\\s+${U.heavy}\\s+pro\\s+5,000,000`),
      );
      expect(tableRun.out).toMatch(
        new RegExp(
          `Cross-subsidised users \\(paying less than their usage costs\\): 1\\n.*\\n.*\\n\\s*1\\s+${U.heavy}`,
        ),
      );
      console.log(
        `npm run margin -- --period ${month.label} --top 3\n${tableRun.out}\nnpm run margin -- --period ${month.label} --csv\n${csvRun.out}`,
      );

      // The month before: the renewed user's first period and the earlier free user; nothing of this month.
      const prev = await margin(['--period', monthOf(undefined, M - DAY).label, '--csv']);
      const prevUsers = prev.out
        .trimEnd()
        .split('\n')
        .slice(1)
        .map(parseCsvLine)
        .filter((l) => l[0] === 'user')
        .map((l) => l[2]);
      expect(prevUsers.sort()).toEqual([U.freePrev, U.renewed].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('breaks the cost down by model and provider, per plan, adding up to the totals', {
    timeout: 120_000,
  }, async () => {
    // A month whose price list prices every model routed here (claude-haiku-4-5 from 2026-12-02 on), months
    // away from the first test's month, so nothing of that test belongs to it.
    const month = monthOf(undefined, Date.now() + 90 * DAY);
    const M = month.start;
    const V = { pro: `user_mmpro_${tag}`, proB: `user_mmprob_${tag}`, free: `user_mmfree_${tag}` };
    type Served = {
      user: string;
      plan: 'free' | 'pro';
      prov: string;
      model: string;
      in: number;
      cached: number;
      out: number;
      at: number;
    };
    const served: Served[] = [];
    const serve = async (s: Omit<Served, 'prov'>) => {
      served.push({ ...s, prov: s.model.startsWith('claude') ? 'anthropic' : 'openai' });
      await use(s.user, { in: s.in, cached: s.cached, out: s.out, at: s.at, model: s.model });
    };

    clock = M + 2 * DAY;
    await subscribeDirect(b, V.pro);
    await serve({
      user: V.pro,
      plan: 'pro',
      model: 'gpt-4.1-mini',
      in: 10_000,
      cached: 4_000,
      out: 2_000,
      at: clock + HOUR,
    });
    // gpt-4.1-mini failed before its first token: Anthropic's Haiku served, and the ledger says so.
    await serve({
      user: V.pro,
      plan: 'pro',
      model: 'claude-haiku-4-5',
      in: 13_000,
      cached: 3_000,
      out: 2_500,
      at: clock + 2 * HOUR,
    });
    await serve({
      user: V.pro,
      plan: 'pro',
      model: 'gpt-4.1-mini',
      in: 20_000,
      cached: 0,
      out: 5_000,
      at: clock + 3 * HOUR,
    });
    clock = M + 3 * DAY;
    await subscribeDirect(b, V.proB);
    await serve({
      user: V.proB,
      plan: 'pro',
      model: 'gpt-4.1-mini',
      in: 5_000,
      cached: 0,
      out: 1_000,
      at: clock + HOUR,
    });
    await serve({
      user: V.free,
      plan: 'free',
      model: 'gpt-4o-mini',
      in: 3_000,
      cached: 0,
      out: 1_000,
      at: M + 4 * DAY,
    });
    // An event as SETTLE wrote it before the ledger recorded the provider or the cost (same period): the
    // report prices it from the price list by its model and shows its provider as unknown.
    const [last] = await ledgerOf(b.stack.db, V.free);
    const oldAt = M + 4 * DAY + HOUR;
    const old: Record<string, string> = {
      id: `mg_old_${tag}`,
      user: V.free,
      action: 'rewrite',
      model: 'gpt-4o-mini',
      in: '2000',
      out: '500',
      status: 'completed',
      source: 'provider',
      started: String(oldAt),
      ended: String(oldAt + 1500),
      prompt: 'margin-test',
      billed: '2500',
      period: last!.period!,
      pend: last!.pend!,
      billable: '0',
    };
    await b.stack.db.xadd(keys.ledger(V.free), '*', ...Object.entries(old).flat());
    const oldE8 = Math.round(
      providerCostUsd(priceListAt(new Date(oldAt)).models['gpt-4o-mini']!, {
        inputTokens: 2000,
        cachedInputTokens: 0,
        outputTokens: 500,
      }) * 1e8,
    );

    const [byModel, perUser, tableRun] = await Promise.all([
      margin(['--period', month.label, '--csv', '--by-model']),
      margin(['--period', month.label, '--csv']),
      margin(['--period', month.label]),
    ]);
    for (const r of [byModel, perUser, tableRun]) expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });

    const lines = byModel.out.trimEnd().split('\n').map(parseCsvLine);
    expect(lines[0]).toEqual([...BY_MODEL_CSV_COLUMNS]);
    expect(lines.every((l) => l.length === BY_MODEL_CSV_COLUMNS.length)).toBe(true);
    const rows = lines.slice(1).map((l) => Object.fromEntries(BY_MODEL_CSV_COLUMNS.map((c, i) => [c, l[i]!])));
    const userRows = perUser.out
      .trimEnd()
      .split('\n')
      .slice(1)
      .map(parseCsvLine)
      .map((l) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, l[i]!])));
    // Only this test's users are in the month.
    expect(
      userRows
        .filter((r) => r.kind === 'user')
        .map((r) => r.user)
        .sort(),
    ).toEqual(Object.values(V).sort());

    // The oracle: what each request was charged, from the price list, grouped by what served it.
    const costE8 = (s: Served) =>
      Math.round(
        providerCostUsd(priceListAt(new Date(s.at)).models[s.model]!, {
          inputTokens: s.in,
          cachedInputTokens: s.cached,
          outputTokens: s.out,
        }) * 1e8,
      );
    const want = (pred: (s: Served) => boolean) => {
      const ss = served.filter(pred);
      return {
        users: String(new Set(ss.map((s) => s.user)).size),
        requests: String(ss.length),
        tokens: String(ss.reduce((t, s) => t + s.in + s.out, 0)),
        input_tokens: String(ss.reduce((t, s) => t + s.in, 0)),
        cached_input_tokens: String(ss.reduce((t, s) => t + s.cached, 0)),
        output_tokens: String(ss.reduce((t, s) => t + s.out, 0)),
        cost: ss.reduce((t, s) => t + costE8(s), 0),
        priced_here: '0',
      };
    };
    const got = (r: Record<string, string>) => {
      const { users, requests, tokens, input_tokens, cached_input_tokens, output_tokens, priced_here } = r;
      return {
        users,
        requests,
        tokens,
        input_tokens,
        cached_input_tokens,
        output_tokens,
        cost: e8(r.cost_usd!),
        priced_here,
      };
    };
    const modelRows = rows.filter((r) => r.kind === 'model');
    expect(modelRows.map((r) => `${r.provider}/${r.model}`)).toEqual([
      'openai/gpt-4.1-mini',
      'anthropic/claude-haiku-4-5',
      'openai/gpt-4o-mini',
      '/gpt-4o-mini',
    ]);
    for (const r of modelRows.slice(0, 3))
      expect({ ref: `${r.provider}/${r.model}`, ...got(r) }).toEqual({
        ref: `${r.provider}/${r.model}`,
        ...want((s) => s.prov === r.provider && s.model === r.model),
      });
    expect(got(modelRows[3]!)).toEqual({
      users: '1',
      requests: '1',
      tokens: '2500',
      input_tokens: '2000',
      cached_input_tokens: '0',
      output_tokens: '500',
      cost: oldE8,
      priced_here: '1',
    });
    const planRows = rows.filter((r) => r.kind === 'plan-model');
    expect(planRows.map((r) => [r.plan, `${r.provider}/${r.model}`, r.users, r.requests, r.request_share_pct])).toEqual(
      [
        ['free', 'openai/gpt-4o-mini', '1', '1', '50.0'],
        ['free', '/gpt-4o-mini', '1', '1', '50.0'],
        ['pro', 'openai/gpt-4.1-mini', '2', '3', '75.0'],
        ['pro', 'anthropic/claude-haiku-4-5', '1', '1', '25.0'],
      ],
    );
    expect(e8(planRows[3]!.cost_usd!)).toBe(want((s) => s.plan === 'pro' && s.prov === 'anthropic').cost);

    // Everything adds up, in 1e-8 USD: the model rows, the plan × model rows, the total row, and the per-user
    // CSV's plan rows and total.
    const total = rows.find((r) => r.kind === 'total')!;
    const totalUsers = userRows.find((r) => r.kind === 'total')!;
    const allE8 = served.reduce((t, s) => t + costE8(s), 0) + oldE8;
    const sum = (rs: Record<string, string>[], k: string) =>
      rs.reduce((t, r) => t + (k === 'cost_usd' ? e8(r[k]!) : Number(r[k])), 0);
    for (const k of ['requests', 'tokens', 'cost_usd']) {
      expect(sum(modelRows, k)).toBe(sum([total], k));
      expect(sum(planRows, k)).toBe(sum([total], k));
      expect(sum([totalUsers], k)).toBe(sum([total], k));
      for (const plan of ['free', 'pro'])
        expect(
          sum(
            planRows.filter((r) => r.plan === plan),
            k,
          ),
        ).toBe(
          sum(
            userRows.filter((r) => r.kind === 'plan' && r.plan === plan),
            k,
          ),
        );
    }
    expect(e8(total.cost_usd!)).toBe(allE8);
    expect(total).toMatchObject({ requests: '6', tokens: '65000', users: '3', priced_here: '1' });

    // The table's section.
    const text = tableRun.out;
    const section = text.slice(text.indexOf('Cost by model ('), text.indexOf('Heaviest'));
    const usd4 = (x: number) => (Math.round(x / 1e4) / 1e4).toFixed(4);
    const haiku = want((s) => s.prov === 'anthropic');
    expect(section).toMatch(
      new RegExp(
        `^anthropic/claude-haiku-4-5\\s+1\\s+1\\s+15,500\\s+13,000\\s+3,000\\s+2,500\\s+${usd4(haiku.cost).replace('.', '\\.')}\\s`,
        'm',
      ),
    );
    expect(section).toMatch(/^openai\/gpt-4\.1-mini\s+2\s+3\s+43,000\s+35,000\s+4,000\s+8,000\s/m);
    expect(section).toMatch(/^\?\/gpt-4o-mini\s+1\s+1\s+2,500\s+2,000\s+0\s+500\s/m);
    expect(section).toMatch(
      new RegExp(
        `^total\\s+3\\s+6\\s+65,000\\s+53,000\\s+7,000\\s+12,000\\s+${usd4(allE8).replace('.', '\\.')}\\s+100\\.0$`,
        'm',
      ),
    );
    expect(section).toMatch(/^pro\s+anthropic\/claude-haiku-4-5\s+1\s+1\s+25\.0\s+15,500\s/m);
    expect(section).toMatch(/\? = not recorded: 1 request\(s\)/);
    expect(text).toMatch(/Note: 1 ledger event\(s\) had no recorded cost and were priced/);
    console.log(
      `npm run margin -- --period ${month.label}\n${text}\nnpm run margin -- --period ${month.label} --csv --by-model\n${byModel.out}`,
    );
  });

  it('refuses a malformed period and a missing Redis configuration, saying what is wrong', async () => {
    const bad = await margin(['--period', '2026-13']);
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/YYYY-MM/);
    const { code, err } = await runScript('scripts/margin.ts', []);
    expect(code).toBe(78);
    expect(err).toMatch(/UPSTASH_REDIS_REST_URL is required/);
  });
});
