/**
 * What one completion will send, decided when its request arrives: the pieces (scripted, or generated from the
 * last user message, cut at `max_tokens`), the finish reason, the prompt's tokens, its fault and pacing. The same
 * plan serves both protocols (OpenAI's chat completions, Anthropic's messages: routes/).
 */
import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import type { ModelState } from './state';
import { type ChatMessage, chatMessages, generatePieces, promptTokens } from './text';
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
  /** Of promptTokens, those a repeated prefix serves from the prompt cache. */
  cachedTokens: number;
  /** Reasoning tokens before the answer (reasoning models), counted in completion_tokens. */
  reasoningTokens: number;
  includeUsage: boolean;
  fault: Fault | undefined;
  tokensPerSecond: number;
  firstTokenDelayMs: number;
}

const positiveInt = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;

/** What a completion request asks for, whatever protocol it came in. */
export interface PlanRequest {
  model: string;
  /** The prompt as chat messages (a top-level system prompt first, as role 'system'). */
  messages: ChatMessage[];
  /** The output cap (max_tokens), Infinity for none. */
  cap: number;
  /** Whether the model reasons before answering (OpenAI's reasoning models). */
  reasoning: boolean;
  includeUsage: boolean;
}

/** OpenAI's chat completions body, read into a PlanRequest. */
export function planCompletion(s: ModelState, body: ChatBody, fault: Fault | undefined): Plan {
  const model = typeof body.model === 'string' ? body.model : STAND_IN_MODEL_ID;
  const caps = [positiveInt(body.max_tokens), positiveInt(body.max_completion_tokens)].filter((c) => c !== undefined);
  const request: PlanRequest = {
    model,
    messages: chatMessages(body.messages as unknown[]),
    cap: caps.length > 0 ? Math.min(...caps) : Infinity,
    reasoning: s.options.reasoningModels.includes(model),
    includeUsage: body.stream_options?.include_usage === true,
  };
  return planFor(s, request, fault, s.nextId());
}

export function planFor(s: ModelState, r: PlanRequest, fault: Fault | undefined, id: string): Plan {
  const { options } = s;
  const { model, messages, cap } = r;
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const wanted = options.script
    ? options.script.length
    : options.outputTokens === 'echo'
      ? Math.max(1, countTokens(lastUser))
      : Math.max(0, Math.floor(options.outputTokens));
  // A reasoning model thinks first, within max_tokens (as OpenAI's max_completion_tokens): the answer gets the rest.
  const reasoningTokens = r.reasoning ? Math.min(Math.max(0, Math.floor(options.reasoningTokens)), cap) : 0;
  const n = Math.min(wanted, cap - reasoningTokens);
  const prompt = promptTokens(messages);
  return {
    id,
    created: Math.floor(Date.now() / 1000),
    model,
    pieces: options.script ? options.script.slice(0, n) : generatePieces(lastUser, n),
    finishReason: n < wanted ? 'length' : 'stop',
    promptTokens: prompt.length,
    cachedTokens: options.promptCache ? s.promptCache.lookupAndRemember(model, prompt) : 0,
    reasoningTokens,
    includeUsage: r.includeUsage,
    fault,
    tokensPerSecond: options.tokensPerSecond,
    firstTokenDelayMs: options.firstTokenDelayMs + (fault?.kind === 'slow-first-token' ? fault.delayMs : 0),
  };
}

/**
 * The usage object of a completion that sent `sentTokens` of answer, as OpenAI reports it: cached tokens are part
 * of prompt_tokens, reasoning tokens part of completion_tokens.
 */
export const usageOf = (p: Plan, sentTokens: number) => ({
  prompt_tokens: p.promptTokens,
  completion_tokens: sentTokens + p.reasoningTokens,
  total_tokens: p.promptTokens + sentTokens + p.reasoningTokens,
  prompt_tokens_details: { cached_tokens: p.cachedTokens, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: p.reasoningTokens,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
});
