/**
 * Token counting with the o200k encoding used by the gpt-4o family. Used to reserve quota before
 * a request (input) and to charge what was actually streamed when the provider reports no usage
 * (client abort, mid-stream error).
 */
import { countTokens, encodeChat } from 'gpt-tokenizer/model/gpt-4o';
import type { ChatMessage } from './prompts';

/** Prompt tokens of a chat request, including the chat format's per-message overhead. */
export function countChatTokens(messages: ChatMessage[]): number {
  return encodeChat(messages).length;
}

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}
