/**
 * POST /v1/rewrite — parse the request, run it (api/rewrite/service.ts: reserve → stream → settle or
 * release), answer with the stream and the rate and balance headers.
 */
import { Hono, type Context } from 'hono';
import { HEADERS, REWRITE_EVENTS_TYPE, RewriteRequestSchema } from '../../shared/contract';
import { AppError } from '../errors';
import type { AppEnv } from '../app-env';
import type { Config } from '../config/env';
import type { RateWindow, RewriteService } from '../rewrite/service';
import { jsonBody } from '../middleware/json-body';
import { validate } from '../middleware/json-body/validate';

export interface RewriteRouteDeps {
  rewrites: RewriteService;
  limits: Pick<Config['limits'], 'maxTextChars' | 'maxBodyBytes'>;
  /** Declare the stream `Transfer-Encoding: chunked` (AppOptions.chunkedStreams: Node only). */
  chunkedStream?: boolean;
}

export function rewriteRoutes(d: RewriteRouteDeps) {
  const app = new Hono<AppEnv>();

  app.post('/v1/rewrite', jsonBody({ maxBytes: d.limits.maxBodyBytes }), validate(RewriteRequestSchema), async (c) => {
    const req = c.req.valid('json');
    if (req.text.length > d.limits.maxTextChars) {
      throw new AppError(
        'text_too_long',
        `The selected text is ${req.text.length} characters; the limit is ${d.limits.maxTextChars}. Select a shorter passage.`,
      );
    }
    const requestId = req.requestId ?? c.get('requestId');
    c.set('requestId', requestId);
    c.header(HEADERS.requestId, requestId);

    // Plain text by default; Server-Sent Events (pieces, then how it finished) for clients that ask.
    const events = (c.req.header('Accept') ?? '').includes(REWRITE_EVENTS_TYPE);
    const result = await d.rewrites.run({
      userId: c.get('user').userId,
      requestId,
      req,
      signal: c.req.raw.signal,
      format: events ? 'events' : 'text',
    });
    if (result.window) rateHeaders(c, result.window);
    if (result.tokensRemaining !== undefined) c.header(HEADERS.tokensRemaining, String(result.tokensRemaining));
    if (!result.ok) throw result.error;
    c.header(HEADERS.model, result.model);
    // Runtimes that stop work when the response ends (Workers) are asked to wait for the settlement,
    // registered now, while the request is certainly alive (a client abort may come later). Node (the chunked
    // streams are its own) has no execution context: asking for one throws, an Error with its stack per request.
    if (!d.chunkedStream) waitUntil(c, result.settled);
    c.set('deferLog', true); // the settlement writes this request's log line, with its tokens
    // c.body adds the headers set above (c.header) to these. Reading c.res here would create a response early,
    // and Hono would then copy ours into a new one (on @hono/node-server: a full Response object, the stream
    // taken through it, and the head after a read-ahead unless chunked).
    return c.body(result.stream, 200, {
      'Content-Type': events ? `${REWRITE_EVENTS_TYPE}; charset=utf-8` : 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...(d.chunkedStream ? { 'Transfer-Encoding': 'chunked' } : {}),
    });
  });

  return app;
}

function rateHeaders(c: Context, w: RateWindow): void {
  c.header(HEADERS.rateLimitLimit, String(w.limit));
  c.header(HEADERS.rateLimitRemaining, String(w.remaining));
  c.header(HEADERS.rateLimitReset, String(w.resetSeconds));
}

/** Workers' `executionCtx.waitUntil` where there is one; on Node the process simply outlives the response. */
function waitUntil(c: Context, p: Promise<unknown>): void {
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    return; // no execution context on this runtime
  }
  ctx.waitUntil(p);
}
