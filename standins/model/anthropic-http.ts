/**
 * Anthropic-shaped answers: every response carries a `request-id` header (`req_…`), errors are
 * `{"type":"error","error":{"type":…,"message":…},"request_id":…}` with the error type Anthropic uses for the
 * status.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** https://docs.anthropic.com/en/api/errors: the error type of each HTTP status. */
const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export const anthropicErrorType = (status: number): string =>
  ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');

export const newRequestId = () => `req_standin${randomBytes(12).toString('hex')}`;

/** Headers every Anthropic answer has. */
export const anthropicHeaders = (requestId: string) => ({ 'request-id': requestId });

export function sendAnthropicJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...anthropicHeaders(requestId),
    // Anthropic's own SDKs retry on this header; it says what its status implies.
    ...(status >= 400
      ? { 'x-should-retry': String(status === 408 || status === 409 || status === 429 || status >= 500) }
      : {}),
  });
  res.end(text);
}

export function sendAnthropicError(
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string = newRequestId(),
  type: string = anthropicErrorType(status),
): void {
  sendAnthropicJson(res, status, { type: 'error', error: { type, message }, request_id: requestId }, requestId);
}
