/**
 * What one completion will send, decided when its request arrives: the pieces (scripted, or generated from the
 * last user message, cut at `max_tokens`), the finish reason, the prompt's tokens, its fault and pacing.
 */
import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import type { ModelState } from './state';
import { chatMessages, generatePieces, promptTokenCount } from './text';
import { STAND_IN_MODEL_ID, type Fault } from './types';

export interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

export interface Plan {
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

const positiveInt = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;

export function planCompletion(s: ModelState, body: ChatBody, fault: Fault | undefined): Plan {
  const { options } = s;
  const messages = chatMessages(body.messages as unknown[]);
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const wanted = options.script
    ? options.script.length
    : options.outputTokens === 'echo'
      ? Math.max(1, countTokens(lastUser))
      : Math.max(0, Math.floor(options.outputTokens));
  const caps = [positiveInt(body.max_tokens), positiveInt(body.max_completion_tokens)].filter((c) => c !== undefined);
  const cap = caps.length > 0 ? Math.min(...caps) : Infinity;
  const n = Math.min(wanted, cap);
  return {
    id: s.nextId(),
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
}

/** The usage object of a completion that sent `completionTokens`. */
export const usageOf = (p: Plan, completionTokens: number) => ({
  prompt_tokens: p.promptTokens,
  completion_tokens: completionTokens,
  total_tokens: p.promptTokens + completionTokens,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
});
