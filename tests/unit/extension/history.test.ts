/**
 * Recent rewrites kept on this device (extension/lib/history.ts) with an in-memory key-value area standing in
 * for chrome.storage.local: newest first, capped, input truncated, queued writes, clear, damaged data skipped,
 * and the popup's join with the API's recent list.
 */
import { describe, expect, it } from 'vitest';
import {
  createHistory,
  HISTORY_INPUT_MAX,
  HISTORY_KEY,
  HISTORY_MAX,
  mergeRecent,
  truncate,
  type HistoryEntry,
} from '../../../extension/lib/history';
import type { KeyValueArea } from '../../../extension/lib/session';

function memory(delayMs = 0): KeyValueArea & { data: Map<string, unknown>; writes: number } {
  const data = new Map<string, unknown>();
  const wait = () => new Promise((r) => setTimeout(r, delayMs));
  const area = {
    data,
    writes: 0,
    // Values are copied, as chrome.storage does (structured clone).
    get: async (k: string) => (await wait(), structuredClone(data.get(k))),
    set: async (k: string, v: unknown) => {
      await wait();
      area.writes += 1;
      data.set(k, structuredClone(v));
    },
    remove: async (k: string) => void (await wait(), data.delete(k)),
  };
  return area;
}

const clock = (start = Date.parse('2026-11-25T12:00:00Z')) => {
  let t = start;
  return { now: () => (t += 1000) };
};
const rw = (n: number, extra: Partial<{ text: string; result: string; action: string; tone: string }> = {}) => ({
  requestId: `rd_${String(n).padStart(8, '0')}`,
  action: 'rewrite',
  text: `input ${n}`,
  result: `result ${n}`,
  ...extra,
});

