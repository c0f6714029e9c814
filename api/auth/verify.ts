/**
 * Clerk session JWT verification, offline: RS256 signature against the instance's PEM public key
 * (CLERK_JWT_KEY), expiry/not-before/issued-at with Clerk's clock skew, and the `azp` (authorized party)
 * claim against the configured origins. No network call per request.
 *
 * Only a session token of an active session may spend: Clerk v2 session tokens carry the session id
 * (`sid`) and its status (`sts`: `active`, or `pending` while the user still has session tasks, which
 * Clerk itself treats as signed out). A token without `sid` is not a session token (a JWT-template token
 * signed by the same instance); a token whose `sts` is not `active` (or missing) is refused.
 *
 * The key is imported once (WebCrypto, on first use) and kept: `@clerk/backend`'s `verifyToken` with a PEM
 * `jwtKey` re-imports it and decodes the token twice on every call (~10× the cost of the signature check).
 * This does what `verifyToken` does with a PEM key, in its order and with its failure reasons (the same
 * `TokenVerificationErrorReason` strings; tests/unit/auth-verify.test.ts compares the two on the same
 * tokens): three base64url parts (strict, as Clerk's decoder), no machine-token category, `typ` absent or
 * `JWT`, `alg` RS256 only (RS384/RS512 fail as they do with Clerk's RS256 key), the signature, then `sub`,
 * `azp`, `exp`, `nbf`, `iat` (skew 5 s) — and then this module's own checks (azp present, issuer, subject
 * shape, session id, session status). One difference: the SPKI key is imported as is, where Clerk's PEM
 * parsing only accepts 2048-bit keys.
 */

export interface SessionUser {
  userId: string;
  sessionId: string;
}

export type VerifyResult = { ok: true; user: SessionUser } | { ok: false; reason: string };

export type SessionVerifier = (token: string) => Promise<VerifyResult>;

/** User ids become part of Redis keys: allow only what Clerk issues (and dev ids) — no braces, no spaces. */
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

/** Clerk's default clock skew for exp / nbf / iat. */
export const CLOCK_SKEW_MS = 5_000;

/** Clerk's header category of machine (M2M) tokens, which are never session tokens. */
const M2M_CATEGORY = 'cl_B7d4PD333AAA';
/** The algorithms Clerk accepts at all; only RS256 verifies with an instance's RS256 key. */
const RSA_ALGS = new Set(['RS256', 'RS384', 'RS512']);
const RS256 = { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } } as const;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const CODES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) CODES[ALPHABET.charCodeAt(i)] = i;

/** base64url as Clerk decodes it ("loose": padding optional): any other character, or leftover bits, throws. */
export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  const out = new Uint8Array(((end * 6) / 8) | 0);
  let bits = 0;
  let buffer = 0;
  let written = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? CODES[c]! : -1;
    if (v < 0) throw new SyntaxError(`Invalid character ${text[i]}`);
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = 255 & (buffer >> bits);
    }
  }
  if (bits >= 6 || 255 & (buffer << (8 - bits))) throw new SyntaxError('Unexpected end of data');
  return out;
}

/** The SPKI DER inside a PEM (or bare base64) public key. */
function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem
    .replace(/-----BEGIN.*?-----/g, '')
    .replace(/-----END.*?-----/g, '')
    .replace(/\s/g, '');
  const bin = atob(b64);
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return der;
}

