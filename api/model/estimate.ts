/**
 * Token counting with the o200k encoding used by the gpt-4o family. Used to reserve quota before
 * a request (input) and to charge what was actually streamed when the provider reports no usage
 * (client abort, mid-stream error).
 *
 * Cost (`npm run bench`): a prompt is counted message by message — the chat format adds a fixed number of
 * tokens per message around each message's own tokens (tests/unit/token-bound.test.ts checks the sum against
 * `encodeChat`) — and our system prompts, which repeat, are counted once each. A user message longer than
 * EXACT_COUNT_MAX_CHARS is reserved with an upper bound, its UTF-8 bytes (every o200k token is at least one
 * byte), instead of being counted before the model call; the exact count is made only if settlement needs our
 * count (the provider reported no usage) — the user is never charged the bound.
 */
import { countTokens, encodeChat } from 'gpt-tokenizer/model/gpt-4o';
import { buildMessages, withoutUserExtras, type ChatMessage, type UserExtras } from '../../shared/prompts';
import { outputTokenCap } from '../../shared/actions';
import { approxTokens } from '../../shared/approx-tokens';
import type { RewriteRequest } from '../../shared/contract';

/** Prompt tokens of a chat request, including the chat format's per-message overhead. */
export function countChatTokens(messages: ChatMessage[]): number {
  return encodeChat(messages).length;
}

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/** User content longer than this (UTF-16 code units) is reserved with tokenUpperBound, not counted first. */
export const EXACT_COUNT_MAX_CHARS = 5000;

/**
 * An upper bound on the o200k tokens of `text`: its UTF-8 length. o200k is a byte-level BPE: its tokens split the
 * text's UTF-8 bytes, each token at least one byte (a lone surrogate is encoded as U+FFFD, 3 bytes).
 */
export function tokenUpperBound(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4; // a surrogate pair: one 4-byte code point
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The chat format's tokens around the messages (their roles, delimiters and the reply's start), by role sequence. */
const overheads = new Map<string, number>();
function chatOverhead(messages: ChatMessage[]): number {
  const key = messages.map((m) => m.role).join(',');
  let n = overheads.get(key);
  if (n === undefined) {
    n = countChatTokens(messages.map((m) => ({ role: m.role, content: '' })));
    overheads.set(key, n);
  }
  return n;
}

/** Our system prompts repeat (one per action and option): each is counted once. */
const SYSTEM_CACHE_MAX = 256;
const systemCounts = new Map<string, number>();
function systemTokens(content: string): number {
  let n = systemCounts.get(content);
  if (n === undefined) {
    n = countTextTokens(content);
    if (systemCounts.size >= SYSTEM_CACHE_MAX) systemCounts.clear();
    systemCounts.set(content, n);
  }
  return n;
}

/**
 * Tokens of a prompt: exact, or an upper bound when a user message is long (`bounded`). `likely`: the exact
 * count, or with the long messages estimated (approxTokens) instead of bounded — what sizes the output cap, so
 * a long text's cap is about what the exact count gives it (the bound is up to 4× the count), never the bound's.
 */
function promptTokens(messages: ChatMessage[], exact: boolean): { tokens: number; likely: number; bounded: boolean } {
  let tokens = chatOverhead(messages);
  let likely = tokens;
  let bounded = false;
  for (const m of messages) {
    if (m.role === 'system') {
      const n = systemTokens(m.content);
      tokens += n;
      likely += n;
    }
    // Text that may hold a special token (`<|…|>`) is counted exactly, which refuses it, as before any bound.
    else if (exact || m.content.length <= EXACT_COUNT_MAX_CHARS || m.content.includes('<|')) {
      const n = countTextTokens(m.content);
      tokens += n;
      likely += n;
    } else {
      tokens += tokenUpperBound(m.content);
      likely += approxTokens(m.content);
      bounded = true;
    }
  }
  return { tokens, likely, bounded };
}

export interface PromptPlan {
  messages: ChatMessage[];
  /**
   * Prompt tokens, the user's instruction and saved style included: reserved before the model runs. Exact, or an
   * upper bound when the user's content is long (`bounded`).
   */
  inputTokens: number;
  /** Whether inputTokens is an upper bound (then exactInputTokens counts). */
  bounded: boolean;
  /** The exact prompt tokens (counted on the first call when bounded): what we charge when we count. */
  exactInputTokens: () => number;
  /**
   * The action's output cap, from the prompt without the instruction and style (they never raise it); for a long
   * (bounded) text, from its estimate, not its bound.
   */
  outputCap: number;
}

/**
 * The messages of one rewrite, their token count (or its bound, `exact: false` and long content) and the action's
 * output cap. `exact: true` counts every token (a reservation the bound could not get is asked again with it).
 */
export function planPrompt(r: RewriteRequest, extras: UserExtras = {}, opts: { exact?: boolean } = {}): PromptPlan {
  const messages = buildMessages(r, extras);
  const { tokens: inputTokens, likely, bounded } = promptTokens(messages, opts.exact ?? false);
  const extra = r.instruction !== undefined || r.continuation !== undefined || extras.styleInstructions !== undefined;
  const capBasis = extra ? promptTokens(buildMessages(withoutUserExtras(r)), opts.exact ?? false).likely : likely;
  let exact: number | undefined = bounded ? undefined : inputTokens;
  return {
    messages,
    inputTokens,
    bounded,
    exactInputTokens: () => {
      exact ??= promptTokens(messages, true).tokens;
      return exact;
    },
    outputCap: outputTokenCap(r, capBasis),
  };
}
