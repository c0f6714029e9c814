/**
 * Saved styles (brand voice) per user: one Redis hash under the user's hash tag, field = style id,
 * value = JSON { name, instructions, updatedAt }. The limit of STYLES_MAX is enforced in one Lua step,
 * so concurrent creates can never exceed it.
 */
import { STYLES_MAX, type Style } from '../../shared/contract';
import { defineNamedScript, type Redis } from '../store/redis';
import { keys } from '../metering/keys';

/**
 * PUT: create or replace one style, refusing a new id when the user already has `max` styles.
 * Replies {result = 'OK', created = 1|0} or {result = 'FULL', count = n}.
 */
export const PUT = {
  keys: ['styles'],
  args: ['id', 'value', 'max'],
  body: `
if redis.call('HEXISTS', styles, id) == 0 then
  local n = redis.call('HLEN', styles)
  if n >= tonumber(max) then return {'result', 'FULL', 'count', n} end
end
return {'result', 'OK', 'created', redis.call('HSET', styles, id, value)}
`,
} as const;

export type PutResult = { ok: true; style: Style; created: boolean } | { ok: false; reason: 'limit'; count: number };

export interface StyleStore {
  list(userId: string): Promise<Style[]>;
  get(userId: string, id: string): Promise<Style | null>;
  put(userId: string, id: string, input: { name: string; instructions: string }, now: number): Promise<PutResult>;
  /** True when a style was deleted, false when there was none with this id. */
  remove(userId: string, id: string): Promise<boolean>;
}

interface Stored {
  name: string;
  instructions: string;
  updatedAt: number;
}

/** A stored value back to a Style; null for a value that is not ours (never thrown at a user). */
function parse(id: string, raw: unknown): Style | null {
  if (typeof raw !== 'string') return null;
  try {
    const v = JSON.parse(raw) as Partial<Stored>;
    if (typeof v.name !== 'string' || typeof v.instructions !== 'string' || typeof v.updatedAt !== 'number')
      return null;
    return { id, name: v.name, instructions: v.instructions, updatedAt: new Date(v.updatedAt).toISOString() };
  } catch {
    return null;
  }
}

/** Sorted by name (case- and accent-insensitive), then by id: a stable order for the list. */
export const byName = (a: Style, b: Style) =>
  a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export async function createStyleStore(redis: Redis, opts: { max?: number } = {}): Promise<StyleStore> {
  const max = opts.max ?? STYLES_MAX;
  const putScript = await defineNamedScript(redis, PUT);
  return {
    async list(userId) {
      const flat = (await redis.hgetall(keys.styles(userId))) as unknown;
      // The client runs with automaticDeserialization off: HGETALL may come back as a flat array or an object.
      const entries: [string, unknown][] = Array.isArray(flat)
        ? Array.from({ length: Math.floor(flat.length / 2) }, (_, i) => [String(flat[2 * i]), flat[2 * i + 1]])
        : Object.entries((flat ?? {}) as Record<string, unknown>);
      return entries
        .map(([id, raw]) => parse(id, raw))
        .filter((s): s is Style => s !== null)
        .sort(byName);
    },
    async get(userId, id) {
      return parse(id, await redis.hget(keys.styles(userId), id));
    },
    async put(userId, id, input, now) {
      const value: Stored = { name: input.name, instructions: input.instructions, updatedAt: now };
      const r = await putScript.run({ styles: keys.styles(userId) }, { id, value: JSON.stringify(value), max });
      if (r.result === 'FULL') return { ok: false, reason: 'limit', count: Number(r.count) };
      if (r.result !== 'OK') throw new Error(`unexpected style put reply: ${String(r.result)}`);
      return {
        ok: true,
        created: Number(r.created) === 1,
        style: { id, name: value.name, instructions: value.instructions, updatedAt: new Date(now).toISOString() },
      };
    },
    async remove(userId, id) {
      return (await redis.hdel(keys.styles(userId), id)) === 1;
    },
  };
}
