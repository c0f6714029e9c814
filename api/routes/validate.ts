/**
 * Request bodies checked against the shared contract's schemas: a refusal is 400 invalid_request whose
 * message names what was wrong (e.g. "instruction must be at most 300 characters"), with every issue listed.
 */
import type { z } from 'zod';
import { AppError } from '../errors';

export function parseBody<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const named = issues
    .slice(0, 3)
    .map((i) => (i.path && !i.message.startsWith(i.path) ? `${i.path}: ${i.message}` : i.message))
    .join('; ');
  throw new AppError('invalid_request', `The request body is not valid${named ? `: ${named}` : ''}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}.`, { details: { issues } });
}
