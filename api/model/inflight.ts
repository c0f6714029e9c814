/**
 * The model streams this instance is serving, so a shutdown can let them finish and settle: drain
 * waits up to a grace period, then cuts what is left (each cut stream settles as "aborted", charged
 * for what it generated) and waits for those settlements too.
 */
export interface Inflight {
  /** Registers one stream: `cut` stops it; `settled` resolves once its usage is recorded. */
  track(cut: () => void, settled: Promise<void>): void;
  readonly size: number;
  drain(graceMs: number, settleMs?: number): Promise<{ finished: number; cut: number; unsettled: number }>;
}

export function createInflight(): Inflight {
  const streams = new Map<Promise<void>, () => void>();
  const timeout = (ms: number) =>
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref?.());
  return {
    track(cut, settled) {
      streams.set(settled, cut);
      void settled.finally(() => streams.delete(settled));
    },
    get size() {
      return streams.size;
    },
    async drain(graceMs, settleMs = 10_000) {
      const total = streams.size;
      await Promise.race([Promise.allSettled([...streams.keys()]), timeout(graceMs)]);
      const left = [...streams.entries()];
      for (const [, cut] of left) cut();
      await Promise.race([Promise.allSettled(left.map(([p]) => p)), timeout(settleMs)]);
      return { finished: total - left.length, cut: left.length, unsettled: streams.size };
    },
  };
}
