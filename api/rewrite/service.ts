/**
 * One rewrite, without HTTP: reserve → stream → settle (or release).
 *
 * - Reserve: the user's saved style (if any) and the prompt are planned, then both rate windows and the quota
 *   reservation go out in the same tick (one auto-pipelined Redis round trip). Any Redis failure refuses the
 *   request (fail closed) and releases, in the background, whatever this attempt may have reserved.
 * - Stream: the model runs once the reservation is granted; nothing is returned before its first token.
 * - Settle: the stream's end charges what was used (./settle.ts); a failure before the first token releases
 *   the whole reservation instead, so the same requestId may be retried.
 * Refusals are results (`ok: false` with the AppError to answer), not exceptions.
 */
import type { LanguageModel } from 'ai';
import type { RewriteRequest } from '../../shared/contract';
import type { StyleStore } from '../account/styles';
import type { AppError } from '../errors';
import { meteringUnavailable, modelUnavailable } from '../errors';
import { exponential, retry } from '../lib/retry';
import type { RateDecision, RateLimits } from '../limits/rate-limits';
import type { QuotaStore, Reservation } from '../metering/quota';
import { reservationFor } from '../metering/settlement';
import { planPrompt } from '../model/estimate';
import type { Inflight } from '../model/inflight';
import { NoFirstToken, streamModelText } from '../model/stream';
import type { Log } from '../observe/log';
import { cancelledBeforeAnswer, duplicateRequest, quotaExhausted, rateLimited, styleNotFound } from './refusals';
import { settleRewrite, type SettleDeps } from './settle';

export interface RewriteDeps extends Omit<SettleDeps, 'quota' | 'modelId'> {
  styles: Pick<StyleStore, 'get'>;
  rateLimits: Pick<RateLimits, 'check'>;
  quota: Pick<QuotaStore, 'reserve' | 'settle' | 'release'>;
  model: LanguageModel;
  inflight: Pick<Inflight, 'track'>;
  log: Log;
  limits: { requestsPerMinute: number; tokensPerMinute: number };
  modelOptions: { id: string; maxRetries: number; firstTokenTimeoutMs: number; totalTimeoutMs: number };
}

export interface RewriteInput {
  userId: string;
  requestId: string;
  req: RewriteRequest;
  /** The client going away (even while waiting for the first token) stops the model. */
  signal: AbortSignal;
  /** The body's framing: plain text, or Server-Sent Events ending with how the answer finished. */
  format?: 'text' | 'events';
}

/** The request window after this request (the RateLimit-* headers). */
export interface RateWindow {
  limit: number;
  remaining: number;
  /** Seconds until the window has room again. */
  resetSeconds: number;
}

export type RewriteResult =
  | {
      ok: true;
      window: RateWindow;
      /** The user's balance after this request's reservation. */
      tokensRemaining: number;
      stream: ReadableStream<Uint8Array>;
      /** Resolves once the usage is recorded (or given up): runtimes that stop with the response wait for it. */
      settled: Promise<void>;
    }
  | {
      ok: false;
      error: AppError;
      window?: RateWindow;
      /** Set once the reservation was granted. */
      tokensRemaining?: number;
    };

export interface RewriteService {
  run(input: RewriteInput): Promise<RewriteResult>;
}

type Granted = Extract<Reservation, { ok: true }>;

/** A release whose reply was lost is retried this often in the background (release is idempotent). */
const LATE_RELEASE_RETRIES = 3;

