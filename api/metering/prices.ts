/**
 * The model price lists an API instance costs requests with: the repository's lists (api/config/model-prices.ts,
 * the default and the history) plus those published to Redis (`npm run prices:publish FILE`, hash
 * keys.modelPrices: version → the list as JSON). Published lists are read again at most every `refreshMs`
 * (≤ 60 s), on use, with the injected clock: every instance picks up a new list within a refresh, with no
 * redeploy and no timer (Workers have none between requests).
 *
 * Cost accounting is not a money guard for users (what a user is charged is tokens, decided by the quota): when
 * Redis cannot be read for a refresh, the last good lists stay in use and requests are not refused (unlike
 * metering, which fails closed). A published list that does not validate, or that has no price for the model
 * this instance runs, is ignored (logged once) and the lists in force stay.
 */
import {
  effectiveAt,
  KNOWN_MODELS,
  PRICE_LISTS,
  priceListAt,
  priceListProblems,
  priceListSchema,
  type ModelPrice,
  type PriceList,
} from '../config/model-prices';
import { AppError } from '../errors';
import type { Log } from '../observe/log';
import type { Metrics } from '../observe/metrics';
import type { Redis } from '../store/redis';
import { flatToRecord } from './ledger';
import { keys } from './keys';

/** The longest a published list may wait before an instance uses it. */
export const MAX_PRICE_REFRESH_MS = 60_000;

/** A model's price at some instant, with the version of the list it comes from (recorded on the ledger). */
export interface PriceQuote {
  version: string;
  price: ModelPrice;
}

/** The published lists that can be used (repository lists first), and those refused with why. */
export interface MergedLists {
  lists: PriceList[];
  refused: { version: string; problems: string[] }[];
}

/** A list as stored: models in name order, so the same list always has the same text. */
export function canonicalPriceList(l: PriceList): string {
  const models = Object.fromEntries(
    Object.keys(l.models)
      .sort()
      .map((m) => [m, l.models[m]]),
  );
  return JSON.stringify({ version: l.version, effectiveFrom: l.effectiveFrom, models });
}

function parseStored(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/**
 * The repository's lists plus the published ones (hash fields version → JSON) that validate and price every
 * `requiredModels`; a published version that a repository list already has is ignored (the repository wins).
 */
export function mergePublished(
  published: Record<string, string>,
  requiredModels: string[],
  fileLists: PriceList[] = PRICE_LISTS,
): MergedLists {
  const lists = [...fileLists];
  const refused: MergedLists['refused'] = [];
  for (const [version, json] of Object.entries(published).sort(([a], [b]) => a.localeCompare(b))) {
    const raw = parseStored(json);
    const problems = raw === undefined ? ['not JSON'] : priceListProblems(raw, { requiredModels });
    const list = problems.length === 0 ? priceListSchema.parse(raw) : undefined;
    if (list && list.version !== version) problems.push(`stored under version ${version} but says ${list.version}`);
    if (list && fileLists.some((f) => f.version === list.version))
      problems.push('a list in api/config/model-prices.ts has this version');
    if (problems.length > 0 || !list) refused.push({ version, problems });
    else lists.push(list);
  }
  return { lists, refused };
}

/** The price of `model` at `at` from `lists`, or undefined when the list in force has none. */
export function quoteAt(lists: PriceList[], at: number, model: string): PriceQuote | undefined {
  const list = priceListAt(new Date(at), lists);
  const price = list.models[model];
  return price ? { version: list.version, price } : undefined;
}

export interface PriceBook {
  /** The price of the model at `at` (the request's start). Refreshes first when the lists are stale; never throws. */
  quote(at: number, model: string): Promise<PriceQuote | undefined>;
  /** Read the published lists now (also the first use). Resolves false when Redis could not be read. */
  refresh(): Promise<boolean>;
}

export interface PriceBookOptions {
  /** The models this instance may run (every routed model): a published list without a price for each is not used. */
  models: string[];
  /** How old the lists may get before they are read again, ms (at most MAX_PRICE_REFRESH_MS). */
  refreshMs: number;
  now: () => number;
  log: Log;
  metrics?: Pick<Metrics, 'inc'>;
  fileLists?: PriceList[];
  /**
   * How long a settlement waits for a refresh before costing with the lists it has (the read goes on in the
   * background), ms. Redis answers in about a millisecond; a slow or unreachable Redis must not hold settlements.
   */
  waitMs?: number;
}

export function createPriceBook(redis: Pick<Redis, 'hgetall'>, o: PriceBookOptions): PriceBook {
  const refreshMs = Math.min(Math.max(0, o.refreshMs), MAX_PRICE_REFRESH_MS);
  const fileLists = o.fileLists ?? PRICE_LISTS;
  let lists = fileLists;
  let readAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<boolean> | undefined;
  const warned = new Set<string>();

  async function read(): Promise<boolean> {
    try {
      const merged = mergePublished(flatToRecord(await redis.hgetall(keys.modelPrices)), o.models, fileLists);
      for (const r of merged.refused) {
        const key = `${r.version}|${r.problems.join(';')}`;
        if (warned.has(key)) continue;
        warned.add(key);
        o.log({ level: 'warn', msg: 'published price list ignored', version: r.version, problems: r.problems });
      }
      lists = merged.lists;
      return true;
    } catch (err) {
      // Not a money guard: keep costing with the last good lists rather than refuse or delay requests.
      o.metrics?.inc('redraft_price_refresh_failures_total');
      o.log({ level: 'warn', msg: 'price lists not refreshed; the last good ones stay in use', error: String(err) });
      return false;
    } finally {
      readAt = o.now();
    }
  }

  const refresh = () => {
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  };

  return {
    refresh,
    async quote(at, model) {
      if (o.now() - readAt >= refreshMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, o.waitMs ?? 250);
        });
        await Promise.race([refresh(), waited]);
        clearTimeout(timer);
      }
      return quoteAt(lists, at, model);
    },
  };
}

