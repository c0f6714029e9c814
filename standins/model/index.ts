/**
 * OFFLINE STAND-IN for OpenAI's chat completions API — dev, tests and benchmarks only, never production.
 *
 * Speaks just enough of `POST /v1/chat/completions` (SSE streaming with a final usage chunk, or plain JSON)
 * and `GET /v1/models` for `@ai-sdk/openai`'s `provider.chat(modelId)`. The generated text is deterministic,
 * readable words taken from the last user message, one o200k token per content chunk, so
 * `usage.completion_tokens` is exactly `countTokens(text actually sent)` — even when a fault or a client
 * abort cuts the stream short. Like OpenAI, it reports a repeated prompt prefix of 1,024+ tokens as
 * `prompt_tokens_details.cached_tokens` (1,024, then steps of 128; cache.ts), and, for the models marked as
 * reasoning (`reasoningModels`), `completion_tokens_details.reasoning_tokens` inside `completion_tokens`. Faults (HTTP status, error chunk mid-stream, dropped socket, slow first
 * token) can be injected for the next N completion requests; a `script` streams given pieces instead.
 *
 * Standalone: `tsx standins/model/main.ts --port 0 [--tokens-per-second N] [--first-token-ms N]
 * [--output-tokens N|echo]` prints `{"url": ...}` on one line and exits on SIGTERM/SIGINT.
 *
 * Layout: state.ts (options, fault queue, stats), text.ts (messages, token counts, generated pieces), plan.ts
 * (what one completion sends), cache.ts (prompt prefixes seen), stream.ts (SSE or JSON, faults mid-stream), routes/chat-completions.ts,
 * http.ts (OpenAI-shaped answers), server.ts (start and the ModelServer handle), main.ts (standalone).
 */
export { startModelServer } from './server';
export { generatePieces } from './text';
export {
  STAND_IN_MODEL_ID,
  type Fault,
  type ModelServer,
  type ModelServerOptions,
  type ModelServerStats,
} from './types';
