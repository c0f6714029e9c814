/**
 * OFFLINE STAND-IN for OpenAI's chat completions API and Anthropic's Messages API — dev, tests and benchmarks
 * only, never production. One server speaks both, sharing its options, fault queue, stats and prompt cache; run
 * two instances to give each provider its own faults.
 *
 * OpenAI (`url`): just enough of `POST /v1/chat/completions` (SSE streaming with a final usage chunk, or plain
 * JSON) and `GET /v1/models` for `@ai-sdk/openai`'s `provider.chat(modelId)`, behind a Bearer key.
 * Anthropic (`anthropicUrl`, for `createAnthropic({ baseURL })`): `POST /v1/messages` (SSE events message_start …
 * message_stop, or one JSON message) and `GET /v1/models`, behind `x-api-key` + `anthropic-version`, with the body
 * checked as strictly as Anthropic does (model, max_tokens, messages from a user turn, system, content blocks) and
 * Anthropic-shaped errors (`{"type":"error","error":{"type":…}}`, a `request-id` header).
 *
 * The generated text is deterministic, readable words taken from the last user message, one o200k token per
 * content chunk (delta), so the output tokens reported are exactly `countTokens(text actually sent)` — even when
 * a fault or a client abort cuts the stream short. A repeated prompt prefix of 1,024+ tokens is reported as cached
 * (1,024, then steps of 128; cache.ts): OpenAI's `prompt_tokens_details.cached_tokens` (inside prompt_tokens),
 * Anthropic's `cache_read_input_tokens` (apart from input_tokens, as Anthropic counts). For the models marked as
 * reasoning (`reasoningModels`, OpenAI only), `completion_tokens_details.reasoning_tokens` inside
 * `completion_tokens`. Faults (HTTP status, error chunk/event mid-stream, dropped socket, slow first token) can be
 * injected for the next N completion requests of either protocol; a `script` streams given pieces instead.
 *
 * Standalone: `tsx standins/model/main.ts --port 0 [--tokens-per-second N] [--first-token-ms N]
 * [--output-tokens N|echo]` prints `{"url": ..., "anthropicUrl": ..., "port": ...}` on one line and exits on
 * SIGTERM/SIGINT.
 *
 * Layout: state.ts (options, fault queue, stats), text.ts (messages, token counts, generated pieces), plan.ts
 * (what one completion sends, either protocol), cache.ts (prompt prefixes seen), stream.ts (OpenAI SSE or JSON,
 * faults mid-stream), anthropic-stream.ts (the same for Anthropic), routes/chat-completions.ts, routes/messages.ts,
 * http.ts (OpenAI-shaped answers), anthropic-http.ts (Anthropic-shaped ones), server.ts (start, dispatch and the
 * ModelServer handle), main.ts (standalone).
 */
export { startModelServer } from './server';
export { generatePieces } from './text';
export {
  STAND_IN_ANTHROPIC_MODEL_ID,
  STAND_IN_MODEL_ID,
  type Fault,
  type ModelServer,
  type ModelServerOptions,
  type ModelServerStats,
} from './types';
