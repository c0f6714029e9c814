/**
 * POST /v1/rewrite — the metered path of one rewrite:
 * validate → (rate windows + quota reservation, one Redis round trip) → stream the model → settle.
 */
import { Hono, type Context } from 'hono';
import { HEADERS, REWRITE_EVENTS_TYPE, RewriteRequestSchema, type RewriteRequest } from '../../shared/contract';
import { AppError, meteringUnavailable, modelUnavailable } from '../errors';
import type { AppEnv, Services } from '../context';
import { PROMPT_VERSION } from '../model/prompts';
import { planPrompt } from '../model/estimate';
import { streamModelText, NoFirstToken } from '../model/stream';
import { reservationFor, usageToCharge, type StreamOutcome } from '../metering/settlement';
import { priceListAt, providerCostUsd } from '../config/model-prices';
import type { Period } from '../metering/periods';
import { readJsonBody } from './body';
import { parseBody } from './validate';

export function rewriteRoutes(s: Services) {
  const app = new Hono<AppEnv>();

  app.post('/v1/rewrite', async (c) => {
    const req = parseBody(RewriteRequestSchema, await readJsonBody(c, s.config.limits.maxBodyBytes));
    if (req.text.length > s.config.limits.maxTextChars) {
      throw new AppError('text_too_long', `The selected text is ${req.text.length} characters; the limit is ${s.config.limits.maxTextChars}. Select a shorter passage.`);
    }
    const { userId } = c.get('user');
    const requestId = req.requestId ?? c.get('requestId');
    c.set('requestId', requestId);
    c.header(HEADERS.requestId, requestId);

    // A saved style is the user's own (their hash tag): another user's id is simply not found.
    const style = req.styleId === undefined ? undefined : await s.styles.get(userId, req.styleId).catch((err: unknown) => {
      throw meteringUnavailable(err);
    });
    if (style === null) throw new AppError('style_not_found', `You have no saved style "${req.styleId}". Pick one from GET /v1/styles, or send the request without styleId.`);

    // The instruction and style are in the prompt, so in inputTokens (reserved and charged); the output cap
    // is the action's, computed without them.
    const { messages, inputTokens, outputCap } = planPrompt(req, { styleInstructions: style?.instructions });
    const { want, minGrant } = reservationFor(inputTokens, outputCap);
    const startedAt = s.now();

    // Issued in the same tick: both rate windows and the reservation share one auto-pipelined round trip.
    const attempt = crypto.randomUUID();
    const [rate, reservation] = await Promise.allSettled([s.rateLimits.check(userId, want), s.quota.reserve(userId, requestId, want, minGrant, startedAt, attempt)]);
    const reserved = reservation.status === 'fulfilled' && reservation.value.ok;
    const release = () => (reserved ? releaseWithRetry(s, userId, requestId, attempt, 0) : Promise.resolve());

    if (rate.status === 'rejected' || reservation.status === 'rejected') {
      // The reservation may have been made even if its reply was lost (timeout): release it in the
      // background, by this attempt's nonce, once Redis answers again — never a retry's reservation.
      void releaseWithRetry(s, userId, requestId, attempt, 3);
      throw meteringUnavailable(rate.status === 'rejected' ? rate.reason : (reservation as PromiseRejectedResult).reason);
    }
    const r = rate.value;
    c.header(HEADERS.rateLimitLimit, String(r.limit));
    c.header(HEADERS.rateLimitRemaining, String(Math.max(0, r.remaining)));
    c.header(HEADERS.rateLimitReset, String(Math.max(0, Math.ceil((r.reset - startedAt) / 1000))));
    if (!r.allowed) {
      await release();
      const retryAfter = Math.max(1, Math.ceil((r.reset - s.now()) / 1000));
      const what = r.refusedBy === 'tokens' ? `${s.config.limits.tokensPerMinute} tokens` : `${s.config.limits.requestsPerMinute} requests`;
      throw new AppError('rate_limited', `Too many rewrites: the limit is ${what} per minute. Try again in ${retryAfter} s.`, { retryAfterSeconds: retryAfter }, { 'Retry-After': String(retryAfter) });
    }
    const q = reservation.value;
    if (!q.ok) {
      if (q.reason === 'cancelled') throw meteringUnavailable(new Error('reservation cancelled'));
      if (q.reason === 'duplicate') throw new AppError('duplicate_request', `Request ${requestId} was already ${q.state === 'settled' ? 'completed and charged' : 'started'}; send a new requestId to run it again.`);
      const end = new Date(q.period.end).toISOString();
      throw new AppError('quota_exhausted', `You have used your ${q.cap.toLocaleString('en-US')} tokens for this period (${q.used.toLocaleString('en-US')} used). It resets on ${end.slice(0, 10)}${q.plan === 'free' ? '; upgrade to Pro for more' : ''}.`, { periodEnd: end });
    }
    c.header(HEADERS.tokensRemaining, String(Math.max(0, q.cap - q.usedAfter)));

    let markSettled = () => {};
    const settled = new Promise<void>((resolve) => (markSettled = resolve));
    const cut = new AbortController();
    // The client going away stops the model. Linked by hand and unlinked when done: on Node 22,
    // AbortSignal.any and a listener left on the request's signal each retain memory per request
    // (measured with npm run soak).
    const clientSignal = c.req.raw.signal;
    const onClientGone = () => cut.abort(clientSignal.reason);
    clientSignal.addEventListener('abort', onClientGone, { once: true });
    const unlink = () => clientSignal.removeEventListener('abort', onClientGone);
    // Plain text by default; Server-Sent Events (pieces, then how it finished) for clients that ask.
    const events = (c.req.header('Accept') ?? '').includes(REWRITE_EVENTS_TYPE);
    try {
      const stream = await streamModelText({
        format: events ? 'events' : 'text',
        model: s.model,
        messages,
        maxOutputTokens: Math.max(1, q.granted - inputTokens),
        estimatedInputTokens: inputTokens,
        maxRetries: s.config.model.maxRetries,
        firstTokenTimeoutMs: s.config.model.firstTokenTimeoutMs,
        totalTimeoutMs: s.config.model.totalTimeoutMs,
        // The client going away (even while waiting for the first token) or a shutdown stops the model.
        signal: cut.signal,
        onEnd: (outcome) => settle(s, { userId, requestId, req, period: q.period, startedAt, outcome }).finally(() => {
            unlink();
            markSettled();
          }),
      });
      // Runtimes that stop work when the response ends (Workers) are asked to wait for the settlement,
      // registered now, while the request is certainly alive (a client abort may come later).
      waitUntil(c, settled);
      s.inflight.track(() => cut.abort(), settled);
      c.set('deferLog', true); // the settlement writes this request's log line, with its tokens
      return new Response(stream, {
        status: 200,
        headers: {
          ...Object.fromEntries(c.res.headers),
          'Content-Type': events ? `${REWRITE_EVENTS_TYPE}; charset=utf-8` : 'text/plain; charset=utf-8',
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch (err) {
      unlink();
      // Nothing was generated: give the whole reservation back, so the user may retry (even with the same requestId).
      await release();
      if (err instanceof NoFirstToken && err.reason === 'cancelled') throw new AppError('model_unavailable', 'The request was cancelled before the model answered. Nothing was charged.');
      if (err instanceof NoFirstToken) throw modelUnavailable(err);
      throw err;
    }
  });

  return app;
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

/** Give a reservation back; on a Redis error retry a few times in the background (release is idempotent). */
async function releaseWithRetry(s: Services, userId: string, requestId: string, attempt: string, retries: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await s.quota.release(userId, requestId, attempt);
      return;
    } catch (err) {
      if (i >= retries) {
        s.log({ level: 'warn', msg: 'release failed; the reservation will be swept as abandoned', requestId, user: userId, error: String(err) });
        return;
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
}

/** Charge what the request used, once; retried a few times so a Redis blip does not lose usage. */
async function settle(
  s: Services,
  a: { userId: string; requestId: string; req: RewriteRequest; period: Period; startedAt: number; outcome: StreamOutcome },
): Promise<void> {
  const usage = usageToCharge(a.outcome);
  const endedAt = s.now();
  const price = priceListAt(new Date(a.startedAt)).models[s.config.model.id];
  const costUsd = price ? providerCostUsd(price, usage.inputTokens, usage.outputTokens) : 0;
  const event = {
    requestId: a.requestId,
    userId: a.userId,
    action: a.req.action,
    model: s.config.model.id,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd,
    status: a.outcome.status,
    source: usage.source,
    startedAt: a.startedAt,
    endedAt,
    promptVersion: PROMPT_VERSION,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await s.quota.settle(a.userId, a.period, event);
      const billed = result.ok ? result.billed : 0;
      s.metrics.inc('redraft_rewrites_total', { action: a.req.action, outcome: a.outcome.status });
      s.metrics.inc('redraft_tokens_billed_total', { action: a.req.action }, billed);
      s.metrics.inc('redraft_provider_cost_usd_total', { model: event.model }, costUsd);
      s.metrics.observe('redraft_rewrite_duration_seconds', {}, (endedAt - a.startedAt) / 1000);
      s.log({
        msg: 'request',
        requestId: a.requestId,
        method: 'POST',
        route: '/v1/rewrite',
        status: 200,
        user: a.userId,
        action: a.req.action,
        outcome: a.outcome.status,
        usageSource: usage.source,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        billedTokens: result.ok ? result.billed : null,
        costUsd,
        latencyMs: endedAt - a.startedAt,
      });
      if (result.ok && result.alerts.length > 0) s.log({ msg: 'usage alert', user: a.userId, thresholds: result.alerts, usedTokens: result.usedAfter });
      return;
    } catch (err) {
      if (attempt >= 5) {
        s.metrics.inc('redraft_settle_failures_total');
        s.log({ level: 'error', msg: 'settle failed; the reservation will be released as abandoned', requestId: a.requestId, user: a.userId, error: String(err) });
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}
