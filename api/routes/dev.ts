/**
 * POST /dev/session { userId } — local development only (DEV_AUTH=1, never in production): returns a
 * session token signed by the local dev key, accepted by the same verifier as Clerk's tokens.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env';
import type { DevIssuer } from '../auth/dev-issuer';
import { AppError } from '../errors';
import { readJsonBody } from './body';

const DevSessionSchema = z.object({ userId: z.string().regex(/^[A-Za-z0-9_.@:-]{1,128}$/, 'userId must be 1-128 characters of A-Z a-z 0-9 _ . @ : -') }).strict();

export function devRoutes(issuer: DevIssuer, authorizedParties: string[]) {
  const app = new Hono<AppEnv>();
  app.post('/dev/session', async (c) => {
    const body = DevSessionSchema.safeParse(await readJsonBody(c, 4096));
    if (!body.success) throw new AppError('invalid_request', body.error.issues[0]?.message ?? 'invalid body');
    const origin = c.req.header('Origin');
    const azp = origin && (authorizedParties.length === 0 || authorizedParties.includes(origin)) ? origin : authorizedParties[0];
    const ttlSeconds = 3600;
    const token = await issuer.issue({ userId: body.data.userId, ...(azp ? { azp } : {}), ttlSeconds });
    return c.json({ token, userId: body.data.userId, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() });
  });
  return app;
}
