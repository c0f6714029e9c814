/**
 * Runs the model and exposes its text as a byte stream, reporting exactly once how it ended.
 * The first token is awaited before anything is returned, so a provider failure before it becomes a
 * clean error (and a full release of the reservation) instead of a broken 200.
 */
import { streamText, type LanguageModel, type LanguageModelUsage } from 'ai';
import { countTextTokens } from './estimate';
import type { ChatMessage } from '../../shared/prompts';
import type { StreamOutcome } from '../metering/settlement';
import type { RewriteDone } from '../../shared/contract';

export interface StreamOptions {
  model: LanguageModel;
  messages: ChatMessage[];
  maxOutputTokens: number;
  estimatedInputTokens: number;
  /** Sampling temperature; undefined: the provider's default (reasoning models accept no other). */
  temperature?: number;
  /**
   * Our exact count of the prompt when estimatedInputTokens is only an upper bound (long inputs): read only if
   * settlement charges our own count (no provider usage), so the bound is never charged.
   */
  exactInputTokens?: () => number;
  maxRetries: number;
  firstTokenTimeoutMs: number;
  totalTimeoutMs: number;
  /** Stops the model from outside (client gone, server shutdown): the stream ends as "aborted" and settles; before the first token, nothing is charged. */
  signal?: AbortSignal;
  /** Called once, after the stream ended in any way after its first token. Must not throw. */
  onEnd: (outcome: StreamOutcome) => Promise<void>;
  /**
   * `text` (default): the text's bytes as they come. `events`: Server-Sent Events, `text` pieces then one
   * `done` with the finish reason, so a client can tell an answer cut by the length cap from a whole one.
   */
  format?: 'text' | 'events';
}

/** The body's framing: plain text, or SSE (`event: text` with a JSON string, then `event: done`). */
interface Framing {
  piece(text: string): Uint8Array;
  /** Bytes to send before closing a completed stream (none for plain text). */
  done(finishReason: unknown): Uint8Array | null;
}

const encoder = new TextEncoder();
const plainText: Framing = { piece: (t) => encoder.encode(t), done: () => null };
const serverSentEvents: Framing = {
  piece: (t) => encoder.encode(`event: text\ndata: ${JSON.stringify(t)}\n\n`),
  done: (reason) => {
    const done: RewriteDone = { finishReason: finishReasonOf(reason) };
    return encoder.encode(`event: done\ndata: ${JSON.stringify(done)}\n\n`);
  },
};

/** The AI SDK's finish reason in the contract's words (the SDK's `content-filter`, `tool-calls`, … otherwise `other`). */
export function finishReasonOf(reason: unknown): RewriteDone['finishReason'] {
  return reason === 'stop'
    ? 'stop'
    : reason === 'length'
      ? 'length'
      : reason === 'content-filter'
        ? 'content_filter'
        : 'other';
}

export class NoFirstToken extends Error {
  constructor(
    readonly reason: 'error' | 'timeout' | 'empty' | 'cancelled',
    cause?: unknown,
  ) {
    super(`model produced no output (${reason})`, { cause });
  }
}

type Part = {
  type: string;
  text?: string;
  error?: unknown;
  finishReason?: unknown;
  totalUsage?: Pick<LanguageModelUsage, 'inputTokens' | 'outputTokens'> &
    Partial<Pick<LanguageModelUsage, 'inputTokenDetails' | 'outputTokenDetails'>>;
};

/** The AI SDK's usage as settlement reads it: totals, and the cached-input and reasoning details. */
export function providerUsageOf(u: Part['totalUsage']): StreamOutcome['providerUsage'] {
  if (!u) return undefined;
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cachedInputTokens: u.inputTokenDetails?.cacheReadTokens,
    reasoningTokens: u.outputTokenDetails?.reasoningTokens,
  };
}

/**
 * Resolves with the response body once the first text arrives; rejects with NoFirstToken otherwise.
 *
 * Cost per token (the base of every request's CPU, `npm run bench`): streamText runs with a single consumer (no
 * replay branch: its parts are not teed and buffered for projections nobody reads, as
 * `experimental_streamTextLowMemory` does), its parts are read with one reader (no async-iterator layer), and the
 * output is counted only if settlement needs our count. (Sending text already waiting as one piece was tried:
 * no measurable gain, ×0.93–1.10 CPU per request in A/B runs.)
 */
