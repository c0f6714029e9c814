/**
 * One retry loop for the whole API: `retry(fn, opts)` calls `fn` until it succeeds, `shouldRetry` says no, or
 * `attempts` calls have failed; between attempts it sleeps `backoff(attempt, err)` ms (attempt 0 is the wait
 * after the first failure). The last failure is thrown as is. `sleep` is injectable (tests never wait).
 */
export interface RetryOptions {
  /** Calls in all, the first included (at least 1). */
  attempts: number;
  /** Milliseconds to wait after failed attempt `attempt` (0-based) before the next one. */
  backoff: (attempt: number, err: unknown) => number;
  /** Whether a failure is worth another attempt (default: every failure is). */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** Told about each failure that is retried, before the wait. */
  onRetry?: (err: unknown, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const wait = opts.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= opts.attempts || (opts.shouldRetry && !opts.shouldRetry(err, attempt))) throw err;
      opts.onRetry?.(err, attempt);
      await wait(opts.backoff(attempt, err));
    }
  }
}

/** Backoff that doubles from `baseMs`: attempt 0 waits `baseMs`, attempt 1 twice that, … */
export const exponential = (baseMs: number) => (attempt: number) => baseMs * 2 ** attempt;
