/**
 * Clerk session JWT verification, offline: RS256 signature against the instance's PEM public key
 * (CLERK_JWT_KEY), expiry/not-before with Clerk's clock skew, and the `azp` (authorized party)
 * claim against the configured origins. No network call per request.
 *
 * Only a session token of an active session may spend: Clerk v2 session tokens carry the session id
 * (`sid`) and its status (`sts`: `active`, or `pending` while the user still has session tasks, which
 * Clerk itself treats as signed out). A token without `sid` is not a session token (a JWT-template token
 * signed by the same instance); a token whose `sts` is not `active` (or missing) is refused.
 */
import { verifyToken } from '@clerk/backend';

export interface SessionUser {
  userId: string;
  sessionId: string;
}

export type VerifyResult = { ok: true; user: SessionUser } | { ok: false; reason: string };

export type SessionVerifier = (token: string) => Promise<VerifyResult>;

/** User ids become part of Redis keys: allow only what Clerk issues (and dev ids) — no braces, no spaces. */
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

export function createSessionVerifier(opts: {
  jwtKey: string;
  authorizedParties: string[];
  issuer?: string | undefined;
}): SessionVerifier {
  return async (token) => {
    let data: Record<string, unknown>;
    try {
      // Throws TokenVerificationError (with a `reason`) on a bad signature, expiry, wrong azp, garbage.
      data = (await verifyToken(token, {
        jwtKey: opts.jwtKey,
        authorizedParties: opts.authorizedParties,
      })) as unknown as Record<string, unknown>;
    } catch (err) {
      return { ok: false, reason: (err as { reason?: string }).reason ?? 'token-invalid' };
    }
    if (opts.authorizedParties.length > 0 && typeof data.azp !== 'string')
      return { ok: false, reason: 'token-missing-azp' };
    if (opts.issuer && data.iss !== opts.issuer) return { ok: false, reason: 'token-wrong-issuer' };
    if (typeof data.sub !== 'string' || !USER_ID.test(data.sub)) return { ok: false, reason: 'token-invalid-sub' };
    if (typeof data.sid !== 'string' || data.sid.length === 0) return { ok: false, reason: 'token-not-a-session' };
    if (data.sts !== 'active') return { ok: false, reason: 'session-not-active' };
    return { ok: true, user: { userId: data.sub, sessionId: data.sid } };
  };
}
