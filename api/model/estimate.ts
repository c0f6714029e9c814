/**
 * Token counting with the o200k encoding used by the gpt-4o family. Used to reserve quota before
 * a request (input) and to charge what was actually streamed when the provider reports no usage
 * (client abort, mid-stream error).
 */
import { countTokens, encodeChat } from 'gpt-tokenizer/model/gpt-4o';
import { buildMessages, withoutUserExtras, type ChatMessage, type UserExtras } from '../../shared/prompts';
import { outputTokenCap } from '../../shared/actions';
import type { RewriteRequest } from '../../shared/contract';

/** Prompt tokens of a chat request, including the chat format's per-message overhead. */
export function countChatTokens(messages: ChatMessage[]): number {
  return encodeChat(messages).length;
}

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

export interface PromptPlan {
  messages: ChatMessage[];
  /** Prompt tokens, the user's instruction and saved style included: reserved before the model runs, and charged. */
  inputTokens: number;
  /** The action's output cap, from the prompt without the instruction and style (they never raise it). */
  outputCap: number;
}

/** The messages of one rewrite, their token count and the action's output cap. */
export function planPrompt(r: RewriteRequest, extras: UserExtras = {}): PromptPlan {
  const messages = buildMessages(r, extras);
  const inputTokens = countChatTokens(messages);
  const extra = r.instruction !== undefined || r.continuation !== undefined || extras.styleInstructions !== undefined;
  const capBasis = extra ? countChatTokens(buildMessages(withoutUserExtras(r))) : inputTokens;
  return { messages, inputTokens, outputCap: outputTokenCap(r, capBasis) };
}
