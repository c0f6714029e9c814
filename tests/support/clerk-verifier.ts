/**
 * The session verifier as it was before the key was cached: `@clerk/backend`'s `verifyToken` with the PEM
 * key (which re-imports the key and decodes the token twice per call), then the same own checks (checkSession in
 * api/auth/verify.ts, unchanged). The reference the cached verifier is compared with (tests/unit/auth-verify.test.ts)
 * and measured against (scripts/bench.ts).
 */
import { verifyToken } from '@clerk/backend';
import { checkSession, type SessionVerifier } from '../../api/auth/verify';

export function createClerkSessionVerifier(opts: {
  jwtKey: string;
  authorizedParties: string[];
  issuer?: string | undefined;
}): SessionVerifier {
  return async (token) => {
    let data: Record<string, unknown>;
    try {
      data = (await verifyToken(token, {
        jwtKey: opts.jwtKey,
        authorizedParties: opts.authorizedParties,
      })) as unknown as Record<string, unknown>;
    } catch (err) {
      return { ok: false, reason: (err as { reason?: string }).reason ?? 'token-invalid' };
    }
    return checkSession(data, opts);
  };
}
