/**
 * Node entry point: validate config once, wire services, serve the app.
 * `npm start` runs this with the environment as it is; `npm run dev` runs it with local stand-ins.
 */
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../app';
import { ConfigError, loadConfig, type Config } from '../config/env';
import { createServices } from '../services';
import { startReportSchedule } from '../billing/schedule';

export async function startNodeServer(config: Config, port: number, host = '0.0.0.0'): Promise<{ server: ServerType; url: string; close: () => Promise<void> }> {
  const services = await createServices(config);
  const app = createApp(services);
  // Usage reporting runs in-process on Node (a Redis lock keeps it to one instance at a time).
  const schedule =
    services.billing && config.reporter.intervalMinutes > 0 ? startReportSchedule(services.billing.reports, { intervalMinutes: config.reporter.intervalMinutes, log: services.log }) : undefined;
  const server = serve({ fetch: app.fetch, port, hostname: host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`,
    close: async () => {
      await schedule?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function startupSummary(config: Config): string[] {
  return [
    `model: ${config.model.id} via ${config.model.baseURL ?? 'OpenAI'}${config.model.standIn ? '  [OFFLINE STAND-IN — not OpenAI]' : ''}`,
    `auth: ${config.auth.devAuth ? 'DEV_AUTH (local RSA key, POST /dev/session) — development only' : `Clerk JWT (offline), authorized parties: ${config.auth.authorizedParties.join(', ') || '(any)'}`}`,
    billingSummary(config),
  ];
}

function billingSummary(config: Config): string {
  const b = config.billing;
  if (!b) return 'billing: disabled (no STRIPE_SECRET_KEY) — everyone is on the free plan';
  const where = b.api ? `${b.api.protocol}://${b.api.host}:${b.api.port}` : 'Stripe';
  const mode = b.secretKey.includes('_live_') ? 'LIVE' : 'test mode';
  const schedule = config.reporter.intervalMinutes > 0 ? `usage reported every ${config.reporter.intervalMinutes} min + at each period end` : 'no in-process usage schedule (cron/manual)';
  return `billing: enabled via ${where} (${mode})${b.standIn ? '  [OFFLINE STRIPE STAND-IN — not Stripe]' : ''}; meter "${b.meterEventName}"; ${schedule}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const config = loadConfig(process.env);
    const port = Number(process.env.PORT ?? 8787);
    const { url, close } = await startNodeServer(config, port);
    for (const line of startupSummary(config)) console.log(line);
    console.log(`Redraft API listening on ${url}`);
    const stop = () => close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
}
