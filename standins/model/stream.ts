/**
 * Writing one planned completion: as SSE chunks (one token each, paced, with a final usage chunk when asked), or
 * as one JSON answer; faults mid-stream send an error chunk or drop the socket. Each resolves to how it ended.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendError, sendJson } from './http';
import { usageOf, type Plan } from './plan';
import type { ModelServerStats } from './types';

export type Outcome = 'completed' | 'gone' | 'faulted';

/** Resolves false once the client has gone away (or the server is closing). */
export const wait = (ms: number, signal: AbortSignal) =>
  ms > 0
    ? sleep(ms, undefined, { signal }).then(
        () => !signal.aborted,
        () => false,
      )
    : Promise.resolve(!signal.aborted);

export const paced = (p: Plan) => p.tokensPerSecond > 0 && Number.isFinite(p.tokensPerSecond);

const MID_STREAM_ERROR = {
  error: {
    message: 'The stand-in model server was told to fail mid-stream.',
    type: 'server_error',
    param: null,
    code: 'server_error',
  },
};

/**
 * Writes raw text to the response, resolving once it is handed to the OS (so a drop after it really delivered the
 * chunks), false if the client has gone. Waiting for each write also gives backpressure and lets a client abort be
 * noticed between chunks.
 */
export const writer = (res: ServerResponse, gone: AbortSignal) => (text: string) =>
  new Promise<boolean>((resolve) => {
    if (gone.aborted) return resolve(false);
    const onAbort = () => resolve(false);
    gone.addEventListener('abort', onAbort, { once: true });
    res.write(text, (err) => {
      gone.removeEventListener('abort', onAbort);
      resolve(!err && !gone.aborted);
    });
  });

export async function streamCompletion(
  stats: ModelServerStats,
  res: ServerResponse,
  p: Plan,
  gone: AbortSignal,
): Promise<Outcome> {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'x-request-id': p.id,
  });
  res.flushHeaders();
  const head = {
    id: p.id,
    object: 'chat.completion.chunk',
    created: p.created,
    model: p.model,
    system_fingerprint: 'fp_stand_in',
  };
  const chunk = (delta: object, finishReason: string | null = null) => ({
    ...head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(p.includeUsage ? { usage: null } : {}),
  });
  const write = writer(res, gone);
  const send = (data: unknown) => write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);

  if (!(await wait(p.firstTokenDelayMs, gone))) return 'gone';
  if (!(await send(chunk({ role: 'assistant', content: '', refusal: null })))) return 'gone';

  const start = Date.now();
  const cut = p.fault?.kind === 'error-mid-stream' || p.fault?.kind === 'drop-mid-stream' ? p.fault : undefined;
  const stopAfter = cut ? Math.min(cut.afterChunks, p.pieces.length) : Infinity;
  for (let i = 0; i < p.pieces.length; i++) {
    if (i === stopAfter) break;
    if (paced(p) && !(await wait(start + (i * 1000) / p.tokensPerSecond - Date.now(), gone))) return 'gone';
    if (!(await send(chunk({ content: p.pieces[i] })))) return 'gone';
    stats.completionTokens++;
  }

  if (p.fault?.kind === 'error-mid-stream') {
    await send(MID_STREAM_ERROR);
    res.end();
    return 'faulted';
  }
  if (p.fault?.kind === 'drop-mid-stream') {
    res.socket?.destroy();
    return 'faulted';
  }

  const sent = p.pieces.length;
  if (!(await send(chunk({}, p.finishReason)))) return 'gone';
  if (p.includeUsage && !(await send({ ...head, choices: [], usage: usageOf(p, sent) }))) return 'gone';
  if (!(await send('[DONE]'))) return 'gone';
  res.end();
  return 'completed';
}

/**
 * A JSON (non-streaming) answer's wait — first token plus the paced generation — and its faults, both protocols:
 * 'gone' or 'faulted' when it ended there (`failMidStream` answers the error fault), null when the body is due.
 */
export async function jsonAnswerDue(
  res: ServerResponse,
  p: Plan,
  gone: AbortSignal,
  failMidStream: () => void,
): Promise<Outcome | null> {
  const generating = paced(p) ? (p.pieces.length * 1000) / p.tokensPerSecond : 0;
  if (!(await wait(p.firstTokenDelayMs + generating, gone))) return 'gone';
  if (p.fault?.kind === 'drop-mid-stream') {
    res.socket?.destroy();
    return 'faulted';
  }
  if (p.fault?.kind === 'error-mid-stream') {
    failMidStream();
    return 'faulted';
  }
  return null;
}

export async function jsonCompletion(
  stats: ModelServerStats,
  res: ServerResponse,
  p: Plan,
  gone: AbortSignal,
): Promise<Outcome> {
  const ended = await jsonAnswerDue(res, p, gone, () =>
    sendError(res, 500, 'The stand-in model server was told to fail.', 'server_error'),
  );
  if (ended) return ended;
  stats.completionTokens += p.pieces.length;
  const message = { role: 'assistant', content: p.pieces.join(''), refusal: null, annotations: [] };
  sendJson(res, 200, {
    id: p.id,
    object: 'chat.completion',
    created: p.created,
    model: p.model,
    system_fingerprint: 'fp_stand_in',
    choices: [{ index: 0, message, logprobs: null, finish_reason: p.finishReason }],
    usage: usageOf(p, p.pieces.length),
    service_tier: 'default',
  });
  return 'completed';
}
