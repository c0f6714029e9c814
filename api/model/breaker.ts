/**
 * A circuit breaker per routed model (in this instance): after `failures` failures in a row before the first
 * token, the model is left out of its chains for `openMs`, so users don't each wait for its timeout; then one
 * request at a time may try it (half-open) until one succeeds (closed) or fails (open again). Pure apart from
 * the injected clock.
 */
export interface BreakerOptions {
  failures: number;
  openMs: number;
  now: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

interface Entry {
  failures: number;
  openUntil: number;
  /** A half-open trial is running: others still skip the model. */
  trial: boolean;
  opened: number;
}

export interface Breakers {
  /**
   * May this request try `ref`? Closed: yes. Open: no, until openMs has passed; then yes for one request at a
   * time (the caller must report its result with `succeeded` or `failed`).
   */
  allow(ref: string): boolean;
  succeeded(ref: string): void;
  failed(ref: string): void;
  /** The caller gave up before the model answered (e.g. the client left): a trial slot is freed, no verdict. */
  abandoned(ref: string): void;
  state(ref: string): BreakerState;
  /** When the first open breaker among `refs` lets a trial through, ms from now (0: one may try now). */
  retryInMs(refs: string[]): number;
  /** Every model seen, with its state and how often it opened. */
  snapshot(): { ref: string; state: BreakerState; opened: number }[];
}

export function createBreakers(o: BreakerOptions): Breakers {
  const entries = new Map<string, Entry>();
  const entry = (ref: string): Entry => {
    let e = entries.get(ref);
    if (!e) entries.set(ref, (e = { failures: 0, openUntil: 0, trial: false, opened: 0 }));
    return e;
  };
  const stateOf = (e: Entry | undefined): BreakerState => {
    if (!e || e.failures < o.failures) return 'closed';
    return o.now() < e.openUntil ? 'open' : 'half-open';
  };

  return {
    allow(ref) {
      const e = entries.get(ref);
      const s = stateOf(e);
      if (s === 'closed') return true;
      if (s === 'open' || e!.trial) return false;
      e!.trial = true;
      return true;
    },
    succeeded(ref) {
      const e = entries.get(ref);
      if (!e) return;
      e.failures = 0;
      e.trial = false;
    },
    failed(ref) {
      const e = entry(ref);
      const wasOpen = stateOf(e) === 'open';
      e.failures++;
      e.trial = false;
      if (e.failures >= o.failures) {
        e.openUntil = o.now() + o.openMs;
        if (!wasOpen) e.opened++;
      }
    },
    abandoned(ref) {
      const e = entries.get(ref);
      if (e) e.trial = false;
    },
    state: (ref) => stateOf(entries.get(ref)),
    retryInMs(refs) {
      const waits = refs.map((r) => {
        const e = entries.get(r);
        return stateOf(e) === 'open' ? e!.openUntil - o.now() : 0;
      });
      return Math.max(0, Math.min(...waits));
    },
    snapshot: () => [...entries].map(([ref, e]) => ({ ref, state: stateOf(e), opened: e.opened })),
  };
}
