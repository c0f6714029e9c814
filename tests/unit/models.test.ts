/**
 * Model routes (pure): refs, sizes per model, chains per plan and action, the MODEL_ROUTES / MODEL_PROVIDERS
 * configuration and its start-up checks, the per-plan margin warning, and the circuit breaker on a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../api/config/env';
import { KNOWN_MODELS, priceListAt } from '../../api/config/model-prices';
import { chainFor, parseModelRef, routedModels, sizeFor, traitsOf, type ModelRoutes } from '../../api/config/models';
import { PLAN_MODELS, PLANS } from '../../api/config/plans';
import { createBreakers } from '../../api/model/breaker';
import { marginWarnings } from '../../api/runtimes/node';

const base = { UPSTASH_REDIS_REST_URL: 'https://r.example', UPSTASH_REDIS_REST_TOKEN: 't', DEV_AUTH: '1' };
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ ...base, ...env });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('model refs and sizes', () => {
  it('parses provider/model (the model part may hold slashes), refuses anything else', () => {
    expect(parseModelRef('openai/gpt-4.1-mini')).toEqual({ provider: 'openai', model: 'gpt-4.1-mini' });
    expect(parseModelRef('together/meta-llama/Llama-3.3-70B')).toEqual({
      provider: 'together',
      model: 'meta-llama/Llama-3.3-70B',
    });
    for (const bad of ['gpt-4o-mini', '/gpt-4o', 'openai/', 'Open AI/gpt', 'openai/ gpt', 'openai/gpt\n'])
      expect(parseModelRef(bad)).toBeUndefined();
  });

  it('sizes an attempt by the model: o200k models exactly, others with their bound, reasoning with its budget', () => {
    expect(sizeFor('gpt-4o-mini', 1000, 300)).toEqual({ inputTokens: 1000, outputCap: 300 });
    expect(sizeFor('claude-haiku-4-5', 1000, 300)).toEqual({ inputTokens: 1300, outputCap: 300 });
    expect(sizeFor('o4-mini', 1000, 300)).toEqual({
      inputTokens: 1000,
      outputCap: 300 + traitsOf('o4-mini').reasoningBudget,
    });
    // The action's cap never exceeds what the model can write.
    expect(sizeFor('claude-haiku-4-5', 10, 12_000).outputCap).toBe(traitsOf('claude-haiku-4-5').maxOutputTokens);
    // A model we know nothing of (an OpenAI-compatible server's) is treated as o200k.
    expect(sizeFor('some-llama', 500, 200)).toEqual({ inputTokens: 500, outputCap: 200 });
  });

  it('a plan runs its action chain when it has one, else its default; routed models are listed once', () => {
    const routes: ModelRoutes = {
      free: { default: ['openai/gpt-4o-mini'] },
      pro: { default: ['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5'], actions: { expand: ['openai/gpt-4o'] } },
    };
    expect(chainFor(routes, 'pro', 'expand')).toEqual(['openai/gpt-4o']);
    expect(chainFor(routes, 'pro', 'rewrite')).toEqual(['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5']);
    expect(chainFor(routes, 'free', 'expand')).toEqual(['openai/gpt-4o-mini']);
    expect(routedModels(routes).sort()).toEqual(['claude-haiku-4-5', 'gpt-4.1-mini', 'gpt-4o', 'gpt-4o-mini']);
  });

  it('every model of the plans’ own chains has a price and known traits', () => {
    for (const m of routedModels(PLAN_MODELS)) {
      expect(KNOWN_MODELS).toContain(m);
      expect(priceListAt(new Date()).models[m]).toBeDefined();
    }
    // Free runs a small model first; Pro a better one.
    expect(PLAN_MODELS.free.default[0]).toBe('openai/gpt-4o-mini');
    expect(PLAN_MODELS.pro.default[0]).toBe('openai/gpt-4.1-mini');
  });
});

describe('MODEL_ROUTES and providers at start-up', () => {
  it('defaults to the plans’ chains, with only the providers they use', () => {
    const c = loadConfig({ ...base, OPENAI_API_KEY: 'k' });
    expect(c.model.routes).toEqual(PLAN_MODELS);
    expect(c.model.providers).toEqual({ openai: { kind: 'openai', apiKey: 'k', baseURL: undefined } });
  });

  it('MODEL alone routes every plan to that OpenAI model (the setting before MODEL_ROUTES)', () => {
    const c = loadConfig({ ...base, OPENAI_API_KEY: 'k', MODEL: 'gpt-4.1-nano' });
    expect(c.model.routes).toEqual({
      free: { default: ['openai/gpt-4.1-nano'] },
      pro: { default: ['openai/gpt-4.1-nano'] },
    });
  });

  it('reads chains per plan and per action, and configures Anthropic and OpenAI-compatible providers', () => {
    const c = loadConfig({
      ...base,
      OPENAI_API_KEY: 'k',
      ANTHROPIC_API_KEY: 'a',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1',
      MODEL_PROVIDERS: JSON.stringify({ together: { baseURL: 'https://api.together.example/v1', apiKey: 't' } }),
      MODEL_ROUTES: JSON.stringify({
        free: ['together/gpt-4.1-nano', 'openai/gpt-4o-mini'],
        pro: {
          default: ['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5'],
          actions: { shorten: ['openai/gpt-4o-mini'] },
        },
      }),
    });
    expect(c.model.routes.free).toEqual({ default: ['together/gpt-4.1-nano', 'openai/gpt-4o-mini'] });
    expect(c.model.routes.pro.actions).toEqual({ shorten: ['openai/gpt-4o-mini'] });
    expect(c.model.providers).toEqual({
      openai: { kind: 'openai', apiKey: 'k', baseURL: undefined },
      anthropic: { kind: 'anthropic', apiKey: 'a', baseURL: 'http://127.0.0.1:9/v1' },
      together: { kind: 'openai-compatible', apiKey: 't', baseURL: 'https://api.together.example/v1' },
    });
  });

  it('names each problem: unpriced models, missing providers and keys, bad JSON, conflicting settings', () => {
    expect(problemsOf({ OPENAI_API_KEY: 'k', MODEL_ROUTES: '{free:' })).toEqual([
      expect.stringMatching(/^MODEL_ROUTES must be JSON/),
    ]);
    const routes = (r: unknown) => JSON.stringify(r);
    expect(
      problemsOf({ OPENAI_API_KEY: 'k', MODEL_ROUTES: routes({ free: ['openai/gpt-9'], pro: ['openai/gpt-4o'] }) }),
    ).toEqual([expect.stringMatching(/^MODEL_ROUTES names openai\/gpt-9, which has no price/)]);
    expect(
      problemsOf({
        OPENAI_API_KEY: 'k',
        MODEL_ROUTES: routes({ free: ['openai/gpt-4o'], pro: ['anthropic/claude-haiku-4-5'] }),
      }),
    ).toEqual([expect.stringMatching(/^ANTHROPIC_API_KEY is required: anthropic\/claude-haiku-4-5 is routed/)]);
    expect(
      problemsOf({ OPENAI_API_KEY: 'k', MODEL_ROUTES: routes({ free: ['groq/gpt-4o'], pro: ['openai/gpt-4o'] }) }),
    ).toEqual([expect.stringMatching(/MODEL_PROVIDERS has no provider "groq"/)]);
    expect(problemsOf({ MODEL_ROUTES: routes({ free: ['openai/gpt-4o'], pro: ['openai/gpt-4o'] }) })).toEqual([
      expect.stringMatching(/^OPENAI_API_KEY is required/),
    ]);
    expect(
      problemsOf({
        OPENAI_API_KEY: 'k',
        MODEL: 'gpt-4o',
        MODEL_ROUTES: routes({ free: ['openai/gpt-4o'], pro: ['openai/gpt-4o'] }),
      }),
    ).toEqual([expect.stringMatching(/^MODEL must not be set with MODEL_ROUTES/)]);
    expect(
      problemsOf({ OPENAI_API_KEY: 'k', MODEL_ROUTES: routes({ free: [], pro: ['openai/gpt-4o', 'openai/gpt-4o'] }) }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^MODEL_ROUTES\.free\.default must name at least one model/),
        expect.stringMatching(/^MODEL_ROUTES\.pro\.default must not name a model twice/),
      ]),
    );
    expect(
      problemsOf({
        OPENAI_API_KEY: 'k',
        MODEL_PROVIDERS: routes({ openai: { baseURL: 'https://x.example/v1', apiKey: 'x' } }),
      }),
    ).toEqual([expect.stringMatching(/^MODEL_PROVIDERS must not redefine the built-in provider "openai"/)]);
    expect(
      problemsOf({ OPENAI_API_KEY: 'k', MODEL_ROUTES: routes({ free: ['gpt-4o'], pro: ['openai/gpt-4o'] }) }),
    ).toEqual([expect.stringMatching(/^MODEL_ROUTES\.free.*must be provider\/model/)]);
  });

  it('warns per plan about each routed model that costs more than the plan’s overage brings in', () => {
    const config = loadConfig({
      ...base,
      OPENAI_API_KEY: 'k',
      ANTHROPIC_API_KEY: 'a',
      MODEL_ROUTES: JSON.stringify({
        free: ['openai/gpt-4o'],
        pro: { default: ['openai/gpt-4.1-mini', 'anthropic/claude-haiku-4-5'], actions: { expand: ['openai/gpt-4o'] } },
      }),
    });
    const warnings = marginWarnings(config, new Date('2026-12-02T12:00:00Z'));
    // Free has no overage (its cost is acquisition): nothing to warn about there. Pro's $0.002 per 1K is less than
    // Claude Haiku 4.5's and GPT-4o's output prices, more than GPT-4.1 mini's.
    expect(PLANS.pro.overageUsdPer1k).toBe(0.002);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^WARNING: anthropic\/claude-haiku-4-5 costs up to \$0\.005 per 1K tokens, more than the pro plan/,
    );
    expect(warnings[1]).toMatch(/^WARNING: openai\/gpt-4o costs up to \$0\.01 per 1K tokens, more than the pro plan/);
    expect(marginWarnings(loadConfig({ ...base, OPENAI_API_KEY: 'k' }))).toEqual([]);
  });
});

describe('circuit breaker (fake clock)', () => {
  it('closed → open after N failures in a row → one trial when the open time is over → closed on success', () => {
    let now = 0;
    const b = createBreakers({ failures: 3, openMs: 10_000, now: () => now });
    expect(b.allow('m')).toBe(true);
    b.failed('m');
    b.failed('m');
    b.succeeded('m'); // a success resets the run
    b.failed('m');
    b.failed('m');
    expect(b.state('m')).toBe('closed');
    b.failed('m');
    expect(b.state('m')).toBe('open');
    expect(b.allow('m')).toBe(false);
    expect(b.retryInMs(['m'])).toBe(10_000);
    now = 9_999;
    expect(b.allow('m')).toBe(false);
    now = 10_000;
    expect(b.state('m')).toBe('half-open');
    expect(b.allow('m')).toBe(true); // the one trial
    expect(b.allow('m')).toBe(false); // others still skip it while it runs
    b.succeeded('m');
    expect(b.state('m')).toBe('closed');
    expect(b.allow('m')).toBe(true);
    expect(b.snapshot()).toEqual([{ ref: 'm', state: 'closed', opened: 1 }]);
  });

  it('a failed trial opens it again for the whole open time; an abandoned trial frees the slot without a verdict', () => {
    let now = 0;
    const b = createBreakers({ failures: 1, openMs: 1000, now: () => now });
    b.failed('m');
    now = 1000;
    expect(b.allow('m')).toBe(true);
    b.failed('m');
    expect(b.state('m')).toBe('open');
    expect(b.retryInMs(['m'])).toBe(1000);
    now = 2000;
    expect(b.allow('m')).toBe(true);
    b.abandoned('m');
    expect(b.state('m')).toBe('half-open');
    expect(b.allow('m')).toBe(true);
    expect(b.snapshot()[0]!.opened).toBe(2);
  });

  it('retryInMs is the soonest trial among the chain (0 when one may be tried now)', () => {
    let now = 0;
    const b = createBreakers({ failures: 1, openMs: 5000, now: () => now });
    b.failed('a');
    now = 2000;
    b.failed('b');
    expect(b.retryInMs(['a', 'b'])).toBe(3000);
    expect(b.retryInMs(['a', 'c'])).toBe(0);
  });
});
