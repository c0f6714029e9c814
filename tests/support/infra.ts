/**
 * The dependencies of an API process, without the API: a real redis-server, the Upstash REST bridge,
 * the model stand-in, and a Clerk-shaped token issuer whose public key the API verifies with
 * (CLERK_JWT_KEY), as in production. For tests that run the API as its own process or bundle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis as IORedis } from 'ioredis';
import { createDevIssuer, DEV_ISSUER, type DevIssuer } from '../../api/auth/dev-issuer';
import { startRedisServer, type RedisServer } from '../../standins/redis';
import { startUpstashBridge, type UpstashBridge } from '../../standins/upstash-bridge';
import { startModelServer, type ModelServer, type ModelServerOptions } from '../../standins/model';

/** The extension origin production requires in CLERK_AUTHORIZED_PARTIES; the issuer puts it in every token's azp by default. */
export const INFRA_EXTENSION = 'chrome-extension://infraextensionidinfraextensionid';
/** METRICS_TOKEN of the production environment (required there). */
export const INFRA_METRICS_TOKEN = 'infra-metrics-token-0123456789';

export interface Infra {
  redis: RedisServer;
  bridge: UpstashBridge;
  model: ModelServer;
  /** Clerk-shaped session tokens for the API's CLERK_JWT_KEY, CLERK_ISSUER and (by default) CLERK_AUTHORIZED_PARTIES. */
  issuer: DevIssuer;
  /** A direct Redis connection, for assertions. */
  db: IORedis;
  /** Production-mode environment for an API process wired to all of the above. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startInfra(model: ModelServerOptions = {}): Promise<Infra> {
  const redis = await startRedisServer();
  const bridge = await startUpstashBridge({ redisUrl: redis.url });
  const modelServer = await startModelServer(model);
  const keys = await createDevIssuer();
  const issuer: DevIssuer = {
    publicKeyPem: keys.publicKeyPem,
    issue: (claims) => keys.issue({ azp: INFRA_EXTENSION, ...claims }),
  };
  const db = new IORedis(redis.url);
  db.on('error', () => {}); // fault tests stop Redis; commands still report their errors
  return {
    redis,
    bridge,
    model: modelServer,
    issuer,
    db,
    env: {
      NODE_ENV: 'production',
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridge.token,
      OPENAI_API_KEY: 'stand-in',
      OPENAI_BASE_URL: modelServer.url,
      MODEL_MAX_RETRIES: '0',
      CLERK_JWT_KEY: issuer.publicKeyPem,
      // Required when NODE_ENV=production.
      CLERK_AUTHORIZED_PARTIES: INFRA_EXTENSION,
      CLERK_ISSUER: DEV_ISSUER,
      METRICS_TOKEN: INFRA_METRICS_TOKEN,
      CLERK_TELEMETRY_DISABLED: '1',
    },
    async close() {
      db.disconnect();
      await Promise.allSettled([modelServer.close(), bridge.close()]);
      await redis.stop();
    },
  };
}

export interface ApiProcess {
  proc: ChildProcess;
  url: string;
  /** Everything the process printed on stdout (its JSON log lines among it). */
  output: string[];
  exited: Promise<number | null>;
}

/** Runs an API entry (`api/runtimes/node.ts` through tsx, or a built bundle) as a child process on a free port. */
export async function spawnApi(
  env: Record<string, string>,
  entry: string[] = ['--import', 'tsx', 'api/runtimes/node.ts'],
): Promise<ApiProcess> {
  const proc = spawn(process.execPath, entry, {
    env: { ...process.env, ...env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output: string[] = [];
  // 'close', not 'exit': by then every line the process printed has been read.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      output.push(line);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`API process exited (${code}) before listening`)));
  });
  return { proc, url, output, exited };
}
