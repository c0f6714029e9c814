/**
 * Hono's typed context for every route and middleware: what a request carries once it is through them.
 */
import type { SessionUser } from './auth/verify';

export type AppEnv = {
  /**
   * requestId: this request's id (a rewrite's may come from its body); deferLog: a streamed rewrite logs at
   * settlement.
   */
  Variables: { user: SessionUser; requestId: string; deferLog: boolean };
};
