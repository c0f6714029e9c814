/**
 * Recent rewrites kept on this device, so the popup can reopen and copy a result after the panel is gone.
 *
 * Kept only in the extension's `chrome.storage.local` (never sent anywhere: the API already had the text for
 * the rewrite itself and keeps only token counts): the last HISTORY_MAX completed rewrites, newest first, each
 * with the start of its input (HISTORY_INPUT_MAX characters) and its result. Cleared by the popup's Clear and
 * on sign-out. Written only by the background (one instance, writes queued), read through it by the popup.
 *
 * Pure apart from the injected key-value area (like session.ts), so it is unit-tested.
 */
import type { KeyValueArea } from './session';

export interface HistoryEntry {
  /** The rewrite's requestId (the API's `recent` list names the same id, with its tokens). */
  requestId: string;
  /** ISO 8601, when the result was complete. */
  at: string;
  action: string;
  tone?: string;
  platform?: string;
  /** The start of the input (truncated to HISTORY_INPUT_MAX characters, "…" added). */
  text: string;
  /** The whole result (up to HISTORY_RESULT_MAX characters). */
  result: string;
}

export interface CompletedRewrite {
  requestId: string;
  action: string;
  tone?: string;
  platform?: string;
  text: string;
  result: string;
}

export const HISTORY_KEY = 'recentRewrites';
export const HISTORY_MAX = 20;
export const HISTORY_INPUT_MAX = 280;
/** A guard on storage use (20 × 100,000 characters stays far below chrome.storage.local's 10 MB). */
export const HISTORY_RESULT_MAX = 100_000;

/** Cuts to `max` UTF-16 units without splitting a surrogate pair; adds "…" when something was cut. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}…`;
}

const isEntry = (v: unknown): v is HistoryEntry => {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.requestId === 'string' &&
    typeof e.at === 'string' &&
    Number.isFinite(Date.parse(e.at)) &&
    typeof e.action === 'string' &&
    typeof e.text === 'string' &&
    typeof e.result === 'string' &&
    (e.tone === undefined || typeof e.tone === 'string') &&
    (e.platform === undefined || typeof e.platform === 'string')
  );
};

export function createHistory(area: KeyValueArea, opts: { max?: number; now?: () => number } = {}) {
  const max = opts.max ?? HISTORY_MAX;
  const now = opts.now ?? Date.now;
  // Read-modify-write on one key: queue the operations so two rewrites finishing together both stay.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => {});
    return run;
  };

  const read = async (): Promise<HistoryEntry[]> => {
    const raw = await area.get(HISTORY_KEY);
    return Array.isArray(raw) ? raw.filter(isEntry).slice(0, max) : [];
  };

  return {
    /** Newest first. Malformed entries (another version, a damaged store) are skipped. */
    list: () => serial(read),

    /** Records a completed rewrite; an empty result is not worth reopening and is skipped. */
    add: (r: CompletedRewrite) =>
      serial(async () => {
        if (r.result.trim() === '') return;
        const entry: HistoryEntry = {
          requestId: r.requestId,
          at: new Date(now()).toISOString(),
          action: r.action,
          ...(r.tone ? { tone: r.tone } : {}),
          ...(r.platform ? { platform: r.platform } : {}),
          text: truncate(r.text.trim(), HISTORY_INPUT_MAX),
          result: truncate(r.result, HISTORY_RESULT_MAX),
        };
        const rest = (await read()).filter((e) => e.requestId !== r.requestId);
        await area.set(HISTORY_KEY, [entry, ...rest].slice(0, max));
      }),

    clear: () => serial(() => area.remove(HISTORY_KEY)),
  };
}

export type History = ReturnType<typeof createHistory>;

export interface RecentItem {
  key: string;
  at: string;
  action: string;
  tone?: string;
  platform?: string;
  /** Billed tokens, when the API's list has this rewrite. */
  tokens?: number;
  /** The text kept on this device, when it has it. */
  entry?: HistoryEntry;
}

/**
 * The popup's list: the API's recent rewrites (tokens: every rewrite, any device, also stopped or failed ones)
 * joined with this device's texts by requestId, newest first, at most `limit`.
 */
export function mergeRecent(
  server: readonly { requestId: string; action: string; tokens: number; at: string }[],
  local: readonly HistoryEntry[],
  limit = HISTORY_MAX,
): RecentItem[] {
  const byId = new Map<string, RecentItem>();
  for (const e of local)
    byId.set(e.requestId, {
      key: e.requestId,
      at: e.at,
      action: e.action,
      ...(e.tone ? { tone: e.tone } : {}),
      ...(e.platform ? { platform: e.platform } : {}),
      entry: e,
    });
  for (const r of server) {
    const mine = byId.get(r.requestId);
    byId.set(r.requestId, { ...(mine ?? { key: r.requestId, action: r.action }), at: r.at, tokens: r.tokens });
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, limit);
}
