/**
 * Request bodies checked against the shared contract's schemas with @hono/zod-validator: a refusal is 400
 * invalid_request whose message names what was wrong (e.g. "instruction must be at most 300 characters"),
 * with every issue listed. Put it after jsonBody(), which has read and parsed the body.
 */
import { zValidator } from '@hono/zod-validator';
import type { z } from 'zod';
import { AppError } from '../../errors';

/** The issues of a failed parse, as zod reports them. */
type Issues = { issues: readonly { path: readonly PropertyKey[]; message: string }[] };

export function invalidRequest(error: Issues): AppError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const named = issues
    .slice(0, 3)
    .map((i) => (i.path && !i.message.startsWith(i.path) ? `${i.path}: ${i.message}` : i.message))
    .join('; ');
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return new AppError('invalid_request', `The request body is not valid${named ? `: ${named}` : ''}${more}.`, {
    details: { issues },
  });
}

/** `c.req.valid('json')` is then the schema's output. */
export const validate = <S extends z.ZodType>(schema: S) =>
  zValidator('json', schema, (result) => {
    if (!result.success) throw invalidRequest(result.error);
  });
