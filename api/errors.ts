/**
 * Typed errors: thrown anywhere, mapped to HTTP once at the edge (app.onError). Like Hono's HTTPException,
 * the constructor takes what goes with the error in one options object, the cause included.
 */
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '../shared/contract';

export interface AppErrorOptions {
  /** What went wrong underneath (logged for 5xx answers, never sent). */
  cause?: unknown;
  /** More fields of the error body besides code and message (e.g. retryAfterSeconds, issues). */
  details?: Omit<ErrorBody['error'], 'code' | 'message'>;
  /** Response headers that go with the error (e.g. Retry-After). */
  headers?: Record<string, string>;
}

export class AppError extends Error {
  readonly details: Omit<ErrorBody['error'], 'code' | 'message'>;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.details = opts.details ?? {};
    this.headers = opts.headers ?? {};
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** Redis (which guards money) failed or timed out: refuse the request. */
export const meteringUnavailable = (cause?: unknown) =>
  new AppError(
    'metering_unavailable',
    'Usage metering is unavailable right now, so no request can be served. Try again shortly.',
    { cause },
  );
