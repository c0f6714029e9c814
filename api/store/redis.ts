/**
 * The one Redis client: @upstash/redis over its REST API (Upstash in production; locally a real
 * redis-server behind an Upstash-compatible bridge). Scripts run EVALSHA-first with their SHA
 * computed up front, so a script call issued in the same tick as other commands joins their
 * auto-pipeline (one HTTP round trip).
 *
 * Every script starts with `#!lua flags=allow-key-locking` (luaSource): without it Upstash runs a script
 * under the database-wide lock, so every user's reservations and settlements would queue on one lock;
 * with it, Upstash locks only the keys passed in KEYS — so every key a script touches must be in KEYS,
 * never built inside Lua (tests/unit/lua-scripts.test.ts checks both). A local Redis 7.0 refuses the
 * flag: the Upstash bridge (standins/upstash-bridge) drops the line.
 */
import { Redis } from '@upstash/redis';

export type { Redis };

export function createRedis(opts: { url: string; token: string; timeoutMs: number }): Redis {
  return new Redis({
    url: opts.url,
    token: opts.token,
    enableAutoPipelining: true,
    // Money is guarded here: fail fast and let the request fail closed rather than queue behind retries.
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(opts.timeoutMs),
    enableTelemetry: false,
    // Values stay strings as stored: ids such as "00123" must not be JSON-parsed into numbers.
    automaticDeserialization: false,
  });
}

export interface LuaScript<T> {
  run(keys: string[], args: (string | number)[]): Promise<T>;
}

/** The first line of every project script: Upstash locks the script's KEYS only, not the whole database. */
export const KEY_LOCKING_SHEBANG = '#!lua flags=allow-key-locking';

/** A script's full source: the key-locking shebang, then the Lua. */
export const luaSource = (body: string) => `${KEY_LOCKING_SHEBANG}\n${body}`;

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Prepare a Lua script (`body`: the Lua, without the shebang, which is added here): resolves once its SHA is
 * known; `run` then issues EVALSHA synchronously.
 */
export async function defineScript<T>(redis: Redis, body: string): Promise<LuaScript<T>> {
  const source = luaSource(body);
  const sha = await sha1Hex(source);
  return {
    async run(keys, args) {
      const argv = args.map(String);
      try {
        return (await redis.evalsha(sha, keys, argv)) as T;
      } catch (err) {
        if (!String(err).includes('NOSCRIPT')) throw err;
        return (await redis.eval(source, keys, argv)) as T;
      }
    },
  };
}

/**
 * A Lua script whose KEYS and ARGV have names: its source starts with one `local <name> = KEYS[i]` /
 * `local <name> = ARGV[i]` line per name (in the order given), and callers pass objects keyed by those names,
 * so neither side counts positions. Arguments after the named ones (`rest`) stay in ARGV for scripts that
 * take a list. The reply is a flat list of alternating names and values (`{'kind', 'OK', 'granted', 12}`),
 * read back as an object by replyFields.
 */
export interface NamedScript<K extends string, A extends string> {
  /** The full source sent to Redis (shebang included). */
  readonly source: string;
  run(
    keys: Record<K, string>,
    args: Record<A, string | number>,
    rest?: (string | number)[],
  ): Promise<Record<string, string>>;
}

export interface NamedScriptSpec<K extends string, A extends string> {
  keys: readonly K[];
  args: readonly A[];
  /** The script after its `local` lines. */
  body: string;
}

export const luaLocals = (table: 'KEYS' | 'ARGV', names: readonly string[]) =>
  names.map((n, i) => `local ${n} = ${table}[${i + 1}]`).join('\n');

/** A reply of alternating names and values, as an object (values as strings). */
export function replyFields(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply) || reply.length % 2 !== 0)
    throw new Error(`unexpected script reply: ${JSON.stringify(reply)}`);
  const out: Record<string, string> = {};
  for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** The Lua of a named script, without the shebang: its `local` lines, then its body. */
export const namedScriptBody = (spec: NamedScriptSpec<string, string>) =>
  `${luaLocals('KEYS', spec.keys)}\n${luaLocals('ARGV', spec.args)}\n${spec.body}`;

export async function defineNamedScript<const K extends string, const A extends string>(
  redis: Redis,
  spec: NamedScriptSpec<K, A>,
): Promise<NamedScript<K, A>> {
  const body = namedScriptBody(spec);
  const script = await defineScript<unknown>(redis, body);
  return {
    source: luaSource(body),
    async run(keys, args, rest = []) {
      return replyFields(
        await script.run(
          spec.keys.map((k) => keys[k]),
          [...spec.args.map((a) => args[a]), ...rest],
        ),
      );
    },
  };
}
