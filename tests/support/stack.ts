/**
 * The whole local stack for integration tests: a real redis-server, the Upstash REST bridge in front
 * of it, the OpenAI-compatible model stand-in, and the API itself on a real HTTP port.
 */
import { Redis as IORedis } from 'ioredis';
import { loadConfig } from '../../api/config/env';
import { createServices, type ServiceOptions } from '../../api/services';
import { createApp } from '../../api/app';
import { serve, type ServerType } from '@hono/node-server';
import type { Services } from '../../api/context';
import type { DevIssuer } from '../../api/auth/dev-issuer';
import { startRedisServer, type RedisServer, type RedisServerOptions } from '../../standins/redis';
import { startUpstashBridge, type UpstashBridge } from '../../standins/upstash-bridge';
import { startModelServer, type ModelServer, type ModelServerOptions } from '../../standins/model';
import { keys } from '../../api/metering/keys';

export interface Stack {
  api: string;
  redis: RedisServer;
  bridge: UpstashBridge;
  model: ModelServer;
  /** A second model stand-in, when asked for (StackOptions.fallback): another provider to fall back to. */
  fallback: ModelServer | undefined;
  services: Services;
  /** A direct Redis connection, for assertions. */
  db: IORedis;
  logs: Record<string, unknown>[];
  /** A dev session token (v2-shaped: `sid`, `sts: 'active'`); opts may change or drop (null) claims. */
  token(userId: string, opts?: Omit<Parameters<DevIssuer['issue']>[0], 'userId'>): Promise<string>;
  rewrite(token: string, body: unknown, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment; as a function, it may name the model stand-ins' URLs (e.g. in MODEL_PROVIDERS). */
  env?:
    | Record<string, string>
    | ((models: { model: ModelServer; fallback: ModelServer | undefined }) => Record<string, string>);
  model?: ModelServerOptions;
  /** Start a second model stand-in with these options (`stack.fallback`). */
  fallback?: ModelServerOptions;
  services?: ServiceOptions;
  /** e.g. `{ persist: true }`: data survives a restart, as on Upstash. */
  redis?: RedisServerOptions;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const redis = await startRedisServer(opts.redis);
  const bridge = await startUpstashBridge({ redisUrl: redis.url });
  const model = await startModelServer(opts.model);
  const fallback = opts.fallback ? await startModelServer(opts.fallback) : undefined;
  const env = typeof opts.env === 'function' ? opts.env({ model, fallback }) : opts.env;
  const config = loadConfig({
    NODE_ENV: 'test',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    OPENAI_API_KEY: 'stand-in',
    OPENAI_BASE_URL: model.url,
    MODEL_STAND_IN: '1',
    MODEL_MAX_RETRIES: '0',
    DEV_AUTH: '1',
    REDIS_TIMEOUT_MS: '1500',
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const services = await createServices(config, { ephemeralCache: false, log: (l) => logs.push(l), ...opts.services });
  const app = createApp(services);
  const server: ServerType = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const db = new IORedis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  db.on('error', () => {}); // fault tests stop Redis; commands still report their errors

  return {
    api,
    redis,
    bridge,
    model,
    fallback,
    services,
    db,
    logs,
    token: (userId, o = {}) => services.devIssuer!.issue({ userId, ...o }),
    rewrite: (token, body, init = {}) =>
      fetch(`${api}/v1/rewrite`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        ...init,
      }),
    async close() {
      db.disconnect();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await Promise.allSettled([model.close(), fallback?.close(), bridge.close()]);
      await redis.stop();
    },
  };
}

/** The ledger of one user, read straight from Redis. */
export async function ledgerOf(db: IORedis, userId: string): Promise<Record<string, string>[]> {
  const entries = await db.xrange(keys.ledger(userId), '-', '+');
  return entries.map(([, flat]) =>
    Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!])),
  );
}

export async function usedOf(db: IORedis, userId: string): Promise<number> {
  return Number((await db.hget(keys.quota(userId), 'used')) ?? 0);
}
