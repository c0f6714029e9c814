/**
 * OpenAI-style prompt caching, as the stand-in models it: a prompt of 1,024 tokens or more whose prefix was seen
 * before (same model) reports that prefix as `prompt_tokens_details.cached_tokens`, in 1,024 tokens then steps of
 * 128 (what OpenAI documents). Each prompt's prefixes at those boundaries are remembered as a chain of hashes
 * (one per 128-token block, so a prompt costs one pass), up to `maxBlocks`, oldest forgotten first.
 */
import { createHash } from 'node:crypto';

export const CACHE_MIN_TOKENS = 1024;
export const CACHE_STEP_TOKENS = 128;

export class PromptCache {
  private readonly seen = new Map<string, true>();

  constructor(private readonly maxBlocks = 100_000) {}

  /** The cached tokens of this prompt (0 below 1,024 or never seen), then remembers its prefixes. */
  lookupAndRemember(model: string, tokens: readonly number[]): number {
    let cached = 0;
    let hash = createHash('sha1').update(model).digest('hex');
    let from = 0;
    for (let end = CACHE_MIN_TOKENS; end <= tokens.length; end += CACHE_STEP_TOKENS) {
      hash = createHash('sha1').update(hash).update(tokens.slice(from, end).join(',')).digest('hex');
      from = end;
      // A chain hash names its whole prefix: seen means this prompt's first `end` tokens were seen.
      if (this.seen.has(hash)) {
        cached = end;
        this.seen.delete(hash); // refreshed: most recently used last
      }
      this.seen.set(hash, true);
    }
    while (this.seen.size > this.maxBlocks) this.seen.delete(this.seen.keys().next().value!);
    return cached;
  }

  clear(): void {
    this.seen.clear();
  }
}
