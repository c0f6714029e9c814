/**
 * The session verifier with its key imported once (api/auth/verify.ts) decides every token exactly as the
 * previous one, `@clerk/backend`'s `verifyToken` with the PEM key plus the same own checks
 * (tests/support/clerk-verifier.ts): same acceptance, same failure reason, on valid tokens and on every way a
 * token can be wrong (form, encoding, header, algorithm, signature, each claim, the clock skew's edges).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { base64urlDecode, CLOCK_SKEW_MS, createSessionVerifier, type SessionVerifier } from '../../api/auth/verify';
import { createClerkSessionVerifier } from '../support/clerk-verifier';

const EXT = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
const ISS = 'https://clerk.redraft.example';
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

let sign: (header: unknown, payload: unknown) => Promise<string>;
let otherSign: (header: unknown, payload: unknown) => Promise<string>;
let pem: string;

async function signer() {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', publicKey)).toString('base64');
  return {
    pem: `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----`,
    sign: async (header: unknown, payload: unknown) => {
      const input = `${b64(header)}.${b64(payload)}`;
      const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, new TextEncoder().encode(input));
      return `${input}.${Buffer.from(sig).toString('base64url')}`;
    },
  };
}

beforeAll(async () => {
  const a = await signer();
  const b = await signer();
  ({ sign, pem } = a);
  otherSign = b.sign;
});

const H = { alg: 'RS256', typ: 'JWT', kid: 'ins_1' };
const claims = (o: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return {
    v: 2,
    sub: 'user_1',
    sid: 'sess_1',
    sts: 'active',
    iss: ISS,
    azp: EXT,
    iat: now,
    nbf: now - 5,
    exp: now + 60,
    ...o,
  };
};
const s = (offsetMs: number) => (Date.now() + offsetMs) / 1000;

/** name → token (made once the key exists). */
function cases(): Record<string, () => Promise<string> | string> {
  return {
    valid: () => sign(H, claims()),
    'valid, no typ': () => sign({ alg: 'RS256' }, claims()),
    'valid, no nbf/iat': () => sign(H, claims({ nbf: undefined, iat: undefined })),
    'valid, padded parts': async () =>
      (await sign(H, claims()))
        .split('.')
        .map((p) => p + '='.repeat((4 - (p.length % 4)) % 4))
        .join('.'),
    'expired long ago': () => sign(H, claims({ exp: s(-3600_000) })),
    'expired, inside the skew': () => sign(H, claims({ exp: s(-CLOCK_SKEW_MS + 2000) })),
    'expired, just past the skew': () => sign(H, claims({ exp: s(-CLOCK_SKEW_MS - 2000) })),
    'exp huge (Clerk: no date, not expired)': () => sign(H, claims({ exp: 1e20 })),
    'exp fractional': () => sign(H, claims({ exp: s(30_000) + 0.7 })),
    'exp missing': () => sign(H, claims({ exp: undefined })),
    'exp string': () => sign(H, claims({ exp: String(s(60_000)) })),
    'nbf in the future past the skew': () => sign(H, claims({ nbf: s(CLOCK_SKEW_MS + 3000) })),
    'nbf in the future inside the skew': () => sign(H, claims({ nbf: s(CLOCK_SKEW_MS - 2000) })),
    'nbf string': () => sign(H, claims({ nbf: 'now' })),
    'iat in the future past the skew': () => sign(H, claims({ iat: s(CLOCK_SKEW_MS + 3000) })),
    'iat in the future inside the skew': () => sign(H, claims({ iat: s(CLOCK_SKEW_MS - 2000) })),
    'iat null': () => sign(H, claims({ iat: null })),
    'sub missing': () => sign(H, claims({ sub: undefined })),
    'sub number': () => sign(H, claims({ sub: 42 })),
    'sub hostile': () => sign(H, claims({ sub: 'user_1}:quota' })),
    'sub empty': () => sign(H, claims({ sub: '' })),
    'azp other': () => sign(H, claims({ azp: 'https://evil.example.com' })),
    'azp missing': () => sign(H, claims({ azp: undefined })),
    'azp empty': () => sign(H, claims({ azp: '' })),
    'azp number': () => sign(H, claims({ azp: 7 })),
    'azp array': () => sign(H, claims({ azp: [EXT] })),
    'iss other': () => sign(H, claims({ iss: 'https://clerk.attacker.example' })),
    'iss missing': () => sign(H, claims({ iss: undefined })),
    'sid missing': () => sign(H, claims({ sid: undefined })),
    'sid empty': () => sign(H, claims({ sid: '' })),
    'sts pending': () => sign(H, claims({ sts: 'pending' })),
    'sts missing': () => sign(H, claims({ sts: undefined })),
    'sts Active': () => sign(H, claims({ sts: 'Active' })),
    'typ at+jwt': () => sign({ ...H, typ: 'at+jwt' }, claims()),
    'typ null': () => sign({ ...H, typ: null }, claims()),
    'machine token category': () => sign({ ...H, cat: 'cl_B7d4PD333AAA' }, claims()),
    'alg RS384': () => sign({ ...H, alg: 'RS384' }, claims()),
    'alg RS512': () => sign({ ...H, alg: 'RS512' }, claims()),
    'alg HS256': () => sign({ ...H, alg: 'HS256' }, claims()),
    'alg ES256': () => sign({ ...H, alg: 'ES256' }, claims()),
    'alg missing': () => sign({ typ: 'JWT' }, claims()),
    'alg none, no signature': () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`,
    'header null': () => sign(null, claims()),
    'header a string': () => sign('"RS256"', claims()),
    'header an array': () => sign([], claims()),
    'payload null (signed)': () => sign(H, null),
    'payload a number (signed)': () => sign(H, 5),
    'payload an array (signed)': () => sign(H, []),
    'payload not JSON (signed)': () => sign(H, 'not json'),
    'signed by another key': () => otherSign(H, claims()),
    'tampered payload': async () => {
      const [h, , sig] = (await sign(H, claims())).split('.');
      return `${h}.${b64(claims({ sub: 'user_attacker' }))}.${sig}`;
    },
    'signature truncated': async () => (await sign(H, claims())).slice(0, -10),
    'signature empty': async () => `${(await sign(H, claims())).split('.').slice(0, 2).join('.')}.`,
    'signature with a + (not base64url)': async () => `${(await sign(H, claims())).slice(0, -2)}+A`,
    'signature non-canonical last char': async () => {
      const t = await sign(H, claims());
      const last = t.at(-1)!;
      // 256 bytes → 342 chars, last char carries 4 payload bits: set a low (unused) bit.
      const alt = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      return t.slice(0, -1) + alt[alt.indexOf(last) ^ 1]!;
    },
    'signature with whitespace': async () =>
      `${(await sign(H, claims())).slice(0, -4)} ${(await sign(H, claims())).slice(-4)}`,
    'two parts': () => 'eyJhbGciOiJSUzI1NiJ9.e30',
    'four parts': async () => `${await sign(H, claims())}.x`,
    garbage: () => 'not.a.jwt',
    empty: () => '',
    'unsigned RS256 header': () => 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
    'header length 4n+1': async () => `A${await sign(H, claims())}`,
    'non-UTF-8 payload bytes': async () => {
      const t = await sign(H, claims());
      const [h, , sig] = t.split('.');
      return `${h}.${Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64url')}.${sig}`;
    },
  };
}

