/**
 * One rewrite, without HTTP: reserve → stream → settle (or release).
 *
 * - Reserve: the user's saved style (if any) and the prompt are planned, then both rate windows and the quota
 *   reservation go out in the same tick (one auto-pipelined Redis round trip). Any Redis failure refuses the
 *   request (fail closed) and releases, in the background, whatever this attempt may have reserved.
 * - Stream: the plan's model chain (api/model/router.ts) runs once the reservation is granted; nothing is
 *   returned before the first token. A model that fails before it (error status, connection, first-token
 *   timeout) hands over to the next of the chain within the same reservation, re-sized atomically when that
 *   model counts the prompt or caps the output differently; after the first token there is no switch. A model
 *   whose circuit breaker is open is skipped. When no model answers: 503, and the reservation is released.
 * - Settle: the stream's end charges what was used, priced as the serving model (./settle.ts); a failure before
 *   the first token releases the whole reservation instead, so the same requestId may be retried.
 * Refusals are results (`ok: false` with the AppError to answer), not exceptions.
 */
import type { RewriteRequest } from '../../shared/contract';
import { sizeFor, traitsOf, type AttemptSize } from '../config/models';
import { PLANS, type PlanId } from '../config/plans';
import type { StyleStore } from '../account/styles';
import type { AppError } from '../errors';
import { meteringUnavailable } from '../errors';
import { exponential, retry } from '../lib/retry';
import type { RateDecision, RateLimits } from '../limits/rate-limits';
import type { QuotaStore, Reservation, SizeByPlan } from '../metering/quota';
import { reservationFor } from '../metering/settlement';
import { planPrompt, type PromptPlan } from '../model/estimate';
import type { Inflight } from '../model/inflight';
import type { RoutedModel } from '../model/provider';
import type { ModelRouter } from '../model/router';
import { NoFirstToken, streamModelText } from '../model/stream';
import type { Log } from '../observe/log';
import {
  cancelledBeforeAnswer,
  duplicateRequest,
  noModelAnswered,
  quotaExhausted,
  rateLimited,
  styleNotFound,
} from './refusals';
import { settleRewrite, type SettleDeps } from './settle';

