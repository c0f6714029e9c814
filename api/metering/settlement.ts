/**
 * What one request actually used, decided purely from how its stream ended:
 * - finished with provider usage → the provider's numbers (what we are billed);
 * - aborted by the client, failed mid-stream, or finished without a usage chunk → our estimate of the
 *   prompt plus our own count of the tokens that were streamed (the provider bills those too).
 */
export interface StreamOutcome {
  status: 'completed' | 'aborted' | 'error';
  providerUsage?: {
    inputTokens: number | undefined;
    outputTokens: number | undefined;
    /** Of the input, tokens read from the provider's prompt cache (AI SDK `inputTokenDetails.cacheReadTokens`). */
    cachedInputTokens?: number | undefined;
    /** Of the output, reasoning tokens (AI SDK `outputTokenDetails.reasoningTokens`). */
    reasoningTokens?: number | undefined;
  };
  estimatedInputTokens: number;
  countedOutputTokens: number;
}

export interface UsageToCharge {
  inputTokens: number;
  outputTokens: number;
  source: 'provider' | 'counted';
}

const valid = (n: number | undefined): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

export function usageToCharge(o: StreamOutcome): UsageToCharge {
  const u = o.providerUsage;
  if (o.status === 'completed' && u && valid(u.inputTokens) && valid(u.outputTokens)) {
    return { inputTokens: Math.round(u.inputTokens), outputTokens: Math.round(u.outputTokens), source: 'provider' };
  }
  return { inputTokens: o.estimatedInputTokens, outputTokens: o.countedOutputTokens, source: 'counted' };
}

/** What the provider's usage details said that could not be trusted as is. */
export type UsageAnomaly = 'cached_invalid' | 'cached_over_input' | 'reasoning_invalid' | 'reasoning_over_output';

/** The breakdown of charged tokens that prices them (never what the user is charged: that is input + output). */
export interface TokenDetails {
  /** Of `inputTokens`, read from the provider's cache: priced at the cached price. */
  cachedInputTokens: number;
  /** Of `outputTokens`, reasoning: priced as output (already in it, never added). */
  reasoningTokens: number;
  anomalies: UsageAnomaly[];
}

/**
 * The cached-input and reasoning breakdown of the charged usage. Both are subsets (cached ⊆ input, reasoning
 * ⊆ output), as @ai-sdk/openai reports them (`inputTokens` = prompt_tokens, cached included). LiteLLM's
 * cached-token bugs (BerriAI/litellm #6215, #11789, #14849) came from treating them as extra tokens or
 * subtracting them twice: here a count is only ever clamped into its total. Counts we made ourselves (abort,
 * error, no usage) have no details: everything at full price. A detail that is not a count is 0 (full price),
 * one larger than its total is clamped; both are flagged.
 */
export function tokenDetails(o: StreamOutcome, charged: UsageToCharge): TokenDetails {
  const anomalies: UsageAnomaly[] = [];
  if (charged.source !== 'provider') return { cachedInputTokens: 0, reasoningTokens: 0, anomalies };
  const part = (n: number | undefined, total: number, invalid: UsageAnomaly, over: UsageAnomaly): number => {
    if (n === undefined) return 0;
    if (!valid(n)) {
      anomalies.push(invalid);
      return 0;
    }
    const whole = Math.round(n);
    if (whole <= total) return whole;
    anomalies.push(over);
    return total;
  };
  const u = o.providerUsage;
  return {
    cachedInputTokens: part(u?.cachedInputTokens, charged.inputTokens, 'cached_invalid', 'cached_over_input'),
    reasoningTokens: part(u?.reasoningTokens, charged.outputTokens, 'reasoning_invalid', 'reasoning_over_output'),
    anomalies,
  };
}

/** Reservation for a request: the prompt plus the action's output cap; the smallest useful grant keeps room for a short answer. */
export function reservationFor(inputTokens: number, outputCap: number): { want: number; minGrant: number } {
  return { want: inputTokens + outputCap, minGrant: inputTokens + Math.min(outputCap, 64) };
}
