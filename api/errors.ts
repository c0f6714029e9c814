/**
 * Typed errors: thrown anywhere, mapped to HTTP once at the edge (app.onError).
 */
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '../shared/contract';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Omit<ErrorBody['error'], 'code' | 'message'> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

/** Redis (which guards money) failed or timed out: refuse the request. */
export const meteringUnavailable = (cause?: unknown) =>
  Object.assign(new AppError('metering_unavailable', 'Usage metering is unavailable right now, so no request can be served. Try again shortly.'), { cause });

export const modelUnavailable = (cause?: unknown) =>
  Object.assign(new AppError('model_unavailable', 'The AI model is unavailable right now. Nothing was charged. Try again shortly.'), { cause });