describe('recent rewrites on this device', () => {
  it('records {requestId, at, action, text, result}, newest first, in storage.local under one key', async () => {
    const area = memory();
    const h = createHistory(area, clock());
    await h.add(rw(1));
    await h.add(rw(2, { action: 'tone', tone: 'friendly' }));
    const list = await h.list();
    expect(list).toEqual([
      {
        requestId: 'rd_00000002',
        at: '2026-11-25T12:00:02.000Z',
        action: 'tone',
        tone: 'friendly',
        text: 'input 2',
        result: 'result 2',
      },
      {
        requestId: 'rd_00000001',
        at: '2026-11-25T12:00:01.000Z',
        action: 'rewrite',
        text: 'input 1',
        result: 'result 1',
      },
    ]);
    expect([...area.data.keys()]).toEqual([HISTORY_KEY]);
  });

  it(`keeps only the last ${HISTORY_MAX}`, async () => {
    const h = createHistory(memory(), clock());
    for (let i = 1; i <= HISTORY_MAX + 5; i++) await h.add(rw(i));
    const list = await h.list();
    expect(list).toHaveLength(HISTORY_MAX);
    expect(list[0]!.requestId).toBe(`rd_${String(HISTORY_MAX + 5).padStart(8, '0')}`);
    expect(list.at(-1)!.requestId).toBe('rd_00000006');
    expect(await createHistory(memory(), { max: 3 }).list()).toEqual([]);
  });

  it('truncates the input (not the result); an empty result is not kept; the same requestId is kept once', async () => {
    const h = createHistory(memory(), clock());
    const long = 'word '.repeat(500);
    const result = 'A long result. '.repeat(2000);
    await h.add(rw(1, { text: long, result }));
    const [e] = await h.list();
    expect(e!.text.length).toBeLessThanOrEqual(HISTORY_INPUT_MAX + 1);
    expect(e!.text.endsWith('…')).toBe(true);
    expect(e!.result).toBe(result);
    await h.add(rw(2, { result: '  \n ' }));
    expect((await h.list()).map((x) => x.requestId)).toEqual(['rd_00000001']);
    await h.add(rw(1, { result: 'again' }));
    expect((await h.list()).map((x) => x.result)).toEqual(['again']);
  });

  it('truncation never splits a surrogate pair', () => {
    expect(truncate('ab😀cd', 3)).toBe('ab…');
    expect(truncate('ab😀cd', 4)).toBe('ab😀…');
    expect(truncate('short', 10)).toBe('short');
  });

  it('writes are queued: rewrites finishing at the same time are all kept', async () => {
    const area = memory(3);
    const h = createHistory(area, clock());
    await Promise.all([1, 2, 3, 4, 5].map((i) => h.add(rw(i))));
    expect((await h.list()).map((x) => x.requestId).sort()).toEqual([
      'rd_00000001',
      'rd_00000002',
      'rd_00000003',
      'rd_00000004',
      'rd_00000005',
    ]);
    expect(area.writes).toBe(5);
  });

  it('Clear removes everything; a clear queued behind an add wins', async () => {
    const area = memory(2);
    const h = createHistory(area, clock());
    await h.add(rw(1));
    const adding = h.add(rw(2));
    const clearing = h.clear();
    await Promise.all([adding, clearing]);
    expect(await h.list()).toEqual([]);
    expect(area.data.has(HISTORY_KEY)).toBe(false);
  });

  it('skips malformed stored data (another version, a damaged store) instead of failing', async () => {
    const area = memory();
    area.data.set(HISTORY_KEY, [
      { requestId: 'rd_ok000001', at: '2026-11-25T12:00:00.000Z', action: 'rewrite', text: 't', result: 'r' },
      { requestId: 1 },
      null,
      'x',
      { requestId: 'rd_bad', at: 'not a date', action: 'a', text: '', result: '' },
    ]);
    const h = createHistory(area, clock());
    expect((await h.list()).map((e) => e.requestId)).toEqual(['rd_ok000001']);
    area.data.set(HISTORY_KEY, { not: 'an array' });
    expect(await h.list()).toEqual([]);
    await h.add(rw(3));
    expect((await h.list()).map((e) => e.requestId)).toEqual(['rd_00000003']);
  });

  it('a failing storage write rejects that call only; the queue goes on', async () => {
    const area = memory();
    let fail = true;
    const flaky: KeyValueArea = {
      ...area,
      set: async (k, v) => (fail ? Promise.reject(new Error('QUOTA_BYTES quota exceeded')) : area.set(k, v)),
    };
    const h = createHistory(flaky, clock());
    await expect(h.add(rw(1))).rejects.toThrow(/quota/);
    fail = false;
    await h.add(rw(2));
    expect((await h.list()).map((e) => e.requestId)).toEqual(['rd_00000002']);
  });
});

describe("the popup's recent list", () => {
  const entry = (id: string, at: string, result = `result of ${id}`): HistoryEntry => ({
    requestId: id,
    at,
    action: 'rewrite',
    text: 'in',
    result,
  });
  it("joins the API's list (tokens, every rewrite) with this device's texts by requestId, newest first", () => {
    const server = [
      { requestId: 'a', action: 'rewrite', tokens: 120, at: '2026-11-25T12:03:00.000Z' },
      { requestId: 'b', action: 'expand', tokens: 40, at: '2026-11-25T12:02:00.000Z' }, // stopped: not kept locally
      { requestId: 'c', action: 'shorten', tokens: 80, at: '2026-11-25T12:01:00.000Z' },
    ];
    const local = [
      entry('a', '2026-11-25T12:03:01.000Z'),
      entry('c', '2026-11-25T12:01:01.000Z'),
      entry('z', '2026-11-20T09:00:00.000Z'),
    ];
    const items = mergeRecent(server, local);
    expect(items.map((i) => [i.key, i.tokens ?? null, i.entry?.result ?? null])).toEqual([
      ['a', 120, 'result of a'],
      ['b', 40, null],
      ['c', 80, 'result of c'],
      ['z', null, 'result of z'], // older than the API's list: still reopenable
    ]);
    expect(mergeRecent(server, local, 2)).toHaveLength(2);
    expect(mergeRecent([], [])).toEqual([]);
  });
});
