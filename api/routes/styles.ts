/**
 * Saved styles (brand voice): GET /v1/styles, PUT /v1/styles/:id (create or replace), DELETE /v1/styles/:id.
 * Behind requireUser (app.ts) and the account rate window; each user only ever sees and uses their own.
 */
import { Hono } from 'hono';
import {
  STYLE_ID_PATTERN,
  StyleInputSchema,
  STYLES_MAX,
  type OkResponse,
  type StyleResponse,
  type StylesResponse,
} from '../../shared/contract';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError, meteringUnavailable } from '../errors';
import { jsonBody } from '../middleware/json-body';
import { validate } from '../middleware/json-body/validate';
import type { MiddlewareHandler } from 'hono';

/** A style body is at most ~1,060 characters; 16 KiB leaves room for JSON escapes of any of them. */
const STYLE_BODY_MAX_BYTES = 16_384;

/** Redis failures are 503 metering_unavailable (nothing changed); AppErrors pass. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw meteringUnavailable(err);
  }
}

/** The :id parameter must be a style id (checked before the body is read). */
const validStyleId: MiddlewareHandler = async (c, next) => {
  styleId(c.req.param('id') ?? '');
  await next();
};

function styleId(raw: string): string {
  if (!STYLE_ID_PATTERN.test(raw)) {
    throw new AppError(
      'invalid_request',
      `The style id "${raw.slice(0, 60)}" is not valid: use 1-40 characters of a-z 0-9 _ -, starting with a letter or digit.`,
      {
        details: { issues: [{ path: 'id', message: 'must match ^[a-z0-9][a-z0-9_-]{0,39}$' }] },
      },
    );
  }
  return raw;
}

export type StyleRouteDeps = Pick<Services, 'styles' | 'now'> & { maxBodyBytes: number };

export function styleRoutes(s: StyleRouteDeps) {
  const app = new Hono<AppEnv>();

  app.get('/v1/styles', async (c) => {
    const { userId } = c.get('user');
    const styles = await guarded(() => s.styles.list(userId));
    return c.json<StylesResponse>({ styles });
  });

  const styleBody = jsonBody({ maxBytes: Math.min(s.maxBodyBytes, STYLE_BODY_MAX_BYTES) });
  app.put('/v1/styles/:id', validStyleId, styleBody, validate(StyleInputSchema), async (c) => {
    const { userId } = c.get('user');
    const id = c.req.param('id');
    const input = c.req.valid('json');
    const r = await guarded(() => s.styles.put(userId, id, input, s.now()));
    if (!r.ok)
      throw new AppError(
        'style_limit_reached',
        `You already have ${r.count} saved styles, the most there can be (${STYLES_MAX}). Delete one (DELETE /v1/styles/:id) or replace an existing one.`,
      );
    return c.json<StyleResponse>({ style: r.style });
  });

  app.delete('/v1/styles/:id', async (c) => {
    const { userId } = c.get('user');
    const id = styleId(c.req.param('id'));
    const removed = await guarded(() => s.styles.remove(userId, id));
    if (!removed) throw new AppError('not_found', `You have no saved style "${id}".`);
    return c.json<OkResponse>({ ok: true });
  });

  return app;
}