export interface RewriteDeps extends Omit<SettleDeps, 'quota'> {
  styles: Pick<StyleStore, 'get'>;
  rateLimits: Pick<RateLimits, 'check'>;
  quota: Pick<QuotaStore, 'reserve' | 'resize' | 'settle' | 'release'>;
  router: ModelRouter;
  inflight: Pick<Inflight, 'track'>;
  log: Log;
  limits: { requestsPerMinute: number; tokensPerMinute: number };
  /** maxRetries applies to the last model of a chain only: before that, a failure moves on to the next model. */
  modelOptions: { maxRetries: number; firstTokenTimeoutMs: number; totalTimeoutMs: number };
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
      /** The model that is answering (`provider/model`, the X-Model header). */
      model: string;
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

type Granted = Extract<Reservation, { ok: true }> & { attempt: string };

/** One model's attempt: the model, its size (prompt as it counts it, output cap) and the prompt. */
interface Attempt {
  model: RoutedModel;
  size: AttemptSize;
  messages: PromptPlan['messages'];
  /** Our exact count of the prompt in this model's tokens, when `size.inputTokens` is only a bound. */
  exactInputTokens: (() => number) | undefined;
  /** The chain's last model: the only one the SDK retries (before it, the next model is the retry). */
  last: boolean;
}

const PLAN_IDS = Object.keys(PLANS) as PlanId[];

/** A release whose reply was lost is retried this often in the background (release is idempotent). */
const LATE_RELEASE_RETRIES = 3;

export function createRewriteService(d: RewriteDeps): RewriteService {
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

  /**
   * One model's stream for a granted reservation of `granted` tokens; `settled` resolves once its end is
   * charged. Rejects (NoFirstToken) when the model fails before its first token.
   */
  async function stream(
    a: RewriteInput,
    attempt: Attempt,
    granted: number,
    period: Granted['period'],
    startedAt: number,
  ) {
    let markSettled = () => {};
    const settled = new Promise<void>((resolve) => (markSettled = resolve));
    const cut = new AbortController();
    // Linked by hand and unlinked when done: on Node 22, AbortSignal.any and a listener left on the request's
    // signal each retain memory per request (measured with npm run soak).
    const onClientGone = () => cut.abort(a.signal.reason);
    a.signal.addEventListener('abort', onClientGone, { once: true });
    const unlink = () => a.signal.removeEventListener('abort', onClientGone);
    const { model, size } = attempt;
    try {
      const body = await streamModelText({
        format: a.format ?? 'text',
        model: model.model,
        messages: attempt.messages,
        maxOutputTokens: Math.max(1, granted - size.inputTokens),
        estimatedInputTokens: size.inputTokens,
        ...(attempt.exactInputTokens ? { exactInputTokens: attempt.exactInputTokens } : {}),
        // Reasoning models take no temperature (OpenAI refuses it).
        temperature: traitsOf(model.modelId).reasoningBudget > 0 ? undefined : 0.7,
        maxRetries: attempt.last ? d.modelOptions.maxRetries : 0,
        firstTokenTimeoutMs: d.modelOptions.firstTokenTimeoutMs,
        totalTimeoutMs: d.modelOptions.totalTimeoutMs,
        // The client going away or a shutdown stops the model.
        signal: cut.signal,
        onEnd: (outcome) =>
          settleRewrite(d, {
            userId: a.userId,
            requestId: a.requestId,
            req: a.req,
            period,
            startedAt,
            outcome,
            model: { modelId: model.modelId, provider: model.provider },
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

  /** Reservation sizes per plan: each plan's first model (whose breaker is not open) decides its size. */
  function sizesByPlan(a: RewriteInput, plan: PromptPlan): SizeByPlan {
    const out: SizeByPlan = {};
    for (const p of PLAN_IDS) {
      const size = d.router.firstSize(p, a.req.action, plan.inputTokens, plan.outputCap);
      out[p] = reservationFor(size.inputTokens, size.outputCap);
    }
    return out;
  }

  /**
   * The granted plan's chain, model after model, until one streams its first token. Re-sizes the one
   * reservation when a model needs another size; skips models whose breaker is open or whose size the cap
   * cannot hold. The caller releases the reservation when this does not return a stream.
   */
  async function serve(a: RewriteInput, plan: PromptPlan, q: Granted, want: number, startedAt: number) {
    const chain = d.router.chain(q.plan, a.req.action);
    const { breakers } = d.router;
    const failed: string[] = [];
    let granted = q.granted;
    let usedAfter = q.usedAfter;
    let lastError: unknown;
    for (const [i, model] of chain.entries()) {
      if (a.signal.aborted) return { ok: false as const, error: cancelledBeforeAnswer() };
      const attempt: Attempt = {
        model,
        size: sizeFor(model.modelId, plan.inputTokens, plan.outputCap),
        messages: plan.messages,
        // A bounded prompt is charged, when we count, by its exact count (in this model's tokens).
        exactInputTokens: plan.bounded
          ? () => sizeFor(model.modelId, plan.exactInputTokens(), plan.outputCap).inputTokens
          : undefined,
        last: i === chain.length - 1,
      };
      if (!breakers.allow(model.ref)) {
        d.metrics.inc('redraft_model_attempts_total', { model: model.ref, outcome: 'skipped' });
        failed.push(model.ref);
        continue;
      }
      const sized = reservationFor(attempt.size.inputTokens, attempt.size.outputCap);
      if (sized.want !== want) {
        let r: Awaited<ReturnType<typeof d.quota.resize>>;
        try {
          r = await d.quota.resize(a.userId, a.requestId, q.attempt, sized.want, sized.minGrant);
        } catch (err) {
          breakers.abandoned(model.ref);
          return { ok: false as const, error: meteringUnavailable(err) }; // fail closed; the caller releases
        }
        if (!r.ok) {
          breakers.abandoned(model.ref);
          if (r.reason === 'gone')
            return { ok: false as const, error: meteringUnavailable(new Error('reservation gone')) };
          d.metrics.inc('redraft_model_attempts_total', { model: model.ref, outcome: 'skipped' });
          failed.push(model.ref);
          continue;
        }
        granted = r.granted;
        usedAfter = r.usedAfter;
        want = sized.want;
      }
      try {
        const { body, settled } = await stream(a, attempt, granted, q.period, startedAt);
        breakers.succeeded(model.ref);
        d.metrics.inc('redraft_model_attempts_total', { model: model.ref, outcome: 'served' });
        if (i > 0) d.metrics.inc('redraft_model_fallbacks_total', { model: model.ref });
        return { ok: true as const, body, settled, model: model.ref, usedAfter };
      } catch (err) {
        if (err instanceof NoFirstToken && err.reason === 'cancelled') {
          breakers.abandoned(model.ref);
          return { ok: false as const, error: cancelledBeforeAnswer() };
        }
        if (!(err instanceof NoFirstToken)) {
          breakers.abandoned(model.ref);
          throw err;
        }
        breakers.failed(model.ref);
        d.metrics.inc('redraft_model_attempts_total', { model: model.ref, outcome: 'failed' });
        d.log({
          level: 'warn',
          msg:
            i < chain.length - 1
              ? 'model failed before its first token; trying the next'
              : 'model failed before its first token',
          requestId: a.requestId,
          model: model.ref,
          reason: err.reason,
          error: String(err.cause ?? err),
        });
        failed.push(model.ref);
        lastError = err;
      }
    }
    d.metrics.inc('redraft_model_unavailable_total');
    const retryAfter = Math.max(1, Math.ceil(breakers.retryInMs(chain.map((m) => m.ref)) / 1000));
    return { ok: false as const, error: noModelAnswered(failed, retryAfter, lastError) };
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
      // is the action's, computed without them. Each plan's first model sizes its reservation.
      let plan = planPrompt(a.req, { styleInstructions: style?.instructions });
      let byPlan = sizesByPlan(a, plan);
      const largest = Math.max(...Object.values(byPlan).map((s) => s.want));
      const startedAt = d.now();

      // Issued in the same tick: both rate windows and the reservation share one auto-pipelined round trip.
      const attempt = crypto.randomUUID();
      const free = byPlan.free!;
      const [rate, reservation] = await Promise.allSettled([
        d.rateLimits.check(a.userId, largest),
        d.quota.reserve(a.userId, a.requestId, free.want, free.minGrant, startedAt, attempt, byPlan),
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
        byPlan = sizesByPlan(a, plan);
        const exact = byPlan.free!;
        try {
          q = await d.quota.reserve(a.userId, a.requestId, exact.want, exact.minGrant, startedAt, attempt, byPlan);
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

      let served: Awaited<ReturnType<typeof serve>>;
      try {
        served = await serve(a, plan, { ...q, attempt }, byPlan[q.plan]!.want, startedAt);
      } catch (err) {
        await release(a, attempt, 0);
        throw err;
      }
      if (!served.ok) {
        // Nothing was generated: give the whole reservation back, so the user may retry (even with the same requestId).
        await release(a, attempt, 0);
        return { ok: false, error: served.error, window, tokensRemaining: Math.max(0, q.cap - q.usedAfter) };
      }
      return {
        ok: true,
        window,
        tokensRemaining: Math.max(0, q.cap - served.usedAfter),
        model: served.model,
        stream: served.body,
        settled: served.settled,
      };
    },
  };
}
