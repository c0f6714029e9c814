/**
 * requireUser: the bearer token must be a valid session JWT; sets c.var.user. Routes behind it never
 * see an anonymous request.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../app-env';
import type { SessionVerifier } from '../../auth/verify';
import { AppError } from '../../errors';
import { bearerToken } from '../bearer';

export function requireUser(verify: SessionVerifier) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header('Authorization'));
    if (!token)
      throw new AppError(
        'unauthenticated',
        'Sign in to use Redraft: missing "Authorization: Bearer <session token>" header.',
      );
    const result = await verify(token);
    if (!result.ok)
      throw new AppError('unauthenticated', `Your session is not valid (${result.reason}). Sign in again.`);
    c.set('user', result.user);
    await next();
  });
}
