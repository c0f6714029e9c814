/**
 * Every answer is about one user or one moment: never stored by a cache (`Cache-Control: no-store`, except
 * on CORS preflights), never sniffed as another type (`X-Content-Type-Options: nosniff`). A route that sets
 * either header itself keeps its own.
 */
import type { MiddlewareHandler } from 'hono';

export function noStore(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (!c.res.headers.has('X-Content-Type-Options')) c.res.headers.set('X-Content-Type-Options', 'nosniff');
    if (c.req.method !== 'OPTIONS' && !c.res.headers.has('Cache-Control'))
      c.res.headers.set('Cache-Control', 'no-store');
  };
}
