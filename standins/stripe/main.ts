/**
 * The Stripe stand-in on its own (bench, or by hand): `tsx standins/stripe/main.ts --port 0
 * [--webhook-url URL --webhook-secret SECRET]` prints `{"url": ...}` on one line and exits on SIGTERM/SIGINT.
 * Asynchronous meter errors are reported every 10 s.
 */
import { parseArgs } from 'node:util';
import { startStripeServer } from './server';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string' },
  },
});
const url = values['webhook-url'];
const secret = values['webhook-secret'];
const webhook = url && secret ? { url, secret } : undefined;
const server = await startStripeServer({
  port: Number(values.port),
  meterErrorFlushMs: 10_000,
  ...(webhook ? { webhook } : {}),
});
console.log(JSON.stringify({ url: server.url }));
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
