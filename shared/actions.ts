/**
 * What each action does and how long its answer may be: its instruction to the model and its output-token
 * cap, which bounds both cost and the quota reservation. Shared: the API reserves with these caps, and the
 * extension's estimate (extension/lib/estimate.ts) shows the same maximum. Pure: no I/O.
 */
import { PLATFORM_CHAR_LIMITS, type Platform, type RewriteRequest } from './contract';

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.ceil(n)));

/** ~3 characters per token is a safe (generous) bound for English and most Latin-script text. */
const tokensForChars = (chars: number) => Math.ceil(chars / 3);

export interface ActionSpec {
  instruction: (r: RewriteRequest) => string;
  /** Maximum output tokens given the input's token count. */
  outputCap: (inputTokens: number, r: RewriteRequest) => number;
}

export const ACTION_SPECS: Record<RewriteRequest['action'], ActionSpec> = {
  rewrite: {
    instruction: () =>
      'Rewrite the text to be clearer and more compelling while keeping its meaning, facts and approximate length.',
    outputCap: (n) => clamp(n * 1.5 + 64, 256, 8000),
  },
  shorten: {
    instruction: () => 'Shorten the text to about half its length, keeping the key message, facts and call to action.',
    outputCap: (n) => clamp(n * 0.8 + 32, 128, 5000),
  },
  expand: {
    instruction: () =>
      'Expand the text with relevant detail, benefits and an engaging flow, to about twice its length. Do not invent facts such as prices, numbers or names.',
    outputCap: (n) => clamp(n * 2.5 + 128, 512, 12000),
  },
  tone: {
    instruction: (r) => `Rewrite the text in a ${r.tone} tone, keeping its meaning, facts and approximate length.`,
    outputCap: (n) => clamp(n * 1.5 + 64, 256, 8000),
  },
  product_description: {
    instruction: () =>
      'Turn the text into a persuasive product description of 80 to 150 words: a hook, the key benefits, and a short call to action. Do not invent specifications.',
    outputCap: () => 400,
  },
  social_post: {
    instruction: (r) => {
      const platform = r.platform as Platform;
      const limit = PLATFORM_CHAR_LIMITS[platform];
      return `Turn the text into one ${platformName(platform)} post of at most ${limit} characters including hashtags and emoji, in the platform's usual style. Stay under the limit.`;
    },
    outputCap: (_n, r) => clamp(tokensForChars(PLATFORM_CHAR_LIMITS[r.platform as Platform]), 64, 1200),
  },
};

function platformName(p: Platform): string {
  return { x: 'X (Twitter)', linkedin: 'LinkedIn', instagram: 'Instagram', facebook: 'Facebook' }[p];
}

/** The most tokens the model may write for this request, given its prompt's token count. */
export function outputTokenCap(r: RewriteRequest, inputTokens: number): number {
  return ACTION_SPECS[r.action].outputCap(inputTokens, r);
}
