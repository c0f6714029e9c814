/**
 * Reads the rewrite's Server-Sent Events (shared/contract.ts REWRITE_EVENTS_TYPE) as they arrive: `text`
 * events carry the next piece (a JSON string), one `done` event says how the answer finished. Pieces may
 * split anywhere (inside an event, a line or a character): the parser keeps what is not whole yet.
 *
 * Pure: decoded text in, events out.
 */
import type { RewriteDone } from '../../shared/contract';

export type RewriteEvent =
  | { type: 'text'; text: string }
  | { type: 'done'; done: RewriteDone }
  | { type: 'bad'; reason: string };

const REASONS: readonly RewriteDone['finishReason'][] = ['stop', 'length', 'content_filter', 'other'];

export function rewriteEventParser(): { push(chunk: string): RewriteEvent[] } {
  let buffer = '';
  // A CR at the end of a piece may be the first half of a CRLF: it waits for the next piece.
  let pendingCr = false;
  return {
    push(chunk) {
      let raw = (pendingCr ? '\r' : '') + chunk;
      pendingCr = raw.endsWith('\r');
      if (pendingCr) raw = raw.slice(0, -1);
      buffer += raw.replace(/\r\n?/g, '\n');
      const out: RewriteEvent[] = [];
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e = parseBlock(block);
        if (e) out.push(e);
      }
      return out;
    },
  };
}

function parseBlock(block: string): RewriteEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue; // comments (keep-alives)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  let value: unknown;
  try {
    value = JSON.parse(data.join('\n'));
  } catch {
    return { type: 'bad', reason: `the ${event} event's data is not JSON` };
  }
  if (event === 'text')
    return typeof value === 'string'
      ? { type: 'text', text: value }
      : { type: 'bad', reason: 'a text event without a string' };
  if (event === 'done') {
    const reason = (value as { finishReason?: unknown } | null)?.finishReason;
    return {
      type: 'done',
      done: {
        finishReason: REASONS.includes(reason as RewriteDone['finishReason'])
          ? (reason as RewriteDone['finishReason'])
          : 'other',
      },
    };
  }
  return null; // an event this client does not know: ignored, as SSE clients do
}
