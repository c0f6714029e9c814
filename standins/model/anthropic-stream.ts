/**
 * Writing one planned completion as Anthropic's Messages API does: SSE events (message_start, content_block_start,
 * ping, content_block_delta × one token each, content_block_stop, message_delta, message_stop), or one JSON
 * message. Faults mid-stream send an `error` event (overloaded_error) or drop the socket. Each resolves to how it
 * ended.
 *
 * Usage as Anthropic counts it: `input_tokens` EXCLUDES the prompt tokens read from the cache
 * (`cache_read_input_tokens`, reported apart), so the prompt is input_tokens + cache_read_input_tokens (+
 * cache_creation_input_tokens, always 0 here: the stand-in does not model cache writes).
 */
import type { ServerResponse } from 'node:http';
import { anthropicHeaders, sendAnthropicError, sendAnthropicJson } from './anthropic-http';
import type { Plan } from './plan';
import { jsonAnswerDue, type Outcome, paced, wait, writer } from './stream';
import type { ModelServerStats } from './types';

const stopReason = (p: Plan) => (p.finishReason === 'length' ? 'max_tokens' : 'end_turn');

const inputUsage = (p: Plan) => ({
  input_tokens: p.promptTokens - p.cachedTokens,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: p.cachedTokens,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
});

const usageOf = (p: Plan, sentTokens: number) => ({
  ...inputUsage(p),
  output_tokens: sentTokens,
  service_tier: 'standard',
});

export const OVERLOADED = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };

export async function streamMessage(
  stats: ModelServerStats,
  res: ServerResponse,
  p: Plan,
  gone: AbortSignal,
  requestId: string,
): Promise<Outcome> {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    ...anthropicHeaders(requestId),
  });
  res.flushHeaders();
  const write = writer(res, gone);
  const send = (event: string, data: object) =>
    write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);

  if (!(await wait(p.firstTokenDelayMs, gone))) return 'gone';
  const message = {
    id: p.id,
    type: 'message',
    role: 'assistant',
    model: p.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { ...inputUsage(p), output_tokens: 1, service_tier: 'standard' },
  };
  if (!(await send('message_start', { message }))) return 'gone';
  if (!(await send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }))) return 'gone';
  if (!(await send('ping', {}))) return 'gone';

  const start = Date.now();
  const cut = p.fault?.kind === 'error-mid-stream' || p.fault?.kind === 'drop-mid-stream' ? p.fault : undefined;
  const stopAfter = cut ? Math.min(cut.afterChunks, p.pieces.length) : Infinity;
  for (let i = 0; i < p.pieces.length; i++) {
    if (i === stopAfter) break;
    if (paced(p) && !(await wait(start + (i * 1000) / p.tokensPerSecond - Date.now(), gone))) return 'gone';
    const delta = { type: 'text_delta', text: p.pieces[i] };
    if (!(await send('content_block_delta', { index: 0, delta }))) return 'gone';
    stats.completionTokens++;
  }

  if (p.fault?.kind === 'error-mid-stream') {
    await send('error', { error: OVERLOADED.error });
    res.end();
    return 'faulted';
  }
  if (p.fault?.kind === 'drop-mid-stream') {
    res.socket?.destroy();
    return 'faulted';
  }

  const sent = p.pieces.length;
  if (!(await send('content_block_stop', { index: 0 }))) return 'gone';
  const delta = { stop_reason: stopReason(p), stop_sequence: null };
  if (!(await send('message_delta', { delta, usage: usageOf(p, sent) }))) return 'gone';
  if (!(await send('message_stop', {}))) return 'gone';
  res.end();
  return 'completed';
}

export async function jsonMessage(
  stats: ModelServerStats,
  res: ServerResponse,
  p: Plan,
  gone: AbortSignal,
  requestId: string,
): Promise<Outcome> {
  const ended = await jsonAnswerDue(res, p, gone, () =>
    sendAnthropicError(res, 529, OVERLOADED.error.message, requestId),
  );
  if (ended) return ended;
  stats.completionTokens += p.pieces.length;
  const body = {
    id: p.id,
    type: 'message',
    role: 'assistant',
    model: p.model,
    content: [{ type: 'text', text: p.pieces.join('') }],
    stop_reason: stopReason(p),
    stop_sequence: null,
    usage: usageOf(p, p.pieces.length),
  };
  sendAnthropicJson(res, 200, body, requestId);
  return 'completed';
}
