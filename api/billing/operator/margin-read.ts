/**
 * The Redis side of the margin report: every user with a ledger (SCAN `rd:{*}:ledger`) or a subscription
 * (the reporter's list), each user's ledger events of the month and the period their quota is in now.
 */
import type { Redis } from '../../store/redis';
import { keys } from '../../metering/keys';
import { streamEntries } from '../../metering/ledger';
import {
  inMonth,
  parseMarginEvent,
  userMargin,
  type MarginEvent,
  type MarginOptions,
  type Month,
  type UserMargin,
} from './margin';

const LEDGER_KEY = /^rd:\{(.+)\}:ledger$/;

/** The user id of a ledger key, or undefined for any other key. */
export function userOfLedgerKey(key: string): string | undefined {
  return LEDGER_KEY.exec(key)?.[1];
}

/** Every user id that has a ledger or ever had a subscription (deduplicated, sorted). */
export async function marginUsers(redis: Redis): Promise<string[]> {
  const users = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = (await redis.scan(cursor, { match: 'rd:{*}:ledger', count: 1000 })) as [
      string | number,
      string[],
    ];
    cursor = String(next);
    for (const k of found) {
      const u = userOfLedgerKey(String(k));
      if (u !== undefined) users.add(u);
    }
  } while (cursor !== '0');
  cursor = '0';
  do {
    const [next, members] = (await redis.sscan(keys.billingUsers, cursor, { count: 1000 })) as [
      string | number,
      string[],
    ];
    cursor = String(next);
    for (const m of members) users.add(String(m));
  } while (cursor !== '0');
  return [...users].sort();
}

/** The user's ledger events that belong to the month (read in pages; the rest is dropped as it is read). */
export async function monthEvents(redis: Redis, userId: string, month: Month, pageSize = 1000): Promise<MarginEvent[]> {
  const out: MarginEvent[] = [];
  let start = '-';
  for (;;) {
    const page = streamEntries(await redis.xrange(keys.ledger(userId), start, '+', pageSize));
    for (const [id, f] of page) {
      const e = parseMarginEvent(f, id);
      if (inMonth(e, month)) out.push(e);
    }
    if (page.length < pageSize) break;
    start = `(${page[page.length - 1]![0]}`;
  }
  return out;
}

/** One user's month, or undefined when nothing of theirs belongs to it. */
export async function readUserMargin(
  redis: Redis,
  userId: string,
  month: Month,
  opts: MarginOptions = {},
): Promise<UserMargin | undefined> {
  const [events, q] = await Promise.all([
    monthEvents(redis, userId, month),
    redis.hmget(keys.quota(userId), 'plan', 'start', 'end') as unknown as Promise<(string | null)[] | null>,
  ]);
  const [plan, start, end] = q ?? [];
  const current = plan
    ? { plan: plan === 'pro' ? ('pro' as const) : ('free' as const), start: Number(start), end: Number(end) }
    : undefined;
  return userMargin(userId, events, current, month, opts);
}

/** Every user's month, `concurrency` users at a time. */
export async function readMargins(
  redis: Redis,
  month: Month,
  opts: MarginOptions & { users?: string[]; concurrency?: number } = {},
): Promise<UserMargin[]> {
  const queue = [...(opts.users ?? (await marginUsers(redis)))];
  const out: UserMargin[] = [];
  await Promise.all(
    Array.from({ length: opts.concurrency ?? 8 }, async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
        const m = await readUserMargin(redis, u, month, opts);
        if (m) out.push(m);
      }
    }),
  );
  return out;
}