export async function streamModelText(o: StreamOptions): Promise<ReadableStream<Uint8Array>> {
  const abort = new AbortController();
  const total = setTimeout(() => abort.abort(new Error('model total timeout')), o.totalTimeoutMs);
  o.signal?.addEventListener('abort', () => abort.abort(new Error('server shutting down')), { once: true });
  const result = streamText({
    model: o.model,
    system: o.messages.find((m) => m.role === 'system')?.content,
    messages: o.messages.filter((m) => m.role !== 'system').map((m) => ({ role: 'user' as const, content: m.content })),
    maxOutputTokens: o.maxOutputTokens,
    maxRetries: o.maxRetries,
    abortSignal: abort.signal,
    ...(o.temperature === undefined ? {} : { temperature: o.temperature }),
    // Errors arrive as stream parts and are handled below (release or settle); no console noise.
    onError: () => {},
    // One consumer (below): no replay branch, no content collected for results nobody reads.
    _internal: { retention: { replay: false, collectContent: false } },
  });
  const reader = (result.stream as unknown as ReadableStream<Part>).getReader();
  let text = '';
  let ended = false;

  const end = async (status: StreamOutcome['status'], providerUsage?: StreamOutcome['providerUsage']) => {
    if (ended) return;
    ended = true;
    clearTimeout(total);
    const streamed = text;
    let counted: number | undefined;
    await o.onEnd({
      status,
      providerUsage,
      get estimatedInputTokens() {
        return o.exactInputTokens ? o.exactInputTokens() : o.estimatedInputTokens;
      },
      // Counted when read: settlement reads it only when the provider's usage is missing (abort, error).
      get countedOutputTokens() {
        counted ??= countTextTokens(streamed);
        return counted;
      },
    });
  };

  // Wait for the first text, bounded by the first-token timeout.
  let first: string;
  const firstTimer = setTimeout(() => abort.abort(new Error('first token timeout')), o.firstTokenTimeoutMs);
  try {
    first = await firstText(reader);
  } catch (err) {
    abort.abort();
    clearTimeout(total);
    void reader.cancel().catch(() => {});
    if (o.signal?.aborted) throw new NoFirstToken('cancelled', err);
    throw err instanceof NoFirstToken ? err : new NoFirstToken(abort.signal.aborted ? 'timeout' : 'error', err);
  } finally {
    clearTimeout(firstTimer);
  }
  text = first;
  const framing = o.format === 'events' ? serverSentEvents : plainText;
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, reason: unknown) => {
    const tail = framing.done(reason);
    if (tail) controller.enqueue(tail);
    controller.close();
  };

  /** How a part ended the stream, if it did: settle, then close or error the body. */
  const conclude = async (
    r: ReadableStreamReadResult<Part>,
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> => {
    const p = r.value;
    if (r.done) {
      if (abort.signal.aborted) {
        // Cut by us (total timeout, shutdown): the client must see a broken stream, not a short answer.
        await end('aborted');
        controller.error(abort.signal.reason ?? new Error('model stream cut'));
        return;
      }
      await end('completed');
      finish(controller, 'other');
    } else if (p?.type === 'finish') {
      await end('completed', providerUsageOf(p.totalUsage));
      finish(controller, p.finishReason);
    } else {
      await end(p?.type === 'abort' ? 'aborted' : 'error');
      controller.error(p?.type === 'error' ? p.error : new Error('model stream aborted'));
    }
  };
  const ends = (r: ReadableStreamReadResult<Part>) =>
    r.done || r.value.type === 'finish' || r.value.type === 'error' || r.value.type === 'abort';

  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(framing.piece(first));
    },
    async pull(controller) {
      try {
        for (;;) {
          const r = await reader.read();
          if (ends(r)) {
            await conclude(r, controller);
            return;
          }
          const p = r.value;
          if (p?.type === 'text-delta' && p.text) {
            text += p.text;
            controller.enqueue(framing.piece(p.text));
            return;
          }
        }
      } catch (err) {
        await end(abort.signal.aborted ? 'aborted' : 'error');
        controller.error(err);
      }
    },
    async cancel() {
      // The client went away: stop the model and charge what was generated so far.
      abort.abort();
      void reader.cancel().catch(() => {});
      await end('aborted');
    },
  });
}

async function firstText(parts: ReadableStreamDefaultReader<Part>): Promise<string> {
  for (;;) {
    const next = await parts.read();
    if (next.done) throw new NoFirstToken('empty');
    const p = next.value;
    if (p.type === 'text-delta' && p.text) return p.text;
    if (p.type === 'error') throw new NoFirstToken('error', p.error);
    if (p.type === 'abort') throw new NoFirstToken('timeout');
    if (p.type === 'finish') throw new NoFirstToken('empty');
  }
}
