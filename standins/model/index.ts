/**
 * OFFLINE STAND-IN for OpenAI's chat completions API — dev, tests and benchmarks only, never production.
 *
 * Speaks just enough of `POST /v1/chat/completions` (SSE streaming with a final usage chunk, or plain JSON)
 * and `GET /v1/models` for `@ai-sdk/openai`'s `provider.chat(modelId)`. The generated text is deterministic,
 * readable words taken from the last user message, one o200k token per content chunk, so
 * `usage.completion_tokens` is exactly `countTokens(text actually sent)` — even when a fault or a client
 * abort cuts the stream short. Faults (HTTP status, error chunk mid-stream, dropped socket, slow first
 * token) can be injected for the next N completion requests.
 *
 * Standalone: `tsx standins/model/index.ts --port 0 [--tokens-per-second N] [--first-token-ms N]
 * [--output-tokens N|echo]` prints `{"url": ...}` on one line and exits on SIGTERM/SIGINT.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { countTokens, encode, encodeChat } from 'gpt-tokenizer/model/gpt-4o';

export type Fault =
  | { kind: 'status'; status: number; message?: string } // reply with this HTTP status + OpenAI-shaped JSON error, before any token
  | { kind: 'error-mid-stream'; afterChunks: number } // send N content chunks, then an OpenAI-style error chunk, then end
  | { kind: 'drop-mid-stream'; afterChunks: number } // send N content chunks, then destroy the socket
  | { kind: 'slow-first-token'; delayMs: number }; // wait before the first chunk

export interface ModelServerOptions {
  port?: number; // 0 = free port
  tokensPerSecond?: number; // streaming speed; 0 or Infinity = as fast as possible. default 0 (fast)
  firstTokenDelayMs?: number; // default 0
  outputTokens?: number | 'echo'; // tokens to generate before max_tokens applies; 'echo' (default) ≈ tokens of the last user message
  /** Stream exactly these pieces (one token each) instead of generated words, e.g. a multi-line answer; null = generate. */
  script?: string[] | null;
}

export interface ModelServerStats {
  /** Every HTTP request, any route. */
  requests: number;
  /** Every authorized `POST /chat/completions` (bad bodies and faulted ones included): "calls made to the model". */
  completions: number;
  /** Completions whose whole response (through `[DONE]`) was written. */
  completed: number;
  /** Completions the client disconnected from before the end. */
  aborted: number;
  promptTokens: number;
  /** Tokens actually sent, including those of aborted and faulted completions. */
  completionTokens: number;
}

export interface ModelServer {
  url: string; // base URL including /v1, e.g. http://127.0.0.1:1234/v1
  port: number;
  setOptions(o: Partial<ModelServerOptions>): void;
  injectFault(f: Fault, times?: number): void; // the next `times` (default 1) completion requests get this fault
  clearFaults(): void;
  stats: ModelServerStats;
  lastRequestBody: unknown; // the last JSON body received on /chat/completions
  close(): Promise<void>;
}

export const STAND_IN_MODEL_ID = 'gpt-4o-mini';

/** Used when the last user message has no usable words. */
const LOREM = 'the quick brown fox jumps over a lazy dog while our team writes clear and simple words for every reader'.split(' ');

interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