/** The key, imported once per PEM (a process has one or two verifiers; the dev issuer's key differs). */
const importedKeys = new Map<string, Promise<CryptoKey>>();
export function importVerifyKey(pem: string): Promise<CryptoKey> {
  let key = importedKeys.get(pem);
  if (!key) {
    key = Promise.resolve()
      .then(() => crypto.subtle.importKey('spki', pemToDer(pem), RS256, false, ['verify']))
      // A key that does not import fails every token, as with Clerk, and is tried again next time.
      .catch((err: unknown) => {
        importedKeys.delete(pem);
        throw err;
      });
    importedKeys.set(pem, key);
  }
  return key;
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Seconds since the epoch → ms, as Clerk computes it (`new Date(0).setUTCSeconds(s)`: NaN out of range). */
const secondsToMs = (s: number) => new Date(0).setUTCSeconds(s);

type Claims = Record<string, unknown>;

/** The first half of Clerk's `verifyToken` with a PEM key: the token's form, header and signature → its claims. */
async function verifySignature(token: string, pem: string): Promise<{ claims: Claims } | { reason: string }> {
  const parts = token.split('.');
  if (parts.length !== 3) return { reason: 'token-invalid' };
  const [rawHeader, rawPayload, rawSignature] = parts as [string, string, string];
  let header: unknown;
  let payload: unknown;
  let signature: Uint8Array<ArrayBuffer>;
  try {
    header = JSON.parse(utf8.decode(base64urlDecode(rawHeader)));
    payload = JSON.parse(utf8.decode(base64urlDecode(rawPayload)));
    signature = base64urlDecode(rawSignature);
  } catch {
    return { reason: 'token-invalid' };
  }
  // Claims are read as Clerk reads them (destructuring): null fails, another JSON value just has no claims.
  if (header === null) return { reason: 'token-invalid' };
  const { cat, typ, alg } = Object(header) as Claims;
  if (cat === M2M_CATEGORY) return { reason: 'token-invalid' };
  if (typ !== undefined && typ !== 'JWT') return { reason: 'token-invalid' };
  if (typeof alg !== 'string' || !RSA_ALGS.has(alg)) return { reason: 'token-invalid-algorithm' };
  // Clerk's key is an RS256 JWK: RS384/RS512 fail to import against it.
  if (alg !== 'RS256') return { reason: 'token-verification-failed' };

  let valid: boolean;
  try {
    const key = await importVerifyKey(pem);
    valid = await crypto.subtle.verify(RS256, key, signature, encoder.encode(`${rawHeader}.${rawPayload}`));
  } catch {
    return { reason: 'token-verification-failed' };
  }
  if (!valid) return { reason: 'token-invalid-signature' };
  if (payload === null) return { reason: 'token-invalid' };
  return { claims: Object(payload) as Claims };
}

/** The second half, at `now`: the claims Clerk checks (subject, authorized party, exp / nbf / iat with skew). */
function checkClaims(claims: Claims, opts: { authorizedParties: string[]; now: number }): string | undefined {
  const { azp, sub, exp, nbf, iat } = claims;
  if (typeof sub !== 'string') return 'token-verification-failed';
  if (opts.authorizedParties.length > 0 && (!azp || !opts.authorizedParties.includes(azp as string)))
    return 'token-invalid-authorized-parties';
  if (typeof exp !== 'number') return 'token-verification-failed';
  if (secondsToMs(exp) <= opts.now - CLOCK_SKEW_MS) return 'token-expired';
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') return 'token-verification-failed';
    if (secondsToMs(nbf) > opts.now + CLOCK_SKEW_MS) return 'token-not-active-yet';
  }
  if (iat !== undefined) {
    if (typeof iat !== 'number') return 'token-verification-failed';
    if (secondsToMs(iat) > opts.now + CLOCK_SKEW_MS) return 'token-iat-in-the-future';
  }
  return undefined;
}

/** Tokens whose signature a verifier has checked, kept (by their exact text) for this many. */
export const VERIFIED_TOKENS_KEPT = 5_000;
/** Longer tokens are checked every time (a Clerk session token is about 1 KB): the memory stays ≤ ~40 MB. */
const MAX_KEPT_TOKEN_CHARS = 8_192;

/**
 * A session verifier. A token whose signature checked out is remembered by its exact text (the signature is part
 * of it: any other text is checked anew), so the extension's next requests with the same token (Clerk refreshes it
 * about once a minute) skip the RSA check and its trip to the crypto thread pool; every claim, and the clock
 * against exp / nbf / iat, is still checked on every request. At most VERIFIED_TOKENS_KEPT are kept (the oldest
 * go first); a token found expired is dropped.
 */
export function createSessionVerifier(opts: {
  jwtKey: string;
  authorizedParties: string[];
  issuer?: string | undefined;
  now?: () => number;
  /** How many verified tokens to keep (default VERIFIED_TOKENS_KEPT; 0: none). */
  keep?: number;
}): SessionVerifier {
  const now = opts.now ?? Date.now;
  const keep = opts.keep ?? VERIFIED_TOKENS_KEPT;
  // Imported now, so the first request does not pay for it (a bad key is reported per token, as before).
  void importVerifyKey(opts.jwtKey).catch(() => {});
  const verified = new Map<string, Claims>();
  return async (token) => {
    // The signature's `=` padding is optional (Clerk decodes it loosely): one entry however much is appended.
    // Padding elsewhere changes the signed text, so those tokens fail their check and are never kept.
    const key = token.replace(/=+$/, '');
    let claims = verified.get(key);
    if (!claims) {
      const checked = await verifySignature(token, opts.jwtKey);
      if ('reason' in checked) return { ok: false, reason: checked.reason };
      claims = checked.claims;
      if (keep > 0 && token.length <= MAX_KEPT_TOKEN_CHARS && !verified.has(key)) {
        if (verified.size >= keep) verified.delete(verified.keys().next().value!);
        verified.set(key, claims);
      }
    }
    const refused = checkClaims(claims, { authorizedParties: opts.authorizedParties, now: now() });
    if (refused) {
      if (refused === 'token-expired') verified.delete(key);
      return { ok: false, reason: refused };
    }
    return checkSession(claims, opts);
  };
}

/** This module's own checks, after Clerk's: an active session of a well-formed user, from the configured issuer. */
export function checkSession(
  data: Claims,
  opts: { authorizedParties: string[]; issuer?: string | undefined },
): VerifyResult {
  if (opts.authorizedParties.length > 0 && typeof data.azp !== 'string')
    return { ok: false, reason: 'token-missing-azp' };
  if (opts.issuer && data.iss !== opts.issuer) return { ok: false, reason: 'token-wrong-issuer' };
  if (typeof data.sub !== 'string' || !USER_ID.test(data.sub)) return { ok: false, reason: 'token-invalid-sub' };
  if (typeof data.sid !== 'string' || data.sid.length === 0) return { ok: false, reason: 'token-not-a-session' };
  if (data.sts !== 'active') return { ok: false, reason: 'session-not-active' };
  return { ok: true, user: { userId: data.sub, sessionId: data.sid } };
}