/** What publishing did: stored the list, or found the very same list already there. */
export type PublishResult = { published: true; version: string } | { published: false; version: string };

export const priceListRefused = (problems: string[]) =>
  new AppError('invalid_request', `The price list was refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

/**
 * Publish a price list for every API instance. Refused (AppError, nothing written, the lists in force stay)
 * when it does not validate, lacks a price for a model the API may run (KNOWN_MODELS), reuses a version with
 * other prices (versions are history: publish a new one), or takes effect at the same instant as another list.
 */
export async function publishPriceList(
  redis: Pick<Redis, 'hgetall' | 'hsetnx'>,
  input: unknown,
  opts: { requiredModels?: string[]; fileLists?: PriceList[] } = {},
): Promise<PublishResult> {
  const fileLists = opts.fileLists ?? PRICE_LISTS;
  const problems = priceListProblems(input, { requiredModels: opts.requiredModels ?? KNOWN_MODELS });
  if (problems.length > 0) throw priceListRefused(problems);
  const list = priceListSchema.parse(input);
  const text = canonicalPriceList(list);
  const published = mergePublished(flatToRecord(await redis.hgetall(keys.modelPrices)), [], fileLists).lists;
  const same = published.find((l) => l.version === list.version);
  if (same && canonicalPriceList(same) === text) return { published: false, version: list.version };
  if (same)
    throw priceListRefused([`version ${list.version} already exists with other prices: publish it as a new version`]);
  const clash = published.find((l) => effectiveAt(l.effectiveFrom) === effectiveAt(list.effectiveFrom));
  if (clash)
    throw priceListRefused([
      `effectiveFrom ${list.effectiveFrom} is when version ${clash.version} takes effect: give it another instant`,
    ]);
  // HSETNX: two publishers of one version cannot overwrite each other, nor one an unusable stored entry.
  if (Number(await redis.hsetnx(keys.modelPrices, list.version, text)) === 1)
    return { published: true, version: list.version };
  throw priceListRefused([
    `version ${list.version} is already stored (published meanwhile, or unusable): publish a new version`,
  ]);
}
