/**
 * API errors as plain sentences with the next step, for the result panel. Pure and unit-tested.
 * Codes come from shared/contract.ts (ERROR_STATUS) plus the extension's own (protocol.ts).
 */
import type { ErrorMessage } from './protocol';

export type NextStep = 'sign_in' | 'upgrade' | 'wait' | 'retry' | 'shorten' | 'options' | 'reload';

export interface Explained {
  sentence: string;
  next: NextStep | null;
  /** For `wait`: seconds until Try again can succeed. */
  waitSeconds?: number;
}

const dateOf = (iso: string | undefined): string | null => {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? null
    : d.toLocaleDateString('en-US', { month: 'long', day: 'numeric', timeZone: 'UTC' });
};

export function explainError(
  e: Pick<ErrorMessage, 'status' | 'code' | 'message' | 'retryAfterSeconds' | 'periodEnd'>,
): Explained {
  switch (e.code) {
    case 'unauthenticated':
      return {
        sentence: 'You are not signed in to Redraft. Sign in from the Redraft button in the toolbar, then try again.',
        next: 'sign_in',
      };
    case 'quota_exhausted': {
      const on = dateOf(e.periodEnd);
      return {
        sentence: `You have used all your tokens for this period${on ? `; they reset on ${on}` : ''}. Upgrade your plan from the Redraft button to keep rewriting now.`,
        next: 'upgrade',
      };
    }
    case 'text_too_long':
    case 'payload_too_large':
      return {
        sentence: 'This selection is too long to rewrite in one go. Select a shorter passage and try again.',
        next: 'shorten',
      };
    case 'rate_limited': {
      const s = Math.max(1, Math.ceil(e.retryAfterSeconds ?? 30));
      return {
        sentence: `You are rewriting faster than your plan allows. Wait ${s} second${s === 1 ? '' : 's'}, then try again.`,
        next: 'wait',
        waitSeconds: s,
      };
    }
    case 'metering_unavailable':
      return {
        sentence: 'Redraft cannot check your balance right now, so nothing was run or charged. Try again in a minute.',
        next: 'retry',
      };
    case 'model_unavailable':
      return {
        sentence: 'The AI model did not respond, and nothing was charged. Try again in a moment.',
        next: 'retry',
      };
    case 'duplicate_request':
      return { sentence: 'This rewrite was already run. Press Try again to run it once more.', next: 'retry' };
    case 'network':
      return {
        sentence:
          'Redraft could not reach its server. Check your connection, or the API address in Redraft’s options, then try again.',
        next: 'options',
      };
    case 'stream_interrupted':
      return {
        sentence:
          'The rewrite stopped partway through; you were charged only for the text shown. Try again for a full result.',
        next: 'retry',
      };
    case 'bad_message':
      return { sentence: 'This page has an outdated copy of Redraft. Reload the page and try again.', next: 'reload' };
    case 'invalid_request':
      return { sentence: `Redraft could not send this selection (${e.message || 'invalid request'}).`, next: null };
    default:
      if (e.status === 503)
        return {
          sentence: 'Redraft is temporarily unavailable, and nothing was charged. Try again in a minute.',
          next: 'retry',
        };
      return { sentence: 'Something went wrong on Redraft’s side, and nothing was charged. Try again.', next: 'retry' };
  }
}
