/** Small helpers for the stand-in's values: errors as Stripe answers them, times, and loose parameters. */
import type { Obj } from './types';

/** An API error: answered with its status and Stripe's error body (see `errorBody`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined = undefined,
    readonly param: string | undefined = undefined,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Stripe's JSON error body for an ApiError. */
export const errorBody = (e: ApiError) => {
  const type = e.status === 429 ? 'invalid_request_error' : e.status >= 500 ? 'api_error' : 'invalid_request_error';
  const detail = { ...(e.code ? { code: e.code } : {}), ...(e.param ? { param: e.param } : {}) };
  return JSON.stringify({ error: { type, message: e.message, ...detail } });
};

/** Stripe's 400 for a required parameter that is missing. */
export const missingParam = (param: string) =>
  new ApiError(400, `Missing required param: ${param}.`, 'parameter_missing', param);

/** The v1 object `id` in `store`, or Stripe's 404 for a missing `what`. */
export function mustFind<T>(store: Map<string, T>, id: string, what: string): T {
  const found = store.get(id);
  if (!found) throw new ApiError(404, `No such ${what}: '${id}'`, 'resource_missing', 'id');
  return found;
}

export const sec = (ms: number) => Math.floor(ms / 1000);

export const iso = (ms: number) => new Date(ms).toISOString();

/** `anchor` + `months` calendar months, clamping the day (as Stripe does for monthly periods). */
export function addMonthsSec(anchorSec: number, months: number): number {
  const d = new Date(anchorSec * 1000);
  const m = d.getUTCMonth() + months;
  const y = d.getUTCFullYear() + Math.floor(m / 12);
  const mm = ((m % 12) + 12) % 12;
  const day = Math.min(d.getUTCDate(), new Date(Date.UTC(y, mm + 1, 0)).getUTCDate());
  return sec(Date.UTC(y, mm, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
}

/** A non-empty string parameter, or undefined. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A metadata parameter (an object of strings), or {}. */
export const meta = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' ? (v as Record<string, string>) : {};

/** A v1 list page: newest first, `limit` (default 10) after `starting_after`, as the SDK paginates. */
export const listOf = (all: Obj[], q: Obj, url: string) => {
  const after = str(q.starting_after);
  const start = after ? all.findIndex((x) => x.id === after) + 1 : 0;
  const limit = Math.min(100, Math.max(1, Number(q.limit ?? 10) || 10));
  return { object: 'list', data: all.slice(start, start + limit), has_more: start + limit < all.length, url };
};
