/**
 * The language model behind an interface the rewrite route can stream from. Production: OpenAI via
 * @ai-sdk/openai's chat-completions provider (any OpenAI-compatible server works via OPENAI_BASE_URL).
 */
import { createOpenAI } from '@ai-sdk/openai';
import type { LanguageModel } from 'ai';

export function createChatModel(opts: { id: string; apiKey: string; baseURL: string | undefined }): LanguageModel {
  const provider = createOpenAI({ apiKey: opts.apiKey, ...(opts.baseURL ? { baseURL: opts.baseURL } : {}) });
  return provider.chat(opts.id);
}
