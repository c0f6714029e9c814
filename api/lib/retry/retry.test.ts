import { describe, expect, it } from 'vitest';
import { exponential, retry } from './index';

const noSleep = async () => {};

describe('retry', () => {
  it('returns the first success, after waiting the backoff between failures', async () => {
    const waits: number[] = [];
    let calls = 0;
    const out = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 2) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { attempts: 5, backoff: exponential(100), sleep: async (ms) => void waits.push(ms) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([100, 200]);
  });

  it('throws the last failure after `attempts` calls', async () => {
    let calls = 0;
    const retried: number[] = [];
    await expect(
      retry(
        async (attempt) => {
          calls++;
          throw new Error(`fail ${attempt}`);
        },
        { attempts: 3, backoff: () => 0, sleep: noSleep, onRetry: (_e, a) => retried.push(a) },
      ),
    ).rejects.toThrow('fail 2');
    expect(calls).toBe(3);
    expect(retried).toEqual([0, 1]);
  });

  it('stops at once when shouldRetry says no, and hands the failure to backoff', async () => {
    let calls = 0;
    const seen: unknown[] = [];
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error(calls === 1 ? 'transient' : 'permanent');
        },
        {
          attempts: 10,
          shouldRetry: (e) => (e as Error).message === 'transient',
          backoff: (_a, e) => (seen.push((e as Error).message), 0),
          sleep: noSleep,
        },
      ),
    ).rejects.toThrow('permanent');
    expect(calls).toBe(2);
    expect(seen).toEqual(['transient']);
  });

  it('makes one call when attempts is 1', async () => {
    let calls = 0;
    const fail = async () => {
      calls++;
      throw new Error('once');
    };
    await expect(retry(fail, { attempts: 1, backoff: () => 0 })).rejects.toThrow('once');
    expect(calls).toBe(1);
  });
});
