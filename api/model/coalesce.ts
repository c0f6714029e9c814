/**
 * Fewer, larger text events between a provider and streamText: a `fetch` wrapper that merges a model's
 * consecutive text-delta events that arrive within a short window into one event, before the provider parses
 * them. Every event that reaches the AI SDK becomes a stream part that travels through a dozen web-stream hops
 * (≈ 50 µs of CPU each in-process: the provider's parsing ≈ 16, streamText's parts ≈ 31; `npm run bench:ladder`),
 * so at model speeds (one token every few ms) most of a rewrite's CPU is per-event, not per-byte. The first text event is passed on at once (time to first byte unchanged); later
 * text waits at most `windowMs` (one screen frame or so, invisible while reading). The text, its order and every
 * other event (role, finish reason, usage, errors, tool calls, refusals, logprobs, pings) are passed on unchanged
 * and in order: an event that is not a plain text delta first flushes the waiting text, then goes as it came.
 *
 * Shapes merged (anything else is passed through verbatim):
 *   - OpenAI chat completions: `data: {choices:[{index, delta:{content}, finish_reason:null}]}` with no usage,
 *     no logprobs and no other choice or delta fields set; merged only with a chunk alike in every other field
 *     (id, model, created, fingerprint, …; OpenAI's random `obfuscation` padding aside) and the same choice index.
 *   - Anthropic Messages: `event: content_block_delta` with exactly a text delta's fields, same block index.
 * A stream with CR line endings (allowed by SSE, sent by neither provider) is passed through untouched from there.
 *
 * Depends on: nothing but the web platform (fetch, streams, timers); the clock's timers are injectable.
 */

export interface CoalesceOptions {
  /** Longest time a text delta waits for the next one; 0 turns merging off. */
  windowMs: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

type Fetch = typeof globalThis.fetch;

/** `inner` with its successful event-stream responses' text events merged (other responses untouched). */
export function coalescingFetch(inner: Fetch, opts: CoalesceOptions): Fetch {
  if (opts.windowMs <= 0) return inner;
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await inner(input, init);
    if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return res;
    return new Response(coalesceEvents(res.body, opts), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }) as Fetch;
}

/** A mergeable text delta: the event's object, where its text lives, and what it may be merged with. */
interface TextDelta {
  /** `event: <name>\n` line to write before the data line (Anthropic), or ''. */
  eventLine: string;
  obj: Record<string, unknown>;
  /** The object holding the text, inside obj. */
  holder: Record<string, unknown>;
  field: 'content' | 'text';
  text: string;
  /** Two deltas merge only with equal keys (chunk id and choice, or block index). */
  key: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const unset = (v: unknown) => v === undefined || v === null;

/**
 * The chunk's fields besides its choices as one key (`obfuscation`, OpenAI's random padding, left out): two chunks
 * merge only when these are equal, so a later chunk's id, model, created, … never differ from what is kept.
 * Undefined when one is not a plain value (nothing to compare it by: not merged).
 */
function chunkKey(obj: Record<string, unknown>): string | undefined {
  let key = 'o';
  for (const k of Object.keys(obj)) {
    if (k === 'choices' || k === 'obfuscation') continue;
    const v = obj[k];
    if (v !== null && typeof v === 'object') return undefined;
    key += `|${k}=${typeof v}:${String(v)}`;
  }
  return key;
}

function openAiDelta(obj: Record<string, unknown>): TextDelta | undefined {
  const choices = obj.choices;
  if (!Array.isArray(choices) || choices.length !== 1 || !unset(obj.usage)) return undefined;
  const choice = choices[0];
  if (!isObject(choice) || typeof choice.index !== 'number') return undefined;
  if (!unset(choice.finish_reason) || !unset(choice.logprobs)) return undefined;
  for (const k of Object.keys(choice)) if (k !== 'index' && k !== 'delta' && !unset(choice[k])) return undefined;
  const delta = choice.delta;
  if (!isObject(delta) || typeof delta.content !== 'string' || delta.content === '') return undefined;
  for (const k of Object.keys(delta)) if (k !== 'content' && !unset(delta[k])) return undefined;
  const key = chunkKey(obj);
  if (key === undefined) return undefined;
  return { eventLine: '', obj, holder: delta, field: 'content', text: delta.content, key: `${key}|${choice.index}` };
}

const ANTHROPIC_FIELDS = new Set(['type', 'index', 'delta']);
const ANTHROPIC_DELTA_FIELDS = new Set(['type', 'text']);

function anthropicDelta(obj: Record<string, unknown>): TextDelta | undefined {
  const delta = obj.delta;
  if (obj.type !== 'content_block_delta' || typeof obj.index !== 'number') return undefined;
  if (!isObject(delta) || delta.type !== 'text_delta' || typeof delta.text !== 'string' || delta.text === '')
    return undefined;
  // Exactly the fields of a text delta: anything else is passed on as it came.
  if (Object.keys(obj).some((k) => !ANTHROPIC_FIELDS.has(k))) return undefined;
  if (Object.keys(delta).some((k) => !ANTHROPIC_DELTA_FIELDS.has(k))) return undefined;
  return {
    eventLine: 'event: content_block_delta\n',
    obj,
    holder: delta,
    field: 'text',
    text: delta.text,
    key: `a|${obj.index}`,
  };
}

/** The text delta one SSE event block (without its blank line) carries, if it is one of the shapes above. */
export function textDeltaOf(block: string): TextDelta | undefined {
  let data: string;
  let anthropic = false;
  if (block.startsWith('data: ') && block.indexOf('\n') === -1) data = block.slice(6);
  else if (block.startsWith('event: content_block_delta\ndata: ') && block.indexOf('\n', 27) === -1) {
    data = block.slice(33);
    anthropic = true;
  } else return undefined;
  if (data.charCodeAt(0) !== 123 /* { */) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(obj)) return undefined;
  return anthropic ? anthropicDelta(obj) : openAiDelta(obj);
}

