/**
 * POST /v1/rewrite — the metered path of one rewrite:
 * validate → (rate windows + quota reservation, one Redis round trip) → stream the model → settle.
 */
import { Hono } from 'hono';
import { HEADERS, RewriteRequestSchema, type RewriteRequest } from '../../shared/contract';
import { AppError, meteringUnavailable, modelUnavailable } from '../errors';
import type { AppEnv, Services } from '../context';
import { buildMessages, outputTokenCap, PROMPT_VERSION } from '../model/prompts';
import { countChatTokens } from '../model/estimate';
import { streamModelText, NoFirstToken } from '../model/stream';
import { reservationFor, usageToCharge, type StreamOutcome } from '../metering/settlement';
import { priceListAt, providerCostUsd } from '../config/model-prices';
import type { Period } from '../metering/periods';
import { readJsonBody } from './body';

export function rewriteRoutes(s: Services) {
  const app = new Hono<AppEnv>();

  app.post('/v1/rewrite', async (c) => {
    const body = RewriteRequestSchema.safeParse(await readJsonBody(c, s.config.limits.maxBodyBytes));
    if (!body.success) {
      throw new AppError('invalid_request', 'The request body is not valid.', {
        issues: body.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const req = body.data;
    if (req.text.length > s.config.limits.maxTextChars) {
      throw new AppError('text_too_long', `The selected text is ${req.text.length} characters; the limit is ${s.config.limits.maxTextChars}. Select a shorter passage.`);
    }
    const { userId } = c.get('user');
    const requestId = req.requestId ?? crypto.randomUUID();
    c.header(HEADERS.requestId, requestId);

    const messages = buildMessages(req);
    const inputTokens = countChatTokens(messages);
    const outputCap = outputTokenCap(req, inputTokens);
    const { want, minGrant } = reservationFor(inputTokens, outputCap);
    const startedAt = s.now();

    // Issued in the same tick: both rate windows and the reservation share one auto-pipelined round trip.
    const [rate, reservation] = await Promise.allSettled([s.rateLimits.check(userId, want), s.quota.reserve(userId, requestId, want, minGrant, startedAt)]);
    const reserved = reservation.status === 'fulfilled' && reservation.value.ok ? reservation.value : undefined;
    const releaseQuietly = () => (reserved ? s.quota.release(userId, requestId).catch(() => false) : Promise.resolve(false));

    if (rate.status === 'rejected' || reservation.status === 'rejected') {
      await releaseQuietly();
      throw meteringUnavailable(rate.status === 'rejected' ? rate.reason : (reservation as PromiseRejectedResult).reason);
    }
    const r = rate.value;
    c.header(HEADERS.rateLimitLimit, String(r.limit));
    c.header(HEADERS.rateLimitRemaining, String(Math.max(0, r.remaining)));
    c.header(HEADERS.rateLimitReset, String(Math.max(0, Math.ceil((r.reset - startedAt) / 1000))));
    if (!r.allowed) {
      await releaseQuietly();
      const retryAfter = Math.max(1, Math.ceil((r.reset - s.now()) / 1000));
      const what = r.refusedBy === 'tokens' ? `${s.config.limits.tokensPerMinute} tokens` : `${s.config.limits.requestsPerMinute} requests`;
      throw new AppError('rate_limited', `Too many rewrites: the limit is ${what} per minute. Try again in ${retryAfter} s.`, { retryAfterSeconds: retryAfter }, { 'Retry-After': String(retryAfter) });
    }
    const q = reservation.value;
    if (!q.ok) {
      if (q.reason === 'duplicate') throw new AppError('duplicate_request', `Request ${requestId} was already ${q.state === 'settled' ? 'completed and charged' : 'started'}; send a new requestId to run it again.`);
      const end = new Date(q.period.end).toISOString();
      throw new AppError('quota_exhausted', `You have used your ${q.cap.toLocaleString('en-US')} tokens for this period (${q.used.toLocaleString('en-US')} used). It resets on ${end.slice(0, 10)}${q.plan === 'free' ? '; upgrade to Pro for more' : ''}.`, { periodEnd: end });
    }
    c.header(HEADERS.tokensRemaining, String(Math.max(0, q.cap - q.usedAfter)));

    try {
      const stream = await streamModelText({
        model: s.model,
        messages,
        maxOutputTokens: Math.max(1, q.granted - inputTokens),
        estimatedInputTokens: inputTokens,
        maxRetries: s.config.model.maxRetries,
        firstTokenTimeoutMs: s.config.model.firstTokenTimeoutMs,
        totalTimeoutMs: s.config.model.totalTimeoutMs,
        onEnd: (outcome) => settle(s, { userId, requestId, req, period: q.period, startedAt, outcome }),
      });
      return new Response(stream, {
        status: 200,
        headers: { ...Object.fromEntries(c.res.headers), 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
      });
    } catch (err) {
      // Nothing was generated: give the whole reservation back, so the user may retry (even with the same requestId).
      await releaseQuietly();
      if (err instanceof NoFirstToken) throw modelUnavailable(err);
      throw err;
    }
  });

  return app;
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
      s.log({ msg: 'rewrite', requestId: a.requestId, user: a.userId, action: a.req.action, status: a.outcome.status, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, billedTokens: result.ok ? result.billed : null, costUsd, latencyMs: endedAt - a.startedAt });
      if (result.ok && result.alerts.length > 0) s.log({ msg: 'usage alert', user: a.userId, thresholds: result.alerts, usedTokens: result.usedAfter });
      return;
    } catch (err) {
      if (attempt >= 5) {
        s.log({ level: 'error', msg: 'settle failed; the reservation will be released as abandoned', requestId: a.requestId, user: a.userId, error: String(err) });
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}
