/**
 * The language models behind the routes, by ref (`provider/model`): OpenAI and any OpenAI-compatible server
 * through @ai-sdk/openai's chat-completions provider, Anthropic through @ai-sdk/anthropic. One provider client
 * per configured provider; models are created once per ref.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import type { LanguageModel } from 'ai';
import { parseModelRef, type ModelRef } from '../config/models';
import type { ProviderConfig } from '../config/sections';
import { coalescingFetch } from './coalesce';

/** One routed model: what to call, and the names the ledger, the price list and X-Model use. */
export interface RoutedModel {
  ref: ModelRef;
  provider: string;
  /** The model's id at its provider (the price list's key). */
  modelId: string;
  model: LanguageModel;
}

export type ModelRegistry = (ref: ModelRef) => RoutedModel;

export interface RegistryOptions {
  /** Text deltas arriving within this many ms are merged into one event before the SDK parses them; 0: off. */
  coalesceMs: number;
}

function providerFor(name: string, p: ProviderConfig, o: RegistryOptions): (modelId: string) => LanguageModel {
  const baseURL = p.baseURL ? { baseURL: p.baseURL } : {};
  // Resolved per call, so a fetch replaced after start-up (tests' interceptors) is still the one used.
  const fetch = coalescingFetch((input, init) => globalThis.fetch(input, init), { windowMs: o.coalesceMs });
  if (p.kind === 'anthropic') {
    const anthropic = createAnthropic({ apiKey: p.apiKey, fetch, ...baseURL });
    return (id) => anthropic(id);
  }
  const openai = createOpenAI({ apiKey: p.apiKey, name, fetch, ...baseURL });
  return (id) => openai.chat(id);
}

/** The registry of `providers`; a ref whose provider is not configured throws (config validation prevents it). */
export function createModelRegistry(
  providers: Record<string, ProviderConfig>,
  opts: RegistryOptions = { coalesceMs: 0 },
): ModelRegistry {
  const clients = new Map(Object.entries(providers).map(([name, p]) => [name, providerFor(name, p, opts)]));
  const models = new Map<ModelRef, RoutedModel>();
  return (ref) => {
    const known = models.get(ref);
    if (known) return known;
    const parsed = parseModelRef(ref);
    const client = parsed && clients.get(parsed.provider);
    if (!parsed || !client) throw new Error(`no provider configured for ${ref}`);
    const routed = { ref, provider: parsed.provider, modelId: parsed.model, model: client(parsed.model) };
    models.set(ref, routed);
    return routed;
  };
}

/** Where a provider answers (its own API when no base URL is configured). */
export function baseUrlOf(p: ProviderConfig): string {
  return p.baseURL ?? (p.kind === 'anthropic' ? 'https://api.anthropic.com/v1' : 'https://api.openai.com/v1');
}

/** A cheap authenticated request that tells whether the provider answers: `GET /models` on both protocols. */
export async function probeProvider(p: ProviderConfig, timeoutMs = 3000): Promise<void> {
  const headers: Record<string, string> =
    p.kind === 'anthropic'
      ? { 'x-api-key': p.apiKey, 'anthropic-version': '2023-06-01' }
      : { Authorization: `Bearer ${p.apiKey}` };
  const res = await fetch(`${baseUrlOf(p)}/models`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /models answered ${res.status}`);
  await res.body?.cancel();
}
