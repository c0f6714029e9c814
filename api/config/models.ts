/**
 * Models and their routes: which provider serves a model, what we know of each model that changes its
 * reservation (its tokenizer, whether it reasons, its output limit), and the model chain each plan runs
 * (optionally per action). A chain is tried in order: the next model serves only when the one before it
 * failed before its first token (api/rewrite/service.ts). Pure: no I/O.
 */
import { z } from 'zod';
import { ACTIONS, type Action } from '../../shared/contract';
import type { PlanId } from './plans';

/** `provider/model`, e.g. `openai/gpt-4.1-mini`, `anthropic/claude-haiku-4-5`; the model part may contain `/`. */
export type ModelRef = string;

export interface ParsedRef {
  provider: string;
  model: string;
}

const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** The provider and model of a ref, or undefined when it is not `provider/model`. */
export function parseModelRef(ref: string): ParsedRef | undefined {
  const slash = ref.indexOf('/');
  if (slash <= 0) return undefined;
  const provider = ref.slice(0, slash);
  const model = ref.slice(slash + 1);
  if (!PROVIDER_NAME.test(provider) || !/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(model)) return undefined;
  return { provider, model };
}

/** What a model's reservation depends on. */
export interface ModelTraits {
  /**
   * Prompt tokens per o200k token, as an upper bound: 1 for OpenAI's o200k models (exact); more for models
   * whose tokenizer we cannot run here (Anthropic's counts run about 10–20 % above o200k on English).
   */
  promptTokenFactor: number;
  /** Reasoning models spend output tokens thinking before they answer: their output cap gets this much more. */
  reasoningBudget: number;
  /** The model's own output limit (the action's cap is lowered to it). */
  maxOutputTokens: number;
}

const O200K: ModelTraits = { promptTokenFactor: 1, reasoningBudget: 0, maxOutputTokens: 16_384 };
const CLAUDE: ModelTraits = { promptTokenFactor: 1.3, reasoningBudget: 0, maxOutputTokens: 8_192 };

/** Known models; any other model (an OpenAI-compatible server's) is treated as an o200k model. */
export const MODEL_TRAITS: Record<string, ModelTraits> = {
  'gpt-4o-mini': O200K,
  'gpt-4o': O200K,
  'gpt-4.1-mini': { ...O200K, maxOutputTokens: 32_768 },
  'gpt-4.1-nano': { ...O200K, maxOutputTokens: 32_768 },
  'o4-mini': { ...O200K, reasoningBudget: 2_048, maxOutputTokens: 100_000 },
  'claude-haiku-4-5': CLAUDE,
  'claude-3-5-haiku': CLAUDE,
};

export function traitsOf(model: string): ModelTraits {
  return MODEL_TRAITS[model] ?? O200K;
}

/** The size of one model's attempt: its prompt (as it counts it, an upper bound) and its output cap. */
export interface AttemptSize {
  inputTokens: number;
  outputCap: number;
}

/** The prompt and output cap for `model`, from our o200k count of the prompt and the action's output cap. */
export function sizeFor(model: string, o200kInputTokens: number, actionOutputCap: number): AttemptSize {
  const t = traitsOf(model);
  return {
    inputTokens: Math.ceil(o200kInputTokens * t.promptTokenFactor),
    outputCap: Math.min(t.maxOutputTokens, actionOutputCap + t.reasoningBudget),
  };
}

/** A plan's chain: the models tried in order, and optionally other chains for some actions. */
export interface ModelChain {
  default: ModelRef[];
  actions?: Partial<Record<Action, ModelRef[]>>;
}

export type ModelRoutes = Record<PlanId, ModelChain>;

/** The chain `plan` runs for `action`. */
export function chainFor(routes: ModelRoutes, plan: PlanId, action: Action): ModelRef[] {
  return routes[plan].actions?.[action] ?? routes[plan].default;
}

/** Every model any chain of `routes` may run (each needs a price and a configured provider). */
export function routedRefs(routes: ModelRoutes): ModelRef[] {
  const refs = Object.values(routes).flatMap((c) => [c.default, ...Object.values(c.actions ?? {})].flat());
  return [...new Set(refs)];
}

/** The models (without provider) of `routes`: what a price list must price. */
export function routedModels(routes: ModelRoutes): string[] {
  return [...new Set(routedRefs(routes).map((r) => parseModelRef(r)?.model ?? r))];
}

const refSchema = z.string().refine((r) => parseModelRef(r) !== undefined, {
  message: 'must be provider/model, e.g. openai/gpt-4.1-mini',
});
const chainSchema = z
  .array(refSchema)
  .min(1, 'must name at least one model')
  .max(4, 'must name at most 4 models (each failure before the first token adds its wait)')
  .refine((c) => new Set(c).size === c.length, 'must not name a model twice');
const actionsSchema = z.partialRecord(z.enum(ACTIONS), chainSchema);
/** One plan's routes in MODEL_ROUTES: a chain, or `{ "default": chain, "actions": { action: chain } }`. */
const planRoutesSchema = z.preprocess(
  (v) => (Array.isArray(v) ? { default: v } : v),
  z.strictObject({ default: chainSchema, actions: actionsSchema.optional() }),
);
export const modelRoutesSchema = z.strictObject({ free: planRoutesSchema, pro: planRoutesSchema });
