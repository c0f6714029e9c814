/**
 * The one bearer check. `bearerToken(header)` reads `Authorization: Bearer <token>` (the scheme in any case,
 * RFC 6750) for every route: the signed-in routes (../require-user verifies the token as a session JWT) and
 * the operator routes (/metrics, /internal/report-usage, /health details), whose token is a configured
 * secret compared in constant time with Hono's timingSafeEqual (SHA-256 of both, then a constant-time
 * comparison), so the time taken says nothing about how much of a guess was right.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { AppError } from '../../errors';

const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export const bearerToken = (header: string | undefined): string | undefined => BEARER.exec(header ?? '')?.[1];

/** True when `header` is `Bearer <secret>` (scheme in any case). */
export async function bearerMatches(header: string | undefined, secret: string): Promise<boolean> {
  const token = bearerToken(header);
  // Compare even without a token, so a missing header takes as long as a wrong one.
  const equal = await timingSafeEqual(token ?? '', secret);
  return token !== undefined && equal;
}

/** Whether the request carries the secret; always true when no secret is configured (open, never in production). */
export async function hasBearer(c: Context, secret: string | undefined): Promise<boolean> {
  return secret === undefined || (await bearerMatches(c.req.header('Authorization'), secret));
}

/** 401 with a bearer challenge; `name` is the variable that holds the secret. */
export const bearerRefused = (name: string, route: string) =>
  new AppError('unauthenticated', `${route} needs "Authorization: Bearer <${name}>".`, {
    headers: { 'WWW-Authenticate': 'Bearer realm="redraft"' },
  });

export interface BearerOptions {
  /** The secret the route needs; undefined leaves it open (never in production). */
  secret: string | undefined;
  /** The variable that holds the secret, named in the refusal. */
  name: string;
}

/** Middleware: the route needs `Authorization: Bearer <secret>`. */
export function bearer({ secret, name }: BearerOptions): MiddlewareHandler {
  return async (c, next) => {
    if (!(await hasBearer(c, secret))) throw bearerRefused(name, `${c.req.method} ${c.req.path}`);
    await next();
  };
}
