/**
 * The margin report as text: an operator's table (plans, cost by model, heaviest and cross-subsidised
 * users), or CSV. Pure.
 *
 * Two CSVs, each one table with one header line, so either parses as plain CSV:
 * - marginCsv (`--csv`): a row per user, heaviest first, then a row per plan and the total (CSV_COLUMNS);
 * - marginByModelCsv (`--csv --by-model`): the cost by model (BY_MODEL_CSV_COLUMNS) — a `model` row per
 *   provider/model over all plans (plan empty), most cost first, then a `plan-model` row per plan × model,
 *   then the `total` of the model rows, which equals marginCsv's total row (requests, tokens, cost).
 *   `provider` is empty where the ledger recorded none (events settled before model routing; `?` in the
 *   table). Shares are % of the row's group (all plans, or the row's plan), one decimal; amounts exact.
 */
import { modelLabel, type MarginReport, type ModelMargin, type PlanMargin, type UserMargin } from './margin';

/** An amount in 1e-8 USD as a decimal string with `decimals` places (exact: integer arithmetic, half away from zero). */
export function formatUsd8(usd8: number, decimals = 8): string {
  const sign = usd8 < 0 ? '-' : '';
  const scale = 10 ** (8 - decimals);
  const units = Math.round(Math.abs(usd8) / scale);
  const whole = Math.floor(units / 10 ** decimals);
  const frac = units - whole * 10 ** decimals;
  const text = decimals > 0 ? `${whole}.${String(frac).padStart(decimals, '0')}` : String(whole);
  return units === 0 ? text : sign + text;
}

export const CSV_COLUMNS = [
  'kind',
  'rank',
  'user',
  'plan',
  'users',
  'periods',
  'requests',
  'tokens',
  'billable_tokens',
  'overage_tokens',
  'cost_usd',
  'base_usd',
  'overage_usd',
  'revenue_usd',
  'margin_usd',
  'margin_pct',
  'flag',
] as const;

const csvCell = (v: string | number): string => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const pct = (p: number | null) => (p === null ? '' : p.toFixed(1));
const planLabel = (u: UserMargin) => u.plans.join('+');
const flagOf = (u: UserMargin) => (u.crossSubsidised ? 'cross-subsidised' : '');

type Money = Pick<UserMargin, 'costUsd8' | 'baseUsd8' | 'overageUsd8' | 'revenueUsd8' | 'marginUsd8'>;
const money = (r: Money) =>
  [r.costUsd8, r.baseUsd8, r.overageUsd8, r.revenueUsd8, r.marginUsd8].map((v) => formatUsd8(v));

export function marginCsv(report: MarginReport): string {
  const lines: (string | number)[][] = [[...CSV_COLUMNS]];
  report.users.forEach((u, i) => {
    lines.push([
      'user',
      i + 1,
      u.userId,
      planLabel(u),
      1,
      u.periods.length,
      u.requests,
      u.tokens,
      u.billableTokens,
      u.overageTokens,
      ...money(u),
      pct(u.marginPct),
      flagOf(u),
    ]);
  });
  for (const p of [...report.plans, report.total]) {
    lines.push([
      p.plan === 'total' ? 'total' : 'plan',
      '',
      '',
      p.plan,
      p.users,
      p.periods,
      p.requests,
      p.tokens,
      p.billableTokens,
      p.overageTokens,
      ...money(p),
      pct(p.marginPct),
      p.crossSubsidised > 0 ? `${p.crossSubsidised} cross-subsidised` : '',
    ]);
  }
  return `${lines.map((l) => l.map(csvCell).join(',')).join('\n')}\n`;
}

export const BY_MODEL_CSV_COLUMNS = [
  'kind',
  'plan',
  'provider',
  'model',
  'users',
  'requests',
  'request_share_pct',
  'tokens',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'cost_usd',
  'cost_share_pct',
  'priced_here',
  'unpriced',
] as const;

/** The cost by model as CSV (see the header of this file). */
export function marginByModelCsv(report: MarginReport): string {
  const row = (kind: string, m: ModelMargin): (string | number)[] => [
    kind,
    m.plan === 'all' ? '' : m.plan,
    m.provider,
    m.model,
    m.users,
    m.requests,
    pct(m.requestSharePct),
    m.tokens,
    m.inputTokens,
    m.cachedInputTokens,
    m.outputTokens,
    formatUsd8(m.costUsd8),
    pct(m.costSharePct),
    m.pricedHere,
    m.unpriced,
  ];
  const lines: (string | number)[][] = [
    [...BY_MODEL_CSV_COLUMNS],
    ...report.models.map((m) => row('model', m)),
    ...report.planModels.map((m) => row('plan-model', m)),
    row('total', report.modelTotal),
  ];
  return `${lines.map((l) => l.map(csvCell).join(',')).join('\n')}\n`;
}

