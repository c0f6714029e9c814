/**
 * Local development only (DEV_AUTH=1, refused in production): a 2048-bit RSA key made at start-up
 * signs Clerk-shaped session tokens, and the same offline verifier checks them with its public key.
 * The whole product runs without a Clerk account. WebCrypto only, so it runs on every runtime.
 */
/** The `iss` of dev tokens (the verifier requires it in dev mode, as it requires Clerk's in production). */
export const DEV_ISSUER = 'https://redraft.dev.local';

export interface DevIssuer {
  /** SPKI PEM of the public key, given to the verifier as its jwtKey. */
  publicKeyPem: string;
  /**
   * A Clerk v2-shaped session token (`v: 2`, `sid`, `sts: 'active'`). Tests may set `sts` or `sid` to
   * another value, or to null to leave the claim out (a pending session, a JWT-template token).
   */
  issue(claims: {
    userId: string;
    azp?: string;
    ttlSeconds?: number;
    now?: number;
    iss?: string;
    sts?: string | null;
    sid?: string | null;
  }): Promise<string>;
}

const b64url = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes).toString('base64url');

export async function createDevIssuer(): Promise<DevIssuer> {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', publicKey)).toString('base64');
  const publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----`;

  return {
    publicKeyPem,
    async issue({
      userId,
      azp,
      ttlSeconds = 3600,
      now = Date.now(),
      iss = DEV_ISSUER,
      sts = 'active',
      sid = `sess_dev_${crypto.randomUUID()}`,
    }) {
      const iat = Math.floor(now / 1000);
      const header = { alg: 'RS256', typ: 'JWT', kid: 'redraft-dev' };
      const payload = {
        v: 2,
        sub: userId,
        ...(sid === null ? {} : { sid }),
        ...(sts === null ? {} : { sts }),
        iss,
        iat,
        nbf: iat - 5,
        exp: iat + ttlSeconds,
        ...(azp ? { azp } : {}),
      };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, new TextEncoder().encode(input));
      return `${input}.${b64url(new Uint8Array(sig))}`;
    },
  };
}
