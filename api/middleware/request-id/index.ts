/**
 * Every request gets an id of ours: Hono's `requestId` sets `c.var.requestId` (a random UUID) and the
 * X-Request-Id response header. A client's own X-Request-Id is not taken (the id names our log line); a
 * rewrite replaces it with its body's requestId (api/routes/rewrite.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { requestId as honoRequestId } from 'hono/request-id';

export const REQUEST_ID_HEADER = 'X-Request-Id';

export function requestId(): MiddlewareHandler {
  // headerName '': the incoming header is ignored, and the answer's header is set here instead.
  const assign = honoRequestId({ headerName: '' });
  return (c, next) =>
    assign(c, async () => {
      c.header(REQUEST_ID_HEADER, c.get('requestId'));
      await next();
    });
}