/** A parsed CSV line (the inverse of csvCell for one line; used by tests and anyone post-processing). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '"' && line[i + 1] === '"') {
      cur += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

const int = (n: number) => n.toLocaleString('en-US');

function table(head: string[], rows: string[][], alignLeft: number[] = [0]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (alignLeft.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

const usd = (usd8: number) => formatUsd8(usd8, 4);

function planRow(p: PlanMargin): string[] {
  return [
    p.plan,
    int(p.users),
    int(p.periods),
    int(p.requests),
    int(p.tokens),
    int(p.overageTokens),
    usd(p.costUsd8),
    usd(p.revenueUsd8),
    usd(p.marginUsd8),
    p.marginPct === null ? '—' : p.marginPct.toFixed(1),
    int(p.crossSubsidised),
  ];
}

function userRow(u: UserMargin, rank: number): string[] {
  return [
    String(rank),
    u.userId,
    planLabel(u),
    int(u.tokens),
    int(u.overageTokens),
    usd(u.costUsd8),
    usd(u.revenueUsd8),
    usd(u.marginUsd8),
    u.marginPct === null ? '—' : u.marginPct.toFixed(1),
    flagOf(u),
  ];
}

const USER_HEAD = [
  '#',
  'user',
  'plan',
  'tokens',
  'overage',
  'cost USD',
  'revenue USD',
  'margin USD',
  'margin %',
  'flag',
];

const share = (p: number | null) => (p === null ? '—' : p.toFixed(1));

/** The "Cost by model" section: per provider/model over all plans with their total, then per plan × model. */
function costByModel(report: MarginReport): string[] {
  if (report.models.length === 0) return ['Cost by model: no requests.'];
  const label = (m: ModelMargin) => modelLabel(m.provider, m.model);
  const out = [
    'Cost by model (each request under the model that served it; cost % of the total):',
    table(
      ['provider/model', 'users', 'requests', 'tokens', 'input', 'cached', 'output', 'cost USD', 'cost %'],
      [...report.models.map((m) => [label(m), m] as const), ['total', report.modelTotal] as const].map(([name, m]) => [
        name,
        int(m.users),
        int(m.requests),
        int(m.tokens),
        int(m.inputTokens),
        int(m.cachedInputTokens),
        int(m.outputTokens),
        usd(m.costUsd8),
        share(m.costSharePct),
      ]),
    ),
    '',
    "By plan and model (requests % and cost % of the plan's):",
    table(
      ['plan', 'provider/model', 'users', 'requests', 'requests %', 'tokens', 'cost USD', 'cost %'],
      report.planModels.map((m) => [
        m.plan,
        label(m),
        int(m.users),
        int(m.requests),
        share(m.requestSharePct),
        int(m.tokens),
        usd(m.costUsd8),
        share(m.costSharePct),
      ]),
      [0, 1],
    ),
  ];
  const unrecorded = report.models.filter((m) => m.provider === '').reduce((s, m) => s + m.requests, 0);
  if (unrecorded > 0)
    out.push(`? = not recorded: ${int(unrecorded)} request(s) settled before the ledger recorded the provider.`);
  return out;
}

/** The operator's table. */
export function marginTable(report: MarginReport): string {
  const { month } = report;
  const out: string[] = [];
  out.push(
    `Redraft unit economics for ${month.label}: billing periods that started in ${month.label} (UTC), each in full.`,
  );
  out.push(
    'cost = provider cost recorded on the ledger; revenue = base price per paid period + overage of the period at the metered price.',
  );
  if (report.users.length === 0) {
    out.push('', 'No usage and no paid period in this month.');
    return `${out.join('\n')}\n`;
  }
  out.push('');
  out.push(
    table(
      [
        'plan',
        'users',
        'periods',
        'requests',
        'tokens',
        'overage',
        'cost USD',
        'revenue USD',
        'margin USD',
        'margin %',
        'cross-subsidised',
      ],
      [...report.plans.map(planRow), planRow(report.total)],
    ),
  );
  out.push('', ...costByModel(report));
  out.push('', `Heaviest ${report.heaviest.length} user(s) by tokens:`);
  out.push(
    table(
      USER_HEAD,
      report.heaviest.map((u, i) => userRow(u, i + 1)),
      [1, 2, 9],
    ),
  );
  out.push('');
  if (report.crossSubsidised.length === 0)
    out.push('Cross-subsidised users (paying less than their usage costs): none.');
  else {
    out.push(`Cross-subsidised users (paying less than their usage costs): ${report.crossSubsidised.length}`);
    const rank = new Map(report.users.map((u, i) => [u.userId, i + 1]));
    out.push(
      table(
        USER_HEAD,
        report.crossSubsidised.map((u) => userRow(u, rank.get(u.userId)!)),
        [1, 2, 9],
      ),
    );
  }
  const free = report.plans.find((p) => p.plan === 'free');
  if (free)
    out.push(
      `Free usage (acquisition cost): ${int(free.users)} user(s), ${int(free.tokens)} tokens, ${usd(free.costUsd8)} USD.`,
    );
  if (report.pricedHere > 0)
    out.push(
      `Note: ${report.pricedHere} ledger event(s) had no recorded cost and were priced from api/config/model-prices.ts.`,
    );
  if (report.unpriced > 0) {
    const which = report.models.filter((m) => m.unpriced > 0).map((m) => modelLabel(m.provider, m.model));
    out.push(
      `Warning: ${report.unpriced} ledger event(s) had no recorded cost and no price for their model (${which.join(', ')}): counted at 0.`,
    );
  }
  return `${out.join('\n')}\n`;
}
