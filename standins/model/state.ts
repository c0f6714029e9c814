/**
 * The model stand-in's state: its options (changeable while it runs), the queue of faults for the next completion
 * requests, stats and the last request body.
 */
import { PromptCache } from './cache';
import type { Fault, ModelServerOptions, ModelServerStats } from './types';

export type Options = Required<Omit<ModelServerOptions, 'port'>>;

/** The options given, without `port` and without those left undefined (so they keep their current value). */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'port')) as Partial<T>;
}

export class ModelState {
  options: Options;
  readonly stats: ModelServerStats = {
    requests: 0,
    completions: 0,
    completed: 0,
    aborted: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
  };
  readonly promptCache = new PromptCache();
  lastRequestBody: unknown;
  private readonly faults: { fault: Fault; remaining: number }[] = [];
  private seq = 0;

  constructor(opts: ModelServerOptions) {
    const defaults: Options = {
      tokensPerSecond: 0,
      firstTokenDelayMs: 0,
      outputTokens: 'echo',
      script: null,
      promptCache: true,
      reasoningModels: [],
      reasoningTokens: 64,
    };
    this.options = { ...defaults, ...withoutUndefined(opts) };
  }

  setOptions(o: Partial<ModelServerOptions>): void {
    this.options = { ...this.options, ...withoutUndefined(o) };
  }

  /** The next `times` completion requests get this fault (after those injected before it). */
  injectFault(fault: Fault, times = 1): void {
    if (times > 0) this.faults.push({ fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The fault of this completion request, if any. */
  takeFault(): Fault | undefined {
    const head = this.faults[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) this.faults.shift();
    return head.fault;
  }

  /** A new completion id (`chatcmpl-…` as OpenAI's; Anthropic's messages use `msg_`). */
  nextId(prefix = 'chatcmpl-'): string {
    return `${prefix}standin${(++this.seq).toString().padStart(6, '0')}`;
  }
}