describe('the cached-key verifier decides as Clerk verifyToken did', () => {
  const configs = [
    { name: 'production (azp + issuer)', authorizedParties: [EXT], issuer: ISS },
    { name: 'no authorized parties, no issuer', authorizedParties: [] as string[], issuer: undefined },
  ];
  for (const cfg of configs) {
    it(`on every case: ${cfg.name}`, async () => {
      const fresh = createSessionVerifier({ jwtKey: pem, ...cfg });
      const reference: SessionVerifier = createClerkSessionVerifier({ jwtKey: pem, ...cfg });
      const seen = new Set<string>();
      for (const [name, make] of Object.entries(cases())) {
        const token = await make();
        const [mine, clerk] = await Promise.all([fresh(token), reference(token)]);
        expect({ name, ...mine }).toEqual({ name, ...clerk });
        seen.add(mine.ok ? 'ok' : mine.reason);
      }
      // Asked again, from what it remembers of the first time: the same decisions.
      for (const [name, make] of Object.entries(cases())) {
        const token = await make();
        await fresh(token);
        expect({ name, ...(await fresh(token)) }).toEqual({ name, ...(await reference(token)) });
      }
      // The cases reach every outcome, or they would prove little.
      for (const r of [
        'ok',
        'token-invalid',
        'token-invalid-algorithm',
        'token-verification-failed',
        'token-invalid-signature',
        'token-expired',
        'token-not-active-yet',
        'token-iat-in-the-future',
        'token-invalid-sub',
        'token-not-a-session',
        'session-not-active',
      ])
        expect(seen).toContain(r);
      if (cfg.authorizedParties.length > 0) {
        expect(seen).toContain('token-invalid-authorized-parties');
        expect(seen).toContain('token-wrong-issuer');
      }
    });
  }

  it('uses the injected clock', async () => {
    const at = Date.UTC(2030, 0, 1);
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, now: () => at });
    const token = await sign(H, claims({ iat: at / 1000, nbf: at / 1000, exp: at / 1000 + 60 }));
    expect(await verify(token)).toEqual({ ok: true, user: { userId: 'user_1', sessionId: 'sess_1' } });
    const later = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], now: () => at + 66_000 });
    expect(await later(token)).toEqual({ ok: false, reason: 'token-expired' });
  });

  it('a key that is not an RSA public key fails every token, as before (the reason may differ)', async () => {
    const token = await sign(H, claims());
    const bad = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----';
    const verify = createSessionVerifier({ jwtKey: bad, authorizedParties: [EXT], issuer: ISS });
    const reference = createClerkSessionVerifier({ jwtKey: bad, authorizedParties: [EXT], issuer: ISS });
    expect(await verify(token)).toEqual({ ok: false, reason: 'token-verification-failed' });
    // Clerk turns whatever is between the PEM lines into an RSA modulus: this one imports, and never verifies.
    expect(await reference(token)).toEqual({ ok: false, reason: 'token-invalid-signature' });
  });

  it('decodes base64url strictly, as Clerk does', () => {
    expect(Buffer.from(base64urlDecode('aGVsbG8')).toString()).toBe('hello');
    expect(Buffer.from(base64urlDecode('aGVsbG8=')).toString()).toBe('hello');
    for (const bad of ['aGVsbG9', 'aGV+bG8', 'aGV/bG8', 'aG=VsbG8', 'A', 'aGVs bG8']) {
      expect(() => base64urlDecode(bad), bad).toThrow(SyntaxError);
    }
  });
});

