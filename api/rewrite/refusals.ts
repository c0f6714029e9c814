/**
 * The answers of a rewrite that is not served, each an AppError with the message the user reads.
 */
import { AppError } from '../errors';
import type { Reservation } from '../metering/quota';

export const styleNotFound = (styleId: string | undefined) =>
  new AppError(
    'style_not_found',
    `You have no saved style "${styleId}". Pick one from GET /v1/styles, or send the request without styleId.`,
  );

export function rateLimited(what: string, retryAfter: number): AppError {
  return new AppError(
    'rate_limited',
    `Too many rewrites: the limit is ${what} per minute. Try again in ${retryAfter} s.`,
    {
      details: { retryAfterSeconds: retryAfter },
      headers: { 'Retry-After': String(retryAfter) },
    },
  );
}

export const duplicateRequest = (requestId: string, state: string) =>
  new AppError(
    'duplicate_request',
    `Request ${requestId} was already ${state === 'settled' ? 'completed and charged' : 'started'}; ` +
      'send a new requestId to run it again.',
  );

export function quotaExhausted(q: Extract<Reservation, { reason: 'exhausted' }>): AppError {
  const end = new Date(q.period.end).toISOString();
  const used = q.used.toLocaleString('en-US');
  const upgrade = q.plan === 'free' ? '; upgrade to Pro for more' : '';
  return new AppError(
    'quota_exhausted',
    `You have used your ${q.cap.toLocaleString('en-US')} tokens for this period (${used} used). ` +
      `It resets on ${end.slice(0, 10)}${upgrade}.`,
    { details: { periodEnd: end } },
  );
}

export const cancelledBeforeAnswer = () =>
  new AppError('model_unavailable', 'The request was cancelled before the model answered. Nothing was charged.');

/**
 * Every model of the chain failed before its first token, or is left out by its circuit breaker: 503, nothing
 * charged. `retryAfter`: seconds until a breaker lets a trial through (at least 1).
 */
export function noModelAnswered(tried: string[], retryAfter: number, cause?: unknown): AppError {
  const what = tried.length > 1 ? `None of the ${tried.length} AI models answered` : 'The AI model did not answer';
  return new AppError('model_unavailable', `${what} right now. Nothing was charged. Try again in ${retryAfter} s.`, {
    cause,
    details: { retryAfterSeconds: retryAfter },
    headers: { 'Retry-After': String(retryAfter) },
  });
}
