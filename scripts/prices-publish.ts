/**
 * `npm run prices:publish FILE`: publish a model price list (JSON: { version, effectiveFrom, models: { id:
 * { inputUsdPer1k, cachedInputUsdPer1k, outputUsdPer1k } } }) to Redis; every API instance costs requests
 * with it from its effective date, within PRICE_REFRESH_MS (at most a minute), without a redeploy. Also add it
 * to api/config/model-prices.ts with the next change: the repository's lists are the default and the history.
 *
 * Refused, with every problem named and nothing written (the lists in force stay), when the list does not
 * validate, lacks a price for a model the API may run, reuses a version with other prices, or takes effect at
 * the same instant as another list. Publishing the very same list again changes nothing.
 *
 *   --check   validate only (no Redis needed)
 *
 * Exit code 0 published (or already there); 64 bad arguments; 65 list refused; 69 Redis unreachable; 78 bad
 * configuration (UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KNOWN_MODELS, priceListProblems } from '../api/config/model-prices';
import { loadRedisJobConfig } from '../api/config/env';
import { AppError } from '../api/errors';
import { publishPriceList } from '../api/metering/prices';
import { createRedis } from '../api/store/redis';
import { configOrExit } from './lib/config-or-exit';

let file: string;
let check: boolean;
try {
  const { values, positionals } = parseArgs({
    options: { check: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new Error('usage: npm run prices:publish [-- --check] FILE (a JSON price list)');
  file = positionals[0]!;
  check = values.check === true;
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(64);
}

let list: unknown;
try {
  list = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`The price list was refused:\n  - ${file}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(65);
}

if (check) {
  const problems = priceListProblems(list, { requiredModels: KNOWN_MODELS });
  if (problems.length > 0) {
    console.error(`The price list was refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(65);
  }
  console.log(`${file}: valid`);
  process.exit(0);
}

const config = configOrExit(loadRedisJobConfig);
try {
  const r = await publishPriceList(createRedis(config.redis), list);
  console.log(
    r.published
      ? `Published price list ${r.version}: every API instance uses it from its effective date, within a minute.`
      : `Price list ${r.version} is already published with these prices: nothing changed.`,
  );
} catch (err) {
  if (err instanceof AppError) {
    console.error(`${err.message}\nThe price lists in force stay.`);
    process.exit(65);
  }
  console.error(`Redis could not be reached; nothing was published: ${String(err)}`);
  process.exit(69);
}