describe('verified tokens are remembered by their exact text; claims and clock are checked every time', () => {
  afterEach(() => vi.restoreAllMocks());
  const checks = () => vi.spyOn(crypto.subtle, 'verify');

  it("checks a token's signature once, then only its claims", async () => {
    const spy = checks();
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS });
    const token = await sign(H, claims());
    for (let i = 0; i < 5; i++)
      expect(await verify(token)).toEqual({ ok: true, user: { userId: 'user_1', sessionId: 'sess_1' } });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('a remembered token expires with the clock, and is then forgotten', async () => {
    const at = Date.UTC(2030, 0, 1);
    let clock = at;
    const spy = checks();
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, now: () => clock });
    const token = await sign(H, claims({ iat: at / 1000, nbf: at / 1000, exp: at / 1000 + 60 }));
    expect((await verify(token)).ok).toBe(true);
    clock = at + 64_000; // within the 5 s skew
    expect((await verify(token)).ok).toBe(true);
    clock = at + 66_000;
    expect(await verify(token)).toEqual({ ok: false, reason: 'token-expired' });
    expect(spy).toHaveBeenCalledTimes(1);
    clock = at; // forgotten: checked anew
    expect((await verify(token)).ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('not yet valid, then valid: the clock decides on every request', async () => {
    const at = Date.UTC(2030, 0, 1);
    let clock = at;
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, now: () => clock });
    const token = await sign(H, claims({ iat: at / 1000, nbf: at / 1000 + 30, exp: at / 1000 + 90 }));
    expect(await verify(token)).toEqual({ ok: false, reason: 'token-not-active-yet' });
    clock = at + 30_000;
    expect((await verify(token)).ok).toBe(true);
  });

  it('any other text is checked anew: a changed signature, payload or header after the real one was accepted', async () => {
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS });
    const token = await sign(H, claims());
    expect((await verify(token)).ok).toBe(true);
    const [h, p, sig] = token.split('.') as [string, string, string];
    const flip = (x: string) => (x.endsWith('A') ? `${x.slice(0, -2)}B${x.at(-1)}` : `${x.slice(0, -2)}A${x.at(-1)}`);
    expect(await verify(`${h}.${p}.${flip(sig)}`)).toMatchObject({ ok: false });
    expect(await verify(`${h}.${b64(claims({ sub: 'user_2' }))}.${sig}`)).toEqual({
      ok: false,
      reason: 'token-invalid-signature',
    });
    expect(await verify(`${b64({ ...H, kid: 'x' })}.${p}.${sig}`)).toEqual({
      ok: false,
      reason: 'token-invalid-signature',
    });
    const forged = await otherSign(H, claims());
    expect(await verify(forged)).toEqual({ ok: false, reason: 'token-invalid-signature' });
  });

  it('one entry per token however much padding is appended to its signature; padding elsewhere fails', async () => {
    const spy = checks();
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, keep: 2 });
    const [a, b] = await Promise.all([1, 2].map((i) => sign(H, claims({ sid: `sess_${i}` }))));
    expect((await verify(a!)).ok).toBe(true);
    expect((await verify(b!)).ok).toBe(true);
    for (let n = 1; n < 20; n++) expect((await verify(`${a}${'='.repeat(n)}`)).ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(2); // a's padded copies are a, and did not push b out
    await verify(b!);
    expect(spy).toHaveBeenCalledTimes(2);
    const [h, p, sig] = a!.split('.');
    expect(await verify(`${h}=.${p}.${sig}`)).toEqual({ ok: false, reason: 'token-invalid-signature' });
    expect(await verify(`${h}.${p}==.${sig}`)).toEqual({ ok: false, reason: 'token-invalid-signature' });
  });

  it('keep 0 keeps nothing; a very long token is checked every time', async () => {
    const spy = checks();
    const none = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, keep: 0 });
    const token = await sign(H, claims());
    await none(token);
    await none(token);
    expect(spy).toHaveBeenCalledTimes(2);
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS });
    const long = await sign(H, claims({ pad: 'x'.repeat(9_000) }));
    expect((await verify(long)).ok).toBe(true);
    expect((await verify(long)).ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(4);
  });

  it('keeps a bounded number, the oldest going first', async () => {
    const spy = checks();
    const verify = createSessionVerifier({ jwtKey: pem, authorizedParties: [EXT], issuer: ISS, keep: 2 });
    const [a, b, c] = await Promise.all([1, 2, 3].map((i) => sign(H, claims({ sid: `sess_${i}` }))));
    for (const t of [a, b, c]) expect((await verify(t!)).ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(3);
    await verify(c!);
    await verify(b!);
    expect(spy).toHaveBeenCalledTimes(3); // b and c remembered
    await verify(a!);
    expect(spy).toHaveBeenCalledTimes(4); // a was dropped when c came
  });
});