interface Plan {
  id: string;
  created: number;
  model: string;
  pieces: string[]; // one o200k token each
  finishReason: 'stop' | 'length';
  promptTokens: number;
  includeUsage: boolean;
  fault: Fault | undefined;
  tokensPerSecond: number;
  firstTokenDelayMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Text and token counting

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (p && typeof p === 'object' && 'text' in p && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function chatMessages(messages: unknown[]): { role: string; content: string }[] {
  return messages.map((m) => {
    const o = (m && typeof m === 'object' ? m : {}) as { role?: unknown; content?: unknown };
    return { role: typeof o.role === 'string' ? o.role : 'user', content: contentText(o.content) };
  });
}

function promptTokenCount(messages: { role: string; content: string }[]): number {
  try {
    return encodeChat(messages, 'gpt-4o-mini').length;
  } catch {
    return messages.reduce((sum, m) => sum + countTokens(m.content) + 3, 3);
  }
}

const singleToken = (s: string) => encode(s).length === 1;

/**
 * `n` pieces of text that are one o200k token each and stay one token each when concatenated: whole words
 * (letters only) that encode to a single token with their leading space, so the pre-tokenizer splits the
 * joined text exactly at the piece boundaries. Any prefix therefore counts as exactly as many tokens.
 */
export function generatePieces(source: string, n: number): string[] {
  // Markup such as our prompt's <text>…</text> wrapper is not content: leave tag names out.
  const fromSource = (source.replace(/<\/?[A-Za-z][^>]*>/g, ' ').match(/\p{L}+/gu) ?? []).filter((w) => singleToken(` ${w}`));
  const words = fromSource.length > 0 ? fromSource : LOREM;
  const pieces: string[] = [];
  for (let i = 0; i < n; i++) {
    const word = words[i % words.length]!;
    pieces.push(i === 0 && singleToken(word) ? word : ` ${word}`);
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP helpers

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  429: 'requests',
};

function sendError(res: ServerResponse, status: number, message: string, code: string | null = null): void {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  sendJson(res, status, { error: { message, type, param: null, code } });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

// ---------------------------------------------------------------------------------------------------------

export async function startModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  let options: Required<Omit<ModelServerOptions, 'port'>> = { tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo', script: null, ...withoutUndefined(opts) };
  const faults: { fault: Fault; remaining: number }[] = [];
  const stats: ModelServerStats = { requests: 0, completions: 0, completed: 0, aborted: 0, promptTokens: 0, completionTokens: 0 };
  let lastRequestBody: unknown;
  let seq = 0;

  const takeFault = (): Fault | undefined => {
    const head = faults[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) faults.shift();
    return head.fault;
  };

  const plan = (body: ChatBody, fault: Fault | undefined): Plan => {
    const messages = chatMessages(body.messages as unknown[]);
    const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const wanted = options.script ? options.script.length : options.outputTokens === 'echo' ? Math.max(1, countTokens(lastUser)) : Math.max(0, Math.floor(options.outputTokens));
    const caps = [positiveInt(body.max_tokens), positiveInt(body.max_completion_tokens)].filter((c): c is number => c !== undefined);
    const cap = caps.length > 0 ? Math.min(...caps) : Infinity;
    const n = Math.min(wanted, cap);
    return {
      id: `chatcmpl-standin${(++seq).toString().padStart(6, '0')}`,
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : STAND_IN_MODEL_ID,
      pieces: options.script ? options.script.slice(0, n) : generatePieces(lastUser, n),
      finishReason: n < wanted ? 'length' : 'stop',
      promptTokens: promptTokenCount(messages),
      includeUsage: body.stream_options?.include_usage === true,
      fault,
      tokensPerSecond: options.tokensPerSecond,
      firstTokenDelayMs: options.firstTokenDelayMs + (fault?.kind === 'slow-first-token' ? fault.delayMs : 0),
    };
  };

  const usageOf = (p: Plan, completionTokens: number) => ({
    prompt_tokens: p.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: p.promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  });

  /** Resolves false once the client has gone away (or the server is closing). */
  const wait = (ms: number, signal: AbortSignal) =>
    ms > 0 ? sleep(ms, undefined, { signal }).then(() => !signal.aborted, () => false) : Promise.resolve(!signal.aborted);

  async function streamCompletion(res: ServerResponse, p: Plan, gone: AbortSignal): Promise<'completed' | 'gone' | 'faulted'> {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'x-request-id': p.id });
    res.flushHeaders();
    const chunk = (delta: object, finishReason: string | null = null) => ({
      id: p.id,
      object: 'chat.completion.chunk',
      created: p.created,
      model: p.model,
      system_fingerprint: 'fp_stand_in',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(p.includeUsage ? { usage: null } : {}),
    });
    // Resolves once the data is handed to the OS (so a drop after it really delivered the chunks).
    // Waiting for each write also gives backpressure and lets a client abort be noticed between chunks.
    const send = (data: unknown) =>
      new Promise<boolean>((resolve) => {
        if (gone.aborted) return resolve(false);
        const onAbort = () => resolve(false);
        gone.addEventListener('abort', onAbort, { once: true });
        res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`, (err) => {
          gone.removeEventListener('abort', onAbort);
          resolve(!err && !gone.aborted);
        });
      });

    if (!(await wait(p.firstTokenDelayMs, gone))) return 'gone';
    if (!(await send(chunk({ role: 'assistant', content: '', refusal: null })))) return 'gone';

    const start = Date.now();
    const stopAfter = p.fault?.kind === 'error-mid-stream' || p.fault?.kind === 'drop-mid-stream' ? Math.min(p.fault.afterChunks, p.pieces.length) : Infinity;
    const paced = p.tokensPerSecond > 0 && Number.isFinite(p.tokensPerSecond);
    for (let i = 0; i < p.pieces.length; i++) {
      if (i === stopAfter) break;
      if (paced && !(await wait(start + (i * 1000) / p.tokensPerSecond - Date.now(), gone))) return 'gone';
      if (!(await send(chunk({ content: p.pieces[i] })))) return 'gone';
      stats.completionTokens++;
    }

    if (p.fault?.kind === 'error-mid-stream') {
      await send({ error: { message: 'The stand-in model server was told to fail mid-stream.', type: 'server_error', param: null, code: 'server_error' } });
      res.end();
      return 'faulted';
    }
    if (p.fault?.kind === 'drop-mid-stream') {
      res.socket?.destroy();
      return 'faulted';
    }

    const sent = p.pieces.length;
    if (!(await send(chunk({}, p.finishReason)))) return 'gone';
    if (p.includeUsage && !(await send({ id: p.id, object: 'chat.completion.chunk', created: p.created, model: p.model, system_fingerprint: 'fp_stand_in', choices: [], usage: usageOf(p, sent) }))) return 'gone';
    if (!(await send('[DONE]'))) return 'gone';
    res.end();
    return 'completed';
  }

  async function jsonCompletion(res: ServerResponse, p: Plan, gone: AbortSignal): Promise<'completed' | 'gone' | 'faulted'> {
    const paced = p.tokensPerSecond > 0 && Number.isFinite(p.tokensPerSecond);
    if (!(await wait(p.firstTokenDelayMs + (paced ? (p.pieces.length * 1000) / p.tokensPerSecond : 0), gone))) return 'gone';
    if (p.fault?.kind === 'drop-mid-stream') {
      res.socket?.destroy();
      return 'faulted';
    }
    if (p.fault?.kind === 'error-mid-stream') {
      sendError(res, 500, 'The stand-in model server was told to fail.', 'server_error');
      return 'faulted';
    }
    stats.completionTokens += p.pieces.length;
    sendJson(res, 200, {
      id: p.id,
      object: 'chat.completion',
      created: p.created,
      model: p.model,
      system_fingerprint: 'fp_stand_in',
      choices: [{ index: 0, message: { role: 'assistant', content: p.pieces.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: p.finishReason }],
      usage: usageOf(p, p.pieces.length),
      service_tier: 'default',
    });
    return 'completed';
  }

  async function handleCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.completions++;
    // `res` 'close' fires when the response ended normally *or* the connection went away; only the latter
    // aborts the generation.
    const ctrl = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });

    let body: ChatBody;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as ChatBody;
    } catch {
      return sendError(res, 400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)");
    }
    lastRequestBody = body;
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(res, 400, "Invalid 'messages': expected a non-empty array.", 'invalid_value');
    }

    const fault = takeFault();
    if (fault?.kind === 'status') {
      const code = fault.status === 429 ? 'rate_limit_exceeded' : fault.status >= 500 ? 'server_error' : null;
      return sendError(res, fault.status, fault.message ?? `The stand-in model server was told to fail with HTTP ${fault.status}.`, code);
    }
    const p = plan(body, fault);
    stats.promptTokens += p.promptTokens;
    const outcome = await (body.stream === true ? streamCompletion : jsonCompletion)(res, p, ctrl.signal);
    if (outcome === 'completed') stats.completed++;
    else if (outcome === 'gone') stats.aborted++;
  }

  const server = createServer((req, res) => {
    stats.requests++;
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v1(?=\/)/, '');
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      req.resume();
      return sendError(res, 401, 'You didn\'t provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).', 'invalid_api_key');
    }
    if (req.method === 'GET' && path === '/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: STAND_IN_MODEL_ID, object: 'model', created: 1721172741, owned_by: 'system' }] });
    }
    if (req.method === 'POST' && path === '/chat/completions') {
      handleCompletion(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, `Stand-in model server error: ${String(err)}`);
        else res.destroy();
      });
      return;
    }
    req.resume();
    sendError(res, 404, `Invalid URL (${req.method} ${req.url})`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    stats,
    get lastRequestBody() {
      return lastRequestBody;
    },
    setOptions(o) {
      options = { ...options, ...withoutUndefined(o) };
    },
    injectFault(fault, times = 1) {
      if (times > 0) faults.push({ fault, remaining: times });
    },
    clearFaults() {
      faults.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'port')) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------------------
// Standalone

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (isMain) {
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
  process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port })}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
