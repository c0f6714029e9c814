/**
 * No secret in the built extension. The build runs with canary secrets in its environment (the API's
 * own variables, as on a developer's machine or CI where both are built), with a Clerk publishable key
 * so the Clerk code paths are bundled too; every file of the output is then scanned for the canaries
 * and for the shapes of real keys.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildExtension } from './helpers';

// Prefixes are joined at run time so that no secret-shaped literal sits in the source (secret scanners).
const p = (prefix: string, rest: string) => `${prefix}${rest}`;
const CANARIES = {
  OPENAI_API_KEY: p('sk-', 'proj-CANARYopenai0123456789abcdefABCDEF'),
  STRIPE_SECRET_KEY: p('sk_', 'test_CANARYstripe0123456789abcdefABCDEF'),
  STRIPE_WEBHOOK_SECRET: p('whsec', '_CANARYwebhook0123456789abcdef'),
  UPSTASH_REDIS_REST_TOKEN: 'AYCANARYupstash0123456789abcdefABCDEFghij',
  CLERK_SECRET_KEY: p('sk_', 'live_CANARYclerk0123456789abcdefABCDEF'),
  CRON_SECRET: 'CANARYcron0123456789abcdefABCDEF',
  METRICS_TOKEN: 'CANARYmetrics0123456789abcdef',
  CLERK_JWT_KEY: '-----BEGIN PUBLIC KEY-----\nCANARYjwtkey\n-----END PUBLIC KEY-----',
};

/** Shapes of real secrets (publishable keys `pk_...` are public by design and allowed). */
const SECRET_SHAPES: [string, RegExp][] = [
  ['OpenAI key', /\bsk-(proj-)?[A-Za-z0-9_-]{20,}/],
  ['Stripe/Clerk secret key', /\b(sk|rk)_(test|live)_[A-Za-z0-9]{10,}/],
  ['Stripe webhook secret', /\bwhsec_[A-Za-z0-9]{10,}/],
  ['private key', /-----BEGIN (RSA |EC |)PRIVATE KEY-----/],
  ['a JWT', /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
];

const outRoot = mkdtempSync(join(tmpdir(), 'redraft-secrets-'));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('built extension', () => {
  it('contains none of the secrets in its build environment, nor anything shaped like a secret', async () => {
    const dir = await buildExtension(
      {
        ...CANARIES,
        REDRAFT_CLERK_PUBLISHABLE_KEY: 'pk_test_Y2FuYXJ5LmNsZXJrLmFjY291bnRzLmRldiQ',
        REDRAFT_API_URL: 'https://api.redraft.example',
      },
      outRoot,
    );
    const all = files(dir);
    expect(all.some((f) => f.endsWith('background.js'))).toBe(true);
    const findings: string[] = [];
    for (const f of all) {
      const text = readFileSync(f, 'latin1');
      for (const [name, value] of Object.entries(CANARIES))
        if (text.includes(value) || text.includes('CANARY')) findings.push(`${f}: ${name}`);
      for (const [name, re] of SECRET_SHAPES) {
        const m = re.exec(text);
        if (m) findings.push(`${f}: ${name} (${m[0].slice(0, 24)}…)`);
      }
    }
    expect(findings).toEqual([]);
    // The publishable key is meant to be there (Clerk needs it in the client).
    expect(all.some((f) => readFileSync(f, 'latin1').includes('pk_test_Y2FuYXJ5'))).toBe(true);
  }, 180_000);
});
