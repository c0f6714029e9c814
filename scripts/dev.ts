/**
 * `npm run dev`: the whole product on one machine, no accounts needed.
 * Starts redis-server (data under .data/redis), the Upstash REST bridge, the OFFLINE model stand-in
 * (unless OPENAI_API_KEY is set), and the API on :8787 with dev auth.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, ConfigError } from '../api/config/env';
import { startNodeServer, startupSummary } from '../api/runtimes/node';
import { startRedisServer } from '../tests/support/redis-server';
import { startUpstashBridge } from '../tests/support/upstash-bridge';
import { startModelServer } from '../tests/support/model-server';

const dataDir = resolve('.data/redis');
mkdirSync(dataDir, { recursive: true });
const port = Number(process.env.PORT ?? 8787);

const redis = await startRedisServer({ dir: dataDir, persist: true, port: Number(process.env.REDIS_PORT ?? 0) || undefined });
const bridge = await startUpstashBridge({ redisUrl: redis.url });
const useOpenAI = Boolean(process.env.OPENAI_API_KEY);
const model = useOpenAI ? undefined : await startModelServer({ tokensPerSecond: Number(process.env.STAND_IN_TOKENS_PER_SECOND ?? 40), firstTokenDelayMs: 300 });

let api: Awaited<ReturnType<typeof startNodeServer>> | undefined;
let config;
try {
  config = loadConfig({
    DEV_AUTH: '1',
    ...process.env,
    NODE_ENV: 'development',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    ...(model ? { OPENAI_API_KEY: 'offline-stand-in', OPENAI_BASE_URL: model.url, MODEL_STAND_IN: '1' } : {}),
  });
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  await shutdown(78);
}
api = await startNodeServer(config!, port);

console.log(`
Redraft dev stack
  redis-server  ${redis.url}  (pid ${redis.pid}, data in .data/redis)
  upstash REST  ${bridge.url}  (local bridge → redis-server)
  model         ${model ? `${model.url}  — OFFLINE STAND-IN, not OpenAI (set OPENAI_API_KEY to use OpenAI)` : 'OpenAI'}
  ${startupSummary(config!).join('\n  ')}
  API           ${api.url}

Try it:
  TOKEN=$(curl -s -X POST ${api.url}/dev/session -H 'Content-Type: application/json' -d '{"userId":"user_dev"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -N ${api.url}/v1/rewrite -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"text":"Our shoes are good and you should buy them.","action":"rewrite"}'
  curl -s ${api.url}/v1/usage -H "Authorization: Bearer $TOKEN"
  curl -s ${api.url}/health
`);

async function shutdown(code = 0): Promise<never> {
  await api?.close().catch(() => {});
  await Promise.allSettled([model?.close(), bridge.close()]);
  await redis.stop();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
