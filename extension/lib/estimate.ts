/**
 * A cheap client-side token estimate, shown on the toolbar before an action runs. The real count
 * (o200k, gpt-tokenizer) happens on the server; shipping a tokenizer to every page would add >1 MB.
 *
 * - Input: the server's own prompt (`buildMessages`, pure): its fixed instructions at ~4.4 characters per
 *   token, the user's text at ~4.6 (o200k on English marketing copy), characters beyond Latin scripts
 *   (CJK, Cyrillic, emoji…) at one token each (an overestimate for some scripts), plus the chat format's
 *   overhead. tests/unit/extension/estimate.test.ts measures it against the real tokenizer.
 * - Most: input + the action's output cap, the same function the API reserves with (`outputTokenCap`).
 *   That is what is held from the balance while the rewrite runs; only actual use is charged.
 * - Likely: input + a typical output length per action (an approximation, capped by the maximum).
 */
import { approxTokens } from '../../shared/approx-tokens';
import { buildMessages } from '../../shared/prompts';

export { approxTokens };
import { outputTokenCap } from '../../shared/actions';
import type { Action, Platform, Tone } from '../../shared/contract';

export interface EstimateInput {
  text: string;
  action: Action;
  tone?: Tone | undefined;
  platform?: Platform | undefined;
}

export interface Estimate {
  inputTokens: number;
  likelyTokens: number;
  maxTokens: number;
}

const PROMPT_CHARS_PER_TOKEN = 4.4;
const PER_MESSAGE_OVERHEAD = 3;

export function estimateTokens(r: EstimateInput): Estimate {
  const req = {
    text: r.text,
    action: r.action,
    ...(r.action === 'tone' ? { tone: r.tone ?? 'professional' } : {}),
    ...(r.action === 'social_post' ? { platform: r.platform ?? 'linkedin' } : {}),
  } as const;
  const messages = buildMessages(req);
  const promptChars = messages.reduce((n, m) => n + m.content.length, 0) - r.text.length;
  const inputTokens =
    Math.ceil(promptChars / PROMPT_CHARS_PER_TOKEN) + approxTokens(r.text) + messages.length * PER_MESSAGE_OVERHEAD + 3;
  const cap = outputTokenCap(req, inputTokens);
  const textTokens = approxTokens(r.text);
  const typical: Record<Action, number> = {
    rewrite: textTokens,
    tone: textTokens,
    shorten: Math.ceil(textTokens / 2),
    expand: textTokens * 2,
    product_description: 160, // 80–150 words
    social_post: Math.max(40, Math.min(textTokens, cap)),
  };
  const likely = inputTokens + Math.min(cap, Math.max(1, typical[r.action]));
  return { inputTokens, likelyTokens: likely, maxTokens: inputTokens + cap };
}
