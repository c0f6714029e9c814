/**
 * Node entry point: validate config once, wire services, serve the app.
 * `npm start` runs this with the environment as it is; `npm run dev` runs it with local stand-ins.
 */
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../app';
import { ConfigError, loadConfig, type Config } from '../config/env';
import { createServices } from '../services';

export async function startNodeServer(config: Config, port: number, host = '0.0.0.0'): Promise<{ server: ServerType; url: string; close: () => Promise<void> }> {
  const app = createApp(await createServices(config));
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function startupSummary(config: Config): string[] {
  return [
    `model: ${config.model.id} via ${config.model.baseURL ?? 'OpenAI'}${config.model.standIn ? '  [OFFLINE STAND-IN — not OpenAI]' : ''}`,
    `auth: ${config.auth.devAuth ? 'DEV_AUTH (local RSA key, POST /dev/session) — development only' : `Clerk JWT (offline), authorized parties: ${config.auth.authorizedParties.join(', ') || '(any)'}`}`,
    'billing: disabled — everyone is on the free plan',
  ];
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
