/**
 * The one Redis client: @upstash/redis over its REST API (Upstash in production; locally a real
 * redis-server behind an Upstash-compatible bridge). Scripts run EVALSHA-first with their SHA
 * computed up front, so a script call issued in the same tick as other commands joins their
 * auto-pipeline (one HTTP round trip).
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

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Prepare a Lua script: resolves once its SHA is known; `run` then issues EVALSHA synchronously. */
export async function defineScript<T>(redis: Redis, source: string): Promise<LuaScript<T>> {
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