export function createRewriteService(d: RewriteDeps): RewriteService {
  const settleDeps: SettleDeps = { ...d, modelId: d.modelOptions.id };

  /** Give a reservation back, by this attempt's nonce only; on a Redis error retry `retries` times. */
  async function release(a: RewriteInput, attempt: string, retries: number): Promise<void> {
    try {
      await retry(() => d.quota.release(a.userId, a.requestId, attempt), {
        attempts: retries + 1,
        backoff: exponential(500),
        sleep: d.sleep,
      });
    } catch (err) {
      d.log({
        level: 'warn',
        msg: 'release failed; the reservation will be swept as abandoned',
        requestId: a.requestId,
        user: a.userId,
        error: String(err),
      });
    }
  }

  function rateRefusal(r: RateDecision): AppError {
    const retryAfter = Math.max(1, Math.ceil((r.reset - d.now()) / 1000));
    const what =
      r.refusedBy === 'tokens' ? `${d.limits.tokensPerMinute} tokens` : `${d.limits.requestsPerMinute} requests`;
    return rateLimited(what, retryAfter);
  }

  function reservationRefusal(a: RewriteInput, q: Exclude<Reservation, { ok: true }>): AppError {
    if (q.reason === 'cancelled') return meteringUnavailable(new Error('reservation cancelled'));
    if (q.reason === 'duplicate') return duplicateRequest(a.requestId, q.state);
    return quotaExhausted(q);
  }

  /** The model's stream for a granted reservation; `settled` resolves once its end is charged. */
  async function stream(a: RewriteInput, plan: ReturnType<typeof planPrompt>, q: Granted, startedAt: number) {
    let markSettled = () => {};
    const settled = new Promise<void>((resolve) => (markSettled = resolve));
    const cut = new AbortController();
    // Linked by hand and unlinked when done: on Node 22, AbortSignal.any and a listener left on the request's
    // signal each retain memory per request (measured with npm run soak).
    const onClientGone = () => cut.abort(a.signal.reason);
    a.signal.addEventListener('abort', onClientGone, { once: true });
    const unlink = () => a.signal.removeEventListener('abort', onClientGone);
    try {
      const body = await streamModelText({
        format: a.format ?? 'text',
        model: d.model,
        messages: plan.messages,
        maxOutputTokens: Math.max(1, q.granted - plan.inputTokens),
        estimatedInputTokens: plan.inputTokens,
        exactInputTokens: plan.exactInputTokens,
        maxRetries: d.modelOptions.maxRetries,
        firstTokenTimeoutMs: d.modelOptions.firstTokenTimeoutMs,
        totalTimeoutMs: d.modelOptions.totalTimeoutMs,
        // The client going away or a shutdown stops the model.
        signal: cut.signal,
        onEnd: (outcome) =>
          settleRewrite(settleDeps, {
            userId: a.userId,
            requestId: a.requestId,
            req: a.req,
            period: q.period,
            startedAt,
            outcome,
          }).finally(() => {
            unlink();
            markSettled();
          }),
      });
      d.inflight.track(() => cut.abort(), settled);
      return { body, settled };
    } catch (err) {
      unlink();
      throw err;
    }
  }

  return {
    async run(a) {
      // A saved style is the user's own (their hash tag): another user's id is simply not found.
      let style: Awaited<ReturnType<StyleStore['get']>> | undefined;
      try {
        style = a.req.styleId === undefined ? undefined : await d.styles.get(a.userId, a.req.styleId);
      } catch (err) {
        return { ok: false, error: meteringUnavailable(err) };
      }
      if (style === null) return { ok: false, error: styleNotFound(a.req.styleId) };

      // The instruction and style are in the prompt, so in inputTokens (reserved and charged); the output cap
      // is the action's, computed without them.
      let plan = planPrompt(a.req, { styleInstructions: style?.instructions });
      const { want, minGrant } = reservationFor(plan.inputTokens, plan.outputCap);
      const startedAt = d.now();

      // Issued in the same tick: both rate windows and the reservation share one auto-pipelined round trip.
      const attempt = crypto.randomUUID();
      const [rate, reservation] = await Promise.allSettled([
        d.rateLimits.check(a.userId, want),
        d.quota.reserve(a.userId, a.requestId, want, minGrant, startedAt, attempt),
      ]);
      if (rate.status === 'rejected' || reservation.status === 'rejected') {
        // The reservation may have been made even if its reply was lost (timeout): release it in the
        // background, by this attempt's nonce, once Redis answers again — never a retry's reservation.
        void release(a, attempt, LATE_RELEASE_RETRIES);
        return {
          ok: false,
          error: meteringUnavailable(
            rate.status === 'rejected' ? rate.reason : (reservation as PromiseRejectedResult).reason,
          ),
        };
      }
      const r = rate.value;
      let q = reservation.value;
      if (r.allowed && !q.ok && q.reason === 'exhausted' && plan.bounded) {
        // Refused on the bound of a long prompt (nothing reserved): ask again with the exact count.
        plan = planPrompt(a.req, { styleInstructions: style?.instructions }, { exact: true });
        const exact = reservationFor(plan.inputTokens, plan.outputCap);
        try {
          q = await d.quota.reserve(a.userId, a.requestId, exact.want, exact.minGrant, startedAt, attempt);
        } catch (err) {
          void release(a, attempt, LATE_RELEASE_RETRIES);
          return { ok: false, error: meteringUnavailable(err) };
        }
      }
      const window: RateWindow = {
        limit: r.limit,
        remaining: Math.max(0, r.remaining),
        resetSeconds: Math.max(0, Math.ceil((r.reset - startedAt) / 1000)),
      };
      if (!r.allowed) {
        if (q.ok) await release(a, attempt, 0); // reserved, but a rate window is full
        return { ok: false, error: rateRefusal(r), window };
      }
      if (!q.ok) return { ok: false, error: reservationRefusal(a, q), window };

      const tokensRemaining = Math.max(0, q.cap - q.usedAfter);
      try {
        const { body, settled } = await stream(a, plan, q, startedAt);
        return { ok: true, window, tokensRemaining, stream: body, settled };
      } catch (err) {
        // Nothing was generated: give the whole reservation back, so the user may retry (even with the same requestId).
        await release(a, attempt, 0);
        if (err instanceof NoFirstToken && err.reason === 'cancelled')
          return { ok: false, error: cancelledBeforeAnswer(), window, tokensRemaining };
        if (err instanceof NoFirstToken) return { ok: false, error: modelUnavailable(err), window, tokensRemaining };
        throw err;
      }
    },
  };
}
