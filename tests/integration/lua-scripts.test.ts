/**
 * The key-locking flag against a real redis-server 7.0, which refuses it: through the Upstash bridge (as the
 * API talks to Redis in dev, tests and benchmarks) every project script loads and runs, EVALSHA with the
 * flagged script's SHA works after the first EVAL, and the report lock's renew/release scripts hold and free it.
 */
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLock } from '../../api/billing/reporting/schedule';
import { createRedis, defineScript, type Redis, luaSource } from '../../api/store/redis';
import { startRedisServer, type RedisServer } from '../../standins/redis';
import { startUpstashBridge, type UpstashBridge } from '../../standins/upstash-bridge';
import { SCRIPT_MODULES } from '../support/lua-scripts';

let server: RedisServer;
let bridge: UpstashBridge;
let redis: Redis;
let db: IORedis;

beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: server.url });
  redis = createRedis({ url: bridge.url, token: bridge.token, timeoutMs: 5_000 });
  db = new IORedis(server.url);
});
afterAll(async () => {
  db?.disconnect();
  await bridge?.close();
  await server?.stop();
});

describe('the key-locking flag on a local Redis', () => {
  it('is refused by redis-server itself (why the bridge drops it)', async () => {
    await expect(db.eval(luaSource('return 1'), 0)).rejects.toThrow(/Unexpected flag/);
  });

  it('every project script compiles through the bridge', async () => {
    for (const [file, scripts] of Object.entries(SCRIPT_MODULES)) {
      for (const [name, source] of Object.entries(scripts)) {
        const sha = await redis.scriptLoad(source).catch((err: unknown) => {
          throw new Error(`${file} ${name}: ${String(err)}`);
        });
        expect(sha).toMatch(/^[0-9a-f]{40}$/);
      }
    }
  });

  it('a script runs by EVAL first, then by EVALSHA of the flagged source', async () => {
    const incr = await defineScript<number>(redis, "local k = KEYS[1]\nreturn redis.call('INCR', k)");
    await db.script('FLUSH');
    const before = (await db.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? '0';
    expect(await incr.run(['rd:{u1}:n'], [])).toBe(1); // EVALSHA → NOSCRIPT → EVAL
    expect(await incr.run(['rd:{u1}:n'], [])).toBe(2); // EVALSHA, mapped by the bridge to the local SHA
    const stats = await db.info('commandstats');
    expect(Number(stats.match(/cmdstat_evalsha:calls=(\d+)/)?.[1]) - Number(before)).toBe(2);
    expect(await db.get('rd:{u1}:n')).toBe('2');
  });

  it("the report lock's renew and release scripts keep it while held and free it after", async () => {
    const lock = createLock(redis, 'rd:test:lock', 300);
    const held = await lock.withLock(async () => {
      await new Promise((r) => setTimeout(r, 500)); // past the 300 ms TTL: renewed every 100 ms
      const stillHeld = await db.get('rd:test:lock');
      expect(await createLock(redis, 'rd:test:lock', 300).withLock(async () => 'second')).toBeUndefined();
      return stillHeld;
    });
    expect(held).toMatch(/^[0-9a-f-]{36}$/);
    expect(await db.exists('rd:test:lock')).toBe(0);
  });
});