/** `first` with the texts of the deltas merged into it, as one SSE event block (with its blank line). */
function mergedBlock(first: TextDelta, texts: string[]): string {
  first.holder[first.field] = texts.length === 1 ? texts[0] : texts.join('');
  return `${first.eventLine}data: ${JSON.stringify(first.obj)}\n\n`;
}

/**
 * The event stream `body` with consecutive text deltas merged (see the module's comment). Read as it is pulled (one
 * upstream read per pull: a slow reader slows the provider's socket, as without merging).
 */
export function coalesceEvents(body: ReadableStream<Uint8Array>, opts: CoalesceOptions): ReadableStream<Uint8Array> {
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let rest = ''; // an incomplete event block carried over to the next read
  let sentText = false; // the first text delta goes at once
  let raw = false; // CR seen: text passed on as it comes from here on
  let pending: TextDelta | undefined;
  let pendingTexts: string[] = [];
  let timer: unknown;
  let closed = false;
  /** A failure waiting for the text queued before it to be read (erroring a stream drops its queue). */
  let failure: { error: unknown } | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let emitted = 0;

  const emit = (s: string) => {
    if (s === '' || closed) return;
    controller.enqueue(encoder.encode(s));
    emitted++;
  };
  const takePending = (): string => {
    if (timer !== undefined) {
      clearTimer(timer);
      timer = undefined;
    }
    if (!pending) return '';
    const block = mergedBlock(pending, pendingTexts);
    pending = undefined;
    pendingTexts = [];
    return block;
  };
  const flush = () => emit(takePending());
  const fail = (error: unknown) => {
    if (closed) return;
    closed = true;
    controller.error(error);
  };

  /** Each complete event block of `text` merged or passed on; what follows the last one is kept in `rest`. */
  const handle = (text: string, searchFrom: number) => {
    let out = '';
    let at = 0;
    for (;;) {
      const end = text.indexOf('\n\n', Math.max(at, searchFrom));
      if (end === -1) break;
      const block = text.slice(at, end);
      at = end + 2;
      const delta = block === '' ? undefined : textDeltaOf(block);
      if (!delta || !sentText) {
        sentText ||= delta !== undefined;
        out += `${takePending()}${block}\n\n`;
        continue;
      }
      if (pending && pending.key !== delta.key) out += takePending();
      if (pending) pendingTexts.push(delta.text);
      else {
        pending = delta;
        pendingTexts = [delta.text];
        timer = setTimer(flush, opts.windowMs);
      }
    }
    rest = text.slice(at);
    emit(out);
  };

  /** One upstream read, merged or passed on. */
  const readOnce = async (): Promise<void> => {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (error) {
      // What arrived before the failure is read first, then the failure.
      flush();
      if ((controller.desiredSize ?? 0) < 1) failure = { error };
      else fail(error);
      return;
    }
    if (closed) return;
    if (r.done) {
      emit(takePending() + rest + decoder.decode());
      rest = '';
      closed = true;
      controller.close();
      return;
    }
    const text = decoder.decode(r.value, { stream: true });
    if (raw) return emit(text);
    if (text.includes('\r')) {
      // Not a shape this merges: what is waiting, then everything as it comes (decoded and re-encoded, so a
      // character split across reads stays whole).
      raw = true;
      emit(takePending() + rest + text);
      rest = '';
      return;
    }
    // Only the new text can complete an event: search from the end of what was left over.
    handle(rest + text, Math.max(0, rest.length - 1));
  };

  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    async pull() {
      if (failure) return fail(failure.error);
      // A pull that queues nothing is not called again: read on until something is queued (or the end).
      const before = emitted;
      while (emitted === before && !closed && !failure) await readOnce();
    },
    cancel(reason) {
      closed = true;
      if (timer !== undefined) clearTimer(timer);
      return reader.cancel(reason);
    },
  });
}
