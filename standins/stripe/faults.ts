/**
 * Faults injected per route: 429, 500 (before or after the request took effect), a timeout (no answer; before
 * or after taking effect) and a dropped connection (before or after). "After" faults are the dangerous ones
 * for billing: Stripe recorded the event but the caller never heard so.
 */

export type FaultKind =
  | 'rate_limit' // 429 before anything happens
  | 'server_error' // 500 before anything happens
  | 'server_error_after' // the request takes effect, then 500
  | 'timeout' // no answer at all (the client times out); nothing happens
  | 'timeout_after' // the request takes effect, then no answer
  | 'drop' // the connection is destroyed before anything happens
  | 'drop_after' // the request takes effect, then the connection is destroyed
  | 'bad_request'; // 400 that retrying cannot fix (not drawn unless asked for)

export const ALL_FAULTS: FaultKind[] = [
  'rate_limit',
  'server_error',
  'server_error_after',
  'timeout',
  'timeout_after',
  'drop',
  'drop_after',
];

export interface FaultPlan {
  /** Probability (0..1) that a matching call gets a fault. */
  rate?: number;
  /** Or: exactly the next `times` matching calls get a fault. */
  times?: number;
  /** Which faults to draw from (uniformly). Default: all. */
  kinds?: FaultKind[];
  /** Only calls whose "METHOD /path" matches. Default: every API call. */
  route?: RegExp;
  /** How long a timeout holds the connection before destroying it (ms). Default 30 s. */
  holdMs?: number;
  /** Seed for the fault dice (reproducible runs). */
  seed?: number;
}

/** Small seeded PRNG (mulberry32): reproducible fault dice. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fault plan in force (at most one) and its dice. */
export class Faults {
  private plan: (FaultPlan & { dice: () => number; left: number }) | undefined;

  inject(plan: FaultPlan): void {
    this.plan = { ...plan, dice: rng(plan.seed ?? 42), left: plan.times ?? 0 };
  }

  clear(): void {
    this.plan = undefined;
  }

  /** How long a timeout fault holds the connection (ms). */
  get holdMs(): number {
    return this.plan?.holdMs ?? 30_000;
  }

  /** The fault this call ("METHOD /path") gets, if any. */
  draw(route: string): FaultKind | undefined {
    const f = this.plan;
    if (!f || (f.route && !f.route.test(route))) return undefined;
    if (f.times !== undefined) {
      if (f.left <= 0) return undefined;
      f.left--;
    } else if (f.dice() >= (f.rate ?? 0)) return undefined;
    const kinds = f.kinds ?? ALL_FAULTS;
    return kinds[Math.floor(f.dice() * kinds.length)] ?? kinds[0];
  }
}
