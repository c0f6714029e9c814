/**
 * POST /dev/session { userId } — local development only (DEV_AUTH=1, never in production): returns a
 * session token signed by the local dev key, accepted by the same verifier as Clerk's tokens.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import type { DevIssuer } from '../auth/dev-issuer';
import { AppError } from '../errors';
import { zValidator } from '@hono/zod-validator';
import { jsonBody } from '../middleware/json-body';

const DevSessionSchema = z
  .object({
    userId: z.string().regex(/^[A-Za-z0-9_.@:-]{1,128}$/, 'userId must be 1-128 characters of A-Z a-z 0-9 _ . @ : -'),
  })
  .strict();

export function devRoutes(issuer: DevIssuer, authorizedParties: string[]) {
  const app = new Hono<AppEnv>();
  const body = zValidator('json', DevSessionSchema, (r) => {
    if (!r.success) throw new AppError('invalid_request', r.error.issues[0]?.message ?? 'invalid body');
  });
  app.post('/dev/session', jsonBody({ maxBytes: 4096 }), body, async (c) => {
    const { userId } = c.req.valid('json');
    const origin = c.req.header('Origin');
    const azp =
      origin && (authorizedParties.length === 0 || authorizedParties.includes(origin)) ? origin : authorizedParties[0];
    const ttlSeconds = 3600;
    const token = await issuer.issue({ userId, ...(azp ? { azp } : {}), ttlSeconds });
    return c.json({ token, userId, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() });
  });
  return app;
}
