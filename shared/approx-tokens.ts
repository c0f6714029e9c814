/**
 * A cheap estimate of o200k tokens (no tokenizer): Latin-script characters at ~4.6 per token (o200k on English
 * marketing copy), every other character (CJK, Cyrillic, emoji…) one token each — an overestimate for some
 * scripts. The extension shows it before an action runs; the API sizes a long text's output cap with it (its
 * reservation uses a proven upper bound instead). tests/unit/extension/estimate.test.ts measures it. Pure.
 */
export const TEXT_CHARS_PER_TOKEN = 4.6;

/** Approximate o200k tokens of user text: Latin-script characters at 4.6 per token, others one each. */
export function approxTokens(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the Latin range starts at U+0000 on purpose
  const other = text.match(/[^\u0000-\u02ff\u2000-\u206f]/gu)?.length ?? 0;
  return Math.ceil((text.length - other) / TEXT_CHARS_PER_TOKEN + other);
}
