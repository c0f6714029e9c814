/**
 * The model stand-in on its own (bench, or by hand): `tsx standins/model/main.ts --port 0 [--tokens-per-second N]
 * [--first-token-ms N] [--output-tokens N|echo]` prints `{"url": ..., "anthropicUrl": ..., "port": ...}` (the
 * OpenAI and the Anthropic base URL) on one line and exits on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startModelServer } from './server';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'tokens-per-second': { type: 'string' },
    'first-token-ms': { type: 'string' },
    'output-tokens': { type: 'string' },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const outputTokens = values['output-tokens'];
const server = await startModelServer({
  port: Number(values.port),
  tokensPerSecond: num(values['tokens-per-second']),
  firstTokenDelayMs: num(values['first-token-ms']),
  outputTokens: outputTokens === undefined || outputTokens === 'echo' ? 'echo' : Number(outputTokens),
});
process.stdout.write(`${JSON.stringify({ url: server.url, anthropicUrl: server.anthropicUrl, port: server.port })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
