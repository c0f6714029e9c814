import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../api/config/env';
import { overage, PLAN_MODELS, PLANS } from '../../api/config/plans';
import { priceListAt, providerCostUsd, PRICE_LISTS } from '../../api/config/model-prices';

const base = {
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079',
  UPSTASH_REDIS_REST_TOKEN: 't',
  OPENAI_API_KEY: 'k',
  DEV_AUTH: '1',
};

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.limits).toEqual({
      maxTextChars: 20_000,
      maxBodyBytes: 262_144,
      requestsPerMinute: 60,
      tokensPerMinute: 200_000,
      accountRequestsPerMinute: 120,
    });
    expect(c.model.routes).toEqual(PLAN_MODELS);
    expect(Object.keys(c.model.providers)).toEqual(['openai']);
    expect(c.auth.devAuth).toBe(true);
  });

  it('names every wrong variable at once', () => {
    try {
      loadConfig({ UPSTASH_REDIS_REST_URL: 'not a url', MODEL: 'gpt-9', RATE_LIMIT_RPM: 'many' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      for (const v of [
        'UPSTASH_REDIS_REST_URL must be a URL',
        'UPSTASH_REDIS_REST_TOKEN is required',
        'OPENAI_API_KEY is required',
        'MODEL must be a model with a price',
        'RATE_LIMIT_RPM must be a whole number',
      ])
        expect(msg).toContain(v);
    }
  });

  it('requires a Clerk key unless dev auth is on', () => {
    expect(() => loadConfig({ ...base, DEV_AUTH: undefined })).toThrow(/CLERK_JWT_KEY is required/);
    expect(() => loadConfig({ ...base, DEV_AUTH: '0', CLERK_JWT_KEY: 'abc' })).toThrow(
      /CLERK_JWT_KEY must be the PEM public key/,
    );
  });

  it('refuses dev auth and the model stand-in in production', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(
      /DEV_AUTH is refused when NODE_ENV=production/,
    );
    expect(() =>
      loadConfig({
        ...base,
        DEV_AUTH: '0',
        CLERK_JWT_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----',
        MODEL_STAND_IN: '1',
        NODE_ENV: 'production',
      }),
    ).toThrow(/MODEL_STAND_IN/);
  });

  it('requires the authorized parties, the issuer and the metrics token in production, saying what to set', () => {
    const prod = {
      ...base,
      DEV_AUTH: '0',
      CLERK_JWT_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----',
      NODE_ENV: 'production',
    };
    const complete = {
      ...prod,
      CLERK_AUTHORIZED_PARTIES: 'chrome-extension://abc',
      CLERK_ISSUER: 'https://clerk.example.com',
      METRICS_TOKEN: 'metrics-token-0123456789',
    };
    try {
      loadConfig(prod);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain(
        "CLERK_AUTHORIZED_PARTIES is required when NODE_ENV=production: the origins allowed in the token's azp, e.g. chrome-extension://<extension id>",
      );
      expect(msg).toContain(
        'CLERK_ISSUER is required when NODE_ENV=production: your Clerk Frontend API URL, e.g. https://clerk.example.com',
      );
      expect(msg).toContain(
        'METRICS_TOKEN is required when NODE_ENV=production: a random secret of at least 16 characters',
      );
    }
    for (const missing of ['CLERK_AUTHORIZED_PARTIES', 'CLERK_ISSUER', 'METRICS_TOKEN']) {
      expect(() => loadConfig({ ...complete, [missing]: '' }), missing).toThrow(
        new RegExp(`${missing} is required when NODE_ENV=production`),
      );
    }
    expect(loadConfig(complete).auth).toMatchObject({
      authorizedParties: ['chrome-extension://abc'],
      issuer: 'https://clerk.example.com',
    });
    // Outside production they stay optional (npm run dev, tests).
    expect(() => loadConfig(base)).not.toThrow();
  });

  it('reads where the Node server listens and its client timeouts', () => {
    expect(loadConfig(base).http).toEqual({ host: '0.0.0.0', headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    expect(
      loadConfig({ ...base, HOST: '127.0.0.1', HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '60000' })
        .http,
    ).toEqual({ host: '127.0.0.1', headersTimeoutMs: 5000, requestTimeoutMs: 60_000 });
    expect(() => loadConfig({ ...base, HOST: 'my host' })).toThrow(/HOST must be an address/);
    expect(() => loadConfig({ ...base, HTTP_HEADERS_TIMEOUT_MS: '40000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS must not be longer than HTTP_REQUEST_TIMEOUT_MS/,
    );
  });

  it('splits list variables', () => {
    const c = loadConfig({ ...base, CLERK_AUTHORIZED_PARTIES: 'chrome-extension://abc, https://app.example.com ,' });
    expect(c.auth.authorizedParties).toEqual(['chrome-extension://abc', 'https://app.example.com']);
  });
});

describe('plans and prices', () => {
  it('matches the product brief', () => {
    expect(PLANS.free).toMatchObject({ includedTokens: 20_000, hardCapTokens: 20_000, overageUsdPer1k: 0 });
    expect(PLANS.pro).toMatchObject({ includedTokens: 500_000, overageUsdPer1k: 0.002, baseUsdPerMonth: 20 });
    expect(PLANS.pro.hardCapTokens).toBe(500_000 + 25_000_000);
  });

  it('prices overage only above the allowance and only where allowed', () => {
    expect(overage(PLANS.pro, 400_000)).toEqual({ tokens: 0, usd: 0 });
    expect(overage(PLANS.pro, 3_685_000)).toEqual({ tokens: 3_185_000, usd: 6.37 });
    expect(overage(PLANS.free, 25_000)).toEqual({ tokens: 0, usd: 0 });
  });

  it('computes provider cost from the price list in force', () => {
    expect(priceListAt(new Date('2026-11-30T23:59:59Z'))).toBe(PRICE_LISTS[0]);
    const list = priceListAt(new Date('2026-12-01T00:00:00Z'));
    expect(list).toBe(PRICE_LISTS[1]);
    const p = list.models['gpt-4o-mini']!;
    expect(providerCostUsd(p, { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 1000 })).toBe(0.00075);
    expect(providerCostUsd(p, { inputTokens: 123, cachedInputTokens: 0, outputTokens: 0 })).toBeCloseTo(0.00001845, 10);
  });
});
