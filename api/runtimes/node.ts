/**
 * Node entry point: validate config once, wire services, serve the app. On SIGTERM/SIGINT it shuts
 * down gracefully: stops accepting connections, lets streams in progress finish for SHUTDOWN_GRACE_MS,
 * cuts the rest (each settles, charged for what it generated), then exits.
 * `npm start` runs the bundle of this file (`npm run build`); `npm run dev` runs it with local stand-ins.
 */
import { serve, type Http2Bindings, type HttpBindings, type ServerType } from '@hono/node-server';
import { createApp } from '../app';
import { ConfigError, loadConfig, type Config } from '../config/env';
import { createServices, type ServiceOptions } from '../services';
import type { Services } from '../context';
import { startReportSchedule } from '../billing/reporting/schedule';
import { priceListAt } from '../config/model-prices';
import { PLANS, unprofitableOverage } from '../config/plans';
import { parseModelRef } from '../config/models';
import { baseUrlOf } from '../model/provider';

export interface NodeServer {
  server: ServerType;
  services: Services;
  url: string;
  /** Graceful: stop the report schedule and accepting, drain streams in progress (grace period), close. */
  close: () => Promise<{ finished: number; cut: number; unsettled: number }>;
}

/**
 * The app as @hono/node-server serves it: streamed rewrites declared chunked, so their head is written with the
 * first text (no read-ahead for a Content-Length). Only HTTP/1.1 has chunks: an HTTP/1.0 client cannot read them
 * (and Node would send them anyway when the header says so), HTTP/2 forbids the header; for those it is dropped.
 */
export function nodeFetch(
  services: Services,
): (req: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response> {
  const app = createApp(services, { chunkedStreams: true });
  return (req, env) => {
    if (env.incoming.httpVersion === '1.1') return app.fetch(req, env);
    return Promise.resolve(app.fetch(req, env)).then((res) => {
      res.headers.delete('Transfer-Encoding');
      return res;
    });
  };
}

/** How a client reaches an address the server listens on (the wildcard addresses: this machine). */
function reachableAt(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startNodeServer(
  config: Config,
  port: number,
  host = config.http.host,
  opts: ServiceOptions = {},
): Promise<NodeServer> {
  const services = await createServices(config, opts);
  // Usage reporting runs in-process on Node (a Redis lock keeps it to one instance at a time).
  const schedule =
    services.billing && config.reporter.intervalMinutes > 0
      ? startReportSchedule(services.billing.reports, {
          intervalMinutes: config.reporter.intervalMinutes,
          log: services.log,
        })
      : undefined;
  const server = serve({
    fetch: nodeFetch(services),
    port,
    hostname: host,
    // Slow clients cannot pile up: headers within HTTP_HEADERS_TIMEOUT_MS, the whole request (headers and
    // body) within HTTP_REQUEST_TIMEOUT_MS, else 408 and the connection is closed (Node's defaults: 60 s and
    // 300 s, checked every 30 s). Responses are not affected: a rewrite streams as long as it needs.
    serverOptions: {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    services,
    url: `http://${reachableAt(host)}:${actualPort}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const [drained] = await Promise.all([services.inflight.drain(config.shutdownGraceMs), schedule?.stop()]);
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      return drained;
    },
  };
}

export function startupSummary(config: Config): string[] {
  const m = config.model;
  const providers = Object.entries(m.providers).map(([name, p]) => `${name} at ${baseUrlOf(p)}`);
  return [
    `models: ${Object.entries(m.routes)
      .map(([plan, c]) => `${plan} → ${c.default.join(' → ')}${c.actions ? ' (+ per-action chains)' : ''}`)
      .join('; ')}${m.standIn ? '  [OFFLINE STAND-IN — not the real providers]' : ''}`,
    `providers: ${providers.join(', ')}`,
    `auth: ${config.auth.devAuth ? 'DEV_AUTH (local RSA key, POST /dev/session) — development only' : `Clerk JWT (offline), authorized parties: ${config.auth.authorizedParties.join(', ') || '(any)'}`}`,
    billingSummary(config),
    ...marginWarnings(config),
  ];
}

/**
 * Warns, per plan, about each model of its chains that costs more per token than the plan's overage brings in
 * (see npm run margin): heavy users of that plan served by that model are served at a loss.
 */
export function marginWarnings(config: Pick<Config, 'model'>, at = new Date()): string[] {
  const list = priceListAt(at);
  const out: string[] = [];
  for (const plan of Object.values(PLANS)) {
    const chain = config.model.routes[plan.id];
    const refs = [...new Set([chain.default, ...Object.values(chain.actions ?? {})].flat())];
    for (const ref of refs) {
      const price = list.models[parseModelRef(ref)?.model ?? ref];
      if (!price || unprofitableOverage(price, [plan]).length === 0) continue;
      out.push(
        `WARNING: ${ref} costs up to $${Math.max(price.inputUsdPer1k, price.outputUsdPer1k)} per 1K tokens, more than the ${plan.id} plan's overage price ($${plan.overageUsdPer1k} per 1K): heavy ${plan.id} users it serves would be served at a loss`,
      );
    }
  }
  return out;
}

function billingSummary(config: Config): string {
  const b = config.billing;
  if (!b) return 'billing: disabled (no STRIPE_SECRET_KEY) — everyone is on the free plan';
  const where = b.api ? `${b.api.protocol}://${b.api.host}:${b.api.port}` : 'Stripe';
  const mode = b.secretKey.includes('_live_') ? 'LIVE' : 'test mode';
  const schedule =
    config.reporter.intervalMinutes > 0
      ? `usage reported every ${config.reporter.intervalMinutes} min + at each period end`
      : 'no in-process usage schedule (cron/manual)';
  const errors = b.thinWebhookSecret
    ? 'meter errors at /webhooks/stripe/thin'
    : "Stripe's asynchronous meter errors NOT received (no STRIPE_THIN_WEBHOOK_SECRET)";
  return `billing: enabled via ${where} (${mode})${b.standIn ? '  [OFFLINE STRIPE STAND-IN — not Stripe]' : ''}; meter "${b.meterEventName}"; ${schedule}; ${errors}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const config = loadConfig(process.env);
    const port = Number(process.env.PORT ?? 8787);
    const node = await startNodeServer(config, port);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(
        JSON.stringify({
          time: new Date().toISOString(),
          msg: 'shutting down',
          signal,
          streamsInProgress: node.services.inflight.size,
          graceMs: config.shutdownGraceMs,
        }),
      );
      const drained = await node.close();
      console.log(JSON.stringify({ time: new Date().toISOString(), msg: 'stopped', ...drained }));
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    // Announced only once a signal can be handled (a supervisor may signal as soon as it reads this).
    for (const line of startupSummary(config)) console.log(line);
    console.log(`Redraft API listening on ${node.url}`);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
}
