/**
 * `npm run dev`: the whole product on one machine, no accounts needed.
 * Starts redis-server (data under .data/redis, or DEV_DATA_DIR), the Upstash REST bridge, the OFFLINE model
 * stand-in (unless OPENAI_API_KEY is set), the OFFLINE Stripe stand-in (unless STRIPE_SECRET_KEY is set, or
 * DEV_STRIPE=0), and the API on :8787 with dev auth. The Stripe stand-in is set up with the same code as
 * `npm run stripe:setup` — products, meter, prices, the webhook endpoint and the meter-error destination
 * pointing at this API — and its Checkout and portal pages have buttons that send signed webhooks, so
 * Upgrade, Checkout, the portal and metered usage all work offline. It is not Stripe: no money moves.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, ConfigError } from '../api/config/env';
import { startNodeServer, startupSummary } from '../api/runtimes/node';
import { startRedisServer } from '../standins/redis';
import { startUpstashBridge } from '../standins/upstash-bridge';
import { startModelServer } from '../standins/model';
import { startStripeServer } from '../standins/stripe';
import { setupStripe } from '../api/billing/operator/setup';
import { createStripeClient } from '../api/billing/stripe/gateway';

const dataDir = resolve(process.env.DEV_DATA_DIR ?? '.data/redis');
mkdirSync(dataDir, { recursive: true });
const port = Number(process.env.PORT ?? 8787);

const redis = await startRedisServer({
  dir: dataDir,
  persist: true,
  port: Number(process.env.REDIS_PORT ?? 0) || undefined,
});
const bridge = await startUpstashBridge({ redisUrl: redis.url });
const useOpenAI = Boolean(process.env.OPENAI_API_KEY);
const model = useOpenAI
  ? undefined
  : await startModelServer({
      tokensPerSecond: Number(process.env.STAND_IN_TOKENS_PER_SECOND ?? 40),
      firstTokenDelayMs: 300,
    });

// Billing offline by default: the Stripe stand-in, unless a real key is given or DEV_STRIPE=0 turns it off.
const realStripe = Boolean(process.env.STRIPE_SECRET_KEY);
const devStripe = !realStripe && process.env.DEV_STRIPE !== '0' && process.env.DEV_STRIPE !== 'false';
const stripe = devStripe
  ? await startStripeServer({
      port: Number(process.env.DEV_STRIPE_PORT ?? 0),
      // The Dashboard steps a real account needs once (customer portal settings saved), done.
      portalConfigured: true,
      // Asynchronous meter errors are reported every 10 s (Stripe: in its own time).
      meterErrorFlushMs: 10_000,
    })
  : undefined;
let stripeEnv: Record<string, string> = {};
if (stripe) {
  const setup = await setupStripe(
    createStripeClient({
      secretKey: 'sk_test_standin',
      api: { host: '127.0.0.1', port: stripe.port, protocol: 'http' },
      timeoutMs: 5000,
    }),
    {
      meterEventName: 'redraft_tokens',
      webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`,
    },
  );
  stripeEnv = {
    ...stripe.env({
      webhookSecret: setup.webhook!.secret!,
      thinWebhookSecret: setup.thinWebhook!.secret!,
      priceBase: setup.basePriceId,
      priceMetered: setup.meteredPriceId,
    }),
    REPORT_USAGE_INTERVAL_MINUTES: process.env.REPORT_USAGE_INTERVAL_MINUTES ?? '5',
  };
}

/**
 * The model stand-in as both OpenAI and Anthropic: each plan's chain falls back to Anthropic's Haiku (as a
 * deployment with both keys would), unless MODEL_ROUTES or MODEL says otherwise.
 */
function standInModelEnv(m: NonNullable<typeof model>): Record<string, string> {
  const routes = {
    free: ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5'],
    pro: ['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5'],
  };
  return {
    OPENAI_API_KEY: 'offline-stand-in',
    OPENAI_BASE_URL: m.url,
    ANTHROPIC_API_KEY: 'offline-stand-in',
    ANTHROPIC_BASE_URL: m.anthropicUrl,
    MODEL_STAND_IN: '1',
    ...(process.env.MODEL_ROUTES || process.env.MODEL ? {} : { MODEL_ROUTES: JSON.stringify(routes) }),
  };
}

let api: Awaited<ReturnType<typeof startNodeServer>> | undefined;
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({
    DEV_AUTH: '1',
    ...process.env,
    NODE_ENV: 'development',
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    ...(model ? standInModelEnv(model) : {}),
    ...stripeEnv,
  });
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  await shutdown(78);
}
api = await startNodeServer(config!, port);

const stripeLine = stripe
  ? `${stripe.url}  — OFFLINE STRIPE STAND-IN, not Stripe; no money moves (DEV_STRIPE=0: billing off; STRIPE_SECRET_KEY: real Stripe test mode)
                state in memory only: after a restart, upgrade with a new dev user id`
  : realStripe
    ? 'Stripe (STRIPE_SECRET_KEY)'
    : 'none — billing disabled (DEV_STRIPE=0)';
console.log(`
Redraft dev stack
  redis-server  ${redis.url}  (pid ${redis.pid}, data in ${dataDir})
  upstash REST  ${bridge.url}  (local bridge → redis-server)
  model         ${model ? `${model.url} (OpenAI's protocol), ${model.anthropicUrl} (Anthropic's) — OFFLINE STAND-IN, not OpenAI or Anthropic (set OPENAI_API_KEY to use OpenAI)` : 'OpenAI'}
  stripe        ${stripeLine}
  ${startupSummary(config!).join('\n  ')}
  API           ${api.url}

Try it:
  TOKEN=$(curl -s -X POST ${api.url}/dev/session -H 'Content-Type: application/json' -d '{"userId":"user_dev"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -N ${api.url}/v1/rewrite -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"text":"Our shoes are good and you should buy them.","action":"rewrite"}'
  curl -s ${api.url}/v1/usage -H "Authorization: Bearer $TOKEN"
  curl -s ${api.url}/health${
    stripe
      ? `
  curl -s -X POST ${api.url}/v1/billing/checkout -H "Authorization: Bearer $TOKEN"   # open the url, press Pay: you are on Pro
  curl -s -X POST ${api.url}/v1/billing/portal -H "Authorization: Bearer $TOKEN"     # the stand-in's billing portal`
      : ''
  }
`);

async function shutdown(code = 0): Promise<never> {
  await api?.close().catch(() => {});
  await Promise.allSettled([model?.close(), bridge.close(), stripe?.close()]);
  await redis.stop();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
