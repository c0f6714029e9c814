/**
 * What one request actually used, decided purely from how its stream ended:
 * - finished with provider usage → the provider's numbers (what we are billed);
 * - aborted by the client, failed mid-stream, or finished without a usage chunk → our estimate of the
 *   prompt plus our own count of the tokens that were streamed (the provider bills those too).
 */
export interface StreamOutcome {
  status: 'completed' | 'aborted' | 'error';
  providerUsage?: { inputTokens: number | undefined; outputTokens: number | undefined };
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

/** Reservation for a request: the prompt plus the action's output cap; the smallest useful grant keeps room for a short answer. */
export function reservationFor(inputTokens: number, outputCap: number): { want: number; minGrant: number } {
  return { want: inputTokens + outputCap, minGrant: inputTokens + Math.min(outputCap, 64) };
}
