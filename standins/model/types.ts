/** The model stand-in's public types: its options, faults, stats and the handle tests and dev use. */

export type Fault =
  // reply with this HTTP status + an OpenAI- (or Anthropic-) shaped JSON error, before any token
  | { kind: 'status'; status: number; message?: string }
  // send N content chunks, then an OpenAI-style error chunk (Anthropic: an `error` event, overloaded_error), then end
  | { kind: 'error-mid-stream'; afterChunks: number }
  // send N content chunks, then destroy the socket
  | { kind: 'drop-mid-stream'; afterChunks: number }
  // wait before the first chunk
  | { kind: 'slow-first-token'; delayMs: number };

export interface ModelServerOptions {
  port?: number; // 0 = free port
  tokensPerSecond?: number; // streaming speed; 0 or Infinity = as fast as possible. default 0 (fast)
  firstTokenDelayMs?: number; // default 0
  /** Tokens to generate before max_tokens applies; 'echo' (default) ≈ tokens of the last user message. */
  outputTokens?: number | 'echo';
  /**
   * Stream exactly these pieces (one token each) instead of generated words, e.g. a multi-line answer;
   * null = generate.
   */
  script?: string[] | null;
  /**
   * OpenAI-style prompt caching (default on): a repeated prompt prefix of 1,024+ tokens is reported as
   * `prompt_tokens_details.cached_tokens` (1,024, then steps of 128), per model.
   */
  promptCache?: boolean;
  /** Models that reason: their completions add `reasoningTokens` to `completion_tokens` (`completion_tokens_details.reasoning_tokens`). */
  reasoningModels?: string[];
  /** Reasoning tokens per completion of a reasoning model (within max_tokens, before the answer). Default 64. */
  reasoningTokens?: number;
}

export interface ModelServerStats {
  /** Every HTTP request, any route. */
  requests: number;
  /**
   * Every authorized `POST /chat/completions` or `POST /messages` (bad bodies and faulted ones included): "calls
   * made to the model".
   */
  completions: number;
  /** Completions whose whole response (through `[DONE]`, or Anthropic's `message_stop`) was written. */
  completed: number;
  /** Completions the client disconnected from before the end. */
  aborted: number;
  /** Prompt tokens, cached ones included (for Anthropic: input_tokens + cache_read_input_tokens). */
  promptTokens: number;
  /** Tokens actually sent, including those of aborted and faulted completions. */
  completionTokens: number;
  /** Prompt tokens reported as cached. */
  cachedTokens: number;
  /** Reasoning tokens reported (OpenAI reasoning models; Anthropic completions never reason here). */
  reasoningTokens: number;
}

export interface ModelServer {
  url: string; // OpenAI base URL including /v1, e.g. http://127.0.0.1:1234/v1
  /**
   * Anthropic base URL as `createAnthropic({ baseURL })` takes it (it posts to `${baseURL}/messages`), e.g.
   * http://127.0.0.1:1234/v1 — the same server and state as `url`.
   */
  anthropicUrl: string;
  port: number;
  setOptions(o: Partial<ModelServerOptions>): void;
  injectFault(f: Fault, times?: number): void; // the next `times` (default 1) completion requests get this fault
  clearFaults(): void;
  /** Forget every prompt prefix seen (no prompt is cached until it repeats again). */
  clearPromptCache(): void;
  stats: ModelServerStats;
  lastRequestBody: unknown; // the last JSON body received on /chat/completions or /messages
  close(): Promise<void>;
}

export const STAND_IN_MODEL_ID = 'gpt-4o-mini';
/** The model the Anthropic side lists (any model id is answered). */
export const STAND_IN_ANTHROPIC_MODEL_ID = 'claude-haiku-4-5';
