/**
 * requireUser: the bearer token must be a valid session JWT; sets c.var.user. Routes behind it never
 * see an anonymous request.
 */
import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors';
import type { AppEnv } from '../http/app-env';
import type { SessionVerifier } from './verify';

export function requireUser(verify: SessionVerifier) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('Authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new AppError('unauthenticated', 'Sign in to use Redraft: missing "Authorization: Bearer <session token>" header.');
    const result = await verify(match[1]);
    if (!result.ok) throw new AppError('unauthenticated', `Your session is not valid (${result.reason}). Sign in again.`);
    c.set('user', result.user);
    await next();
  });
}
